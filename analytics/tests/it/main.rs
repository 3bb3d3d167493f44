//! The analysis' integration tests.

/// Parquet export partitioned by day, and reading it back.
mod parquet;
/// The PNG charts.
mod plot;
/// Every figure against scipy, statsmodels and gbstats on generated data.
mod reference;
/// Simulated A/A and A/B experiments with many looks.
mod simulation;
