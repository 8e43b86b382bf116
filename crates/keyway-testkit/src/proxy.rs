//! A small HTTP CONNECT proxy on 127.0.0.1 for the proxy tests: with or without Basic
//! authentication, refusing some destinations, closing the tunnel, or routing every
//! tunnel to another server (what a TLS-inspecting proxy looks like from the client). It
//! tunnels to loopback addresses only and answers anything else with 502.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64ct::{Base64, Encoding};

/// How a [`ConnectProxy`] behaves.
#[derive(Debug, Clone, Default)]
pub struct ProxyOptions {
    /// Require `Proxy-Authorization: Basic` with this user and password.
    pub credentials: Option<(String, String)>,
    /// What a 407 asks for (`Proxy-Authenticate`); default `Basic realm="keyway-test"`.
    pub challenge: Option<String>,
    /// Destinations (`host:port` as asked) answered `403 Forbidden` with a text body.
    pub refuse: Vec<String>,
    /// Close the connection without answering CONNECT.
    pub close_before_answer: bool,
    /// Answer CONNECT with 200, read the client's first bytes, then close the tunnel.
    pub close_after_hello: bool,
    /// Tunnel every CONNECT to this address instead of the one asked for.
    pub route_to: Option<SocketAddr>,
}

/// A CONNECT proxy that stops when dropped.
pub struct ConnectProxy {
    /// Its port on 127.0.0.1.
    pub port: u16,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Request>>>,
}

/// One CONNECT the proxy was asked for.
#[derive(Debug, Clone)]
pub struct Request {
    /// `host:port` as asked.
    pub destination: String,
    /// The `Proxy-Authorization` header, if sent.
    pub authorization: Option<String>,
    /// The whole request head, as received.
    pub head: String,
}

impl ConnectProxy {
    /// Starts the proxy.
    pub fn start(options: ProxyOptions) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stopping, log) = (stop.clone(), seen.clone());
        let options = Arc::new(options);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (options, log) = (options.clone(), log.clone());
                std::thread::spawn(move || serve(stream, &options, &log));
            }
        });
        ConnectProxy { port, stop, seen }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT`.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// The CONNECT requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(mut client: TcpStream, options: &ProxyOptions, log: &Mutex<Vec<Request>>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (method, destination) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let authorization = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_string())
    });
    log.lock().unwrap_or_else(|e| e.into_inner()).push(Request {
        destination: destination.to_string(),
        authorization: authorization.clone(),
        head: head.clone(),
    });
    let answer = |client: &mut TcpStream, status: &str, extra: &str, body: &str| {
        let _ = write!(
            client,
            "HTTP/1.1 {status}\r\n{extra}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    };
    if options.close_before_answer {
        return;
    }
    if method != "CONNECT" {
        answer(&mut client, "405 Method Not Allowed", "", "CONNECT only\n");
        return;
    }
    if let Some((user, password)) = &options.credentials {
        let expected = format!(
            "Basic {}",
            Base64::encode_string(format!("{user}:{password}").as_bytes())
        );
        if authorization.as_deref() != Some(expected.as_str()) {
            let challenge = options
                .challenge
                .clone()
                .unwrap_or_else(|| "Basic realm=\"keyway-test\"".into());
            answer(
                &mut client,
                "407 Proxy Authentication Required",
                &format!("Proxy-Authenticate: {challenge}\r\n"),
                "authentication required\n",
            );
            return;
        }
    }
    if options.refuse.iter().any(|r| r == destination) {
        answer(
            &mut client,
            "403 Forbidden",
            "",
            "Access to this destination is denied by the corporate web policy (category: uncategorized).\n",
        );
        return;
    }
    let target = match options.route_to {
        Some(address) => Some(address),
        None => destination
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .filter(|a| a.ip().is_loopback()),
    };
    let Some(target) = target else {
        answer(
            &mut client,
            "502 Bad Gateway",
            "",
            "the test proxy tunnels to 127.0.0.1 only\n",
        );
        return;
    };
    let Ok(mut server) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else {
        answer(
            &mut client,
            "502 Bad Gateway",
            "",
            "cannot reach the destination\n",
        );
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    if options.close_after_hello {
        let mut hello = [0u8; 512];
        let _ = client.read(&mut hello);
        return;
    }
    let _ = client.set_read_timeout(None);
    let (Ok(mut client_reader), Ok(mut server_writer)) = (client.try_clone(), server.try_clone())
    else {
        return;
    };
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_reader, &mut server_writer);
        let _ = server_writer.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Both);
    let _ = upstream.join();
}

/// Debian's `tinyproxy` on 127.0.0.1 (a free port), optionally with Basic
/// authentication: a real proxy for the end-to-end case. Stops when dropped.
pub struct Tinyproxy {
    /// Its port.
    pub port: u16,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// Starts tinyproxy and waits until it says it accepts connections.
    pub fn start(credentials: Option<(&str, &str)>) -> Tinyproxy {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let binary = crate::tool("tinyproxy");
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut last = String::new();
        // The port is picked free, then given to tinyproxy: another process may take it
        // in between, so a start that cannot listen is tried again.
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut conf = format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nLogLevel Info\nDisableViaHeader Yes\n"
            );
            if let Some((user, password)) = credentials {
                conf.push_str(&format!("BasicAuth {user} {password}\n"));
            }
            let path = dir.path().join("tinyproxy.conf");
            std::fs::write(&path, conf).expect("write tinyproxy.conf");
            let mut child = Command::new(&binary)
                .args(["-d", "-c"])
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start tinyproxy");
            let (ready, wait) = std::sync::mpsc::channel();
            for pipe in [
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ]
            .into_iter()
            .flatten()
            {
                let ready = ready.clone();
                // Reads its log to the end, so that the pipe never fills.
                std::thread::spawn(move || {
                    for line in std::io::BufReader::new(pipe).lines() {
                        let Ok(line) = line else { break };
                        let _ = ready.send(line);
                    }
                });
            }
            drop(ready);
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match wait.recv_timeout(left) {
                    Ok(line) if line.contains("Accepting connections") => {
                        return Tinyproxy {
                            port,
                            child,
                            _dir: dir,
                        };
                    }
                    Ok(line) => last = line,
                    Err(_) => break,
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("tinyproxy did not start; its last words: {last}");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
