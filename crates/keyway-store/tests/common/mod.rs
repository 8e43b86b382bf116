//! What the store's test files share: a fresh store on each backend, and a way to run
//! a scenario on both.

#![allow(dead_code)] // each test file uses its part

use keyway_store::{Backend, Location, Store};

pub const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// A fresh store of each kind: (SQLite in a temporary data directory, PostgreSQL).
pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub location: Location,
}

impl Fixture {
    pub fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut location = Location::data_dir(dir.path().join("data"));
        if backend == Backend::Postgres {
            location.database_url = Some(keyway_testkit::postgres_database());
        }
        Fixture {
            _dir: dir,
            location,
        }
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.location, Some(KEY)).await.unwrap()
    }
}

/// Runs each named `async fn(Backend)` scenario as a test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(keyway_store::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(keyway_store::Backend::Postgres).await })*
        }
    };
}

/// A plain connection to the store's database, to do what keyway never would.
pub async fn raw_pool(location: &Location) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = match &location.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", location.data_dir.join("keyway.db").display()),
    };
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap()
}
