//! The guard of a progressive rollout: whether the evidence shows the new
//! variant worse than the tolerated regression. It reads the confidence
//! sequence of the relative lift of the new variant over the old one on
//! the guard metric, which stays valid however often it is checked, so a
//! guard may look at every analysis run.

use super::frequentist::{rel_lift, rel_variance};
use super::sequential::confidence_sequence;
use super::{Arm, Undefined};

/// Which way the guard metric should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// More is better (conversions, revenue): a regression is a fall.
    HigherIsBetter,
    /// Less is better (errors, latency): a regression is a rise.
    LowerIsBetter,
}

/// What a guard tolerates and needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guard {
    /// Which way the metric should move.
    pub direction: Direction,
    /// The tolerated regression, relative to the old variant's mean (0.02
    /// tolerates the new variant being 2% worse).
    pub tolerance: f64,
    /// The users both arms must hold together before the step is judged.
    pub min_users: u64,
    /// The confidence sequence is at level 1 − α.
    pub alpha: f64,
    /// The sequence's tuning N*.
    pub tuning: f64,
}

/// What a check of the current step concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Fewer users than the guard's minimum: the step waits.
    TooFewUsers,
    /// Enough users, but the relative lift's sequence is undefined (see
    /// [`Check::undefined`]): the step waits until it can be judged.
    Undefined,
    /// The sequence does not show a regression beyond the tolerance: the
    /// step may be followed by the next.
    Healthy,
    /// The sequence lies wholly beyond the tolerated regression: the
    /// rollout's action is due.
    Regressed,
}

impl Verdict {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::TooFewUsers => "too_few_users",
            Verdict::Undefined => "undefined",
            Verdict::Healthy => "healthy",
            Verdict::Regressed => "regressed",
        }
    }
}

/// A check of the current step: the verdict with the figures it rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Check {
    /// The conclusion.
    pub verdict: Verdict,
    /// Users first exposed during the step to the old variant.
    pub old_users: u64,
    /// Users first exposed during the step to the new variant.
    pub new_users: u64,
    /// The new variant's relative lift over the old on the guard metric.
    pub lift: Option<f64>,
    /// Its confidence sequence at level 1 − α.
    pub interval: Option<[f64; 2]>,
    /// Why the lift or its sequence is undefined, when it is.
    pub undefined: Option<Undefined>,
}

/// Checks the new variant's arm `new` against the old variant's `old`.
///
/// With at least `min_users` users in both arms together, the guard finds
/// a regression when the relative lift's confidence sequence lies wholly
/// beyond the tolerance: its upper end below −tolerance when higher is
/// better, its lower end above +tolerance when lower is better. The
/// sequence is asymptotic, which is one reason the minimum sample comes
/// first.
pub fn check(guard: &Guard, old: &Arm, new: &Arm) -> Check {
    let users = old.n + new.n;
    let figures = rel_lift(old, new).and_then(|lift| {
        let sequence = confidence_sequence(
            lift,
            rel_variance(old, new)?,
            users,
            guard.alpha,
            guard.tuning,
        )?;
        Ok((lift, sequence.interval))
    });
    let verdict = match &figures {
        _ if users < guard.min_users => Verdict::TooFewUsers,
        Err(_) => Verdict::Undefined,
        Ok((_, [low, high])) => {
            let regressed = match guard.direction {
                Direction::HigherIsBetter => *high < -guard.tolerance,
                Direction::LowerIsBetter => *low > guard.tolerance,
            };
            if regressed {
                Verdict::Regressed
            } else {
                Verdict::Healthy
            }
        }
    };
    Check {
        verdict,
        old_users: old.n,
        new_users: new.n,
        lift: figures.ok().map(|(lift, _)| lift),
        interval: figures.ok().map(|(_, interval)| interval),
        undefined: figures.err(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Check, Direction, Guard, Verdict, check};
    use crate::stats::{Arm, Undefined};

    fn conversion(users: u64, converted: u64) -> Arm {
        let mean = if users == 0 {
            0.0
        } else {
            converted as f64 / users as f64
        };
        Arm {
            n: users,
            mean,
            variance: Ok(mean * (1.0 - mean)),
        }
    }

    fn guard(direction: Direction) -> Guard {
        Guard {
            direction,
            tolerance: 0.02,
            min_users: 1_000,
            alpha: 0.05,
            tuning: 5_000.0,
        }
    }

    #[track_caller]
    fn verdict(direction: Direction, old: (u64, u64), new: (u64, u64)) -> Check {
        check(
            &guard(direction),
            &conversion(old.0, old.1),
            &conversion(new.0, new.1),
        )
    }

    #[test]
    fn a_clear_fall_is_a_regression_only_when_higher_is_better() {
        // 50% against 40%: a relative lift of −20%.
        let fall = verdict(Direction::HigherIsBetter, (5_000, 2_500), (5_000, 2_000));
        assert_eq!(fall.verdict, Verdict::Regressed, "{fall:?}");
        let [_, high] = fall.interval.unwrap();
        assert!(high < -0.02, "{fall:?}");
        assert!((fall.lift.unwrap() + 0.2).abs() < 1e-12, "{fall:?}");
        assert_eq!((fall.old_users, fall.new_users), (5_000, 5_000));

        let welcome = verdict(Direction::LowerIsBetter, (5_000, 2_500), (5_000, 2_000));
        assert_eq!(welcome.verdict, Verdict::Healthy, "{welcome:?}");
    }

    #[test]
    fn a_clear_rise_is_a_regression_only_when_lower_is_better() {
        let rise = verdict(Direction::LowerIsBetter, (5_000, 500), (5_000, 700));
        assert_eq!(rise.verdict, Verdict::Regressed, "{rise:?}");
        let [low, _] = rise.interval.unwrap();
        assert!(low > 0.02, "{rise:?}");
        let welcome = verdict(Direction::HigherIsBetter, (5_000, 500), (5_000, 700));
        assert_eq!(welcome.verdict, Verdict::Healthy, "{welcome:?}");
    }

    #[test]
    fn a_regression_within_the_tolerance_is_healthy() {
        // −1% on a million users a side: surely worse, but within 2%.
        let small = verdict(
            Direction::HigherIsBetter,
            (1_000_000, 500_000),
            (1_000_000, 495_000),
        );
        assert_eq!(small.verdict, Verdict::Healthy, "{small:?}");
        let [low, high] = small.interval.unwrap();
        assert!(high < 0.0 && low > -0.02, "{small:?}");
    }

    #[test]
    fn a_step_waits_for_its_minimum_sample() {
        // Even a fall this clear waits below 1,000 users in all.
        let early = verdict(Direction::HigherIsBetter, (600, 300), (399, 100));
        assert_eq!(early.verdict, Verdict::TooFewUsers, "{early:?}");
        assert!(early.interval.is_some(), "{early:?}");
        let enough = verdict(Direction::HigherIsBetter, (600, 300), (400, 100));
        assert_eq!(enough.verdict, Verdict::Regressed, "{enough:?}");
    }

    #[test]
    fn an_undefined_lift_waits_and_says_why() {
        let none = verdict(Direction::HigherIsBetter, (1_000, 0), (1_000, 10));
        assert_eq!(none.verdict, Verdict::Undefined, "{none:?}");
        assert_eq!(none.undefined, Some(Undefined::ZeroControlMean));
        assert_eq!((none.lift, none.interval), (None, None));

        let empty = verdict(Direction::HigherIsBetter, (2_000, 1_000), (0, 0));
        assert_eq!(empty.verdict, Verdict::Undefined, "{empty:?}");
        assert_eq!(empty.undefined, Some(Undefined::NoUsers));

        let flat = verdict(Direction::LowerIsBetter, (1_000, 1_000), (1_000, 1_000));
        assert_eq!(flat.undefined, Some(Undefined::ZeroVariance), "{flat:?}");
    }
}
