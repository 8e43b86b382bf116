//! Argument groups several commands share: where the store is and who acts on it, the
//! data directory, output files, keystore and duration parsers, the passwords paragraph.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use keyway_pki::San;

/// Where keyway's state lives, and who is acting on it.
#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// A shared PostgreSQL database instead of the embedded one (`postgres://USER:PASSWORD@HOST/DB`).
    #[arg(
        long,
        env = "KEYWAY_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database: Option<String>,
    /// Act as this keyway user, with their permissions (default: the local administrator).
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
}

/// Where keyway keeps its CA, and the master key that opens its keys.
#[derive(Debug, Args)]
pub struct DataDirArgs {
    /// The data directory: the embedded database, `master.key` and the CA.
    #[arg(
        long,
        env = "KEYWAY_DATA_DIR",
        default_value = "keyway-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// The master key (64 hex digits); default: DIR/master.key, created on first use.
    #[arg(
        long,
        env = "KEYWAY_MASTER_KEY",
        hide_env_values = true,
        value_name = "HEX"
    )]
    pub master_key: Option<String>,
}

/// An output file: never replaced unless asked.
#[derive(Debug, Args)]
pub struct OutArgs {
    /// Where to write. An existing file is refused unless --force.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// An identity (key + chain) written as a store.
#[derive(Debug, Args)]
pub struct IdentityOutArgs {
    /// Where to write (.p12/.pfx, .jks or .pem). An existing file is refused unless --force.
    #[arg(long, value_name = "FILE", alias = "out-p12")]
    pub out: PathBuf,
    /// The output type, when the extension does not say.
    #[arg(long, value_name = "TYPE", value_parser = ["pkcs12", "jks", "pem"])]
    pub out_type: Option<String>,
    /// Store password (PKCS#12, JKS) or key passphrase (PEM).
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// PEM only: write the key unencrypted.
    #[arg(long, conflicts_with = "password")]
    pub no_passphrase: bool,
    /// The alias of the key entry.
    #[arg(long, default_value = "client")]
    pub alias: String,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// The password paragraph every keystore command's help ends with.
macro_rules! passwords {
    () => {
        "\n\nPasswords: a value is taken literally; `env:VAR` reads the environment variable VAR,
`file:PATH` reads the first line of PATH, `pass:VALUE` is VALUE literally (for passwords
that start with env: or file:). Without one, keyway prompts when it has a terminal and
fails (exit 2) when it does not. KEYWAY_STOREPASS and KEYWAY_KEYPASS are read too."
    };
}

pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 5s, 500ms, 1m)"))
}

pub fn parse_format(s: &str) -> Result<keyway_keystore::Format, String> {
    s.parse()
}

pub fn sans(given: &[String]) -> Result<Vec<San>> {
    Ok(given
        .iter()
        .map(|s| San::parse(s))
        .collect::<Result<_, _>>()?)
}

/// How `keyway test` and `keyway probe` reach the server, and what `keyway connector add`
/// stores in the connector's profile: through an HTTP proxy, or straight; by default as
/// the environment says (`https_proxy`/`HTTPS_PROXY`, else
/// `all_proxy`/`ALL_PROXY`, except for the hosts `no_proxy`/`NO_PROXY` names — curl's rules).
#[derive(Debug, Clone, Args)]
pub struct ProxyArgs {
    /// Tunnel through this HTTP proxy: `http://[USER@]HOST[:PORT]` (port 1080 when left
    /// out, as in curl).
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub proxy: Option<String>,
    /// The proxy user's password for Basic authentication (literal, env:VAR, file:PATH).
    #[arg(long, value_name = "PASSWORD")]
    pub proxy_password: Option<String>,
    /// Hosts to reach without the proxy, comma-separated (curl's NO_PROXY rules); replaces
    /// the environment's NO_PROXY.
    #[arg(long = "noproxy", value_name = "LIST", conflicts_with = "no_proxy")]
    pub noproxy: Option<String>,
    /// Go straight to the server, whatever HTTPS_PROXY says.
    #[arg(long)]
    pub no_proxy: bool,
}

impl ProxyArgs {
    /// The setting these options (and the environment) give.
    pub fn setting(&self) -> Result<keyway_tls::ProxySetting> {
        use anyhow::Context;
        use keyway_tls::{NoProxy, Proxy, ProxySetting};
        if self.no_proxy {
            return Ok(ProxySetting::Direct);
        }
        let env = |name: &str| std::env::var(name).ok();
        let setting = match &self.proxy {
            Some(url) => {
                let password =
                    crate::secret::optional(self.proxy_password.as_deref(), "--proxy-password")?;
                let proxy =
                    Proxy::parse(url, "--proxy")?.with_password(password.map(|p| p.to_string()));
                if proxy.has_password() && proxy.username.is_none() {
                    anyhow::bail!(
                        "--proxy-password: the proxy URL names no user: give --proxy http://USER@HOST:PORT"
                    );
                }
                let no_proxy = ["no_proxy", "NO_PROXY"]
                    .iter()
                    .find_map(|name| env(name).filter(|v| !v.trim().is_empty()))
                    .map(|list| NoProxy::parse(&list))
                    .unwrap_or_default();
                ProxySetting::Use { proxy, no_proxy }
            }
            None => {
                if self.proxy_password.is_some() {
                    anyhow::bail!("--proxy-password needs --proxy");
                }
                ProxySetting::from_variables(env).context("the proxy from the environment")?
            }
        };
        Ok(match (setting, &self.noproxy) {
            (ProxySetting::Use { proxy, .. }, Some(list)) => ProxySetting::Use {
                proxy,
                no_proxy: NoProxy::parse(list),
            },
            (setting, _) => setting,
        })
    }

    /// What a stored profile says (`None`: the environment's proxy): the password, from
    /// `--proxy-password` or the URL, resolved to be sealed by the store.
    pub fn entry(&self) -> Result<Option<keyway_connect::ProxyEntry>> {
        use keyway_connect::{ProxyEntry, SecretRef};
        if self.no_proxy {
            return Ok(Some(ProxyEntry {
                url: "none".into(),
                username: None,
                password: None,
                no_proxy: Vec::new(),
            }));
        }
        let Some(url) = &self.proxy else {
            if self.proxy_password.is_some() || self.noproxy.is_some() {
                anyhow::bail!("--proxy-password and --noproxy need --proxy");
            }
            return Ok(None);
        };
        // Checked here, so that a mistake names the option rather than a stored field.
        let parsed = keyway_tls::Proxy::parse(url, "--proxy")?;
        let password = match (
            crate::secret::optional(self.proxy_password.as_deref(), "--proxy-password")?,
            parsed.has_password(),
        ) {
            (Some(p), _) => Some(p.to_string()),
            // The URL's password is taken out of it: a stored URL is shown.
            (None, true) => parsed.password().map(str::to_string),
            (None, false) => None,
        };
        if password.is_some() && parsed.username.is_none() {
            anyhow::bail!(
                "--proxy-password: the proxy URL names no user: give --proxy http://USER@HOST:PORT"
            );
        }
        Ok(Some(ProxyEntry {
            url: format!("http://{}", parsed.address()),
            username: parsed.username.clone(),
            password: password.map(SecretRef::Inline),
            no_proxy: self
                .noproxy
                .as_deref()
                .map(|l| {
                    keyway_tls::NoProxy::entries(l)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }))
    }
}
