//! The dashboard on the admin listener, beside the admin API: the files the
//! build script laid out, embedded in the binary, served as a single-page
//! app. `GET /graphql` from a browser gets GraphiQL's page; every other
//! request to `/graphql` goes to the API unchanged. Every answer, the API's
//! included, carries the security headers (a strict CSP, `nosniff`, no
//! referrer); GraphiQL's page alone may also load fonts from `data:` URLs.

use std::borrow::Cow;
use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::http::header::{self, HeaderMap, HeaderValue};
use warp::path::FullPath;
use warp::reply::Response;
use warp::{Filter as _, Rejection};

/// The policy on every answer of the admin listener: the dashboard and
/// GraphiQL load nothing but their own files and talk only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The policy of GraphiQL's page alone: the strict one, but fonts may also
/// come from `data:` URLs, which is how GraphiQL's stylesheet carries its
/// own. A font runs no code; the app's page keeps the strict policy.
pub const GRAPHIQL_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'; font-src 'self' data:";

/// How long browsers keep a hashed asset: a year, without asking again
/// (a new build has new names).
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Pages and unhashed files are checked with the server on every use.
pub const NO_CACHE: &str = "no-cache";

/// The app's page, answered for every path the app routes itself.
const INDEX: &str = "index.html";
/// GraphiQL's page, also answered for a browser's `GET /graphql`.
const GRAPHIQL: &str = "graphiql.html";
/// The folder of Vite's hashed assets.
const ASSETS: &str = "assets/";

/// One file as served: its bytes, a gzip copy when one was made, and an
/// entity tag for conditional requests.
#[derive(Debug, Clone)]
pub struct File {
    pub body: Cow<'static, [u8]>,
    pub gzip: Option<Cow<'static, [u8]>>,
    /// A hash of the body, without quotes.
    pub hash: String,
}

/// Where the dashboard's files come from: the embedded build, or a test's
/// own set.
pub trait Files: Send + Sync + 'static {
    /// The file at `path` (relative, no leading `/`).
    fn get(&self, path: &str) -> Option<File>;
}

/// What the build script laid out in `OUT_DIR/dashboard/files`.
#[derive(rust_embed::Embed)]
#[folder = "$OUT_DIR/dashboard/files"]
struct Built;

/// The gzip copies the build script made in `OUT_DIR/dashboard/gzip`.
#[derive(rust_embed::Embed)]
#[folder = "$OUT_DIR/dashboard/gzip"]
struct BuiltGzip;

/// The dashboard embedded in this binary.
#[derive(Debug, Clone, Copy)]
pub struct Embedded;

impl Files for Embedded {
    fn get(&self, path: &str) -> Option<File> {
        let file = Built::get(path)?;
        let hash = file
            .metadata
            .sha256_hash()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Some(File {
            body: file.data,
            gzip: BuiltGzip::get(path).map(|packed| packed.data),
            hash,
        })
    }
}

impl Embedded {
    /// Whether this binary carries the dashboard, rather than the page
    /// that says how to build it (the build found no Node.js).
    pub fn is_built() -> bool {
        Built::get(INDEX).is_some_and(|page| {
            !String::from_utf8_lossy(&page.data)
                .contains(r#"<meta name="ensign-dashboard" content="not-built" />"#)
        })
    }
}

/// The admin listener's routes: GraphiQL's page for a browser's
/// `GET /graphql`, the dashboard for `GET` and `HEAD` of any other path,
/// and `api` for everything else, each answer with the security headers.
pub fn routes(files: impl Files, api: BoxedFilter<(Response,)>) -> BoxedFilter<(Response,)> {
    let files: Arc<dyn Files> = Arc::new(files);
    let with_files = warp::any().map(move || Arc::clone(&files));
    let read = warp::get().or(warp::head()).unify();
    let graphiql = warp::path!("graphql")
        .and(read)
        .and(warp::header::headers_cloned())
        .and_then(|headers: HeaderMap| async move {
            let browser = headers
                .get(header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"));
            if browser && !headers.contains_key(header::UPGRADE) {
                Ok(headers)
            } else {
                Err(warp::reject::not_found())
            }
        })
        .and(with_files.clone())
        .map(|headers: HeaderMap, files: Arc<dyn Files>| page(files.as_ref(), GRAPHIQL, &headers));
    let app = read
        .and(warp::path::full())
        .and_then(|path: FullPath| async move {
            match path.as_str() {
                "/graphql" | "/graphql/" => Err::<_, Rejection>(warp::reject::not_found()),
                _ => Ok(path),
            }
        })
        .and(warp::header::headers_cloned())
        .and(with_files)
        .map(
            |path: FullPath, headers: HeaderMap, files: Arc<dyn Files>| {
                app(files.as_ref(), path.as_str(), &headers)
            },
        );
    graphiql
        .or(app)
        .unify()
        .or(api)
        .unify()
        .map(|mut response: Response| {
            secure(response.headers_mut());
            response
        })
        .boxed()
}

/// The answer for `path` of the app: the file there, a 404 for an unknown
/// hashed asset (a stale page asking for an old build's file must not get
/// HTML in its place), and the app's page for any other path, which the
/// app routes itself.
fn app(files: &dyn Files, path: &str, headers: &HeaderMap) -> Response {
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() { INDEX } else { relative };
    if files.get(relative).is_some() {
        return page(files, relative, headers);
    }
    if relative.starts_with(ASSETS) {
        let mut response = Response::new("not found".into());
        *response.status_mut() = StatusCode::NOT_FOUND;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return response;
    }
    page(files, INDEX, headers)
}

/// The file at `path` (known to exist, or the built pages), with its
/// content type and caching, gzipped for a client that accepts it, or 304
/// when the client's copy is current.
fn page(files: &dyn Files, path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = files.get(path) else {
        let mut response = Response::new("the dashboard is missing from this build".into());
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    let has_gzip = file.gzip.is_some();
    let gzip = file
        .gzip
        .filter(|_| accepts_gzip(headers.get(header::ACCEPT_ENCODING)));
    let etag = match gzip {
        Some(_) => format!("\"{}-gzip\"", file.hash),
        None => format!("\"{}\"", file.hash),
    };
    let current = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|tags| tags.to_str().ok())
        .is_some_and(|tags| matches_etag(tags, &etag));
    let mut response = if current {
        let mut response = Response::new("".into());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let body = gzip.as_ref().unwrap_or(&file.body);
        Response::new(match body {
            Cow::Borrowed(bytes) => (*bytes).into(),
            Cow::Owned(bytes) => bytes.clone().into(),
        })
    };
    let head = response.headers_mut();
    if !current {
        head.insert(header::CONTENT_TYPE, content_type(path));
    }
    let caching = if path.starts_with(ASSETS) {
        IMMUTABLE
    } else {
        NO_CACHE
    };
    head.insert(header::CACHE_CONTROL, HeaderValue::from_static(caching));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        head.insert(header::ETAG, value);
    }
    if path == GRAPHIQL {
        head.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(GRAPHIQL_CONTENT_SECURITY_POLICY),
        );
    }
    if has_gzip {
        head.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzip.is_some() && !current {
        head.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// The content type of a file by its name; text in UTF-8.
fn content_type(path: &str) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let text = mime.type_() == mime_guess::mime::TEXT
        || mime.subtype() == mime_guess::mime::JAVASCRIPT
        || mime.subtype() == mime_guess::mime::JSON;
    let value = if text && mime.get_param(mime_guess::mime::CHARSET).is_none() {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&value)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// Whether an `Accept-Encoding` header accepts gzip: `gzip` or `*` listed
/// without `q=0`.
fn accepts_gzip(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept.and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let mut verdict = None;
    for coding in accept.split(',') {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("").to_ascii_lowercase();
        let refused = parts.any(|param| {
            param
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        match name.as_str() {
            // An explicit `gzip` entry decides over `*`.
            "gzip" | "x-gzip" => return !refused,
            "*" => verdict = Some(!refused),
            _ => {}
        }
    }
    verdict.unwrap_or(false)
}

/// Whether an `If-None-Match` list names `etag` (weak comparison) or is
/// `*`.
fn matches_etag(tags: &str, etag: &str) -> bool {
    tags.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Puts the security headers on an answer: the strict policy unless the
/// answer is GraphiQL's page, which has its own.
fn secure(headers: &mut HeaderMap) {
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

#[cfg(test)]
mod tests;
