//! HTTP(S) transport on reqwest with rustls.

use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;

use super::{capped, ByteStream, Transport, TransportError};

/// Connection settings for [`HttpTransport`].
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Longest silence allowed while waiting for the next bytes of a response.
    pub read_timeout: Duration,
    /// Cap on the whole request, body included (None: no cap beyond `read_timeout`).
    pub request_timeout: Option<Duration>,
    /// Whether to honour the `HTTP(S)_PROXY` / `NO_PROXY` environment variables.
    pub use_system_proxy: bool,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(30),
            request_timeout: None,
            use_system_proxy: true,
            user_agent: concat!("tufkit/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Fetches `http://` and `https://` URLs.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// Builds the HTTP client.
    pub fn new(options: HttpOptions) -> Result<HttpTransport, TransportError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .user_agent(options.user_agent);
        if let Some(t) = options.request_timeout {
            builder = builder.timeout(t);
        }
        if !options.use_system_proxy {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| TransportError::Io {
            url: String::new(),
            reason: format!("cannot set up the HTTP client: {e}"),
        })?;
        Ok(HttpTransport { client })
    }
}

fn describe(e: &reqwest::Error) -> String {
    // reqwest's Display omits the cause chain ("error sending request"); add it.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl Transport for HttpTransport {
    fn get<'a>(
        &'a self,
        url: &'a str,
        max_len: u64,
    ) -> BoxFuture<'a, Result<ByteStream, TransportError>> {
        Box::pin(async move {
            let io = |e: reqwest::Error| TransportError::Io {
                url: url.to_string(),
                reason: describe(&e),
            };
            let response = self.client.get(url).send().await.map_err(io)?;
            let status = response.status().as_u16();
            if status == 404 || status == 410 {
                return Err(TransportError::NotFound {
                    url: url.to_string(),
                });
            }
            if !response.status().is_success() {
                return Err(TransportError::Status {
                    url: url.to_string(),
                    status,
                });
            }
            // Refuse early when the server announces too much; the cap below still holds
            // if it lies.
            if response.content_length().is_some_and(|n| n > max_len) {
                return Err(TransportError::TooLarge {
                    url: url.to_string(),
                    max: max_len,
                });
            }
            let owned_url = url.to_string();
            let body = response.bytes_stream().map(move |r| {
                r.map(|b| b.to_vec()).map_err(|e| TransportError::Io {
                    url: owned_url.clone(),
                    reason: describe(&e),
                })
            });
            Ok(capped(Box::pin(body), url, max_len))
        })
    }
}
