//! The guard of a progressive rollout: the metric it watches, which way
//! is better, the regression it tolerates, the sample a step needs before
//! it is judged, and what to do when the new variant is worse.
//!
//! A guarded rollout must be a monotone ramp: from the flag's weights
//! when it is scheduled, every step keeps the weights' sum and raises
//! only one variant's weight, the same variant throughout (the new one),
//! every other weight kept or lowered. `fractional` then never moves a
//! user off the new variant as the rollout advances (the engine's
//! property test `ramps` holds every bucketing version to it), so the
//! users of a step are compared without being reshuffled.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::StoreError;
use super::experiments::{MAX_NAME_BYTES, MAX_WINDOW_SECONDS, MetricKind};
use crate::rollouts::RolloutWeight;

/// Which way the guard metric should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardDirection {
    /// More is better (conversions, revenue).
    HigherIsBetter,
    /// Less is better (errors, latency).
    LowerIsBetter,
}

impl GuardDirection {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardDirection::HigherIsBetter => "higher_is_better",
            GuardDirection::LowerIsBetter => "lower_is_better",
        }
    }

    fn parse(text: &str) -> Option<GuardDirection> {
        [
            GuardDirection::HigherIsBetter,
            GuardDirection::LowerIsBetter,
        ]
        .into_iter()
        .find(|d| d.as_str() == text)
    }
}

/// What a guard does when the new variant regresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardAction {
    /// Stop advancing; the weights stay as the current step set them.
    Pause,
    /// Stop advancing and write back the weights the rollout started
    /// from.
    Restore,
}

impl GuardAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardAction::Pause => "pause",
            GuardAction::Restore => "restore",
        }
    }

    fn parse(text: &str) -> Option<GuardAction> {
        [GuardAction::Pause, GuardAction::Restore]
            .into_iter()
            .find(|a| a.as_str() == text)
    }
}

/// The metric a guard watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardMetric {
    /// The tracking event it reads.
    pub event: String,
    /// How it reads it.
    pub kind: MetricKind,
    /// The attribution window after a user's first exposure, in seconds.
    pub window_seconds: i64,
}

/// A progressive rollout's guard.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutGuard {
    /// The metric it watches.
    pub metric: GuardMetric,
    /// Which way is better.
    pub direction: GuardDirection,
    /// The tolerated regression, relative to the old variant's mean: 0.02
    /// tolerates the new variant being 2% worse. Above 0 and below 1.
    pub tolerance: f64,
    /// The users a step's comparison must hold, both variants together,
    /// before it is judged or followed by the next step.
    pub min_users: u64,
    /// What to do when the new variant regresses beyond the tolerance.
    pub action: GuardAction,
}

/// The most users a guard may ask a step for.
pub const MAX_GUARD_MIN_USERS: u64 = 1_000_000_000;

impl RolloutGuard {
    /// Checks what needs no database: the event's length, the window,
    /// the tolerance and the minimum.
    pub fn check(&self) -> Result<(), StoreError> {
        let invalid = |reason: String| StoreError::InvalidInput {
            what: "rollout guard",
            reason,
        };
        let event = &self.metric.event;
        if event.is_empty() || event.len() > MAX_NAME_BYTES {
            return Err(invalid(format!(
                "the metric's event must be 1 to {MAX_NAME_BYTES} bytes"
            )));
        }
        if !(1..=MAX_WINDOW_SECONDS).contains(&self.metric.window_seconds) {
            return Err(invalid(format!(
                "the metric's window must be 1 to {MAX_WINDOW_SECONDS} seconds"
            )));
        }
        if !(self.tolerance > 0.0 && self.tolerance < 1.0) {
            return Err(invalid(format!(
                "the tolerance is relative and must be above 0 and below 1, not {}",
                self.tolerance
            )));
        }
        if !(1..=MAX_GUARD_MIN_USERS).contains(&self.min_users) {
            return Err(invalid(format!(
                "the minimum of users must be 1 to {MAX_GUARD_MIN_USERS}"
            )));
        }
        Ok(())
    }
}

impl RolloutGuard {
    /// The stored form, with the variant the rollout rolls out.
    pub(crate) fn to_json(&self, variant: &str) -> Value {
        json!({
            "metric": {
                "event": self.metric.event,
                "kind": self.metric.kind.as_str(),
                "windowSeconds": self.metric.window_seconds,
            },
            "direction": self.direction.as_str(),
            "tolerance": self.tolerance,
            "minUsers": self.min_users,
            "action": self.action.as_str(),
            "variant": variant,
        })
    }

    /// Reads the stored form back, with the variant; `None` for a shape
    /// Ensign did not write.
    pub(crate) fn from_json(value: &Value) -> Option<(RolloutGuard, String)> {
        let metric = &value["metric"];
        let guard = RolloutGuard {
            metric: GuardMetric {
                event: metric["event"].as_str()?.to_owned(),
                kind: MetricKind::parse(metric["kind"].as_str()?)?,
                window_seconds: metric["windowSeconds"].as_i64()?,
            },
            direction: GuardDirection::parse(value["direction"].as_str()?)?,
            tolerance: value["tolerance"].as_f64()?,
            min_users: value["minUsers"].as_u64()?,
            action: GuardAction::parse(value["action"].as_str()?)?,
        };
        Some((guard, value["variant"].as_str()?.to_owned()))
    }
}

/// What a guard's check of a step concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardVerdict {
    /// Fewer users than the guard's minimum: the step waits.
    TooFewUsers,
    /// The relative lift or its sequence is undefined: the step waits.
    Undefined,
    /// No regression beyond the tolerance shown: the next step may follow.
    Healthy,
    /// A regression beyond the tolerance: the guard's action is due.
    Regressed,
}

impl GuardVerdict {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardVerdict::TooFewUsers => "too_few_users",
            GuardVerdict::Undefined => "undefined",
            GuardVerdict::Healthy => "healthy",
            GuardVerdict::Regressed => "regressed",
        }
    }

    fn parse(text: &str) -> Option<GuardVerdict> {
        [
            GuardVerdict::TooFewUsers,
            GuardVerdict::Undefined,
            GuardVerdict::Healthy,
            GuardVerdict::Regressed,
        ]
        .into_iter()
        .find(|v| v.as_str() == text)
    }
}

/// A guard's check of a rollout's current step, with its figures.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardCheck {
    /// The step checked: the index of the last applied step.
    pub step: usize,
    /// When.
    pub checked_at: OffsetDateTime,
    /// What it concluded.
    pub verdict: GuardVerdict,
    /// Users first exposed during the step to an old variant.
    pub old_users: u64,
    /// Users first exposed during the step to the new variant.
    pub new_users: u64,
    /// The new variant's relative lift over the old on the guard metric.
    pub lift: Option<f64>,
    /// Its confidence sequence.
    pub interval: Option<[f64; 2]>,
    /// Why the lift or its sequence is undefined, when it is.
    pub reason: Option<String>,
}

impl GuardCheck {
    /// The stored form, also what the audit trail records.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "step": self.step,
            "checkedAt": self.checked_at.format(&Rfc3339).unwrap_or_default(),
            "verdict": self.verdict.as_str(),
            "oldUsers": self.old_users,
            "newUsers": self.new_users,
            "lift": self.lift,
            "interval": self.interval,
            "reason": self.reason,
        })
    }

    /// Reads the stored form back; `None` for a shape Ensign did not write.
    pub(crate) fn from_json(value: &Value) -> Option<GuardCheck> {
        let interval = match &value["interval"] {
            Value::Null => None,
            Value::Array(ends) if ends.len() == 2 => Some([ends[0].as_f64()?, ends[1].as_f64()?]),
            _ => return None,
        };
        Some(GuardCheck {
            step: usize::try_from(value["step"].as_u64()?).ok()?,
            checked_at: OffsetDateTime::parse(value["checkedAt"].as_str()?, &Rfc3339).ok()?,
            verdict: GuardVerdict::parse(value["verdict"].as_str()?)?,
            old_users: value["oldUsers"].as_u64()?,
            new_users: value["newUsers"].as_u64()?,
            lift: value["lift"].as_f64(),
            interval,
            reason: value["reason"].as_str().map(str::to_owned),
        })
    }
}

/// The variant a guarded rollout rolls out: the one whose weight its
/// steps raise, from `current` (the flag's weights now) through `steps`.
/// Refuses steps that are not a monotone ramp (see the module's
/// documentation), naming the first that breaks it.
pub fn ramped_variant(
    current: &[(String, u32)],
    steps: &[Vec<RolloutWeight>],
) -> Result<String, StoreError> {
    let invalid = |reason: String| StoreError::InvalidInput {
        what: "guarded rollout",
        reason,
    };
    let weight_of = |weights: &[(String, u32)], variant: &str| {
        weights
            .iter()
            .find(|(name, _)| name == variant)
            .map_or(0, |(_, weight)| u64::from(*weight))
    };
    let sum = |weights: &[(String, u32)]| weights.iter().map(|(_, w)| u64::from(*w)).sum::<u64>();
    let mut raised: Option<String> = None;
    let mut before: Vec<(String, u32)> = current.to_vec();
    for (index, step) in steps.iter().enumerate() {
        let number = index + 1;
        // A variant a step does not list keeps its weight.
        let mut after = before.clone();
        for weight in step {
            match after.iter_mut().find(|(name, _)| *name == weight.variant) {
                Some(entry) => entry.1 = weight.weight,
                None => after.push((weight.variant.clone(), weight.weight)),
            }
        }
        if sum(&after) != sum(&before) {
            return Err(invalid(format!(
                "step {number} changes the weights' sum from {} to {}: a guarded rollout keeps it, so that no user of the new variant is moved",
                sum(&before),
                sum(&after)
            )));
        }
        for (variant, weight) in &after {
            if u64::from(*weight) <= weight_of(&before, variant) {
                continue;
            }
            match &raised {
                Some(new) if new != variant => {
                    return Err(invalid(format!(
                        "step {number} raises variant {variant:?}, but the rollout raises {new:?}: a guarded rollout raises one variant only"
                    )));
                }
                _ => raised = Some(variant.clone()),
            }
        }
        before = after;
    }
    raised.ok_or_else(|| {
        invalid("no step raises a variant's weight: there is nothing to guard".into())
    })
}

#[cfg(test)]
mod tests {
    use super::{GuardAction, GuardDirection, GuardMetric, RolloutGuard, ramped_variant};
    use crate::experiments::MetricKind;
    use crate::rollouts::RolloutWeight;

    #[test]
    fn a_guard_is_checked_before_anything_is_written() {
        let guard = RolloutGuard {
            metric: GuardMetric {
                event: "purchase".into(),
                kind: MetricKind::Conversion,
                window_seconds: 86_400,
            },
            direction: GuardDirection::HigherIsBetter,
            tolerance: 0.02,
            min_users: 1_000,
            action: GuardAction::Pause,
        };
        assert!(guard.check().is_ok());
        let refused = |change: &dyn Fn(&mut RolloutGuard), expect: &str| {
            let mut bad = guard.clone();
            change(&mut bad);
            let error = bad.check().unwrap_err().to_string();
            assert!(error.contains(expect), "{error}");
        };
        refused(&|g| g.metric.event.clear(), "event must be 1 to 255 bytes");
        refused(
            &|g| g.metric.event = "e".repeat(256),
            "event must be 1 to 255 bytes",
        );
        refused(&|g| g.metric.window_seconds = 0, "window must be 1 to");
        refused(&|g| g.tolerance = 0.0, "above 0 and below 1, not 0");
        refused(&|g| g.tolerance = 1.0, "above 0 and below 1, not 1");
        refused(&|g| g.tolerance = f64::NAN, "above 0 and below 1, not NaN");
        refused(&|g| g.min_users = 0, "minimum of users must be 1 to");
    }

    fn weights(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
        pairs.iter().map(|(v, w)| ((*v).to_owned(), *w)).collect()
    }

    fn step(pairs: &[(&str, u32)]) -> Vec<RolloutWeight> {
        pairs
            .iter()
            .map(|(v, w)| RolloutWeight {
                variant: (*v).to_owned(),
                weight: *w,
            })
            .collect()
    }

    #[track_caller]
    fn check(current: &[(&str, u32)], steps: &[&[(&str, u32)]], expect: Result<&str, &str>) {
        let steps: Vec<Vec<RolloutWeight>> = steps.iter().map(|s| step(s)).collect();
        let got = ramped_variant(&weights(current), &steps);
        match (got, expect) {
            (Ok(variant), Ok(expected)) => assert_eq!(variant, expected),
            (Err(error), Err(expected)) => {
                assert!(error.to_string().contains(expected), "{error}")
            }
            (got, expected) => panic!("got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn ramps_and_what_breaks_them() {
        let off = &[("new", 0), ("old", 100)];
        check(
            off,
            &[
                &[("new", 1), ("old", 99)],
                &[("new", 10), ("old", 90)],
                &[("new", 50), ("old", 50)],
            ],
            Ok("new"),
        );
        // A step may leave a variant out (it keeps its weight) or repeat
        // the weights.
        check(
            &[("a", 50), ("new", 0), ("b", 50)],
            &[
                &[("new", 10), ("b", 40)],
                &[("new", 10)],
                &[("a", 0), ("new", 60)],
            ],
            Ok("new"),
        );
        check(
            off,
            &[&[("new", 1), ("old", 100)]],
            Err("step 1 changes the weights' sum from 100 to 101"),
        );
        check(
            off,
            &[&[("new", 10), ("old", 90)], &[("new", 5), ("old", 95)]],
            Err("step 2 raises variant \"old\", but the rollout raises \"new\""),
        );
        check(
            &[("a", 50), ("b", 50), ("c", 0)],
            &[&[("a", 40), ("b", 40), ("c", 20)], &[("a", 50), ("b", 30)]],
            Err("step 2 raises variant \"a\", but the rollout raises \"c\""),
        );
        check(
            off,
            &[&[("new", 0), ("old", 100)]],
            Err("no step raises a variant's weight"),
        );
    }
}
