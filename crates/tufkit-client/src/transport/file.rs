//! `file://` transport, for air-gapped and mirrored repositories.

use std::path::PathBuf;

use futures_util::future::BoxFuture;
use percent_encoding::percent_decode_str;
use tokio::io::AsyncReadExt;

use super::{capped, ByteStream, Transport, TransportError};

const CHUNK: usize = 64 * 1024;

/// Reads `file://` URLs from the local file system.
///
/// The path part of the URL is percent-decoded as a whole, exactly as a static HTTP
/// server would decode a request path: a repository directory that serves correctly over
/// HTTP also works as `file://`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileTransport;

/// The local path a `file://` URL names.
pub fn file_url_to_path(url: &str) -> Result<PathBuf, TransportError> {
    let unsupported = |reason: &str| TransportError::UnsupportedUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    if !super::has_scheme(url, "file") {
        return Err(unsupported("not a file:// URL"));
    }
    let rest = &url["file://".len()..];
    let path = if let Some(p) = rest
        .strip_prefix("localhost")
        .filter(|p| p.starts_with('/'))
    {
        p
    } else if rest.starts_with('/') {
        rest
    } else {
        return Err(unsupported(
            "file URLs must be absolute: file:///path or file://localhost/path",
        ));
    };
    let bytes: Vec<u8> = percent_decode_str(path).collect();
    if bytes.contains(&0) {
        return Err(unsupported("the path contains a NUL byte"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
    }
    #[cfg(not(unix))]
    {
        String::from_utf8(bytes)
            .map(PathBuf::from)
            .map_err(|_| unsupported("the path is not UTF-8"))
    }
}

impl Transport for FileTransport {
    fn get<'a>(
        &'a self,
        url: &'a str,
        max_len: u64,
    ) -> BoxFuture<'a, Result<ByteStream, TransportError>> {
        Box::pin(async move {
            let path = file_url_to_path(url)?;
            let io = |e: std::io::Error| TransportError::Io {
                url: url.to_string(),
                reason: e.to_string(),
            };
            let file = match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(TransportError::NotFound {
                        url: url.to_string(),
                    })
                }
                Err(e) => return Err(io(e)),
            };
            let meta = file.metadata().await.map_err(io)?;
            if !meta.is_file() {
                return Err(TransportError::NotFound {
                    url: url.to_string(),
                });
            }
            if meta.len() > max_len {
                return Err(TransportError::TooLarge {
                    url: url.to_string(),
                    max: max_len,
                });
            }
            let owned_url = url.to_string();
            let body = futures_util::stream::unfold(Some(file), move |file| {
                let url = owned_url.clone();
                async move {
                    let mut file = file?;
                    let mut buf = vec![0u8; CHUNK];
                    match file.read(&mut buf).await {
                        Ok(0) => None,
                        Ok(n) => {
                            buf.truncate(n);
                            Some((Ok(buf), Some(file)))
                        }
                        Err(e) => Some((
                            Err(TransportError::Io {
                                url,
                                reason: e.to_string(),
                            }),
                            None,
                        )),
                    }
                }
            });
            Ok(capped(Box::pin(body), url, max_len))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_decode_like_a_web_server() {
        assert_eq!(
            file_url_to_path("file:///srv/a%20b/1.%3F.json").unwrap(),
            PathBuf::from("/srv/a b/1.?.json")
        );
        assert_eq!(
            file_url_to_path("file://localhost/srv/x").unwrap(),
            PathBuf::from("/srv/x")
        );
        assert!(file_url_to_path("file://host/srv/x").is_err());
        assert!(file_url_to_path("file://relative").is_err());
        assert!(file_url_to_path("file:///a%00b").is_err());
    }
}
