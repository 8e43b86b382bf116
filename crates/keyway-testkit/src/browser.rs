//! A WebDriver for browser tests: Debian's `chromedriver` on 127.0.0.1 and a free port,
//! driving Debian's `chromium` headless (the README's test command installs both). It
//! stops when dropped.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use crate::tool;

/// A running chromedriver.
pub struct WebDriver {
    /// Its URL, for a WebDriver client (`http://127.0.0.1:PORT`).
    pub url: String,
    child: Child,
}

impl WebDriver {
    /// Starts chromedriver on a free port and waits until it says it listens.
    pub fn start() -> WebDriver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(tool("chromedriver"))
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let started = lines.by_ref().any(|line| {
            line.map(|l| l.contains("started successfully"))
                .unwrap_or(false)
        });
        assert!(started, "chromedriver did not start");
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        WebDriver {
            url: format!("http://127.0.0.1:{port}"),
            child,
        }
    }

    /// The capabilities of a headless chromium session (as root, without its sandbox;
    /// a fixed window size so screenshots compare).
    pub fn chromium_capabilities() -> serde_json::Map<String, serde_json::Value> {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": tool("chromium"),
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,1000", "--lang=en-US"],
            }),
        );
        caps
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
