//! PostgreSQL outages, through a TCP proxy the test cuts: admin writes fail
//! with a clear error and leave nothing behind, and work again once the
//! database is back.

use std::net::SocketAddr;
use std::sync::Arc;

use graphql_admin::api::{Admin, routes};
use serde_json::{Value, json};
use store::{Actor, Store};
use store::{FlagChange, FlagInput, NewFlagSet, TokenRole};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};

use test_support::{TestDb, postgres_url};

/// A TCP proxy to the shared PostgreSQL server that the test can cut (every
/// open connection is dropped and new ones are refused) and restore.
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    cut: Arc<watch::Sender<bool>>,
}

impl Proxy {
    pub(crate) async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(watch::channel(false).0);
        let state = Arc::clone(&cut);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut cut = state.subscribe();
                if *cut.borrow() {
                    continue; // Dropping the socket refuses the client.
                }
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Proxy { addr, cut }
    }

    /// A proxy to the server of `ENSIGN_TEST_DATABASE_URL`, and that URL
    /// pointed at the proxy.
    pub(crate) async fn before_postgres() -> (Proxy, String) {
        let mut url = reqwest::Url::parse(&postgres_url()).unwrap();
        let upstream: SocketAddr = tokio::net::lookup_host(format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port().unwrap_or(5432)
        ))
        .await
        .unwrap()
        .next()
        .unwrap();
        let proxy = Proxy::start(upstream).await;
        url.set_host(Some(&proxy.addr.ip().to_string())).unwrap();
        url.set_port(Some(proxy.addr.port())).unwrap();
        (proxy, url.to_string())
    }

    pub(crate) fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub(crate) fn restore(&self) {
        self.cut.send_replace(false);
    }
}

fn flag(default: &str) -> FlagInput {
    FlagInput {
        definition: json!({
            "state": "ENABLED",
            "variants": {"on": true, "off": false},
            "defaultVariant": default,
        }),
        client_visible: None,
        locked: None,
    }
}

#[tokio::test]
async fn a_database_outage_fails_writes_cleanly_and_they_resume_after() {
    let Some(db) =
        TestDb::postgres("a_database_outage_fails_writes_cleanly_and_they_resume_after").await
    else {
        return;
    };
    let actor = Actor::named("ada");
    db.store
        .create_flag_set(
            &actor,
            NewFlagSet {
                key: "production".into(),
                ..NewFlagSet::default()
            },
        )
        .await
        .unwrap();
    db.store
        .write_flag(
            &actor,
            "production",
            "banner",
            FlagChange::Create(flag("off")),
        )
        .await
        .unwrap();
    let token = db
        .store
        .create_token(&actor, "ops", TokenRole::Editor, None)
        .await
        .unwrap();

    let (proxy, url) = Proxy::before_postgres().await;
    assert_ne!(url, postgres_url(), "the proxy URL points at the proxy");
    let through = Store::connect_in(&url, db.schema.as_deref()).await.unwrap();
    assert_eq!(
        through.flag("production", "banner").await.unwrap().version,
        1
    );
    let admin = Admin {
        store: through.clone(),
        commits: broadcast::channel(8).0,
        analysis: None,
    };
    let before = db.store.table_summary().await.unwrap();

    proxy.cut();
    let error = through
        .write_flag(
            &actor,
            "production",
            "banner",
            FlagChange::Update {
                expected_version: 1,
                input: flag("on"),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "STORE_UNAVAILABLE", "{error:?}");

    let response = warp::test::request()
        .method("POST")
        .path("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", token.secret))
        .json(&json!({"query": r#"mutation { killSwitch(flagSet: "production", key: "banner") { version } }"#}))
        .reply(&routes(admin.clone()))
        .await;
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    // The token lookup already needs the store: 503 before any execution.
    assert_eq!(response.status().as_u16(), 503, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "STORE_UNAVAILABLE");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no internals in the error: {body}"
    );

    // Nothing was written, on any table.
    assert_eq!(db.store.table_summary().await.unwrap(), before);

    proxy.restore();
    let mut recovered = None;
    for _ in 0..50 {
        match through
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Update {
                    expected_version: 1,
                    input: flag("on"),
                },
            )
            .await
        {
            Ok(flag) => {
                recovered = Some(flag);
                break;
            }
            Err(error) => {
                assert_eq!(error.code(), "STORE_UNAVAILABLE", "{error:?}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    let recovered = recovered.expect("writes work again once the database is back");
    assert_eq!(recovered.version, 2);
    let history = db.store.history("production", "banner").await.unwrap();
    assert_eq!(
        history.len(),
        2,
        "one create, one update: nothing from the outage"
    );
    db.drop_all().await;
}
