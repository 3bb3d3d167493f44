//! The dashboard as the real `ensign serve` embeds it: its caching and
//! security headers over HTTP, and the Playwright scenarios of
//! `dashboard/e2e` driving it in the machine's headless Chromium.
//!
//! The scenarios need Node.js 20 with npm and Chromium (`/usr/bin/chromium`,
//! or `ENSIGN_CHROMIUM`); without them the test prints one SKIPPED line,
//! and fails under `ENSIGN_REQUIRE_SERVICES=1`. Screenshots of every screen
//! they visit go to `$CARGO_TARGET_TMPDIR/dashboard-e2e/screens`. The
//! server runs the analysis every second and has one webhook that cannot be
//! reached, and the example flags are aged 60 days in its store before the
//! scenarios start (see `dashboard/e2e/README.md`).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::json;
use test_support::node::{install_packages, node_toolchain};

use crate::serve::{Serve, scratch};
use crate::workspace_root;

/// The browser the scenarios drive unless `ENSIGN_CHROMIUM` names another:
/// Debian's `chromium` package.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The policy on every answer of the admin listener but GraphiQL's page.
const STRICT_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

/// The flag set whose flags the scenarios find aged: the example flags the
/// first start creates.
const AGED_FLAG_SET: &str = "default";

/// How long ago the aged flags were created: more than the stale-flag
/// list's default window of 30 days.
const AGE: time::Duration = time::Duration::days(60);

/// Moves the creation of `flag_set`'s flags `AGE` back in the store of
/// `ensign serve` running in `dir`, as if they had been created then and
/// never evaluated since: the stale-flag scenario's premise, which no API
/// can write (a flag's creation time is the store's own).
async fn age_flags(dir: &std::path::Path, flag_set: &str) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use store::entity::{flag, flag_set as set};

    let url = format!("sqlite:{}?mode=rw", dir.join("ensign.db").display());
    let db = sea_orm::Database::connect(&url)
        .await
        .expect("the served store opens");
    let set = set::Entity::find()
        .filter(set::Column::Key.eq(flag_set))
        .one(&db)
        .await
        .expect("the flag sets read")
        .expect("the example flag set exists");
    let aged = time::OffsetDateTime::now_utc() - AGE;
    let updated = flag::Entity::update_many()
        .col_expr(
            flag::Column::CreatedAt,
            sea_orm::sea_query::Expr::value(aged),
        )
        .filter(flag::Column::FlagSetId.eq(set.id))
        .exec(&db)
        .await
        .expect("the flags age");
    assert!(updated.rows_affected > 1, "the example flags aged");
    db.close().await.expect("the store closes");
}

/// What a page says when the binary was built without the dashboard.
const NOT_BUILT: &str = r#"<meta name="ensign-dashboard" content="not-built" />"#;

#[test]
fn the_dashboard_passes_its_browser_scenarios() {
    let test = "the_dashboard_passes_its_browser_scenarios";
    let mut missing = Vec::new();
    if let Err(node) = node_toolchain() {
        missing.push(node);
    }
    let chromium = std::env::var_os("ENSIGN_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CHROMIUM));
    if !chromium.is_file() {
        missing.push(format!(
            "Chromium at {} (apt-get install chromium, or set ENSIGN_CHROMIUM)",
            chromium.display()
        ));
    }
    if !missing.is_empty() {
        test_support::skip(test, &missing.join(" and "));
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = scratch("dashboard-e2e");
    // One webhook at a port nothing listens on, so the alerts screen shows
    // a delivery failing and retried; the analysis every second, so a
    // guarded rollout's guard acts while a scenario watches; and the
    // evaluation counts written every second, so the usage screen shows an
    // evaluation without waiting for the minute's end.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    std::fs::write(
        dir.join("ensign.yaml"),
        format!("webhooks:\n  - url: http://{closed}/hook\n    secret: e2e-webhook-secret\n"),
    )
    .expect("the config file");
    let serve = Serve::start_in(
        &dir,
        &[
            "--config",
            "ensign.yaml",
            "--analysis-interval",
            "1",
            "--evaluation-count-interval",
            "1",
        ],
    );
    runtime.block_on(serve.wait_ready());
    runtime.block_on(age_flags(&dir, AGED_FLAG_SET));
    let admin = format!("http://{}", serve.admin.expect("an admin listener"));
    if !runtime.block_on(dashboard_built(&admin)) {
        test_support::skip(
            test,
            "the dashboard built into ensign (Node.js 20 where it is compiled)",
        );
        return;
    }
    let e2e = workspace_root().join("dashboard/e2e");
    let _installed = install_packages(&e2e, test).expect("the e2e packages install");

    let output = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-e2e");
    let _ = std::fs::remove_dir_all(&output);
    std::fs::create_dir_all(&output).expect("the output directory");
    let mut runner = Command::new("npx");
    runner.args(["--no", "playwright", "test"]);
    // The caller's settings never steer the run; it gets exactly these.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ENSIGN_") {
            runner.env_remove(name);
        }
    }
    let result = runner
        .env("ENSIGN_ADMIN_URL", &admin)
        .env("ENSIGN_OFREP_URL", format!("http://{}", serve.ofrep))
        .env(
            "ENSIGN_ADMIN_TOKEN",
            serve
                .token
                .as_deref()
                .expect("the first start prints a token"),
        )
        .env("ENSIGN_E2E_AGED_FLAG_SET", AGED_FLAG_SET)
        .env("ENSIGN_CHROMIUM", &chromium)
        .env("ENSIGN_E2E_OUTPUT", &output)
        // Playwright's own colours would garble the report in a log.
        .env("FORCE_COLOR", "0")
        .current_dir(&e2e)
        .stdin(Stdio::null())
        .output()
        .expect("npx runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(
        result.status.success(),
        "the dashboard's browser scenarios failed ({}):\n{report}\nscreenshots: {}",
        result.status,
        output.display()
    );
    assert!(report.contains(" passed"), "no scenario ran:\n{report}");
    eprintln!(
        "{test}: screenshots in {}\n{report}",
        output.join("screens").display()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The admin listener's answers with the real binary: the app and its
/// hashed assets with their caching, the security headers on every answer
/// (the API's too), GraphiQL for a browser at `/graphql`, and the URL that
/// `ensign serve` prints.
#[tokio::test]
async fn the_admin_listener_serves_the_dashboard_with_its_headers() {
    let test = "the_admin_listener_serves_the_dashboard_with_its_headers";
    let dir = scratch("dashboard-headers");
    let serve = Serve::start_in(&dir, &[]);
    serve.wait_ready().await;
    let admin_addr = serve.admin.expect("an admin listener");
    let admin = format!("http://{admin_addr}");
    assert!(
        serve
            .early
            .iter()
            .any(|line| line.starts_with(&format!("Dashboard: {admin}/"))),
        "the dashboard's URL is printed: {:#?}",
        serve.early
    );
    if !dashboard_built(&admin).await {
        test_support::skip(
            test,
            "the dashboard built into ensign (Node.js 20 where it is compiled)",
        );
        return;
    }
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{admin}{path}"));

    let page = get("/").send().await.expect("the admin listener answers");
    assert_eq!(page.status(), 200);
    check_security(&page, STRICT_POLICY);
    assert_eq!(header(&page, "cache-control"), "no-cache");
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    let index = page.text().await.expect("a page");
    assert!(index.contains(r#"<div id="root">"#), "{index}");

    // A deep link is the app's page, for the app to route.
    let deep = get("/flags/default/new-checkout")
        .send()
        .await
        .expect("an answer");
    assert_eq!(deep.status(), 200);
    assert_eq!(deep.text().await.expect("a page"), index);

    let assets: Vec<&str> = index
        .split('"')
        .filter(|part| part.starts_with("/assets/"))
        .collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{index}");
    assert!(assets.iter().any(|a| a.ends_with(".css")), "{index}");
    for asset in &assets {
        let answer = get(asset).send().await.expect("an answer");
        assert_eq!(answer.status(), 200, "{asset}");
        check_security(&answer, STRICT_POLICY);
        assert_eq!(
            header(&answer, "cache-control"),
            "public, max-age=31536000, immutable",
            "{asset}"
        );
        let expected = if asset.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(header(&answer, "content-type"), expected, "{asset}");
        let packed = get(asset)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .expect("an answer");
        assert_eq!(header(&packed, "content-encoding"), "gzip", "{asset}");
        let packed = packed.bytes().await.expect("a body");
        assert_eq!(&packed[..2], &[0x1f, 0x8b], "{asset} is gzip");
    }
    let gone = get("/assets/main-0ld0ld.js")
        .send()
        .await
        .expect("an answer");
    assert_eq!(gone.status(), 404);
    check_security(&gone, STRICT_POLICY);

    // A browser at the API's address gets GraphiQL, under a policy that
    // differs only by the fonts GraphiQL's stylesheet carries.
    let graphiql = get("/graphql")
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("an answer");
    assert_eq!(graphiql.status(), 200);
    check_security(
        &graphiql,
        &format!("{STRICT_POLICY}; font-src 'self' data:"),
    );
    assert_eq!(header(&graphiql, "cache-control"), "no-cache");
    let body = graphiql.text().await.expect("a page");
    assert!(body.contains(r#"<div id="graphiql">"#), "{body}");

    // The API answers as before, with the headers.
    let plain = get("/graphql").send().await.expect("an answer");
    assert_eq!(plain.status(), 405);
    check_security(&plain, STRICT_POLICY);
    let token = serve
        .token
        .as_deref()
        .expect("the first start prints a token");
    let query = client
        .post(format!("{admin}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ flagSets { key } }" }))
        .send()
        .await
        .expect("an answer");
    assert_eq!(query.status(), 200);
    check_security(&query, STRICT_POLICY);
    let answer: serde_json::Value = query.json().await.expect("JSON");
    assert_eq!(answer["data"]["flagSets"][0]["key"], "default", "{answer}");
    let unknown = client
        .post(format!("{admin}/flags"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(unknown.status(), 404);
    check_security(&unknown, STRICT_POLICY);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether the binary carries the dashboard rather than the page that
/// says how to build it.
async fn dashboard_built(admin: &str) -> bool {
    let page = reqwest::get(format!("{admin}/"))
        .await
        .expect("the admin listener answers")
        .text()
        .await
        .expect("a page");
    !page.contains(NOT_BUILT)
}

#[track_caller]
fn check_security(response: &reqwest::Response, policy: &str) {
    let url = response.url().path().to_owned();
    assert_eq!(header(response, "content-security-policy"), policy, "{url}");
    assert_eq!(
        header(response, "x-content-type-options"),
        "nosniff",
        "{url}"
    );
    assert_eq!(header(response, "referrer-policy"), "no-referrer", "{url}");
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}
