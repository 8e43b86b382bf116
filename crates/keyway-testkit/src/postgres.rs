//! A throwaway PostgreSQL server for the tests of the shared-database backend.
//!
//! [`postgres_database`] hands each test a fresh, empty database. The server is the one
//! `KEYWAY_TEST_POSTGRES_URL` points at (a `postgres://` URL with the right to create
//! databases), or else one this test process starts itself from Debian's `postgresql`
//! package: `initdb` into a temporary directory, listening on 127.0.0.1 and a free port
//! only (no Unix socket outside that directory). A watchdog stops it and removes the
//! directory when the test process ends.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The server of this test process: a URL to its maintenance database.
static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// A `postgres://` URL to a new, empty database of its own.
pub fn postgres_database() -> String {
    let base = SERVER
        .get_or_init(|| match std::env::var("KEYWAY_TEST_POSTGRES_URL") {
            Ok(url) => Ok(url),
            Err(_) => start(),
        })
        .as_ref()
        .unwrap_or_else(|e| panic!("cannot start a PostgreSQL server for the tests: {e}"));
    let name = format!(
        "keyway_test_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    let output = Command::new(bin("psql"))
        .args([base.as_str(), "-v", "ON_ERROR_STOP=1", "-q", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "creating a test database failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (server, _) = base.rsplit_once('/').expect("the URL names a database");
    format!("{server}/{name}")
}

/// The directory of the newest installed PostgreSQL's programs.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn bin(name: &str) -> PathBuf {
    bin_dir()
        .map(|dir| dir.join(name))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn start() -> Result<String, String> {
    let Some(bin) = bin_dir() else {
        return Err(
            "PostgreSQL is not installed (Debian package `postgresql`); \
             the README's test command (scripts/test.sh) installs it"
                .into(),
        );
    };
    let dir = tempfile::Builder::new()
        .prefix("keyway-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let data = dir.join("data");
    std::fs::create_dir(&data).map_err(|e| e.to_string())?;
    // initdb and postgres refuse to run as root: run them as the `postgres` user.
    let as_root = running_as_root();
    if as_root {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("chown postgres {} failed", dir.display()));
        }
    }
    let run = |program: &str, args: &[&str]| -> Result<(), String> {
        let mut command = if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin.join(program));
            c
        } else {
            Command::new(bin.join(program))
        };
        let output = command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    };
    let data_arg = data.to_str().ok_or("temporary path is not UTF-8")?;
    run(
        "initdb",
        &[
            "-D",
            data_arg,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ],
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
        dir.display()
    );
    let log = dir.join("postgres.log");
    // -w: returns once the server accepts connections.
    run(
        "pg_ctl",
        &[
            "-D",
            data_arg,
            "-o",
            &options,
            "-l",
            log.to_str().ok_or("temporary path is not UTF-8")?,
            "-w",
            "start",
        ],
    )?;
    // The watchdog: once this test process is gone, stop the server and clean up.
    let watchdog = format!(
        "while [ -d /proc/{pid} ]; do sleep 1; done; {stop}; rm -rf {dir}",
        pid = std::process::id(),
        stop = if as_root {
            format!(
                "runuser -u postgres -- {} -D {data_arg} -m immediate stop",
                bin.join("pg_ctl").display()
            )
        } else {
            format!(
                "{} -D {data_arg} -m immediate stop",
                bin.join("pg_ctl").display()
            )
        },
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the watchdog: {e}"))?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
