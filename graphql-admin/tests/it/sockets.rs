//! The admin API over real sockets: WebSocket sessions (graphql-transport-ws)
//! end with their token's rights, on this node and on another one; socket
//! messages obey the body limit and the nesting bound; a panicking handler
//! ends only its own request or socket.

use std::net::SocketAddr;
use std::time::Duration;

use async_graphql::{Context, EmptyMutation, Object, Schema, Subscription};
use futures::{SinkExt, Stream, StreamExt};
use graphql_admin::api::{Admin, Caller, ReadOnlySets, Sockets, routes_over, routes_with_sockets};
use serde_json::{Value, json};
use store::{Actor, Store};
use store::{NewFlagSet, TokenRole};
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use warp::Filter;

use test_support::TestDb;

/// How long a test waits for a message before it calls the socket silent.
/// A configured wait, not a speed requirement.
const WAIT: Duration = Duration::from_secs(10);

/// What the server sent: a protocol message, or the end of the socket.
#[derive(Debug)]
enum Event {
    Message(Value),
    /// A close frame with its code, or `None` when the connection ended
    /// without one.
    Closed(Option<u16>),
    /// Nothing within [`WAIT`].
    Silent,
}

struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Results read while waiting for another operation's.
    pending: Vec<Value>,
}

impl Socket {
    /// Opens a graphql-transport-ws socket and initialises it with `token`.
    async fn open(addr: SocketAddr, token: &str) -> Socket {
        let mut socket = Socket::connect(addr).await;
        socket
            .send(json!({
                "type": "connection_init",
                "payload": {"Authorization": format!("Bearer {token}")},
            }))
            .await;
        match socket.next().await {
            Event::Message(m) if m["type"] == "connection_ack" => socket,
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }

    async fn connect(addr: SocketAddr) -> Socket {
        let mut request = format!("ws://{addr}/graphql")
            .into_client_request()
            .expect("a WebSocket request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("a header value"),
        );
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the WebSocket upgrade");
        Socket {
            ws,
            pending: Vec::new(),
        }
    }

    /// Sends a message; false when the socket no longer takes any.
    async fn send(&mut self, message: Value) -> bool {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .is_ok()
    }

    async fn subscribe(&mut self, id: &str, query: &str) -> bool {
        self.send(json!({"type": "subscribe", "id": id, "payload": {"query": query}}))
            .await
    }

    async fn next(&mut self) -> Event {
        loop {
            let message = match tokio::time::timeout(WAIT, self.ws.next()).await {
                Err(_) => return Event::Silent,
                Ok(None | Some(Err(_))) => return Event::Closed(None),
                Ok(Some(Ok(message))) => message,
            };
            return match message {
                Message::Text(text) => {
                    Event::Message(serde_json::from_str(&text).expect("a JSON message"))
                }
                Message::Close(frame) => Event::Closed(frame.map(|f| u16::from(f.code))),
                _ => continue,
            };
        }
    }

    /// The payload of the next `next` message of operation `id`; other
    /// operations' results are kept for later, `complete` messages skipped.
    async fn result(&mut self, id: &str) -> Value {
        if let Some(at) = self.pending.iter().position(|m| m["id"] == id) {
            return self.pending.remove(at)["payload"].clone();
        }
        loop {
            match self.next().await {
                Event::Message(m) if m["type"] == "next" && m["id"] == id => {
                    return m["payload"].clone();
                }
                Event::Message(m) if m["type"] == "next" => self.pending.push(m),
                Event::Message(m) if m["type"] == "complete" => continue,
                other => panic!("expected a result of {id}, got {other:?}"),
            }
        }
    }

    /// The close code the socket ends with, after any messages still under
    /// way.
    async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.next().await {
                Event::Message(_) => continue,
                Event::Closed(code) => return code,
                Event::Silent => panic!("the socket stayed open"),
            }
        }
    }
}

/// One admin node: the routes over `store`, served on an ephemeral port.
struct Node {
    addr: SocketAddr,
    sockets: Sockets,
    commits: broadcast::Sender<store::Commit>,
}

impl Node {
    async fn start(store: &Store) -> Node {
        let admin = Admin {
            store: store.clone(),
            commits: broadcast::channel(64).0,
            analysis: None,
        };
        let commits = admin.commits.clone();
        let sockets = Sockets::new(store.clone());
        let routes = routes_with_sockets(admin, ReadOnlySets::default(), sockets.clone());
        Node {
            addr: serve(routes).await,
            sockets,
            commits,
        }
    }

    /// Waits until `count` subscriptions listen to this node's commits: a
    /// socket runs its operations concurrently, so a subscription sent
    /// before a write may start after it.
    async fn subscribed(&self, count: usize) {
        let listening = async {
            while self.commits.receiver_count() < count {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        if tokio::time::timeout(WAIT, listening).await.is_err() {
            panic!(
                "{} of {count} subscriptions started",
                self.commits.receiver_count()
            );
        }
    }

    async fn post(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        post(self.addr, token, query, variables).await
    }
}

async fn serve<F>(filter: F) -> SocketAddr
where
    F: Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("the bound address");
    tokio::spawn(warp::serve(filter).incoming(listener).run());
    addr
}

async fn post(addr: SocketAddr, token: &str, query: &str, variables: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("the admin API answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

/// The tokens of a test: `boss` (admin) revokes, `mallory` (admin) is
/// revoked, `grace` (viewer) watches.
struct Tokens {
    boss: String,
    mallory: String,
    mallory_id: i64,
    grace: String,
}

async fn tokens(store: &Store) -> Tokens {
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
        .expect("a flag set");
    let create = |name: &'static str, role| {
        let (store, actor) = (store.clone(), actor.clone());
        async move {
            store
                .create_token(&actor, name, role, None)
                .await
                .expect("a token")
        }
    };
    let mallory = create("mallory", TokenRole::Admin).await;
    Tokens {
        boss: create("boss", TokenRole::Admin).await.secret,
        mallory_id: mallory.record.id,
        mallory: mallory.secret,
        grace: create("grace", TokenRole::Viewer).await.secret,
    }
}

const CREATE_ADMIN: &str =
    r#"mutation { createToken(name: "backdoor", role: "admin") { secret } }"#;
const FLAG_CHANGES: &str = "subscription { flagChanges { flagSet action actor } }";

fn kill_definition() -> Value {
    json!({"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"})
}

async fn create_flag(node: &Node, token: &str, key: &str) {
    let (status, body) = node
        .post(
            token,
            "mutation($key: String!, $def: JSON!) { createFlag(flagSet: \"production\", key: $key, flag: {definition: $def}) { key } }",
            json!({"key": key, "def": kill_definition()}),
        )
        .await;
    assert_eq!((status, &body["errors"]), (200, &Value::Null), "{body}");
}

async fn has_backdoor(store: &Store) -> bool {
    store
        .tokens()
        .await
        .expect("the tokens")
        .iter()
        .any(|t| t.name == "backdoor")
}

/// Revoking a token over HTTP closes its socket (close code 4403) before
/// `revokeToken` answers: the close frame is already there when the answer
/// arrives, the subscription hears nothing more, and a mutation sent after
/// it never runs.
#[tokio::test]
async fn revoking_a_token_closes_its_sockets_before_the_answer() {
    for db in TestDb::both("revoking_a_token_closes_its_sockets_before_the_answer").await {
        let tokens = tokens(&db.store).await;
        let node = Node::start(&db.store).await;
        let mut mallory = Socket::open(node.addr, &tokens.mallory).await;
        let mut grace = Socket::open(node.addr, &tokens.grace).await;
        assert_eq!(node.sockets.open_for(tokens.mallory_id), 1);
        assert!(mallory.subscribe("changes", FLAG_CHANGES).await);
        assert!(grace.subscribe("changes", FLAG_CHANGES).await);
        node.subscribed(2).await;
        assert!(mallory.subscribe("q", "{ flagSets { key } }").await);
        let sets = mallory.result("q").await;
        assert_eq!(sets["data"]["flagSets"][0]["key"], "production", "{sets}");
        create_flag(&node, &tokens.boss, "before").await;
        assert_eq!(
            mallory.result("changes").await["data"]["flagChanges"]["action"],
            "create"
        );
        assert_eq!(
            grace.result("changes").await["data"]["flagChanges"]["action"],
            "create"
        );

        let (status, body) = node
            .post(
                &tokens.boss,
                "mutation($id: Int!) { revokeToken(id: $id) { revokedAt } }",
                json!({"id": tokens.mallory_id}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body["data"]["revokeToken"]["revokedAt"].is_string(),
            "{body}"
        );
        // The socket had finished (its close frame written) before the
        // answer.
        assert_eq!(
            node.sockets.open_for(tokens.mallory_id),
            0,
            "{}",
            db.backend
        );
        match tokio::time::timeout(WAIT, mallory.ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => {
                assert_eq!(u16::from(frame.code), 4403, "{frame:?}");
            }
            other => panic!("{}: expected the close frame, got {other:?}", db.backend),
        }
        // Whatever the client still sends runs nothing.
        mallory.subscribe("escalate", CREATE_ADMIN).await;
        create_flag(&node, &tokens.boss, "after").await;
        assert!(matches!(mallory.next().await, Event::Closed(_)));
        assert!(!has_backdoor(&db.store).await, "{}", db.backend);
        // The other token's socket carries on.
        let change = grace.result("changes").await;
        assert_eq!(change["data"]["flagChanges"]["actor"], "boss", "{change}");
        db.drop_all().await;
    }
}

/// A token revoked where this node does not see it (another node, SQL by
/// hand) runs nothing more: the next operation on its socket, a query, a
/// mutation or a subscription, is refused and closes the socket.
#[tokio::test]
async fn every_operation_checks_the_token_as_it_is_now() {
    let db = TestDb::sqlite().await;
    tokens(&db.store).await;
    let node = Node::start(&db.store).await;
    let operations = [
        ("query", "{ flagSets { key } }"),
        ("mutation", CREATE_ADMIN),
        ("subscription", FLAG_CHANGES),
    ];
    for (kind, operation) in operations {
        let mallory = db
            .store
            .create_token(&Actor::named("setup"), kind, TokenRole::Admin, None)
            .await
            .expect("a token");
        let mut socket = Socket::open(node.addr, &mallory.secret).await;
        assert!(socket.subscribe("before", "{ flagSets { key } }").await);
        assert!(socket.result("before").await["errors"].is_null());
        // Revoked through the store alone: no close signal reaches the
        // socket.
        db.store
            .revoke_token(&Actor::named("elsewhere"), mallory.record.id)
            .await
            .expect("revoked");
        assert!(socket.subscribe("after", operation).await);
        let refused = socket.result("after").await;
        assert_eq!(code(&refused), "UNAUTHENTICATED", "{kind}: {refused}");
        assert!(refused["data"].is_null(), "{kind}: {refused}");
        assert_eq!(socket.closed().await, Some(4403), "{kind}");
    }
    assert!(!has_backdoor(&db.store).await);
    db.drop_all().await;
}

/// Two admin nodes on one database: revoking a token on one closes its
/// sockets on the other at that node's next check of open sockets.
#[tokio::test]
async fn another_nodes_sockets_close_at_its_next_check() {
    let test = "another_nodes_sockets_close_at_its_next_check";
    let Some(db) = TestDb::postgres(test).await else {
        return;
    };
    let tokens = tokens(&db.store).await;
    let schema = db.schema.clone().expect("a PostgreSQL schema");
    let other = Store::connect_in(&test_support::postgres_url(), Some(&schema))
        .await
        .expect("a second connection pool");
    let (a, b) = (Node::start(&db.store).await, Node::start(&other).await);
    let mut mallory = Socket::open(b.addr, &tokens.mallory).await;
    let mut idle = Socket::open(b.addr, &tokens.mallory).await;
    assert!(mallory.subscribe("changes", FLAG_CHANGES).await);
    let (status, body) = a
        .post(
            &tokens.boss,
            "mutation($id: Int!) { revokeToken(id: $id) { revokedAt } }",
            json!({"id": tokens.mallory_id}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A commit on node B after the revocation never reaches the
    // subscription: its event is checked against the token first.
    create_flag(&b, &tokens.boss, "after").await;
    loop {
        match mallory.next().await {
            Event::Message(m) => assert!(m["payload"]["data"].is_null(), "{m}"),
            Event::Closed(code) => {
                assert_eq!(code, Some(4403));
                break;
            }
            Event::Silent => panic!("node B kept the revoked token's socket open"),
        }
    }
    // A socket with nothing under way closes at node B's next check.
    assert_eq!(idle.closed().await, Some(4403));
    assert_eq!(b.sockets.open_for(tokens.mallory_id), 0);
    db.drop_all().await;
}

/// A socket message larger than a request body may be is refused with
/// close code 1009, and the node keeps serving.
#[tokio::test]
async fn socket_messages_obey_the_body_limit() {
    let db = TestDb::sqlite().await;
    let tokens = tokens(&db.store).await;
    let node = Node::start(&db.store).await;
    let mut socket = Socket::open(node.addr, &tokens.grace).await;
    let limit = usize::try_from(graphql_admin::api::MAX_BODY_BYTES).expect("a size");
    let comment = format!("# {}\n", "x".repeat(limit));
    let query = format!("{comment}{{ flagSets {{ key }} }}");
    socket.subscribe("big", &query).await;
    // Never answered: closed with 1009 ("message too big"), or cut off
    // while the rest of the message was still on its way.
    match socket.next().await {
        Event::Closed(None | Some(1009)) => {}
        other => panic!("expected the socket to close, got {other:?}"),
    }
    let mut again = Socket::open(node.addr, &tokens.grace).await;
    assert!(again.subscribe("small", "{ flagSets { key } }").await);
    assert!(again.result("small").await["errors"].is_null());
    db.drop_all().await;
}

/// The nesting bound holds over the socket too: a deep literal gets an
/// error for its operation and the socket carries on; variables nested past
/// what serde_json reads end the socket with a protocol error.
#[tokio::test]
async fn socket_operations_obey_the_nesting_bound() {
    let db = TestDb::sqlite().await;
    let tokens = tokens(&db.store).await;
    let node = Node::start(&db.store).await;
    let mut socket = Socket::open(node.addr, &tokens.grace).await;
    let deep = format!("{}1{}", "[".repeat(1400), "]".repeat(1400));
    let deep_object = format!("{}1{}", "{a: ".repeat(1400), "}".repeat(1400));
    for query in [
        format!("{{ flagSets(x: {deep}) {{ key }} }}"),
        format!("{{ nothing(x: {deep}) }}"),
        format!(
            "{{ evaluate(flagSet: \"production\", key: \"k\", context: {{a: {deep_object}}}) {{ reason }} }}"
        ),
    ] {
        socket.subscribe("deep", &query).await;
        let refused = socket.result("deep").await;
        assert_eq!(code(&refused), "NESTING_TOO_DEEP", "{refused}");
    }
    assert!(socket.subscribe("fine", "{ flagSets { key } }").await);
    assert!(socket.result("fine").await["errors"].is_null());

    // serde_json reads 127 levels of a message, the subscribe message and
    // its payload and variables included.
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let text = format!(
        r#"{{"type": "subscribe", "id": "v", "payload": {{"query": "query($v: JSON) {{ flagSets {{ key }} }}", "variables": {{"v": {deep}}}}}}}"#
    );
    socket.ws.send(Message::text(text)).await.expect("sent");
    assert_eq!(socket.closed().await, Some(1002));
    db.drop_all().await;
}

/// The admin routes over a schema whose resolvers panic: the panicking
/// HTTP request gets a 500 with a stable code, the panicking socket
/// operation closes its socket with 1011, and every other request and
/// socket carries on.
#[tokio::test]
async fn a_panicking_handler_ends_only_its_own_request() {
    let db = TestDb::sqlite().await;
    let tokens = tokens(&db.store).await;
    let schema = Schema::build(PanicQuery, EmptyMutation, PanicSubscription).finish();
    let addr = serve(routes_over(
        schema,
        db.store.clone(),
        Sockets::new(db.store.clone()),
    ))
    .await;
    let mut bystander = Socket::open(addr, &tokens.grace).await;
    assert!(bystander.subscribe("ticks", "subscription { ticks }").await);
    assert_eq!(bystander.result("ticks").await["data"]["ticks"], 1);

    let (status, body) = post(addr, &tokens.grace, "{ boom }", json!({})).await;
    assert_eq!((status, code(&body)), (500, "INTERNAL"), "{body}");
    let (status, body) = post(addr, &tokens.grace, "{ fine }", json!({})).await;
    assert_eq!(
        (status, &body["data"]["fine"]),
        (200, &json!("grace")),
        "{body}"
    );

    for operation in ["{ boom }", "subscription { boom }"] {
        let mut victim = Socket::open(addr, &tokens.grace).await;
        victim.subscribe("boom", operation).await;
        assert_eq!(victim.closed().await, Some(1011), "{operation}");
    }
    assert!(bystander.subscribe("fine", "{ fine }").await);
    assert_eq!(bystander.result("fine").await["data"]["fine"], "grace");
    assert_eq!(bystander.result("ticks").await["data"]["ticks"], 2);
    db.drop_all().await;
}

struct PanicQuery;

#[Object]
impl PanicQuery {
    /// The caller's token name.
    async fn fine(&self, ctx: &Context<'_>) -> String {
        ctx.data_opt::<Caller>()
            .map(|c| c.token.name.clone())
            .unwrap_or_default()
    }

    /// Panics for any authenticated caller.
    async fn boom(&self, ctx: &Context<'_>) -> String {
        if ctx.data_opt::<Caller>().is_some() {
            panic!("a resolver bug");
        }
        String::new()
    }
}

struct PanicSubscription;

#[Subscription]
impl PanicSubscription {
    /// 1, 2, 3, ... one a second.
    async fn ticks(&self) -> impl Stream<Item = i32> + use<> {
        futures::stream::iter(1..).then(|n| async move {
            if n > 1 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            n
        })
    }

    async fn boom(&self) -> impl Stream<Item = i32> + use<> {
        futures::stream::iter([0]).map(|_| -> i32 { panic!("a stream bug") })
    }
}
