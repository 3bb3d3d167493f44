//! JSONLogic, compiled once into a tree of typed nodes and evaluated many times.
//!
//! [`compile`] turns a rule's JSON (expanding its `$ref`s in flagd's one
//! pass, [`crate::evaluators`]) into a [`Rule`]: operators are resolved to enum variants, variable paths read from
//! the request context are interned into slots of a [`PathTable`], constant
//! arguments (the `sem_ver` version, the flag key) are parsed or folded, and
//! every structural problem is reported with the JSON pointer of its node. The
//! evaluator in [`eval`] then walks the tree without parsing or allocating
//! anything it does not hand back, within the budget of [`budget`].

pub mod budget;
pub mod compile;
pub mod eval;
pub mod explain;
pub mod value;

pub use budget::{ArithmeticFault, EvalFailure, EvalLimits};
pub use compile::{CompileError, CompileLimits, compile};
pub use eval::{Env, evaluate};
pub use explain::{NoTrace, Step, StepKind, Trace, Tracer};
pub use value::Val;

use serde_json::Value;

use crate::context::SlotId;
use crate::ops::fractional::{ConstBuckets, FractionalVersion};
use crate::ops::semver::SemVerOp;

/// A compiled JSONLogic rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) root: Node,
    /// Whether the rule reads the context in a way that is only known at
    /// evaluation time (computed `var` paths, the whole data object).
    pub(crate) dynamic_access: bool,
    /// Root-level variable slots this rule reads, sorted and deduplicated.
    pub(crate) slots: Vec<SlotId>,
    /// The budget of one evaluation.
    pub(crate) limits: EvalLimits,
}

impl Rule {
    /// Root-level variable slots this rule reads.
    pub fn slots(&self) -> &[SlotId] {
        &self.slots
    }

    /// Whether the rule needs the whole context rather than only its slots.
    pub fn dynamic_access(&self) -> bool {
        self.dynamic_access
    }

    /// The budget of one evaluation of this rule.
    pub fn limits(&self) -> &EvalLimits {
        &self.limits
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    StrictEq,
    StrictNe,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Max,
    Min,
}

/// Array operators whose second argument is evaluated per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IterOp {
    Map,
    Filter,
    All,
    None,
    Some,
}

/// One segment of a dotted variable path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seg {
    pub(crate) key: Box<str>,
    /// The segment read as an array index, when it is one.
    pub(crate) index: Option<usize>,
}

impl Seg {
    pub(crate) fn new(key: &str) -> Self {
        // Only canonical decimal numbers index arrays, as in JavaScript:
        // "01" and "+1" are property names no array has.
        let canonical = !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_digit())
            && (key == "0" || !key.starts_with('0'));
        Seg {
            key: key.into(),
            index: if canonical { key.parse().ok() } else { None },
        }
    }
}

/// What a `var` reads.
#[derive(Debug, Clone)]
pub(crate) enum VarSource {
    /// A root-level path interned at compile time.
    Slot(SlotId),
    /// `$flagd.timestamp`, supplied per evaluation.
    Timestamp,
    /// A path relative to the current element of `map`, `filter`, `all`,
    /// `none`, `some` or `reduce` (whose data is `{current, accumulator}`).
    Scoped(Box<[Seg]>),
    /// The whole data object of the current scope.
    ScopeRoot,
    /// A path computed at evaluation time.
    Dynamic(Box<Node>),
}

/// A comparison of one context value with constants, specialised at compile
/// time so that evaluating it is a slot read and a typed compare.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    /// `{"OP": [var, const]}`, or `[const, var]` when `flipped`.
    Cmp {
        slot: SlotId,
        op: CmpOp,
        konst: Value,
        flipped: bool,
    },
    /// `{"in": [var, [const, ...]]}`: strict membership.
    InList {
        slot: SlotId,
        list: Box<[Value]>,
        /// The list's strings, sorted, for a binary search.
        strings: Box<[Box<str>]>,
    },
    /// `{"in": [const, var]}`: substring of a string, or member of an array.
    Contains { slot: SlotId, needle: Value },
    /// `starts_with`/`ends_with` of a context value and a constant; null
    /// (as flagd) when the value is not a string.
    Affix {
        slot: SlotId,
        affix: Box<str>,
        ends: bool,
    },
    /// `sem_ver` of a context value against a constant version; null when
    /// the value is not a version.
    SemVer {
        slot: SlotId,
        op: SemVerOp,
        right: Box<::semver::Version>,
        /// The right version as a plain triple, when it has no pre-release.
        simple: Option<[u64; 3]>,
    },
    /// `and` (`all`) or `or` of tests, with JSONLogic's value semantics:
    /// the first deciding test's value, or the last one's.
    Group { all: bool, tests: Box<[Test]> },
}

impl Test {
    /// Whether the test always yields a boolean (never null).
    pub(crate) fn is_boolean(&self) -> bool {
        match self {
            Test::Cmp { .. } | Test::InList { .. } | Test::Contains { .. } => true,
            Test::Affix { .. } | Test::SemVer { .. } => false,
            Test::Group { tests, .. } => tests.iter().all(Test::is_boolean),
        }
    }
}

/// A compiled JSONLogic node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A literal value (scalar, or an array/object without operators).
    Const(Value),
    /// An array literal with at least one operator inside.
    Array(Box<[Node]>),
    Var {
        source: VarSource,
        default: Option<Box<Node>>,
        /// Set when the var is at the root scope; `Dynamic` and `ScopeRoot`
        /// need to know whether they read the root context or an element.
        scoped: bool,
    },
    Missing(Box<[Node]>),
    MissingSome(Box<[Node]>),
    If(Box<[Node]>),
    And(Box<[Node]>),
    Or(Box<[Node]>),
    /// An `and` whose clauses all yield booleans: its value is a boolean.
    AndBool(Box<[Node]>),
    /// An `or` whose clauses all yield booleans.
    OrBool(Box<[Node]>),
    /// A specialised test of context values against constants.
    Test(Box<Test>),
    Not(Box<Node>),
    NotNot(Box<Node>),
    Cmp(CmpOp, Box<[Node]>),
    Arith(ArithOp, Box<[Node]>),
    /// An array operator over `[array, body]`; `cost` is the steps one
    /// iteration is charged (the body's node count).
    Iter {
        op: IterOp,
        parts: Box<[Node; 2]>,
        cost: u32,
    },
    /// `reduce` over `[array, body, initial]`, charged as `Iter`.
    Reduce {
        parts: Box<[Node; 3]>,
        cost: u32,
    },
    Merge(Box<[Node]>),
    In(Box<[Node]>),
    Cat(Box<[Node]>),
    Substr(Box<[Node]>),
    Log(Box<Node>),
    Fractional {
        args: Box<[Node]>,
        /// The flag set's bucketing scheme, fixed at compile time.
        version: FractionalVersion,
        /// The buckets, validated, when every one is a constant (all
        /// arguments after the first, or all of them when the first is a
        /// constant array: the shorthand).
        buckets: Option<Box<ConstBuckets>>,
        /// When there are constant buckets and the bucketing value is a
        /// `cat` of constant strings (the buckets' prefix) then root-level
        /// variables without defaults: the variables' slots, read straight
        /// from the context.
        slots: Option<Box<[SlotId]>>,
    },
    /// `sem_ver` with its operator and right-hand version known at compile time.
    SemVerConst {
        left: Box<Node>,
        op: SemVerOp,
        right: Box<::semver::Version>,
        /// The right version as a plain triple when it has no pre-release,
        /// for comparing plain versions without parsing them fully.
        simple: Option<[u64; 3]>,
    },
    /// `sem_ver` with computed arguments.
    SemVer(Box<[Node]>),
    StartsWith(Box<[Node]>),
    EndsWith(Box<[Node]>),
}

impl Node {
    /// The nodes directly under this one (for compile-time walks).
    pub(crate) fn children(&self) -> Vec<&Node> {
        match self {
            Node::Const(_) | Node::Test(_) => Vec::new(),
            Node::Var {
                source, default, ..
            } => {
                let mut out = Vec::new();
                if let VarSource::Dynamic(path) = source {
                    out.push(&**path);
                }
                if let Some(default) = default {
                    out.push(&**default);
                }
                out
            }
            Node::Array(args)
            | Node::Missing(args)
            | Node::MissingSome(args)
            | Node::If(args)
            | Node::And(args)
            | Node::Or(args)
            | Node::AndBool(args)
            | Node::OrBool(args)
            | Node::Cmp(_, args)
            | Node::Arith(_, args)
            | Node::Merge(args)
            | Node::In(args)
            | Node::Cat(args)
            | Node::Substr(args)
            | Node::Fractional { args, .. }
            | Node::SemVer(args)
            | Node::StartsWith(args)
            | Node::EndsWith(args) => args.iter().collect(),
            Node::Not(arg) | Node::NotNot(arg) | Node::Log(arg) => vec![&**arg],
            Node::SemVerConst { left, .. } => vec![&**left],
            Node::Iter { parts, .. } => parts.iter().collect(),
            Node::Reduce { parts, .. } => parts.iter().collect(),
        }
    }

    /// The number of nodes in this subtree, saturating: the steps one
    /// evaluation of it is charged inside a loop.
    pub(crate) fn size(&self) -> u32 {
        self.children()
            .into_iter()
            .fold(1u32, |acc, node| acc.saturating_add(node.size()))
    }
}
