//! The always-valid sequential test: the asymptotic confidence sequence of
//! Waudby-Smith et al. (2023, eq. 9 and 155) as GrowthBook's gbstats 0.8
//! computes it, so that results may be read at any time without inflating
//! false positives.

use super::{Figure, Undefined};

/// The default tuning N*: the total sample size at which the sequence is
/// tightest.
pub const DEFAULT_TUNING: f64 = 5000.0;

/// A confidence sequence's figures at one look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sequential {
    /// The always-valid two-sided p-value of θ = 0.
    pub p_value: f64,
    /// The interval of θ at level 1 − α, valid at every look.
    pub interval: [f64; 2],
}

/// ρ² = (−2 ln α + ln(1 − 2 ln α))/N*.
pub fn rho_squared(alpha: f64, tuning: f64) -> f64 {
    let log_alpha = alpha.ln();
    (-2.0 * log_alpha + (1.0 - 2.0 * log_alpha).ln()) / tuning
}

/// The sequence at the estimate `estimate` whose variance is `variance`
/// (V = v_c/n_c + v_t/n_t, or the delta method's for a relative lift),
/// after `users` users in both arms (N):
/// half-width √(2V(Nρ² + 1)·ln(√(Nρ² + 1)/α)/(Nρ²)), and
/// p = min(1, √(Nρ² + 1)·exp(−Nρ²θ̂²/(2V(Nρ² + 1)))).
pub fn confidence_sequence(
    estimate: f64,
    variance: f64,
    users: u64,
    alpha: f64,
    tuning: f64,
) -> Figure<Sequential> {
    if users == 0 {
        return Err(Undefined::NoUsers);
    }
    if variance <= 0.0 {
        return Err(Undefined::ZeroVariance);
    }
    let n_rho2 = users as f64 * rho_squared(alpha, tuning);
    let half =
        (2.0 * variance * (n_rho2 + 1.0) * ((n_rho2 + 1.0).sqrt() / alpha).ln() / n_rho2).sqrt();
    let p_value = ((n_rho2 + 1.0).sqrt()
        * (-n_rho2 * estimate * estimate / (2.0 * variance * (n_rho2 + 1.0))).exp())
    .min(1.0);
    Ok(Sequential {
        p_value,
        interval: [estimate - half, estimate + half],
    })
}
