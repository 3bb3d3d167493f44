//! The evaluation debugger in the GraphQL API (viewer role): a stored
//! flag evaluated for a context by the engine, with its decision path.

use async_graphql::{Context, Enum, Json, Object, SimpleObject};
use engine::logic::{Step, StepKind, Trace};
use serde_json::{Map, Value};

use super::error::{ApiError, store_error};
use super::schema::{admin, authorize};
use store::TokenRole;

/// The evaluation debugger's answer.
#[derive(Debug, Clone, SimpleObject)]
pub struct Evaluation {
    value: Option<Json<Value>>,
    variant: Option<String>,
    reason: String,
    error_code: Option<String>,
    error_message: Option<String>,
    /// The engine's decision path as one line of text, for logs.
    explain: String,
    /// The engine's decision path, step by step, in the order the
    /// decisions were made.
    steps: Vec<DecisionStep>,
    /// Decisions made after the path was full: counted, not listed.
    omitted_steps: i32,
}

/// One decision of the engine on the way to a flag's value.
#[derive(Debug, Clone, SimpleObject)]
pub struct DecisionStep {
    /// The JSON pointer of the deciding node within the flag's targeting
    /// rule, with each `$ref` expanded in place: `/if/0/and` is the `and`
    /// of the first argument of the rule's `if`; "" is the rule itself.
    /// A `REF` step's pointer is where the `$ref` stands in the flag's
    /// definition instead: `/targeting/if/0`.
    pointer: String,
    /// What was decided; the fields that apply to it are set, the others
    /// null.
    kind: DecisionKind,
    /// `REF`: the segment expanded at `pointer`.
    segment: Option<String>,
    /// `IF`: the index of the argument that decided (the condition that
    /// held, or the else branch).
    condition: Option<i32>,
    /// `IF`: the index of the argument whose value is the result; null when
    /// no condition held and there is no else branch.
    branch: Option<i32>,
    /// `CLAUSE`: `and` or `or`.
    operator: Option<String>,
    /// `CLAUSE`: the index of the clause that decided.
    clause: Option<i32>,
    /// `CLAUSE`: the deciding clause's value; `FRACTIONAL`: the variant of
    /// the chosen bucket (null when none was chosen); `RESULT`: the value
    /// the rule returned.
    value: Option<Json<Value>>,
    /// `FRACTIONAL`: the bucket value computed from the hash.
    bucket: Option<i64>,
    /// `FRACTIONAL`: the 32-bit MurmurHash3 of the bucketing input.
    hash: Option<i64>,
}

/// The kinds of decision in a decision path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum DecisionKind {
    /// A `$ref` to a segment was expanded.
    Ref,
    /// An `if` chose a branch, or found none.
    If,
    /// An `and` or `or` was decided by one clause.
    Clause,
    /// A `fractional` chose a bucket, or none.
    Fractional,
    /// The rule's final value.
    Result,
}

impl DecisionStep {
    fn new(pointer: String, kind: DecisionKind) -> DecisionStep {
        DecisionStep {
            pointer,
            kind,
            segment: None,
            condition: None,
            branch: None,
            operator: None,
            clause: None,
            value: None,
            bucket: None,
            hash: None,
        }
    }
}

impl From<Step> for DecisionStep {
    fn from(step: Step) -> DecisionStep {
        let index = |i: usize| i32::try_from(i).unwrap_or(i32::MAX);
        match step.kind {
            StepKind::Ref { evaluator } => DecisionStep {
                segment: Some(evaluator),
                ..DecisionStep::new(step.pointer, DecisionKind::Ref)
            },
            StepKind::If { condition, taken } => DecisionStep {
                condition: Some(index(condition)),
                branch: taken.map(index),
                ..DecisionStep::new(step.pointer, DecisionKind::If)
            },
            StepKind::Clause { op, clause, value } => DecisionStep {
                operator: Some(op.to_owned()),
                clause: Some(index(clause)),
                value: Some(Json(value)),
                ..DecisionStep::new(step.pointer, DecisionKind::Clause)
            },
            StepKind::Fractional {
                bucket,
                hash,
                variant,
            } => DecisionStep {
                bucket: Some(i64::try_from(bucket).unwrap_or(i64::MAX)),
                hash: Some(i64::from(hash)),
                value: variant.map(Json),
                ..DecisionStep::new(step.pointer, DecisionKind::Fractional)
            },
            StepKind::Result { value } => DecisionStep {
                value: Some(Json(value)),
                ..DecisionStep::new(step.pointer, DecisionKind::Result)
            },
        }
    }
}

/// The decision path of `trace`: its text, its steps and how many were
/// left out.
fn decision_path(trace: Trace) -> (String, Vec<DecisionStep>, i32) {
    let explain = trace.render();
    let omitted = i32::try_from(trace.omitted).unwrap_or(i32::MAX);
    let steps = trace.steps.into_iter().map(DecisionStep::from).collect();
    (explain, steps, omitted)
}

/// The evaluation debugger.
#[derive(Debug, Default)]
pub struct EvaluationQuery;

#[Object]
impl EvaluationQuery {
    /// The evaluation debugger: evaluates a stored flag for a context and
    /// returns the engine's decision path.
    async fn evaluate(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        #[graphql(default_with = "Json(Value::Object(Map::new()))")] context: Json<Value>,
    ) -> async_graphql::Result<Evaluation> {
        authorize(ctx, TokenRole::Viewer)?;
        let (_, document) = admin(ctx)?
            .store
            .document(&flag_set)
            .await
            .map_err(store_error)?;
        let (file, _) = engine::model::from_value(document)
            .map_err(|error| ApiError::InvalidDocument { error })?;
        let (set, _) =
            engine::FlagSet::compile(&flag_set, &file, &engine::CompileOptions::default(), None);
        let prepared = set.prepare(&context.0);
        let (resolution, trace) = set.explain(&key, &prepared);
        let (explain, steps, omitted_steps) = decision_path(trace);
        Ok(Evaluation {
            value: resolution.value.cloned().map(Json),
            variant: resolution.variant.map(str::to_owned),
            reason: resolution.reason.as_str().to_owned(),
            error_code: resolution
                .error
                .as_ref()
                .map(|e| e.code.as_str().to_owned()),
            error_message: resolution.error.as_ref().map(|e| e.message.clone()),
            explain,
            steps,
            omitted_steps,
        })
    }
}
