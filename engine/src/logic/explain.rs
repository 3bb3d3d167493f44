//! Decision traces for the evaluation debugger.
//!
//! The evaluator is generic over a [`Tracer`]. [`NoTrace`] has
//! `ENABLED = false`, so every tracing call sits behind a constant-false
//! branch and the ordinary path compiles to exactly what it would be without
//! tracing; [`Trace`] records the steps that decided a resolution.

use serde::Serialize;
use serde_json::Value;

/// The most decisions one [`Trace`] keeps: a rule that loops decides at
/// every element, and its trace must stay small. Later decisions are only
/// counted ([`Trace::omitted`]).
pub const MAX_TRACE_STEPS: usize = 1000;

/// Receives the decisions made while a rule is evaluated.
pub trait Tracer {
    /// Whether the evaluator should call this tracer at all.
    const ENABLED: bool;
    /// Whether decisions are still kept, so that their values are worth
    /// building.
    fn recording(&self) -> bool {
        Self::ENABLED
    }
    /// Counts a decision that was not recorded because the trace is full.
    fn omit(&mut self) {}
    /// Descends into a child node, named by operator or index.
    fn enter(&mut self, segment: Segment);
    /// Returns from the child entered last.
    fn leave(&mut self);
    /// Records a decision at the current position.
    fn record(&mut self, step: StepKind);
}

/// A position step: an operator name or an argument index.
#[derive(Debug, Clone, Copy)]
pub enum Segment {
    /// An operator key such as `if`.
    Op(&'static str),
    /// An argument index.
    Index(usize),
}

/// The tracer of the ordinary path: does nothing, costs nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTrace;

impl Tracer for NoTrace {
    const ENABLED: bool = false;
    #[inline(always)]
    fn enter(&mut self, _: Segment) {}
    #[inline(always)]
    fn leave(&mut self) {}
    #[inline(always)]
    fn record(&mut self, _: StepKind) {}
}

/// A recorded decision path.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Trace {
    /// Decisions in the order they were made, at most [`MAX_TRACE_STEPS`].
    pub steps: Vec<Step>,
    /// Decisions made after the trace was full.
    #[serde(skip_serializing_if = "is_zero")]
    pub omitted: usize,
    #[serde(skip)]
    position: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Trace::default()
    }

    fn pointer(&self) -> String {
        let mut out = String::new();
        for segment in &self.position {
            out.push('/');
            out.push_str(&crate::pointer::escape(segment));
        }
        out
    }

    /// Records a `$ref` expansion found at compile time.
    pub fn push_ref(&mut self, evaluator: &str, pointer: &str) {
        self.steps.push(Step {
            pointer: pointer.to_owned(),
            kind: StepKind::Ref {
                evaluator: evaluator.to_owned(),
            },
        });
    }

    /// Renders the trace as one line per step, for logs and OFREP metadata.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            out.push_str(&step.render());
        }
        if self.omitted > 0 {
            out.push_str(&format!("; {} more steps omitted", self.omitted));
        }
        out
    }
}

impl Tracer for Trace {
    const ENABLED: bool = true;

    fn enter(&mut self, segment: Segment) {
        self.position.push(match segment {
            Segment::Op(op) => op.to_owned(),
            Segment::Index(i) => i.to_string(),
        });
    }

    fn leave(&mut self) {
        self.position.pop();
    }

    fn recording(&self) -> bool {
        self.steps.len() < MAX_TRACE_STEPS
    }

    fn omit(&mut self) {
        self.omitted += 1;
    }

    fn record(&mut self, kind: StepKind) {
        // The result is kept even in a full trace: it is one step.
        if !self.recording() && !matches!(kind, StepKind::Result { .. }) {
            self.omitted += 1;
            return;
        }
        let pointer = self.pointer();
        self.steps.push(Step { pointer, kind });
    }
}

/// One decision, located by the JSON pointer of its node within the
/// targeting rule (with `$ref`s expanded).
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Pointer of the deciding node.
    pub pointer: String,
    /// What was decided.
    #[serde(flatten)]
    pub kind: StepKind,
}

impl Step {
    fn render(&self) -> String {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        match &self.kind {
            StepKind::Ref { evaluator } => format!("{at}: $ref {evaluator:?} expanded"),
            StepKind::If { condition, taken } => match taken {
                Some(arg) => format!("{at}: condition {condition} chose branch {arg}"),
                None => format!("{at}: no condition held, no else branch"),
            },
            StepKind::Clause { op, clause, value } => {
                format!("{at}: {op} decided by clause {clause} ({value})")
            }
            StepKind::Fractional {
                bucket,
                hash,
                variant,
            } => match variant {
                Some(v) => format!("{at}: fractional bucket {bucket} (hash {hash}) -> {v}"),
                None => format!("{at}: fractional produced no bucket"),
            },
            StepKind::Result { value } => format!("result {value}"),
        }
    }
}

/// The kinds of decisions a trace records.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum StepKind {
    /// A `$ref` was expanded into this position.
    Ref {
        /// The evaluator's name.
        evaluator: String,
    },
    /// An `if` chose a branch: the index of the condition that held (or of
    /// the else branch) and the argument index evaluated.
    If {
        /// Index of the argument that decided (a condition, or the else).
        condition: usize,
        /// Index of the argument whose value is the result, if any.
        taken: Option<usize>,
    },
    /// An `and` or `or` was decided by one clause.
    Clause {
        /// `and` or `or`.
        op: &'static str,
        /// Index of the deciding clause.
        clause: usize,
        /// Its value.
        value: Value,
    },
    /// A `fractional` bucketing.
    Fractional {
        /// The bucket value computed from the hash.
        bucket: u64,
        /// The 32-bit MurmurHash3 of the bucketing input.
        hash: u32,
        /// The chosen bucket's variant, if one was chosen.
        variant: Option<Value>,
    },
    /// The rule's final value.
    Result {
        /// The value the targeting rule returned.
        value: Value,
    },
}
