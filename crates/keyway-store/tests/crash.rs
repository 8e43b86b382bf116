//! Crash safety: a writing process is killed with SIGKILL at random points during a few
//! hundred writes; the database must then pass its integrity check and hold every write
//! the writer saw acknowledged.
//!
//! The writer is this test binary run again with `KEYWAY_CRASH_WRITER` set (the ignored
//! test `crash_writer`): it adds users one by one and prints `ack NAME` after each
//! `add_user` returned.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use keyway_store::{Context, Location, NewUser, Store};

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const ROUNDS: usize = 8;

#[test]
fn sqlite_keeps_every_acknowledged_write_through_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    crash_rounds(&Location::data_dir(dir.path().join("data")));
}

#[test]
fn postgres_keeps_every_acknowledged_write_through_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut location = Location::data_dir(dir.path().join("data"));
    location.database_url = Some(keyway_testkit::postgres_database());
    crash_rounds(&location);
}

fn crash_rounds(location: &Location) {
    let mut acknowledged = Vec::new();
    for round in 0..ROUNDS {
        // Somewhere between 10 and 69 acknowledged writes, then a kill during the next.
        let kill_after = 10 + random() % 60;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash_writer",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("KEYWAY_CRASH_WRITER", &location.data_dir)
            .env("KEYWAY_CRASH_ROUND", round.to_string())
            .env(
                "KEYWAY_CRASH_DATABASE",
                location.database_url.as_deref().unwrap_or(""),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut acked_this_round = 0;
        for line in stdout.lines() {
            let line = line.unwrap();
            if let Some(name) = line.strip_prefix("ack ") {
                acknowledged.push(name.to_string());
                acked_this_round += 1;
                if acked_this_round == kill_after {
                    child.kill().unwrap(); // SIGKILL
                    break;
                }
            }
        }
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the writer ended by itself after {acked_this_round} writes"
        );
    }
    assert!(acknowledged.len() >= ROUNDS * 10);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open(location, Some(KEY)).await.unwrap();
        store.integrity_check().await.unwrap();
        let users = store.users(&Context::local_admin()).await.unwrap();
        let stored: std::collections::HashSet<_> = users.iter().map(|u| u.name.as_str()).collect();
        let lost: Vec<_> = acknowledged
            .iter()
            .filter(|name| !stored.contains(name.as_str()))
            .collect();
        assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
        // The store still takes writes.
        store
            .add_user(&Context::local_admin(), NewUser::new("after-the-crashes"))
            .await
            .unwrap();
    });
}

/// The writer (run only by the tests above).
#[test]
#[ignore = "the child process of the crash tests"]
fn crash_writer() {
    let Some(dir) = std::env::var_os("KEYWAY_CRASH_WRITER") else {
        return;
    };
    let round = std::env::var("KEYWAY_CRASH_ROUND").unwrap();
    let mut location = Location::data_dir(dir);
    location.database_url = std::env::var("KEYWAY_CRASH_DATABASE")
        .ok()
        .filter(|url| !url.is_empty());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open(&location, Some(KEY)).await.unwrap();
        let admin = Context::local_admin();
        for i in 0.. {
            let name = format!("r{round}-u{i}");
            store.add_user(&admin, NewUser::new(&name)).await.unwrap();
            // Flushed at once: an ack must never sit in a buffer when the kill comes.
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "ack {name}").unwrap();
            out.flush().unwrap();
        }
    });
}

/// A random number from the standard library's per-process hash keys.
fn random() -> usize {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    hasher.finish() as usize
}
