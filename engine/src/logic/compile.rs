//! The JSONLogic compiler: rule JSON in, a [`Rule`] or located errors out.

use std::fmt;

use serde_json::Value;

use super::budget::EvalLimits;
use super::{ArithOp, CmpOp, IterOp, Node, Rule, VarSource};
use crate::context::{PathTable, SlotId, split_path};
use crate::evaluators::{Evaluators, RefTarget};
use crate::ops::fractional::{ConstBuckets, FractionalVersion, MAX_WEIGHT};
use crate::ops::semver::{self, SemVerOp};
use crate::pointer::Pointer;

/// Bounds on what a rule may be, checked at compile time so that evaluation
/// never recurses without bound and never works on absurd rules, and the
/// budget of each evaluation ([`EvalLimits`]), which the compiler also holds
/// the rule's constant parts to: a string or array literal beyond it, or a
/// constant expression (one that reads no context) whose evaluation exceeds
/// it, is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileLimits {
    /// Maximum nesting depth of operators and literals.
    pub max_depth: usize,
    /// Maximum number of nodes in one rule, after `$ref` expansion.
    pub max_nodes: usize,
    /// The budget of one evaluation of the rule.
    pub eval: EvalLimits,
}

impl Default for CompileLimits {
    fn default() -> Self {
        CompileLimits {
            max_depth: 64,
            max_nodes: 20_000,
            eval: EvalLimits::DEFAULT,
        }
    }
}

/// How many evaluation budgets the compiler may spend, in all, evaluating a
/// rule's constant expressions; beyond it, constant expressions are left to
/// the evaluation budget.
const CONSTANT_CHECK_BUDGETS: u64 = 4;

/// A problem found while compiling a rule, located by JSON pointer relative to
/// the rule's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// JSON pointer of the offending node, relative to the rule.
    pub pointer: String,
    /// What is wrong, as a lowercase sentence fragment.
    pub message: String,
    /// False for a rule flagd evaluates anyway but its schema forbids (a
    /// warning); true for a rule that cannot be compiled.
    pub fatal: bool,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pointer, self.message)
    }
}

/// Everything the compiler needs besides the rule itself.
#[derive(Debug)]
pub struct CompileInput<'a> {
    /// Key of the flag the rule belongs to (`$flagd.flagKey` is folded to it).
    pub flag_key: &'a str,
    /// Shared rules that `{"$ref": name}` expands to, in declaration
    /// order: a reference inside one resolves only to an evaluator declared
    /// after it (see [`crate::evaluators`]).
    pub evaluators: &'a Evaluators,
    /// The flag set's bucketing scheme for `fractional`.
    pub fractional: FractionalVersion,
    /// Size bounds.
    pub limits: CompileLimits,
}

/// What compiling produced besides the rule.
#[derive(Debug, Default)]
pub struct CompileReport {
    /// Non-fatal findings (schema violations flagd tolerates).
    pub warnings: Vec<CompileError>,
    /// `$ref` expansions, as (evaluator name, pointer of the `$ref`).
    pub refs: Vec<(String, String)>,
}

/// Compiles a rule, interning its root-level variable paths into `paths`.
pub fn compile(
    rule: &Value,
    input: &CompileInput<'_>,
    paths: &mut PathTable,
) -> Result<(Rule, CompileReport), Vec<CompileError>> {
    compile_within(rule, input, None, paths)
}

/// Compiles the evaluator at `index` of `input.evaluators` as it reads
/// once pasted into a flag: its references resolve only to evaluators
/// declared after it. Pointers are relative to the evaluator's rule. An
/// index out of range compiles `null`.
pub fn compile_evaluator(
    index: usize,
    input: &CompileInput<'_>,
    paths: &mut PathTable,
) -> Result<(Rule, CompileReport), Vec<CompileError>> {
    static NULL: Value = Value::Null;
    let rule = input
        .evaluators
        .get_index(index)
        .map_or(&NULL, |(_, rule)| rule);
    compile_within(rule, input, Some(index), paths)
}

/// Compiles `rule` written inside the evaluator at `within`, or in a flag.
fn compile_within(
    rule: &Value,
    input: &CompileInput<'_>,
    within: Option<usize>,
    paths: &mut PathTable,
) -> Result<(Rule, CompileReport), Vec<CompileError>> {
    let mut c = Compiler {
        input,
        paths,
        errors: Vec::new(),
        report: CompileReport::default(),
        pointer: Pointer::default(),
        depth: 0,
        nodes: 0,
        scope: 0,
        within,
        dynamic_access: false,
        slots: Vec::new(),
        check_steps_left: input
            .limits
            .eval
            .max_steps
            .saturating_mul(CONSTANT_CHECK_BUDGETS),
        fatal_errors: 0,
    };
    let root = c.node(rule);
    if c.errors.iter().any(|e| e.fatal) {
        let mut errors = c.errors;
        errors.retain(|e| e.fatal);
        return Err(errors);
    }
    let mut slots = c.slots;
    slots.sort_unstable();
    slots.dedup();
    let mut report = c.report;
    report.warnings.extend(c.errors);
    Ok((
        Rule {
            root,
            dynamic_access: c.dynamic_access,
            slots,
            limits: input.limits.eval,
        },
        report,
    ))
}

struct Compiler<'i, 'p> {
    input: &'i CompileInput<'i>,
    paths: &'p mut PathTable,
    errors: Vec<CompileError>,
    report: CompileReport,
    pointer: Pointer,
    depth: usize,
    nodes: usize,
    /// Nesting of per-element scopes (`map`, `filter`, `reduce`, ...).
    scope: usize,
    /// The evaluator whose rule is being compiled (`None` in the flag's
    /// own rule). Each expansion moves to a later evaluator, so expansions
    /// never cycle.
    within: Option<usize>,
    dynamic_access: bool,
    slots: Vec<crate::context::SlotId>,
    /// Steps left for evaluating constant expressions.
    check_steps_left: u64,
    /// Fatal errors found so far.
    fatal_errors: usize,
}

impl Compiler<'_, '_> {
    fn fatal(&mut self, message: impl Into<String>) -> Node {
        self.fatal_errors += 1;
        self.errors.push(CompileError {
            pointer: self.pointer.to_string(),
            message: message.into(),
            fatal: true,
        });
        Node::Const(Value::Null)
    }

    fn warn(&mut self, message: impl Into<String>) {
        self.errors.push(CompileError {
            pointer: self.pointer.to_string(),
            message: message.into(),
            fatal: false,
        });
    }

    fn node(&mut self, value: &Value) -> Node {
        self.nodes += 1;
        if self.nodes > self.input.limits.max_nodes {
            if self.nodes == self.input.limits.max_nodes + 1 {
                return self.fatal(format!(
                    "rule has more than {} nodes",
                    self.input.limits.max_nodes
                ));
            }
            return Node::Const(Value::Null);
        }
        if self.depth >= self.input.limits.max_depth {
            return self.fatal(format!(
                "rule is nested deeper than {} levels",
                self.input.limits.max_depth
            ));
        }
        self.depth += 1;
        let fatal_before = self.fatal_errors;
        let node = match value {
            Value::Object(map) if map.len() == 1 => {
                let Some((op, args)) = map.iter().next() else {
                    return Node::Const(Value::Null);
                };
                self.pointer.push(op);
                let node = self.operator(op, args);
                self.pointer.pop();
                node
            }
            Value::Array(items) => self.array(items),
            // Scalars, and objects that are not operations, are literals.
            _ => match oversized_literal(value, &self.input.limits.eval) {
                Some(problem) => self.fatal(problem),
                None => Node::Const(value.clone()),
            },
        };
        self.depth -= 1;
        // An expression refused already (or holding one) is not evaluated:
        // it would only report the same failure again.
        if (builds(&node) || matches!(node, Node::Arith(..)))
            && self.fatal_errors == fatal_before
            && needs(&node) == Needs::Nothing
        {
            self.check_constant(&node);
        }
        node
    }

    /// Evaluates an expression that reads no context, as every evaluation
    /// of the rule would, and refuses the rule if that exceeds the budget or
    /// fails its arithmetic (a division by zero, a NaN), as flagd's
    /// JavaScript evaluator refuses such a rule when it builds it.
    fn check_constant(&mut self, node: &Node) {
        let limits = self.input.limits.eval;
        let allowed = limits.max_steps.min(self.check_steps_left);
        let trial = EvalLimits {
            max_steps: allowed,
            ..limits
        };
        static NO_CONTEXT: Value = Value::Null;
        let context = PathTable::default().prepare(&NO_CONTEXT);
        let env = super::Env {
            context: &context,
            flag_key: self.input.flag_key,
        };
        let (spent, failure) = super::eval::evaluate_node(node, env, &trial);
        self.check_steps_left -= spent.min(self.check_steps_left);
        match failure {
            // Cut short by the compiler's own allowance, not by the rule's
            // budget: the evaluation budget decides at run time.
            Some(super::EvalFailure::TooMuchWork { .. }) if allowed < limits.max_steps => {}
            Some(failure @ super::EvalFailure::Arithmetic { .. }) => {
                self.fatal(format!(
                    "this expression reads no context and always fails: {failure}"
                ));
            }
            Some(failure) => {
                self.fatal(format!(
                    "this expression reads no context and exceeds the evaluation budget: {failure}"
                ));
            }
            None => {}
        }
    }

    fn array(&mut self, items: &[Value]) -> Node {
        let limit = self.input.limits.eval.max_array_len;
        if items.len() > limit {
            return self.fatal(format!(
                "array literal has {} elements, more than the evaluation limit of {limit}",
                items.len()
            ));
        }
        let nodes = self.list(items);
        if nodes.iter().all(|n| matches!(n, Node::Const(_))) {
            Node::Const(Value::Array(
                nodes
                    .into_vec()
                    .into_iter()
                    .map(|n| match n {
                        Node::Const(v) => v,
                        _ => Value::Null,
                    })
                    .collect(),
            ))
        } else {
            Node::Array(nodes)
        }
    }

    fn list(&mut self, items: &[Value]) -> Box<[Node]> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                self.pointer.push_index(i);
                let node = self.node(item);
                self.pointer.pop();
                node
            })
            .collect()
    }

    /// Compiles an operator's arguments; a single non-array argument is
    /// shorthand for a one-element list.
    fn args(&mut self, args: &Value) -> Box<[Node]> {
        match args {
            Value::Array(items) => self.list(items),
            other => Box::new([self.node(other)]),
        }
    }

    fn scoped_args(&mut self, args: &Value, scoped_from: usize) -> Box<[Node]> {
        let items: Vec<&Value> = match args {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                if matches!(args, Value::Array(_)) {
                    self.pointer.push_index(i);
                }
                let scoped = i >= scoped_from;
                if scoped {
                    self.scope += 1;
                }
                let node = self.node(item);
                if scoped {
                    self.scope -= 1;
                }
                if matches!(args, Value::Array(_)) {
                    self.pointer.pop();
                }
                node
            })
            .collect()
    }

    fn operator(&mut self, op: &str, args: &Value) -> Node {
        let cmp = |op| Some(op);
        let cmp_op = match op {
            "==" => cmp(CmpOp::Eq),
            "!=" => cmp(CmpOp::Ne),
            "===" => cmp(CmpOp::StrictEq),
            "!==" => cmp(CmpOp::StrictNe),
            "<" => cmp(CmpOp::Lt),
            "<=" => cmp(CmpOp::Le),
            ">" => cmp(CmpOp::Gt),
            ">=" => cmp(CmpOp::Ge),
            _ => None,
        };
        if let Some(cmp_op) = cmp_op {
            return specialize_cmp(cmp_op, self.args(args));
        }
        let arith_op = match op {
            "+" => Some(ArithOp::Add),
            "-" => Some(ArithOp::Sub),
            "*" => Some(ArithOp::Mul),
            "/" => Some(ArithOp::Div),
            "%" => Some(ArithOp::Mod),
            "max" => Some(ArithOp::Max),
            "min" => Some(ArithOp::Min),
            _ => None,
        };
        if let Some(arith_op) = arith_op {
            let nodes = self.args(args);
            if matches!(arith_op, ArithOp::Div | ArithOp::Mod)
                && let Some(Node::Const(divisor)) = nodes.get(1)
                && super::Val::from_json(divisor).to_number() == 0.0
            {
                // Whatever the dividend, every evaluation would fail.
                self.pointer.push_index(1);
                self.fatal(format!(
                    "the divisor is a constant zero, so this expression always fails: {}",
                    super::EvalFailure::Arithmetic {
                        op: if arith_op == ArithOp::Div { "/" } else { "%" },
                        fault: super::ArithmeticFault::DivisionByZero,
                    }
                ));
                self.pointer.pop();
            }
            return Node::Arith(arith_op, nodes);
        }
        let iter_op = match op {
            "map" => Some(IterOp::Map),
            "filter" => Some(IterOp::Filter),
            "all" => Some(IterOp::All),
            "none" => Some(IterOp::None),
            "some" => Some(IterOp::Some),
            _ => None,
        };
        if let Some(iter_op) = iter_op {
            let mut args = self.scoped_args(args, 1).into_vec().into_iter();
            let array = args.next().unwrap_or(Node::Const(Value::Null));
            let body = args.next().unwrap_or(Node::Const(Value::Null));
            let cost = body.size();
            return Node::Iter {
                op: iter_op,
                parts: Box::new([array, body]),
                cost,
            };
        }
        match op {
            "var" => self.var(args),
            "$ref" => self.reference(args),
            "missing" => {
                self.note_dynamic();
                Node::Missing(self.args(args))
            }
            "missing_some" => {
                self.note_dynamic();
                Node::MissingSome(self.args(args))
            }
            "if" | "?:" => Node::If(self.args(args)),
            "and" => {
                let args = self.args(args);
                if let Some(group) = test_group(true, &args) {
                    return group;
                }
                if !args.is_empty() && args.iter().all(is_boolean) {
                    Node::AndBool(args)
                } else {
                    Node::And(args)
                }
            }
            "or" => {
                let args = self.args(args);
                if let Some(group) = test_group(false, &args) {
                    return group;
                }
                if !args.is_empty() && args.iter().all(is_boolean) {
                    Node::OrBool(args)
                } else {
                    Node::Or(args)
                }
            }
            "!" => Node::Not(Box::new(self.unary(args))),
            "!!" => Node::NotNot(Box::new(self.unary(args))),
            "reduce" => {
                let mut items = self.scoped_args(args, 1).into_vec();
                // The initial accumulator is evaluated in the outer scope.
                if items.len() > 2 {
                    let initial = match args {
                        Value::Array(a) => a.get(2).cloned().unwrap_or(Value::Null),
                        _ => Value::Null,
                    };
                    self.pointer.push_index(2);
                    items[2] = self.node(&initial);
                    self.pointer.pop();
                }
                let mut it = items.into_iter();
                let array = it.next().unwrap_or(Node::Const(Value::Null));
                let body = it.next().unwrap_or(Node::Const(Value::Null));
                // Without an initial value the accumulator starts from 0, so
                // that a sum, the usual body, counts as in flagd's evaluators.
                let initial = it.next().unwrap_or(Node::Const(Value::from(0)));
                let cost = body.size();
                Node::Reduce {
                    parts: Box::new([array, body, initial]),
                    cost,
                }
            }
            "merge" => Node::Merge(self.args(args)),
            "in" => specialize_in(self.args(args)),
            "cat" => Node::Cat(self.args(args)),
            "substr" => Node::Substr(self.args(args)),
            "log" => Node::Log(Box::new(self.unary(args))),
            "fractional" => self.fractional(args),
            "sem_ver" => self.sem_ver(args),
            "starts_with" | "ends_with" => {
                let nodes = self.args(args);
                self.check_string_op(op, args);
                let ends = op == "ends_with";
                if let [subject, Node::Const(Value::String(affix))] = &*nodes
                    && let Some(slot) = root_slot(subject)
                {
                    return Node::Test(Box::new(super::Test::Affix {
                        slot,
                        affix: affix.as_str().into(),
                        ends,
                    }));
                }
                if ends {
                    Node::EndsWith(nodes)
                } else {
                    Node::StartsWith(nodes)
                }
            }
            _ => self.fatal(format!("unknown operator {op:?}")),
        }
    }

    fn unary(&mut self, args: &Value) -> Node {
        match args {
            Value::Array(items) => {
                self.pointer.push_index(0);
                let node = items
                    .first()
                    .map_or(Node::Const(Value::Null), |first| self.node(first));
                self.pointer.pop();
                node
            }
            other => self.node(other),
        }
    }

    fn note_dynamic(&mut self) {
        if self.scope == 0 {
            self.dynamic_access = true;
        }
    }

    fn var(&mut self, args: &Value) -> Node {
        let (path, default) = match args {
            Value::Array(items) => (items.first().unwrap_or(&Value::Null), items.get(1)),
            other => (other, None),
        };
        let default = default.map(|d| {
            self.pointer.push_index(1);
            let node = Box::new(self.node(d));
            self.pointer.pop();
            node
        });
        let scoped = self.scope > 0;
        let static_path = match path {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => {
                Some(super::Val::Num(n.as_f64().unwrap_or(f64::NAN)).to_js_string())
            }
            Value::Null => Some(String::new()),
            _ => None,
        };
        let Some(dotted) = static_path else {
            self.note_dynamic();
            if matches!(args, Value::Array(_)) {
                self.pointer.push_index(0);
            }
            let node = self.node(path);
            if matches!(args, Value::Array(_)) {
                self.pointer.pop();
            }
            return Node::Var {
                source: VarSource::Dynamic(Box::new(node)),
                default,
                scoped,
            };
        };
        let source = if scoped {
            if dotted.is_empty() {
                VarSource::ScopeRoot
            } else {
                VarSource::Scoped(split_path(&dotted))
            }
        } else if dotted.is_empty() {
            self.dynamic_access = true;
            VarSource::ScopeRoot
        } else if let Some(prop) = dotted.strip_prefix("$flagd.") {
            match prop {
                "flagKey" => return Node::Const(Value::String(self.input.flag_key.to_owned())),
                "timestamp" => VarSource::Timestamp,
                other => {
                    self.warn(format!(
                        "unknown flagd property \"$flagd.{other}\" (known: flagKey, timestamp)"
                    ));
                    let slot = self.paths.intern(&dotted);
                    self.slots.push(slot);
                    VarSource::Slot(slot)
                }
            }
        } else {
            let slot = self.paths.intern(&dotted);
            self.slots.push(slot);
            VarSource::Slot(slot)
        };
        Node::Var {
            source,
            default,
            scoped,
        }
    }

    fn reference(&mut self, args: &Value) -> Node {
        let Value::String(name) = args else {
            return self.fatal("\"$ref\" must name an evaluator with a string");
        };
        let (index, rule) = match self.input.evaluators.target(name, self.within) {
            RefTarget::Resolved { index, rule } => (index, rule),
            RefTarget::Unknown => {
                return self.fatal(format!("\"$ref\" names unknown evaluator {name:?}"));
            }
            RefTarget::NotLater { .. } => {
                let inside = self
                    .within
                    .and_then(|i| self.input.evaluators.get_index(i))
                    .map_or("", |(name, _)| name.as_str());
                return self.fatal(format!(
                    "\"$ref\" to evaluator {name:?} inside evaluator {inside:?} is not resolved: \
                     evaluators are substituted once, in declaration order, so a reference \
                     inside one resolves only to an evaluator declared after it"
                ));
            }
        };
        self.report
            .refs
            .push((name.clone(), self.pointer.parent_string()));
        let outer = self.within.replace(index);
        let node = self.node(rule);
        self.within = outer;
        node
    }

    fn fractional(&mut self, args: &Value) -> Node {
        // The shorthand form buckets by the targeting key.
        self.slots.push(PathTable::TARGETING_KEY);
        let nodes = self.args(args);
        if let Value::Array(items) = args {
            let buckets_from = match items.first() {
                Some(Value::Array(_)) => 0,
                Some(Value::String(_)) => {
                    self.pointer.push_index(0);
                    self.warn("the bucketing value must be an expression, not a string literal");
                    self.pointer.pop();
                    1
                }
                _ => 1,
            };
            if items.len() <= buckets_from {
                self.warn("fractional needs at least one bucket");
            }
            // The sum of the weights, while every weight is a constant.
            let mut total: Option<u64> = Some(0);
            let mut oversized = false;
            for (i, bucket) in items.iter().enumerate().skip(buckets_from) {
                self.pointer.push_index(i);
                match bucket {
                    Value::Array(parts) if !parts.is_empty() => {
                        if let Some(weight) = parts.get(1) {
                            self.pointer.push_index(1);
                            match weight {
                                Value::Number(n) if n.is_i64() || n.is_u64() => {
                                    if n.as_i64().is_some_and(|w| w < 0) {
                                        self.warn("bucket weight must not be negative (flagd treats it as 0)");
                                    }
                                    // Negative weights count as zero.
                                    let w = n.as_u64().unwrap_or(0);
                                    if w > MAX_WEIGHT {
                                        oversized = true;
                                        self.warn(format!(
                                            "bucket weight {w} is above the largest weight, {MAX_WEIGHT}, so the rule never buckets anyone"
                                        ));
                                    }
                                    total = total.map(|t| t.saturating_add(w));
                                }
                                Value::Number(_) => self.warn("bucket weight must be an integer"),
                                Value::Object(_) => total = None,
                                _ => self.warn("bucket weight must be a number or an expression"),
                            }
                            self.pointer.pop();
                        } else {
                            // A bucket without a weight weighs 1.
                            total = total.map(|t| t.saturating_add(1));
                        }
                    }
                    Value::Array(_) => self.warn("a bucket needs a variant name"),
                    _ => self.warn("a bucket must be an array [variant, weight]"),
                }
                self.pointer.pop();
            }
            if let Some(total) = total
                && total > MAX_WEIGHT
                && !oversized
            {
                self.warn(format!(
                    "the bucket weights add up to {total}, above the largest total, {MAX_WEIGHT}, so the rule never buckets anyone"
                ));
            }
        }
        let buckets = const_buckets(self.input.fractional, &nodes);
        let slots = buckets.as_ref().and_then(|b| cat_slots(&nodes, b));
        Node::Fractional {
            args: nodes,
            version: self.input.fractional,
            buckets,
            slots,
        }
    }

    fn sem_ver(&mut self, args: &Value) -> Node {
        let nodes = self.args(args);
        let Value::Array(items) = args else {
            self.warn("sem_ver needs three arguments: version, operator, version");
            return Node::SemVer(nodes);
        };
        if items.len() != 3 {
            self.warn("sem_ver needs three arguments: version, operator, version");
            return Node::SemVer(nodes);
        }
        let op = match &items[1] {
            Value::String(s) => {
                let op = SemVerOp::parse(s);
                if op.is_none() {
                    self.pointer.push_index(1);
                    self.warn(format!(
                        "unknown sem_ver operator {s:?} (known: =, !=, <, <=, >, >=, ^, ~)"
                    ));
                    self.pointer.pop();
                }
                op
            }
            _ => None,
        };
        let right = match &items[2] {
            Value::String(_) | Value::Number(_) => {
                let parsed = semver::parse_version(&super::Val::from_json(&items[2]));
                if parsed.is_none() {
                    self.pointer.push_index(2);
                    self.warn(format!("{} is not a semantic version", items[2]));
                    self.pointer.pop();
                }
                parsed
            }
            _ => None,
        };
        match (op, right) {
            (Some(op), Some(right)) => {
                let mut nodes = nodes.into_vec();
                let left = nodes.swap_remove(0);
                let simple =
                    right
                        .pre
                        .is_empty()
                        .then_some([right.major, right.minor, right.patch]);
                if let Some(slot) = root_slot(&left) {
                    return Node::Test(Box::new(super::Test::SemVer {
                        slot,
                        op,
                        right: Box::new(right),
                        simple,
                    }));
                }
                Node::SemVerConst {
                    left: Box::new(left),
                    op,
                    right: Box::new(right),
                    simple,
                }
            }
            _ => Node::SemVer(nodes),
        }
    }

    fn check_string_op(&mut self, op: &str, args: &Value) {
        let Value::Array(items) = args else {
            self.warn(format!("{op} needs two arguments"));
            return;
        };
        if items.len() != 2 {
            self.warn(format!("{op} needs two arguments"));
            return;
        }
        if !matches!(items[1], Value::String(_) | Value::Object(_)) {
            self.pointer.push_index(1);
            self.warn(format!("the second argument of {op} must be a string"));
            self.pointer.pop();
        }
    }
}

/// The slot of a plain root-level `var` (no default), the operand shape the
/// specialised nodes read.
fn root_slot(node: &Node) -> Option<crate::context::SlotId> {
    match node {
        Node::Var {
            source: VarSource::Slot(slot),
            default: None,
            scoped: false,
        } => Some(*slot),
        _ => None,
    }
}

/// Whether a node always yields a boolean.
fn is_boolean(node: &Node) -> bool {
    match node {
        Node::Test(test) => test.is_boolean(),
        Node::Const(Value::Bool(_))
        | Node::Cmp(..)
        | Node::Not(_)
        | Node::NotNot(_)
        | Node::AndBool(_)
        | Node::OrBool(_)
        | Node::In(_)
        | Node::Iter {
            op: IterOp::All | IterOp::None | IterOp::Some,
            ..
        } => true,
        _ => false,
    }
}

/// An `and`/`or` whose clauses are all tests becomes one group test, so
/// evaluating it loops over tests rather than dispatching on nodes.
fn test_group(all: bool, args: &[Node]) -> Option<Node> {
    if args.is_empty() {
        return None;
    }
    let tests = args
        .iter()
        .map(|arg| match arg {
            Node::Test(test) => Some((**test).clone()),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Node::Test(Box::new(super::Test::Group {
        all,
        tests: tests.into_boxed_slice(),
    })))
}

/// Specialises a two-operand comparison of a context value with a scalar
/// constant; anything else stays generic.
fn specialize_cmp(op: CmpOp, args: Box<[Node]>) -> Node {
    if let [left, right] = &*args {
        let scalar = |n: &Node| match n {
            Node::Const(v) if !v.is_array() && !v.is_object() => Some(v.clone()),
            _ => None,
        };
        let found = match (
            root_slot(left),
            scalar(right),
            root_slot(right),
            scalar(left),
        ) {
            (Some(slot), Some(konst), _, _) => Some((slot, konst, false)),
            (_, _, Some(slot), Some(konst)) => Some((slot, konst, true)),
            _ => None,
        };
        if let Some((slot, konst, flipped)) = found {
            return Node::Test(Box::new(super::Test::Cmp {
                slot,
                op,
                konst,
                flipped,
            }));
        }
    }
    Node::Cmp(op, args)
}

/// Specialises `in` over a context value and a constant list or needle.
fn specialize_in(args: Box<[Node]>) -> Node {
    if let [left, right] = &*args {
        if let (Some(slot), Node::Const(Value::Array(list))) = (root_slot(left), right) {
            let mut strings: Vec<Box<str>> = list
                .iter()
                .filter_map(|v| v.as_str().map(Into::into))
                .collect();
            strings.sort_unstable();
            return Node::Test(Box::new(super::Test::InList {
                slot,
                list: list.clone().into_boxed_slice(),
                strings: strings.into_boxed_slice(),
            }));
        }
        if let (Node::Const(needle), Some(slot)) = (left, root_slot(right))
            && !needle.is_array()
            && !needle.is_object()
        {
            return Node::Test(Box::new(super::Test::Contains {
                slot,
                needle: needle.clone(),
            }));
        }
    }
    Node::In(args)
}

/// What an expression reads besides its own constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Needs {
    /// Nothing: every evaluation gives the same value.
    Nothing,
    /// The element of an enclosing `map`, `filter`, `reduce`, ...
    Frame,
    /// The request context (or the time, or the targeting key).
    Context,
}

/// What `node` reads.
fn needs(node: &Node) -> Needs {
    // A loop body's element is the loop's own.
    let body = |n: &Node| match needs(n) {
        Needs::Frame => Needs::Nothing,
        other => other,
    };
    match node {
        Node::Const(_) => Needs::Nothing,
        Node::Var {
            source,
            default,
            scoped,
        } => {
            let own = match source {
                VarSource::Slot(_) | VarSource::Timestamp => Needs::Context,
                VarSource::Scoped(_) => Needs::Frame,
                VarSource::ScopeRoot if *scoped => Needs::Frame,
                VarSource::Dynamic(path) if *scoped => needs(path).max(Needs::Frame),
                VarSource::ScopeRoot | VarSource::Dynamic(_) => Needs::Context,
            };
            own.max(default.as_deref().map_or(Needs::Nothing, needs))
        }
        Node::Test(_) | Node::Fractional { .. } | Node::Missing(_) | Node::MissingSome(_) => {
            Needs::Context
        }
        Node::Iter { parts, .. } => needs(&parts[0]).max(body(&parts[1])),
        Node::Reduce { parts, .. } => needs(&parts[0]).max(needs(&parts[2])).max(body(&parts[1])),
        other => other
            .children()
            .into_iter()
            .map(needs)
            .max()
            .unwrap_or(Needs::Nothing),
    }
}

/// The buckets of a compiled `fractional` call, validated once, when they
/// are all constants: the arguments after the first, or all of them when
/// the first is a constant array (the shorthand).
fn const_buckets(version: FractionalVersion, args: &[Node]) -> Option<Box<ConstBuckets>> {
    let from = match args.first()? {
        Node::Const(Value::Array(_)) => 0,
        _ => 1,
    };
    let buckets = args[from..]
        .iter()
        .map(|node| match node {
            Node::Const(value) => Some(value.clone()),
            _ => None,
        })
        .collect::<Option<Vec<Value>>>()?;
    // The constant strings a `cat` bucketing value starts with (the flag
    // key, usually), hashed once.
    let mut prefix = String::new();
    let mut prefix_args = 0;
    if let Some(Node::Cat(parts)) = args.first() {
        for part in parts {
            match part {
                Node::Const(Value::String(s)) => prefix.push_str(s),
                Node::Const(Value::Null) => {}
                _ => break,
            }
            prefix_args += 1;
        }
    }
    Some(Box::new(ConstBuckets::new(
        version,
        &buckets,
        &prefix,
        prefix_args,
    )))
}

/// The slots of the root-level variables (without defaults) that a `cat`
/// bucketing value is made of after its constant prefix, if that is all
/// it is made of.
fn cat_slots(args: &[Node], buckets: &ConstBuckets) -> Option<Box<[SlotId]>> {
    let Some(Node::Cat(parts)) = args.first() else {
        return None;
    };
    let (_, prefix_args) = buckets.prefix();
    parts
        .get(prefix_args..)?
        .iter()
        .map(|part| match part {
            Node::Var {
                source: VarSource::Slot(slot),
                default: None,
                ..
            } => Some(*slot),
            _ => None,
        })
        .collect()
}

/// Whether `node` loops or builds strings or arrays, so that its constant
/// form is worth evaluating at compile time.
fn builds(node: &Node) -> bool {
    matches!(
        node,
        Node::Iter { .. }
            | Node::Reduce { .. }
            | Node::Merge(_)
            | Node::Cat(_)
            | Node::Substr(_)
            | Node::Array(_)
    )
}

/// Why a literal (a scalar or an object that is not an operation) exceeds
/// the evaluation limits, if it does. Walks the literal without recursing.
fn oversized_literal(value: &Value, limits: &EvalLimits) -> Option<String> {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(s) if s.len() > limits.max_string_bytes => {
                return Some(format!(
                    "string literal has {} bytes, more than the evaluation limit of {}",
                    s.len(),
                    limits.max_string_bytes
                ));
            }
            Value::Array(items) if items.len() > limits.max_array_len => {
                return Some(format!(
                    "array literal has {} elements, more than the evaluation limit of {}",
                    items.len(),
                    limits.max_array_len
                ));
            }
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => pending.extend(map.values()),
            _ => {}
        }
    }
    None
}
