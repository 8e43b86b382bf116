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

mod ca_cmd;
mod cert_cmd;
mod cli;
mod config_cmd;
mod connector_cmd;
mod crl_cmd;
mod files;
mod identity_cmd;
mod import_cmd;
mod keystore_cmd;
mod output;
mod pki_cmd;
mod probe_cmd;
mod secret;
mod serve_cmd;
mod session;
mod store_cmd;
mod test_cmd;

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
        cli::Command::Keystore(command) => keystore_cmd::run(command),
        cli::Command::Probe(args) => probe_cmd::run(args),
        cli::Command::Test(args) => test_cmd::run(args),
        cli::Command::Key(command) => pki_cmd::key(command),
        cli::Command::Csr(command) => pki_cmd::csr(command),
        cli::Command::Ca(command) => ca_cmd::ca(command),
        cli::Command::Cert(command) => pki_cmd::cert(command),
        cli::Command::Connector(command) => connector_cmd::run(command),
        cli::Command::Import(command) => import_cmd::import(command),
        cli::Command::Export(command) => import_cmd::export(command),
        cli::Command::Init(args) => store_cmd::init(args),
        cli::Command::User(command) => store_cmd::user(command),
        cli::Command::AuditLog(args) => store_cmd::audit_log(args),
        cli::Command::Truststore(command) => cert_cmd::truststore(command),
        cli::Command::Identity(command) => identity_cmd::identity(command),
        cli::Command::Crl(command) => crl_cmd::crl(command),
        cli::Command::Config(command) => config_cmd::config(command),
        cli::Command::Integration(command) => config_cmd::integration(command),
        cli::Command::Serve(args) => serve_cmd::serve(args),
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
