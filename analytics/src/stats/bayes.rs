//! The Bayesian figures of a conversion metric, with independent
//! Beta(1 + conversions, 1 + non-conversions) posteriors: the chance that
//! the treatment's rate beats the control's, exactly (Evan Miller's
//! closed form), and the expected loss of choosing the treatment,
//! E[max(p_c − p_t, 0)], by one-dimensional quadrature.

use statrs::function::beta::{beta_reg, ln_beta};

/// A conversion arm: users and those who converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversions {
    /// Users of the arm.
    pub users: u64,
    /// Users with at least one attributed event.
    pub converted: u64,
}

impl Conversions {
    /// The posterior's parameters (a, b) = (1 + converted, 1 + not).
    fn posterior(self) -> (f64, f64) {
        (
            1.0 + self.converted as f64,
            1.0 + (self.users - self.converted.min(self.users)) as f64,
        )
    }
}

/// P(p_t > p_c). Evan Miller's sum for P(X_B > X_A) over independent
/// Beta(a_A, b_A) and Beta(a_B, b_B) with integer parameters,
/// Σ_{i<a_B} B(a_A + i, b_A + b_B)/((b_B + i)·B(1 + i, b_B)·B(a_A, b_A)),
/// has a_B terms; its mirror images sum over a_A, b_A or b_B instead
/// (P(X_B > X_A) = 1 − P(X_A > X_B), and 1 − X is Beta(b, a)), so the
/// shortest of the four is taken.
pub fn chance_to_beat(control: Conversions, treatment: Conversions) -> f64 {
    let (a_c, b_c) = control.posterior();
    let (a_t, b_t) = treatment.posterior();
    let shortest = a_t.min(a_c).min(b_t).min(b_c);
    let chance = if shortest == a_t {
        miller(a_c, b_c, a_t, b_t)
    } else if shortest == a_c {
        1.0 - miller(a_t, b_t, a_c, b_c)
    } else if shortest == b_c {
        // P(1 − X_c > 1 − X_t) = P(X_t > X_c), summed over b_c.
        miller(b_t, a_t, b_c, a_c)
    } else {
        1.0 - miller(b_c, a_c, b_t, a_t)
    };
    chance.clamp(0.0, 1.0)
}

/// P(X_B > X_A), summed over i < a_B, each term in logs.
fn miller(a_a: f64, b_a: f64, a_b: f64, b_b: f64) -> f64 {
    let constant = ln_beta(a_a, b_a);
    let terms = a_b as u64;
    (0..terms)
        .map(|i| {
            let i = i as f64;
            (ln_beta(a_a + i, b_a + b_b) - (b_b + i).ln() - ln_beta(1.0 + i, b_b) - constant).exp()
        })
        .sum()
}

/// How many standard deviations either side of the treatment posterior's
/// mean the quadrature spans: beyond 40, a Beta density of parameters
/// ≥ 1 holds less than 10⁻³⁰⁰ of its mass.
const SPAN_SDS: f64 = 40.0;

/// Sub-intervals of the span, each integrated to [`PANEL_ERROR`].
const PANELS: usize = 16;

/// The target absolute error of each sub-interval.
const PANEL_ERROR: f64 = 1e-15;

/// E[max(p_c − p_t, 0)] = ∫ f_t(x)·g(x) dx with
/// g(x) = E[(p_c − x)⁺] = μ_c·(1 − I_x(a_c + 1, b_c)) − x·(1 − I_x(a_c, b_c)),
/// integrated by double-exponential quadrature over the treatment
/// posterior's mass (its mean ± 40 standard deviations, within [0, 1]),
/// split into sub-intervals so that a peaked posterior is resolved.
pub fn expected_loss(control: Conversions, treatment: Conversions) -> f64 {
    let (a_c, b_c) = control.posterior();
    let (a_t, b_t) = treatment.posterior();
    let mean_c = a_c / (a_c + b_c);
    let ln_norm_t = ln_beta(a_t, b_t);
    let mean_t = a_t / (a_t + b_t);
    let sd_t = (a_t * b_t / ((a_t + b_t) * (a_t + b_t) * (a_t + b_t + 1.0))).sqrt();
    let low = (mean_t - SPAN_SDS * sd_t).max(0.0);
    let high = (mean_t + SPAN_SDS * sd_t).min(1.0);
    let integrand = |x: f64| {
        if x <= 0.0 || x >= 1.0 {
            // The density is bounded (a, b ≥ 1) and the endpoints have
            // measure zero; the quadrature never asks for them exactly.
            return 0.0;
        }
        let density = ((a_t - 1.0) * x.ln() + (b_t - 1.0) * (-x).ln_1p() - ln_norm_t).exp();
        let above =
            mean_c * (1.0 - beta_reg(a_c + 1.0, b_c, x)) - x * (1.0 - beta_reg(a_c, b_c, x));
        density * above.max(0.0)
    };
    let width = (high - low) / PANELS as f64;
    let loss: f64 = (0..PANELS)
        .map(|panel| {
            let from = low + panel as f64 * width;
            let to = if panel + 1 == PANELS {
                high
            } else {
                from + width
            };
            quadrature::integrate(integrand, from, to, PANEL_ERROR).integral
        })
        .sum();
    loss.max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(users: u64, converted: u64) -> Conversions {
        Conversions { users, converted }
    }

    /// Figures from scipy 1.17: `integrate.quad` of the treatment's
    /// density times the control's distribution function, and of its
    /// density times E[(p_c − x)⁺].
    #[test]
    fn figures_match_scipy_quadrature() {
        let cases = [
            (
                arm(3000, 291),
                arm(3000, 340),
                0.9803642442361918,
                5.703620442398935e-05,
            ),
            (
                arm(10, 0),
                arm(10, 10),
                0.9999985824289227,
                6.163352508786457e-08,
            ),
            (
                arm(1, 1),
                arm(1, 0),
                0.16666666666666669,
                0.3666666666666666,
            ),
        ];
        for (control, treatment, chance, loss) in cases {
            let got = chance_to_beat(control, treatment);
            assert!(
                (got - chance).abs() < 1e-12,
                "{control:?} {treatment:?}: chance {got} vs {chance}"
            );
            let got = expected_loss(control, treatment);
            assert!(
                (got - loss).abs() < 1e-12,
                "{control:?} {treatment:?}: loss {got} vs {loss}"
            );
        }
    }

    #[test]
    fn every_formulation_of_the_sum_agrees() {
        let (control, treatment) = (arm(40, 7), arm(55, 20));
        let (a_c, b_c) = control.posterior();
        let (a_t, b_t) = treatment.posterior();
        let forms = [
            miller(a_c, b_c, a_t, b_t),
            1.0 - miller(a_t, b_t, a_c, b_c),
            miller(b_t, a_t, b_c, a_c),
            1.0 - miller(b_c, a_c, b_t, a_t),
        ];
        for form in forms {
            assert!((form - forms[0]).abs() < 1e-13, "{forms:?}");
        }
    }
}
