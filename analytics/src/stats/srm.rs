//! Sample-ratio mismatch: Pearson's chi-squared test of the users per
//! variant against the counts the expected weights give, with k − 1
//! degrees of freedom, flagged below [`SRM_THRESHOLD`].

use super::distributions::chi2_upper;
use super::{Figure, Undefined};

/// The p-value below which the split is flagged as a mismatch.
pub const SRM_THRESHOLD: f64 = 0.001;

/// The test's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleRatio {
    /// Pearson's statistic Σ(o − e)²/e.
    pub chi2: f64,
    /// Its upper tail with k − 1 degrees of freedom.
    pub p_value: f64,
    /// Whether p < [`SRM_THRESHOLD`].
    pub mismatch: bool,
}

/// Tests `users` (per variant) against `weights` (per variant, relative).
pub fn sample_ratio(users: &[u64], weights: &[f64]) -> Figure<SampleRatio> {
    let total: u64 = users.iter().sum();
    if total == 0 {
        return Err(Undefined::NoUsers);
    }
    let weight_sum: f64 = weights.iter().sum();
    if users.len() < 2
        || users.len() != weights.len()
        || weights
            .iter()
            .any(|&weight| !(weight > 0.0 && weight.is_finite()))
    {
        return Err(Undefined::NoExpectedSplit);
    }
    let chi2: f64 = users
        .iter()
        .zip(weights)
        .map(|(&observed, &weight)| {
            let expected = total as f64 * weight / weight_sum;
            let diff = observed as f64 - expected;
            diff * diff / expected
        })
        .sum();
    let p_value = chi2_upper(chi2, (users.len() - 1) as f64);
    Ok(SampleRatio {
        chi2,
        p_value,
        mismatch: p_value < SRM_THRESHOLD,
    })
}
