//! Fixed-horizon comparisons of a treatment with the control on one
//! metric: lifts, the two-proportion z-test (conversion metrics) and
//! Welch's t-test (sum metrics) with their intervals, the delta-method
//! interval of the relative lift, and the minimum detectable effect.

use super::distributions::{normal_quantile, normal_two_sided, t_quantile, t_two_sided};
use super::{Arm, Figure, Undefined, finite};

/// The power the minimum detectable effect is computed for.
pub const MDE_POWER: f64 = 0.8;

/// A fixed-horizon test of the absolute lift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedTest {
    /// The two-sided p-value.
    pub p_value: f64,
    /// The interval of the absolute lift at level 1 − α.
    pub interval: [f64; 2],
    /// The quantile the interval uses: z_{1−α/2}, or t_{1−α/2,ν}.
    pub quantile: f64,
    /// Welch–Satterthwaite's degrees of freedom ν, for the t-test.
    pub degrees_of_freedom: Option<f64>,
}

/// m_t − m_c.
pub fn abs_lift(control: &Arm, treatment: &Arm) -> Figure<f64> {
    both_have_users(control, treatment)?;
    Ok(treatment.mean - control.mean)
}

/// (m_t − m_c)/m_c.
pub fn rel_lift(control: &Arm, treatment: &Arm) -> Figure<f64> {
    both_have_users(control, treatment)?;
    if control.mean == 0.0 {
        return Err(Undefined::ZeroControlMean);
    }
    finite(
        (treatment.mean - control.mean) / control.mean,
        Undefined::ZeroControlMean,
    )
}

/// The variance of the absolute lift's estimate: v_c/n_c + v_t/n_t.
pub fn abs_variance(control: &Arm, treatment: &Arm) -> Figure<f64> {
    both_have_users(control, treatment)?;
    Ok(control.variance()? / control.n() + treatment.variance()? / treatment.n())
}

/// The delta method's variance of the relative lift's estimate:
/// v_t/(m_c²·n_t) + m_t²·v_c/(m_c⁴·n_c).
pub fn rel_variance(control: &Arm, treatment: &Arm) -> Figure<f64> {
    both_have_users(control, treatment)?;
    let (v_c, v_t) = (control.variance()?, treatment.variance()?);
    if control.mean == 0.0 {
        return Err(Undefined::ZeroControlMean);
    }
    let m_c2 = control.mean * control.mean;
    finite(
        v_t / (m_c2 * treatment.n())
            + treatment.mean * treatment.mean * v_c / (m_c2 * m_c2 * control.n()),
        Undefined::ZeroControlMean,
    )
}

/// The two-proportion z-test with the unpooled standard error
/// √(v_c/n_c + v_t/n_t), and the Wald interval of the absolute lift.
pub fn z_test(control: &Arm, treatment: &Arm, alpha: f64) -> Figure<FixedTest> {
    let lift = abs_lift(control, treatment)?;
    let se = standard_error(control, treatment)?;
    let quantile = normal_quantile(1.0 - alpha / 2.0);
    Ok(FixedTest {
        p_value: normal_two_sided(lift / se),
        interval: [lift - quantile * se, lift + quantile * se],
        quantile,
        degrees_of_freedom: None,
    })
}

/// Welch's t-test, with Welch–Satterthwaite's degrees of freedom
/// ν = (a + b)²/(a²/(n_c − 1) + b²/(n_t − 1)), a = v_c/n_c, b = v_t/n_t,
/// and the interval m_t − m_c ± t_{1−α/2,ν}·√(a + b). An arm of zero
/// variance beside one of nonzero variance is computed: its term is 0.
pub fn welch(control: &Arm, treatment: &Arm, alpha: f64) -> Figure<FixedTest> {
    let lift = abs_lift(control, treatment)?;
    let se = standard_error(control, treatment)?;
    if control.n < 2 || treatment.n < 2 {
        return Err(Undefined::TooFewUsers);
    }
    let a = control.variance()? / control.n();
    let b = treatment.variance()? / treatment.n();
    let df = finite(
        (a + b) * (a + b) / (a * a / (control.n() - 1.0) + b * b / (treatment.n() - 1.0)),
        Undefined::ZeroVariance,
    )?;
    let quantile = t_quantile(1.0 - alpha / 2.0, df);
    Ok(FixedTest {
        p_value: t_two_sided(lift / se, df),
        interval: [lift - quantile * se, lift + quantile * se],
        quantile,
        degrees_of_freedom: Some(df),
    })
}

/// The relative lift's interval, rel ± q·√Var with the delta method's
/// variance and the quantile of the metric's absolute interval.
pub fn rel_interval(control: &Arm, treatment: &Arm, quantile: f64) -> Figure<[f64; 2]> {
    let lift = rel_lift(control, treatment)?;
    let half = quantile * rel_variance(control, treatment)?.sqrt();
    Ok([lift - half, lift + half])
}

/// The minimum detectable absolute effect at 80% power:
/// (z_{1−α/2} + z_{0.8})·√(v_c·(1/n_c + 1/n_t)).
pub fn mde_abs(control: &Arm, treatment: &Arm, alpha: f64) -> Figure<f64> {
    both_have_users(control, treatment)?;
    let v_c = control.variance()?;
    if v_c == 0.0 {
        return Err(Undefined::ZeroControlVariance);
    }
    let z = normal_quantile(1.0 - alpha / 2.0) + normal_quantile(MDE_POWER);
    Ok(z * (v_c * (1.0 / control.n() + 1.0 / treatment.n())).sqrt())
}

/// The minimum detectable effect relative to the control's mean.
pub fn mde_rel(control: &Arm, treatment: &Arm, alpha: f64) -> Figure<f64> {
    let mde = mde_abs(control, treatment, alpha)?;
    if control.mean == 0.0 {
        return Err(Undefined::ZeroControlMean);
    }
    Ok(mde / control.mean.abs())
}

fn standard_error(control: &Arm, treatment: &Arm) -> Figure<f64> {
    let variance = abs_variance(control, treatment)?;
    if variance > 0.0 {
        Ok(variance.sqrt())
    } else {
        Err(Undefined::ZeroVariance)
    }
}

fn both_have_users(control: &Arm, treatment: &Arm) -> Figure<()> {
    if control.n == 0 || treatment.n == 0 {
        Err(Undefined::NoUsers)
    } else {
        Ok(())
    }
}
