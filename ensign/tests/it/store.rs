//! `ensign migrate` and `ensign token create` against a fresh SQLite store.

use crate::{ensign, stdout};

#[test]
fn migrate_then_create_tokens() {
    let dir = std::env::temp_dir().join(format!("ensign-store-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite:{}", dir.join("ensign.db").display());

    let first = ensign(&["migrate", "--database-url", &url]);
    assert!(first.status.success(), "{first:?}");
    let applied = stdout(&first);
    assert!(
        applied.starts_with("applied m20261125_000001_initial\n")
            && applied.lines().all(|l| l.starts_with("applied m")),
        "{applied}"
    );
    let again = ensign(&["migrate", "--database-url", &url]);
    assert_eq!(stdout(&again), "the store is up to date\n");

    let token = ensign(&["token", "create", "--database-url", &url, "--name", "ops"]);
    assert!(token.status.success(), "{token:?}");
    let secret = stdout(&token);
    assert!(
        secret.starts_with("ens_adm_") && secret.trim().len() == 72,
        "{secret}"
    );
    let other = ensign(&["token", "create", "--database-url", &url, "--name", "ops2"]);
    assert_ne!(stdout(&other), secret, "each token is new");

    for (args, message) in [
        (vec!["--role", "root"], "is not viewer, editor, admin"),
        (vec!["--role", "client"], "needs a flag set"),
    ] {
        let mut all = vec!["token", "create", "--database-url", &url, "--name", "x"];
        all.extend(args);
        let refused = ensign(&all);
        assert_eq!(refused.status.code(), Some(2), "{refused:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(message), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn store_copy_refuses_a_target_with_data() {
    let dir = std::env::temp_dir().join(format!("ensign-store-copy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let from = format!("sqlite:{}", dir.join("from.db").display());
    let to = format!("sqlite:{}", dir.join("to.db").display());
    assert!(
        ensign(&["token", "create", "--database-url", &from, "--name", "ops"])
            .status
            .success()
    );

    let copy = ensign(&["store", "copy", "--from", &from, "--to", &to]);
    assert!(copy.status.success(), "{copy:?}");
    let out = stdout(&copy);
    assert!(out.contains("api_tokens"), "{out}");
    let verified = format!("copied and verified {} tables\n", store::TABLES.len());
    assert!(out.ends_with(&verified), "{out}");

    let again = ensign(&["store", "copy", "--from", &from, "--to", &to]);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("the target is not empty"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
