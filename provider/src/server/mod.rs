//! The evaluation server: listeners over one shared, atomically swapped
//! snapshot.

pub mod listen;
pub mod management;
pub mod metrics;
pub mod ofrep;
pub mod sources;
pub mod state;

pub use state::{Change, Flags};
