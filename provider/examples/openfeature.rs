//! Evaluates a flag of a running Ensign through OpenFeature both ways — in
//! process over flagd sync, and remotely over OFREP (bulk mode) — then
//! prints provider events as flags change, until Ctrl-C.
//!
//! ```sh
//! cargo run -p ensign -- serve            # serves examples/flags.json
//! cargo run -p provider --example openfeature -- new-checkout localhost:8015 http://localhost:8016
//! ```
//!
//! Edit `examples/flags.json` while it runs to see CONFIGURATION_CHANGED;
//! stop the server to see STALE, start it again to see READY.

use std::time::Duration;

use open_feature::{EvaluationContext, OpenFeature};
use provider::client::{InProcessProvider, ProviderEvent, RemoteProvider, code_default_reason};
use tokio::sync::broadcast;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let flag = args.next().unwrap_or_else(|| "new-checkout".into());
    let sync_target = args.next().unwrap_or_else(|| "localhost:8015".into());
    let ofrep_url = args
        .next()
        .unwrap_or_else(|| "http://localhost:8016".into());
    let user = EvaluationContext::default()
        .with_targeting_key("user-1")
        .with_custom_field("email", "ada@example.com");

    // In process: the engine evaluates here; flags arrive over flagd sync.
    let in_process = InProcessProvider::builder(&sync_target)
        .init_timeout(Duration::from_secs(3))
        .build()?;
    // Remote, bulk mode: every flag evaluated once for this context, cached,
    // refreshed when the server announces a change.
    let remote = RemoteProvider::builder(&ofrep_url)
        .bulk(user.clone())
        .build()?;
    let local_events = in_process.events();
    let remote_events = remote.events();

    // An API instance of our own; `OpenFeature::singleton_mut()` works too.
    let mut api = OpenFeature::default();
    api.set_named_provider("local", in_process).await;
    api.set_named_provider("remote", remote).await;
    let local = api.create_named_client("local");
    let cached = api.create_named_client("remote");

    for (name, client) in [("in-process", &local), ("remote bulk", &cached)] {
        match client.get_bool_details(&flag, Some(&user), None).await {
            Ok(details) => println!(
                "{name}: {flag} = {} (variant {:?}, reason {:?})",
                details.value, details.variant, details.reason
            ),
            // A disabled flag asks for the caller's default.
            Err(error) => match code_default_reason(&error) {
                Some(reason) => println!("{name}: {flag} = false (the default; {reason})"),
                None => println!("{name}: {flag} failed: {error:?}"),
            },
        }
    }

    println!("Waiting for provider events; Ctrl-C to stop.");
    tokio::select! {
        () = print_events("in-process", local_events) => {}
        () = print_events("remote bulk", remote_events) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

async fn print_events(name: &str, mut events: broadcast::Receiver<ProviderEvent>) {
    loop {
        match events.recv().await {
            Ok(event) => println!("{name}: {event:?}"),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                println!("{name}: missed {missed} events");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
