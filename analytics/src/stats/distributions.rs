//! The distribution functions the tests need, over statrs: quantiles of
//! the standard normal and of Student's t, and upper tails (survival
//! functions) of the normal, t and chi-squared distributions, computed
//! from the complementary error function (libm's, exact to the last
//! bits) and the regularized incomplete beta and gamma functions directly,
//! so that small p-values keep their relative precision.

use statrs::function::beta::{beta_reg, inv_beta_reg};
use statrs::function::erf::erfc_inv;
use statrs::function::gamma::gamma_ur;

/// Degrees of freedom beyond which Student's t is the normal distribution
/// to double precision in the quantiles used here.
const T_AS_NORMAL_DF: f64 = 1e12;

/// The standard normal's quantile at `p`, for 0 < p < 1.
pub fn normal_quantile(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * erfc_inv(2.0 * p)
}

/// The two-sided p-value of a standard normal statistic: P(|Z| ≥ |z|).
pub fn normal_two_sided(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Student's t quantile at `p` with `df` degrees of freedom, for
/// 0 < p < 1 and df > 0.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if df >= T_AS_NORMAL_DF {
        return normal_quantile(p);
    }
    // t² / (df + t²) follows Beta(1/2, df/2); solve on the smaller tail.
    let tail = if p < 0.5 { p } else { 1.0 - p };
    let x = inv_beta_reg(0.5 * df, 0.5, 2.0 * tail);
    let magnitude = (df * (1.0 - x) / x).sqrt();
    if p < 0.5 { -magnitude } else { magnitude }
}

/// The two-sided p-value of a t statistic with `df` degrees of freedom:
/// P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2).
pub fn t_two_sided(t: f64, df: f64) -> f64 {
    if df >= T_AS_NORMAL_DF {
        return normal_two_sided(t);
    }
    if t == 0.0 {
        return 1.0;
    }
    beta_reg(0.5 * df, 0.5, df / (df + t * t))
}

/// The upper tail of the chi-squared distribution with `k` degrees of
/// freedom at `x` ≥ 0: Q(k/2, x/2).
pub fn chi2_upper(x: f64, k: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    gamma_ur(0.5 * k, 0.5 * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figures from scipy.stats 1.17 (`norm.ppf`, `t.ppf`, `t.sf`,
    /// `chi2.sf`), to 15 significant digits.
    #[track_caller]
    fn close(actual: f64, expected: f64, rel: f64) {
        let error = ((actual - expected) / expected).abs();
        assert!(
            error <= rel,
            "{actual} vs {expected}: relative error {error:e}"
        );
    }

    #[test]
    fn quantiles_match_scipy() {
        close(normal_quantile(0.975), 1.959963984540054, 1e-14);
        close(normal_quantile(0.8), 0.8416212335729143, 1e-14);
        close(normal_quantile(0.95), 1.6448536269514722, 1e-14);
        close(t_quantile(0.975, 1.0), 12.706204736174694, 1e-12);
        close(t_quantile(0.975, 4.0), 2.7764451051977934, 1e-12);
        close(t_quantile(0.975, 7.3), 2.345066736547703, 1e-12);
        close(t_quantile(0.975, 5998.0), 1.960359573382108, 1e-12);
        close(t_quantile(0.025, 4.0), -2.7764451051977934, 1e-12);
    }

    #[test]
    fn tails_match_scipy() {
        close(normal_two_sided(1.959963984540054), 0.05, 1e-14);
        close(normal_two_sided(-8.0), 1.244192114854348e-15, 1e-12);
        close(t_two_sided(2.7764451051977934, 4.0), 0.05, 1e-12);
        close(t_two_sided(-12.0, 3.0), 0.0012450158007893362, 1e-12);
        close(chi2_upper(3.841458820694124, 1.0), 0.05, 1e-12);
        close(chi2_upper(30.0, 4.0), 4.894437128029217e-06, 1e-12);
        assert_eq!(t_two_sided(0.0, 3.0), 1.0);
        assert_eq!(chi2_upper(0.0, 2.0), 1.0);
    }
}
