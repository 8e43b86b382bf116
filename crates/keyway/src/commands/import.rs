//! `keyway import pmg` and `keyway export pmg`: connectors from and to another tool's files.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use keyway_connect::Kind;
use keyway_connect::pmg::{self, ImportOptions, PasswordStyle};
use serde_json::json;

use crate::commands::connector::ConfigArg;
use crate::exit::Exit;
use crate::files::{refuse_existing, write_private};
use crate::output;

/// `keyway import`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Turn a PMG-style scenario file into connectors (a new keyway.toml).
    #[command(
        after_help = "Each <scenario name=… baseurl=… username=… password=… tls=… tls11=… tls12=… ssl3=…/>
becomes a connector: baseurl its URL, username/password its basic auth, and the flags
(tls = TLS 1.0) an explicit version set in a shared profile pmg-…. Every other attribute
(adminport, domain, locale, …) is kept in the connector's `extra` table and listed, so
`keyway export pmg` writes it back. Imported connectors trust the system roots (which
honour SSL_CERT_FILE); add truststores = [...] to a pmg-… profile to trust a partner CA.

Passwords are never printed. By default they are written into the output file, which is
created readable by its owner only; --password-env writes { env = \"KEYWAY_PMG_<NAME>_PASSWORD\" }
references instead and lists the variables to set.

The output file is not overwritten unless --force is given; to keep an existing
keyway.toml, write a second file into a config directory (--out conf.d/pmg.toml) and
point --config at the directory.

Examples:
  keyway import pmg scenarios.xml
  keyway import pmg scenarios.xml --out conf.d/pmg.toml --kind soap --password-env

Exit codes: 0 imported, 2 the file has problems (each named with its scenario and
attribute; nothing is written) or the output exists."
    )]
    Pmg(ImportPmgArgs),
}

/// `import pmg`
#[derive(Debug, Args)]
pub struct ImportPmgArgs {
    /// The scenario file (XML).
    pub file: PathBuf,
    /// The configuration file to write.
    #[arg(long, default_value = "keyway.toml")]
    pub out: PathBuf,
    /// The kind of the connectors (the file does not say).
    #[arg(long, default_value = "rest", value_parser = ["rest", "soap"])]
    pub kind: String,
    /// Write passwords as environment-variable references, not values.
    #[arg(long)]
    pub password_env: bool,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `keyway export`
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write connectors as a PMG-style scenario file.
    #[command(
        after_help = "The attributes come back in PMG's order (name adminport domain password username
baseurl locale tls tls11 tls12 ssl3, then tls13 when enabled, then any other kept
attribute), so an imported file exports unchanged. Settings the format has no place for
(truststores, client certificates, headers, retries, …) are listed and left out.
Passwords are resolved (inline, environment or file) and written: the output is created
readable by its owner only, and is never printed.

Examples:
  keyway export pmg --out scenarios.xml
  keyway export pmg --config conf.d --connector PMG_Test --connector Legacy --out two.xml

Exit codes: 0 exported, 2 a connector cannot be exported (e.g. its password cannot be
resolved), the configuration has problems, or the output exists."
    )]
    Pmg(ExportPmgArgs),
}

/// `export pmg`
#[derive(Debug, Args)]
pub struct ExportPmgArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The scenario file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Export only this connector; repeatable (default: all, in file order).
    #[arg(long = "connector", value_name = "NAME")]
    pub connectors: Vec<String>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs `keyway import …`.
pub fn import(command: ImportCommand) -> Result<Exit> {
    let ImportCommand::Pmg(args) = command;
    refuse_existing(&args.out, args.force)?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let options = ImportOptions {
        kind: if args.kind == "soap" {
            Kind::Soap
        } else {
            Kind::Rest
        },
        passwords: if args.password_env {
            PasswordStyle::Env
        } else {
            PasswordStyle::Inline
        },
    };
    let imported = pmg::import(&args.file, &bytes, options)?;
    let text = toml::to_string(&imported.config).context("writing the configuration as TOML")?;
    let header = format!(
        "# Imported by `keyway import pmg` from {}.\n# Attributes keyway does not use are kept in each connector's `extra`.\n\n",
        args.file.display()
    );
    let inline_passwords = !args.password_env
        && imported
            .config
            .connectors
            .values()
            .any(|c| c.auth.is_some());
    write_private(&args.out, format!("{header}{text}").as_bytes())?;

    if output::json() {
        let scenarios: Vec<_> = imported
            .scenarios
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "url": s.url,
                    "profile": s.profile,
                    "tls_versions": s.versions,
                    "user": s.username,
                    "password_env": s.password_env,
                    "kept_attributes": s.kept,
                })
            })
            .collect();
        let out = json!({
            "file": args.file.display().to_string(),
            "out": args.out.display().to_string(),
            "connectors": scenarios,
            "not_imported": imported.not_imported,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(Exit::Ok);
    }

    let count = imported.scenarios.len();
    println!(
        "Imported {count} connector{} from {} into {}:",
        if count == 1 { "" } else { "s" },
        args.file.display(),
        args.out.display()
    );
    let rows: Vec<Vec<String>> = imported
        .scenarios
        .iter()
        .map(|s| {
            let versions = if s.versions.is_empty() {
                "TLS 1.2, TLS 1.3 (no flags: keyway's default)".to_string()
            } else {
                s.versions.join(", ")
            };
            vec![
                s.name.clone(),
                s.url.clone(),
                versions,
                s.username.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    for line in crate::output::columns(&["NAME", "URL", "TLS", "USER"], &rows).lines() {
        println!("  {line}");
    }
    if !imported.not_imported.is_empty() {
        println!("Not imported (the file itself is left as it is; nothing of it is lost there):");
        for what in &imported.not_imported {
            println!("  {}", crate::output::clean(what));
        }
    }
    let kept: Vec<_> = imported
        .scenarios
        .iter()
        .filter(|s| !s.kept.is_empty())
        .collect();
    if !kept.is_empty() {
        println!(
            "Kept but not used by keyway (in each connector's `extra`; `keyway export pmg` writes them back):"
        );
        for s in kept {
            println!(
                "  {}: {}",
                crate::output::clean(&s.name),
                crate::output::clean(&s.kept.join(", "))
            );
        }
    }
    let env: Vec<_> = imported
        .scenarios
        .iter()
        .filter_map(|s| s.password_env.as_ref().map(|v| (v, &s.name)))
        .collect();
    if !env.is_empty() {
        println!("Passwords were not written; set these before using the connectors:");
        for (var, name) in env {
            println!("  {var}  ({name})");
        }
    } else if inline_passwords {
        println!(
            "Passwords are in {} (readable by its owner only); they are not shown.",
            args.out.display()
        );
    }
    if let Some(first) = imported.scenarios.first() {
        println!(
            "Next: keyway connector test {} --config {}",
            first.name,
            args.out.display()
        );
    }
    Ok(Exit::Ok)
}

/// Runs `keyway export …`.
pub fn export(command: ExportCommand) -> Result<Exit> {
    let ExportCommand::Pmg(args) = command;
    refuse_existing(&args.out, args.force)?;
    let config = crate::session::block_on(crate::commands::connector::load_config(&args.config))?;
    let exported = pmg::export(&config, &args.connectors)?;
    write_private(&args.out, exported.xml.as_bytes())?;
    println!(
        "Exported {} connector{} to {} (it holds passwords: readable by its owner only).",
        exported.count,
        if exported.count == 1 { "" } else { "s" },
        args.out.display()
    );
    if !exported.left_out.is_empty() {
        println!("Left out, the scenario format has no place for them:");
        for (name, missing) in &exported.left_out {
            println!("  {name}: {}", missing.join(", "));
        }
    }
    Ok(Exit::Ok)
}
