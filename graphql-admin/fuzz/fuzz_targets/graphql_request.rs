//! Fuzzes GraphQL request bodies as the admin API receives them: whatever
//! the bytes, reading the body as a request, the nesting check, parsing,
//! validation against the real schema and execution (every field refuses
//! for want of a caller, so no store is needed) never panic nor overflow
//! the stack, and a query the nesting check passes parses within it.

#![no_main]

use libfuzzer_sys::fuzz_target;

use graphql_admin::api::{ApiError, detached, nesting};

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static SCHEMA: graphql_admin::api::AdminSchema = detached();
    }
    // The body as the route reads it; a query text on its own is fuzzed
    // too, so that the corpus need not learn JSON first.
    let request = match serde_json::from_slice::<async_graphql::Request>(data) {
        Ok(request) => request,
        Err(_) => match std::str::from_utf8(data) {
            Ok(query) => async_graphql::Request::new(query),
            Err(_) => return,
        },
    };
    let checked = nesting::check(&request.query);
    let response = SCHEMA.with(|schema| futures::executor::block_on(schema.execute(request)));
    let refused = response
        .errors
        .iter()
        .any(|e| matches!(e.source::<ApiError>(), Some(ApiError::NestingTooDeep { .. })));
    assert_eq!(checked.is_err(), refused, "the check and the schema agree");
});
