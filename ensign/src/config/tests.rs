//! Tests of the serve settings: the layers' precedence, the file's shapes,
//! what is refused.

use std::process::Command;

use super::*;
use crate::cli;

/// What a test reads of the settings, as its `Debug`.
type Get = fn(&ServeSettings) -> String;

/// Reads the field `name`.
macro_rules! field {
    ($name:ident) => {
        |s: &ServeSettings| format!("{:?}", s.$name)
    };
}

/// A setting (by its option name) given in some of the layers, and its
/// value once they are merged.
struct Layered {
    key: &'static str,
    /// The value in the config file, as YAML.
    file: Option<&'static str>,
    /// The value of its `ENSIGN_*` variable.
    env: Option<&'static str>,
    /// The value of its option.
    option: Option<&'static str>,
    get: Get,
    expect: &'static str,
}

const fn layered(
    key: &'static str,
    file: Option<&'static str>,
    env: Option<&'static str>,
    option: Option<&'static str>,
    get: Get,
    expect: &'static str,
) -> Layered {
    Layered {
        key,
        file,
        env,
        option,
        get,
        expect,
    }
}

/// Every order of the layers, each on settings of its own, so one command
/// line, one environment and one file hold them all.
#[rustfmt::skip]
const LAYERS: &[Layered] = &[
    // The option beats the environment, which beats the file.
    layered("port", Some("1001"), Some("1002"), Some("1003"), field!(port), "1003"),
    layered("uri", Some("[file:f.json]"), Some("file:e1.json,file:e2.json"), Some("file:o.json"), field!(uri), r#"["file:o.json"]"#),
    layered("database-url", Some("sqlite:f.db"), Some("sqlite:e.db"), Some("sqlite:o.db"), field!(database_url), r#"Some("sqlite:o.db")"#),
    // The environment beats the file.
    layered("sync-port", Some("2001"), Some("2002"), None, field!(sync_port), "2002"),
    layered("cors-origin", Some("[https://f]"), Some("https://e1,https://e2"), None, field!(cors_origin), r#"["https://e1", "https://e2"]"#),
    layered("context-value", Some("{k: f}"), Some("k=e"), None, field!(context_value), r#"["k=e"]"#),
    layered("skip-migrations", Some("false"), Some("true"), None, field!(skip_migrations), "true"),
    layered("redis-url", Some("redis://f"), Some("redis://e"), None, field!(redis_url), r#"Some("redis://e")"#),
    // The option beats the file, and the environment.
    layered("admin-port", Some("4001"), None, Some("4003"), field!(admin_port), "4003"),
    layered("header-read-timeout", None, Some("51"), Some("53"), field!(header_read_timeout), "53"),
    // The file beats the default.
    layered("ofrep-port", Some("3001"), None, None, field!(ofrep_port), "3001"),
    layered("bind", Some("127.0.0.2"), None, None, field!(bind), "127.0.0.2"),
    layered("max-streams", Some("7"), None, None, field!(max_streams), "7"),
    layered("fractional", Some("v1"), None, None, field!(fractional), r#""v1""#),
    // Nothing given: the default.
    layered("management-port", None, None, None, field!(management_port), "8014"),
    layered("redis-prefix", None, None, None, field!(redis_prefix), r#""ensign""#),
    layered("sync-socket-path", None, None, None, field!(sync_socket_path), "None"),
    // Secrets come from the file only: their variables do nothing.
    layered("api-keys", Some("[{key: f}]"), Some("[{key: e}]"), None, |s| format!("{:?}", s.api_keys.iter().map(|k| &k.key).collect::<Vec<_>>()), r#"["f"]"#),
    layered("rate-limit", Some("{requests-per-second: 5}"), Some("{requests-per-second: 6}"), None, |s| format!("{:?}", s.rate_limit.map(|r| r.requests_per_second)), "Some(5)"),
    layered("webhooks", Some("[{url: 'https://f', secret: f}]"), Some("[{url: 'https://e', secret: e}]"), None, |s| format!("{:?}", s.webhooks.iter().map(|w| &w.url).collect::<Vec<_>>()), r#"["https://f"]"#),
];

/// Set in the environment of the child that
/// `options_beat_the_environment_which_beats_the_file` runs.
const CHILD: &str = "ENSIGN_TEST_SETTINGS_CHILD";

/// clap reads the environment itself, when the command is built: to give
/// it real variables without changing this process's environment (which
/// other tests read in parallel), this test runs itself again in a child
/// process whose environment holds `LAYERS`' variables and no other
/// `ENSIGN_*` one. The child builds the command line and the file and
/// checks the merged settings.
#[test]
fn options_beat_the_environment_which_beats_the_file() {
    if std::env::var_os(CHILD).is_some() {
        let failures = merge_the_layers();
        assert!(failures.is_empty(), "{failures:#?}");
        println!("{CHILD}: {} settings checked", LAYERS.len());
        return;
    }
    let module = module_path!().split_once("::").map_or("", |(_, path)| path);
    let test = format!("{module}::options_beat_the_environment_which_beats_the_file");
    let mut child = Command::new(std::env::current_exe().expect("the test binary"));
    child.args(["--exact", &test, "--nocapture", "--test-threads", "1"]);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ENSIGN_") {
            child.env_remove(name);
        }
    }
    child.env(CHILD, "1");
    for layer in LAYERS {
        if let Some(value) = layer.env {
            child.env(env_name(layer.key), value);
        }
    }
    let output = child.output().expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let checked = format!("{CHILD}: {} settings checked", LAYERS.len());
    assert!(
        stdout.contains(&checked),
        "the child ran the test: {stdout}"
    );
}

/// In the child: `LAYERS` merged through the real command and the
/// environment, and each setting that does not come out as expected.
fn merge_the_layers() -> Vec<String> {
    let mut argv = vec!["ensign".to_owned(), "serve".to_owned()];
    let mut file = String::new();
    for layer in LAYERS {
        if let Some(value) = layer.file {
            file.push_str(&format!("{}: {value}\n", layer.key));
        }
        if let Some(value) = layer.option {
            argv.extend([format!("--{}", layer.key), value.to_owned()]);
        }
    }
    let matches = cli::command()
        .try_get_matches_from(&argv)
        .expect("the options parse");
    let given = matches.subcommand_matches("serve").expect("serve");
    let file = serde_yaml_ng::from_str(&file).expect("the file parses");
    let settings = merge(file, given).expect("the layers merge");
    LAYERS
        .iter()
        .filter_map(|layer| {
            let got = (layer.get)(&settings);
            (got != layer.expect).then(|| format!("{}: {got}, not {}", layer.key, layer.expect))
        })
        .collect()
}

/// `ENSIGN_` and the option name in upper snake case.
fn env_name(key: &str) -> String {
    format!("ENSIGN_{}", key.to_uppercase().replace('-', "_"))
}

/// The command with no environment variable read: these tests give
/// settings on the command line and in files only, whatever the
/// environment they run in.
fn command_without_env() -> clap::Command {
    cli::command().mut_subcommand("serve", |serve| serve.mut_args(|arg| arg.env(None)))
}

/// `ensign serve` with `options`, over the config file `file`.
fn settings(options: &[&str], file: &str) -> anyhow::Result<ServeSettings> {
    let argv = ["ensign", "serve"].iter().chain(options);
    let matches = command_without_env().try_get_matches_from(argv)?;
    let given = matches.subcommand_matches("serve").context("not serve")?;
    merge(serde_yaml_ng::from_str(file)?, given)
}

/// Checks a setting read from the config file `file`.
#[track_caller]
fn check_file(file: &str, get: Get, expect: &str) {
    match settings(&[], file) {
        Ok(settings) => assert_eq!(get(&settings), expect, "{file}"),
        Err(error) => panic!("{file}: {error:#}"),
    }
}

#[test]
fn the_file_takes_every_current_shape() {
    check_file(
        "uri: [file:a.json, file:b.json]",
        field!(uri),
        r#"["file:a.json", "file:b.json"]"#,
    );
    check_file("uri:\n  - file:a.json\n", field!(uri), r#"["file:a.json"]"#);
    check_file(
        r#"{"uri": ["file:a.json"], "port": 9}"#,
        |s| format!("{:?} {}", s.uri, s.port),
        r#"["file:a.json"] 9"#,
    );
    check_file(
        "context-value: {env: prod, a: b}",
        field!(context_value),
        r#"["a=b", "env=prod"]"#,
    );
    check_file("cors-origin: ['*']", field!(cors_origin), r#"["*"]"#);
    check_file("skip-migrations: true", field!(skip_migrations), "true");
    check_file("admin-bind: '::1'", field!(admin_bind), "::1");
    check_file(
        "redis-snapshot: /var/lib/ensign/r.json",
        field!(redis_snapshot),
        r#""/var/lib/ensign/r.json""#,
    );
    check_file(
        "socket-path: /run/e.sock",
        field!(socket_path),
        r#"Some("/run/e.sock")"#,
    );
    check_file("database-url: null", field!(database_url), "None");
    check_file(
        "server-cert-path: c.pem\nserver-key-path: k.pem",
        |s| {
            format!(
                "{:?}",
                s.server_cert_path.is_some() && s.server_key_path.is_some()
            )
        },
        "true",
    );
    check_file(
        "api-keys:\n  - key: k\n    selector: flagSetId=shop\n",
        |s| {
            format!(
                "{:?}",
                s.api_keys
                    .iter()
                    .map(|k| (&k.key, &k.selector))
                    .collect::<Vec<_>>()
            )
        },
        r#"[("k", Some("flagSetId=shop"))]"#,
    );
    check_file(
        "rate-limit: {requests-per-second: 50, burst: 5}",
        |s| {
            format!(
                "{:?}",
                s.rate_limit.map(|r| (r.requests_per_second, r.burst))
            )
        },
        "Some((50, Some(5)))",
    );
    check_file(
        "webhooks: [{url: 'https://h', secret: s, events: [flag.changed]}]",
        |s| {
            format!(
                "{:?}",
                s.webhooks.iter().map(|w| &w.url).collect::<Vec<_>>()
            )
        },
        r#"["https://h"]"#,
    );
    // An empty object leaves every default.
    check_file(
        "{}",
        |s| format!("{} {:?} {:?}", s.port, s.uri, s.sources),
        "8013 [] None",
    );
}

/// `sources` as a YAML list, a JSON list or a string holding the JSON
/// list: the option's JSON every time.
#[test]
fn sources_are_a_list_or_its_json() {
    let expect = serde_json::json!([{"uri": "f.json", "provider": "file"}]);
    for file in [
        "sources:\n  - uri: f.json\n    provider: file\n",
        r#"sources: [{"uri": "f.json", "provider": "file"}]"#,
        r#"sources: '[{"uri": "f.json", "provider": "file"}]'"#,
        r#"{"sources": [{"uri": "f.json", "provider": "file"}]}"#,
    ] {
        let sources = settings(&[], file).map(|s| s.sources);
        let Ok(Some(json)) = sources else {
            panic!("{file}: {sources:?}");
        };
        let sources: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(sources, expect, "{file}");
    }
}

/// Checks that `ensign serve` with `options` over the file `file` is
/// refused with an error that mentions `expect`.
#[track_caller]
fn check_refused(options: &[&str], file: &str, expect: &str) {
    match settings(options, file) {
        Ok(settings) => panic!("{options:?} {file}: accepted: {settings:?}"),
        Err(error) => {
            let error = format!("{error:#}");
            assert!(error.contains(expect), "{options:?} {file}: {error}");
        }
    }
}

#[test]
fn unknown_settings_secret_options_and_half_tls_are_refused() {
    check_refused(&[], "prot: 1", "unknown field `prot`");
    check_refused(&[], "api_keys: []", "unknown field `api_keys`");
    check_refused(&[], "config: other.yaml", "unknown field `config`");
    check_refused(&[], "port: 70000", "port");
    check_refused(&[], "context-value: [a=b]", "context-value");
    // Secrets are no options.
    check_refused(&["--api-keys", "k"], "{}", "--api-keys");
    check_refused(&["--rate-limit", "5"], "{}", "--rate-limit");
    check_refused(&["--webhooks", "https://h"], "{}", "--webhooks");
    // A certificate without its key, however given.
    check_refused(&[], "server-cert-path: c.pem", "given together");
    check_refused(&[], "server-key-path: k.pem", "given together");
    check_refused(&["--server-cert-path", "c.pem"], "{}", "server-key-path");
    // An option of the pair needs the other option, as before the file is
    // read.
    check_refused(
        &["--server-key-path", "k.pem"],
        "server-cert-path: c.pem",
        "--server-cert-path",
    );
}

/// Each option is a key of the file by the same name and has an
/// `ENSIGN_*` twin named after it; the secrets have neither an option nor a
/// variable.
#[test]
fn every_option_is_a_file_key_and_a_variable() {
    let command = cli::command();
    let serve = command
        .find_subcommand("serve")
        .expect("the serve subcommand");
    let mut options = 0;
    for arg in serve.get_arguments() {
        let Some(long) = arg.get_long() else {
            continue;
        };
        if long == "help" {
            continue;
        }
        options += 1;
        let env = arg.get_env().map(|env| env.to_string_lossy().into_owned());
        assert_eq!(env, Some(env_name(long)), "--{long}");
        if long == "config" {
            continue;
        }
        // A known key refuses an empty map for its value's type, or takes
        // it; only an unknown key is refused as unknown.
        let outcome = serde_yaml_ng::from_str::<ServeSettings>(&format!("{long}: {{}}"));
        if let Err(error) = outcome {
            assert!(
                !error.to_string().contains("unknown field"),
                "--{long}: {error}"
            );
        }
    }
    assert!(options > 20, "{options} options");
    for secret in ["api-keys", "rate-limit", "webhooks"] {
        assert!(
            serve
                .get_arguments()
                .all(|arg| arg.get_long() != Some(secret)
                    && arg
                        .get_env()
                        .is_none_or(|env| env.to_string_lossy() != env_name(secret))),
            "{secret}"
        );
    }
}
