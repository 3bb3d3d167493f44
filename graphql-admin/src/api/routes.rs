//! The admin API's HTTP routes on warp: `POST /graphql` for queries and
//! mutations, and `GET /graphql` upgraded to a WebSocket for subscriptions.
//! Every request needs an admin token (`Authorization: Bearer …`; over the
//! WebSocket, in the `connection_init` payload).

use std::convert::Infallible;

use async_graphql::Data;
use async_graphql_warp::{GraphQLResponse, GraphQLWebSocket, graphql_protocol};
use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::schema::{Admin, AdminSchema, Caller, ReadOnlySets};
use crate::Store;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// The admin API's routes over the schema of `admin`.
pub fn routes(
    admin: Admin,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone {
    routes_with(admin, ReadOnlySets::default())
}

/// The admin API's routes, listing `read_only` flag sets beside the
/// store's.
pub fn routes_with(
    admin: Admin,
    read_only: ReadOnlySets,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone {
    let store = admin.store.clone();
    let schema = super::schema::schema_with(admin, read_only);
    let query = warp::path!("graphql")
        .and(warp::post())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::header::optional::<String>("x-request-id"))
        .and(with(store.clone()))
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(async_graphql_warp::graphql(schema.clone()))
        .and_then(
            |authorization: Option<String>,
             request_id: Option<String>,
             store: Store,
             (schema, request): (AdminSchema, async_graphql::Request)| async move {
                let caller = match authenticate(&store, authorization.as_deref()).await {
                    Ok(token) => Caller { token, request_id },
                    Err(denied) => return Ok::<_, Infallible>(denied),
                };
                let response = schema.execute(request.data(caller)).await;
                Ok(GraphQLResponse::from(response).into_response())
            },
        );
    let subscriptions = warp::path!("graphql")
        .and(warp::ws())
        .and(graphql_protocol())
        .and(with(store))
        .map(move |ws: warp::ws::Ws, protocol, store: Store| {
            let schema = schema.clone();
            let reply = ws.on_upgrade(move |socket| {
                GraphQLWebSocket::new(socket, schema, protocol)
                    .on_connection_init(move |payload| async move {
                        let authorization = payload
                            .get("Authorization")
                            .or_else(|| payload.get("authorization"))
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        match authenticate(&store, authorization.as_deref()).await {
                            Ok(token) => {
                                let mut data = Data::default();
                                data.insert(Caller {
                                    token,
                                    request_id: None,
                                });
                                Ok(data)
                            }
                            Err(_) => {
                                Err(async_graphql::Error::new("a valid admin token is required"))
                            }
                        }
                    })
                    .serve()
            });
            warp::reply::with_header(
                reply,
                "Sec-WebSocket-Protocol",
                protocol.sec_websocket_protocol(),
            )
            .into_response()
        });
    query.or(subscriptions).unify().recover(recover).unify()
}

fn with<T: Clone + Send>(value: T) -> impl Filter<Extract = (T,), Error = Infallible> + Clone {
    warp::any().map(move || value.clone())
}

/// The token behind an `Authorization: Bearer …` header, or the response
/// refusing the request.
async fn authenticate(
    store: &Store,
    authorization: Option<&str>,
) -> Result<crate::store::TokenRecord, warp::reply::Response> {
    let secret = authorization
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "an admin token is required: Authorization: Bearer <token>",
        ));
    };
    match store.authenticate(secret).await {
        Ok(Some(token)) if !token.role.is_sdk() => Ok(token),
        Ok(Some(_)) => Err(error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "SDK keys evaluate flags; the admin API needs an admin token",
        )),
        Ok(None) => Err(error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "the token is unknown or revoked",
        )),
        Err(failure) => {
            tracing::error!(error = %failure, "Token lookup failed.");
            Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "STORE_UNAVAILABLE",
                "the store is unavailable",
            ))
        }
    }
}

/// A GraphQL-shaped error body with a status.
fn error(status: StatusCode, code: &str, message: &str) -> warp::reply::Response {
    let body = json!({"errors": [{"message": message, "extensions": {"code": code}}]});
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

async fn recover(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    let response = if rejection.is_not_found() {
        error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "the request body is larger than 1 MiB",
        )
    } else if let Some(bad) = rejection.find::<async_graphql_warp::GraphQLBadRequest>() {
        error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &bad.0.to_string())
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "use POST, or a WebSocket for subscriptions",
        )
    } else if rejection
        .find::<warp::reject::UnsupportedMediaType>()
        .is_some()
    {
        error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send application/json",
        )
    } else {
        error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "the request is not a GraphQL request",
        )
    };
    Ok(response)
}
