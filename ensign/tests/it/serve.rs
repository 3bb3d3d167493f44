//! `ensign serve` as users run it: the real binary on ephemeral ports,
//! reached over the network, stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    database_named, ensign_command, host_port, test_database_url, test_redis_url, workspace_root,
};

/// A running `ensign serve`, killed on drop if the test did not stop it.
pub(crate) struct Serve {
    child: Child,
    pub(crate) ofrep: SocketAddr,
    pub(crate) management: SocketAddr,
    /// flagd's sync service (logged before the management listener).
    pub(crate) sync: Option<SocketAddr>,
    /// The admin API, when serving a store.
    pub(crate) admin: Option<SocketAddr>,
    /// The admin token printed on a store's first start.
    pub(crate) token: Option<String>,
    /// The log lines read while starting.
    pub(crate) early: Vec<String>,
    log: mpsc::Receiver<String>,
}

impl Serve {
    fn start(extra: &[&str]) -> Serve {
        Serve::start_in(&workspace_root(), extra)
    }

    /// Starts `ensign serve` in `dir`, where an embedded store lives, bound
    /// to 127.0.0.1 unless `extra` says `--bind`.
    pub(crate) fn start_in(dir: &std::path::Path, extra: &[&str]) -> Serve {
        let bind: &[&str] = if extra.contains(&"--bind") {
            &[]
        } else {
            &["--bind", "127.0.0.1"]
        };
        let mut child = ensign_command()
            .args(["serve", "--port", "0", "--sync-port", "0"])
            .args(bind)
            .args(["--ofrep-port", "0", "--management-port", "0"])
            .args(["--admin-port", "0"])
            .args(extra)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ensign serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let with_store = extra.contains(&"--database-url") || !extra.contains(&"--uri");
        let (mut ofrep, mut management, mut admin, mut token) = (None, None, None, None);
        let mut sync = None;
        let mut early = Vec::new();
        while ofrep.is_none() || management.is_none() || (with_store && admin.is_none()) {
            let line = log
                .recv_timeout(Duration::from_secs(30))
                .expect("the listeners log their addresses");
            early.push(line.clone());
            let addr = || {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .and_then(|a| a.parse::<SocketAddr>().ok())
            };
            if line.contains("Listener started.") && line.contains("listener=\"ofrep\"") {
                ofrep = addr();
            } else if line.contains("Listener started.") && line.contains("listener=\"management\"")
            {
                management = addr();
            } else if line.contains("Listener started.") && line.contains("listener=\"admin\"") {
                admin = addr();
            } else if line.contains("Listener started.") && line.contains("listener=\"sync\"") {
                sync = addr();
            } else if let Some(secret) = line.strip_prefix("Admin token (shown only now): ") {
                token = Some(secret.trim().to_owned());
            }
        }
        Serve {
            child,
            ofrep: ofrep.expect("OFREP address"),
            management: management.expect("management address"),
            sync,
            admin,
            token,
            early,
            log,
        }
    }

    /// Reads the log until a line contains every one of `parts`; keeps
    /// what it read in `early`.
    fn wait_for_line(&mut self, parts: &[&str]) -> String {
        loop {
            let line = self
                .log
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no log line with {parts:?} in {:#?}", self.early));
            self.early.push(line.clone());
            if parts.iter().all(|p| line.contains(p)) {
                return line;
            }
        }
    }

    /// Waits (up to 20 s: CI machines are busy) for `/readyz`.
    pub(crate) async fn wait_ready(&self) {
        for _ in 0..400 {
            if let Ok(response) = reqwest::get(format!("http://{}/readyz", self.management)).await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server never became ready");
    }

    pub(crate) async fn evaluate(&self, key: &str, context: Value) -> Value {
        reqwest::Client::new()
            .post(format!(
                "http://{}/ofrep/v1/evaluate/flags/{key}",
                self.ofrep
            ))
            .json(&json!({ "context": context }))
            .send()
            .await
            .expect("OFREP answers")
            .json()
            .await
            .expect("a JSON body")
    }

    /// Sends SIGTERM; returns the exit code and the rest of the log.
    pub(crate) fn terminate(mut self) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let mut rest = String::new();
        while let Ok(line) = self.log.recv_timeout(Duration::from_secs(15)) {
            rest.push_str(&line);
            rest.push('\n');
        }
        let code = self.child.wait().expect("the server exits").code();
        (code, rest)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PostgreSQL database of one test's own, on the test server.
pub(crate) struct PgDatabase {
    server: store::Store,
    name: String,
    /// Its URL.
    pub(crate) url: String,
}

impl PgDatabase {
    /// Creates database `name` (dropping a leftover of that name first).
    pub(crate) async fn create(name: &str) -> PgDatabase {
        use sea_orm::ConnectionTrait;
        let server = store::Store::connect(test_database_url().as_str())
            .await
            .expect("PostgreSQL answers");
        let _ = server
            .connection()
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
        server
            .connection()
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("a database for this test");
        PgDatabase {
            server,
            name: name.to_owned(),
            url: database_named(name).to_string(),
        }
    }

    /// Drops it.
    pub(crate) async fn drop_database(self) {
        use sea_orm::ConnectionTrait;
        let _ = self
            .server
            .connection()
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

/// A fresh working directory for one test.
pub(crate) fn scratch(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ensign-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

#[tokio::test]
async fn serves_the_bundled_flags_and_stops_cleanly_on_sigterm() {
    let dir = scratch("bundled");
    let serve = Serve::start_in(&dir, &[]);
    serve.wait_ready().await;
    let out = serve
        .evaluate(
            "new-checkout",
            json!({"targetingKey": "u1", "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(out["value"], json!(true));
    assert_eq!(out["reason"], json!("TARGETING_MATCH"));
    let out = serve.evaluate("payments-kill-switch", json!({})).await;
    assert_eq!(out["value"], json!(true));
    let (code, log) = serve.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("Shutting down."), "{log}");
    assert!(log.contains("Stopped."), "{log}");
}

/// The admin listener, started by `ensign serve` beside the store, has the
/// connection limits given as options: a half-sent request is cut off
/// after the header timeout, and a connection over the cap is closed while
/// the evaluation listeners answer.
#[tokio::test]
async fn the_admin_listener_obeys_the_connection_options() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Whether the server closes `stream` within a patient wait.
    async fn closed(stream: &mut TcpStream) -> bool {
        let mut buffer = [0; 4096];
        let reading = async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), reading)
            .await
            .is_ok()
    }
    /// Sends a request and reads until the answer's headers are complete.
    async fn answered(stream: &mut TcpStream) -> bool {
        let request = b"GET /graphql HTTP/1.1\r\nHost: localhost\r\n\r\n";
        if stream.write_all(request).await.is_err() {
            return false;
        }
        let mut received = Vec::new();
        let mut buffer = [0; 4096];
        let reading = async {
            while !received.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => received.extend_from_slice(&buffer[..n]),
                }
            }
            received.starts_with(b"HTTP/1.1 ")
        };
        tokio::time::timeout(Duration::from_secs(20), reading)
            .await
            .unwrap_or(false)
    }

    let dir = scratch("connection-options");
    let serve = Serve::start_in(
        &dir,
        &["--max-connections", "2", "--header-read-timeout", "1"],
    );
    serve.wait_ready().await;
    let admin = serve.admin.expect("an admin listener");
    let mut half = TcpStream::connect(admin).await.expect("connects");
    half.write_all(b"POST /graphql HTTP/1.1\r\nHost: lo")
        .await
        .expect("writes");
    assert!(closed(&mut half).await, "a half-sent request was kept");
    let mut first = TcpStream::connect(admin).await.expect("connects");
    let mut second = TcpStream::connect(admin).await.expect("connects");
    assert!(answered(&mut first).await);
    assert!(answered(&mut second).await);
    let mut third = TcpStream::connect(admin).await.expect("connects");
    assert!(
        closed(&mut third).await,
        "a connection over the cap was kept"
    );
    let out = serve.evaluate("payments-kill-switch", json!({})).await;
    assert_eq!(out["value"], json!(true));
    let (code, log) = serve.terminate();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn zero_connection_limits_are_refused() {
    for option in ["--idle-timeout", "--max-connections", "--max-streams"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ensign"))
            .args(["serve", "--uri", "file:none.json", option, "0"])
            .output()
            .expect("ensign runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{option}: {stderr}");
        assert!(stderr.contains(&option[2..]), "{option}: {stderr}");
    }
}

#[tokio::test]
async fn serves_files_with_a_static_context() {
    let dir = std::env::temp_dir().join(format!("ensign-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let path = dir.join("env.yaml");
    std::fs::write(
        &path,
        "flags:\n  greeting:\n    state: ENABLED\n    variants: {prod: hello, dev: hi}\n    defaultVariant: dev\n    targeting:\n      if: [{\"==\": [{var: env}, prod]}, prod, dev]\n",
    )
    .expect("write the flag file");
    let uri = format!("file:{}", path.display());
    let serve = Serve::start(&["--uri", &uri, "-X", "env=prod"]);
    serve.wait_ready().await;
    let out = serve.evaluate("greeting", json!({"env": "dev"})).await;
    assert_eq!(out["value"], json!("hello"), "{out}");
    let (code, _) = serve.terminate();
    assert_eq!(code, Some(0));
}

/// The caller's `ENSIGN_*` variables do not reach the servers the tests
/// start: this test binary runs one of its own tests again with bogus
/// settings in its environment (an unreachable store, a config file and a
/// source that do not exist, a port taken by another service), and that
/// test still gets a working server.
#[test]
fn the_callers_ensign_variables_do_not_steer_spawned_servers() {
    let test = "serve::serves_the_bundled_flags_and_stops_cleanly_on_sigterm";
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", test, "--test-threads", "1"])
        .env(
            "ENSIGN_DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/nowhere",
        )
        .env("ENSIGN_CONFIG", "/nonexistent/ensign.yaml")
        .env("ENSIGN_URI", "file:/nonexistent/flags.json")
        .env("ENSIGN_ADMIN_BIND", "192.0.2.1")
        .env("ENSIGN_ADMIN_PORT", "1")
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the test ran: {stdout}");
}

/// Help names the environment variables but never prints their values,
/// which hold database and Redis passwords.
#[test]
fn help_never_prints_environment_values() {
    for args in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["token", "create", "--help"],
    ] {
        let output = ensign_command()
            .args(args)
            .env("ENSIGN_DATABASE_URL", "postgres://ops:db-pass-1@db/flags")
            .env("ENSIGN_REDIS_URL", "redis://:redis-pass-2@cache:6379")
            .env("ENSIGN_URI", "https://u:uri-pass-3@h/f.json")
            .output()
            .expect("ensign runs");
        assert!(output.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("ENSIGN_DATABASE_URL"), "{args:?}: {help}");
        for secret in ["db-pass-1", "redis-pass-2", "uri-pass-3"] {
            assert!(!help.contains(secret), "{args:?} prints {secret}: {help}");
        }
    }
}

/// The admin API binds `--admin-bind` (loopback by default), apart from
/// the evaluation listeners' `--bind`.
#[tokio::test]
async fn the_admin_listener_binds_its_own_address() {
    let ip = |addr: Option<SocketAddr>| addr.map(|a| a.ip().to_string());
    let serve = Serve::start_in(&scratch("admin-bind-default"), &["--bind", "127.0.0.2"]);
    assert_eq!(ip(Some(serve.ofrep)).as_deref(), Some("127.0.0.2"));
    assert_eq!(ip(serve.admin).as_deref(), Some("127.0.0.1"), "the default");
    let token = serve.token.clone().expect("a first start prints a token");
    let (status, _) = graphql(&serve, &token, "{ flagSets { key } }").await;
    assert_eq!(status, 200);
    assert_eq!(serve.terminate().0, Some(0));

    let serve = Serve::start_in(&scratch("admin-bind-given"), &["--admin-bind", "127.0.0.3"]);
    assert_eq!(ip(Some(serve.ofrep)).as_deref(), Some("127.0.0.1"));
    assert_eq!(ip(serve.admin).as_deref(), Some("127.0.0.3"));
    let token = serve.token.clone().expect("a first start prints a token");
    let (status, _) = graphql(&serve, &token, "{ flagSets { key } }").await;
    assert_eq!(status, 200);
    assert_eq!(serve.terminate().0, Some(0));
}

/// The banner line of each listener (`listener=… addr=… tls=… keys=…
/// without_key=…`) and whether a warning names that listener.
fn banner(mut serve: Serve) -> Vec<(String, String, bool)> {
    // The admin listener is announced last, its warning (if any) after it.
    serve.wait_for_line(&["Listening.", "listener=\"admin\""]);
    let mut log = serve.early.clone();
    let (code, tail) = serve.terminate();
    assert_eq!(code, Some(0), "{tail}");
    log.extend(tail.lines().map(str::to_owned));
    ["ofrep", "evaluation", "sync", "management", "admin"]
        .into_iter()
        .map(|name| {
            let tag = format!("listener=\"{name}\"");
            let line = log
                .iter()
                .find(|l| l.contains("Listening.") && l.contains(&tag))
                .unwrap_or_else(|| panic!("no banner line for {name} in {log:#?}"));
            let facts: Vec<&str> = line
                .split_whitespace()
                .filter(|w| {
                    ["addr=", "tls=", "keys=", "without_key="]
                        .iter()
                        .any(|k| w.starts_with(k))
                })
                .map(|w| {
                    if w.starts_with("addr=") {
                        w.split(':').next().unwrap_or(w)
                    } else {
                        w
                    }
                })
                .collect();
            let warned = log.iter().any(|l| l.contains("WARN") && l.contains(&tag));
            (name.to_owned(), facts.join(" "), warned)
        })
        .collect()
}

#[track_caller]
fn check_banner(extra: &[&str], expect: &[(&str, &str, bool)]) {
    let dir = scratch("banner");
    std::fs::write(dir.join("keys.yaml"), "api-keys:\n  - key: k-1\n").expect("a config file");
    let got = banner(Serve::start_in(&dir, extra));
    let expect: Vec<(String, String, bool)> = expect
        .iter()
        .map(|(name, facts, warned)| ((*name).to_owned(), (*facts).to_owned(), *warned))
        .collect();
    assert_eq!(got, expect, "ensign serve {extra:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The startup banner says for each listener where it is, whether it uses
/// TLS and whether it answers without a key, and warns about each surface
/// that answers without a key (or takes admin tokens) over plain HTTP on a
/// non-loopback address.
#[test]
fn the_banner_says_where_listeners_are_and_what_they_ask() {
    let open = "keys=\"sdk-key-per-flag-set\" without_key=true";
    let management = "keys=\"none\" without_key=true";
    let admin = "keys=\"admin-token\" without_key=false";
    // The defaults' shape: evaluation on every interface, without keys,
    // over plain HTTP (warned); the admin API on loopback.
    check_banner(
        &["--bind", "0.0.0.0"],
        &[
            ("ofrep", &format!("addr=0.0.0.0 tls=false {open}"), true),
            (
                "evaluation",
                &format!("addr=0.0.0.0 tls=false {open}"),
                true,
            ),
            ("sync", &format!("addr=0.0.0.0 tls=false {open}"), true),
            (
                "management",
                &format!("addr=0.0.0.0 tls=false {management}"),
                false,
            ),
            ("admin", &format!("addr=127.0.0.1 tls=false {admin}"), false),
        ],
    );
    // Static API keys close evaluation; an exposed plain admin API warns.
    let keyed = "keys=\"api-key\" without_key=false";
    check_banner(
        &[
            "--bind",
            "0.0.0.0",
            "--admin-bind",
            "0.0.0.0",
            "--config",
            "keys.yaml",
        ],
        &[
            ("ofrep", &format!("addr=0.0.0.0 tls=false {keyed}"), false),
            (
                "evaluation",
                &format!("addr=0.0.0.0 tls=false {keyed}"),
                false,
            ),
            ("sync", &format!("addr=0.0.0.0 tls=false {keyed}"), false),
            (
                "management",
                &format!("addr=0.0.0.0 tls=false {management}"),
                false,
            ),
            ("admin", &format!("addr=0.0.0.0 tls=false {admin}"), true),
        ],
    );
    // TLS everywhere: nothing crosses the network in clear.
    let data = crate::workspace_root().join("provider/tests/data");
    let cert = data.join("localhost.cert.pem");
    let key = data.join("localhost.key.pem");
    let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
    check_banner(
        &[
            "--bind",
            "0.0.0.0",
            "--admin-bind",
            "0.0.0.0",
            "--server-cert-path",
            &cert,
            "--server-key-path",
            &key,
        ],
        &[
            ("ofrep", &format!("addr=0.0.0.0 tls=true {open}"), false),
            (
                "evaluation",
                &format!("addr=0.0.0.0 tls=true {open}"),
                false,
            ),
            ("sync", &format!("addr=0.0.0.0 tls=true {open}"), false),
            (
                "management",
                &format!("addr=0.0.0.0 tls=true {management}"),
                false,
            ),
            ("admin", &format!("addr=0.0.0.0 tls=true {admin}"), false),
        ],
    );
}

#[test]
fn unusable_arguments_exit_2_with_a_message() {
    let output = ensign_command()
        .args(["serve", "--uri", "flags.json"])
        .output()
        .expect("ensign runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not file:PATH"), "{stderr}");
}

#[tokio::test]
async fn a_config_file_sets_api_keys_and_options_override_it() {
    let dir = std::env::temp_dir().join(format!("ensign-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let path = dir.join("ensign.yaml");
    // The file asks for port 1 (not bindable by tests); the options' 0 wins.
    std::fs::write(
        &path,
        "ofrep-port: 1\nmanagement-port: 1\napi-keys:\n  - key: s3cret\n",
    )
    .expect("write the config file");
    // Without a source in the file, the embedded store serves, in `dir`.
    let serve = Serve::start_in(&dir, &["--config", &path.display().to_string()]);
    serve.wait_ready().await;
    let url = format!(
        "http://{}/ofrep/v1/evaluate/flags/payments-kill-switch",
        serve.ofrep
    );
    let client = reqwest::Client::new();
    let anonymous = client.post(&url).json(&json!({"context": {}})).send().await;
    assert_eq!(anonymous.map(|r| r.status().as_u16()).ok(), Some(401));
    let keyed = client
        .post(&url)
        .header("x-api-key", "s3cret")
        .json(&json!({"context": {}}))
        .send()
        .await;
    assert_eq!(keyed.map(|r| r.status().as_u16()).ok(), Some(200));
    let (code, _) = serve.terminate();
    assert_eq!(code, Some(0));
}

pub(crate) async fn graphql(serve: &Serve, token: &str, query: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/graphql",
            serve.admin.expect("an admin API")
        ))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("the admin API answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// With no source, `ensign serve` runs the embedded store: it creates
/// ensign.db, seeds the example flags (tags included), prints an admin
/// token once, and an admin change is served at once and survives a
/// restart.
#[tokio::test]
async fn the_embedded_store_serves_admin_changes_and_keeps_them() {
    let dir = scratch("embedded");
    let serve = Serve::start_in(&dir, &[]);
    serve.wait_ready().await;
    assert!(dir.join("ensign.db").exists());
    let token = serve.token.clone().expect("the first start prints a token");
    let context = json!({"targetingKey": "u1", "email": "ada@example.com"});
    assert_eq!(
        serve.evaluate("new-checkout", context.clone()).await["value"],
        json!(true)
    );

    // The bundled flags come tagged, so the tag filter has options.
    let (_, body) = graphql(
        &serve,
        &token,
        r#"{ flagTags(flagSet: "default")
             flags(flagSet: "default", tag: "payments") { items { key tags } } }"#,
    )
    .await;
    assert_eq!(
        body["data"]["flagTags"],
        json!(["beta", "checkout", "mobile", "ops", "payments", "web"]),
        "{body}"
    );
    assert_eq!(
        body["data"]["flags"]["items"],
        json!([
            {"key": "new-checkout", "tags": ["checkout", "payments"]},
            {"key": "payments-kill-switch", "tags": ["payments", "ops"]},
        ]),
        "{body}"
    );

    let (status, body) = graphql(&serve, "ens_adm_wrong", "{ flagSets { key } }").await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = graphql(
        &serve,
        &token,
        r#"mutation { killSwitch(flagSet: "default", key: "new-checkout") { state } }"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["killSwitch"]["state"], "DISABLED", "{body}");
    let mut served = Value::Null;
    for _ in 0..100 {
        served = serve.evaluate("new-checkout", context.clone()).await;
        if served["reason"] == "DISABLED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(served["reason"], "DISABLED", "{served}");
    let (_, body) = graphql(
        &serve,
        &token,
        r#"{ audit(filter: {flag: "new-checkout"}) { items { actor action before after } } }"#,
    )
    .await;
    let last = &body["data"]["audit"]["items"][0];
    assert_eq!(
        (&last["actor"], &last["action"]),
        (&json!("admin"), &json!("kill"))
    );
    assert_eq!(last["before"]["definition"]["state"], "ENABLED");
    assert_eq!(last["after"]["definition"]["state"], "DISABLED");
    // A rollout step already due is applied by the node's scheduler.
    let (_, body) = graphql(
        &serve,
        &token,
        r#"mutation { scheduleRollout(flagSet: "default", key: "new-checkout", steps: [
            {at: "2020-01-01T00:00:00Z", weights: [{variant: "on", weight: 50}, {variant: "off", weight: 50}]}
        ]) { id } }"#,
    )
    .await;
    assert!(body["data"]["scheduleRollout"]["id"].is_number(), "{body}");
    let mut applied = Value::Null;
    for _ in 0..100 {
        let (_, body) = graphql(
            &serve,
            &token,
            r#"{ audit(filter: {flag: "new-checkout", first: 1}) { items { action after } } }"#,
        )
        .await;
        applied = body["data"]["audit"]["items"][0].clone();
        if applied["action"] == "rollout_step" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(applied["action"], "rollout_step", "{applied}");
    let (code, log) = serve.terminate();
    assert_eq!(code, Some(0), "{log}");

    let again = Serve::start_in(&dir, &[]);
    again.wait_ready().await;
    assert_eq!(
        again.token, None,
        "the token is printed only on the first start"
    );
    assert_eq!(
        again.evaluate("new-checkout", context).await["reason"],
        "DISABLED"
    );
    let (status, _) = graphql(&again, &token, "{ flagSets { key } }").await;
    assert_eq!(status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether PostgreSQL and Redis answer on their usual ports; otherwise one
/// loud SKIPPED line (a failure with `ENSIGN_REQUIRE_SERVICES=1`).
pub(crate) fn services_present(test: &str) -> bool {
    let up = |addr: &str| {
        use std::net::ToSocketAddrs as _;
        addr.to_socket_addrs().is_ok_and(|mut addrs| {
            addrs.any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
        })
    };
    let missing: Vec<String> = [
        ("PostgreSQL", host_port(&test_database_url(), 5432)),
        ("Redis", host_port(&test_redis_url(), 6379)),
    ]
    .into_iter()
    .filter(|(_, addr)| !up(addr))
    .map(|(name, addr)| format!("{name} at {addr}"))
    .collect();
    if missing.is_empty() {
        return true;
    }
    test_support::skip(test, &missing.join(" and "));
    false
}

/// The scaled-out shape with the real binary: an admin node on PostgreSQL
/// publishing to Redis, and two evaluation nodes reading only Redis. A
/// kill switch flipped through the admin API reaches both nodes, and the
/// audit log says who changed what.
#[tokio::test]
async fn an_admin_change_reaches_two_evaluation_nodes_through_redis() {
    let test = "an_admin_change_reaches_two_evaluation_nodes_through_redis";
    if !services_present(test) {
        return;
    }
    let unique = format!("ensign_e2e_{}_{}", std::process::id(), line!());
    let server = store::Store::connect(test_database_url().as_str())
        .await
        .expect("PostgreSQL answers");
    use sea_orm::ConnectionTrait;
    let _ = server
        .connection()
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {unique} WITH (FORCE)"))
        .await;
    server
        .connection()
        .execute_unprepared(&format!("CREATE DATABASE {unique}"))
        .await
        .expect("a database for this test");
    let database_url = database_named(&unique).to_string();

    let admin_dir = scratch("cluster-admin");
    let admin = Serve::start_in(
        &admin_dir,
        &[
            "--database-url",
            &database_url,
            "--redis-url",
            test_redis_url().as_str(),
            "--redis-prefix",
            &unique,
        ],
    );
    admin.wait_ready().await;
    let token = admin.token.clone().expect("a first start prints a token");
    let mut node_uri = test_redis_url();
    node_uri.query_pairs_mut().append_pair("prefix", &unique);
    let node_uri = node_uri.to_string();
    let nodes: Vec<Serve> = ["cluster-node-1", "cluster-node-2"]
        .into_iter()
        .map(|name| Serve::start_in(&scratch(name), &["--uri", &node_uri]))
        .collect();
    let context = json!({"targetingKey": "u1", "email": "ada@example.com"});
    for node in &nodes {
        node.wait_ready().await;
        assert!(node.admin.is_none(), "evaluation nodes have no admin API");
        assert_eq!(
            node.evaluate("new-checkout", context.clone()).await["value"],
            json!(true)
        );
    }

    let (_, body) = graphql(
        &admin,
        &token,
        r#"mutation { killSwitch(flagSet: "default", key: "new-checkout") { state } }"#,
    )
    .await;
    assert_eq!(body["data"]["killSwitch"]["state"], "DISABLED", "{body}");
    for node in &nodes {
        let mut served = Value::Null;
        for _ in 0..200 {
            served = node.evaluate("new-checkout", context.clone()).await;
            if served["reason"] == "DISABLED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(served["reason"], "DISABLED", "{served}");
    }
    let (_, body) = graphql(
        &admin,
        &token,
        r#"{ audit(filter: {flag: "new-checkout", first: 1}) { items { actor action before after } } }"#,
    )
    .await;
    let event = &body["data"]["audit"]["items"][0];
    assert_eq!(
        (&event["actor"], &event["action"]),
        (&json!("admin"), &json!("kill")),
        "{body}"
    );
    assert_eq!(event["before"]["definition"]["state"], "ENABLED");
    assert_eq!(event["after"]["definition"]["state"], "DISABLED");

    // A client SDK key reaches both nodes, sees only client-visible flags,
    // and stops working on both once revoked.
    let (_, body) = graphql(
        &admin,
        &token,
        r#"mutation { createToken(name: "web", role: "client", flagSet: "default") { secret token { id } } }"#,
    )
    .await;
    let secret = body["data"]["createToken"]["secret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    let id = body["data"]["createToken"]["token"]["id"]
        .as_i64()
        .expect("an id");
    let (_, body) = graphql(
        &admin,
        &token,
        r#"{ flag(flagSet: "default", key: "payments-kill-switch") { version definition } }"#,
    )
    .await;
    let flag = &body["data"]["flag"];
    let body: Value = reqwest::Client::new()
        .post(format!(
            "http://{}/graphql",
            admin.admin.expect("an admin API")
        ))
        .bearer_auth(&token)
        .json(&json!({
            "query": r#"mutation($v: Int!, $def: JSON!) { updateFlag(flagSet: "default",
                key: "payments-kill-switch", expectedVersion: $v,
                flag: {definition: $def, clientVisible: true}) { version } }"#,
            "variables": {"v": flag["version"], "def": flag["definition"]},
        }))
        .send()
        .await
        .expect("the admin API answers")
        .json()
        .await
        .expect("a JSON body");
    assert!(body["data"]["updateFlag"]["version"].is_number(), "{body}");
    let with_key = |node: &Serve, key: &'static str| {
        let url = format!("http://{}/ofrep/v1/evaluate/flags/{key}", node.ofrep);
        let secret = secret.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(secret)
                .json(&json!({"context": {}}))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    let anonymous = |node: &Serve| {
        let url = format!(
            "http://{}/ofrep/v1/evaluate/flags/payments-kill-switch",
            node.ofrep
        );
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&json!({"context": {}}))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    for node in &nodes {
        // Once the flag set's keys arrive, a key is needed.
        let mut status = 0;
        for _ in 0..200 {
            status = anonymous(node).await;
            if status == 401 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(status, 401, "the key reaches every node");
        assert_eq!(with_key(node, "payments-kill-switch").await, 200);
        assert_eq!(
            with_key(node, "new-checkout").await,
            404,
            "not client-visible"
        );
    }
    let (_, body) = graphql(
        &admin,
        &token,
        &format!("mutation {{ revokeToken(id: {id}) {{ revokedAt }} }}"),
    )
    .await;
    assert!(
        body["data"]["revokeToken"]["revokedAt"].is_string(),
        "{body}"
    );
    for node in &nodes {
        let mut status = 0;
        for _ in 0..200 {
            status = with_key(node, "payments-kill-switch").await;
            if status == 401 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(status, 401, "the revoked key is refused on every node");
    }

    for node in nodes {
        assert_eq!(node.terminate().0, Some(0));
    }
    assert_eq!(admin.terminate().0, Some(0));
    let _ = server
        .connection()
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {unique} WITH (FORCE)"))
        .await;
}

/// Webhooks from the config file: a kill switch flipped through the admin
/// API reaches the receiver as a signed `flag.alert`.
#[tokio::test]
async fn a_kill_switch_is_delivered_to_a_signed_webhook() {
    use warp::Filter as _;
    let (tx, mut deliveries) = tokio::sync::mpsc::unbounded_channel();
    let hook = warp::post()
        .and(warp::path("hook"))
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .map(move |headers: warp::http::HeaderMap, body: bytes::Bytes| {
            let _ = tx.send((headers, body));
            "ok"
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the receiver");
    let receiver = listener.local_addr().expect("its address");
    tokio::spawn(warp::serve(hook).incoming(listener).run());

    let dir = scratch("webhooks");
    let config = dir.join("ensign.yaml");
    std::fs::write(
        &config,
        format!("webhooks:\n  - url: http://{receiver}/hook\n    secret: s3cret\n"),
    )
    .expect("write the config file");
    let serve = Serve::start_in(&dir, &["--config", &config.display().to_string()]);
    serve.wait_ready().await;
    let token = serve.token.clone().expect("a first start prints a token");
    let (_, body) = graphql(
        &serve,
        &token,
        r#"mutation { killSwitch(flagSet: "default", key: "new-checkout") { state } }"#,
    )
    .await;
    assert_eq!(body["data"]["killSwitch"]["state"], "DISABLED", "{body}");

    let mut alert = None;
    while let Ok(Some((headers, body))) =
        tokio::time::timeout(Duration::from_secs(30), deliveries.recv()).await
    {
        if headers["x-ensign-event"] == "flag.alert" {
            alert = Some((headers, body));
            break;
        }
    }
    let (headers, body) = alert.expect("a flag.alert delivery");
    let timestamp: i64 = headers["x-ensign-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let signature = headers["x-ensign-signature"].to_str().unwrap();
    assert!(
        graphql_admin::alerts::verify(b"s3cret", timestamp, &body, signature),
        "the signature verifies"
    );
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (&event["flag"], &event["action"], &event["actor"]),
        (&json!("new-checkout"), &json!("kill"), &json!("admin")),
        "{event}"
    );
    assert_eq!(serve.terminate().0, Some(0));
}

/// A store beside a `--uri` source: the admin API lists the file's flag set
/// as read-only and refuses writes to it, while evaluation serves both.
#[tokio::test]
async fn flag_sets_from_sources_are_read_only_beside_a_store() {
    let dir = scratch("beside");
    let file = dir.join("files.json");
    std::fs::write(
        &file,
        r#"{"flags": {"from-file": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}},
            "metadata": {"flagSetId": "files"}}"#,
    )
    .expect("write the flag file");
    let database = format!("sqlite:{}", dir.join("ensign.db").display());
    let uri = format!("file:{}", file.display());
    let serve = Serve::start_in(&dir, &["--database-url", &database, "--uri", &uri]);
    serve.wait_ready().await;
    let token = serve.token.clone().expect("a first start prints a token");
    let (_, body) = graphql(&serve, &token, "{ flagSets { key readOnly } }").await;
    assert_eq!(
        body["data"]["flagSets"],
        json!([{"key": "default", "readOnly": false}, {"key": "files", "readOnly": true}]),
        "{body}"
    );
    let (_, body) = graphql(
        &serve,
        &token,
        r#"mutation { killSwitch(flagSet: "files", key: "from-file") { state } }"#,
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "READ_ONLY",
        "{body}"
    );
    assert_eq!(
        serve.evaluate("from-file", json!({})).await["value"],
        json!(true)
    );
    assert_eq!(serve.terminate().0, Some(0));
}

/// An HTTP source whose URL carries credentials and a token: the admin
/// API lists its flag set (named after the source, as the file names
/// none) with the URL redacted, and neither the log nor `/metrics` shows
/// the secrets.
#[tokio::test]
async fn http_source_secrets_stay_out_of_api_answers_logs_and_metrics() {
    use warp::Filter as _;
    let dir = scratch("http-secrets");
    let flags = r#"{"flags": {"from-http": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}}}"#;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the origin");
    let origin = listener.local_addr().expect("origin address");
    let route = warp::path!("flags.json").map(move || flags);
    tokio::spawn(warp::serve(route).incoming(listener).run());

    let database = format!("sqlite:{}", dir.join("ensign.db").display());
    let uri = format!("http://ops:hunter2@{origin}/flags.json?token=t0k3n#frag");
    let serve = Serve::start_in(&dir, &["--database-url", &database, "--uri", &uri]);
    serve.wait_ready().await;
    let token = serve.token.clone().expect("a first start prints a token");
    let (_, body) = graphql(&serve, &token, "{ flagSets { key readOnly } }").await;
    let redacted = format!("http://***@{origin}/flags.json?token=***");
    assert_eq!(
        body["data"]["flagSets"],
        json!([{"key": "default", "readOnly": false}, {"key": redacted, "readOnly": true}]),
        "{body}"
    );
    assert_eq!(
        serve.evaluate("from-http", json!({})).await["value"],
        json!(true)
    );
    let metrics = reqwest::get(format!("http://{}/metrics", serve.management))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    let (code, log) = serve.terminate();
    assert_eq!(code, Some(0));
    for secret in ["hunter2", "ops:", "t0k3n", "frag"] {
        for (what, text) in [
            ("answer", body.to_string()),
            ("metrics", metrics.clone()),
            ("log", log.clone()),
        ] {
            assert!(!text.contains(secret), "{secret} in the {what}: {text}");
        }
    }
}

/// A TCP proxy to the shared PostgreSQL server that a test can cut (open
/// connections dropped, new ones refused) and restore.
struct PostgresProxy {
    addr: std::net::SocketAddr,
    cut: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl PostgresProxy {
    async fn start() -> PostgresProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the proxy");
        let addr = listener.local_addr().expect("its address");
        let cut = std::sync::Arc::new(tokio::sync::watch::channel(false).0);
        let state = std::sync::Arc::clone(&cut);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut cut = state.subscribe();
                if *cut.borrow() {
                    continue;
                }
                tokio::spawn(async move {
                    let upstream = host_port(&test_database_url(), 5432);
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        PostgresProxy { addr, cut }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

/// With its database unreachable, an admin node keeps evaluating from the
/// last state it loaded, refuses admin requests with a clear error, and
/// works again once the database is back. (Multi-threaded: the proxy must
/// run while the test blocks reading the server's log.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_leaves_evaluation_running() {
    let test = "a_database_outage_leaves_evaluation_running";
    if !services_present(test) {
        return;
    }
    let unique = format!("ensign_outage_{}_{}", std::process::id(), line!());
    let server = store::Store::connect(test_database_url().as_str())
        .await
        .expect("PostgreSQL answers");
    use sea_orm::ConnectionTrait;
    let _ = server
        .connection()
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {unique} WITH (FORCE)"))
        .await;
    server
        .connection()
        .execute_unprepared(&format!("CREATE DATABASE {unique}"))
        .await
        .expect("a database for this test");
    let proxy = PostgresProxy::start().await;
    let mut database_url = database_named(&unique);
    database_url
        .set_host(Some(&proxy.addr.ip().to_string()))
        .expect("a host");
    database_url
        .set_port(Some(proxy.addr.port()))
        .expect("a port");
    let database_url = database_url.to_string();

    let serve = Serve::start_in(&scratch("outage"), &["--database-url", &database_url]);
    serve.wait_ready().await;
    let token = serve.token.clone().expect("a first start prints a token");
    let context = json!({"targetingKey": "u1", "email": "ada@example.com"});
    assert_eq!(
        serve.evaluate("new-checkout", context.clone()).await["value"],
        json!(true)
    );

    proxy.set_cut(true);
    // Longer than the node's reconciliation interval, so it has tried the
    // store and failed at least once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for _ in 0..5 {
        let served = serve.evaluate("new-checkout", context.clone()).await;
        assert_eq!(served["value"], json!(true), "{served}");
    }
    let (status, body) = graphql(
        &serve,
        &token,
        r#"mutation { killSwitch(flagSet: "default", key: "new-checkout") { state } }"#,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "STORE_UNAVAILABLE");

    proxy.set_cut(false);
    let mut state = Value::Null;
    for _ in 0..100 {
        let (_, body) = graphql(
            &serve,
            &token,
            r#"mutation { killSwitch(flagSet: "default", key: "new-checkout") { state } }"#,
        )
        .await;
        state = body["data"]["killSwitch"]["state"].clone();
        if state == "DISABLED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        state, "DISABLED",
        "writes work again once the database is back"
    );
    assert_eq!(serve.terminate().0, Some(0));
    let _ = server
        .connection()
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {unique} WITH (FORCE)"))
        .await;
}

/// A viewer token cannot take the node down with deeply nested GraphQL
/// literals (the parser used to overflow the stack and abort the process):
/// over HTTP and over a WebSocket, as arguments of real and unknown fields
/// and in `evaluate(context: …)`, every such query is refused with
/// `NESTING_TOO_DEEP` (400 over HTTP), and afterwards the same process
/// still answers OFREP and the admin API.
#[tokio::test]
async fn deeply_nested_graphql_is_refused_and_the_node_keeps_serving() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let dir = scratch("nesting");
    let mut serve = Serve::start_in(&dir, &[]);
    serve.wait_ready().await;
    let admin = serve.token.clone().expect("the first start prints a token");
    let (_, body) = graphql(
        &serve,
        &admin,
        r#"mutation { createToken(name: "viewer", role: "viewer") { secret } }"#,
    )
    .await;
    let viewer = body["data"]["createToken"]["secret"]
        .as_str()
        .expect("a viewer token")
        .to_owned();

    // The depth at which parsing overflows depends on the build and the
    // stack; these cover debug and release builds.
    let mut queries = Vec::new();
    for depth in [300, 450, 600, 1000, 1400] {
        let list = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let object = format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth));
        queries.push(format!("{{ flagSets(x: {list}) {{ key }} }}"));
        queries.push(format!("{{ nothing(x: {object}) }}"));
        queries.push(format!(
            r#"{{ evaluate(flagSet: "default", key: "new-checkout", context: {{email: {list}}}) {{ reason }} }}"#
        ));
        queries.push(format!(
            r#"{{ evaluate(flagSet: "default", key: "new-checkout", context: {object}) {{ reason }} }}"#
        ));
    }
    for query in &queries {
        let (status, body) = graphql(&serve, &viewer, query).await;
        assert_eq!(
            (status, &body["errors"][0]["extensions"]["code"]),
            (400, &json!("NESTING_TOO_DEEP")),
            "{body}"
        );
    }

    let admin_addr = serve.admin.expect("an admin API");
    let mut request = format!("ws://{admin_addr}/graphql")
        .into_client_request()
        .expect("a WebSocket request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("a header value"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the WebSocket upgrade");
    let mut send = async |message: Value| {
        socket
            .send(Message::text(message.to_string()))
            .await
            .expect("the socket takes the message");
        loop {
            let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
                .await
                .expect("an answer")
                .expect("the socket stays open")
                .expect("a message");
            if let Message::Text(text) = message {
                let message: Value = serde_json::from_str(&text).expect("JSON");
                if message["type"] != "complete" {
                    return message;
                }
            }
        }
    };
    let ack = send(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {viewer}")}})).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    for (n, query) in queries.iter().enumerate() {
        let answer =
            send(json!({"type": "subscribe", "id": n.to_string(), "payload": {"query": query}}))
                .await;
        assert_eq!(
            answer["payload"]["errors"][0]["extensions"]["code"], "NESTING_TOO_DEEP",
            "{answer}"
        );
    }
    let fine = send(
        json!({"type": "subscribe", "id": "fine", "payload": {"query": "{ flagSets { key } }"}}),
    )
    .await;
    assert_eq!(
        fine["payload"]["data"]["flagSets"][0]["key"], "default",
        "{fine}"
    );

    assert!(
        serve.child.try_wait().expect("the process state").is_none(),
        "the server is still running"
    );
    let out = serve
        .evaluate(
            "new-checkout",
            json!({"targetingKey": "u1", "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(out["value"], json!(true), "{out}");
    let (status, _) = graphql(&serve, &viewer, "{ flagSets { key } }").await;
    assert_eq!(status, 200);
    assert_eq!(serve.terminate().0, Some(0));
}
