//! SDK keys delivered with flag sets (by the Redis and feed sources): each
//! key, known only by the SHA-256 of its secret, binds a request to its flag
//! set, and a client key to that flag set's client-visible flags.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use engine::publication::Access;
use sha2::{Digest, Sha256};

/// What a valid SDK key grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    /// The flag set the key is bound to.
    pub flag_set: String,
    /// For a client key, the only flags it may evaluate.
    pub visible: Option<Arc<HashSet<String>>>,
}

/// Every known key, by hash.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: HashMap<String, KeyGrant>,
    /// Whether some flag set requires keys (even if none is live).
    required: bool,
}

impl KeyRing {
    /// Whether requests need no key: no flag set requires one.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && !self.required
    }

    /// The grant of the key whose secret this is.
    pub fn lookup(&self, secret: &str) -> Option<&KeyGrant> {
        if self.keys.is_empty() {
            return None;
        }
        self.keys.get(&hash(secret))
    }
}

/// The keys of every source, rebuilt into one ring when a source delivers.
#[derive(Debug, Default)]
pub struct SdkKeys {
    by_source: Mutex<BTreeMap<usize, Vec<(String, Access)>>>,
    ring: ArcSwap<KeyRing>,
}

impl SdkKeys {
    /// Replaces source `index`'s keys with those of its flag sets.
    pub fn set(&self, index: usize, sets: Vec<(String, Access)>) {
        let mut by_source = match self.by_source.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        by_source.insert(index, sets);
        let mut keys = HashMap::new();
        let mut required = false;
        for (flag_set, access) in by_source.values().flatten() {
            required |= access.requires_keys();
            let visible: Arc<HashSet<String>> =
                Arc::new(access.client_visible.iter().cloned().collect());
            for key in &access.keys {
                keys.insert(
                    key.hash.clone(),
                    KeyGrant {
                        flag_set: flag_set.clone(),
                        visible: key.client.then(|| Arc::clone(&visible)),
                    },
                );
            }
        }
        self.ring.store(Arc::new(KeyRing { keys, required }));
    }

    /// The current ring (lock-free).
    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring.load_full()
    }
}

/// SHA-256 of a secret, lowercase hex: how keys are stored and published.
pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use engine::publication::SdkKey;

    use super::*;

    #[test]
    fn keys_bind_their_flag_set_and_client_keys_their_visible_flags() {
        let keys = SdkKeys::default();
        assert!(keys.ring().is_empty());
        keys.set(
            0,
            vec![(
                "web".into(),
                Access {
                    keys: vec![
                        SdkKey {
                            hash: hash("server-secret"),
                            client: false,
                        },
                        SdkKey {
                            hash: hash("client-secret"),
                            client: true,
                        },
                    ],
                    client_visible: vec!["banner".into()],
                    required: true,
                },
            )],
        );
        let ring = keys.ring();
        let server = ring.lookup("server-secret").unwrap();
        assert_eq!((server.flag_set.as_str(), &server.visible), ("web", &None));
        let client = ring.lookup("client-secret").unwrap();
        assert!(client.visible.as_ref().unwrap().contains("banner"));
        assert!(ring.lookup("guess").is_none());
        // A new delivery of the same source replaces its keys; with every
        // key revoked, keys are still required.
        let revoked = Access {
            required: true,
            ..Access::default()
        };
        keys.set(0, vec![("web".into(), revoked)]);
        assert!(!keys.ring().is_empty());
        assert!(keys.ring().lookup("server-secret").is_none());
        keys.set(0, vec![("web".into(), Access::default())]);
        assert!(keys.ring().is_empty());
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
