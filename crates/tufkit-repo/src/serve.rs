//! `tufkit serve`: a small read-only HTTP server for a published tree, for trying
//! things out and for tests. Not meant for production traffic.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use crate::error::{Error, Result};

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// Serves `root` on `addr` (port 0 picks a free port) in a background thread.
    pub fn start(root: &Path, addr: &str) -> Result<Server> {
        let listener = TcpListener::bind(addr).map_err(|e| Error::io(addr, e))?;
        let addr = listener.local_addr().map_err(|e| Error::io(root, e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let flag = stop.clone();
        let handle = thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    let root = root.clone();
                    thread::spawn(move || {
                        let _ = handle_connection(stream, &root);
                    });
                }
            }
        });
        Ok(Server {
            addr,
            stop,
            handle: Some(handle),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Blocks until the server stops (it never does on its own).
    pub fn wait(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Maps a request path to a file under `root`, refusing anything that could escape it.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let mut out = root.to_path_buf();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        let seg = percent_decode(seg)?;
        if seg == "." || seg == ".." || seg.contains('/') || seg.contains('\\') {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn handle_connection(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut keep_alive = request_line.contains("HTTP/1.1");
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
                break;
            }
            if header.to_ascii_lowercase().starts_with("connection:")
                && header.to_ascii_lowercase().contains("close")
            {
                keep_alive = false;
            }
        }
        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        let conn = if keep_alive { "keep-alive" } else { "close" };
        let file = resolve(root, target).filter(|p| p.is_file());
        match (method, file) {
            ("GET" | "HEAD", Some(path)) => {
                let body = std::fs::read(&path)?;
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: {conn}\r\n\r\n",
                    body.len()
                )?;
                if method == "GET" {
                    stream.write_all(&body)?;
                }
            }
            ("GET" | "HEAD", None) => {
                write!(
                    stream,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: {conn}\r\n\r\nnot found\n"
                )?;
            }
            _ => {
                write!(
                    stream,
                    "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )?;
                return Ok(());
            }
        }
        stream.flush()?;
        if !keep_alive {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_files_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pub/metadata")).unwrap();
        std::fs::write(dir.path().join("pub/metadata/1.root.json"), "{}").unwrap();
        std::fs::write(dir.path().join("secret"), "key").unwrap();
        let server = Server::start(&dir.path().join("pub"), "127.0.0.1:0").unwrap();
        let ok = get(server.addr(), "/metadata/1.root.json");
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.ends_with("{}"));
        assert!(get(server.addr(), "/metadata/2.root.json").starts_with("HTTP/1.1 404"));
        assert!(get(server.addr(), "/../secret").starts_with("HTTP/1.1 404"));
        assert!(get(server.addr(), "/%2e%2e/secret").starts_with("HTTP/1.1 404"));
    }
}
