//! The GraphQL admin API through its warp routes (no sockets): auth and
//! roles, mutations with their error codes, the debugger, limits, and the
//! checked-in schema.

use graphql_admin::api::{Admin, routes, sdl};
use serde_json::{Value, json};
use store::{Actor, Store};
use store::{NewFlagSet, TokenRole};
use tokio::sync::broadcast;

use test_support::TestDb;

/// The exported schema is checked in; refresh it with `UPDATE_EXPECT=1`
/// (refused under `CI`).
#[test]
fn schema_graphql_is_up_to_date() {
    test_support::refuse_update_expect_under_ci();
    expect_test::expect_file!["../../schema.graphql"].assert_eq(&sdl());
}

struct Api {
    admin: Admin,
    editor: String,
    viewer: String,
    sdk: String,
}

async fn api(store: &Store) -> Api {
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
    let token = |name: &'static str, role, set: Option<&'static str>| {
        let store = store.clone();
        let actor = actor.clone();
        async move {
            store
                .create_token(&actor, name, role, set)
                .await
                .unwrap()
                .secret
        }
    };
    Api {
        editor: token("ada", TokenRole::Editor, None).await,
        viewer: token("grace", TokenRole::Viewer, None).await,
        sdk: token("web", TokenRole::Server, Some("production")).await,
        admin: Admin {
            store: store.clone(),
            commits: broadcast::channel(64).0,
            analysis: None,
        },
    }
}

async fn post(api: &Api, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
    let mut request = warp::test::request()
        .method("POST")
        .path("/graphql")
        .header("content-type", "application/json")
        .header("x-request-id", "req-1")
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.reply(&routes(api.admin.clone())).await;
    let body = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    (response.status().as_u16(), body)
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

const CREATE: &str = r#"mutation($def: JSON!) {
    createFlag(flagSet: "production", key: "banner", flag: {definition: $def}) { key version state }
}"#;

fn definition(default: &str) -> Value {
    json!({
        "state": "ENABLED",
        "variants": {"on": true, "off": false},
        "defaultVariant": default,
        "targeting": {"fractional": [{"var": "email"}, ["on", 10], ["off", 90]]},
    })
}

#[tokio::test]
async fn requests_need_an_admin_token_with_the_right_role() {
    let db = TestDb::sqlite().await;
    let api = api(&db.store).await;
    let query = "{ flagSets { key } }";

    let (status, body) = post(&api, None, query, json!({})).await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body}");
    let (status, body) = post(&api, Some("ens_adm_nope"), query, json!({})).await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body}");
    let (status, body) = post(&api, Some(&api.sdk), query, json!({})).await;
    assert_eq!((status, code(&body)), (403, "FORBIDDEN"), "{body}");

    let (status, body) = post(&api, Some(&api.viewer), query, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["flagSets"], json!([{"key": "production"}]));

    let (_, body) = post(
        &api,
        Some(&api.viewer),
        CREATE,
        json!({"def": definition("off")}),
    )
    .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let (_, body) = post(&api, Some(&api.editor), "{ tokens { name } }", json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    db.drop_all().await;
}

#[tokio::test]
async fn mutations_commit_audit_and_report_errors_with_codes() {
    for db in TestDb::both("mutations_commit_audit_and_report_errors_with_codes").await {
        let api = api(&db.store).await;
        let mut commits = api.admin.commits.subscribe();
        let (_, body) = post(
            &api,
            Some(&api.editor),
            CREATE,
            json!({"def": definition("off")}),
        )
        .await;
        assert_eq!(
            body["data"]["createFlag"],
            json!({"key": "banner", "version": 1, "state": "ENABLED"}),
            "{body}"
        );
        let commit = commits.try_recv().unwrap();
        assert_eq!(
            (
                commit.flag.as_deref(),
                commit.action.as_str(),
                commit.actor.as_str()
            ),
            (Some("banner"), "create", "ada")
        );

        let update = r#"mutation($def: JSON!, $v: Int!) {
            updateFlag(flagSet: "production", key: "banner", expectedVersion: $v, flag: {definition: $def}) { version }
        }"#;
        let (_, body) = post(
            &api,
            Some(&api.editor),
            update,
            json!({"def": definition("on"), "v": 7}),
        )
        .await;
        assert_eq!(code(&body), "VERSION_CONFLICT", "{body}");

        let mut broken = definition("on");
        broken["defaultVariant"] = json!("maybe");
        let (_, body) = post(
            &api,
            Some(&api.editor),
            update,
            json!({"def": broken, "v": 1}),
        )
        .await;
        assert_eq!(code(&body), "INVALID_DEFINITION", "{body}");
        let diagnostics = &body["errors"][0]["extensions"]["diagnostics"];
        assert_eq!(diagnostics[0]["flagKey"], "banner", "{body}");

        let rollout = r#"mutation {
            setRollout(flagSet: "production", key: "banner", expectedVersion: 1,
                       weights: [{variant: "on", weight: 50}, {variant: "off", weight: 50}]) {
                version definition
            }
        }"#;
        let (_, body) = post(&api, Some(&api.editor), rollout, json!({})).await;
        assert_eq!(body["data"]["setRollout"]["version"], 2, "{body}");
        assert_eq!(
            body["data"]["setRollout"]["definition"]["targeting"]["fractional"],
            json!([{"var": "email"}, ["on", 50], ["off", 50]])
        );

        let kill =
            r#"mutation { killSwitch(flagSet: "production", key: "banner") { state version } }"#;
        let (_, body) = post(&api, Some(&api.editor), kill, json!({})).await;
        assert_eq!(
            body["data"]["killSwitch"],
            json!({"state": "DISABLED", "version": 3}),
            "{body}"
        );

        let history = r#"{ flag(flagSet: "production", key: "banner") {
            history { items { actor action requestId version } next }
        } }"#;
        let (_, body) = post(&api, Some(&api.viewer), history, json!({})).await;
        assert_eq!(
            body["data"]["flag"]["history"],
            json!({"items": [
                {"actor": "ada", "action": "kill", "requestId": "req-1", "version": 3},
                {"actor": "ada", "action": "set_rollout", "requestId": "req-1", "version": 2},
                {"actor": "ada", "action": "create", "requestId": "req-1", "version": 1},
            ], "next": null}),
            "{body}"
        );

        let (_, body) = post(
            &api,
            Some(&api.editor),
            r#"mutation { killSwitch(flagSet: "production", key: "nope") { version } }"#,
            json!({}),
        )
        .await;
        assert_eq!(code(&body), "FLAG_NOT_FOUND", "{body}");
        db.drop_all().await;
    }
}

#[tokio::test]
async fn the_debugger_explains_an_evaluation() {
    let db = TestDb::sqlite().await;
    let api = api(&db.store).await;
    post(
        &api,
        Some(&api.editor),
        CREATE,
        json!({"def": definition("off")}),
    )
    .await;
    let query = r#"{ evaluate(flagSet: "production", key: "banner", context: {email: "ada@example.com"}) {
        value variant reason errorCode explain
    } }"#;
    let (_, body) = post(&api, Some(&api.viewer), query, json!({})).await;
    let evaluation = &body["data"]["evaluate"];
    assert_eq!(evaluation["reason"], "TARGETING_MATCH", "{body}");
    assert!(evaluation["variant"] == "on" || evaluation["variant"] == "off");
    assert!(
        evaluation["explain"]
            .as_str()
            .unwrap()
            .contains("fractional"),
        "{body}"
    );
    // The path step by step: the `if` that chose, the clause that decided
    // its condition, the bucket, and the result.
    let rule = json!({
        "state": "ENABLED",
        "variants": {"on": true, "off": false},
        "defaultVariant": "off",
        "targeting": {"if": [
            {"and": [{"==": [{"var": "plan"}, "pro"]}, {"ends_with": [{"var": "email"}, "@example.com"]}]},
            {"fractional": [{"var": "email"}, ["on", 50], ["off", 50]]},
            "off",
        ]},
    });
    let (_, body) = post(
        &api,
        Some(&api.editor),
        r#"mutation($def: JSON!) { createFlag(flagSet: "production", key: "pro-banner", flag: {definition: $def}) { key } }"#,
        json!({"def": rule}),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let query = r#"{ evaluate(flagSet: "production", key: "pro-banner", context: {plan: "pro", email: "ada@example.com"}) {
        variant omittedSteps
        steps { pointer kind segment condition branch operator clause value bucket hash }
    } }"#;
    let (_, body) = post(&api, Some(&api.viewer), query, json!({})).await;
    let evaluation = &body["data"]["evaluate"];
    assert_eq!(evaluation["omittedSteps"], 0, "{body}");
    let steps = evaluation["steps"].as_array().expect("steps");
    let kinds: Vec<&str> = steps.iter().filter_map(|s| s["kind"].as_str()).collect();
    assert_eq!(kinds, ["CLAUSE", "IF", "FRACTIONAL", "RESULT"], "{body}");
    let (clause, choice, bucket, result) = (&steps[0], &steps[1], &steps[2], &steps[3]);
    assert_eq!(clause["pointer"], "/if/0/and", "{body}");
    assert_eq!(clause["operator"], "and");
    assert_eq!(clause["clause"], 1);
    assert_eq!(clause["value"], true);
    assert_eq!(choice["pointer"], "/if", "{body}");
    assert_eq!(
        (&choice["condition"], &choice["branch"]),
        (&json!(0), &json!(1))
    );
    assert!(
        choice["segment"].is_null() && choice["value"].is_null(),
        "{body}"
    );
    assert_eq!(bucket["pointer"], "/if/1/fractional", "{body}");
    assert!(
        bucket["hash"].is_number() && bucket["bucket"].is_number(),
        "{body}"
    );
    assert_eq!(bucket["value"], evaluation["variant"], "{body}");
    assert_eq!(result["value"], evaluation["variant"], "{body}");

    let query = r#"{ evaluate(flagSet: "production", key: "missing") { reason errorCode } }"#;
    let (_, body) = post(&api, Some(&api.viewer), query, json!({})).await;
    assert_eq!(
        body["data"]["evaluate"],
        json!({"reason": "ERROR", "errorCode": "FLAG_NOT_FOUND"})
    );
    db.drop_all().await;
}

#[tokio::test]
async fn bad_requests_are_refused_with_codes() {
    let db = TestDb::sqlite().await;
    let api = api(&db.store).await;
    // Within the depth limit, and beyond it.
    let shallow = format!(
        "{{ flag(flagSet: \"production\", key: \"x\") {{ history {{ {} }} }} }}",
        "next"
    );
    let nested = (0..12).fold(String::from("name"), |inner, _| {
        format!("ofType {{ {inner} }}")
    });
    let too_deep = format!("{{ __schema {{ types {{ {nested} }} }} }}");
    let (_, body) = post(&api, Some(&api.viewer), &too_deep, json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("nested too deep"),
        "{body}"
    );
    let (status, _) = post(&api, Some(&api.viewer), &shallow, json!({})).await;
    assert_eq!(status, 200);

    // More fields than the complexity limit allows.
    let wide: String = (0..600)
        .map(|i| format!("f{i}: flagSets {{ key }} "))
        .collect();
    let (_, body) = post(&api, Some(&api.viewer), &format!("{{ {wide} }}"), json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("too complex"), "{message}");
    assert!(body["data"].is_null(), "nothing was executed");

    let (status, body) = post(&api, Some(&api.viewer), "{ nonsense", json!({})).await;
    assert_eq!(status, 200, "GraphQL syntax errors are GraphQL errors");
    assert!(body["errors"][0]["message"].is_string(), "{body}");

    let big = "x".repeat(2 * 1024 * 1024);
    let response = warp::test::request()
        .method("POST")
        .path("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", api.viewer))
        .body(big)
        .reply(&routes(api.admin.clone()))
        .await;
    assert_eq!(response.status().as_u16(), 413);

    let response = warp::test::request()
        .method("POST")
        .path("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", api.viewer))
        .body("{not json")
        .reply(&routes(api.admin.clone()))
        .await;
    assert_eq!(response.status().as_u16(), 400);
    db.drop_all().await;
}

/// Literals and variables nested deeper than `engine::MAX_DATA_DEPTH` are
/// refused with 400 and `NESTING_TOO_DEEP` before the query is parsed (the
/// parser would otherwise overflow the stack); up to the bound they run.
#[tokio::test]
async fn deeply_nested_requests_are_refused_before_parsing() {
    let db = TestDb::sqlite().await;
    let api = api(&db.store).await;
    let list = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let object = |depth: usize| format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth));
    let evaluate = |context: String| {
        format!(
            r#"{{ evaluate(flagSet: "production", key: "k", context: {context}) {{ reason errorCode }} }}"#
        )
    };
    let limit = engine::MAX_DATA_DEPTH;
    let refused = [
        format!("{{ flagSets(x: {}) {{ key }} }}", list(1400)),
        format!("{{ nothing(x: {}) }}", list(1400)),
        format!("{{ nothing(x: {}) }}", object(1400)),
        evaluate(object(1400)),
        evaluate(format!("{{a: {}}}", list(limit))),
        format!(
            "query($v: JSON = {}) {{ flagSets {{ key }} }}",
            list(limit + 1)
        ),
        format!("{{ nothing{} }}", "(".repeat(1400)),
        format!("{}{}", "{ a ".repeat(1400), "}".repeat(1400)),
    ];
    for query in refused {
        let (status, body) = post(&api, Some(&api.viewer), &query, json!({})).await;
        assert_eq!((status, code(&body)), (400, "NESTING_TOO_DEEP"), "{body}");
        assert!(body["data"].is_null(), "{body}");
    }
    // At the bound, the debugger runs (the flag does not exist).
    let (status, body) = post(&api, Some(&api.viewer), &evaluate(object(limit)), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["evaluate"]["errorCode"], "FLAG_NOT_FOUND",
        "{body}"
    );

    // Variables: serde_json refuses the 128th level of the body, which
    // holds the variables two levels down.
    let body = |depth: usize| {
        format!(
            r#"{{"query": "query($v: JSON) {{ nothing }}", "variables": {{"v": {}}}}}"#,
            list(depth)
        )
    };
    for depth in [limit - 1, 1400] {
        let response = warp::test::request()
            .method("POST")
            .path("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", api.viewer))
            .body(body(depth))
            .reply(&routes(api.admin.clone()))
            .await;
        let answer: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        assert_eq!(
            (response.status().as_u16(), code(&answer)),
            (400, "NESTING_TOO_DEEP"),
            "{depth}: {answer}"
        );
    }
    db.drop_all().await;
}

/// async-graphql's validation panics on a variable of an unknown type with
/// a list default value (found by the request fuzz target); such a query is
/// refused as invalid (`INVALID_QUERY`), not as a failed request, like one
/// naming an unknown type otherwise.
#[tokio::test]
async fn variables_of_unknown_types_are_invalid_queries() {
    let db = TestDb::sqlite().await;
    let api = api(&db.store).await;
    for query in [
        "query($a: Nope = 1) { flagSets { key } }",
        "query($a: [Nope] = [1]) { flagSets { key } }",
        "query($a: [[Igt!]] = [[1, 2], [3]]) { flagSets { key } }",
        "query($a: Nope) { flagSets { key } }",
    ] {
        let (status, body) = post(&api, Some(&api.viewer), query, json!({})).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert!(body["data"].is_null(), "{query}: {body}");
        assert!(body["errors"][0]["message"].is_string(), "{query}: {body}");
        assert_ne!(code(&body), "INTERNAL", "{query}: {body}");
    }
    // Each refused with its own code, an output type as a variable too.
    for query in [
        "query($a: [Nope] = [1]) { flagSets { key } }",
        "query($a: [[Igt!]] = [[1, 2], [3]]) { flagSets { key } }",
        "query($a: Nope) { flagSets { key } }",
        "query($a: FlagSet) { flagSets { key } }",
    ] {
        let (_, body) = post(&api, Some(&api.viewer), query, json!({})).await;
        assert_eq!(code(&body), "INVALID_QUERY", "{query}: {body}");
    }
    // Known input types with defaults still run.
    let (status, body) = post(
        &api,
        Some(&api.viewer),
        r#"query($a: String! = "production", $b: AuditFilter = {first: 1}) { flagSets { key } audit(filter: $b) { next } flags(flagSet: $a) { next } }"#,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(code(&body), "INVALID_QUERY", "{body}");
    assert_eq!(body["data"]["flagSets"][0]["key"], "production", "{body}");
    db.drop_all().await;
}

/// Subscriptions over a WebSocket (graphql-transport-ws): the token goes in
/// `connection_init`; a commit is pushed to the subscriber of its flag set.
#[tokio::test]
async fn subscriptions_push_commits_over_a_websocket() {
    let db = TestDb::sqlite().await;
    let api = api(&db.store).await;
    let connect = |token: String| {
        let routes = routes(api.admin.clone());
        async move {
            let mut client = warp::test::ws()
                .path("/graphql")
                .header("sec-websocket-protocol", "graphql-transport-ws")
                .handshake(routes)
                .await
                .expect("the WebSocket upgrade succeeds");
            client
                .send_text(
                    json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}})
                        .to_string(),
                )
                .await;
            client
        }
    };
    let next = |message: warp::ws::Message| -> Value {
        serde_json::from_str(message.to_str().unwrap_or("null")).unwrap_or(Value::Null)
    };

    let mut refused = connect("ens_adm_wrong".into()).await;
    let answer = refused.recv().await;
    let closed = match answer {
        Ok(message) => message.is_close() || next(message)["type"] == "connection_error",
        Err(_) => true,
    };
    assert!(closed, "an unknown token is refused");

    let mut client = connect(api.viewer.clone()).await;
    let ack = next(client.recv().await.unwrap());
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    client
        .send_text(
            json!({"id": "1", "type": "subscribe", "payload": {
                "query": r#"subscription { flagChanges(flagSet: "production") { flagSet flag action actor } }"#
            }})
            .to_string(),
        )
        .await;
    // Commit until the subscription (set up asynchronously) sees one.
    let mut pushed = Value::Null;
    for attempt in 0..20 {
        let key = format!("flag_{attempt}");
        let (_, body) = post(
            &api,
            Some(&api.editor),
            &format!(
                r#"mutation($def: JSON!) {{ createFlag(flagSet: "production", key: "{key}", flag: {{definition: $def}}) {{ key }} }}"#
            ),
            json!({"def": definition("off")}),
        )
        .await;
        assert_eq!(body["data"]["createFlag"]["key"], json!(key), "{body}");
        if let Ok(Ok(message)) =
            tokio::time::timeout(std::time::Duration::from_millis(200), client.recv()).await
        {
            pushed = next(message);
            break;
        }
    }
    assert_eq!(pushed["type"], "next", "{pushed}");
    let change = &pushed["payload"]["data"]["flagChanges"];
    assert_eq!(change["flagSet"], "production");
    assert_eq!(change["action"], "create");
    assert_eq!(change["actor"], "ada");
    assert!(change["flag"].as_str().unwrap().starts_with("flag_"));
    db.drop_all().await;
}

#[tokio::test]
async fn segments_are_managed_through_the_api() {
    let db = TestDb::sqlite().await;
    let api = api(&db.store).await;
    let create = r#"mutation { createSegment(flagSet: "production", key: "staff",
        definition: {ends_with: [{var: "email"}, "@example.com"]}) { key version } }"#;
    let (_, body) = post(&api, Some(&api.viewer), create, json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let (_, body) = post(&api, Some(&api.editor), create, json!({})).await;
    assert_eq!(
        body["data"]["createSegment"],
        json!({"key": "staff", "version": 1}),
        "{body}"
    );
    let mut uses = definition("off");
    uses["targeting"] = json!({"if": [{"$ref": "staff"}, "on", "off"]});
    let (_, body) = post(&api, Some(&api.editor), CREATE, json!({"def": uses})).await;
    assert_eq!(body["data"]["createFlag"]["key"], "banner", "{body}");
    let (_, body) = post(
        &api,
        Some(&api.editor),
        r#"mutation { deleteSegment(flagSet: "production", key: "staff", expectedVersion: 1) { key } }"#,
        json!({}),
    )
    .await;
    assert_eq!(code(&body), "INVALID_DEFINITION", "{body}");
    let (_, body) = post(
        &api,
        Some(&api.viewer),
        r#"{ segments(flagSet: "production") { key version definition } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["segments"],
        json!([{"key": "staff", "version": 1,
                "definition": {"ends_with": [{"var": "email"}, "@example.com"]}}]),
        "{body}"
    );
    db.drop_all().await;
}

/// Flag sets served from `--uri` sources beside the store are listed as
/// read-only, and writes to them are refused.
#[tokio::test]
async fn flag_sets_of_other_sources_are_read_only() {
    use graphql_admin::api::{ReadOnlySet, ReadOnlySets, routes_with};
    let db = TestDb::sqlite().await;
    let api = api(&db.store).await;
    let read_only = ReadOnlySets::new(|| {
        vec![ReadOnlySet {
            key: "files".into(),
            source: "file:flags.json".into(),
        }]
    });
    let call = |token: String, query: &'static str, variables: Value| {
        let routes = routes_with(api.admin.clone(), read_only.clone());
        async move {
            let response = warp::test::request()
                .method("POST")
                .path("/graphql")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .json(&json!({"query": query, "variables": variables}))
                .reply(&routes)
                .await;
            serde_json::from_slice::<Value>(response.body()).unwrap_or(Value::Null)
        }
    };
    let body = call(
        api.viewer.clone(),
        "{ flagSets { key readOnly name } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["flagSets"],
        json!([
            {"key": "production", "readOnly": false, "name": "production"},
            {"key": "files", "readOnly": true, "name": "file:flags.json"},
        ]),
        "{body}"
    );
    let body = call(
        api.editor.clone(),
        r#"mutation($def: JSON!) { createFlag(flagSet: "files", key: "x", flag: {definition: $def}) { key } }"#,
        json!({"def": definition("off")}),
    )
    .await;
    assert_eq!(code(&body), "READ_ONLY", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("file:flags.json"),
        "{body}"
    );
    db.drop_all().await;
}

/// `flagUsage` and `staleFlags` read the evaluation counts the store holds
/// (written here as a node's writer writes them), as of the real clock.
#[tokio::test]
async fn flag_usage_and_stale_flags_are_read_from_the_counts() {
    for db in TestDb::both("flag_usage_and_stale_flags_are_read_from_the_counts").await {
        let api = api(&db.store).await;
        for key in ["banner", "legacy"] {
            let (_, body) = post(
                &api,
                Some(&api.editor),
                &CREATE.replace("key: \"banner\"", &format!("key: \"{key}\"")),
                json!({"def": definition("off")}),
            )
            .await;
            assert!(body["errors"].is_null(), "{body}");
        }
        // `legacy` served `on` two hours ago and in the last minute, and
        // nothing else; `banner` served both variants in the last minute.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let minute = |ago: i64| (now - ago).div_euclid(60) * 60;
        let row = |flag: &str, variant: &str, minute: i64, count: u64| store::CountRow {
            flag_set: "production".into(),
            flag: flag.into(),
            variant: variant.into(),
            reason: "TARGETING_MATCH".into(),
            minute,
            count,
        };
        db.store
            .write_evaluation_counts(
                "node-1:1",
                &[
                    row("legacy", "on", minute(7_200), 5),
                    row("legacy", "on", minute(0), 3),
                    row("banner", "on", minute(0), 2),
                    row("banner", "off", minute(0), 4),
                ],
            )
            .await
            .unwrap();

        let (_, body) = post(
            &api,
            Some(&api.viewer),
            r#"{ flagUsage(flagSet: "production") { flag lastEvaluatedAt evaluations24h evaluations30d
                 variants { variant evaluations24h } } }"#,
            json!({}),
        )
        .await;
        let usage = &body["data"]["flagUsage"];
        assert_eq!(usage[0]["flag"], "banner", "{body}");
        assert_eq!(usage[0]["evaluations24h"], 6, "{body}");
        assert_eq!(
            usage[0]["variants"],
            json!([{"variant": "off", "evaluations24h": 4}, {"variant": "on", "evaluations24h": 2}])
        );
        assert_eq!(usage[1]["flag"], "legacy");
        assert_eq!(usage[1]["evaluations24h"], 8);
        assert_eq!(usage[1]["evaluations30d"], 8);
        assert!(usage[1]["lastEvaluatedAt"].is_string(), "{body}");

        // Over the last hour `legacy` served only `on`, and was counted
        // before it; `banner` served two variants. Neither was created
        // long enough ago to be unused.
        let (_, body) = post(
            &api,
            Some(&api.viewer),
            r#"{ staleFlags(flagSet: "production", unusedForHours: 1) { flag reason variant since lastEvaluatedAt } }"#,
            json!({}),
        )
        .await;
        let stale = &body["data"]["staleFlags"];
        assert_eq!(stale.as_array().map(Vec::len), Some(1), "{body}");
        assert_eq!(
            (&stale[0]["flag"], &stale[0]["reason"], &stale[0]["variant"]),
            (&json!("legacy"), &json!("ONE_VARIANT"), &json!("on"))
        );
        assert!(stale[0]["since"].is_string(), "{body}");

        for (query, expected) in [
            (
                r#"{ staleFlags(flagSet: "production", unusedForHours: 0) { flag } }"#,
                "INVALID_INPUT",
            ),
            (
                r#"{ staleFlags(flagSet: "nope") { flag } }"#,
                "FLAG_SET_NOT_FOUND",
            ),
            (
                r#"{ flagUsage(flagSet: "nope") { flag } }"#,
                "FLAG_SET_NOT_FOUND",
            ),
        ] {
            let (_, body) = post(&api, Some(&api.viewer), query, json!({})).await;
            assert_eq!(code(&body), expected, "{body}");
        }
        let (status, body) = post(
            &api,
            Some(&api.sdk),
            r#"{ flagUsage(flagSet: "production") { flag } }"#,
            json!({}),
        )
        .await;
        assert_eq!((status, code(&body)), (403, "FORBIDDEN"), "{body}");
        db.drop_all().await;
    }
}
