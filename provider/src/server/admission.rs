//! Admission: who may evaluate or sync, under which selector, and how
//! often. One policy serves every evaluation and sync surface (OFREP single,
//! bulk and events; flagd gRPC evaluation v1 and v2, unary and streams;
//! flagd sync): static API keys (sent as `X-API-Key` or
//! `Authorization: Bearer`, as the OFREP document's security schemes name
//! them, or as the same gRPC metadata), each optionally bound to a
//! selector; the SDK keys delivered with the flag sets; and a rate limit per
//! key, or per client address when no keys are configured. Each protocol
//! turns a [`Refusal`] into its own answer at one conversion point.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

use engine::Selector;

use crate::server::keys::KeyRing;

/// One API key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ApiKey {
    /// The secret the client sends.
    pub key: String,
    /// If set, the only selector this key may evaluate under (applied when
    /// the request names none; a request naming another is refused).
    #[serde(default)]
    pub selector: Option<String>,
}

/// A token-bucket rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RateLimit {
    /// Sustained requests per second.
    pub requests_per_second: NonZeroU32,
    /// Requests allowed in a burst (default: one second's worth).
    #[serde(default)]
    pub burst: Option<NonZeroU32>,
}

/// What a caller presents: its credentials and address, as read from the
/// request by the protocol at hand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The `x-api-key` header or metadata.
    pub api_key: Option<&'a str>,
    /// The `authorization` header or metadata (`Bearer …`).
    pub authorization: Option<&'a str>,
    /// The peer's address (per-address rate limits read it).
    pub peer: Option<IpAddr>,
}

/// Why a caller is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Keys are required and none, or an unknown one, was presented.
    #[error("missing or unknown API key")]
    Unauthenticated,
    /// The key may not read under the selector asked for.
    #[error("this API key may not evaluate flags of selector {selector:?}")]
    Forbidden {
        /// The selector asked for.
        selector: String,
    },
    /// A client SDK key (for browsers and apps) asked for whole flag
    /// configurations.
    #[error("client SDK keys cannot sync flag configurations")]
    ClientKeySync,
    /// The caller's rate limit was hit.
    #[error("rate limit exceeded; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited {
        /// When a retry may succeed.
        retry_after: Duration,
    },
}

/// Who is asking: a key, or an address when keys are off.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    Key(String),
    Address(IpAddr),
    Unknown,
}

/// The admission policy of a server, shared by all its listeners (and so
/// one rate-limit bucket per key across them).
#[derive(Debug, Clone, Default)]
pub struct Admission {
    keys: Arc<HashMap<String, Option<Selector>>>,
    limiter: Option<Arc<DefaultKeyedRateLimiter<Client>>>,
}

/// What a request may do once admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The selector to evaluate under.
    pub selector: Selector,
    /// For a client SDK key, the only flags it may evaluate (others are
    /// answered as not found, and left out of bulk answers).
    pub visible: Option<Arc<HashSet<String>>>,
}

impl Grant {
    /// Whether the caller may evaluate flag `key`.
    pub fn allows(&self, key: &str) -> bool {
        self.visible
            .as_ref()
            .is_none_or(|visible| visible.contains(key))
    }

    /// Whether the caller may read rule structure (the OFREP explain
    /// header): static API keys, server SDK keys and callers of a node with
    /// no keys may; client SDK keys, which browsers hold, may not.
    pub fn may_explain(&self) -> bool {
        self.visible.is_none()
    }

    /// The selector of a sync call: client keys may not sync whole flag
    /// configurations.
    pub fn for_sync(self) -> Result<Selector, Refusal> {
        if self.visible.is_some() {
            return Err(Refusal::ClientKeySync);
        }
        Ok(self.selector)
    }
}

impl Admission {
    /// A policy from configured keys (empty: no authentication) and an
    /// optional rate limit.
    pub fn new(keys: &[ApiKey], rate_limit: Option<RateLimit>) -> Admission {
        let limiter = rate_limit.map(|limit| {
            let quota = Quota::per_second(limit.requests_per_second)
                .allow_burst(limit.burst.unwrap_or(limit.requests_per_second));
            Arc::new(RateLimiter::keyed(quota))
        });
        Admission {
            keys: Arc::new(
                keys.iter()
                    .map(|k| (k.key.clone(), k.selector.as_deref().map(Selector::parse)))
                    .collect(),
            ),
            limiter,
        }
    }

    /// Admits or refuses a request from its credentials and the selector it
    /// asked for.
    ///
    /// `ring` holds the SDK keys delivered with the flag sets: a key found
    /// there is bound to its flag set (and, for a client key, to its
    /// client-visible flags). With no static key and no SDK key anywhere,
    /// requests need no key.
    pub fn admit(
        &self,
        ring: &KeyRing,
        credentials: Credentials<'_>,
        requested: Option<Selector>,
    ) -> Result<Grant, Refusal> {
        let mut visible = None;
        let (client, bound) = if self.keys.is_empty() && ring.is_empty() {
            (
                credentials.peer.map_or(Client::Unknown, Client::Address),
                None,
            )
        } else {
            let presented = credentials.api_key.map(str::trim).or_else(|| {
                credentials.authorization.and_then(|a| {
                    let (scheme, token) = a.trim().split_once(' ')?;
                    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
                })
            });
            let Some(presented) = presented else {
                return Err(Refusal::Unauthenticated);
            };
            if let Some((key, bound)) = self.keys.get_key_value(presented) {
                (Client::Key(key.clone()), bound.clone())
            } else if let Some(grant) = ring.lookup(presented) {
                visible = grant.visible.clone();
                (
                    Client::Key(presented.to_owned()),
                    Some(Selector::FlagSetId(grant.flag_set.clone())),
                )
            } else {
                return Err(Refusal::Unauthenticated);
            }
        };
        if let Some(limiter) = &self.limiter
            && let Err(not_until) = limiter.check_key(&client)
        {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(Refusal::RateLimited {
                retry_after: wait.max(Duration::from_secs(1)),
            });
        }
        let selector = match (bound, requested) {
            (Some(bound), Some(asked)) if asked != bound && asked != Selector::All => {
                return Err(Refusal::Forbidden {
                    selector: asked.to_string(),
                });
            }
            (Some(bound), _) => bound,
            (None, asked) => asked.unwrap_or(Selector::All),
        };
        Ok(Grant { selector, visible })
    }

    /// Drops the rate limiter's state of clients that have been idle long
    /// enough to have a full bucket again.
    pub fn forget_idle_clients(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<ApiKey> {
        vec![
            ApiKey {
                key: "open".into(),
                selector: None,
            },
            ApiKey {
                key: "shop-only".into(),
                selector: Some("flagSetId=shop".into()),
            },
        ]
    }

    #[track_caller]
    fn check(
        access: &Admission,
        api_key: Option<&str>,
        authorization: Option<&str>,
        asked: Option<&str>,
        expect: Result<&str, u16>,
    ) {
        let credentials = Credentials {
            api_key,
            authorization,
            peer: None,
        };
        let got = access
            .admit(&KeyRing::default(), credentials, asked.map(Selector::parse))
            .map(|g| g.selector.to_string())
            .map_err(|e| match e {
                Refusal::Unauthenticated => 401,
                Refusal::Forbidden { .. } | Refusal::ClientKeySync => 403,
                Refusal::RateLimited { .. } => 429,
            });
        assert_eq!(got.as_deref().map_err(|e| *e), expect);
    }

    #[test]
    fn keys_admit_and_bind_selectors() {
        let access = Admission::new(&keys(), None);
        check(&access, None, None, None, Err(401));
        check(&access, Some("wrong"), None, None, Err(401));
        check(&access, None, Some("Basic open"), None, Err(401));
        check(&access, Some("open"), None, None, Ok(""));
        check(
            &access,
            None,
            Some("Bearer open"),
            Some("source=a.json"),
            Ok("source=a.json"),
        );
        check(
            &access,
            None,
            Some("bearer  shop-only"),
            None,
            Ok("flagSetId=shop"),
        );
        check(
            &access,
            Some("shop-only"),
            None,
            Some("flagSetId=shop"),
            Ok("flagSetId=shop"),
        );
        check(
            &access,
            Some("shop-only"),
            None,
            Some("flagSetId=other"),
            Err(403),
        );
    }

    #[test]
    fn without_keys_everyone_is_admitted() {
        let access = Admission::new(&[], None);
        check(&access, None, None, Some("flagSetId=x"), Ok("flagSetId=x"));
    }

    #[test]
    fn rate_limits_count_per_key_and_per_address() {
        let limit = RateLimit {
            requests_per_second: NonZeroU32::MIN,
            burst: NonZeroU32::new(2),
        };
        let access = Admission::new(&keys(), Some(limit));
        for _ in 0..2 {
            check(&access, Some("open"), None, None, Ok(""));
        }
        check(&access, Some("open"), None, None, Err(429));
        // Another key has its own bucket.
        check(&access, Some("shop-only"), None, None, Ok("flagSetId=shop"));

        let by_address = Admission::new(&[], Some(limit));
        let from = |peer: [u8; 4]| Credentials {
            peer: Some(IpAddr::from(peer)),
            ..Credentials::default()
        };
        let (a, b) = (from([10, 0, 0, 1]), from([10, 0, 0, 2]));
        assert!(by_address.admit(&KeyRing::default(), a, None).is_ok());
        assert!(by_address.admit(&KeyRing::default(), a, None).is_ok());
        let refused = by_address.admit(&KeyRing::default(), a, None);
        match refused {
            Err(Refusal::RateLimited { retry_after }) => {
                assert!(retry_after >= Duration::from_secs(1));
            }
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(by_address.admit(&KeyRing::default(), b, None).is_ok());
    }
}
