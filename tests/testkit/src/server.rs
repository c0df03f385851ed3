//! A loopback HTTP/1.1 server for client tests.
//!
//! It serves a [`SharedFiles`] map (the one a [`crate::RepoSim`] publishes into) on
//! 127.0.0.1 at a random port, one response per connection, answers 404 for missing
//! files, records every request path in order (404s included) for exact request-count
//! assertions, and can be told to misbehave per path. It stops when dropped.
//!
//! Paths are looked up as received (still percent-encoded, without the leading `/` and
//! without the optional mount prefix), then, failing that, percent-decoded.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::repo::SharedFiles;

/// How the server answers one path instead of serving the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Answers with this status code and a short body.
    Status(u16),
    /// Sends filler bytes with no Content-Length until the client hangs up (or 1 GiB).
    EndlessBody,
    /// Sends the file in `chunk`-byte pieces, pausing `delay` between them.
    SlowBody {
        /// Bytes per piece.
        chunk: usize,
        /// Pause between pieces.
        delay: Duration,
    },
    /// Sends the file with this (wrong) Content-Length header.
    WrongContentLength(u64),
    /// Serves these bytes instead of the file (whether the file exists or not).
    Body(Vec<u8>),
}

struct State {
    files: SharedFiles,
    prefix: String,
    requests: Mutex<Vec<String>>,
    behaviours: Mutex<BTreeMap<String, Misbehaviour>>,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running server; dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    state: Arc<State>,
    accept_thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

impl Server {
    /// Serves `files` at `http://127.0.0.1:PORT/`.
    pub fn start(files: SharedFiles) -> Server {
        Server::start_with_prefix(files, "")
    }

    /// Serves `files` under a mount prefix, used verbatim (it may hold percent-escapes,
    /// e.g. `test%5Bx%2Fy%5D/`): `http://127.0.0.1:PORT/{prefix}{file path}`.
    pub fn start_with_prefix(files: SharedFiles, prefix: &str) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("local address of the listener");
        let state = Arc::new(State {
            files,
            prefix: prefix.to_string(),
            requests: Mutex::new(Vec::new()),
            behaviours: Mutex::new(BTreeMap::new()),
            stop: AtomicBool::new(false),
        });
        let accept_state = state.clone();
        let accept_thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if accept_state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let state = accept_state.clone();
                std::thread::spawn(move || {
                    let _ = handle(&state, conn);
                });
            }
        });
        Server {
            addr,
            state,
            accept_thread: Some(accept_thread),
        }
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/{prefix}`.
    pub fn base_url(&self) -> String {
        format!("http://{}/{}", self.addr, self.state.prefix)
    }

    /// The metadata base URL (`{base}metadata/`).
    pub fn metadata_url(&self) -> String {
        format!("{}metadata/", self.base_url())
    }

    /// The targets base URL (`{base}targets/`).
    pub fn targets_url(&self) -> String {
        format!("{}targets/", self.base_url())
    }

    /// Every request path so far, in order (relative to the prefix, as received).
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state.requests).clone()
    }

    /// Returns the requests so far and forgets them.
    pub fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.state.requests))
    }

    /// Forgets the requests so far.
    pub fn clear_requests(&self) {
        lock(&self.state.requests).clear();
    }

    /// Makes the server misbehave for `path` (relative to the prefix, as requested).
    pub fn misbehave(&self, path: &str, how: Misbehaviour) {
        lock(&self.state.behaviours).insert(path.to_string(), how);
    }

    /// Back to serving `path` normally.
    pub fn behave(&self, path: &str) {
        lock(&self.state.behaviours).remove(path);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Reads the request head (up to 16 KiB) and returns the request target of a GET.
fn read_request_path(conn: &mut TcpStream) -> std::io::Result<Option<(String, String)>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf)?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or("").split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    Ok(Some((method, target)))
}

fn respond(
    conn: &mut TcpStream,
    status: u16,
    length: Option<u64>,
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\n");
    if let Some(len) = length {
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()
}

fn handle(state: &State, mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let Some((method, target)) = read_request_path(&mut conn)? else {
        return Ok(());
    };
    if state.stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    let raw = target.strip_prefix('/').unwrap_or(&target);
    let path = raw
        .strip_prefix(state.prefix.as_str())
        .unwrap_or(raw)
        .to_string();
    lock(&state.requests).push(path.clone());
    if method != "GET" {
        return respond(&mut conn, 405, Some(0), b"");
    }
    let file = {
        let files = state.files.read().unwrap_or_else(|e| e.into_inner());
        files.get(&path).cloned().or_else(|| {
            let decoded = String::from_utf8(percent_decode(&path)).ok()?;
            files.get(&decoded).cloned()
        })
    };
    let behaviour = lock(&state.behaviours).get(&path).cloned();
    match (behaviour, file) {
        (Some(Misbehaviour::Status(code)), _) => {
            let body = format!("status {code}\n");
            respond(&mut conn, code, Some(body.len() as u64), body.as_bytes())
        }
        (Some(Misbehaviour::Body(body)), _) => {
            respond(&mut conn, 200, Some(body.len() as u64), &body)
        }
        (Some(Misbehaviour::EndlessBody), _) => {
            respond(&mut conn, 200, None, b"")?;
            let filler = vec![b' '; 64 * 1024];
            let mut sent = 0usize;
            while sent < (1 << 30) && !state.stop.load(Ordering::SeqCst) {
                conn.write_all(&filler)?;
                sent += filler.len();
            }
            Ok(())
        }
        (_, None) => respond(&mut conn, 404, Some(10), b"not found\n"),
        (Some(Misbehaviour::WrongContentLength(len)), Some(body)) => {
            respond(&mut conn, 200, Some(len), &body)
        }
        (Some(Misbehaviour::SlowBody { chunk, delay }), Some(body)) => {
            respond(&mut conn, 200, Some(body.len() as u64), b"")?;
            for piece in body.chunks(chunk.max(1)) {
                if state.stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(delay);
                conn.write_all(piece)?;
                conn.flush()?;
            }
            Ok(())
        }
        (None, Some(body)) => respond(&mut conn, 200, Some(body.len() as u64), &body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes_leniently() {
        assert_eq!(percent_decode("a%20b%2Fc"), b"a b/c");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
        assert_eq!(percent_decode("%41"), b"A");
    }

    #[test]
    fn serves_files_records_requests_and_misbehaves() {
        let files = SharedFiles::default();
        files
            .write()
            .unwrap()
            .insert("metadata/1.%3F.json".into(), b"hello".to_vec());
        let server = Server::start_with_prefix(files, "repo%20x/");
        let get = |path: &str| {
            let mut conn = TcpStream::connect(server.addr()).unwrap();
            write!(conn, "GET /repo%20x/{path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut out = String::new();
            conn.read_to_string(&mut out).unwrap();
            out
        };
        let ok = get("metadata/1.%3F.json");
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nhello"), "{ok}");
        assert!(get("metadata/missing.json").starts_with("HTTP/1.1 404"));
        server.misbehave("metadata/1.%3F.json", Misbehaviour::Status(503));
        assert!(get("metadata/1.%3F.json").starts_with("HTTP/1.1 503"));
        server.misbehave("metadata/1.%3F.json", Misbehaviour::WrongContentLength(2));
        assert!(get("metadata/1.%3F.json").contains("Content-Length: 2\r\n"));
        assert_eq!(
            server.take_requests(),
            [
                "metadata/1.%3F.json",
                "metadata/missing.json",
                "metadata/1.%3F.json",
                "metadata/1.%3F.json"
            ]
        );
        assert!(server.requests().is_empty());
        assert!(server.metadata_url().ends_with("/repo%20x/metadata/"));
    }
}
