//! `ensign serve` as users run it: the real binary on ephemeral ports,
//! reached over the network, stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::workspace_root;

/// A running `ensign serve`, killed on drop if the test did not stop it.
struct Serve {
    child: Child,
    ofrep: SocketAddr,
    management: SocketAddr,
    log: mpsc::Receiver<String>,
}

impl Serve {
    fn start(extra: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ensign"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--sync-port",
                "0",
            ])
            .args(["--ofrep-port", "0", "--management-port", "0"])
            .args(extra)
            .current_dir(workspace_root())
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
        let (mut ofrep, mut management) = (None, None);
        while ofrep.is_none() || management.is_none() {
            let line = log
                .recv_timeout(Duration::from_secs(30))
                .expect("the listeners log their addresses");
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
            }
        }
        Serve {
            child,
            ofrep: ofrep.expect("OFREP address"),
            management: management.expect("management address"),
            log,
        }
    }

    async fn wait_ready(&self) {
        for _ in 0..100 {
            if let Ok(response) = reqwest::get(format!("http://{}/readyz", self.management)).await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server never became ready");
    }

    async fn evaluate(&self, key: &str, context: Value) -> Value {
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
    fn terminate(mut self) -> (Option<i32>, String) {
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

#[tokio::test]
async fn serves_the_bundled_flags_and_stops_cleanly_on_sigterm() {
    let serve = Serve::start(&[]);
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

#[test]
fn unusable_arguments_exit_2_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_ensign"))
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
    let serve = Serve::start(&["--config", &path.display().to_string()]);
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
