//! The `keyway` command line: TLS connectivity for integration connectors.
//!
//! This binary is glue: it parses arguments (`cli.rs`; each noun's own in
//! `commands/<noun>.rs`, shared groups in `args.rs`), calls the library crates through a
//! store session (`session.rs`), prints text or JSON (`output.rs`), writes files only
//! the way `files.rs` does, and maps the result to a documented exit code (`exit.rs`).
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
mod exit;
mod files;
mod output;
mod secret;
mod session;

use std::process::ExitCode;

use clap::Parser;

use crate::exit::Exit;

fn main() -> ExitCode {
    exit::quiet_on_closed_stdout();
    let cli = cli::Cli::parse();
    output::set_json(cli.json);
    let json = cli.json;
    exit::code(run(cli), json)
}

fn run(cli: cli::Cli) -> anyhow::Result<Exit> {
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
        cli::Command::Audit(args) => commands::audit::run(args),
        cli::Command::AuditLog(args) => commands::audit_log::audit_log(args),
        cli::Command::Truststore(command) => commands::truststore::truststore(command),
        cli::Command::Identity(command) => commands::identity::identity(command),
        cli::Command::Crl(command) => commands::crl::crl(command),
        cli::Command::Config(command) => commands::config::config(command),
        cli::Command::Integration(command) => commands::integration::integration(command),
        cli::Command::Token(command) => commands::token::token(command),
        cli::Command::Expiry(args) => commands::expiry::expiry(args),
        cli::Command::Serve(args) => commands::serve::serve(*args),
    }
}
