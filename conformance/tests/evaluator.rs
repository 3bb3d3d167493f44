//! Runs the flagd-testbed evaluator suite, and the provider-level targeting
//! suite, against the engine in-process (`cargo test -p conformance --test evaluator`).
//!
//! Every scenario runs against a snapshot compiled once, up front, for the
//! fractional bucketing scheme its `@fractional-vN` tags ask for (flagd's
//! default, v2, when untagged). Steps that only make sense for a provider
//! talking to a flagd server skip their scenario with the reason printed;
//! any other step the runner does not know fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use anyhow::{Context as _, anyhow, bail, ensure};
use cucumber::event::ScenarioFinished;
use cucumber::gherkin::{Feature, Rule, Scenario, Step};
use cucumber::writer::Stats as _;
use cucumber::{World, given, then, when};
use futures::FutureExt as _;
use futures::future;
use serde_json::{Map, Value};

use conformance::features::{FeatureFiles, display_path};
use conformance::pins::{self, Counted, Pin};
use conformance::steps::{self, FlagRequest};
use conformance::suites::{SUITES, SuiteSpec};
use conformance::tags::{TagError, fractional_version};
use conformance::typed::{ValueType, json_eq, unescape_quotes};
use engine::{CompileOptions, FlagSet, FractionalVersion, Selector, Snapshot, SourceState, model};

/// Every bucketing scheme gets its own snapshot.
const VERSIONS: [FractionalVersion; 3] = [
    FractionalVersion::V1,
    FractionalVersion::V2,
    FractionalVersion::V3,
];

/// Steps that only mean something to a provider connected to a flagd server
/// (matched as substrings), and why an in-process engine cannot run them.
const PROVIDER_ONLY_STEPS: [(&str, &str); 7] = [
    (
        "event handler",
        "provider events come from a provider's connection, not from the engine",
    ),
    (
        "event was fired",
        "provider events come from a provider's connection, not from the engine",
    ),
    (
        "the connection is lost",
        "connection loss concerns a provider talking to a flagd server",
    ),
    (
        "should be in fatal state",
        "connection loss concerns a provider talking to a flagd server",
    ),
    (
        "the flag was modified",
        "flag changes reach a provider through a sync stream, not an evaluation",
    ),
    (
        "a config was initialized",
        "provider configuration has no in-process counterpart",
    ),
    (
        "an environment variable",
        "provider configuration has no in-process counterpart",
    ),
];

/// Provider options that only tune transport or caching: no-ops in-process.
const NO_OP_OPTIONS: [&str; 9] = [
    "cache",
    "maxCacheSize",
    "resolver",
    "deadlineMs",
    "streamDeadlineMs",
    "keepAliveTime",
    "retryBackoffMs",
    "retryBackoffMaxMs",
    "retryGracePeriod",
];

/// Scenarios per suite that pass and that are skipped (with a reason), all
/// fractional versions together. A run that differs fails: changing a count
/// is a reviewed edit (see `conformance::pins`).
const EXPECTED: &[Pin] = &[
    Pin {
        mode: "evaluator",
        passed: 140,
        skipped: 0,
    },
    Pin {
        mode: "targeting",
        passed: 245,
        skipped: 0,
    },
];

/// Every suite, loaded once before the run (a load error is kept as its message).
static CATALOG: OnceLock<Result<Vec<Suite>, String>> = OnceLock::new();
static SKIPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SKIPPED_BY_SUITE: Mutex<BTreeMap<&'static str, usize>> = Mutex::new(BTreeMap::new());
static TALLY: Mutex<BTreeMap<(&'static str, String), Tally>> = Mutex::new(BTreeMap::new());

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("conformance: error: {e:#}");
            println!("conformance: 0 passed, 1 failed, 0 skipped");
            ExitCode::FAILURE
        }
    }
}

/// Runs every suite; `Ok(false)` when a scenario failed.
fn run() -> anyhow::Result<bool> {
    let dir = conformance::conformance_dir();
    let suites = match CATALOG.get_or_init(|| load_suites(&dir)) {
        Ok(suites) => suites,
        Err(message) => bail!("{message}"),
    };
    let files: Vec<PathBuf> = suites
        .iter()
        .flat_map(|s| s.features.iter().cloned())
        .collect();

    let skip_dir = dir.clone();
    let writer = futures::executor::block_on(
        EngineWorld::cucumber::<PathBuf>()
            .with_parser(FeatureFiles)
            .before(|feature, rule, scenario, world| {
                world.prepare(feature, rule, scenario);
                future::ready(()).boxed_local()
            })
            .after(|_, _, _, finished, world| {
                record(finished, world.as_deref());
                future::ready(()).boxed_local()
            })
            .fail_on_skipped()
            .with_cli(conformance::cli::options())
            .filter_run(files, move |feature, rule, scenario| {
                match skip_reason(feature, rule, scenario) {
                    Some(reason) => {
                        let line = format!(
                            "SKIPPED {}:{} \"{}\": {reason}",
                            display_path(feature.path.as_deref(), &skip_dir),
                            scenario.position.line,
                            scenario.name,
                        );
                        lock(&SKIPPED).push(line);
                        let suite = suite_of(feature.path.as_deref()).map_or("unknown", |s| s.name);
                        *lock(&SKIPPED_BY_SUITE).entry(suite).or_default() += 1;
                        false
                    }
                    None => true,
                }
            }),
    );

    println!();
    println!("conformance: scenarios by suite and fractional version");
    for ((suite, version), tally) in lock(&TALLY).iter() {
        println!(
            "  {suite} suite, fractional {version}: passed {}, failed {}",
            tally.passed, tally.failed
        );
    }
    let skipped = lock(&SKIPPED);
    for line in skipped.iter() {
        println!("{line}");
    }
    let stats = writer.scenarios_stats();
    if stats.skipped > 0 {
        println!(
            "conformance: {} scenario(s) skipped without a stated reason count as failed",
            stats.skipped
        );
    }
    let passed = stats.passed;
    let failed = stats.failed + stats.skipped + writer.parsing_errors();
    println!(
        "conformance: {passed} passed, {failed} failed, {} skipped",
        skipped.len()
    );
    let mut counted: Vec<Counted> = Vec::new();
    let by_suite = lock(&SKIPPED_BY_SUITE);
    for suite in suites {
        let passed = lock(&TALLY)
            .iter()
            .filter(|((name, _), _)| *name == suite.name)
            .map(|(_, tally)| tally.passed)
            .sum();
        let skipped = by_suite.get(suite.name).copied().unwrap_or(0);
        println!(
            "conformance[{}]: {passed} passed, {skipped} skipped",
            suite.name
        );
        counted.push(Counted {
            mode: suite.name.to_owned(),
            passed,
            skipped,
        });
    }
    for (suite, skipped) in by_suite.iter() {
        if !suites.iter().any(|s| s.name == *suite) {
            counted.push(Counted {
                mode: (*suite).to_owned(),
                passed: 0,
                skipped: *skipped,
            });
        }
    }
    let pinned = pins::check("evaluator", EXPECTED, &counted);
    if let Err(mismatch) = &pinned {
        println!("{mismatch}");
    }
    Ok(failed == 0 && passed > 0 && !writer.execution_has_failed() && pinned.is_ok())
}

/// A suite ready to run: its feature files and one snapshot per scheme.
#[derive(Debug)]
struct Suite {
    name: &'static str,
    features: Vec<PathBuf>,
    snapshots: Vec<(FractionalVersion, Snapshot)>,
}

impl Suite {
    /// Reads a suite's files and compiles its flags for every scheme.
    fn load(dir: &Path, spec: &SuiteSpec) -> anyhow::Result<Suite> {
        let features = spec.feature_paths(dir)?;
        let document = spec.flag_document(dir)?;
        let source = spec.source_name();
        let (file, diagnostics) =
            model::from_value(document).with_context(|| format!("reading {source}"))?;
        for diagnostic in diagnostics {
            println!("conformance: {}: {diagnostic}", spec.name);
        }

        let mut snapshots = Vec::new();
        for version in VERSIONS {
            let options = CompileOptions {
                fractional: version,
                ..CompileOptions::default()
            };
            let (set, diagnostics) = FlagSet::compile(&source, &file, &options, None);
            // The diagnostics do not depend on the scheme: show them once.
            if version == FractionalVersion::default() {
                for diagnostic in diagnostics {
                    println!("conformance: {} flags: {diagnostic}", spec.name);
                }
            }
            let snapshot = Snapshot::from_sources(vec![SourceState {
                name: Arc::from(source.as_str()),
                set: Arc::new(set),
            }]);
            snapshots.push((version, snapshot));
        }
        Ok(Suite {
            name: spec.name,
            features,
            snapshots,
        })
    }

    fn snapshot(&self, version: FractionalVersion) -> Option<&Snapshot> {
        self.snapshots
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, s)| s)
    }
}

/// Loads every suite of [`SUITES`].
fn load_suites(dir: &Path) -> Result<Vec<Suite>, String> {
    SUITES
        .iter()
        .map(|spec| {
            Suite::load(dir, spec).with_context(|| format!("loading the {} suite", spec.name))
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(|e| format!("{e:#}"))
}

/// The suite a feature file belongs to.
fn suite_of(path: Option<&Path>) -> Option<&'static Suite> {
    let path = path?;
    let suites = CATALOG.get()?.as_ref().ok()?;
    suites.iter().find(|s| s.features.iter().any(|f| f == path))
}

/// What an evaluation produced, owned so that it outlives the snapshot borrow.
#[derive(Debug, Clone)]
struct Outcome {
    /// The flag's value, or `None` when the caller's fallback applies.
    value: Option<Value>,
    variant: Option<String>,
    reason: &'static str,
    error: Option<(&'static str, String)>,
    metadata: Map<String, Value>,
    version: FractionalVersion,
}

impl Outcome {
    /// A one-line account for assertion messages.
    fn describe(&self) -> String {
        let mut text = format!("reason {}, variant {:?}", self.reason, self.variant);
        if let Some((code, message)) = &self.error {
            text.push_str(&format!(", error {code}: {message}"));
        }
        if self.value.is_none() {
            text.push_str(", the fallback value applied");
        }
        text.push_str(&format!(", fractional {}", self.version.as_str()));
        text
    }
}

/// Per scenario: the snapshot to use, the flag, the context and the result.
#[derive(Debug, World)]
#[world(init = Self::new)]
struct EngineWorld {
    suite: Option<&'static Suite>,
    version: Result<FractionalVersion, TagError>,
    /// Whether a `@fractional-vN` tag chose the version.
    version_tagged: bool,
    /// Set by "an evaluator" or "a stable flagd provider".
    ready: bool,
    flag: Option<FlagRequest>,
    context: Map<String, Value>,
    outcome: Option<Outcome>,
}

impl EngineWorld {
    fn new() -> Self {
        EngineWorld {
            suite: None,
            version: Ok(FractionalVersion::default()),
            version_tagged: false,
            ready: false,
            flag: None,
            context: Map::new(),
            outcome: None,
        }
    }

    /// Picks the suite from the feature file and the scheme from the tags.
    fn prepare(&mut self, feature: &Feature, rule: Option<&Rule>, scenario: &Scenario) {
        self.suite = suite_of(feature.path.as_deref());
        let tags = feature
            .tags
            .iter()
            .chain(rule.into_iter().flat_map(|r| &r.tags))
            .chain(&scenario.tags);
        let tagged = fractional_version(tags);
        self.version_tagged = matches!(tagged, Ok(Some(_)));
        self.version = tagged.map(Option::unwrap_or_default);
    }

    fn snapshot(&self) -> anyhow::Result<(&'static Snapshot, FractionalVersion)> {
        let suite = self
            .suite
            .ok_or_else(|| anyhow!("the scenario belongs to no known suite"))?;
        let version = self.version.clone()?;
        let snapshot = suite.snapshot(version).ok_or_else(|| {
            anyhow!(
                "no snapshot was compiled for fractional {}",
                version.as_str()
            )
        })?;
        Ok((snapshot, version))
    }

    fn flag(&self) -> anyhow::Result<&FlagRequest> {
        self.flag
            .as_ref()
            .ok_or_else(|| anyhow!("no flag was given before this step"))
    }

    fn outcome(&self) -> anyhow::Result<&Outcome> {
        self.outcome
            .as_ref()
            .ok_or_else(|| anyhow!("the flag was not evaluated before this step"))
    }
}

// Setup. The testbed's "evaluator" is the engine itself; its "stable flagd
// provider" is the engine serving the provider suite's flag files.

#[given(regex = r"^an evaluator$")]
fn an_evaluator(world: &mut EngineWorld) {
    world.ready = true;
}

#[given(regex = r"^a stable flagd provider$")]
fn a_stable_provider(world: &mut EngineWorld) {
    world.ready = true;
}

#[given(regex = r#"^an option "([^"]*)" of type "([^"]*)" with value "(.*)"$"#)]
fn an_option(
    _world: &mut EngineWorld,
    name: String,
    _ty: String,
    value: String,
) -> anyhow::Result<()> {
    ensure!(
        NO_OP_OPTIONS.contains(&name.as_str()),
        "provider option {name:?} = {value:?} would change what is evaluated; this in-process runner cannot honour it"
    );
    Ok(())
}

// The flag and the evaluation context (OpenFeature spec 1.3: flag evaluation
// with a key, a default value and an evaluation context).

#[given(
    regex = r#"^a (Boolean|String|Integer|Float|Object)-flag with key "([^"]*)" and a (?:default|fallback) value "(.*)"$"#
)]
fn a_flag(
    world: &mut EngineWorld,
    ty: String,
    key: String,
    fallback: String,
) -> anyhow::Result<()> {
    world.flag = Some(FlagRequest::new(&ty, key, &fallback)?);
    Ok(())
}

#[given(regex = r#"^a context containing a targeting key with value "(.*)"$"#)]
fn a_targeting_key(world: &mut EngineWorld, value: String) {
    steps::targeting_key(&mut world.context, &value);
}

#[given(
    regex = r#"^a context containing a key "([^"]*)", with type "([^"]*)" and with value "(.*)"$"#
)]
fn a_context_key(
    world: &mut EngineWorld,
    key: String,
    ty: String,
    value: String,
) -> anyhow::Result<()> {
    steps::context_value(&mut world.context, key, &ty, &value)?;
    Ok(())
}

#[given(
    regex = r#"^a context containing a nested property with outer key "([^"]*)" and inner key "([^"]*)", with value "(.*)"$"#
)]
fn a_nested_property(world: &mut EngineWorld, outer: String, inner: String, value: String) {
    steps::nested_property(&mut world.context, outer, inner, &value);
}

#[when(regex = r"^the flag was evaluated with details$")]
fn evaluated(world: &mut EngineWorld) -> anyhow::Result<()> {
    ensure!(
        world.ready,
        "no evaluator or provider was set up before evaluating"
    );
    let (snapshot, version) = world.snapshot()?;
    let flag = world.flag()?;
    let context = Value::Object(world.context.clone());
    let resolution = snapshot
        .evaluate(&flag.key, &Selector::All, &context)
        .expect_type(flag.ty.flag_type());
    let outcome = Outcome {
        value: resolution.value.cloned(),
        variant: resolution.variant.map(str::to_owned),
        reason: resolution.reason.as_str(),
        error: resolution.error.map(|e| (e.code.as_str(), e.message)),
        metadata: resolution.metadata.clone(),
        version,
    };
    world.outcome = Some(outcome);
    Ok(())
}

// Assertions on the evaluation details (OpenFeature spec 1.4).

#[then(regex = r#"^the resolved details value should be "(.*)"$"#)]
fn value_is(world: &mut EngineWorld, expected: String) -> anyhow::Result<()> {
    let flag = world.flag()?;
    let outcome = world.outcome()?;
    let expected = flag.ty.parse(&unescape_quotes(&expected))?;
    // As in an OpenFeature SDK, no value from the flag means the fallback.
    let actual = outcome.value.as_ref().unwrap_or(&flag.fallback);
    ensure!(
        json_eq(actual, &expected),
        "flag {:?}: expected value {expected}, got {actual} ({})",
        flag.key,
        outcome.describe()
    );
    Ok(())
}

#[then(regex = r#"^the reason should be "(.*)"$"#)]
fn reason_is(world: &mut EngineWorld, expected: String) -> anyhow::Result<()> {
    let outcome = world.outcome()?;
    ensure!(
        outcome.reason == expected,
        "flag {:?}: expected reason {expected}, got {}",
        world.flag()?.key,
        outcome.describe()
    );
    Ok(())
}

#[then(regex = r#"^the error-code should be "(.*)"$"#)]
fn error_code_is(world: &mut EngineWorld, expected: String) -> anyhow::Result<()> {
    let outcome = world.outcome()?;
    let actual = outcome.error.as_ref().map(|(code, _)| *code);
    // An empty code in an examples table means "no error".
    let expected = Some(expected.as_str()).filter(|code| !code.is_empty());
    ensure!(
        actual == expected,
        "flag {:?}: expected error code {}, got {}",
        world.flag()?.key,
        expected.unwrap_or("none"),
        outcome.describe()
    );
    Ok(())
}

#[then(regex = r#"^the variant should be "(.*)"$"#)]
fn variant_is(world: &mut EngineWorld, expected: String) -> anyhow::Result<()> {
    let outcome = world.outcome()?;
    let expected = Some(expected).filter(|v| !v.is_empty());
    ensure!(
        outcome.variant == expected,
        "flag {:?}: expected variant {expected:?}, got {}",
        world.flag()?.key,
        outcome.describe()
    );
    Ok(())
}

#[then(regex = r"^the resolved metadata should contain$")]
fn metadata_contains(world: &mut EngineWorld, step: &Step) -> anyhow::Result<()> {
    let outcome = world.outcome()?;
    let table = step
        .table
        .as_ref()
        .ok_or_else(|| anyhow!("the step has no table"))?;
    let (header, rows) = table
        .rows
        .split_first()
        .ok_or_else(|| anyhow!("the table is empty"))?;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| anyhow!("the table has no {name:?} column"))
    };
    let (key_at, type_at, value_at) = (column("key")?, column("metadata_type")?, column("value")?);
    for row in rows {
        let cell = |at: usize| row.get(at).map(String::as_str).unwrap_or_default();
        let key = cell(key_at);
        let ty: ValueType = cell(type_at).parse()?;
        let expected = ty.parse(cell(value_at))?;
        match outcome.metadata.get(key) {
            Some(actual) if json_eq(actual, &expected) => {}
            actual => bail!(
                "metadata {key:?}: expected {expected}, got {} (all metadata: {})",
                actual.map_or_else(|| "nothing".to_owned(), Value::to_string),
                Value::Object(outcome.metadata.clone())
            ),
        }
    }
    Ok(())
}

#[then(regex = r"^the resolved metadata is empty$")]
fn metadata_is_empty(world: &mut EngineWorld) -> anyhow::Result<()> {
    let outcome = world.outcome()?;
    ensure!(
        outcome.metadata.is_empty(),
        "expected no metadata, got {}",
        Value::Object(outcome.metadata.clone())
    );
    Ok(())
}

/// Why a scenario cannot run in-process, if it cannot.
fn skip_reason(feature: &Feature, rule: Option<&Rule>, scenario: &Scenario) -> Option<String> {
    let steps = feature
        .background
        .iter()
        .chain(rule.and_then(|r| r.background.as_ref()))
        .flat_map(|b| &b.steps)
        .chain(&scenario.steps);
    for step in steps {
        let text = step.value.as_str();
        if let Some(kind) = text
            .strip_prefix("a ")
            .and_then(|t| t.strip_suffix(" flagd provider"))
            && kind != "stable"
        {
            return Some(format!(
                "needs a flagd server in the {kind:?} state, which an in-process engine has not"
            ));
        }
        if let Some((_, reason)) = PROVIDER_ONLY_STEPS
            .iter()
            .find(|(needle, _)| text.contains(needle))
        {
            return Some(format!("{reason} (step \"{text}\")"));
        }
    }
    None
}

/// Scenario counts per suite and scheme.
#[derive(Debug, Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

/// Counts a finished scenario (a skipped step is an unknown one: a failure).
fn record(finished: &ScenarioFinished, world: Option<&EngineWorld>) {
    let (suite, version) = match world {
        Some(world) => (
            world.suite.map_or("unknown", |s| s.name),
            match &world.version {
                Ok(version) if world.version_tagged => version.as_str().to_owned(),
                Ok(version) => format!("{} (untagged, the default)", version.as_str()),
                Err(_) => "(conflicting tags)".to_owned(),
            },
        ),
        None => ("unknown", "unknown".to_owned()),
    };
    let mut tally = lock(&TALLY);
    let entry = tally.entry((suite, version)).or_default();
    match finished {
        ScenarioFinished::StepPassed => entry.passed += 1,
        _ => entry.failed += 1,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
