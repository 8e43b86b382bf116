//! A local SMTP receiver (aiosmtpd, `scripts/smtp-receiver.py`) on 127.0.0.1 and a free
//! port: STARTTLS with a test chain, required before mail; optional AUTH; every message
//! kept as a file. The README's test command makes the Python environment it runs in
//! (`target/test-venv`, with aiosmtpd from PyPI).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::TestChain;

/// The receiver; stops when dropped.
pub struct SmtpReceiver {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl SmtpReceiver {
    /// Starts a receiver presenting `chain`'s leaf (its names must include the host the
    /// client connects to, e.g. `127.0.0.1`), requiring `credentials` when given.
    pub fn start(chain: &TestChain, credentials: Option<(&str, &str)>) -> SmtpReceiver {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = root.join("target/test-venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run `bash scripts/test.sh` once (it makes the Python environment with aiosmtpd)",
            python.display()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, chain.chain_pem()).expect("write cert");
        std::fs::write(&key, &chain.leaf_key_pem).expect("write key");
        let mail = dir.path().join("mail");
        std::fs::create_dir(&mail).expect("mail dir");
        let mut command = Command::new(python);
        command
            .arg(root.join("scripts/smtp-receiver.py"))
            .args([&mail, &cert, &key]);
        if let Some((user, password)) = credentials {
            command.args([user, password]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP receiver");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the receiver's port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP receiver did not start: {line:?}"));
        SmtpReceiver { port, child, dir }
    }

    /// The messages received so far, oldest first, as text.
    pub fn messages(&self) -> Vec<String> {
        let mail = self.dir.path().join("mail");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&mail)
            .expect("mail dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).expect("read mail")).into_owned())
            .collect()
    }
}

impl Drop for SmtpReceiver {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
