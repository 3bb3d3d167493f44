//! The benchmark's inputs: one realistic evaluation context and the six
//! rules, as flagd flag files for Ensign and as bare JSONLogic for the
//! baselines.

use serde_json::{Value, json};

/// A request context as an SDK sends it: 70 keys, objects nested up to five
/// levels, arrays of strings and of objects.
pub const CONTEXT: &str = r#"{
  "targetingKey": "user-c20ad4d2",
  "email": "ada.lovelace@example.com",
  "emailDomain": "example.com",
  "country": "DE",
  "plan": "pro-annual",
  "appVersion": "2.4.1",
  "betaOptIn": true,
  "accountAgeDays": 412,
  "sessionCount": 1893,
  "user": {
    "id": "c20ad4d2",
    "role": "admin",
    "profile": {
      "firstName": "Ada",
      "lastName": "Lovelace",
      "age": 36,
      "verified": true,
      "address": {
        "street": "Unter den Linden 1",
        "city": "Berlin",
        "zip": "10117",
        "country": "DE",
        "geo": {"lat": 52.517, "lon": 13.389}
      }
    },
    "preferences": {
      "theme": "dark",
      "language": "de",
      "notifications": {"email": true, "push": false, "sms": false}
    }
  },
  "device": {
    "type": "mobile",
    "os": "iOS",
    "osVersion": "17.4.1",
    "model": "iPhone15,2",
    "tablet": false,
    "screen": {"width": 1179, "height": 2556}
  },
  "app": {"name": "ensign-demo", "version": "2.4.1", "build": 20417, "channel": "stable"},
  "geo": {
    "country": "DE",
    "region": "BE",
    "city": "Berlin",
    "timezone": "Europe/Berlin"
  },
  "subscription": {
    "tier": "pro",
    "status": "active",
    "seats": 25,
    "trial": false,
    "addons": ["sso", "audit-log", "priority-support"]
  },
  "experiments": {
    "checkoutV2": "treatment",
    "searchRanker": "control",
    "onboarding": {"variant": "B", "cohort": 7}
  },
  "tags": ["early-adopter", "power-user", "eu", "b2b"],
  "segments": ["growth", "retention-q2"],
  "featureUsage": [{"name": "export", "count": 12}, {"name": "share", "count": 40}]
}"#;

/// The six benchmarked rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuleId {
    /// A static flag: no targeting.
    A,
    /// A typical rule: `in`, `==`, `starts_with`, `sem_ver` under `and`/`or`.
    B,
    /// `fractional` over four buckets, keyed by flag key and user id.
    C,
    /// A 50-clause `or` over different context keys; only the last matches.
    D,
    /// Comparisons reading dotted paths two to five levels deep.
    E,
    /// A progressive rollout: `fractional` under an `if` whose condition is
    /// a shared segment (`$ref`).
    F,
}

impl RuleId {
    /// Every rule, in report order.
    pub const ALL: [RuleId; 6] = [
        RuleId::A,
        RuleId::B,
        RuleId::C,
        RuleId::D,
        RuleId::E,
        RuleId::F,
    ];

    /// The rule's letter, as the report prints it.
    pub fn letter(self) -> &'static str {
        match self {
            RuleId::A => "a",
            RuleId::B => "b",
            RuleId::C => "c",
            RuleId::D => "d",
            RuleId::E => "e",
            RuleId::F => "f",
        }
    }

    /// Whether the rule buckets with `fractional`, so that it is also timed
    /// in the v3 scheme.
    pub fn buckets(self) -> bool {
        matches!(self, RuleId::C | RuleId::F)
    }

    /// The key of the flag that carries the rule.
    pub fn flag_key(self) -> &'static str {
        match self {
            RuleId::A => "static-banner",
            RuleId::B => "typical-rollout",
            RuleId::C => "fractional-color",
            RuleId::D => "wide-or",
            RuleId::E => "deep-paths",
            RuleId::F => "beta-rollout",
        }
    }

    /// The targeting rule, if the flag has one, with shared evaluators
    /// expanded: what the baselines, which know no `$ref`, are given.
    pub fn targeting(self) -> Option<Value> {
        match self {
            RuleId::A => None,
            // The domain is not in the list, so the `or` also evaluates the
            // country; every clause runs and the rule matches.
            RuleId::B => Some(json!({"if": [
                {"and": [
                    {"or": [
                        {"in": [{"var": "emailDomain"}, ["acme.org", "initech.com", "globex.net"]]},
                        {"==": [{"var": "country"}, "DE"]}
                    ]},
                    {"starts_with": [{"var": "plan"}, "pro"]},
                    {"sem_ver": [{"var": "appVersion"}, ">=", "2.1.0"]}
                ]},
                "on",
                "off"
            ]})),
            // The user's buckets differ between the v2 and v3 schemes (blue
            // and red), so comparing answers also catches a scheme mix-up.
            RuleId::C => Some(json!({"fractional": [
                {"cat": [{"var": "$flagd.flagKey"}, {"var": "user.id"}]},
                ["red", 25],
                ["blue", 25],
                ["green", 25],
                ["yellow", 25]
            ]})),
            RuleId::D => Some(json!({"if": [{"or": wide_or_clauses()}, "on", "off"]})),
            RuleId::E => Some(json!({"if": [
                {"and": [
                    {"==": [{"var": "geo.city"}, "Berlin"]},
                    {"==": [{"var": "experiments.onboarding.variant"}, "B"]},
                    {">=": [{"var": "user.profile.age"}, 18]},
                    {"<=": [{"var": "device.screen.width"}, 1440]},
                    {"==": [{"var": "user.profile.address.city"}, "Berlin"]},
                    {"==": [{"var": "user.preferences.notifications.email"}, true]},
                    {">": [{"var": "user.profile.address.geo.lat"}, 50]},
                    {"<": [{"var": "user.profile.address.geo.lon"}, 20]}
                ]},
                "deep",
                "shallow"
            ]})),
            RuleId::F => Some(rollout(beta_users())),
        }
    }

    /// The targeting rule as the flag file has it.
    fn flag_targeting(self) -> Option<Value> {
        match self {
            RuleId::F => Some(rollout(json!({"$ref": "beta-users"}))),
            other => other.targeting(),
        }
    }

    /// The flag's definition in flagd's format.
    fn flag(self) -> Value {
        let mut flag = match self {
            RuleId::A | RuleId::B | RuleId::D | RuleId::F => json!({
                "state": "ENABLED",
                "variants": {"on": true, "off": false},
                "defaultVariant": "off"
            }),
            RuleId::C => json!({
                "state": "ENABLED",
                "variants": {"red": "#d03030", "blue": "#3050d0", "green": "#30a050", "yellow": "#d0c030"},
                "defaultVariant": "red"
            }),
            RuleId::E => json!({
                "state": "ENABLED",
                "variants": {"deep": true, "shallow": false},
                "defaultVariant": "shallow"
            }),
        };
        if let (Some(targeting), Value::Object(map)) = (self.flag_targeting(), &mut flag) {
            map.insert("targeting".into(), targeting);
        }
        flag
    }
}

/// A flag file holding every rule's flag, bucketing `fractional` with the
/// given scheme (`"v2"`, Ensign's default, or `"v3"`).
pub fn flag_file(fractional: &str) -> String {
    let flags: serde_json::Map<String, Value> = RuleId::ALL
        .iter()
        .map(|rule| (rule.flag_key().to_owned(), rule.flag()))
        .collect();
    json!({
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "metadata": {"ensign.fractional": fractional},
        "$evaluators": {"beta-users": beta_users()},
        "flags": flags
    })
    .to_string()
}

/// The segment rule (f) rolls out to: users who opted into betas, in the
/// DACH countries.
fn beta_users() -> Value {
    json!({"and": [
        {"==": [{"var": "betaOptIn"}, true]},
        {"in": [{"var": "country"}, ["DE", "AT", "CH"]]}
    ]})
}

/// Rule (f): a fifth of the segment's users, bucketed by email, get the
/// feature; everyone else does not.
fn rollout(segment: Value) -> Value {
    json!({"if": [
        segment,
        {"fractional": [
            {"cat": [{"var": "$flagd.flagKey"}, {"var": "email"}]},
            ["on", 20],
            ["off", 80]
        ]},
        "off"
    ]})
}

/// The context as compact JSON text, keys in their written order: what a
/// client puts on the wire.
pub fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Adds flagd's `$flagd` object (the flag key) to a compact context, as
/// flagd's in-process providers do before handing it to their JSONLogic
/// library; only a rule reading `$flagd.flagKey` needs it there (Ensign
/// folds it into the compiled rule instead).
pub fn with_flagd_envelope(compact_context: &str, flag_key: &str) -> String {
    let rest = compact_context.strip_prefix('{').unwrap_or(compact_context);
    format!(
        r#"{{"$flagd":{{"flagKey":{}}},{rest}"#,
        Value::from(flag_key)
    )
}

/// Rule (d)'s clauses: 49 `==`/`in` tests of different context keys that
/// fail on the bench context, then one that holds.
fn wide_or_clauses() -> Vec<Value> {
    let eq = |path: &str, value: Value| json!({"==": [{"var": path}, value]});
    let one_of = |path: &str, values: &[&str]| json!({"in": [{"var": path}, values]});
    let contains = |path: &str, item: &str| json!({"in": [item, {"var": path}]});
    let clauses = vec![
        eq("email", json!("grace.hopper@example.com")),
        one_of("emailDomain", &["acme.org", "initech.com"]),
        eq("country", json!("FR")),
        one_of("plan", &["free", "team-monthly"]),
        eq("appVersion", json!("1.0.0")),
        eq("betaOptIn", json!(false)),
        eq("accountAgeDays", json!(7)),
        eq("sessionCount", json!(0)),
        one_of("targetingKey", &["user-0001", "user-0002", "user-0003"]),
        eq("user.id", json!("00000000")),
        one_of("user.role", &["owner", "billing"]),
        eq("user.profile.firstName", json!("Grace")),
        eq("user.profile.lastName", json!("Hopper")),
        eq("user.profile.age", json!(85)),
        eq("user.profile.verified", json!(false)),
        eq("user.profile.address.street", json!("Main Street 1")),
        one_of("user.profile.address.city", &["Paris", "Lyon", "Nice"]),
        eq("user.profile.address.zip", json!("75001")),
        eq("user.profile.address.country", json!("FR")),
        eq("user.profile.address.geo.lat", json!(48.857)),
        eq("user.profile.address.geo.lon", json!(2.352)),
        eq("user.preferences.theme", json!("light")),
        one_of("user.preferences.language", &["fr", "es", "it"]),
        eq("user.preferences.notifications.email", json!(false)),
        eq("user.preferences.notifications.push", json!(true)),
        eq("user.preferences.notifications.sms", json!(true)),
        one_of("device.type", &["desktop", "tv"]),
        eq("device.os", json!("Android")),
        eq("device.osVersion", json!("14")),
        eq("device.model", json!("Pixel 8")),
        eq("device.tablet", json!(true)),
        eq("device.screen.width", json!(1920)),
        eq("device.screen.height", json!(1080)),
        eq("app.name", json!("other-app")),
        eq("app.version", json!("1.9.0")),
        eq("app.build", json!(100)),
        one_of("app.channel", &["beta", "nightly"]),
        eq("geo.country", json!("FR")),
        eq("geo.region", json!("IDF")),
        eq("geo.city", json!("Paris")),
        eq("geo.timezone", json!("Europe/Paris")),
        one_of("subscription.tier", &["free", "team"]),
        eq("subscription.status", json!("cancelled")),
        eq("subscription.seats", json!(1)),
        eq("subscription.trial", json!(true)),
        contains("subscription.addons", "scim"),
        eq("experiments.checkoutV2", json!("control")),
        eq("experiments.searchRanker", json!("treatment")),
        eq("experiments.onboarding.cohort", json!(3)),
        // The only clause that holds.
        contains("tags", "b2b"),
    ];
    assert_eq!(clauses.len(), 50, "rule (d) has exactly 50 clauses");
    clauses
}
