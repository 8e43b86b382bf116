//! How a keyway command ends, and the exit code each way gives (documented here once):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the command ran and found a problem it reported (an expired certificate under `keystore inspect --check`, a diagnosed connection failure) |
//! | 2 | usage or input error: bad arguments, unreadable file, wrong password, a refused change |
//! | 141 | standard output was closed under keyway (`keyway … \| head -1`), as a shell reports SIGPIPE |

use std::process::ExitCode;
/// The exit codes, for every command's `--help`.
pub const HELP: &str = "\
Exit codes:
  0  success
  1  the command ran and found a problem (e.g. `inspect --check` on an expired certificate)
  2  usage or input error (bad arguments, unreadable file, wrong password)";

/// What a command that ran to the end found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything as expected: exit 0.
    Ok,
    /// The command ran and found a problem it reported: exit 1.
    Problems,
}

/// Exit code for a usage or input error.
const ERROR: u8 = 2;

/// Exit code when standard output was closed under us.
const CLOSED_PIPE: i32 = 141;

/// The exit code of a command's result; an error is printed first (to stderr, and as
/// JSON on stdout when `json`).
pub fn code(result: anyhow::Result<Exit>, json: bool) -> ExitCode {
    match result {
        Ok(Exit::Ok) => ExitCode::SUCCESS,
        Ok(Exit::Problems) => ExitCode::from(1),
        Err(err) => {
            if json {
                let body = serde_json::json!({ "error": format!("{err:#}") });
                println!("{body}");
            }
            eprintln!("error: {err:#}");
            ExitCode::from(ERROR)
        }
    }
}

/// `keyway … | head -1`: once the reader is gone, printing fails with EPIPE and `print!`
/// panics. Like any Unix tool, stop quietly instead (Rust ignores SIGPIPE, and resetting
/// it needs unsafe code).
pub fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(CLOSED_PIPE);
        }
        default(info);
    }));
}
