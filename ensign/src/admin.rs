//! `ensign migrate`, `ensign token create` and `ensign store copy`: store
//! maintenance from the command line.

use std::process::ExitCode;

use anyhow::Context;
use store::TokenRole;
use store::{Actor, Store};

use crate::cli::{StoreArgs, StoreCopyArgs, TokenCreateArgs};

/// The audit actor of changes made from the command line.
const CLI_ACTOR: &str = "ensign-cli";

/// Applies pending migrations and says which.
pub fn migrate(args: &StoreArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = connect(args).await?;
        let pending = store.pending_migrations().await?;
        store.migrate().await.context("applying migrations")?;
        if pending.is_empty() {
            println!("the store is up to date");
        }
        for name in pending {
            println!("applied {name}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Creates a token and prints its secret, the only time it is shown.
pub fn create_token(args: &TokenCreateArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = connect(&args.store).await?;
        store.migrate().await.context("applying migrations")?;
        let role: TokenRole = args.role.parse()?;
        let created = store
            .create_token(
                &Actor::named(CLI_ACTOR),
                &args.name,
                role,
                args.flag_set.as_deref(),
            )
            .await
            .with_context(|| format!("creating token {:?}", args.name))?;
        println!("{}", created.secret);
        eprintln!(
            "created {} token {:?} (id {}); the secret above is shown only now",
            created.record.role, created.record.name, created.record.id
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Copies one store into another and prints each table's count and
/// checksum, which both sides matched.
pub fn copy_store(args: &StoreCopyArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let from = Store::connect(&args.from)
            .await
            .context("opening the source store")?;
        let pending = from.pending_migrations().await?;
        anyhow::ensure!(
            pending.is_empty(),
            "the source store needs migrations first ({}): run `ensign migrate --database-url …`",
            pending.join(", ")
        );
        let to = Store::connect(&args.to)
            .await
            .context("opening the target store")?;
        let tables = from.copy_to(&to).await.context("copying the store")?;
        for table in &tables {
            println!(
                "{:<14} {:>8} rows  sha256 {}",
                table.table, table.rows, table.checksum
            );
        }
        println!("copied and verified {} tables", tables.len());
        Ok(ExitCode::SUCCESS)
    })
}

pub(crate) async fn connect(args: &StoreArgs) -> anyhow::Result<Store> {
    Store::connect(&args.database_url)
        .await
        .context("opening the store")
}

pub(crate) fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(future)
}
