//! The clients the suites run through, and what each is known not to do.

use cucumber::gherkin::{Feature, Scenario};

use crate::grpc::{GrpcClient, Version};
use crate::ofrep::OfrepClient;
use crate::outcome::{FlagRequest, Outcome};
use crate::sdk::{ProviderKind, SdkClient};
use crate::servers::Entry;

use serde_json::{Map, Value};

/// One way of reaching the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// (a) Raw OFREP requests, every response field checked.
    Ofrep,
    /// (a) Raw flagd evaluation v1 gRPC calls, every response field checked.
    GrpcV1,
    /// (a) Raw flagd evaluation v2 gRPC calls, every response field checked.
    GrpcV2,
    /// (b) `open-feature-flagd` in RPC mode against the evaluation port.
    FlagdRpc,
    /// (c) `open-feature-flagd` in in-process mode, syncing from the sync
    /// port and evaluating with its own engine.
    FlagdInProcess,
    /// (e) `open-feature-ofrep`: values only (it reports every reason as
    /// STATIC and drops flag metadata).
    OfrepProvider,
    /// (d) Ensign's own Rust provider (`provider::client`) in in-process
    /// mode, syncing from the sync port.
    EnsignInProcess,
    /// (d) Ensign's own Rust provider in remote mode, over OFREP.
    EnsignRemote,
}

/// Every mode, in the order they run and report.
pub const MODES: [Mode; 8] = [
    Mode::Ofrep,
    Mode::GrpcV1,
    Mode::GrpcV2,
    Mode::FlagdRpc,
    Mode::FlagdInProcess,
    Mode::OfrepProvider,
    Mode::EnsignInProcess,
    Mode::EnsignRemote,
];

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Ofrep => "ofrep",
            Mode::GrpcV1 => "grpc-v1",
            Mode::GrpcV2 => "grpc-v2",
            Mode::FlagdRpc => "flagd-rpc",
            Mode::FlagdInProcess => "flagd-in-process",
            Mode::OfrepProvider => "ofrep-provider",
            Mode::EnsignInProcess => "ensign-in-process",
            Mode::EnsignRemote => "ensign-remote",
        }
    }

    /// Whether reason, variant, error code and metadata steps are checked
    /// (otherwise only values are).
    pub fn checks_details(self) -> bool {
        self != Mode::OfrepProvider
    }

    /// A client of this mode for one server.
    pub async fn connect(self, entry: &Entry) -> anyhow::Result<Client> {
        let name = format!("{}/{}/{}", self.name(), entry.suite, entry.version.as_str());
        let server = &entry.server;
        let evaluation_addr = || {
            server
                .evaluation_addr
                .ok_or_else(|| anyhow::anyhow!("the evaluation service has no TCP address"))
        };
        let sync_addr = || {
            server
                .sync_addr
                .ok_or_else(|| anyhow::anyhow!("the sync service has no TCP address"))
        };
        Ok(match self {
            Mode::Ofrep => Client::Ofrep(OfrepClient::new(format!("http://{}", server.ofrep_addr))),
            Mode::GrpcV1 => {
                Client::Grpc(GrpcClient::connect(Version::V1, evaluation_addr()?).await?)
            }
            Mode::GrpcV2 => {
                Client::Grpc(GrpcClient::connect(Version::V2, evaluation_addr()?).await?)
            }
            Mode::FlagdRpc => {
                let addr = evaluation_addr()?;
                Client::Sdk(
                    SdkClient::connect(ProviderKind::FlagdRpc, addr, entry.version, &name).await?,
                )
            }
            Mode::FlagdInProcess => Client::Sdk(
                SdkClient::connect(
                    ProviderKind::FlagdInProcess,
                    sync_addr()?,
                    entry.version,
                    &name,
                )
                .await?,
            ),
            Mode::OfrepProvider => Client::Sdk(
                SdkClient::connect(ProviderKind::Ofrep, server.ofrep_addr, entry.version, &name)
                    .await?,
            ),
            Mode::EnsignInProcess => Client::Sdk(
                SdkClient::connect(
                    ProviderKind::EnsignInProcess,
                    sync_addr()?,
                    entry.version,
                    &name,
                )
                .await?,
            ),
            Mode::EnsignRemote => Client::Sdk(
                SdkClient::connect(
                    ProviderKind::EnsignRemote,
                    server.ofrep_addr,
                    entry.version,
                    &name,
                )
                .await?,
            ),
        })
    }

    /// Flags left out of this mode's flag documents (see
    /// [`crate::exclusions::FLAGD_IN_PROCESS_OMITTED`]).
    pub fn omitted_flags(self) -> &'static [&'static str] {
        match self {
            Mode::FlagdInProcess => crate::exclusions::FLAGD_IN_PROCESS_OMITTED,
            _ => &[],
        }
    }

    /// Scenarios and examples this mode does not run, each with its reason.
    pub fn exclusions(self) -> &'static [Exclusion] {
        match self {
            Mode::Ofrep | Mode::GrpcV2 => &[],
            Mode::GrpcV1 => crate::exclusions::GRPC_V1,
            Mode::FlagdRpc => crate::exclusions::FLAGD_RPC,
            Mode::FlagdInProcess => crate::exclusions::FLAGD_IN_PROCESS,
            Mode::OfrepProvider => crate::exclusions::OFREP_PROVIDER,
            Mode::EnsignInProcess | Mode::EnsignRemote => crate::exclusions::ENSIGN_PROVIDER,
        }
    }

    /// Examples that fail because of a known server bug.
    pub fn known_failures(self) -> &'static [Exclusion] {
        match self {
            Mode::Ofrep => crate::exclusions::SERVER_BUGS_OFREP,
            Mode::GrpcV1 | Mode::GrpcV2 | Mode::FlagdRpc => crate::exclusions::SERVER_BUGS_GRPC,
            Mode::FlagdInProcess => crate::exclusions::SERVER_BUGS_SYNC,
            Mode::OfrepProvider | Mode::EnsignInProcess | Mode::EnsignRemote => &[],
        }
    }
}

/// A connected client.
#[derive(Debug)]
pub enum Client {
    Ofrep(OfrepClient),
    Grpc(GrpcClient),
    Sdk(SdkClient),
}

impl Client {
    pub async fn evaluate(
        &self,
        flag: &FlagRequest,
        context: &Map<String, Value>,
    ) -> anyhow::Result<Outcome> {
        match self {
            Client::Ofrep(client) => client.evaluate(flag, context).await,
            Client::Grpc(client) => client.evaluate(flag, context).await,
            Client::Sdk(client) => client.evaluate(flag, context).await,
        }
    }
}

/// A scenario, or some examples of it, picked out of the suites.
#[derive(Debug)]
pub struct Exclusion {
    /// The feature file's name, such as `fractional.feature`.
    pub feature: &'static str,
    /// The scenario's name, or `None` for every scenario of the feature.
    pub scenario: Option<&'static str>,
    /// A tag the scenario or its examples carry, without `@`.
    pub tag: Option<&'static str>,
    /// Text one of the scenario's steps contains.
    pub step: Option<&'static str>,
    /// Cells the example row holds, every one of them.
    pub cells: &'static [&'static str],
    /// Why.
    pub reason: &'static str,
}

/// An exclusion that matches everything, to be narrowed with `..`.
pub const ANY: Exclusion = Exclusion {
    feature: "",
    scenario: None,
    tag: None,
    step: None,
    cells: &[],
    reason: "",
};

impl Exclusion {
    pub fn matches(&self, feature: &Feature, scenario: &Scenario) -> bool {
        let file = feature
            .path
            .as_deref()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let row: &[String] = scenario
            .examples
            .first()
            .and_then(|e| e.table.as_ref())
            .and_then(|t| t.rows.get(1))
            .map_or(&[], Vec::as_slice);
        let steps = feature
            .background
            .iter()
            .flat_map(|b| &b.steps)
            .chain(&scenario.steps);
        (self.feature.is_empty() || self.feature == file)
            && self.scenario.is_none_or(|name| name == scenario.name)
            && self
                .tag
                .is_none_or(|tag| scenario.tags.iter().chain(&feature.tags).any(|t| t == tag))
            && self
                .step
                .is_none_or(|text| steps.into_iter().any(|s| s.value.contains(text)))
            && self.cells.iter().all(|cell| row.iter().any(|c| c == cell))
    }
}

/// The first of `list` that matches, if any.
pub fn find<'a>(
    list: &'a [Exclusion],
    feature: &Feature,
    scenario: &Scenario,
) -> Option<&'a Exclusion> {
    list.iter().find(|e| e.matches(feature, scenario))
}
