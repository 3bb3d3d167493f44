//! The testbed's steps, evaluated through the current mode's client. The
//! step texts are the engine runner's; what they check is the same, except
//! that a mode which cannot see details checks only values.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{anyhow, bail, ensure};
use cucumber::gherkin::{Feature, Rule, Scenario, Step};
use cucumber::{World, given, then, when};
use serde_json::{Map, Value};

use conformance::steps;
use conformance::tags::fractional_version;
use conformance::typed::{ValueType, json_eq, unescape_quotes};
use engine::FractionalVersion;

use crate::modes::{Client, Mode};
use crate::outcome::{FlagRequest, Outcome};

/// One mode's run: its clients, one per suite and version.
#[derive(Debug)]
pub struct Run {
    pub mode: Mode,
    pub suites: Vec<(&'static str, Vec<PathBuf>)>,
    pub clients: Vec<(&'static str, FractionalVersion, Client)>,
}

/// The run the scenarios being executed belong to.
static CURRENT: Mutex<Option<Arc<Run>>> = Mutex::new(None);

/// Makes `run` the one new worlds use.
pub fn set_current(run: Option<Arc<Run>>) {
    *lock(&CURRENT) = run;
}

/// Per scenario: the client to use, the flag, the context and the result.
#[derive(Debug, World)]
#[world(init = Self::new)]
pub struct WireWorld {
    run: Option<Arc<Run>>,
    suite: Option<&'static str>,
    version: anyhow::Result<FractionalVersion>,
    ready: bool,
    flag: Option<FlagRequest>,
    context: Map<String, Value>,
    pub outcome: Option<Outcome>,
    /// Detail steps the mode cannot check, counted for the report.
    pub unchecked: usize,
}

impl WireWorld {
    fn new() -> Self {
        WireWorld {
            run: lock(&CURRENT).clone(),
            suite: None,
            version: Ok(FractionalVersion::default()),
            ready: false,
            flag: None,
            context: Map::new(),
            outcome: None,
            unchecked: 0,
        }
    }

    /// Picks the suite from the feature file and the scheme from the tags.
    pub fn prepare(&mut self, feature: &Feature, rule: Option<&Rule>, scenario: &Scenario) {
        self.suite = self.run.as_ref().and_then(|run| {
            let path = feature.path.as_deref()?;
            run.suites
                .iter()
                .find(|(_, files)| files.iter().any(|f| f == path))
                .map(|(name, _)| *name)
        });
        let tags = feature
            .tags
            .iter()
            .chain(rule.into_iter().flat_map(|r| &r.tags))
            .chain(&scenario.tags);
        self.version = fractional_version(tags)
            .map(Option::unwrap_or_default)
            .map_err(anyhow::Error::from);
    }

    fn mode(&self) -> Option<Mode> {
        self.run.as_ref().map(|r| r.mode)
    }

    fn client(&self) -> anyhow::Result<&Client> {
        let run = self
            .run
            .as_ref()
            .ok_or_else(|| anyhow!("no run is current"))?;
        let suite = self
            .suite
            .ok_or_else(|| anyhow!("the scenario belongs to no known suite"))?;
        let version = match &self.version {
            Ok(version) => *version,
            Err(e) => bail!("{e}"),
        };
        run.clients
            .iter()
            .find(|(s, v, _)| *s == suite && *v == version)
            .map(|(_, _, c)| c)
            .ok_or_else(|| anyhow!("no {suite} server for fractional {}", version.as_str()))
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

    /// Whether a detail step should be checked; counts it when not.
    fn checks_details(&mut self) -> bool {
        let checks = self.mode().is_some_and(Mode::checks_details);
        if !checks {
            self.unchecked += 1;
        }
        checks
    }
}

// Setup. The testbed's "evaluator" and "stable flagd provider" are both the
// server behind the mode's client.

#[given(regex = r"^an evaluator$")]
fn an_evaluator(world: &mut WireWorld) {
    world.ready = true;
}

#[given(regex = r"^a stable flagd provider$")]
fn a_stable_provider(world: &mut WireWorld) {
    world.ready = true;
}

#[given(regex = r#"^an option "([^"]*)" of type "([^"]*)" with value "(.*)"$"#)]
fn an_option(
    _world: &mut WireWorld,
    name: String,
    _ty: String,
    value: String,
) -> anyhow::Result<()> {
    // Every client is built without a cache already.
    ensure!(
        name == "cache" && value == "disabled",
        "provider option {name:?} = {value:?} is not one the wire runner's clients honour"
    );
    Ok(())
}

// The flag and the evaluation context (OpenFeature spec 1.3: flag evaluation
// with a key, a default value and an evaluation context).

#[given(
    regex = r#"^a (Boolean|String|Integer|Float|Object)-flag with key "([^"]*)" and a (?:default|fallback) value "(.*)"$"#
)]
fn a_flag(world: &mut WireWorld, ty: String, key: String, fallback: String) -> anyhow::Result<()> {
    world.flag = Some(FlagRequest::new(&ty, key, &fallback)?);
    Ok(())
}

#[given(regex = r#"^a context containing a targeting key with value "(.*)"$"#)]
fn a_targeting_key(world: &mut WireWorld, value: String) {
    steps::targeting_key(&mut world.context, &value);
}

#[given(
    regex = r#"^a context containing a key "([^"]*)", with type "([^"]*)" and with value "(.*)"$"#
)]
fn a_context_key(
    world: &mut WireWorld,
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
fn a_nested_property(world: &mut WireWorld, outer: String, inner: String, value: String) {
    steps::nested_property(&mut world.context, outer, inner, &value);
}

#[when(regex = r"^the flag was evaluated with details$")]
async fn evaluated(world: &mut WireWorld) -> anyhow::Result<()> {
    ensure!(
        world.ready,
        "no evaluator or provider was set up before evaluating"
    );
    let outcome = world
        .client()?
        .evaluate(world.flag()?, &world.context)
        .await?;
    world.outcome = Some(outcome);
    Ok(())
}

// Assertions on the evaluation details (OpenFeature spec 1.4).

#[then(regex = r#"^the resolved details value should be "(.*)"$"#)]
fn value_is(world: &mut WireWorld, expected: String) -> anyhow::Result<()> {
    let flag = world.flag()?;
    let outcome = world.outcome()?;
    let expected = flag.ty.parse(&unescape_quotes(&expected))?;
    ensure!(
        json_eq(&outcome.value, &expected),
        "flag {:?}: expected value {expected}, got {}",
        flag.key,
        outcome.describe()
    );
    Ok(())
}

#[then(regex = r#"^the reason should be "(.*)"$"#)]
fn reason_is(world: &mut WireWorld, expected: String) -> anyhow::Result<()> {
    if !world.checks_details() {
        return Ok(());
    }
    let outcome = world.outcome()?;
    ensure!(
        outcome.reason.as_deref() == Some(expected.as_str()),
        "flag {:?}: expected reason {expected}, got {}",
        world.flag()?.key,
        outcome.describe()
    );
    Ok(())
}

#[then(regex = r#"^the error-code should be "(.*)"$"#)]
fn error_code_is(world: &mut WireWorld, expected: String) -> anyhow::Result<()> {
    if !world.checks_details() {
        return Ok(());
    }
    let outcome = world.outcome()?;
    let actual = outcome.error.as_ref().map(|(code, _)| code.as_str());
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
fn variant_is(world: &mut WireWorld, expected: String) -> anyhow::Result<()> {
    if !world.checks_details() {
        return Ok(());
    }
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
fn metadata_contains(world: &mut WireWorld, step: &Step) -> anyhow::Result<()> {
    if !world.checks_details() {
        return Ok(());
    }
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
                "metadata {key:?}: expected {expected}, got {} ({})",
                actual.map_or_else(|| "nothing".to_owned(), Value::to_string),
                outcome.describe()
            ),
        }
    }
    Ok(())
}

#[then(regex = r"^the resolved metadata is empty$")]
fn metadata_is_empty(world: &mut WireWorld) -> anyhow::Result<()> {
    if !world.checks_details() {
        return Ok(());
    }
    let outcome = world.outcome()?;
    ensure!(
        outcome.metadata.is_empty(),
        "expected no metadata, got {}",
        outcome.describe()
    );
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
