//! The evaluation server: listeners over one shared, atomically swapped
//! snapshot.

pub mod admission;
pub mod exposure_stream;
pub mod exposures;
pub mod keys;
pub mod listen;
pub mod management;
pub mod metrics;
pub mod ofrep;
pub mod run;
pub mod sources;
pub mod state;

pub use run::{ServeError, Server, ServerConfig};
pub use state::{Change, Flags};
