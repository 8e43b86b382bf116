//! `keyway connector test`: prints the connector check ([`keyway_connect::check`]).

use anyhow::Result;

use super::call::print_tls;
use super::{NameArgs, build};
use crate::exit::Exit;
use crate::output;

pub(super) async fn test(args: NameArgs) -> Result<Exit> {
    let connector = build(&args.config, &args.name).await?;
    let checked = keyway_connect::check(&connector).await?;
    if output::json() {
        output::print_json(&checked)?;
    } else {
        let url = connector.def().url.to_string();
        println!("connector {} ({url})", checked.connector);
        print_tls(&url, &checked.tls, checked.insecure);
        match &checked.http {
            Some(h) => match &h.problem {
                None => {
                    println!(
                        "HTTP check: {} {} answered {}{}",
                        h.request,
                        h.url,
                        h.status.map(|s| s.to_string()).unwrap_or_default(),
                        h.user
                            .as_ref()
                            .map(|u| format!(" (as user \"{u}\")"))
                            .unwrap_or_default()
                    );
                    if let Some(note) = &h.note {
                        println!("  note: {note}");
                    }
                }
                Some(problem) => println!("HTTP check FAILED at {}: {problem}", h.url),
            },
            None => println!("HTTP check skipped: TLS failed"),
        }
    }
    Ok(if checked.ok() {
        Exit::Ok
    } else {
        Exit::Problems
    })
}
