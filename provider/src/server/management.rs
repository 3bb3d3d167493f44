//! The management listener: liveness, readiness and Prometheus metrics.

use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::http::header::CONTENT_TYPE;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::server::Flags;

/// `/healthz`, `/readyz` and `/metrics`.
pub fn routes(flags: Arc<Flags>) -> BoxedFilter<(Response,)> {
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::with_status("ok\n", StatusCode::OK).into_response());
    let readyz = {
        let flags = Arc::clone(&flags);
        warp::path!("readyz").and(warp::get()).map(move || {
            if flags.is_ready() {
                warp::reply::with_status("ready\n", StatusCode::OK).into_response()
            } else {
                warp::reply::with_status("not ready\n", StatusCode::SERVICE_UNAVAILABLE)
                    .into_response()
            }
        })
    };
    let metrics = warp::path!("metrics").and(warp::get()).map(move || {
        let snapshot = flags.snapshot();
        let (age, _) = flags.published();
        let mut text = flags
            .metrics()
            .render(snapshot.version(), age, flags.is_ready());
        flags.exposures().render(&mut text);
        flags.tracking().render(&mut text);
        flags.usage().render(&mut text);
        warp::reply::with_header(text, CONTENT_TYPE, "text/plain; version=0.0.4").into_response()
    });
    healthz.or(readyz).unify().or(metrics).unify().boxed()
}
