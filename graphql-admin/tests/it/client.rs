//! A GraphQL client over the admin routes (no sockets) for the API tests:
//! a flag set `production`, a token of each role, and requests with or
//! without extra headers.

use graphql_admin::api::{Admin, ReadOnlySets, routes_with};
use serde_json::{Value, json};
use store::{Actor, Store};
use store::{NewFlagSet, TokenRole};
use tokio::sync::broadcast;

/// The routes over a store, with a token of each role.
pub struct Client {
    /// What the routes serve.
    pub admin: Admin,
    /// The flag sets listed as read-only.
    pub read_only: ReadOnlySets,
    /// An editor token.
    pub editor: String,
    /// A viewer token.
    pub viewer: String,
    /// An admin token.
    pub owner: String,
}

/// A response: status and JSON body.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body (`null` when it is not JSON).
    pub body: Value,
}

impl Answer {
    /// The first error's `extensions.code`, or "".
    pub fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
    }
}

impl Client {
    /// Creates flag set `production` and the tokens in `store`.
    pub async fn new(store: &Store, read_only: ReadOnlySets) -> Client {
        let actor = Actor::named("setup");
        store
            .create_flag_set(
                &actor,
                NewFlagSet {
                    key: "production".into(),
                    ..NewFlagSet::default()
                },
            )
            .await
            .unwrap();
        let token = |name: &'static str, role| {
            let store = store.clone();
            let actor = actor.clone();
            async move {
                store
                    .create_token(&actor, name, role, None)
                    .await
                    .unwrap()
                    .secret
            }
        };
        Client {
            editor: token("ada", TokenRole::Editor).await,
            viewer: token("grace", TokenRole::Viewer).await,
            owner: token("root", TokenRole::Admin).await,
            admin: Admin {
                store: store.clone(),
                commits: broadcast::channel(64).0,
                analysis: None,
            },
            read_only,
        }
    }

    /// Posts `query` with `variables` as the holder of `token`.
    pub async fn post(&self, token: &str, query: &str, variables: Value) -> Answer {
        self.post_with(token, query, variables, &[]).await
    }

    /// Posts with extra headers.
    pub async fn post_with(
        &self,
        token: &str,
        query: &str,
        variables: Value,
        headers: &[(&str, &[u8])],
    ) -> Answer {
        let mut request = warp::test::request()
            .method("POST")
            .path("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .json(&json!({"query": query, "variables": variables}));
        for (name, value) in headers {
            request = request.header(
                *name,
                warp::http::HeaderValue::from_bytes(value).expect("a valid header value"),
            );
        }
        let routes = routes_with(self.admin.clone(), self.read_only.clone());
        let response = request.reply(&routes).await;
        Answer {
            status: response.status().as_u16(),
            body: serde_json::from_slice(response.body()).unwrap_or(Value::Null),
        }
    }
}

/// A boolean flag with a `fractional` rule.
pub fn fractional_flag() -> Value {
    json!({
        "state": "ENABLED",
        "variants": {"on": true, "off": false},
        "defaultVariant": "off",
        "targeting": {"fractional": [{"var": "email"}, ["on", 10], ["off", 90]]},
    })
}
