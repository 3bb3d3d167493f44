//! The evaluator of compiled rules.
//!
//! Like flagd's JSONLogic, an operator given arguments it cannot use yields
//! `null`, which the resolver then treats as "use the default variant";
//! arithmetic is the exception, as in flagd's in-process evaluators: a
//! division or modulo by zero, or a result that is NaN, fails. Evaluation
//! fails only that way or by exceeding its budget ([`super::budget`]): the
//! operator records an [`EvalFailure`] and yields `null`, every loop stops
//! at its next charge, and [`evaluate`] returns the failure. Recursion
//! depth is bounded by the rule's nesting, which the compiler bounds, and
//! by the nesting of built arrays, which the budget bounds; data never
//! drives recursion otherwise.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use super::budget::{ArithmeticFault, Budget, EvalFailure, EvalLimits};
use super::explain::{Segment, StepKind, Tracer};
use super::value::{Val, js_compare, loose_eq, strict_eq};
use super::{ArithOp, CmpOp, IterOp, Node, Rule, Seg, Test, VarSource};
use crate::context::{PathTable, Prepared, SlotId, split_path, step};
use crate::ops::fractional::{Chosen, ConstBuckets, Key, Murmur3, Piece};
use crate::ops::{fractional, semver};

/// What a rule is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Env<'e, 'a> {
    /// The prepared request context.
    pub context: &'e Prepared<'a>,
    /// Key of the flag being evaluated.
    pub flag_key: &'a str,
}

/// Evaluates a compiled rule within its budget ([`Rule::limits`]).
pub fn evaluate<'a, T: Tracer>(
    rule: &'a Rule,
    env: Env<'a, 'a>,
    tracer: &mut T,
) -> Result<Val<'a>, EvalFailure> {
    let mut evaluator = Evaluator {
        env,
        tracer,
        budget: Budget::new(&rule.limits),
    };
    let value = evaluator.eval(&rule.root, None);
    match evaluator.budget.into_failure() {
        None => Ok(value),
        Some(failure) => Err(failure),
    }
}

/// Evaluates a compiled rule as [`evaluate`] does, and tells whether a
/// `fractional` decided the result: the value is what a `fractional`
/// returned, reached from the root through `if` branches only. A rule that
/// computes on a `fractional`'s pick (`cat`, a comparison, ...) is not
/// decided by it.
pub(crate) fn evaluate_attributed<'a>(
    rule: &'a Rule,
    env: Env<'a, 'a>,
) -> Result<(Val<'a>, bool), EvalFailure> {
    let mut evaluator = Evaluator {
        env,
        tracer: &mut super::explain::NoTrace,
        budget: Budget::new(&rule.limits),
    };
    let mut node = &rule.root;
    // The `if`s on the way are walked here, their conditions evaluated as
    // `if` evaluates them, so the node that yields the result is known.
    let (value, split) = loop {
        match node {
            Node::If(args) => {
                let mut i = 0;
                let mut taken = None;
                while i + 1 < args.len() {
                    if evaluator.truthy(&args[i], None) {
                        taken = Some(i + 1);
                        break;
                    }
                    i += 2;
                }
                if taken.is_none() && args.len() % 2 == 1 {
                    taken = Some(args.len() - 1);
                }
                match taken.and_then(|at| args.get(at)) {
                    Some(branch) => node = branch,
                    None => break (Val::Null, false),
                }
            }
            Node::Fractional { .. } => break (evaluator.eval(node, None), true),
            other => break (evaluator.eval(other, None), false),
        }
    };
    match evaluator.budget.into_failure() {
        None => Ok((value, split)),
        Some(failure) => Err(failure),
    }
}

/// Whether a `fractional` can decide a rule's result, as
/// [`evaluate_attributed`] decides it: the node is one, or an `if` with one
/// among its branches.
pub(crate) fn split_in_tail(node: &Node) -> bool {
    match node {
        Node::Fractional { .. } => true,
        Node::If(args) => args
            .iter()
            .enumerate()
            .any(|(i, arg)| (i % 2 == 1 || i + 1 == args.len()) && split_in_tail(arg)),
        _ => false,
    }
}

/// Where evaluating a rule that has a branch plan ends: the constant
/// that the rule returns, as a place in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selected {
    /// The rule yields null.
    Null,
    /// The root `if`'s argument at this index (one of its branches), or
    /// the root `fractional`'s pick at this index (as [`select_bucket`]
    /// numbers them).
    At(usize),
    /// The pick `pick` (numbered as by [`select_bucket`]) of the
    /// `fractional` with constant buckets that is the root `if`'s argument
    /// `arg`: a rollout behind a condition.
    Bucket { arg: usize, pick: usize },
}

/// For a rule that is an `if` at its root: which argument it returns (the
/// index of a branch), and when that argument is a `fractional` with
/// constant buckets, which of them it picks. Used by the resolver when
/// every branch is a constant or such a `fractional`, to map straight to a
/// variant.
pub(crate) fn select_branch<'a>(
    args: &'a [Node],
    env: Env<'a, 'a>,
    limits: &'a EvalLimits,
) -> Result<Selected, EvalFailure> {
    let mut evaluator = Evaluator {
        env,
        tracer: &mut super::explain::NoTrace,
        budget: Budget::new(limits),
    };
    let mut i = 0;
    let mut chosen = None;
    while i + 1 < args.len() {
        // A condition that is a test (a segment, usually) is decided
        // without the call `truthy` would add.
        let holds = match &args[i] {
            Node::Test(test) => evaluator.test(test) == Some(true),
            condition => evaluator.truthy(condition, None),
        };
        if holds {
            chosen = Some(i + 1);
            break;
        }
        i += 2;
    }
    if chosen.is_none() && args.len() % 2 == 1 {
        chosen = Some(args.len() - 1);
    }
    // The branch is evaluated as `if` would evaluate it, within the same
    // budget, but only as far as the plan needs.
    let selected = match chosen {
        None => Selected::Null,
        Some(arg) => match args.get(arg) {
            Some(Node::Fractional {
                args,
                buckets: Some(buckets),
                slots,
                ..
            }) => match evaluator.bucket(args, buckets, slots.as_deref()) {
                Some(pick) => Selected::Bucket { arg, pick },
                None => Selected::Null,
            },
            _ => Selected::At(arg),
        },
    };
    match evaluator.budget.into_failure() {
        None => Ok(selected),
        Some(failure) => Err(failure),
    }
}

/// For a rule that is a `fractional` with constant buckets at its root:
/// which bucket it picks, or `None` for null. `Some(0)` is the bucketing
/// value itself (an array the shorthand made a bucket), `Some(i + 1)` the
/// constant bucket `i` (see [`ConstBuckets::variants`]). Used by the
/// resolver to map straight to a variant.
pub(crate) fn select_bucket<'a>(
    args: &'a [Node],
    buckets: &'a ConstBuckets,
    slots: Option<&'a [SlotId]>,
    env: Env<'a, 'a>,
    limits: &'a EvalLimits,
) -> Result<Option<usize>, EvalFailure> {
    let mut evaluator = Evaluator {
        env,
        tracer: &mut super::explain::NoTrace,
        budget: Budget::new(limits),
    };
    let chosen = evaluator.bucket(args, buckets, slots);
    match evaluator.budget.into_failure() {
        None => Ok(chosen),
        Some(failure) => Err(failure),
    }
}

/// Evaluates one node against `env` within `limits` (the compiler's check
/// of constant expressions): the steps spent, and the failure if any.
pub(crate) fn evaluate_node<'a>(
    node: &'a Node,
    env: Env<'a, 'a>,
    limits: &'a EvalLimits,
) -> (u64, Option<EvalFailure>) {
    let mut evaluator = Evaluator {
        env,
        tracer: &mut super::explain::NoTrace,
        budget: Budget::new(limits),
    };
    drop(evaluator.eval(node, None));
    let spent = evaluator.budget.spent();
    (spent, evaluator.budget.into_failure())
}

/// Writes the text of the root-level variables a `cat` bucketing value is
/// made of to `hasher`, as [`Evaluator::slots_len`] measured it.
fn write_slots(context: &Prepared<'_>, slots: &[SlotId], hasher: &mut Murmur3) {
    for slot in slots {
        if let Some(Some(piece)) = slot_piece(context, *slot) {
            piece.write_to(hasher);
        }
    }
}

/// The `cat` piece of a root-level variable, read from its slot: `Some(None)`
/// for null or no value (which `cat` skips), `None` for an array or object.
#[inline]
fn slot_piece<'c>(context: &'c Prepared<'c>, slot: SlotId) -> Option<Option<Piece<'c>>> {
    match context.slot(slot) {
        None | Some(Val::Null) => Some(None),
        Some(Val::Str(s)) => Some(Some(Piece::Text(s))),
        Some(Val::Num(n)) => Some(Some(Piece::Number(*n))),
        Some(Val::Bool(b)) => Some(Some(Piece::Text(if *b { "true" } else { "false" }))),
        Some(Val::Arr(_) | Val::Json(_)) => None,
    }
}

/// How many arguments of a `cat` that `fractional` buckets by are kept
/// rather than joined (`cat` of a flag key and a user id, perhaps with a
/// separator, is the common case).
const CAT_PARTS: usize = 4;

/// The data of a per-element scope.
enum Frame<'f, 'a> {
    Item(&'f Val<'a>),
    Reduce {
        current: &'f Val<'a>,
        accumulator: &'f Val<'a>,
    },
}

struct Evaluator<'a, 't, T> {
    env: Env<'a, 'a>,
    tracer: &'t mut T,
    budget: Budget<'a>,
}

/// The elements of an array value, taken by value: a built array's are
/// moved, a borrowed one's are read in place.
enum Items<'a> {
    Built(std::vec::IntoIter<Val<'a>>),
    Borrowed(std::slice::Iter<'a, Value>),
}

impl<'a> Iterator for Items<'a> {
    type Item = Val<'a>;

    fn next(&mut self) -> Option<Val<'a>> {
        match self {
            Items::Built(it) => it.next(),
            Items::Borrowed(it) => it.next().map(Val::from_json),
        }
    }
}

/// The elements of `value` and their number, if it is an array.
fn into_items(value: Val<'_>) -> Option<(usize, Items<'_>)> {
    match value {
        Val::Arr(items) => Some((items.len(), Items::Built(items.into_iter()))),
        Val::Json(Value::Array(items)) => Some((items.len(), Items::Borrowed(items.iter()))),
        _ => None,
    }
}

/// How deeply `value` nests arrays (a borrowed array or object counts as
/// one level: it is input). Every built array has been admitted within the
/// depth limit, so this recursion is bounded.
fn nesting(value: &Val<'_>) -> usize {
    match value {
        Val::Arr(items) => 1 + items.iter().map(nesting).max().unwrap_or(0),
        Val::Json(_) => 1,
        _ => 0,
    }
}

/// What copying `value` costs, in steps: its elements, and the bytes of the
/// strings it owns.
fn copy_cost(value: &Val<'_>) -> u64 {
    match value {
        Val::Str(Cow::Owned(s)) => 1 + (s.len() / super::budget::BYTES_PER_STEP) as u64,
        Val::Arr(items) => items.iter().fold(1, |acc, item| acc + copy_cost(item)),
        _ => 1,
    }
}

impl<'a, T: Tracer> Evaluator<'a, '_, T> {
    /// Admits an array of `len` elements that `op` is about to build:
    /// within the length limit, and paid for.
    fn admit_len(&mut self, op: &'static str, len: usize) -> bool {
        let limit = self.budget.limits.max_array_len;
        if len > limit {
            self.budget.fail(EvalFailure::ArrayTooLong { op, limit });
            return false;
        }
        self.budget.charge(len as u64)
    }

    /// Admits an array whose elements become one level deeper, within the
    /// depth limit.
    fn admit_nested(&mut self, op: &'static str, items: Vec<Val<'a>>) -> Val<'a> {
        if !self.admit_len(op, items.len()) {
            return Val::Null;
        }
        let limit = self.budget.limits.max_depth;
        if items.iter().any(|item| nesting(item) >= limit) {
            self.budget.fail(EvalFailure::TooDeep { op, limit });
            return Val::Null;
        }
        Val::Arr(items)
    }

    /// Pays for a copy of a value read from a loop's element.
    fn admit_copy(&mut self, value: Option<Val<'a>>) -> Option<Val<'a>> {
        match &value {
            Some(v @ (Val::Arr(_) | Val::Str(Cow::Owned(_)))) => {
                if self.budget.charge(copy_cost(v)) {
                    value
                } else {
                    None
                }
            }
            _ => value,
        }
    }

    /// JavaScript's `String(value)` for `op`, within the string limit and
    /// paid for; `None` (and the evaluation has failed) beyond it.
    fn render(&mut self, op: &'static str, value: &Val<'_>) -> Option<String> {
        let limit = self.budget.limits.max_string_bytes;
        let mut out = String::new();
        if !value.write_js_string_within(&mut out, limit) {
            self.budget.fail(EvalFailure::StringTooLong { op, limit });
            return None;
        }
        self.budget.charge_bytes(out.len()).then_some(out)
    }

    /// Checks that an array operand, which `op` converts to a string, has a
    /// string form within the limit (and pays for it).
    fn admit_operand(&mut self, op: &'static str, value: &Val<'_>) -> bool {
        !value.is_array() || self.render(op, value).is_some()
    }

    #[inline]
    fn child(
        &mut self,
        op: &'static str,
        index: usize,
        node: &'a Node,
        frame: Option<&Frame<'_, 'a>>,
    ) -> Val<'a> {
        if T::ENABLED {
            // Elements of an array literal have an index but no operator.
            if !op.is_empty() {
                self.tracer.enter(Segment::Op(op));
            }
            self.tracer.enter(Segment::Index(index));
            let value = self.eval(node, frame);
            self.tracer.leave();
            if !op.is_empty() {
                self.tracer.leave();
            }
            value
        } else {
            self.eval(node, frame)
        }
    }

    fn arg(
        &mut self,
        op: &'static str,
        args: &'a [Node],
        index: usize,
        frame: Option<&Frame<'_, 'a>>,
    ) -> Val<'a> {
        match args.get(index) {
            Some(node) => self.child(op, index, node, frame),
            None => Val::Null,
        }
    }

    fn eval_fractional(
        &mut self,
        args: &'a [Node],
        version: fractional::FractionalVersion,
        buckets: Option<&'a ConstBuckets>,
        slots: Option<&'a [SlotId]>,
        frame: Option<&Frame<'_, 'a>>,
    ) -> Val<'a> {
        let pick = match buckets {
            Some(buckets) => self.fractional_const(args, buckets, slots, frame),
            None => {
                let values = self.all_args("fractional", args, frame);
                let targeting_key = self.env.context.slot(PathTable::TARGETING_KEY);
                fractional::fractional(version, &values, self.env.flag_key, targeting_key)
            }
        };
        if T::ENABLED && !self.tracer.recording() {
            self.tracer.omit();
        } else if T::ENABLED {
            let (bucket, hash, variant) = match &pick {
                Some(p) => (p.bucket, p.hash, Some(p.variant.to_trace_json())),
                None => (0, 0, None),
            };
            self.tracer.enter(Segment::Op("fractional"));
            self.tracer.record(StepKind::Fractional {
                bucket,
                hash,
                variant,
            });
            self.tracer.leave();
        }
        pick.map_or(Val::Null, |p| p.variant)
    }

    /// The pick of a `fractional` with constant buckets, numbered as
    /// [`select_bucket`] numbers them; `None` for null. Evaluates what
    /// [`Self::fractional_const`] evaluates, but leaves the variant unbuilt.
    #[inline(always)]
    fn bucket(
        &mut self,
        args: &'a [Node],
        buckets: &'a ConstBuckets,
        slots: Option<&'a [SlotId]>,
    ) -> Option<usize> {
        let env = self.env;
        let targeting_key = env.context.slot(PathTable::TARGETING_KEY);
        let chosen = if let Some(slots) = slots
            && let Some(len) = self.slots_len(buckets, slots)
        {
            match len {
                Some(len) => {
                    buckets.choose_concat(len, |hasher| write_slots(env.context, slots, hasher))
                }
                // Past the string limit `cat` yields null.
                None => buckets.choose(Key::Value(&Val::Null), env.flag_key, targeting_key),
            }
        } else {
            self.with_key(args, buckets, None, |key| {
                buckets.choose(key, env.flag_key, targeting_key)
            })
        };
        chosen.map(|(chosen, _, _)| match chosen {
            Chosen::Key => 0,
            Chosen::Constant(i) => i + 1,
        })
    }

    /// `fractional` with constant buckets: only the bucketing value is
    /// evaluated, and a `cat` of a few scalars there is hashed without
    /// building its string. The constant buckets would evaluate to
    /// themselves without a charge or a trace step, so skipping them
    /// changes nothing but the time taken.
    fn fractional_const(
        &mut self,
        args: &'a [Node],
        buckets: &'a ConstBuckets,
        slots: Option<&'a [SlotId]>,
        frame: Option<&Frame<'_, 'a>>,
    ) -> Option<fractional::Pick<'a>> {
        let (flag_key, context) = (self.env.flag_key, self.env.context);
        let targeting_key = context.slot(PathTable::TARGETING_KEY);
        if let Some(slots) = slots
            && let Some(len) = self.slots_len(buckets, slots)
        {
            return match len {
                Some(len) => buckets.pick_concat(len, |hasher| write_slots(context, slots, hasher)),
                // Past the string limit `cat` yields null.
                None => buckets.pick(Key::Value(&Val::Null), flag_key, targeting_key),
            };
        }
        self.with_key(args, buckets, frame, |key| {
            buckets.pick(key, flag_key, targeting_key)
        })
    }

    /// For a `cat` bucketing value of the buckets' prefix and root-level
    /// variables: the length of the text the variables add, within the
    /// string limit and charged as `cat` charges (`Some(None)`, and the
    /// evaluation has failed, past the limit); `None` when a variable
    /// holds an array or object, which only `cat` itself renders. Reading
    /// variables costs nothing and records no trace step, so this is the
    /// same as evaluating the `cat`.
    #[inline(always)]
    fn slots_len(&mut self, buckets: &ConstBuckets, slots: &[SlotId]) -> Option<Option<usize>> {
        let mut len: usize = 0;
        for slot in slots {
            if let Some(piece) = slot_piece(self.env.context, *slot)? {
                len = len.saturating_add(piece.len());
            }
        }
        let (prefix, _) = buckets.prefix();
        let total = prefix.len().saturating_add(len);
        let limit = self.budget.limits.max_string_bytes;
        if total > limit {
            self.budget
                .fail(EvalFailure::StringTooLong { op: "cat", limit });
            return Some(None);
        }
        Some(self.budget.charge_bytes(total).then_some(len))
    }

    /// Evaluates the bucketing value of a `fractional` call with constant
    /// buckets and hands it to `f`. (The pieces of a `cat` stay in this
    /// frame rather than being moved around, which costs more than reading
    /// them.)
    #[inline]
    fn with_key<R>(
        &mut self,
        args: &'a [Node],
        buckets: &'a ConstBuckets,
        frame: Option<&Frame<'_, 'a>>,
        f: impl FnOnce(Key<'_, 'a>) -> R,
    ) -> R {
        let first = match args.first() {
            Some(Node::Const(Value::Array(_))) | None => return f(Key::Shorthand),
            Some(first) => first,
        };
        let (prefix, prefix_args) = buckets.prefix();
        if let Node::Cat(parts) = first
            && parts.len().saturating_sub(prefix_args) <= CAT_PARTS
        {
            if T::ENABLED {
                self.tracer.enter(Segment::Op("fractional"));
                self.tracer.enter(Segment::Index(0));
            }
            let mut pieces = [Piece::Text(""); CAT_PARTS];
            let read = self.cat_pieces(parts, (prefix, prefix_args), frame, &mut pieces);
            if T::ENABLED {
                self.tracer.leave();
                self.tracer.leave();
            }
            return match read {
                Ok(count) => f(Key::Concat(pieces.get(..count).unwrap_or_default())),
                Err(value) => f(Key::Value(&value)),
            };
        }
        let value = self.child("fractional", 0, first, frame);
        f(Key::Value(&value))
    }

    /// `cat` for hashing: after `prefix`, the text of its first `.1`
    /// arguments (constants), the pieces of the others, written to
    /// `pieces`, while they are borrowed strings, numbers or booleans;
    /// within the same string limit and charged the same as the string
    /// `cat` would build. `Ok` with the number of pieces, or the built
    /// string (null, past the limit) once an argument is anything else.
    fn cat_pieces(
        &mut self,
        args: &'a [Node],
        prefix: (&str, usize),
        frame: Option<&Frame<'_, 'a>>,
        pieces: &mut [Piece<'a>; CAT_PARTS],
    ) -> Result<usize, Val<'a>> {
        let limit = self.budget.limits.max_string_bytes;
        let (prefix, skip) = prefix;
        let mut count = 0;
        let mut len = prefix.len();
        if len > limit {
            self.budget
                .fail(EvalFailure::StringTooLong { op: "cat", limit });
            return Err(Val::Null);
        }
        for (i, node) in args.iter().enumerate().skip(skip) {
            let read = match self.read_piece(node) {
                Some(piece) => Ok(piece),
                None => Piece::from_val(self.child("cat", i, node, frame)),
            };
            let piece = match read {
                // Null adds nothing.
                Ok(None) => continue,
                Ok(Some(piece)) => piece,
                Err(value) => {
                    return Err(self.cat_join(prefix, &pieces[..count], &value, args, i, frame));
                }
            };
            len = len.saturating_add(piece.len());
            if len > limit {
                self.budget
                    .fail(EvalFailure::StringTooLong { op: "cat", limit });
                return Err(Val::Null);
            }
            let Some(slot) = pieces.get_mut(count) else {
                // More pieces than room (callers keep this from happening).
                let value = piece.to_val();
                return Err(self.cat_join(prefix, &pieces[..count], &value, args, i, frame));
            };
            *slot = piece;
            count += 1;
        }
        if !self.budget.charge_bytes(len) {
            return Err(Val::Null);
        }
        Ok(count)
    }

    /// `cat` from the text and the pieces of its first arguments, the
    /// value of argument `i`, and its arguments after that: what
    /// [`Self::cat_pieces`] falls back to.
    fn cat_join(
        &mut self,
        prefix: &str,
        pieces: &[Piece<'_>],
        value: &Val<'_>,
        args: &'a [Node],
        i: usize,
        frame: Option<&Frame<'_, 'a>>,
    ) -> Val<'a> {
        let mut out = prefix.to_owned();
        for piece in pieces {
            piece.push_to(&mut out);
        }
        if !self.cat_push(&mut out, value) {
            return Val::Null;
        }
        self.cat_into(out, args, i + 1, frame)
    }

    /// The piece of a `cat` argument that needs no evaluation: a string
    /// or null constant, or a root-level variable without a default holding
    /// a scalar (the flag key and the user id a bucketing value is made
    /// of). `Some(None)` for null; `None` when the node must be evaluated.
    /// Neither records a trace step nor costs a step, so reading them
    /// directly is the same as evaluating them.
    fn read_piece(&self, node: &'a Node) -> Option<Option<Piece<'a>>> {
        let context: &'a Prepared<'a> = self.env.context;
        match node {
            Node::Const(Value::String(s)) => Some(Some(Piece::Text(s))),
            Node::Const(Value::Null) => Some(None),
            Node::Var {
                source: VarSource::Slot(id),
                default: None,
                ..
            } => slot_piece(context, *id),
            _ => None,
        }
    }

    /// `cat` of `args`.
    fn eval_cat(&mut self, args: &'a [Node], frame: Option<&Frame<'_, 'a>>) -> Val<'a> {
        self.cat_into(String::new(), args, 0, frame)
    }

    /// `cat` of `args` from `start` on, appended to `out`.
    fn cat_into(
        &mut self,
        mut out: String,
        args: &'a [Node],
        start: usize,
        frame: Option<&Frame<'_, 'a>>,
    ) -> Val<'a> {
        for (i, node) in args.iter().enumerate().skip(start) {
            let value = self.child("cat", i, node, frame);
            if !self.cat_push(&mut out, &value) {
                return Val::Null;
            }
        }
        if !self.budget.charge_bytes(out.len()) {
            return Val::Null;
        }
        Val::Str(Cow::Owned(out))
    }

    /// Appends one of `cat`'s arguments as `Array.prototype.join` does
    /// (null adds nothing); false (and the evaluation has failed) beyond
    /// the string limit.
    fn cat_push(&mut self, out: &mut String, value: &Val<'_>) -> bool {
        let limit = self.budget.limits.max_string_bytes;
        if matches!(value, Val::Null) || value.write_js_string_within(out, limit) {
            return true;
        }
        self.budget
            .fail(EvalFailure::StringTooLong { op: "cat", limit });
        false
    }

    fn all_args(
        &mut self,
        op: &'static str,
        args: &'a [Node],
        frame: Option<&Frame<'_, 'a>>,
    ) -> Vec<Val<'a>> {
        args.iter()
            .enumerate()
            .map(|(i, node)| self.child(op, i, node, frame))
            .collect()
    }

    fn eval(&mut self, node: &'a Node, frame: Option<&Frame<'_, 'a>>) -> Val<'a> {
        match node {
            Node::Const(value) => Val::from_json(value),
            Node::Array(items) => {
                let values = self.all_args("", items, frame);
                self.admit_nested("array", values)
            }
            Node::Var {
                source,
                default,
                scoped,
            } => {
                let found = self.var(source, *scoped, frame);
                match found {
                    Some(v) => v,
                    None => match default {
                        Some(d) => self.child("var", 1, d, frame),
                        None => Val::Null,
                    },
                }
            }
            Node::If(args) => self.eval_if(args, frame),
            Node::And(args) => self.eval_logic("and", args, frame, false),
            Node::Or(args) => self.eval_logic("or", args, frame, true),
            Node::AndBool(args) => {
                if T::ENABLED {
                    self.eval_logic("and", args, frame, false)
                } else {
                    Val::Bool(args.iter().all(|a| self.truthy(a, frame)))
                }
            }
            Node::OrBool(args) => {
                if T::ENABLED {
                    self.eval_logic("or", args, frame, true)
                } else {
                    Val::Bool(args.iter().any(|a| self.truthy(a, frame)))
                }
            }
            Node::Test(test) => {
                let result = if T::ENABLED {
                    self.test_traced(test)
                } else {
                    self.test(test)
                };
                result.map_or(Val::Null, Val::Bool)
            }
            Node::Not(arg) => Val::Bool(!self.child("!", 0, arg, frame).truthy()),
            Node::NotNot(arg) => Val::Bool(self.child("!!", 0, arg, frame).truthy()),
            Node::Cmp(op, args) => self.eval_cmp(*op, args, frame),
            Node::Arith(op, args) => self.eval_arith(*op, args, frame),
            Node::Iter { op, parts, cost } => self.eval_iter(*op, parts, *cost, frame),
            Node::Reduce { parts, cost } => self.eval_reduce(parts, *cost, frame),
            Node::Merge(args) => {
                let values = self.all_args("merge", args, frame);
                let len: usize = values.iter().map(|v| v.array_len().unwrap_or(1)).sum();
                if !self.admit_len("merge", len) {
                    return Val::Null;
                }
                let mut out = Vec::with_capacity(len);
                for value in values {
                    match value {
                        Val::Arr(items) => out.extend(items),
                        Val::Json(Value::Array(items)) => {
                            out.extend(items.iter().map(Val::from_json))
                        }
                        other => out.push(other),
                    }
                }
                Val::Arr(out)
            }
            Node::In(args) => {
                let needle = self.arg("in", args, 0, frame);
                let haystack = self.arg("in", args, 1, frame);
                Val::Bool(match &haystack {
                    Val::Str(s) => match &needle {
                        Val::Str(n) => s.contains(&**n),
                        other => match self.render("in", other) {
                            Some(n) => s.contains(n.as_str()),
                            None => return Val::Null,
                        },
                    },
                    other => match other.array_items() {
                        Some(mut items) => {
                            let len = other.array_len().unwrap_or(0);
                            if !self.budget.charge(len as u64) {
                                return Val::Null;
                            }
                            items.any(|item| strict_eq(&item, &needle))
                        }
                        None => false,
                    },
                })
            }
            Node::Cat(args) => self.eval_cat(args, frame),
            Node::Substr(args) => self.eval_substr(args, frame),
            Node::Log(arg) => self.child("log", 0, arg, frame),
            Node::Missing(args) => {
                let keys = self.all_args("missing", args, frame);
                let missing = self.missing(keys, frame);
                Val::Arr(missing)
            }
            Node::MissingSome(args) => {
                let need = self.arg("missing_some", args, 0, frame);
                if !self.admit_operand("missing_some", &need) {
                    return Val::Null;
                }
                let need = need.to_number();
                let keys = self.arg("missing_some", args, 1, frame);
                let keys: Vec<Val<'a>> = match into_items(keys) {
                    Some((len, items)) => {
                        if !self.admit_len("missing_some", len) {
                            return Val::Null;
                        }
                        items.collect()
                    }
                    None => Vec::new(),
                };
                let total = keys.len();
                let missing = self.missing(vec![Val::Arr(keys)], frame);
                #[allow(clippy::cast_precision_loss)]
                let found = (total - missing.len()) as f64;
                if found >= need {
                    Val::Arr(Vec::new())
                } else {
                    Val::Arr(missing)
                }
            }
            Node::Fractional {
                args,
                version,
                buckets,
                slots,
            } => self.eval_fractional(args, *version, buckets.as_deref(), slots.as_deref(), frame),
            Node::SemVerConst {
                left,
                op,
                right,
                simple,
            } => self
                .sem_ver_const(left, *op, right, simple.as_ref(), frame)
                .map_or(Val::Null, Val::Bool),
            Node::SemVer(args) => {
                let values = self.all_args("sem_ver", args, frame);
                semver::sem_ver(&values).map_or(Val::Null, Val::Bool)
            }
            Node::StartsWith(args) => {
                self.eval_affix("starts_with", args, frame, |s, p| s.starts_with(p))
            }
            Node::EndsWith(args) => {
                self.eval_affix("ends_with", args, frame, |s, p| s.ends_with(p))
            }
        }
    }

    /// The truthiness of a node, without building its value where the node
    /// is a comparison or a boolean combination of them.
    fn truthy(&mut self, node: &'a Node, frame: Option<&Frame<'_, 'a>>) -> bool {
        if T::ENABLED {
            // Traced evaluation records clause decisions: take the full path.
            return self.eval(node, frame).truthy();
        }
        match node {
            Node::Test(test) => self.test(test) == Some(true),
            Node::AndBool(args) | Node::And(args) if !args.is_empty() => {
                args.iter().all(|a| self.truthy(a, frame))
            }
            Node::OrBool(args) | Node::Or(args) => args.iter().any(|a| self.truthy(a, frame)),
            Node::Not(arg) => !self.truthy(arg, frame),
            Node::NotNot(arg) => self.truthy(arg, frame),
            Node::SemVerConst {
                left,
                op,
                right,
                simple,
            } => self.sem_ver_const(left, *op, right, simple.as_ref(), frame) == Some(true),
            _ => self.eval(node, frame).truthy(),
        }
    }

    /// `starts_with`/`ends_with` of a slot and a constant; `None` (flagd's
    /// null) when the slot is not a string.
    fn affix(&self, slot: crate::context::SlotId, affix: &str, ends: bool) -> Option<bool> {
        match self.env.context.slot(slot) {
            Some(Val::Str(s)) => {
                let (s, affix) = (s.as_bytes(), affix.as_bytes());
                Some(
                    s.len() >= affix.len()
                        && if ends {
                            short_eq(&s[s.len() - affix.len()..], affix)
                        } else {
                            short_eq(&s[..affix.len()], affix)
                        },
                )
            }
            _ => None,
        }
    }

    /// `sem_ver` with a constant operator and right-hand version; `None`
    /// (flagd's null) when the left side is not a version.
    fn sem_ver_const(
        &mut self,
        left: &'a Node,
        op: semver::SemVerOp,
        right: &::semver::Version,
        simple: Option<&[u64; 3]>,
        frame: Option<&Frame<'_, 'a>>,
    ) -> Option<bool> {
        if !T::ENABLED
            && let (
                Some(right),
                Node::Var {
                    source: VarSource::Slot(slot),
                    default: None,
                    scoped: false,
                },
            ) = (simple, left)
            && let Some(Val::Str(s)) = self.env.context.slot(*slot)
            && let Some(version) = semver::plain_version(s)
        {
            return Some(semver::compare_plain(version, op, *right));
        }
        let left = self.child("sem_ver", 0, left, frame);
        if let (Some(right), Val::Str(s)) = (simple, &left)
            && let Some(version) = semver::plain_version(s)
        {
            return Some(semver::compare_plain(version, op, *right));
        }
        semver::parse_version(&left).map(|version| semver::compare(&version, op, right))
    }

    /// A group test, recording which clause decided it (the traced path).
    fn test_traced(&mut self, test: &Test) -> Option<bool> {
        let Test::Group { all, tests } = test else {
            return self.test(test);
        };
        let op = if *all { "and" } else { "or" };
        let mut last = None;
        for (i, t) in tests.iter().enumerate() {
            last = self.test(t);
            if (last == Some(true)) != *all || i + 1 == tests.len() {
                self.tracer.enter(Segment::Op(op));
                self.tracer.record(StepKind::Clause {
                    op,
                    clause: i,
                    value: last.map_or(Value::Null, Value::Bool),
                });
                self.tracer.leave();
                return last;
            }
        }
        last
    }

    /// Evaluates a specialised test: `None` is null (flagd's answer for
    /// unusable operands of its custom operators).
    fn test(&self, test: &Test) -> Option<bool> {
        match test {
            Test::Group { all, tests } => self.group(*all, tests),
            leaf => self.leaf_test(leaf),
        }
    }

    /// A group test: JSONLogic's `and`/`or`, the first deciding value, or
    /// the last. Its clauses other than groups are evaluated in place, not
    /// by a call each, which would cost more than most of them.
    fn group(&self, all: bool, tests: &[Test]) -> Option<bool> {
        let mut last = None;
        for t in tests {
            last = match t {
                Test::Group { all, tests } => self.group(*all, tests),
                leaf => self.leaf_test(leaf),
            };
            if (last == Some(true)) != all {
                return last;
            }
        }
        last
    }

    /// A test other than a group.
    #[inline(always)]
    fn leaf_test(&self, test: &Test) -> Option<bool> {
        match test {
            Test::Affix { slot, affix, ends } => self.affix(*slot, affix, *ends),
            Test::SemVer {
                slot,
                op,
                right,
                simple,
            } => {
                let value = self.env.context.slot(*slot)?;
                if let (Some(right), Val::Str(s)) = (simple, value)
                    && let Some(version) = semver::plain_version(s)
                {
                    return Some(semver::compare_plain(version, *op, *right));
                }
                semver::parse_version(value).map(|version| semver::compare(&version, *op, right))
            }
            _ => Some(self.compare_test(test)),
        }
    }

    /// The always-boolean tests.
    #[inline(always)]
    fn compare_test(&self, test: &Test) -> bool {
        match test {
            Test::Cmp {
                slot,
                op,
                konst,
                flipped,
            } => {
                let value = self.env.context.slot(*slot);
                match (value, konst) {
                    (Some(Val::Str(a)), Value::String(b)) => match op {
                        CmpOp::Eq | CmpOp::StrictEq => short_eq(a.as_bytes(), b.as_bytes()),
                        CmpOp::Ne | CmpOp::StrictNe => !short_eq(a.as_bytes(), b.as_bytes()),
                        _ => {
                            let (a, b): (&str, &str) = (a, b);
                            let (a, b) = if *flipped { (b, a) } else { (a, b) };
                            holds(*op, Some(super::value::cmp_utf16(a, b)))
                        }
                    },
                    (Some(Val::Num(a)), Value::Number(b)) => {
                        let (a, b) = (*a, b.as_f64().unwrap_or(f64::NAN));
                        let (a, b) = if *flipped { (b, a) } else { (a, b) };
                        // Two numbers: strict and loose equality agree.
                        let op = match op {
                            CmpOp::StrictEq => CmpOp::Eq,
                            CmpOp::StrictNe => CmpOp::Ne,
                            other => *other,
                        };
                        holds(op, a.partial_cmp(&b))
                    }
                    (Some(Val::Bool(a)), Value::Bool(b))
                        if matches!(op, CmpOp::Eq | CmpOp::StrictEq) =>
                    {
                        a == b
                    }
                    _ => {
                        let a = value.map_or(Val::Null, Val::reborrow);
                        let b = Val::from_json(konst);
                        let (a, b) = if *flipped { (b, a) } else { (a, b) };
                        compare(*op, &a, &b)
                    }
                }
            }
            Test::InList {
                slot,
                list,
                strings,
            } => match self.env.context.slot(*slot) {
                Some(Val::Str(s)) => {
                    if strings.len() <= 16 {
                        // Short lists: compare lengths first, bytes only on a
                        // length match.
                        strings
                            .iter()
                            .any(|probe| short_eq(probe.as_bytes(), s.as_bytes()))
                    } else {
                        strings
                            .binary_search_by(|probe| (**probe).cmp(&**s))
                            .is_ok()
                    }
                }
                value => {
                    let needle = value.map_or(Val::Null, Val::reborrow);
                    list.iter()
                        .any(|item| strict_eq(&Val::from_json(item), &needle))
                }
            },
            Test::Contains { slot, needle } => match self.env.context.slot(*slot) {
                Some(Val::Str(s)) => match needle {
                    Value::String(n) => s.contains(n.as_str()),
                    other => s.contains(Val::from_json(other).to_js_string().as_str()),
                },
                Some(haystack) => {
                    let needle = Val::from_json(needle);
                    haystack
                        .array_items()
                        .is_some_and(|mut items| items.any(|item| strict_eq(&item, &needle)))
                }
                None => false,
            },
            // Handled by `test`.
            Test::Affix { .. } | Test::SemVer { .. } | Test::Group { .. } => false,
        }
    }

    fn var(
        &mut self,
        source: &'a VarSource,
        scoped: bool,
        frame: Option<&Frame<'_, 'a>>,
    ) -> Option<Val<'a>> {
        match source {
            VarSource::Slot(id) => self.env.context.slot(*id).map(Val::reborrow),
            VarSource::Timestamp => Some(Val::Num(self.timestamp())),
            VarSource::Scoped(path) => {
                let found = frame.and_then(|f| frame_lookup(f, path));
                self.admit_copy(found)
            }
            VarSource::ScopeRoot => match (scoped, frame) {
                (true, Some(Frame::Item(item))) => self.admit_copy(Some((*item).clone())),
                (true, _) => None,
                (false, _) => Some(Val::from_json(self.env.context.root)),
            },
            VarSource::Dynamic(path_node) => {
                let path = self.child("var", 0, path_node, frame);
                // Any computed path is read as JavaScript's String(path).
                let dotted = match &path {
                    Val::Str(s) => s.to_string(),
                    Val::Null => String::new(),
                    other => self.render("var", other)?,
                };
                // Splitting the path copies it.
                if !self.budget.charge_bytes(dotted.len()) {
                    return None;
                }
                let segments = split_path(&dotted);
                match (scoped, frame) {
                    (true, Some(f)) => {
                        let found = if segments.is_empty() {
                            match f {
                                Frame::Item(item) => Some((*item).clone()),
                                Frame::Reduce { .. } => None,
                            }
                        } else {
                            frame_lookup(f, &segments)
                        };
                        self.admit_copy(found)
                    }
                    (true, None) => None,
                    (false, _) => self.root_lookup(&dotted, &segments),
                }
            }
        }
    }

    fn root_lookup(&self, dotted: &str, segments: &[Seg]) -> Option<Val<'a>> {
        match dotted {
            "$flagd.flagKey" => return Some(Val::Str(Cow::Borrowed(self.env.flag_key))),
            "$flagd.timestamp" => return Some(Val::Num(self.timestamp())),
            _ => {}
        }
        let mut current = self.env.context.root;
        for seg in segments {
            current = step(current, seg)?;
        }
        Some(Val::from_json(current))
    }

    fn timestamp(&self) -> f64 {
        let seconds = self.env.context.timestamp.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        });
        #[allow(clippy::cast_precision_loss)]
        let seconds = seconds as f64;
        seconds
    }

    fn missing(&mut self, mut keys: Vec<Val<'a>>, frame: Option<&Frame<'_, 'a>>) -> Vec<Val<'a>> {
        // `{"missing": [["a", "b"]]}` (e.g. from `merge`) lists the keys in
        // its first argument.
        let list: Vec<Val<'a>> = if keys.first().is_some_and(Val::is_array) {
            match into_items(keys.swap_remove(0)) {
                Some((len, items)) => {
                    if !self.admit_len("missing", len) {
                        return Vec::new();
                    }
                    items.collect()
                }
                None => Vec::new(),
            }
        } else {
            keys
        };
        let mut out = Vec::new();
        for key in list {
            if self.budget.failed() {
                break;
            }
            // A null key reads the whole data (`{"var": null}`), which is
            // present.
            if matches!(key, Val::Null) {
                continue;
            }
            let dotted = match &key {
                Val::Str(s) => s.to_string(),
                other => match self.render("missing", other) {
                    Some(rendered) => rendered,
                    None => break,
                },
            };
            // Splitting the path copies it.
            if !self.budget.charge_bytes(dotted.len()) {
                break;
            }
            let segments = split_path(&dotted);
            let found = match frame {
                Some(f) => frame_lookup(f, &segments),
                None => self.root_lookup(&dotted, &segments),
            };
            let absent = match &found {
                None | Some(Val::Null) => true,
                Some(Val::Str(s)) => s.is_empty(),
                Some(_) => false,
            };
            if absent {
                out.push(key);
            }
        }
        out
    }

    fn eval_if(&mut self, args: &'a [Node], frame: Option<&Frame<'_, 'a>>) -> Val<'a> {
        let mut i = 0;
        while i + 1 < args.len() {
            let holds = if T::ENABLED {
                self.child("if", i, &args[i], frame).truthy()
            } else {
                self.truthy(&args[i], frame)
            };
            if holds {
                if T::ENABLED {
                    self.tracer.enter(Segment::Op("if"));
                    self.tracer.record(StepKind::If {
                        condition: i,
                        taken: Some(i + 1),
                    });
                    self.tracer.leave();
                }
                return self.child("if", i + 1, &args[i + 1], frame);
            }
            i += 2;
        }
        let last = (args.len() % 2 == 1).then(|| args.len() - 1);
        if T::ENABLED {
            self.tracer.enter(Segment::Op("if"));
            self.tracer.record(StepKind::If {
                condition: last.unwrap_or(args.len()),
                taken: last,
            });
            self.tracer.leave();
        }
        match last {
            Some(i) => self.child("if", i, &args[i], frame),
            None => Val::Null,
        }
    }

    fn eval_logic(
        &mut self,
        op: &'static str,
        args: &'a [Node],
        frame: Option<&Frame<'_, 'a>>,
        stop_on: bool,
    ) -> Val<'a> {
        let mut last = Val::Null;
        for (i, node) in args.iter().enumerate() {
            last = self.child(op, i, node, frame);
            if last.truthy() == stop_on || i + 1 == args.len() {
                if T::ENABLED && !self.tracer.recording() {
                    self.tracer.omit();
                } else if T::ENABLED {
                    self.tracer.enter(Segment::Op(op));
                    self.tracer.record(StepKind::Clause {
                        op,
                        clause: i,
                        value: last.to_trace_json(),
                    });
                    self.tracer.leave();
                }
                return last;
            }
        }
        last
    }

    fn eval_cmp(&mut self, op: CmpOp, args: &'a [Node], frame: Option<&Frame<'_, 'a>>) -> Val<'a> {
        let name = cmp_name(op);
        let a = self.arg(name, args, 0, frame);
        let b = self.arg(name, args, 1, frame);
        // Arrays compared with anything else are compared as strings.
        if !(self.admit_operand(name, &a) && self.admit_operand(name, &b)) {
            return Val::Null;
        }
        let result = if args.len() >= 3 && matches!(op, CmpOp::Lt | CmpOp::Le) {
            // The between form: a < b < c.
            let c = self.arg(name, args, 2, frame);
            if !self.admit_operand(name, &c) {
                return Val::Null;
            }
            compare(op, &a, &b) && compare(op, &b, &c)
        } else {
            compare(op, &a, &b)
        };
        Val::Bool(result)
    }

    /// `Number(argument)`, an array argument's string form admitted first.
    fn number(
        &mut self,
        op: &'static str,
        args: &'a [Node],
        index: usize,
        frame: Option<&Frame<'_, 'a>>,
    ) -> f64 {
        let value = self.arg(op, args, index, frame);
        if self.admit_operand(op, &value) {
            value.to_number()
        } else {
            f64::NAN
        }
    }

    /// Arithmetic as flagd's in-process evaluators do it: every operand
    /// converted with JavaScript's `Number()` (`null` is 0, `"2"` is 2,
    /// `"2abc"` is NaN), and a division or modulo by zero, or a result that
    /// is NaN, stops the evaluation ([`ArithmeticFault`]).
    fn eval_arith(
        &mut self,
        op: ArithOp,
        args: &'a [Node],
        frame: Option<&Frame<'_, 'a>>,
    ) -> Val<'a> {
        let name = arith_name(op);
        let result = match op {
            ArithOp::Add | ArithOp::Mul => {
                if op == ArithOp::Mul && args.is_empty() {
                    return Val::Null;
                }
                let mut acc = if op == ArithOp::Add { 0.0 } else { 1.0 };
                for index in 0..args.len() {
                    let x = self.number(name, args, index, frame);
                    acc = if op == ArithOp::Add { acc + x } else { acc * x };
                }
                acc
            }
            ArithOp::Sub => {
                let a = self.number(name, args, 0, frame);
                if args.len() == 1 {
                    -a
                } else {
                    a - self.number(name, args, 1, frame)
                }
            }
            ArithOp::Div | ArithOp::Mod => {
                let a = self.number(name, args, 0, frame);
                let b = self.number(name, args, 1, frame);
                if b == 0.0 {
                    return self.arithmetic_failed(name, ArithmeticFault::DivisionByZero);
                }
                if op == ArithOp::Div { a / b } else { a % b }
            }
            ArithOp::Max | ArithOp::Min => {
                if args.is_empty() {
                    return Val::Null;
                }
                let mut acc = if op == ArithOp::Max {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                };
                for index in 0..args.len() {
                    let x = self.number(name, args, index, frame);
                    if x.is_nan() {
                        acc = x;
                        break;
                    }
                    acc = if op == ArithOp::Max {
                        acc.max(x)
                    } else {
                        acc.min(x)
                    };
                }
                acc
            }
        };
        if result.is_nan() {
            return self.arithmetic_failed(name, ArithmeticFault::NotANumber);
        }
        Val::Num(result)
    }

    /// Ends the evaluation with an arithmetic failure of `op`.
    fn arithmetic_failed(&mut self, op: &'static str, fault: ArithmeticFault) -> Val<'a> {
        self.budget.fail(EvalFailure::Arithmetic { op, fault });
        Val::Null
    }

    /// The next element's body is about to run: pays for it.
    #[inline]
    fn iteration(&mut self, cost: u32) -> bool {
        self.budget.charge(u64::from(cost))
    }

    fn eval_iter(
        &mut self,
        op: IterOp,
        parts: &'a [Node; 2],
        cost: u32,
        frame: Option<&Frame<'_, 'a>>,
    ) -> Val<'a> {
        let name = iter_name(op);
        let array = self.child(name, 0, &parts[0], frame);
        let (len, items) = match into_items(array) {
            Some(found) => found,
            None => (0, Items::Built(Vec::new().into_iter())),
        };
        let body = &parts[1];
        match op {
            IterOp::Map => {
                if !self.admit_len(name, len) {
                    return Val::Null;
                }
                let mut out = Vec::with_capacity(len);
                for item in items {
                    if !self.iteration(cost) {
                        return Val::Null;
                    }
                    out.push(self.child(name, 1, body, Some(&Frame::Item(&item))));
                }
                self.admit_nested(name, out)
            }
            IterOp::Filter => {
                let mut kept = Vec::new();
                for item in items {
                    if !self.iteration(cost) {
                        return Val::Null;
                    }
                    if self
                        .child(name, 1, body, Some(&Frame::Item(&item)))
                        .truthy()
                    {
                        let limit = self.budget.limits.max_array_len;
                        if kept.len() == limit {
                            self.budget
                                .fail(EvalFailure::ArrayTooLong { op: name, limit });
                            return Val::Null;
                        }
                        if !self.budget.charge(1) {
                            return Val::Null;
                        }
                        kept.push(item);
                    }
                }
                Val::Arr(kept)
            }
            IterOp::All => {
                if len == 0 {
                    return Val::Bool(false);
                }
                for item in items {
                    if !self.iteration(cost) {
                        return Val::Null;
                    }
                    if !self
                        .child(name, 1, body, Some(&Frame::Item(&item)))
                        .truthy()
                    {
                        return Val::Bool(false);
                    }
                }
                Val::Bool(true)
            }
            IterOp::Some | IterOp::None => {
                for item in items {
                    if !self.iteration(cost) {
                        return Val::Null;
                    }
                    if self
                        .child(name, 1, body, Some(&Frame::Item(&item)))
                        .truthy()
                    {
                        return Val::Bool(op == IterOp::Some);
                    }
                }
                Val::Bool(op == IterOp::None)
            }
        }
    }

    fn eval_reduce(
        &mut self,
        parts: &'a [Node; 3],
        cost: u32,
        frame: Option<&Frame<'_, 'a>>,
    ) -> Val<'a> {
        let array = self.child("reduce", 0, &parts[0], frame);
        let mut accumulator = self.child("reduce", 2, &parts[2], frame);
        let Some((_, items)) = into_items(array) else {
            return accumulator;
        };
        for current in items {
            if !self.iteration(cost) {
                return Val::Null;
            }
            let scope = Frame::Reduce {
                current: &current,
                accumulator: &accumulator,
            };
            accumulator = self.child("reduce", 1, &parts[1], Some(&scope));
        }
        accumulator
    }

    fn eval_substr(&mut self, args: &'a [Node], frame: Option<&Frame<'_, 'a>>) -> Val<'a> {
        let source = self.arg("substr", args, 0, frame);
        let source = match &source {
            Val::Str(s) => Cow::Borrowed(&**s),
            other => match self.render("substr", other) {
                Some(rendered) => Cow::Owned(rendered),
                None => return Val::Null,
            },
        };
        // Finding characters scans the string.
        if !self.budget.charge_bytes(source.len()) {
            return Val::Null;
        }
        let chars = source.chars().count();
        let len = i64::try_from(chars).unwrap_or(i64::MAX);
        let start = to_index(self.arg("substr", args, 1, frame).to_number());
        let start = if start < 0 {
            (len + start).max(0)
        } else {
            start.min(len)
        };
        let end = if args.len() > 2 {
            let count = to_index(self.arg("substr", args, 2, frame).to_number());
            if count < 0 {
                (len + count).max(start)
            } else {
                (start + count).min(len)
            }
        } else {
            len
        };
        let (start, end) = (
            usize::try_from(start).unwrap_or(0),
            usize::try_from(end.max(start)).unwrap_or(0),
        );
        let offset = |n: usize| {
            source
                .char_indices()
                .nth(n)
                .map_or(source.len(), |(i, _)| i)
        };
        let (from, to) = (offset(start), offset(end));
        let limit = self.budget.limits.max_string_bytes;
        if to - from > limit {
            self.budget.fail(EvalFailure::StringTooLong {
                op: "substr",
                limit,
            });
            return Val::Null;
        }
        Val::Str(Cow::Owned(source[from..to].to_owned()))
    }

    fn eval_affix(
        &mut self,
        op: &'static str,
        args: &'a [Node],
        frame: Option<&Frame<'_, 'a>>,
        test: impl Fn(&str, &str) -> bool,
    ) -> Val<'a> {
        if args.len() != 2 {
            return Val::Null;
        }
        let subject = self.arg(op, args, 0, frame);
        let affix = self.arg(op, args, 1, frame);
        match (subject.as_str(), affix.as_str()) {
            (Some(s), Some(p)) => Val::Bool(test(s, p)),
            _ => Val::Null,
        }
    }
}

/// Byte equality without a call into `memcmp`: the strings flags compare
/// (country codes, plans, emails) are short, where the call costs more than
/// the comparison.
#[inline]
pub(crate) fn short_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Applies a two-operand comparison with JavaScript's semantics.
fn compare(op: CmpOp, a: &Val<'_>, b: &Val<'_>) -> bool {
    match op {
        CmpOp::Eq => loose_eq(a, b),
        CmpOp::Ne => !loose_eq(a, b),
        CmpOp::StrictEq => strict_eq(a, b),
        CmpOp::StrictNe => !strict_eq(a, b),
        _ => holds(op, js_compare(a, b)),
    }
}

/// Whether an ordering satisfies an ordering operator (`None`, from a NaN,
/// satisfies none).
fn holds(op: CmpOp, order: Option<Ordering>) -> bool {
    match op {
        CmpOp::Lt => order == Some(Ordering::Less),
        CmpOp::Le => matches!(order, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => order == Some(Ordering::Greater),
        CmpOp::Ge => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::Eq => order == Some(Ordering::Equal),
        CmpOp::Ne => order != Some(Ordering::Equal),
        CmpOp::StrictEq | CmpOp::StrictNe => false,
    }
}

/// Looks a path up in the data of a per-element scope.
fn frame_lookup<'a>(frame: &Frame<'_, 'a>, path: &[Seg]) -> Option<Val<'a>> {
    match frame {
        Frame::Item(item) => walk(item, path),
        Frame::Reduce {
            current,
            accumulator,
        } => {
            let (first, rest) = path.split_first()?;
            match &*first.key {
                "current" => walk(current, rest),
                "accumulator" => walk(accumulator, rest),
                _ => None,
            }
        }
    }
}

/// Follows a path into a value.
fn walk<'a>(value: &Val<'a>, path: &[Seg]) -> Option<Val<'a>> {
    let Some((first, rest)) = path.split_first() else {
        return Some(value.clone());
    };
    match value {
        Val::Json(json) => {
            let mut current: &'a Value = json;
            current = step(current, first)?;
            for seg in rest {
                current = step(current, seg)?;
            }
            Some(Val::from_json(current))
        }
        Val::Arr(items) => {
            let item = items.get(first.index?)?;
            walk(item, rest)
        }
        _ => None,
    }
}

fn to_index(n: f64) -> i64 {
    if n.is_nan() {
        0
    } else {
        #[allow(clippy::cast_possible_truncation)]
        let i = n.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64;
        i
    }
}

fn cmp_name(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::StrictEq => "===",
        CmpOp::StrictNe => "!==",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

fn arith_name(op: ArithOp) -> &'static str {
    match op {
        ArithOp::Add => "+",
        ArithOp::Sub => "-",
        ArithOp::Mul => "*",
        ArithOp::Div => "/",
        ArithOp::Mod => "%",
        ArithOp::Max => "max",
        ArithOp::Min => "min",
    }
}

fn iter_name(op: IterOp) -> &'static str {
    match op {
        IterOp::Map => "map",
        IterOp::Filter => "filter",
        IterOp::All => "all",
        IterOp::None => "none",
        IterOp::Some => "some",
    }
}
