//! Passwords from the command line, the environment, a file, or a prompt.
//! Errors name where the password was to come from, never the password.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result, bail};
use zeroize::Zeroizing;

/// A password, wiped from memory when dropped.
pub type Password = Zeroizing<String>;

/// Resolves an option value: `env:VAR`, `file:PATH`, `pass:VALUE`, or the literal value.
pub fn resolve(value: &str, option: &str) -> Result<Password> {
    if let Some(var) = value.strip_prefix("env:") {
        let v = std::env::var(var).with_context(|| {
            format!("{option} env:{var}: the environment variable {var} is not set")
        })?;
        return Ok(Zeroizing::new(v));
    }
    if let Some(path) = value.strip_prefix("file:") {
        let text = std::fs::read_to_string(Path::new(path))
            .with_context(|| format!("{option} file:{path}: cannot read the password file"))?;
        let first = text.lines().next().unwrap_or_default().to_string();
        return Ok(Zeroizing::new(first));
    }
    Ok(Zeroizing::new(
        value.strip_prefix("pass:").unwrap_or(value).to_string(),
    ))
}

/// Resolves an optional value, or prompts on a terminal, or fails saying how to give it.
pub fn obtain(value: Option<&str>, option: &str, what: &str) -> Result<Password> {
    if let Some(value) = value {
        return resolve(value, option);
    }
    prompt(option, what)
}

/// Prompts for a password without echo; without a terminal, an error (never a hang).
pub fn prompt(option: &str, what: &str) -> Result<Password> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "{what} is needed and there is no terminal to ask on: give {option} PASSWORD, {option} env:VAR or {option} file:PATH"
        );
    }
    let answer =
        read_hidden(&format!("{what}: ")).context("cannot read the password from the terminal")?;
    Ok(answer)
}

/// Reads one line from the controlling terminal with echo off.
///
/// Echo goes off *before* the prompt is written, so that nothing typed after the
/// prompt appears (typing ahead of a prompt is what leaks passwords into scrollback);
/// the terminal's settings are restored on every path out, errors included.
fn read_hidden(prompt: &str) -> std::io::Result<Password> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    use std::io::{BufRead, Write};

    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let saved = tcgetattr(&tty)?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    tcsetattr(&tty, OptionalActions::Flush, &quiet)?;

    struct Restore<'a>(&'a std::fs::File, rustix::termios::Termios);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            // Best effort: there is nothing better to do if the terminal went away.
            let _ = tcsetattr(self.0, OptionalActions::Now, &self.1);
        }
    }
    let _restore = Restore(&tty, saved);

    (&tty).write_all(prompt.as_bytes())?;
    (&tty).flush()?;
    let mut line = Password::default();
    std::io::BufReader::new(&tty).read_line(&mut line)?;
    let end = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(end);
    Ok(line)
}

/// Resolves an optional value without prompting.
pub fn optional(value: Option<&str>, option: &str) -> Result<Option<Password>> {
    value.map(|v| resolve(v, option)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefixed_env_and_file_sources() {
        assert_eq!(resolve("plain", "--storepass").unwrap().as_str(), "plain");
        assert_eq!(
            resolve("pass:env:notavar", "--storepass").unwrap().as_str(),
            "env:notavar"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "from-file\nsecond line ignored\n").unwrap();
        assert_eq!(
            resolve(&format!("file:{}", f.display()), "--storepass")
                .unwrap()
                .as_str(),
            "from-file"
        );
        let err = resolve("env:KEYWAY_TEST_SURELY_UNSET_VAR", "--keypass").unwrap_err();
        assert!(
            format!("{err:#}").contains("KEYWAY_TEST_SURELY_UNSET_VAR is not set"),
            "{err:#}"
        );
    }
}
