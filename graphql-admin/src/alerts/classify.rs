//! Which audit events raise an alert, how severe it is, and what an
//! out-of-band edit does to publication.

use engine::Diagnostic;
use serde_json::Value;

use store::{Action, AuditRecord, Store, StoreError, Subject};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Someone should look: the change was deliberate but unusual.
    Warning,
    /// Evaluation is affected: a change that cannot be published.
    Critical,
}

impl Severity {
    /// The name used in payloads: "warning" or "critical".
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Why a change raises an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertKind {
    /// The row was changed by hand in SQL, outside Ensign.
    OutOfBand,
    /// The flag was disabled: the kill switch, or any change that sets its
    /// `state` to `DISABLED`.
    KillSwitch,
    /// The flag is marked `locked` (before or after the change).
    LockedFlag,
    /// A running experiment's users per variant stopped matching its
    /// weights (the onset of a sample-ratio mismatch).
    SampleRatioMismatch,
    /// A guarded rollout's guard found the new variant worse than it
    /// tolerates, and paused the rollout or restored its weights.
    GuardStop,
}

impl AlertKind {
    /// The name used in payloads: "out_of_band", "kill_switch",
    /// "locked_flag", "sample_ratio_mismatch" or "guard_stop".
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::OutOfBand => "out_of_band",
            AlertKind::KillSwitch => "kill_switch",
            AlertKind::LockedFlag => "locked_flag",
            AlertKind::SampleRatioMismatch => "sample_ratio_mismatch",
            AlertKind::GuardStop => "guard_stop",
        }
    }
}

/// Whether a flag set's document, as stored, compiles and so is published.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    /// The flag set's version that was compiled.
    pub version: i64,
    /// Whether the document has no error, so the publisher publishes it.
    pub published: bool,
    /// The compiler's errors (warnings do not hold a document back).
    pub errors: Vec<Diagnostic>,
}

/// An alert raised by one audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The most significant reason: out-of-band, then kill switch, then
    /// locked flag.
    pub kind: AlertKind,
    /// Every reason, in that order.
    pub kinds: Vec<AlertKind>,
    /// How urgent it is.
    pub severity: Severity,
    /// What happened, in sentences, including (for an out-of-band edit)
    /// whether the change is published.
    pub message: String,
    /// For an out-of-band edit, whether its flag set compiles.
    pub publication: Option<Publication>,
}

/// The reasons an audit event raises an alert; empty for an ordinary
/// change: a flag change's (out of band, kill switch, locked flag), the
/// onset of an experiment's sample-ratio mismatch, a guarded rollout's
/// stop.
pub fn alert_kinds(event: &AuditRecord) -> Vec<AlertKind> {
    match (event.subject, event.action) {
        (Subject::Experiment, Action::SampleRatioMismatch) => {
            return vec![AlertKind::SampleRatioMismatch];
        }
        (Subject::Rollout, Action::GuardStop) => return vec![AlertKind::GuardStop],
        (Subject::Flag, _) => {}
        _ => return Vec::new(),
    }
    let mut kinds = Vec::new();
    if event.out_of_band {
        kinds.push(AlertKind::OutOfBand);
    }
    let state = |side: &Option<Value>| {
        side.as_ref()
            .and_then(|s| s["definition"]["state"].as_str())
            .map(str::to_owned)
    };
    let disabled = state(&event.after).as_deref() == Some("DISABLED");
    let was_disabled = state(&event.before).as_deref() == Some("DISABLED");
    // Creating a flag that starts disabled is how flags are usually born,
    // not a kill switch; disabling one that existed is.
    if event.action == Action::Kill || (disabled && event.before.is_some() && !was_disabled) {
        kinds.push(AlertKind::KillSwitch);
    }
    let locked = |side: &Option<Value>| {
        side.as_ref()
            .and_then(|s| s["locked"].as_bool())
            .unwrap_or(false)
    };
    if locked(&event.before) || locked(&event.after) {
        kinds.push(AlertKind::LockedFlag);
    }
    kinds
}

/// Compiles a flag set's document as the publisher does and says whether
/// it is published: only error diagnostics hold a document back.
pub fn publication(version: i64, document: &Value) -> Publication {
    let errors = store::publication_errors(document);
    Publication {
        version,
        published: errors.is_empty(),
        errors,
    }
}

/// The alert `event` raises, if any. For an out-of-band edit the flag
/// set's document is compiled as it is stored now, which says whether the
/// edit is published or the last valid version keeps being served.
pub async fn assess(store: &Store, event: &AuditRecord) -> Result<Option<Alert>, StoreError> {
    let kinds = alert_kinds(event);
    if kinds.is_empty() {
        return Ok(None);
    }
    let publication = match (&event.flag_set, kinds.contains(&AlertKind::OutOfBand)) {
        (Some(flag_set), true) => match store.document(flag_set).await {
            Ok((version, document)) => Some(publication(version, &document)),
            Err(StoreError::FlagSetNotFound { .. }) => None,
            Err(error) => return Err(error),
        },
        _ => None,
    };
    Ok(alert(event, kinds, publication))
}

/// Builds the alert of `event` for the given reasons; `None` when there
/// are none.
pub fn alert(
    event: &AuditRecord,
    kinds: Vec<AlertKind>,
    publication: Option<Publication>,
) -> Option<Alert> {
    let kind = *kinds.first()?;
    match kind {
        AlertKind::SampleRatioMismatch => {
            return Some(Alert {
                kind,
                kinds,
                severity: Severity::Warning,
                message: srm_message(event),
                publication: None,
            });
        }
        AlertKind::GuardStop => {
            let message = match &event.after {
                Some(after) => {
                    guard_message(&event.subject_key, event.flag_set.as_deref(), after, true)
                }
                None => format!(
                    "A rollout of flag {:?} was stopped by its guard.",
                    event.subject_key
                ),
            };
            return Some(Alert {
                kind,
                kinds,
                severity: Severity::Warning,
                message,
                publication: None,
            });
        }
        _ => {}
    }
    let subject = match &event.flag_set {
        Some(set) => format!("Flag {:?} of flag set {set:?}", event.subject_key),
        None => format!("Flag {:?}", event.subject_key),
    };
    let mut sentences = Vec::new();
    for reason in &kinds {
        sentences.push(match reason {
            AlertKind::OutOfBand => format!(
                "{subject} was changed outside Ensign ({} by database user {:?}).",
                event.action, event.actor
            ),
            AlertKind::KillSwitch => {
                format!("{subject} was disabled by {:?} (kill switch).", event.actor)
            }
            AlertKind::LockedFlag => format!(
                "{subject} is locked, and {:?} changed it ({}).",
                event.actor, event.action
            ),
            // Raised alone, above.
            AlertKind::SampleRatioMismatch | AlertKind::GuardStop => continue,
        });
    }
    if let Some(publication) = &publication {
        sentences.push(if publication.published {
            format!(
                "The flag set compiles at version {}, so the change is published.",
                publication.version
            )
        } else {
            let first = publication
                .errors
                .first()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            format!(
                "The flag set does not compile at version {} ({} error{}{first}), so the change is not published and Ensign keeps serving the last valid version.",
                publication.version,
                publication.errors.len(),
                if publication.errors.len() == 1 { "" } else { "s" },
            )
        });
    }
    let severity = match &publication {
        Some(p) if !p.published => Severity::Critical,
        _ => Severity::Warning,
    };
    Some(Alert {
        kind,
        kinds,
        severity,
        message: sentences.join(" "),
        publication,
    })
}

/// What the onset of an experiment's sample-ratio mismatch says in words.
pub(crate) fn srm_message(event: &AuditRecord) -> String {
    let p_value = event
        .after
        .as_ref()
        .and_then(|after| after["srm"]["p_value"].as_f64())
        .map_or_else(|| "unknown".to_owned(), |p| format!("{p:.2e}"));
    format!(
        "Experiment {:?}{}: its users per variant do not match its weights (sample-ratio mismatch, p = {p_value}); the assignment or the exposure logging is broken, and its results cannot be trusted until it is fixed.",
        event.subject_key,
        event
            .flag_set
            .as_deref()
            .map(|set| format!(" of flag set {set:?}"))
            .unwrap_or_default(),
    )
}

/// What a guard's decision says in words: which variant, which metric, by
/// how much, how sure, against what tolerance, and what follows.
/// `stopped` tells a stop (`guard_stop`) from a step's clearance
/// (`guard_clear`).
pub(crate) fn guard_message(
    flag: &str,
    flag_set: Option<&str>,
    after: &Value,
    stopped: bool,
) -> String {
    let guard = &after["guard"];
    let check = &after["guardCheck"];
    let percent = |value: &Value| {
        value
            .as_f64()
            .map_or_else(|| "unknown".to_owned(), |x| format!("{:+.1}%", x * 100.0))
    };
    let tolerance = guard["tolerance"]
        .as_f64()
        .map_or_else(|| "unknown".to_owned(), |t| format!("{:.1}%", t * 100.0));
    let direction = match guard["direction"].as_str() {
        Some("lower_is_better") => "lower is better",
        _ => "higher is better",
    };
    let step = check["step"].as_u64().map_or(0, |step| step + 1);
    let (done, judged) = match (stopped, after["status"].as_str()) {
        (true, Some("restored")) => (
            "was stopped by its guard, which restored the weights it started from".to_owned(),
            format!("worse than the {tolerance} it tolerates"),
        ),
        (true, _) => (
            "was paused by its guard".to_owned(),
            format!("worse than the {tolerance} it tolerates"),
        ),
        _ => (
            format!("had step {step} cleared by its guard, so the next step may follow"),
            format!("no regression beyond the {tolerance} it tolerates"),
        ),
    };
    format!(
        "Rollout {} of flag {flag:?}{} {done}: variant {} moved {} ({}, {direction}) by {} against the other variants (interval {} to {}), {judged}, over {} users of it and {} of the others in step {step}.",
        after["id"],
        flag_set
            .map(|set| format!(" in flag set {set:?}"))
            .unwrap_or_default(),
        guard["variant"],
        guard["metric"]["event"],
        guard["metric"]["kind"].as_str().unwrap_or("unknown"),
        percent(&check["lift"]),
        percent(&check["interval"][0]),
        percent(&check["interval"][1]),
        check["newUsers"],
        check["oldUsers"],
    )
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;

    fn event(action: Action, out_of_band: bool, before: Value, after: Value) -> AuditRecord {
        let side = |v: Value| (!v.is_null()).then_some(v);
        AuditRecord {
            id: 7,
            flag_set: Some("production".into()),
            subject: Subject::Flag,
            subject_key: "banner".into(),
            action,
            actor: "ada".into(),
            request_id: None,
            version: Some(2),
            before: side(before),
            after: side(after),
            diff: None,
            out_of_band,
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn flag(state: &str, locked: bool) -> Value {
        json!({"definition": {"state": state}, "locked": locked})
    }

    #[track_caller]
    fn check(event: AuditRecord, expect: Expect) {
        test_support::refuse_update_expect_under_ci();
        let kinds: Vec<&str> = alert_kinds(&event).iter().map(|k| k.as_str()).collect();
        expect.assert_eq(&kinds.join(" "));
    }

    #[test]
    fn kinds_of_changes() {
        let on = flag("ENABLED", false);
        let off = flag("DISABLED", false);
        let locked = flag("ENABLED", true);
        check(
            event(Action::Update, false, on.clone(), on.clone()),
            expect![""],
        );
        check(
            event(Action::Create, false, Value::Null, off.clone()),
            expect![""],
        );
        check(
            event(Action::Kill, false, on.clone(), off.clone()),
            expect!["kill_switch"],
        );
        check(
            event(Action::Update, false, on.clone(), off.clone()),
            expect!["kill_switch"],
        );
        check(
            event(Action::Update, false, off.clone(), off.clone()),
            expect![""],
        );
        check(
            event(Action::Update, false, locked.clone(), on.clone()),
            expect!["locked_flag"],
        );
        check(
            event(Action::Update, false, on.clone(), locked.clone()),
            expect!["locked_flag"],
        );
        check(
            event(Action::Update, true, locked.clone(), flag("DISABLED", true)),
            expect!["out_of_band kill_switch locked_flag"],
        );
        check(
            event(Action::Delete, true, on.clone(), Value::Null),
            expect!["out_of_band"],
        );
        let mut token = event(Action::Create, false, Value::Null, Value::Null);
        token.subject = Subject::Token;
        check(token, expect![""]);
    }

    #[test]
    fn out_of_band_messages_say_what_is_served() {
        let edit = event(
            Action::Update,
            true,
            flag("ENABLED", false),
            flag("ENABLED", false),
        );
        let good = json!({"flags": {"banner": {
            "state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"
        }}});
        let published = alert(&edit, alert_kinds(&edit), Some(publication(4, &good))).unwrap();
        assert_eq!(published.severity, Severity::Warning);
        expect![[r#"Flag "banner" of flag set "production" was changed outside Ensign (update by database user "ada"). The flag set compiles at version 4, so the change is published."#]]
            .assert_eq(&published.message);

        let mut bad = good.clone();
        bad["flags"]["banner"]["defaultVariant"] = json!("missing");
        let held = alert(&edit, alert_kinds(&edit), Some(publication(5, &bad))).unwrap();
        assert_eq!(held.severity, Severity::Critical);
        assert!(!held.publication.as_ref().unwrap().published);
        assert!(
            held.message.ends_with(
                "so the change is not published and Ensign keeps serving the last valid version."
            ),
            "{}",
            held.message
        );
    }
}
