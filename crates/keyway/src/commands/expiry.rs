//! `keyway expiry`: every certificate keyway knows with the time it has left
//! ([`keyway_store::Store::known_certificates`]), soonest end first.

use anyhow::Result;
use clap::Args;
use time::OffsetDateTime;

use crate::args::{StoreArgs, parse_duration};
use crate::exit::Exit;
use crate::output;
use crate::session::{block_on, context, open};

/// `keyway expiry`
#[derive(Debug, Args)]
pub struct ExpiryArgs {
    /// Only certificates ending within this time (30d, 12h); the expired ones included.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub within: Option<std::time::Duration>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway expiry`
pub fn expiry(args: ExpiryArgs) -> Result<Exit> {
    block_on(async move {
        let store = open(&args.store).await?;
        let within = args
            .within
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2));
        let known = store
            .known_certificates(&context(&args.store), within)
            .await?;
        let now = OffsetDateTime::now_utc();
        let expired = known
            .iter()
            .any(|c| !c.revoked && c.not_after < now.unix_timestamp());
        let at = |unix: i64| OffsetDateTime::from_unix_timestamp(unix).unwrap_or(now);
        let empty = match args.within {
            Some(_) => "no certificate ends within that time",
            None => "keyway knows no certificate yet",
        };
        output::list(
            &known,
            empty,
            &["KIND", "HOLDER", "UNTIL", "LEFT", "SUBJECT", "USED BY"],
            |c| {
                vec![
                    c.kind.to_string(),
                    c.holder.clone(),
                    if c.revoked {
                        "revoked".into()
                    } else {
                        output::until(at(c.not_after), now)
                    },
                    format!("{:.0}%", c.lifetime_left * 100.0),
                    c.subject.clone(),
                    if c.used_by.is_empty() {
                        "-".into()
                    } else {
                        c.used_by.join(", ")
                    },
                ]
            },
        )?;
        Ok(if expired { Exit::Problems } else { Exit::Ok })
    })
}
