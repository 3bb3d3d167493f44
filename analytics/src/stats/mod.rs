//! The statistics of an A/B comparison, as pure functions of per-arm
//! aggregates: every formula of `STATISTICS.md` is here and nowhere else.
//!
//! A figure that a zero denominator leaves undefined is an
//! `Err(Undefined)` naming why; no function here returns NaN or panics.

pub mod adjust;
pub mod bayes;
pub mod distributions;
pub mod frequentist;
pub mod guard;
pub mod sequential;
pub mod srm;

/// Why a figure is undefined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undefined {
    /// An arm has no users.
    NoUsers,
    /// An arm has fewer than 2 users, so no sample variance.
    TooFewUsers,
    /// The control's mean is 0, so there is no relative lift.
    ZeroControlMean,
    /// Both arms have zero variance: the standard error is 0.
    ZeroVariance,
    /// The control has zero variance: no effect size is detectable.
    ZeroControlVariance,
    /// The comparison's own test is undefined, so is its adjustment.
    NoPValue,
    /// Fewer than two variants, or a variant expected to get no users.
    NoExpectedSplit,
}

impl Undefined {
    /// The reason in words, as the report's notes give it.
    pub fn reason(self) -> &'static str {
        match self {
            Undefined::NoUsers => "an arm has no users",
            Undefined::TooFewUsers => "an arm has fewer than 2 users, so no sample variance",
            Undefined::ZeroControlMean => "the control's mean is 0, so there is no relative lift",
            Undefined::ZeroVariance => "both arms have zero variance, so the standard error is 0",
            Undefined::ZeroControlVariance => {
                "the control has zero variance, so no minimum detectable effect"
            }
            Undefined::NoPValue => "the test's p-value is undefined",
            Undefined::NoExpectedSplit => {
                "fewer than two variants, or a variant expected to get no users"
            }
        }
    }
}

/// A figure, or why it is undefined.
pub type Figure<T> = Result<T, Undefined>;

/// One arm of a comparison on one metric: its users, its mean and its
/// variance as `STATISTICS.md` defines it for the metric's kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arm {
    /// Its users.
    pub n: u64,
    /// The mean per user.
    pub mean: f64,
    /// The variance per user; undefined for a sum metric's arm of fewer
    /// than 2 users.
    pub variance: Figure<f64>,
}

impl Arm {
    /// The users as a float, for the formulas.
    pub(crate) fn n(&self) -> f64 {
        self.n as f64
    }

    /// The variance, or why the arm has none.
    pub(crate) fn variance(&self) -> Figure<f64> {
        if self.n == 0 {
            return Err(Undefined::NoUsers);
        }
        self.variance
    }
}

/// Refuses a non-finite result: the formulas' inputs are finite and their
/// denominators checked, so this only guards against overflow.
pub(crate) fn finite(value: f64, otherwise: Undefined) -> Figure<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(otherwise)
    }
}
