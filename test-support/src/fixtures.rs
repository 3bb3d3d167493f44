//! Small store fixtures the store's and the admin side's tests share: a
//! boolean flag, a flag input, and a flag set to write into.

use serde_json::{Value, json};
use store::{Actor, FlagInput, NewFlagSet, Store};

/// A boolean flag (`on`/`off`) whose default variant is `default`.
pub fn boolean_flag(default: &str) -> Value {
    json!({
        "state": "ENABLED",
        "variants": {"on": true, "off": false},
        "defaultVariant": default,
    })
}

/// A flag write of `definition`, with the default settings.
pub fn input(definition: Value) -> FlagInput {
    FlagInput {
        definition,
        client_visible: None,
        locked: None,
    }
}

/// Creates flag set `production`, empty, and returns the actor `ada`
/// that created it.
pub async fn with_flag_set(store: &Store) -> Actor {
    let actor = Actor::named("ada");
    store
        .create_flag_set(
            &actor,
            NewFlagSet {
                key: "production".into(),
                ..NewFlagSet::default()
            },
        )
        .await
        .expect("create flag set");
    actor
}
