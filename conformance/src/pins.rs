//! Pinned scenario counts: each runner states, per mode, how many
//! scenarios pass and how many are skipped, and fails when a run differs.
//! A broader skip rule, a lost feature file or a testbed upgrade therefore
//! cannot move scenarios into "skipped" (or out of the run) unnoticed;
//! changing a count is an edit that review sees.

use std::fmt;

/// The counts one mode is expected to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// The mode (or suite) the runner reports.
    pub mode: &'static str,
    /// Scenarios that pass.
    pub passed: usize,
    /// Scenarios skipped, with a stated reason.
    pub skipped: usize,
}

/// The counts a run reached for one mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// The mode.
    pub mode: String,
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios skipped.
    pub skipped: usize,
}

/// How a run's counts differ from the pinned ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The runner, for the message.
    pub runner: &'static str,
    /// One line per differing mode.
    pub lines: Vec<String>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: scenario counts differ from the pinned ones (its EXPECTED table):",
            self.runner
        )?;
        for line in &self.lines {
            writeln!(f, "  {line}")?;
        }
        write!(
            f,
            "  if the change is intended (a testbed upgrade, a fixed client), update EXPECTED \
             in the same commit and say why"
        )
    }
}

/// Compares `counted` with `expected`, mode by mode; a mode present in
/// only one of them is a difference too.
pub fn check(runner: &'static str, expected: &[Pin], counted: &[Counted]) -> Result<(), Mismatch> {
    let mut lines = Vec::new();
    for pin in expected {
        match counted.iter().find(|c| c.mode == pin.mode) {
            Some(c) if c.passed == pin.passed && c.skipped == pin.skipped => {}
            Some(c) => lines.push(format!(
                "{}: expected {} passed and {} skipped, got {} passed and {} skipped",
                pin.mode, pin.passed, pin.skipped, c.passed, c.skipped
            )),
            None => lines.push(format!(
                "{}: expected {} passed and {} skipped, but the mode did not report",
                pin.mode, pin.passed, pin.skipped
            )),
        }
    }
    for c in counted {
        if !expected.iter().any(|pin| pin.mode == c.mode) {
            lines.push(format!(
                "{}: not pinned, got {} passed and {} skipped",
                c.mode, c.passed, c.skipped
            ));
        }
    }
    if lines.is_empty() {
        Ok(())
    } else {
        Err(Mismatch { runner, lines })
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    const EXPECTED: &[Pin] = &[
        Pin {
            mode: "rpc",
            passed: 10,
            skipped: 2,
        },
        Pin {
            mode: "file",
            passed: 5,
            skipped: 0,
        },
    ];

    #[track_caller]
    fn check_counts(counted: &[(&str, usize, usize)], expect: Expect) {
        test_support::refuse_update_expect_under_ci();
        let counted: Vec<Counted> = counted
            .iter()
            .map(|&(mode, passed, skipped)| Counted {
                mode: mode.to_owned(),
                passed,
                skipped,
            })
            .collect();
        let actual = match check("runner", EXPECTED, &counted) {
            Ok(()) => "ok".to_owned(),
            Err(mismatch) => mismatch.to_string(),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn counts_must_match_the_pins_exactly() {
        check_counts(&[("rpc", 10, 2), ("file", 5, 0)], expect!["ok"]);
        check_counts(&[("file", 5, 0), ("rpc", 10, 2)], expect!["ok"]);
        check_counts(
            &[("rpc", 8, 4), ("file", 5, 0)],
            expect![[r#"
                runner: scenario counts differ from the pinned ones (its EXPECTED table):
                  rpc: expected 10 passed and 2 skipped, got 8 passed and 4 skipped
                  if the change is intended (a testbed upgrade, a fixed client), update EXPECTED in the same commit and say why"#]],
        );
        // More passing is a difference too: the pin is raised on purpose.
        check_counts(
            &[("rpc", 11, 2), ("file", 5, 0)],
            expect![[r#"
                runner: scenario counts differ from the pinned ones (its EXPECTED table):
                  rpc: expected 10 passed and 2 skipped, got 11 passed and 2 skipped
                  if the change is intended (a testbed upgrade, a fixed client), update EXPECTED in the same commit and say why"#]],
        );
        check_counts(
            &[("rpc", 10, 2), ("socket", 1, 0)],
            expect![[r#"
                runner: scenario counts differ from the pinned ones (its EXPECTED table):
                  file: expected 5 passed and 0 skipped, but the mode did not report
                  socket: not pinned, got 1 passed and 0 skipped
                  if the change is intended (a testbed upgrade, a fixed client), update EXPECTED in the same commit and say why"#]],
        );
    }
}
