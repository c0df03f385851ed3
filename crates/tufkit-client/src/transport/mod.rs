//! Transports: how metadata and target bytes are fetched (HTTP(S) and `file://`).
//!
//! A [`Transport`] turns a URL into a stream of bytes, enforcing a cap on how many bytes it
//! will deliver, so an endless or oversized response can exhaust neither memory nor disk.
//! URLs are built by plain string concatenation of a base URL and a file name; transports
//! never decode or re-encode the part that came from the base (see `crate::urls`).

mod file;
mod http;

use std::pin::Pin;

use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};

pub use file::FileTransport;
pub use http::{HttpOptions, HttpTransport};

/// A stream of response body chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, TransportError>> + Send>>;

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The file does not exist on the repository (HTTP 404/410, or a missing local file).
    #[error("{url} was not found (404)")]
    NotFound {
        /// The URL requested.
        url: String,
    },
    /// The server answered with a status other than success or not-found.
    #[error("{url}: the server answered HTTP {status}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The response is longer than the caller allows.
    #[error("{url}: the response is larger than the {max}-byte limit (listed length or size cap); reading stopped")]
    TooLarge {
        /// The URL requested.
        url: String,
        /// The byte limit.
        max: u64,
    },
    /// A network or file error.
    #[error("{url}: {reason}")]
    Io {
        /// The URL requested.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The URL cannot be handled by this transport.
    #[error("{url}: unsupported URL: {reason}")]
    UnsupportedUrl {
        /// The URL requested.
        url: String,
        /// Why it is not supported.
        reason: String,
    },
}

impl TransportError {
    /// True when the file does not exist on the repository.
    pub fn is_not_found(&self) -> bool {
        matches!(self, TransportError::NotFound { .. })
    }
}

/// Fetches bytes by URL.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Starts a GET of `url`, delivering at most `max_len` bytes.
    ///
    /// The returned stream yields [`TransportError::TooLarge`] (and stops) as soon as the
    /// body is known to exceed `max_len`.
    fn get<'a>(
        &'a self,
        url: &'a str,
        max_len: u64,
    ) -> BoxFuture<'a, Result<ByteStream, TransportError>>;
}

/// The transport for `http://`, `https://` and `file://` URLs, chosen per request.
#[derive(Debug, Clone)]
pub struct DefaultTransport {
    http: HttpTransport,
    file: FileTransport,
}

impl DefaultTransport {
    /// A transport with default HTTP options.
    pub fn new() -> Result<DefaultTransport, TransportError> {
        DefaultTransport::with_http_options(HttpOptions::default())
    }

    /// A transport with the given HTTP options.
    pub fn with_http_options(options: HttpOptions) -> Result<DefaultTransport, TransportError> {
        Ok(DefaultTransport {
            http: HttpTransport::new(options)?,
            file: FileTransport,
        })
    }
}

impl Transport for DefaultTransport {
    fn get<'a>(
        &'a self,
        url: &'a str,
        max_len: u64,
    ) -> BoxFuture<'a, Result<ByteStream, TransportError>> {
        if has_scheme(url, "file") {
            self.file.get(url, max_len)
        } else if has_scheme(url, "http") || has_scheme(url, "https") {
            self.http.get(url, max_len)
        } else {
            let err = TransportError::UnsupportedUrl {
                url: url.to_string(),
                reason: "only http://, https:// and file:// URLs are supported".into(),
            };
            Box::pin(async move { Err(err) })
        }
    }
}

/// True when `url` starts with `scheme://` (scheme compared case-insensitively).
pub(crate) fn has_scheme(url: &str, scheme: &str) -> bool {
    let prefix_len = scheme.len() + 3;
    url.len() >= prefix_len
        && url.is_char_boundary(prefix_len)
        && url[..scheme.len()].eq_ignore_ascii_case(scheme)
        && &url[scheme.len()..prefix_len] == "://"
}

/// Wraps a stream so that it fails with [`TransportError::TooLarge`] once more than
/// `max_len` bytes have been delivered. Bytes past the limit are never passed on.
pub(crate) fn capped(inner: ByteStream, url: &str, max_len: u64) -> ByteStream {
    let url = url.to_string();
    let state = (inner, 0u64, false);
    Box::pin(futures_util::stream::unfold(
        state,
        move |(mut inner, seen, done)| {
            let url = url.clone();
            async move {
                if done {
                    return None;
                }
                match inner.next().await {
                    None => None,
                    Some(Err(e)) => Some((Err(e), (inner, seen, true))),
                    Some(Ok(chunk)) => {
                        let seen = seen.saturating_add(chunk.len() as u64);
                        if seen > max_len {
                            let err = TransportError::TooLarge { url, max: max_len };
                            Some((Err(err), (inner, seen, true)))
                        } else {
                            Some((Ok(chunk), (inner, seen, false)))
                        }
                    }
                }
            }
        },
    ))
}

/// Fetches a whole (small) file into memory, at most `max_len` bytes.
pub async fn fetch_bytes(
    transport: &dyn Transport,
    url: &str,
    max_len: u64,
) -> Result<Vec<u8>, TransportError> {
    let mut stream = transport.get(url, max_len).await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if (out.len() as u64).saturating_add(chunk.len() as u64) > max_len {
            return Err(TransportError::TooLarge {
                url: url.to_string(),
                max: max_len,
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_detection() {
        assert!(has_scheme("file:///x", "file"));
        assert!(has_scheme("HTTP://x", "http"));
        assert!(!has_scheme("https://x", "http"));
        assert!(!has_scheme("http:/x", "http"));
        assert!(!has_scheme("é", "file"));
    }

    #[tokio::test]
    async fn capped_stops_after_the_limit() {
        let chunks: Vec<Result<Vec<u8>, TransportError>> =
            vec![Ok(vec![1; 4]), Ok(vec![2; 4]), Ok(vec![3; 4])];
        let inner: ByteStream = Box::pin(futures_util::stream::iter(chunks));
        let mut s = capped(inner, "u", 6);
        assert_eq!(s.next().await, Some(Ok(vec![1; 4])));
        assert!(matches!(
            s.next().await,
            Some(Err(TransportError::TooLarge { max: 6, .. }))
        ));
        assert_eq!(s.next().await, None);
    }
}
