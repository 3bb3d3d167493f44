//! The startup banner: one log line per listener saying where it is,
//! whether it uses TLS and whether it answers without a key, and a warning
//! for each surface that is open to the network in a way a production
//! deployment should not be.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where a listener is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A unix socket, reachable only from this machine.
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "{addr}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// What a listener asks of a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A static API key (`api-keys`) on every request.
    ApiKey,
    /// An SDK key for flag sets that have one; flag sets that never had
    /// one answer anyone.
    SdkKeys,
    /// An admin token on every request.
    AdminToken,
    /// Nothing: health, readiness and metrics.
    Open,
}

impl Access {
    /// The banner's name for it.
    fn as_str(self) -> &'static str {
        match self {
            Access::ApiKey => "api-key",
            Access::SdkKeys => "sdk-key-per-flag-set",
            Access::AdminToken => "admin-token",
            Access::Open => "none",
        }
    }

    /// Whether some request is answered without any key or token.
    pub fn answers_without_key(self) -> bool {
        matches!(self, Access::SdkKeys | Access::Open)
    }
}

/// One listener as the banner describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Its name in logs: ofrep, evaluation, sync, management, admin.
    pub name: &'static str,
    /// Where it is.
    pub endpoint: Endpoint,
    /// Whether it serves TLS.
    pub tls: bool,
    /// What it asks of callers.
    pub access: Access,
}

impl Listener {
    /// Whether it can be reached from other machines.
    fn reachable_from_network(&self) -> bool {
        match &self.endpoint {
            Endpoint::Tcp(addr) => !addr.ip().is_loopback(),
            Endpoint::Unix(_) => false,
        }
    }

    /// Why it is exposed in a way a production deployment should not be.
    pub fn warning(&self) -> Option<&'static str> {
        if self.tls || !self.reachable_from_network() {
            return None;
        }
        match self.access {
            Access::SdkKeys => Some(
                "Evaluation answers without any key over plain HTTP on a non-loopback \
                 address; configure api-keys or SDK keys, TLS, or bind to 127.0.0.1.",
            ),
            Access::AdminToken => Some(
                "Admin tokens cross plain HTTP on a non-loopback address; configure TLS \
                 or bind the admin listener to 127.0.0.1 (--admin-bind).",
            ),
            Access::ApiKey | Access::Open => None,
        }
    }
}

/// Logs one line per listener, and a warning for each exposed one.
pub fn announce(listeners: &[Listener]) {
    for listener in listeners {
        tracing::info!(
            listener = listener.name,
            addr = %listener.endpoint,
            tls = listener.tls,
            keys = listener.access.as_str(),
            without_key = listener.access.answers_without_key(),
            "Listening."
        );
        if let Some(warning) = listener.warning() {
            tracing::warn!(listener = listener.name, addr = %listener.endpoint, "{warning}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(addr: &str, tls: bool, access: Access, warned: bool) {
        let listener = Listener {
            name: "ofrep",
            endpoint: Endpoint::Tcp(addr.parse().expect("an address")),
            tls,
            access,
        };
        assert_eq!(listener.warning().is_some(), warned, "{listener:?}");
    }

    #[test]
    fn warnings_name_open_surfaces_reachable_over_plain_http() {
        check("0.0.0.0:8016", false, Access::SdkKeys, true);
        check("10.1.2.3:8016", false, Access::SdkKeys, true);
        check("[::]:8016", false, Access::SdkKeys, true);
        check("0.0.0.0:8017", false, Access::AdminToken, true);
        check("0.0.0.0:8016", true, Access::SdkKeys, false);
        check("127.0.0.1:8016", false, Access::SdkKeys, false);
        check("[::1]:8016", false, Access::SdkKeys, false);
        check("0.0.0.0:8016", false, Access::ApiKey, false);
        check("0.0.0.0:8014", false, Access::Open, false);
        check("127.0.0.1:8017", false, Access::AdminToken, false);
        let socket = Listener {
            name: "evaluation",
            endpoint: Endpoint::Unix("/run/ensign.sock".into()),
            tls: false,
            access: Access::SdkKeys,
        };
        assert_eq!(socket.warning(), None);
        assert_eq!(socket.endpoint.to_string(), "unix:/run/ensign.sock");
    }

    #[test]
    fn only_keys_on_every_request_close_a_surface() {
        assert!(Access::SdkKeys.answers_without_key());
        assert!(Access::Open.answers_without_key());
        assert!(!Access::ApiKey.answers_without_key());
        assert!(!Access::AdminToken.answers_without_key());
    }
}
