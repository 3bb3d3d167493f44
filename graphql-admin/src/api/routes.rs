//! The admin API's HTTP routes on warp: `POST /graphql` for queries and
//! mutations, and `GET /graphql` upgraded to a WebSocket for subscriptions.
//! Every request needs an admin token (`Authorization: Bearer …`; over the
//! WebSocket, in the `connection_init` payload, and looked up again for
//! every operation on the socket). WebSocket messages are bounded like
//! request bodies, a query nested too deep is answered 400 before it is
//! parsed, and a request whose handler panics is answered 500 (over a
//! WebSocket, its socket alone is closed) while every other connection
//! carries on.

use std::any::Any;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use async_graphql::{
    Data, Executor, ObjectType, Request, Response, Schema, ServerError, SubscriptionType,
};
use async_graphql_warp::{GraphQLResponse, graphql_protocol};
use futures::stream::BoxStream;
use futures::{FutureExt, SinkExt, StreamExt};
use serde_json::Value;
use warp::http::{HeaderValue, StatusCode};
use warp::ws::Message;
use warp::{Filter, Rejection, Reply};

use super::error::ApiError;
use super::schema::{Admin, Caller, ReadOnlySets};
use super::sockets::{Attacher, CLOSE_WRITE_TIMEOUT, Sockets};
use store::Store;

/// Largest request body accepted, and largest WebSocket message.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// The close code of a socket whose operation panicked (1011, "internal
/// error").
pub const INTERNAL_ERROR_CLOSE_CODE: u16 = 1011;

/// The close code of a socket that sent a message larger than
/// [`MAX_BODY_BYTES`] (1009, "message too big").
pub const MESSAGE_TOO_BIG_CLOSE_CODE: u16 = 1009;

/// Longest `X-Request-Id` accepted, in bytes; the id is stored with every
/// audit event of the request.
pub const MAX_REQUEST_ID_BYTES: usize = 128;

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
    let sockets = Sockets::new(admin.store.clone());
    routes_with_sockets(admin, read_only, sockets)
}

/// The admin API's routes, registering WebSocket sessions in `sockets`
/// (where revocations close them).
pub fn routes_with_sockets(
    admin: Admin,
    read_only: ReadOnlySets,
    sockets: Sockets,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone {
    let store = admin.store.clone();
    let schema = super::schema::build(admin, read_only, Some(sockets.clone()));
    routes_over(schema, store, sockets)
}

/// The routes over any schema whose resolvers read the [`Caller`] (the
/// admin schema, or a test schema), with `sockets` registering its
/// WebSocket sessions (the schema's `revokeToken`, if it has one, closes
/// them through its own data).
pub fn routes_over<Q, M, S>(
    schema: Schema<Q, M, S>,
    store: Store,
    sockets: Sockets,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let query = warp::path!("graphql")
        .and(warp::post())
        .and(warp::header::optional::<String>("authorization"))
        .and(
            warp::header::value("x-request-id")
                .map(Some)
                .or(warp::any().map(|| None))
                .unify(),
        )
        .and(with(store.clone()))
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(async_graphql_warp::graphql(schema.clone()))
        .and_then(
            |authorization: Option<String>,
             request_id: Option<HeaderValue>,
             store: Store,
             (schema, request): (Schema<Q, M, S>, Request)| async move {
                let token = match authenticate(&store, authorization.as_deref()).await {
                    Ok(token) => token,
                    Err(denied) => return Ok::<_, Infallible>(denied.into_response()),
                };
                let caller = match checked_request_id(request_id.as_ref()) {
                    Ok(request_id) => Caller { token, request_id },
                    Err(refused) => return Ok(refused.into_response()),
                };
                let execution = AssertUnwindSafe(schema.execute(request.data(caller)));
                let response = match execution.catch_unwind().await {
                    Ok(response) => response,
                    Err(panic) => {
                        tracing::error!(
                            panic = panic_message(panic.as_ref()),
                            "An admin request panicked; only it failed."
                        );
                        return Ok(ApiError::Internal.into_response());
                    }
                };
                let status = answer_status(&response);
                let mut reply = GraphQLResponse::from(response).into_response();
                *reply.status_mut() = status;
                Ok(reply)
            },
        );
    let subscriptions =
        warp::path!("graphql")
            .and(warp::ws())
            .and(graphql_protocol())
            .and(with(store))
            .and(with(sockets))
            .map(
                move |ws: warp::ws::Ws,
                      protocol: WebSocketProtocols,
                      store: Store,
                      sockets: Sockets| {
                    let schema = schema.clone();
                    let limit = usize::try_from(MAX_BODY_BYTES).unwrap_or(usize::MAX);
                    let reply = ws.max_message_size(limit).max_frame_size(limit).on_upgrade(
                        move |socket| serve_socket(socket, schema, protocol, store, sockets),
                    );
                    warp::reply::with_header(
                        reply,
                        "Sec-WebSocket-Protocol",
                        protocol.sec_websocket_protocol(),
                    )
                    .into_response()
                },
            );
    query.or(subscriptions).unify().recover(recover).unify()
}

/// The status of a GraphQL answer: a query refused before it was parsed
/// (too deeply nested) is a bad request, answered with that refusal's
/// status; any other answer is 200, whatever errors it holds.
fn answer_status(response: &Response) -> StatusCode {
    response
        .errors
        .iter()
        .filter_map(ServerError::source::<ApiError>)
        .find(|error| matches!(error, ApiError::NestingTooDeep { .. }))
        .and_then(ApiError::status)
        .unwrap_or(StatusCode::OK)
}

/// Runs one admin socket: the graphql-ws protocols over the socket's
/// messages, until the peer leaves, its token is revoked (close code
/// [`super::sockets::TOKEN_REVOKED`]) or an operation panics (close code
/// [`INTERNAL_ERROR_CLOSE_CODE`]).
async fn serve_socket<Q, M, S>(
    socket: warp::ws::WebSocket,
    schema: Schema<Q, M, S>,
    protocol: WebSocketProtocols,
    store: Store,
    sockets: Sockets,
) where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let mut session = sockets.open();
    let attacher = session.attacher();
    let (mut sink, stream) = socket.split();
    // A read error ends the stream; a message over the limit is answered
    // with close code 1009 ("message too big").
    let failed: Arc<Mutex<Option<(u16, String)>>> = Arc::default();
    let read_failure = failed.clone();
    let inbound = stream
        .take_while(move |message| {
            if let Err(error) = message {
                let closing = read_closing(error);
                *read_failure.lock().unwrap_or_else(PoisonError::into_inner) = closing;
            }
            std::future::ready(message.is_ok())
        })
        .filter_map(|message| {
            std::future::ready(
                message
                    .ok()
                    .filter(|m| m.is_text() || m.is_binary())
                    .map(Message::into_bytes),
            )
        });
    let executor = SocketExecutor {
        schema,
        store: store.clone(),
        session: attacher.clone(),
    };
    let mut graphql = WebSocket::new(executor, inbound, protocol)
        .on_connection_init(move |payload| async move {
            let authorization = payload
                .get("Authorization")
                .or_else(|| payload.get("authorization"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            match authenticate(&store, authorization.as_deref()).await {
                Ok(token) => {
                    attacher.attach(token.id);
                    Ok(Data::default())
                }
                Err(_) => Err(async_graphql::Error::new("a valid admin token is required")),
            }
        })
        .map(|message| match message {
            WsMessage::Text(text) => Message::text(text),
            WsMessage::Close(code, reason) => Message::close_with(code, reason),
        });
    let closing = loop {
        let next = AssertUnwindSafe(graphql.next()).catch_unwind();
        let message = tokio::select! {
            biased;
            closing = session.closing() => break Some((closing.code, closing.reason)),
            message = next => message,
        };
        let message = match message {
            Ok(Some(message)) => message,
            Ok(None) => break None,
            Err(panic) => {
                tracing::error!(
                    panic = panic_message(panic.as_ref()),
                    "An admin socket's operation panicked; only its socket is closed."
                );
                break Some((INTERNAL_ERROR_CLOSE_CODE, "internal error".to_owned()));
            }
        };
        // A message already produced goes out before a close; a peer that
        // does not read does not hold the close up.
        tokio::select! {
            biased;
            sent = sink.send(message) => if sent.is_err() { break None },
            closing = session.closing() => break Some((closing.code, closing.reason)),
        }
    };
    // Dropping the protocol state ends every operation of the socket.
    drop(graphql);
    let closing = closing.or_else(|| failed.lock().unwrap_or_else(PoisonError::into_inner).take());
    if let Some((code, reason)) = closing {
        let _ = tokio::time::timeout(
            CLOSE_WRITE_TIMEOUT,
            sink.send(Message::close_with(code, reason)),
        )
        .await;
    }
    let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, sink.close()).await;
}

/// The close frame answering a read error, if the peer is to get one: a
/// message over [`MAX_BODY_BYTES`] gets 1009.
fn read_closing(error: &warp::Error) -> Option<(u16, String)> {
    let cause = std::error::Error::source(error)?.downcast_ref::<tungstenite::Error>()?;
    match cause {
        tungstenite::Error::Capacity(_) => Some((
            MESSAGE_TOO_BIG_CLOSE_CODE,
            format!("messages are limited to {MAX_BODY_BYTES} bytes"),
        )),
        _ => None,
    }
}

/// Runs a socket's operations, each authorized against its token as it is
/// now: a revoked token runs nothing and closes its socket, and the
/// token's current role applies.
#[derive(Clone)]
struct SocketExecutor<E> {
    schema: E,
    store: Store,
    session: Attacher,
}

impl<E> SocketExecutor<E> {
    /// The caller as its token is now, or the answer refusing it (a
    /// revoked token also closes the socket).
    async fn current(store: Store, session: Attacher) -> Result<Caller, Response> {
        let refuse = |error: ApiError| {
            Response::from_errors(vec![
                error.server_error(Some(async_graphql::Pos::default())),
            ])
        };
        let Some(id) = session.token() else {
            return Err(refuse(ApiError::NoCaller));
        };
        match store.token(id).await {
            Ok(Some(token)) if token.revoked_at.is_none() && !token.role.is_sdk() => Ok(Caller {
                token,
                request_id: None,
            }),
            Ok(_) => {
                session.revoked();
                Err(refuse(ApiError::TokenRevoked))
            }
            Err(failure) => Err(refuse(failure.into())),
        }
    }
}

impl<Q, M, S> Executor for SocketExecutor<Schema<Q, M, S>>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    async fn execute(&self, request: Request) -> Response {
        match Self::current(self.store.clone(), self.session.clone()).await {
            Ok(caller) => self.schema.execute(request.data(caller)).await,
            Err(refused) => refused,
        }
    }

    /// Runs an operation if its token is live, and delivers each of its
    /// results (each event of a subscription) only while the token is
    /// still live; the first refusal ends the operation.
    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let (schema, store, session) = (
            self.schema.clone(),
            self.store.clone(),
            self.session.clone(),
        );
        let results = async move {
            let caller = match Self::current(store.clone(), session.clone()).await {
                Ok(caller) => caller,
                Err(refused) => return futures::stream::once(std::future::ready(refused)).boxed(),
            };
            schema
                .execute_stream_with_session_data(
                    request.data(caller),
                    session_data.unwrap_or_default(),
                )
                .then(move |response| {
                    let (store, session) = (store.clone(), session.clone());
                    async move {
                        match Self::current(store, session).await {
                            Ok(_) => (response, true),
                            Err(refused) => (refused, false),
                        }
                    }
                })
                .scan(true, |live, (response, still)| {
                    let result = live.then_some(response);
                    *live = still;
                    std::future::ready(result)
                })
                .boxed()
        };
        futures::stream::once(results).flatten().boxed()
    }
}

/// What a panic said, for the log.
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

fn with<T: Clone + Send>(value: T) -> impl Filter<Extract = (T,), Error = Infallible> + Clone {
    warp::any().map(move || value.clone())
}

/// The token behind an `Authorization: Bearer …` header, or the error
/// refusing the request.
async fn authenticate(
    store: &Store,
    authorization: Option<&str>,
) -> Result<store::TokenRecord, ApiError> {
    let secret = authorization
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Err(ApiError::MissingToken);
    };
    match store.authenticate(secret).await {
        Ok(Some(token)) if !token.role.is_sdk() => Ok(token),
        Ok(Some(_)) => Err(ApiError::SdkKey),
        Ok(None) => Err(ApiError::UnknownToken),
        Err(failure) => Err(failure.into()),
    }
}

/// The request id to audit: 1 to [`MAX_REQUEST_ID_BYTES`] bytes of visible
/// ASCII (`!` to `~`). Anything else is refused with 400
/// `INVALID_REQUEST_ID` rather than cut or replaced, so that the id in the
/// audit trail is always the one the caller sent and can search for.
fn checked_request_id(value: Option<&HeaderValue>) -> Result<Option<String>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty()
        || bytes.len() > MAX_REQUEST_ID_BYTES
        || !bytes.iter().all(u8::is_ascii_graphic)
    {
        return Err(ApiError::InvalidRequestId { len: bytes.len() });
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// Maps warp's rejections onto the API's errors.
async fn recover(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    let error = if rejection.is_not_found() {
        ApiError::RouteNotFound
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge
    } else if let Some(bad) = rejection.find::<async_graphql_warp::GraphQLBadRequest>() {
        let details = bad.0.to_string();
        // serde_json refuses the 128th level of the body, so variables may
        // nest `engine::MAX_DATA_DEPTH` levels less the two around them.
        if details.contains("recursion limit exceeded") {
            ApiError::VariablesTooDeep { details }
        } else {
            ApiError::BadRequest { details }
        }
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed
    } else if rejection
        .find::<warp::reject::UnsupportedMediaType>()
        .is_some()
    {
        ApiError::UnsupportedMediaType
    } else {
        ApiError::NotGraphQl
    };
    Ok(error.into_response())
}
