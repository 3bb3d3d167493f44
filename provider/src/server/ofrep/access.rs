//! Who may evaluate, and how often: static API keys (sent as `X-API-Key`
//! or `Authorization: Bearer`, as the OFREP document's security schemes
//! name them), each optionally bound to a selector, and a rate limit per
//! key, or per client address when no keys are configured.

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
use crate::server::ofrep::error::OfrepError;

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

/// Who is asking: a key, or an address when keys are off.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    Key(String),
    Address(IpAddr),
    Unknown,
}

/// The access policy of the OFREP listener.
#[derive(Debug, Clone, Default)]
pub struct Access {
    keys: HashMap<String, Option<Selector>>,
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

impl Access {
    /// A policy from configured keys (empty: no authentication) and an
    /// optional rate limit.
    pub fn new(keys: &[ApiKey], rate_limit: Option<RateLimit>) -> Access {
        let limiter = rate_limit.map(|limit| {
            let quota = Quota::per_second(limit.requests_per_second)
                .allow_burst(limit.burst.unwrap_or(limit.requests_per_second));
            Arc::new(RateLimiter::keyed(quota))
        });
        Access {
            keys: keys
                .iter()
                .map(|k| (k.key.clone(), k.selector.as_deref().map(Selector::parse)))
                .collect(),
            limiter,
        }
    }

    /// Admits or refuses a request from its credentials, address and the
    /// selector it asked for.
    ///
    /// `ring` holds the SDK keys delivered with the flag sets: a key found
    /// there is bound to its flag set (and, for a client key, to its
    /// client-visible flags). With no static key and no SDK key anywhere,
    /// requests need no key.
    pub fn admit(
        &self,
        ring: &KeyRing,
        api_key: Option<&str>,
        authorization: Option<&str>,
        peer: Option<IpAddr>,
        requested: Option<Selector>,
    ) -> Result<Grant, OfrepError> {
        let mut visible = None;
        let (client, bound) = if self.keys.is_empty() && ring.is_empty() {
            (peer.map_or(Client::Unknown, Client::Address), None)
        } else {
            let presented = api_key.map(str::trim).or_else(|| {
                authorization.and_then(|a| {
                    let (scheme, token) = a.trim().split_once(' ')?;
                    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
                })
            });
            let Some(presented) = presented else {
                return Err(OfrepError::Unauthorized);
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
                return Err(OfrepError::Unauthorized);
            }
        };
        if let Some(limiter) = &self.limiter
            && let Err(not_until) = limiter.check_key(&client)
        {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(OfrepError::TooManyRequests {
                retry_after: wait.max(Duration::from_secs(1)),
            });
        }
        let selector = match (bound, requested) {
            (Some(bound), Some(asked)) if asked != bound && asked != Selector::All => {
                return Err(OfrepError::Forbidden {
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
        access: &Access,
        api_key: Option<&str>,
        authorization: Option<&str>,
        asked: Option<&str>,
        expect: Result<&str, u16>,
    ) {
        let got = access
            .admit(
                &KeyRing::default(),
                api_key,
                authorization,
                None,
                asked.map(Selector::parse),
            )
            .map(|g| g.selector.to_string())
            .map_err(|e| e.status().as_u16());
        assert_eq!(got.as_deref().map_err(|e| *e), expect);
    }

    #[test]
    fn keys_admit_and_bind_selectors() {
        let access = Access::new(&keys(), None);
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
        let access = Access::new(&[], None);
        check(&access, None, None, Some("flagSetId=x"), Ok("flagSetId=x"));
    }

    #[test]
    fn rate_limits_count_per_key_and_per_address() {
        let limit = RateLimit {
            requests_per_second: NonZeroU32::MIN,
            burst: NonZeroU32::new(2),
        };
        let access = Access::new(&keys(), Some(limit));
        for _ in 0..2 {
            check(&access, Some("open"), None, None, Ok(""));
        }
        check(&access, Some("open"), None, None, Err(429));
        // Another key has its own bucket.
        check(&access, Some("shop-only"), None, None, Ok("flagSetId=shop"));

        let by_address = Access::new(&[], Some(limit));
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        assert!(
            by_address
                .admit(&KeyRing::default(), None, None, a, None)
                .is_ok()
        );
        assert!(
            by_address
                .admit(&KeyRing::default(), None, None, a, None)
                .is_ok()
        );
        let refused = by_address.admit(&KeyRing::default(), None, None, a, None);
        match refused {
            Err(OfrepError::TooManyRequests { retry_after }) => {
                assert!(retry_after >= Duration::from_secs(1));
            }
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(
            by_address
                .admit(&KeyRing::default(), None, None, b, None)
                .is_ok()
        );
    }
}
