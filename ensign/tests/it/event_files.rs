//! `ensign events import|export` with the real binary, on the embedded
//! SQLite store and on PostgreSQL (whose store writes events another way):
//! a file's events come back as CSV, the same file again adds nothing, and
//! a bad row stops the whole import with its line.

use std::io::Write as _;
use std::path::Path;
use std::process::{Output, Stdio};

use crate::serve::{PgDatabase, scratch, services_present};

/// A file to import: a value, an empty value, a quoted targeting key with
/// a comma, an offset other than UTC, and the same purchase made twice.
const FILE: &str = "event_name,targeting_key,timestamp,value\n\
                    purchase,u1,2026-12-06T10:00:02Z,19.99\n\
                    signup,\"u,2\",2026-12-06T11:00:01.00025+01:00,\n\
                    purchase,u1,2026-12-06T10:00:02Z,19.99\n\
                    purchase,u3,2026-12-06T10:00:03.5Z,1e3\n";

/// [`FILE`] exported: by the time the events occurred, in UTC, each value
/// in its shortest form.
const EXPORTED: &str = "event_name,targeting_key,timestamp,value\n\
                        signup,\"u,2\",2026-12-06T10:00:01.00025Z,\n\
                        purchase,u1,2026-12-06T10:00:02Z,19.99\n\
                        purchase,u1,2026-12-06T10:00:02Z,19.99\n\
                        purchase,u3,2026-12-06T10:00:03.5Z,1000\n";

/// The header row.
const HEADER: &str = "event_name,targeting_key,timestamp,value\n";

/// A good row; each bad file has it before its bad row, on line 3.
const GOOD: &str = "purchase,u9,2026-12-06T10:00:00Z,5";

/// Runs `ensign events ARGS` on the store at `url`.
fn events(url: &str, args: &[&str]) -> Output {
    let mut all = vec!["events", args[0], "--database-url", url];
    all.extend(&args[1..]);
    crate::ensign(&all)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Imports, exports and refuses on the store at `url`, with files in `dir`.
fn imports_and_exports(url: &str, dir: &Path) {
    let file = dir.join("events.csv");
    std::fs::write(&file, FILE).unwrap();
    let file = file.to_str().unwrap();
    let export = || {
        let output = events(url, &["export", "--flag-set", "shop"]);
        assert!(output.status.success(), "{output:?}");
        crate::stdout(&output)
    };

    let first = events(url, &["import", "--flag-set", "shop", file]);
    assert!(first.status.success(), "{first:?}");
    assert_eq!(
        crate::stdout(&first),
        "imported 4 events into flag set \"shop\"\n"
    );
    assert_eq!(export(), EXPORTED);

    // The same content again, from standard input this time.
    let mut again = crate::ensign_command()
        .args(["events", "import", "--database-url", url])
        .args(["--flag-set", "shop", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ensign runs");
    again
        .stdin
        .take()
        .unwrap()
        .write_all(FILE.as_bytes())
        .unwrap();
    let again = again.wait_with_output().unwrap();
    assert!(again.status.success(), "{again:?}");
    assert_eq!(
        crate::stdout(&again),
        "this file was imported into flag set \"shop\" before; nothing was written\n"
    );
    assert_eq!(export(), EXPORTED);

    let mut bad_files = vec![(
        format!("name,targeting_key,timestamp,value\n{GOOD}\n"),
        "line 1: the header must be `event_name,targeting_key,timestamp,value`, \
         not `name,targeting_key,timestamp,value`"
            .to_owned(),
    )];
    let oversized = format!("{},u1,2026-12-06T10:00:00Z,1", "e".repeat(1025));
    for (row, expect) in [
        ("purchase,u1,2026-12-06T10:00:00Z", "expected 4 fields"),
        ("purchase,u1,2026-12-06T10:00:00Z,1,2", "expected 4 fields"),
        (
            ",u1,2026-12-06T10:00:00Z,1",
            "event_name must be 1 to 1024 bytes, not 0",
        ),
        (
            "purchase,,2026-12-06T10:00:00Z,1",
            "targeting_key must be 1 to 1024 bytes, not 0",
        ),
        (&oversized, "event_name must be 1 to 1024 bytes, not 1025"),
        (
            "purchase,u1,tomorrow,1",
            "timestamp \"tomorrow\" is not RFC 3339",
        ),
        (
            "purchase,u1,2026-12-06T10:00:00Z,abc",
            "value \"abc\" is not a finite number",
        ),
        (
            "purchase,u1,2026-12-06T10:00:00Z,NaN",
            "value \"NaN\" is not a finite number",
        ),
        (
            "purchase,u1,2026-12-06T10:00:00Z,inf",
            "value \"inf\" is not a finite number",
        ),
        (
            "purchase,u1,2026-12-06T10:00:00Z,1e999",
            "value \"1e999\" is not a finite number",
        ),
    ] {
        bad_files.push((
            format!("{HEADER}{GOOD}\n{row}\n"),
            format!("line 3: {expect}"),
        ));
    }
    let bad = dir.join("bad.csv");
    for (text, expect) in bad_files {
        std::fs::write(&bad, &text).unwrap();
        let refused = events(
            url,
            &["import", "--flag-set", "shop", bad.to_str().unwrap()],
        );
        assert_eq!(refused.status.code(), Some(2), "{text}\n{refused:?}");
        assert!(
            stderr(&refused).contains(&expect),
            "{text}\n{}",
            stderr(&refused)
        );
        assert_eq!(export(), EXPORTED, "nothing of {text:?} was written");
    }

    // The batch is the file's content in its flag set: in another flag set
    // it is written again.
    let lab = events(url, &["import", "--flag-set", "lab", file]);
    assert_eq!(
        crate::stdout(&lab),
        "imported 4 events into flag set \"lab\"\n"
    );
    let out = dir.join("signups.csv");
    let signups = events(
        url,
        &[
            "export",
            "--flag-set",
            "lab",
            "--name",
            "signup",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(signups.status.success(), "{signups:?}");
    assert_eq!(stderr(&signups), "exported 1 events\n");
    assert_eq!(crate::stdout(&signups), "");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "event_name,targeting_key,timestamp,value\n\
         signup,\"u,2\",2026-12-06T10:00:01.00025Z,\n"
    );
    assert_eq!(export(), EXPORTED);
}

#[test]
fn events_are_imported_and_exported_as_csv() {
    let dir = scratch("events-csv");
    let url = format!("sqlite:{}", dir.join("ensign.db").display());
    imports_and_exports(&url, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn events_are_imported_and_exported_as_csv_on_postgresql() {
    let test = "events_are_imported_and_exported_as_csv_on_postgresql";
    if !services_present(test) {
        return;
    }
    let database = PgDatabase::create(&format!("ensign_event_files_{}", std::process::id())).await;
    let dir = scratch("events-csv-postgres");
    imports_and_exports(&database.url, &dir);
    database.drop_database().await;
    let _ = std::fs::remove_dir_all(&dir);
}
