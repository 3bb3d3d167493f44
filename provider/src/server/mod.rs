//! The evaluation server: listeners over one shared, atomically swapped
//! snapshot.

pub mod admission;
pub mod exposures;
pub mod keys;
pub mod listen;
pub mod management;
pub mod metrics;
pub mod ofrep;
pub mod outbox;
pub mod run;
pub mod sources;
pub mod state;
pub mod stream_sink;
pub mod tracking;
pub mod usage;

pub use run::{ServeError, Server, ServerConfig};
pub use state::{Change, Flags, Recorders};
