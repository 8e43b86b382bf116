//! The `keyway` command line: TLS connectivity for integration connectors.
//!
//! This binary is glue: it parses arguments, calls the library crates, prints human
//! text or JSON, and maps the result to a documented exit code:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the command ran and found a problem (e.g. `keystore inspect --check` on an expired certificate) |
//! | 2 | usage or input error: bad arguments, unreadable file, wrong password |
//!
//! ```text
//! keyway keystore list testdata/sample/partners.jks --storepass changeit
//! ```

/// mimalloc rather than glibc's malloc: the gateway allocates and frees a few dozen small
/// pieces per forwarded request, and glibc's allocator was a sixth of its instructions.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[macro_use]
mod args;
mod cli;
mod commands;
mod files;
mod output;
mod secret;
mod session;

use std::process::ExitCode;

use clap::Parser;

/// What a command that ran to the end found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything as expected: exit 0.
    Ok,
    /// The command ran and found a problem it reported: exit 1.
    Problems,
}

/// Exit code for a usage or input error.
const EXIT_ERROR: u8 = 2;

/// Exit code when standard output was closed under us (as a shell reports SIGPIPE).
const EXIT_CLOSED_PIPE: i32 = 141;

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = cli::Cli::parse();
    let json = cli.json_requested();
    match run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(err) => {
            if json {
                let body = serde_json::json!({ "error": format!("{err:#}") });
                println!("{body}");
            }
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        cli::Command::Keystore(command) => commands::keystore::run(command),
        cli::Command::Probe(args) => commands::probe::run(args),
        cli::Command::Test(args) => commands::test::run(args),
        cli::Command::Key(command) => commands::key::key(command),
        cli::Command::Csr(command) => commands::csr::csr(command),
        cli::Command::Ca(command) => commands::ca::ca(command),
        cli::Command::Cert(command) => commands::cert::cert(command),
        cli::Command::Connector(command) => commands::connector::run(command),
        cli::Command::Import(command) => commands::import::import(command),
        cli::Command::Export(command) => commands::import::export(command),
        cli::Command::Init(args) => commands::init::init(args),
        cli::Command::User(command) => commands::user::user(command),
        cli::Command::AuditLog(args) => commands::audit_log::audit_log(args),
        cli::Command::Truststore(command) => commands::truststore::truststore(command),
        cli::Command::Identity(command) => commands::identity::identity(command),
        cli::Command::Crl(command) => commands::crl::crl(command),
        cli::Command::Config(command) => commands::config::config(command),
        cli::Command::Integration(command) => commands::integration::integration(command),
        cli::Command::Serve(args) => commands::serve::serve(args),
    }
}

/// `keyway … | head -1`: once the reader is gone, printing fails with EPIPE and `print!`
/// panics. Like any Unix tool, stop quietly instead (Rust ignores SIGPIPE, and resetting
/// it needs unsafe code).
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(EXIT_CLOSED_PIPE);
        }
        default(info);
    }));
}
