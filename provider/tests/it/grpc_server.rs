//! The evaluation and sync services end to end.
