//! A command's session with the store: opened from the store arguments, acting as the
//! local administrator or `--as USER`, run on a one-thread runtime, and closed in one
//! place when the command ends (so SQLite folds its write-ahead log back in).

use std::cell::RefCell;
use std::io::BufRead;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use keyway_store::{Context, Location, Store};

use crate::args::StoreArgs;
use crate::secret::Password;

thread_local! {
    /// The stores this command opened, closed by [`block_on`] when it ends.
    static OPENED: RefCell<Vec<Arc<Store>>> = const { RefCell::new(Vec::new()) };
}

pub(crate) async fn open(args: &StoreArgs) -> Result<Arc<Store>> {
    let location = Location {
        data_dir: args.data.data_dir.clone(),
        database_url: args.database.clone(),
    };
    let store = Arc::new(Store::open(&location, args.data.master_key.as_deref()).await?);
    OPENED.with(|opened| opened.borrow_mut().push(store.clone()));
    Ok(store)
}

/// Runs a store command, then closes the stores it opened — whether it succeeded or
/// not — so SQLite folds its write-ahead log back into `keyway.db` and removes it: the
/// database file alone is then a complete copy for a backup.
pub(crate) fn block_on<T>(command: impl Future<Output = Result<T>>) -> Result<T> {
    runtime()?.block_on(async {
        let result = command.await;
        let opened = OPENED.with(|opened| std::mem::take(&mut *opened.borrow_mut()));
        for store in opened {
            store.close().await;
        }
        result
    })
}

pub(crate) fn context(args: &StoreArgs) -> Context {
    match &args.as_user {
        Some(user) => Context::user(user, "cli"),
        None => Context::local_admin(),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn read_stdin_password() -> Result<Password> {
    let mut line = Password::default();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("--password-stdin: cannot read standard input")?;
    let end = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(end);
    if line.is_empty() {
        bail!("--password-stdin: standard input held no password (give it as one line)");
    }
    Ok(line)
}
