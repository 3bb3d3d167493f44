//! Flag sets: a named collection of compiled flags with its own metadata,
//! version and bucketing scheme, and the evaluation of its flags.

use std::sync::{Arc, LazyLock};

use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

use crate::context::{PathTable, Prepared};
use crate::diagnostic::{Diagnostic, Severity};
use crate::extract::{ContextError, PathTrie, parse_context};
use crate::hash::ContentHasher;
use crate::logic::compile::CompileInput;
use crate::logic::eval::Selected;
use crate::logic::{self, CompileLimits, Env, NoTrace, Node, Rule, StepKind, Trace, Tracer, Val};
use crate::model::{FlagFile, RawFlag};
use crate::ops::fractional::{ConstBuckets, FractionalVersion};
use crate::resolution::{ErrorCode, Reason, Resolution};

/// Flag-set metadata key naming the flag set (as in flagd).
pub const FLAG_SET_ID_KEY: &str = "flagSetId";

/// Flag-set metadata key that overrides the server-wide `fractional`
/// bucketing scheme for one flag set: `"v1"`, `"v2"` or `"v3"`.
pub const FRACTIONAL_VERSION_KEY: &str = "ensign.fractional";

/// Flag metadata key naming the experiment a flag's `fractional` split
/// serves: evaluations it decides are exposures of that experiment. The
/// store sets it on the published flag while the experiment runs; a flag
/// file sets it to opt in.
pub const EXPERIMENT_KEY: &str = "ensign.experiment";

static EMPTY_MAP: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

/// An empty metadata map, for resolutions of unknown flags.
pub fn empty_metadata() -> &'static Map<String, Value> {
    &EMPTY_MAP
}

/// Settings that apply to compiling every flag set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompileOptions {
    /// The server-wide `fractional` scheme (flag sets may override it).
    pub fractional: FractionalVersion,
    /// Size bounds of rules.
    pub limits: CompileLimits,
}

/// Whether a flag is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagState {
    /// Evaluated normally.
    Enabled,
    /// Resolves to the caller's default with reason DISABLED.
    Disabled,
}

/// A compiled flag.
#[derive(Debug, Clone)]
pub struct Flag {
    key: Arc<str>,
    state: FlagState,
    variants: Vec<(Box<str>, Value)>,
    default_variant: Option<usize>,
    targeting: Option<Rule>,
    /// When the targeting is an `if` whose every branch is a constant or a
    /// `fractional` with constant buckets, or such a `fractional`: what
    /// each argument index (each bucket) resolves to, so resolving skips
    /// building values.
    branches: Option<Vec<Branch>>,
    metadata: Map<String, Value>,
    refs: Vec<(String, String)>,
    definition: Value,
    hash: u64,
    /// The context paths this flag reads; `None` when it reads the context
    /// in ways only known at evaluation time.
    trie: Option<PathTrie>,
    /// The experiment its split serves ([`EXPERIMENT_KEY`]), if any.
    experiment: Option<Box<str>>,
    /// Whether a `fractional` can decide the rule's result: the rule is
    /// one, or an `if` with one among its branches (however nested).
    split_decides: bool,
}

impl Flag {
    /// The flag key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Enabled or disabled.
    pub fn state(&self) -> FlagState {
        self.state
    }

    /// The experiment the flag's split serves ([`EXPERIMENT_KEY`]), if any.
    pub fn experiment(&self) -> Option<&str> {
        self.experiment.as_deref()
    }

    /// The variants, in definition order.
    pub fn variants(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.variants.iter().map(|(k, v)| (&**k, v))
    }

    /// The default variant's name, if the flag has one.
    pub fn default_variant(&self) -> Option<&str> {
        self.default_variant
            .and_then(|i| self.variants.get(i))
            .map(|(k, _)| &**k)
    }

    /// The merged metadata (flag set's, overridden by the flag's own).
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// The definition in flagd JSON with its `$ref`s replaced by their
    /// evaluators in flagd's one pass ([`crate::Evaluators::substitute`]),
    /// as flagd holds a flag after loading its file: what sync sends.
    pub fn definition(&self) -> &Value {
        &self.definition
    }

    /// Hash of the definition and merged metadata; changes when the flag does.
    pub fn content_hash(&self) -> u64 {
        self.hash
    }

    /// The compiled targeting rule, if any.
    pub fn targeting(&self) -> Option<&Rule> {
        self.targeting.as_ref()
    }

    fn variant_named(&self, name: &str) -> Option<usize> {
        self.variants
            .iter()
            .position(|(k, _)| crate::logic::eval::short_eq(k.as_bytes(), name.as_bytes()))
    }
}

/// A flag as held by a flag set: compiled, or broken (its definition never
/// compiled, so it resolves to `PARSE_ERROR`).
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "flags are stored by value in the flag set's map; boxing the common variant would add a pointer chase to every evaluation"
)]
pub enum FlagEntry {
    /// A usable flag.
    Ready(Flag),
    /// A flag whose definition is invalid and has no earlier good version.
    Broken {
        /// The flag key.
        key: Arc<str>,
        /// The definition as written.
        definition: Value,
        /// Why it is broken.
        reason: String,
        /// Hash of the definition.
        hash: u64,
    },
}

impl FlagEntry {
    /// The flag key.
    pub fn key(&self) -> &str {
        match self {
            FlagEntry::Ready(flag) => flag.key(),
            FlagEntry::Broken { key, .. } => key,
        }
    }

    /// Content hash, for diffs.
    pub fn content_hash(&self) -> u64 {
        match self {
            FlagEntry::Ready(flag) => flag.hash,
            FlagEntry::Broken { hash, .. } => *hash,
        }
    }

    /// The definition as written.
    pub fn definition(&self) -> &Value {
        match self {
            FlagEntry::Ready(flag) => &flag.definition,
            FlagEntry::Broken { definition, .. } => definition,
        }
    }
}

/// A compiled flag set.
#[derive(Debug, Clone)]
pub struct FlagSet {
    id: Arc<str>,
    source: Arc<str>,
    metadata: Map<String, Value>,
    fractional: FractionalVersion,
    paths: PathTable,
    /// Index in `entries` by key. Keys come from flag definitions, never
    /// from requests, so a fast non-keyed hash is safe here.
    flags: FxHashMap<Arc<str>, usize>,
    /// The flags, sorted by key.
    entries: Vec<FlagEntry>,
    version: u64,
    /// A trie of no paths, for validating the context of unknown flags.
    empty_trie: PathTrie,
}

impl FlagSet {
    /// Compiles a flag file into a flag set.
    ///
    /// `source` names where the file came from (its selector name; also the
    /// flag set's id when the metadata has no `flagSetId`). `previous` is the
    /// same source's last flag set: a flag whose new definition does not
    /// compile keeps its version from there.
    pub fn compile(
        source: &str,
        file: &FlagFile,
        options: &CompileOptions,
        previous: Option<&FlagSet>,
    ) -> (FlagSet, Vec<Diagnostic>) {
        // flagd does not support references between shared evaluators.
        let mut diagnostics = file.evaluators.ref_warnings();
        let metadata = scalar_metadata(&file.metadata, "/metadata", None, &mut diagnostics);
        let id: Arc<str> = match metadata.get(FLAG_SET_ID_KEY) {
            Some(Value::String(id)) if !id.is_empty() => id.as_str().into(),
            _ => source.into(),
        };
        let fractional = match metadata.get(FRACTIONAL_VERSION_KEY) {
            None => options.fractional,
            Some(Value::String(s)) => s.parse().unwrap_or_else(|_| {
                diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    flag_key: None,
                    pointer: format!(
                        "/metadata/{}",
                        crate::pointer::escape(FRACTIONAL_VERSION_KEY)
                    ),
                    message: format!("unknown fractional version {s:?} (expected v1, v2 or v3)"),
                });
                options.fractional
            }),
            Some(other) => {
                diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    flag_key: None,
                    pointer: format!(
                        "/metadata/{}",
                        crate::pointer::escape(FRACTIONAL_VERSION_KEY)
                    ),
                    message: format!("fractional version must be a string, not {other}"),
                });
                options.fractional
            }
        };
        let mut paths = PathTable::default();
        let mut flags = FxHashMap::with_capacity_and_hasher(file.flags.len(), Default::default());
        for raw in &file.flags {
            let entry = match compile_flag(
                raw,
                file,
                &metadata,
                fractional,
                options.limits,
                &mut paths,
                &mut diagnostics,
            ) {
                Some(flag) => FlagEntry::Ready(flag),
                None => {
                    let kept =
                        previous
                            .and_then(|p| p.get(raw.key.as_str()))
                            .and_then(|e| match e {
                                FlagEntry::Ready(flag) => Some(flag),
                                FlagEntry::Broken { .. } => None,
                            });
                    match kept {
                        // The last good version was compiled against the
                        // previous path table; recompile its definition here.
                        Some(old) => {
                            let old_raw = RawFlag {
                                key: raw.key.clone(),
                                pointer: raw.pointer.clone(),
                                definition: old.definition.clone(),
                            };
                            let mut ignored = Vec::new();
                            match compile_flag(
                                &old_raw,
                                file,
                                &metadata,
                                fractional,
                                options.limits,
                                &mut paths,
                                &mut ignored,
                            ) {
                                Some(flag) => {
                                    diagnostics.push(Diagnostic {
                                        severity: Severity::Warning,
                                        flag_key: Some(raw.key.clone()),
                                        pointer: raw.pointer.clone(),
                                        message: "keeping the last good version of this flag"
                                            .into(),
                                    });
                                    FlagEntry::Ready(flag)
                                }
                                None => broken(raw, &diagnostics),
                            }
                        }
                        None => broken(raw, &diagnostics),
                    }
                }
            };
            flags.insert(Arc::from(raw.key.as_str()), entry);
        }
        let mut entries: Vec<(Arc<str>, FlagEntry)> = flags.into_iter().collect();
        entries.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        let mut hasher = ContentHasher::default();
        hasher.write_str(&id);
        hasher.write_str(fractional.as_str());
        hasher.write_json(&Value::Object(metadata.clone()));
        for (key, entry) in &entries {
            hasher.write_str(key);
            hasher.write(&entry.content_hash().to_le_bytes());
        }
        for (_, entry) in &mut entries {
            if let FlagEntry::Ready(flag) = entry {
                flag.trie = match &flag.targeting {
                    Some(rule) if rule.dynamic_access() => None,
                    Some(rule) => Some(paths.trie(rule.slots())),
                    None => Some(PathTrie::default()),
                };
            }
        }
        let set = FlagSet {
            empty_trie: PathTrie::default(),
            id,
            source: source.into(),
            metadata,
            fractional,
            paths,
            flags: entries
                .iter()
                .enumerate()
                .map(|(i, (key, _))| (Arc::clone(key), i))
                .collect(),
            entries: entries.into_iter().map(|(_, entry)| entry).collect(),
            version: hasher.finish(),
        };
        (set, diagnostics)
    }

    /// The flag set's id (`flagSetId`, or the source name).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The source it came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Flag-set metadata.
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// The bucketing scheme in force.
    pub fn fractional(&self) -> FractionalVersion {
        self.fractional
    }

    /// Content version (stable across processes).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The variable paths its rules read.
    pub fn paths(&self) -> &PathTable {
        &self.paths
    }

    /// Looks a flag up.
    pub fn get(&self, key: &str) -> Option<&FlagEntry> {
        self.flags.get(key).and_then(|&i| self.entries.get(i))
    }

    /// Flag keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(FlagEntry::key)
    }

    /// Entries, sorted by key.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &FlagEntry> {
        self.entries.iter()
    }

    /// Prepares a context for evaluating any flag of this set.
    pub fn prepare<'c>(&self, context: &'c Value) -> Prepared<'c> {
        self.paths.prepare(context)
    }

    /// Prepares a context for evaluating one flag: looks up only the paths
    /// that flag reads.
    pub fn prepare_for<'c>(&self, key: &str, context: &'c Value) -> Prepared<'c> {
        match self.get(key) {
            Some(FlagEntry::Ready(Flag {
                targeting: Some(rule),
                ..
            })) => self.paths.prepare_only(context, &rule.slots),
            _ => self.paths.prepare_only(context, &[]),
        }
    }

    /// Evaluates one flag against a context given as JSON text. For a flag
    /// whose rules read only fixed paths, only those paths are parsed out of
    /// the text; the rest is validated and skipped.
    pub fn evaluate_json<'s>(&'s self, key: &'s str, text: &str) -> Resolution<'s> {
        let entry = self.get(key);
        let invalid = |error: ContextError| {
            let metadata = match entry {
                Some(FlagEntry::Ready(flag)) => &flag.metadata,
                _ => &self.metadata,
            };
            Resolution::error(key, ErrorCode::InvalidContext, error.to_string(), metadata)
        };
        let trie = match entry {
            Some(FlagEntry::Ready(Flag {
                trie: Some(trie), ..
            })) => trie,
            Some(FlagEntry::Ready(_)) => {
                return match parse_context(text) {
                    Ok(context) => {
                        let prepared = self.prepare_for(key, &context);
                        self.evaluate(key, &prepared)
                    }
                    Err(error) => invalid(error),
                };
            }
            // Unknown and broken flags read nothing, but the text must still
            // be a context.
            _ => &self.empty_trie,
        };
        match trie.extract(text, self.paths.len()) {
            Ok(extracted) => {
                let (slots, composites) = extracted.into_parts();
                let prepared = Prepared::from_extracted(slots, &composites);
                // The entry is looked up once: evaluating by key would look
                // it up again.
                let resolution = match entry {
                    Some(entry) => self.evaluate_entry(entry, &prepared),
                    None => self.evaluate(key, &prepared),
                };
                crate::extract::recycle_slots(prepared.slots);
                resolution
            }
            Err(error) => invalid(error),
        }
    }

    /// Reads a context from JSON text for evaluating every flag of the set
    /// (a bulk evaluation reads the text once).
    pub fn context_for_all(&self, text: &str) -> Result<Value, ContextError> {
        parse_context(text)
    }

    /// Evaluates a flag against a context prepared by this flag set.
    pub fn evaluate<'s>(&'s self, key: &'s str, context: &Prepared<'_>) -> Resolution<'s> {
        self.evaluate_traced(key, context, &mut NoTrace)
    }

    /// Evaluates a flag and records the decision path.
    pub fn explain<'s>(&'s self, key: &'s str, context: &Prepared<'_>) -> (Resolution<'s>, Trace) {
        let mut trace = Trace::new();
        if let Some(FlagEntry::Ready(flag)) = self.get(key) {
            for (name, pointer) in &flag.refs {
                trace.push_ref(name, pointer);
            }
        }
        let resolution = self.evaluate_traced(key, context, &mut trace);
        (resolution, trace)
    }

    fn evaluate_traced<'s, T: Tracer>(
        &'s self,
        key: &'s str,
        context: &Prepared<'_>,
        tracer: &mut T,
    ) -> Resolution<'s> {
        let Some(entry) = self.get(key) else {
            return Resolution::error(
                key,
                ErrorCode::FlagNotFound,
                format!("flag {key:?} not found"),
                &self.metadata,
            );
        };
        self.resolve_entry(entry, context, tracer)
    }

    /// Evaluates one of this set's entries, as [`FlagSet::entries`] lists
    /// them: what [`FlagSet::evaluate`] does for its key, without looking
    /// the key up again.
    pub fn evaluate_entry<'s>(
        &'s self,
        entry: &'s FlagEntry,
        context: &Prepared<'_>,
    ) -> Resolution<'s> {
        self.resolve_entry(entry, context, &mut NoTrace)
    }

    fn resolve_entry<'s, T: Tracer>(
        &'s self,
        entry: &'s FlagEntry,
        context: &Prepared<'_>,
        tracer: &mut T,
    ) -> Resolution<'s> {
        match entry {
            FlagEntry::Ready(flag) => resolve(flag, context, tracer),
            FlagEntry::Broken { key, reason, .. } => {
                Resolution::error(key, ErrorCode::ParseError, reason.clone(), &self.metadata)
            }
        }
    }
}

fn resolve<'s, T: Tracer>(
    flag: &'s Flag,
    context: &Prepared<'_>,
    tracer: &mut T,
) -> Resolution<'s> {
    let key: &'s str = &flag.key;
    let experiment = flag.experiment.as_deref();
    let variant_at = |i: usize| flag.variants.get(i).map(|(k, v)| (&**k, v));
    let by_default = |reason: Reason| match flag.default_variant.and_then(variant_at) {
        Some((name, value)) => Resolution {
            key,
            value: Some(value),
            variant: Some(name),
            reason,
            error: None,
            metadata: &flag.metadata,
            experiment,
            bucketed: false,
        },
        // No default variant: the caller's default, still with a reason.
        None => Resolution {
            key,
            value: None,
            variant: None,
            reason: Reason::Default,
            error: None,
            metadata: &flag.metadata,
            experiment,
            bucketed: false,
        },
    };
    let matched = |i: usize, bucketed: bool| {
        variant_at(i).map(|(name, value)| Resolution {
            key,
            value: Some(value),
            variant: Some(name),
            reason: Reason::TargetingMatch,
            error: None,
            metadata: &flag.metadata,
            experiment,
            bucketed: bucketed && experiment.is_some(),
        })
    };
    let fail = |failure: &logic::EvalFailure| Resolution {
        experiment,
        ..failed(key, failure, &flag.metadata)
    };
    if flag.state == FlagState::Disabled {
        return Resolution {
            key,
            value: None,
            variant: None,
            reason: Reason::Disabled,
            error: None,
            metadata: &flag.metadata,
            experiment,
            bucketed: false,
        };
    }
    let Some(rule) = &flag.targeting else {
        return by_default(Reason::Static);
    };
    if !T::ENABLED
        && let Some(branches) = &flag.branches
        && let Some(selected) = select(rule, context, key)
    {
        // A pick of a `fractional`'s buckets, under a root `if` or as the
        // root itself, is the split's decision.
        let (chosen, bucketed) = match selected {
            Ok(Selected::Null) => (None, false),
            Ok(Selected::At(at)) => (
                branches.get(at),
                matches!(rule.root, Node::Fractional { .. }),
            ),
            Ok(Selected::Bucket { arg, pick }) => match branches.get(arg) {
                Some(Branch::Buckets(picks)) => (picks.get(pick), true),
                _ => (Some(&Branch::Unknown), false),
            },
            Err(failure) => return fail(&failure),
        };
        match chosen {
            Some(Branch::Variant(i)) => {
                if let Some(resolution) = matched(*i, bucketed) {
                    return resolution;
                }
            }
            Some(Branch::Null) | None => return by_default(Reason::Default),
            // An unknown variant, which the generic path below reports, or a
            // pick the plan leaves to it.
            Some(Branch::Unknown | Branch::Buckets(_)) => {}
        }
    }
    let env = Env {
        context,
        flag_key: key,
    };
    // Only a tracked flag whose split can decide asks which node decided;
    // an explained evaluation (rare, for people) asks it again untraced.
    let attributed = experiment.is_some() && flag.split_decides;
    let evaluated = if attributed && !T::ENABLED {
        logic::eval::evaluate_attributed(rule, env)
    } else {
        logic::evaluate(rule, env, tracer).map(|result| {
            let bucketed = attributed
                && logic::eval::evaluate_attributed(rule, env).is_ok_and(|(_, split)| split);
            (result, bucketed)
        })
    };
    let (result, bucketed) = match evaluated {
        Ok(evaluated) => evaluated,
        Err(failure) => return fail(&failure),
    };
    if T::ENABLED {
        tracer.record(StepKind::Result {
            value: result.to_trace_json(),
        });
    }
    let chosen = match &result {
        Val::Null => return by_default(Reason::Default),
        Val::Str(s) => flag.variant_named(s),
        Val::Bool(b) => flag.variant_named(if *b { "true" } else { "false" }),
        // NaN and the infinities name no variant, whatever the variants
        // are called: flagd's evaluators disagree on their spelling.
        Val::Num(n) if n.is_finite() => flag.variant_named(&result.to_js_string()),
        _ => None,
    };
    match chosen.and_then(|i| matched(i, bucketed)) {
        Some(resolution) => resolution,
        None => Resolution {
            experiment,
            ..Resolution::error(
                key,
                ErrorCode::General,
                format!(
                    "targeting rule of flag {key:?} returned {}, which is not a variant of the flag",
                    describe(&result)
                ),
                &flag.metadata,
            )
        },
    }
}

fn select(
    rule: &Rule,
    context: &Prepared<'_>,
    flag_key: &str,
) -> Option<Result<Selected, logic::EvalFailure>> {
    let env = Env { context, flag_key };
    match &rule.root {
        Node::If(args) => Some(logic::eval::select_branch(args, env, rule.limits())),
        Node::Fractional {
            args,
            buckets: Some(buckets),
            slots,
            ..
        } => Some(
            logic::eval::select_bucket(args, buckets, slots.as_deref(), env, rule.limits())
                .map(|pick| pick.map_or(Selected::Null, Selected::At)),
        ),
        _ => None,
    }
}

/// The resolution of a flag whose evaluation failed: `ERROR`, the failure's
/// code (`GENERAL`), and the caller's default.
fn failed<'s>(
    key: &'s str,
    failure: &logic::EvalFailure,
    metadata: &'s Map<String, Value>,
) -> Resolution<'s> {
    Resolution::error(
        key,
        failure.code(),
        format!("targeting rule of flag {key:?} failed: {failure}"),
        metadata,
    )
}

/// A short description of a rule's result for an error message: scalars as
/// JSON (long strings cut), arrays and objects by their kind, never in full.
fn describe(value: &Val<'_>) -> String {
    const SHOWN: usize = 64;
    match value {
        Val::Str(s) if s.chars().count() > SHOWN => {
            let head: String = s.chars().take(SHOWN).collect();
            format!("{}…", Value::String(head))
        }
        Val::Arr(items) => format!("an array of {} elements", items.len()),
        Val::Json(Value::Array(items)) => format!("an array of {} elements", items.len()),
        Val::Json(_) => "an object".to_owned(),
        // JSON has no NaN or Infinity.
        Val::Num(n) if !n.is_finite() => value.to_js_string(),
        other => other.to_json().to_string(),
    }
}

fn broken(raw: &RawFlag, diagnostics: &[Diagnostic]) -> FlagEntry {
    let reason = diagnostics
        .iter()
        .filter(|d| {
            d.severity == Severity::Error && d.flag_key.as_deref() == Some(raw.key.as_str())
        })
        .map(|d| format!("{}: {}", d.pointer, d.message))
        .collect::<Vec<_>>()
        .join("; ");
    let mut hasher = ContentHasher::default();
    hasher.write_json(&raw.definition);
    FlagEntry::Broken {
        key: raw.key.as_str().into(),
        definition: raw.definition.clone(),
        reason: format!("flag {:?} has an invalid definition: {reason}", raw.key),
        hash: hasher.finish(),
    }
}

/// Compiles one flag; `None` (with error diagnostics) if it cannot be used.
fn compile_flag(
    raw: &RawFlag,
    file: &FlagFile,
    set_metadata: &Map<String, Value>,
    fractional: FractionalVersion,
    limits: CompileLimits,
    paths: &mut PathTable,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Flag> {
    let key = raw.key.as_str();
    let errors_before = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let error = |diagnostics: &mut Vec<Diagnostic>, at: &str, message: String| {
        diagnostics.push(Diagnostic {
            severity: Severity::Error,
            flag_key: Some(key.to_owned()),
            pointer: format!("{}{at}", raw.pointer),
            message,
        });
    };
    let Value::Object(def) = &raw.definition else {
        error(
            diagnostics,
            "",
            "a flag definition must be an object".into(),
        );
        return None;
    };
    let state = match def.get("state") {
        Some(Value::String(s)) if s == "ENABLED" => FlagState::Enabled,
        Some(Value::String(s)) if s == "DISABLED" => FlagState::Disabled,
        Some(other) => {
            error(
                diagnostics,
                "/state",
                format!("state must be \"ENABLED\" or \"DISABLED\", not {other}"),
            );
            FlagState::Disabled
        }
        None => {
            error(
                diagnostics,
                "/state",
                "state is required (\"ENABLED\" or \"DISABLED\")".into(),
            );
            FlagState::Disabled
        }
    };
    let variants: Vec<(Box<str>, Value)> = match def.get("variants") {
        Some(Value::Object(map)) if !map.is_empty() => map
            .iter()
            .map(|(k, v)| (k.as_str().into(), v.clone()))
            .collect(),
        Some(Value::Object(_)) => {
            error(
                diagnostics,
                "/variants",
                "variants must not be empty".into(),
            );
            Vec::new()
        }
        Some(_) => {
            error(
                diagnostics,
                "/variants",
                "variants must be an object of named values".into(),
            );
            Vec::new()
        }
        None => {
            error(diagnostics, "/variants", "variants is required".into());
            Vec::new()
        }
    };
    if let Some(problem) = mixed_types(&variants) {
        diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            flag_key: Some(key.to_owned()),
            pointer: format!("{}/variants", raw.pointer),
            message: problem,
        });
    }
    for name in array_variants(&variants) {
        diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            flag_key: Some(key.to_owned()),
            pointer: format!("{}/variants/{}", raw.pointer, crate::pointer::escape(name)),
            message: format!(
                "variant {name:?} is an array, which flagd's schema does not allow (an object flag's variants are objects): a typed object evaluation of it answers TYPE_MISMATCH, only an untyped one (OFREP) returns the array"
            ),
        });
    }
    let default_variant = match def.get("defaultVariant") {
        // flagd's schema allows the empty string, and every flagd treats it
        // as no default variant, even beside a variant named "".
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if name.is_empty() => None,
        Some(Value::String(name)) => match variants.iter().position(|(k, _)| &**k == name) {
            Some(i) => Some(i),
            None if variants.is_empty() => None,
            None => {
                error(
                    diagnostics,
                    "/defaultVariant",
                    format!("default variant {name:?} is not one of the flag's variants"),
                );
                None
            }
        },
        Some(other) => {
            error(
                diagnostics,
                "/defaultVariant",
                format!("defaultVariant must be a variant name or null, not {other}"),
            );
            None
        }
    };
    let own_metadata = match def.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => scalar_metadata(
            map,
            &format!("{}/metadata", raw.pointer),
            Some(key),
            diagnostics,
        ),
        Some(_) => {
            error(
                diagnostics,
                "/metadata",
                "metadata must be an object".into(),
            );
            Map::new()
        }
    };
    let mut metadata = set_metadata.clone();
    metadata.extend(own_metadata);
    // A disabled flag resolves to DISABLED whatever its targeting, as in
    // every flagd: disabling a flag whose rule is broken is the usual
    // emergency move, so the rule's errors are only warnings then (with the
    // same wording, so that a store sees no new finding) and the flag
    // compiles without targeting.
    let targeting_severity = match def.get("state") {
        Some(Value::String(s)) if s == "DISABLED" => Severity::Warning,
        _ => Severity::Error,
    };
    let targeting_problem = |diagnostics: &mut Vec<Diagnostic>, at: &str, message: String| {
        diagnostics.push(Diagnostic {
            severity: targeting_severity,
            flag_key: Some(key.to_owned()),
            pointer: format!("{}/targeting{at}", raw.pointer),
            message,
        });
    };
    let mut refs = Vec::new();
    let targeting = match def.get("targeting") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) if map.is_empty() => None,
        Some(rule @ Value::Object(_)) => {
            let input = CompileInput {
                flag_key: key,
                evaluators: &file.evaluators,
                fractional,
                limits,
            };
            match logic::compile(rule, &input, paths) {
                Ok((rule, report)) => {
                    for warning in report.warnings {
                        diagnostics.push(Diagnostic {
                            severity: Severity::Warning,
                            flag_key: Some(key.to_owned()),
                            pointer: format!("{}/targeting{}", raw.pointer, warning.pointer),
                            message: warning.message,
                        });
                    }
                    refs = report
                        .refs
                        .into_iter()
                        .map(|(name, pointer)| (name, format!("/targeting{pointer}")))
                        .collect();
                    Some(rule)
                }
                Err(errors) => {
                    for e in errors {
                        targeting_problem(diagnostics, &e.pointer, e.message);
                    }
                    None
                }
            }
        }
        Some(other) => {
            targeting_problem(
                diagnostics,
                "",
                format!("targeting must be a JSONLogic object, not {other}"),
            );
            None
        }
    };
    let errors_after = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors_after > errors_before {
        return None;
    }
    // As flagd stores a flag after loading its file: `$ref`s replaced by
    // their evaluators in its one pass. Sync sends this, and hashing it
    // makes an edit of a shared evaluator a change of every flag that uses
    // it.
    let definition = if refs.is_empty() {
        raw.definition.clone()
    } else {
        file.evaluators.substitute(&raw.definition)
    };
    let mut hasher = ContentHasher::default();
    hasher.write_json(&definition);
    hasher.write_json(&Value::Object(metadata.clone()));
    hasher.write_str(fractional.as_str());
    let branches = targeting
        .as_ref()
        .and_then(|rule| branch_plan(rule, &variants));
    let experiment = match metadata.get(EXPERIMENT_KEY) {
        Some(Value::String(name)) if !name.is_empty() => Some(name.as_str().into()),
        _ => None,
    };
    let split_decides = targeting
        .as_ref()
        .is_some_and(|rule| logic::eval::split_in_tail(&rule.root));
    Some(Flag {
        key: key.into(),
        state,
        variants,
        default_variant,
        branches,
        targeting,
        metadata,
        refs,
        definition,
        hash: hasher.finish(),
        trie: None,
        experiment,
        split_decides,
    })
}

/// What one constant branch of a root `if`, or one bucket of a
/// `fractional`, resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Branch {
    /// The variant at this index.
    Variant(usize),
    /// Null: the default variant.
    Null,
    /// A value naming no variant (an error, reported by the generic path),
    /// or one left to the generic path.
    Unknown,
    /// A branch that is a `fractional` with constant buckets: what each of
    /// its picks resolves to, indexed as [`logic::eval::select_bucket`]
    /// numbers them.
    Buckets(Box<[Branch]>),
}

/// The branch plan of a rule that is an `if` whose branches are all
/// constant strings, booleans or null, or `fractional`s whose buckets are
/// all constants (a rollout behind a condition), indexed by argument, or a
/// `fractional` whose buckets are all constants, indexed as
/// [`logic::eval::select_bucket`] numbers its picks; `None` for any other
/// rule.
fn branch_plan(rule: &Rule, variants: &[(Box<str>, Value)]) -> Option<Vec<Branch>> {
    let named = |name: &str| {
        variants
            .iter()
            .position(|(k, _)| &**k == name)
            .map_or(Branch::Unknown, Branch::Variant)
    };
    let constant = |value: &Value| match value {
        Value::String(s) => Some(named(s)),
        Value::Bool(b) => Some(named(if *b { "true" } else { "false" })),
        Value::Null => Some(Branch::Null),
        _ => None,
    };
    // The bucketing value itself, when it is a bucket, and variants that
    // are numbers are left to the generic path.
    let bucket_plan = |buckets: &ConstBuckets| -> Vec<Branch> {
        std::iter::once(Branch::Unknown)
            .chain(
                buckets
                    .variants()
                    .map(|variant| constant(variant).unwrap_or(Branch::Unknown)),
            )
            .collect()
    };
    match &rule.root {
        Node::If(args) => args
            .iter()
            .enumerate()
            .map(|(i, arg)| {
                let is_branch = i % 2 == 1 || i + 1 == args.len();
                if !is_branch {
                    // Conditions: never returned.
                    return Some(Branch::Unknown);
                }
                match arg {
                    Node::Const(value) => constant(value),
                    Node::Fractional {
                        buckets: Some(buckets),
                        ..
                    } => Some(Branch::Buckets(bucket_plan(buckets).into_boxed_slice())),
                    _ => None,
                }
            })
            .collect(),
        Node::Fractional {
            buckets: Some(buckets),
            ..
        } => Some(bucket_plan(buckets)),
        _ => None,
    }
}

/// Keeps the scalar entries of a metadata object; anything else is a schema
/// violation that flagd drops too.
fn scalar_metadata(
    map: &Map<String, Value>,
    pointer: &str,
    flag_key: Option<&str>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in map {
        match v {
            Value::Bool(_) | Value::Number(_) | Value::String(_) => {
                out.insert(k.clone(), v.clone());
            }
            _ => diagnostics.push(Diagnostic {
                severity: Severity::Warning,
                flag_key: flag_key.map(str::to_owned),
                pointer: format!("{pointer}/{}", crate::pointer::escape(k)),
                message:
                    "metadata values must be strings, numbers or booleans; this entry is ignored"
                        .into(),
            }),
        }
    }
    out
}

/// The array variants of a flag whose other variants are all objects (or
/// arrays): an object flag in all but the schema, which types an object
/// flag's variants as objects. Arrays beside other kinds are the business
/// of [`mixed_types`].
fn array_variants(variants: &[(Box<str>, Value)]) -> impl Iterator<Item = &str> {
    let object_flag = variants.iter().all(|(_, v)| v.is_object() || v.is_array());
    variants
        .iter()
        .filter(move |(_, v)| object_flag && v.is_array())
        .map(|(name, _)| &**name)
}

fn mixed_types(variants: &[(Box<str>, Value)]) -> Option<String> {
    // Objects beside arrays: each array has its own warning.
    if variants.iter().all(|(_, v)| v.is_object() || v.is_array()) {
        return None;
    }
    let kind = |v: &Value| match v {
        Value::Bool(_) => "boolean",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::Null => "null",
    };
    let first = kind(&variants.first()?.1);
    let odd = variants.iter().find(|(_, v)| kind(v) != first)?;
    Some(format!(
        "all variants of a flag must have one type: {:?} is {} where the first is {first}",
        odd.0,
        kind(&odd.1)
    ))
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use serde_json::json;

    use super::*;
    use crate::{Format, Selector, Snapshot};

    /// The compiled shape of a flag with variants `on` and `off` and this
    /// targeting, in a set whose `beta` evaluator is a segment of two
    /// comparisons: the root `if`'s arguments, then the branch plan
    /// (variants in key order: `off` is 0, `on` 1).
    #[track_caller]
    fn check(targeting: Value, expect: Expect) {
        let text = json!({
            "$evaluators": {"beta": {"and": [
                {"==": [{"var": "betaOptIn"}, true]},
                {"in": [{"var": "country"}, ["DE", "AT", "CH"]]}
            ]}},
            "flags": {"rollout": {
                "state": "ENABLED",
                "variants": {"on": true, "off": false},
                "defaultVariant": "off",
                "targeting": targeting
            }}
        })
        .to_string();
        let (snapshot, diagnostics) =
            Snapshot::from_text("t", &text, Format::Json, &CompileOptions::default())
                .expect("the flag file parses");
        assert_eq!(diagnostics, [], "the flag compiles cleanly");
        let entry = snapshot
            .flag_set_for("rollout", &Selector::All)
            .and_then(|set| set.get("rollout"));
        let Some(FlagEntry::Ready(flag)) = entry else {
            panic!("the flag is served: {entry:?}");
        };
        let root = match flag.targeting.as_ref().map(|rule| &rule.root) {
            Some(Node::If(args)) => args.iter().map(shape).collect::<Vec<_>>().join(", "),
            Some(other) => shape(other).to_owned(),
            None => "none".to_owned(),
        };
        expect.assert_eq(&format!("{root}\n{:?}", flag.branches));
    }

    /// The kind of a compiled node, as far as the branch plan cares.
    fn shape(node: &Node) -> &'static str {
        match node {
            Node::Const(_) => "constant",
            Node::Test(test) if matches!(**test, logic::Test::Group { .. }) => "group test",
            Node::Test(_) => "test",
            Node::Fractional {
                buckets: Some(_),
                slots: Some(_),
                ..
            } => "fractional (constant buckets, cat of slots)",
            Node::Fractional {
                buckets: Some(_), ..
            } => "fractional (constant buckets)",
            Node::Fractional { .. } => "fractional",
            _ => "other",
        }
    }

    fn rollout(buckets: Value) -> Value {
        let mut args = vec![json!({"cat": [{"var": "$flagd.flagKey"}, {"var": "email"}]})];
        args.extend(buckets.as_array().into_iter().flatten().cloned());
        json!({ "fractional": args })
    }

    #[test]
    fn rollouts_behind_a_condition_have_a_branch_plan() {
        // A segment `$ref` compiles to one group test, and the rollout under
        // it maps each bucket to its variant.
        check(
            json!({"if": [{"$ref": "beta"}, rollout(json!([["on", 20], ["off", 80]])), "off"]}),
            expect![[r#"
                group test, fractional (constant buckets, cat of slots), constant
                Some([Unknown, Buckets([Unknown, Variant(1), Variant(0)]), Variant(0)])"#]],
        );
        // The rollout as the last branch, and a bucket naming no variant or
        // null.
        check(
            json!({"if": [{"$ref": "beta"}, "on", rollout(json!([["on", 1], ["other", 1], [null, 1]]))]}),
            expect![[r#"
                group test, constant, fractional (constant buckets, cat of slots)
                Some([Unknown, Variant(1), Buckets([Unknown, Variant(1), Unknown, Null])])"#]],
        );
        // At the root, as before.
        check(
            rollout(json!([["on", 50], ["off", 50]])),
            expect![[r#"
                fractional (constant buckets, cat of slots)
                Some([Unknown, Variant(1), Variant(0)])"#]],
        );
        // A computed bucket leaves the rule to the general path.
        check(
            json!({"if": [{"$ref": "beta"}, rollout(json!([[{"var": "v"}, 50], ["off", 50]])), "off"]}),
            expect![[r#"
                group test, fractional, constant
                None"#]],
        );
    }
}
