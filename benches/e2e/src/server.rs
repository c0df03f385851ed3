//! A loopback static file server (HTTP/1.1, keep-alive, Content-Length, 404) that counts
//! the requests it answers, so each client run can report how many it made.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

/// Request and byte counters shared with the connection threads.
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    not_found: AtomicU64,
    bytes: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests answered.
    pub requests: u64,
    /// Requests answered with 404.
    pub not_found: u64,
    /// Response body bytes sent.
    pub bytes: u64,
}

/// A running server on 127.0.0.1 serving the files under one directory.
pub struct Server {
    addr: SocketAddr,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `root` on an ephemeral loopback port.
    pub fn start(root: &Path) -> Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let (c, s) = (counters.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, c) = (root.clone(), c.clone());
                std::thread::spawn(move || {
                    let _ = serve_connection(stream, &root, &c);
                });
            }
        });
        Ok(Server {
            addr,
            counters,
            stop,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The counters now.
    pub fn counts(&self) -> Counts {
        Counts {
            requests: self.counters.requests.load(Ordering::SeqCst),
            not_found: self.counters.not_found.load(Ordering::SeqCst),
            bytes: self.counters.bytes.load(Ordering::SeqCst),
        }
    }

    /// Sets the counters back to zero.
    pub fn reset(&self) {
        self.counters.requests.store(0, Ordering::SeqCst);
        self.counters.not_found.store(0, Ordering::SeqCst);
        self.counters.bytes.store(0, Ordering::SeqCst);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// Answers requests on one connection until the client closes it or goes idle.
fn serve_connection(stream: TcpStream, root: &Path, counters: &Counters) -> Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            continue;
        }
        let mut close = false;
        let mut body_len = 0u64;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
                if name == "connection" && value.eq_ignore_ascii_case("close") {
                    close = true;
                } else if name == "content-length" {
                    body_len = value.parse().unwrap_or(0);
                }
            }
        }
        if body_len > 0 {
            std::io::copy(&mut (&mut reader).take(body_len), &mut std::io::sink())?;
        }
        let mut parts = line.split(' ');
        let (method, target, version) = (parts.next(), parts.next(), parts.next());
        if version == Some("HTTP/1.0") {
            close = true;
        }
        counters.requests.fetch_add(1, Ordering::SeqCst);
        let head_only = method == Some("HEAD");
        let file = match (method, target) {
            (Some("GET" | "HEAD"), Some(t)) => resolve(root, t).and_then(|p| std::fs::read(p).ok()),
            _ => {
                respond(&mut writer, "405 Method Not Allowed", b"", false, close)?;
                if close {
                    return Ok(());
                }
                continue;
            }
        };
        match file {
            Some(body) => {
                counters
                    .bytes
                    .fetch_add(body.len() as u64, Ordering::SeqCst);
                respond(&mut writer, "200 OK", &body, head_only, close)?;
            }
            None => {
                counters.not_found.fetch_add(1, Ordering::SeqCst);
                respond(
                    &mut writer,
                    "404 Not Found",
                    b"not found\n",
                    head_only,
                    close,
                )?;
            }
        }
        if close {
            return Ok(());
        }
    }
}

fn respond(
    w: &mut TcpStream,
    status: &str,
    body: &[u8],
    head_only: bool,
    close: bool,
) -> Result<()> {
    let conn = if close { "close" } else { "keep-alive" };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: {conn}\r\n\r\n",
        body.len()
    );
    if head_only || body.is_empty() {
        w.write_all(header.as_bytes())?;
    } else if body.len() < 64 * 1024 {
        let mut all = header.into_bytes();
        all.extend_from_slice(body);
        w.write_all(&all)?;
    } else {
        w.write_all(header.as_bytes())?;
        w.write_all(body)?;
    }
    w.flush()?;
    Ok(())
}

/// Maps a request target to a file under `root`; `None` for anything that could leave it.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let decoded = percent_decode(path)?;
    let mut out = root.to_path_buf();
    for seg in decoded.split('/') {
        match seg {
            "" => {}
            "." | ".." => return None,
            s if s.contains('\\') || s.contains('\0') => return None,
            s => out.push(s),
        }
    }
    out.is_file().then_some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: &str, path: &str, stream: &mut TcpStream) -> (String, Vec<u8>) {
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h.trim().is_empty() {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).unwrap();
        (status.trim().to_string(), body)
    }

    #[test]
    fn serves_files_counts_requests_and_refuses_escapes() {
        let dir = std::env::temp_dir().join(format!("tufkit-bench-server-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("metadata")).unwrap();
        std::fs::write(dir.join("metadata/1.root.json"), b"{}").unwrap();
        let server = Server::start(&dir).unwrap();
        let addr = server.base_url().trim_start_matches("http://").to_string();
        let mut s = TcpStream::connect(&addr).unwrap();
        // Two requests on one keep-alive connection.
        let (status, body) = get(&addr, "/metadata/1.root.json", &mut s);
        assert_eq!(
            (status.as_str(), body.as_slice()),
            ("HTTP/1.1 200 OK", &b"{}"[..])
        );
        let (status, _) = get(&addr, "/metadata/2.root.json", &mut s);
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        let (status, _) = get(&addr, "/metadata/%2E%2E/metadata/1.root.json", &mut s);
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        let counts = server.counts();
        assert_eq!((counts.requests, counts.not_found, counts.bytes), (3, 2, 2));
        server.reset();
        assert_eq!(server.counts(), Counts::default());
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
