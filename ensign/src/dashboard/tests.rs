//! The admin listener's routing between the dashboard, GraphiQL and the
//! API, over a small set of files, without sockets; and the embedded build's
//! pages, which must refer only to files the binary carries.

use std::borrow::Cow;
use std::collections::HashMap;

use warp::Filter as _;
use warp::http::StatusCode;

use super::*;

/// A set of files held in memory, keyed by path.
struct InMemory(HashMap<&'static str, File>);

impl Files for InMemory {
    fn get(&self, path: &str) -> Option<File> {
        self.0.get(path).cloned()
    }
}

fn file(body: &'static str, gzip: Option<&'static str>) -> File {
    File {
        body: Cow::Borrowed(body.as_bytes()),
        gzip: gzip.map(|packed| Cow::Borrowed(packed.as_bytes())),
        hash: format!("h{}", body.len()),
    }
}

fn files() -> InMemory {
    InMemory(HashMap::from([
        ("index.html", file("<p>app</p>", Some("GZ-app"))),
        ("graphiql.html", file("<p>graphiql</p>", None)),
        ("assets/main-abc123.js", file("main();", Some("GZ-main"))),
        ("assets/main-abc123.css", file("p{}", None)),
        ("favicon.svg", file("<svg/>", None)),
    ]))
}

/// The API stands in as a route that names the request it got.
fn routes() -> BoxedFilter<(Response,)> {
    let api = warp::method()
        .and(warp::path::full())
        .map(|method, path: FullPath| {
            let mut response = Response::new(format!("api {method} {}", path.as_str()).into());
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
        })
        .boxed();
    super::routes(files(), api)
}

/// What a request is answered: status, the headers that matter here
/// (security headers checked separately, on every answer) and the body.
fn reply(method: &str, path: &str, headers: &[(&str, &str)]) -> warp::http::Response<bytes::Bytes> {
    let mut request = warp::test::request().method(method).path(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(request.reply(&routes()))
}

#[track_caller]
fn check(method: &str, path: &str, headers: &[(&str, &str)], expect: &expect_test::Expect) {
    let response = reply(method, path, headers);
    let head = response.headers();
    let graphiql = response.body().as_ref() == b"<p>graphiql</p>";
    let policy = if graphiql {
        GRAPHIQL_CONTENT_SECURITY_POLICY
    } else {
        CONTENT_SECURITY_POLICY
    };
    assert_eq!(
        head.get(header::CONTENT_SECURITY_POLICY)
            .map(|v| v.to_str().unwrap_or("")),
        Some(policy),
        "CSP on {method} {path}"
    );
    assert_eq!(
        head.get(header::X_CONTENT_TYPE_OPTIONS)
            .map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    assert_eq!(
        head.get(header::REFERRER_POLICY).map(|v| v.as_bytes()),
        Some(&b"no-referrer"[..])
    );
    let mut shown = vec![response.status().as_u16().to_string()];
    for name in [
        header::CONTENT_TYPE,
        header::CACHE_CONTROL,
        header::CONTENT_ENCODING,
        header::VARY,
        header::ETAG,
    ] {
        if let Some(value) = head.get(&name) {
            shown.push(format!("{name}: {}", value.to_str().unwrap_or("?")));
        }
    }
    shown.push(String::from_utf8_lossy(response.body()).into_owned());
    expect.assert_eq(&shown.join("\n"));
}

#[test]
fn the_root_and_client_side_routes_get_the_app_page() {
    let page = expect_test::expect![[r#"
        200
        content-type: text/html; charset=utf-8
        cache-control: no-cache
        vary: accept-encoding
        etag: "h10"
        <p>app</p>"#]];
    check("GET", "/", &[], &page);
    check("GET", "/index.html", &[], &page);
    check("GET", "/flags/default", &[], &page);
    check("GET", "/flags/default/new%2Fcheckout", &[], &page);
    check("GET", "/sign-in?next=%2Fflags", &[], &page);
    // A deep link that looks like a file but is none is still the app's.
    check("GET", "/flags/default/favicon.png", &[], &page);
    check(
        "HEAD",
        "/flags",
        &[],
        &expect_test::expect![[r#"
            200
            content-type: text/html; charset=utf-8
            cache-control: no-cache
            vary: accept-encoding
            etag: "h10"
            <p>app</p>"#]],
    );
}

#[test]
fn hashed_assets_are_immutable_and_unknown_ones_are_not_found() {
    check(
        "GET",
        "/assets/main-abc123.js",
        &[],
        &expect_test::expect![[r#"
            200
            content-type: text/javascript; charset=utf-8
            cache-control: public, max-age=31536000, immutable
            vary: accept-encoding
            etag: "h7"
            main();"#]],
    );
    check(
        "GET",
        "/assets/main-abc123.css",
        &[],
        &expect_test::expect![[r#"
            200
            content-type: text/css; charset=utf-8
            cache-control: public, max-age=31536000, immutable
            etag: "h3"
            p{}"#]],
    );
    // A page of an older build asks for a file this one lacks: no HTML in
    // its place.
    check(
        "GET",
        "/assets/main-old999.js",
        &[],
        &expect_test::expect![[r#"
            404
            content-type: text/plain; charset=utf-8
            not found"#]],
    );
    check(
        "GET",
        "/assets/",
        &[],
        &expect_test::expect![[r#"
            404
            content-type: text/plain; charset=utf-8
            not found"#]],
    );
    check(
        "GET",
        "/favicon.svg",
        &[],
        &expect_test::expect![[r#"
            200
            content-type: image/svg+xml
            cache-control: no-cache
            etag: "h6"
            <svg/>"#]],
    );
}

#[test]
fn gzip_goes_to_clients_that_accept_it() {
    let packed = expect_test::expect![[r#"
        200
        content-type: text/javascript; charset=utf-8
        cache-control: public, max-age=31536000, immutable
        content-encoding: gzip
        vary: accept-encoding
        etag: "h7-gzip"
        GZ-main"#]];
    let plain = expect_test::expect![[r#"
        200
        content-type: text/javascript; charset=utf-8
        cache-control: public, max-age=31536000, immutable
        vary: accept-encoding
        etag: "h7"
        main();"#]];
    let js = "/assets/main-abc123.js";
    check(
        "GET",
        js,
        &[("accept-encoding", "gzip, deflate, br")],
        &packed,
    );
    check(
        "GET",
        js,
        &[("accept-encoding", "br;q=1, *;q=0.1")],
        &packed,
    );
    check("GET", js, &[("accept-encoding", "br")], &plain);
    check("GET", js, &[("accept-encoding", "gzip;q=0, br")], &plain);
    check("GET", js, &[("accept-encoding", "*, gzip;q=0")], &plain);
    check("GET", js, &[("accept-encoding", "identity")], &plain);
}

#[test]
fn a_current_copy_is_answered_not_modified() {
    let unchanged = expect_test::expect![[r#"
        304
        cache-control: no-cache
        vary: accept-encoding
        etag: "h10"
    "#]];
    check("GET", "/", &[("if-none-match", "\"h10\"")], &unchanged);
    check(
        "GET",
        "/",
        &[("if-none-match", "\"old\", W/\"h10\"")],
        &unchanged,
    );
    check(
        "GET",
        "/",
        &[
            ("if-none-match", "\"h10-gzip\""),
            ("accept-encoding", "gzip"),
        ],
        &expect_test::expect![[r#"
            304
            cache-control: no-cache
            vary: accept-encoding
            etag: "h10-gzip"
        "#]],
    );
    // The identity copy's tag does not stand for the gzip copy.
    check(
        "GET",
        "/",
        &[("if-none-match", "\"h10\""), ("accept-encoding", "gzip")],
        &expect_test::expect![[r#"
            200
            content-type: text/html; charset=utf-8
            cache-control: no-cache
            content-encoding: gzip
            vary: accept-encoding
            etag: "h10-gzip"
            GZ-app"#]],
    );
}

#[test]
fn a_browser_gets_graphiql_at_the_api_address_and_everything_else_the_api() {
    check(
        "GET",
        "/graphql",
        &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        &expect_test::expect![[r#"
            200
            content-type: text/html; charset=utf-8
            cache-control: no-cache
            etag: "h15"
            <p>graphiql</p>"#]],
    );
    check(
        "GET",
        "/graphiql.html",
        &[],
        &expect_test::expect![[r#"
            200
            content-type: text/html; charset=utf-8
            cache-control: no-cache
            etag: "h15"
            <p>graphiql</p>"#]],
    );
    // The API's own answers, unchanged: a plain GET, a WebSocket upgrade
    // (even from a browser), and every method but GET and HEAD anywhere.
    for (method, path, headers) in [
        ("GET", "/graphql", &[][..]),
        ("GET", "/graphql", &[("accept", "application/json")][..]),
        (
            "GET",
            "/graphql",
            &[("accept", "text/html"), ("upgrade", "websocket")][..],
        ),
        ("GET", "/graphql/", &[][..]),
        ("POST", "/graphql", &[("accept", "text/html")][..]),
        ("POST", "/", &[][..]),
        ("PUT", "/flags/default", &[][..]),
        ("DELETE", "/assets/main-abc123.js", &[][..]),
    ] {
        let response = reply(method, path, headers);
        let shown = format!(
            "{}\n{}",
            response.status().as_u16(),
            String::from_utf8_lossy(response.body())
        );
        assert_eq!(
            shown,
            format!("405\napi {method} {path}"),
            "{method} {path} {headers:?}"
        );
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_SECURITY_POLICY)
                .map(|v| v.as_bytes()),
            Some(CONTENT_SECURITY_POLICY.as_bytes()),
            "the API's answers carry the policy too"
        );
    }
}

#[test]
fn the_policies_are_strict() {
    for policy in [CONTENT_SECURITY_POLICY, GRAPHIQL_CONTENT_SECURITY_POLICY] {
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(
                policy.split("; ").any(|given| given == directive),
                "{directive} missing from {policy}"
            );
        }
        assert!(!policy.contains("unsafe"), "{policy}");
    }
    // GraphiQL's page differs only by its fonts.
    assert_eq!(
        GRAPHIQL_CONTENT_SECURITY_POLICY,
        format!("{CONTENT_SECURITY_POLICY}; font-src 'self' data:")
    );
}

/// The embedded pages (the built dashboard, or the page that says how to
/// build it) are there, and every file they name is embedded too.
#[test]
fn the_embedded_pages_refer_only_to_embedded_files() {
    for page in [INDEX, GRAPHIQL] {
        let file = Embedded
            .get(page)
            .unwrap_or_else(|| panic!("{page} is embedded"));
        let text = String::from_utf8_lossy(&file.body).into_owned();
        let named: Vec<&str> = text
            .split(['"', '\''])
            .filter(|part| part.starts_with('/') && !part.starts_with("//"))
            .collect();
        if Embedded::is_built() {
            assert!(
                named.iter().any(|path| path.starts_with("/assets/")),
                "{page} loads assets: {text}"
            );
        }
        for path in named {
            assert!(
                Embedded.get(path.trim_start_matches('/')).is_some(),
                "{page} names {path}, which is not embedded"
            );
        }
    }
}
