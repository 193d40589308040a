//! The REST client: one HTTP/1.1 GET per connection over TCP or TLS (hyper's client), for depth
//! snapshots, klines and server time.
//!
//! Owns: connecting (TCP, then rustls with the ring provider for `https://`), hyper's HTTP/1.1
//! connection for the one request, and the bounds on what a peer can make us hold or wait:
//! the response head (hyper's read buffer, `rest.max_head_bytes`), the body (counted frame by
//! frame while it is read, `rest.max_body_bytes`, and refused at once when a declared length
//! is larger), the whole exchange (`timeout`), and `Retry-After` ([`retry_after`], clamped to
//! `rest.retry_after_max`). Parsing the wire — status line, headers, chunked encoding, lengths —
//! is hyper's, which refuses a chunk size that overflows rather than wrapping. Must not touch:
//! what bodies mean (the callers), when requests are made (the scheduler).

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use microstate_config::RestConfig;

/// A parsed URL: scheme, host, port, path with query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("bad URL {0:?}")]
    BadUrl(String),
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS with {host}: {source}")]
    Tls {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: timed out after {1:?}")]
    Timeout(String, Duration),
    #[error("{url}: response head larger than {limit} bytes (rest.max_head_bytes)")]
    HeadTooLarge { url: String, limit: u64 },
    #[error("{url}: response body larger than {limit} bytes (rest.max_body_bytes)")]
    BodyTooLarge { url: String, limit: u64 },
    #[error("{url}: malformed response: {source}")]
    Protocol {
        url: String,
        #[source]
        source: hyper::Error,
    },
}

/// A response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How long a 429/418 answer asks us to stop: `Retry-After` in seconds, else `default`; never
/// less than 1 s and never more than `max` (an absurd or unreadable value waits `max`, then
/// the next request asks again). Always small enough to add to an `Instant`.
pub fn retry_after(r: &Response, default: Duration, max: Duration) -> Duration {
    let asked = match r.header("retry-after").map(str::trim) {
        None => default,
        Some(v) => match v.parse::<u64>() {
            Ok(s) => Duration::from_secs(s),
            // Too large for u64 (all digits): as absurd as u64::MAX. An HTTP date or garbage:
            // not a number of seconds; the cap is the safe reading.
            Err(_) => max,
        },
    };
    asked.clamp(Duration::from_secs(1), max.max(Duration::from_secs(1)))
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, HttpError> {
        let bad = || HttpError::BadUrl(s.to_string());
        let (tls, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("wss://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("ws://") {
            (false, r)
        } else {
            return Err(bad());
        };
        let slash = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(slash);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
                (h.to_string(), p.parse::<u16>().map_err(|_| bad())?)
            }
            _ => (authority.to_string(), if tls { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Url {
            tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            path: if path.is_empty() {
                "/".into()
            } else {
                path.to_string()
            },
        })
    }
}

/// GET `url`, the whole exchange bounded by `timeout` and the answer by `limits`.
pub async fn get(url: &str, timeout: Duration, limits: &RestConfig) -> Result<Response, HttpError> {
    match tokio::time::timeout(timeout, get_inner(url, limits)).await {
        Ok(r) => r,
        Err(_) => Err(HttpError::Timeout(url.to_string(), timeout)),
    }
}

async fn get_inner(url: &str, limits: &RestConfig) -> Result<Response, HttpError> {
    let u = Url::parse(url)?;
    let addr = format!("{}:{}", u.host, u.port);
    let tcp = TcpStream::connect(&addr)
        .await
        .map_err(|source| HttpError::Connect {
            addr: addr.clone(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    if u.tls {
        let name = rustls::pki_types::ServerName::try_from(u.host.clone())
            .map_err(|_| HttpError::BadUrl(url.to_string()))?;
        let tls = tokio_rustls::TlsConnector::from(super::tls::client_config())
            .connect(name, tcp)
            .await
            .map_err(|source| HttpError::Tls {
                host: u.host.clone(),
                source,
            })?;
        exchange(tls, url, &u, limits).await
    } else {
        exchange(tcp, url, &u, limits).await
    }
}

/// Aborts the connection task when the request ends (answered, failed or timed out).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One request and its answer over an open stream.
async fn exchange<S>(s: S, url: &str, u: &Url, limits: &RestConfig) -> Result<Response, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let protocol = |source: hyper::Error| {
        if source.is_parse_too_large() {
            HttpError::HeadTooLarge {
                url: url.to_string(),
                limit: limits.max_head_bytes,
            }
        } else {
            HttpError::Protocol {
                url: url.to_string(),
                source,
            }
        }
    };
    // hyper's read buffer holds the whole head before it parses it: its size is the head
    // limit (hyper refuses less than 8 KiB; the config check holds that minimum too).
    let head_limit = usize::try_from(limits.max_head_bytes)
        .unwrap_or(usize::MAX)
        .max(microstate_config::MIN_REST_HEAD as usize);
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(head_limit)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(s))
        .await
        .map_err(protocol)?;
    let _conn = AbortOnDrop(tokio::spawn(async move {
        // Errors surface through the request's own future.
        let _ = conn.await;
    }));
    let host = if (u.tls && u.port == 443) || (!u.tls && u.port == 80) {
        u.host.clone()
    } else {
        format!("{}:{}", u.host, u.port)
    };
    let req = hyper::Request::get(u.path.as_str())
        .header(http::header::HOST, host)
        .header(
            http::header::USER_AGENT,
            concat!("microstate-tui/", env!("CARGO_PKG_VERSION")),
        )
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|_| HttpError::BadUrl(url.to_string()))?;
    let resp = sender.send_request(req).await.map_err(protocol)?;
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let too_large = || HttpError::BodyTooLarge {
        url: url.to_string(),
        limit: limits.max_body_bytes,
    };
    let max_body = usize::try_from(limits.max_body_bytes).unwrap_or(usize::MAX);
    // A declared length past the cap is refused before a byte of the body is read.
    if let Some(len) = resp
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        && len > limits.max_body_bytes
    {
        return Err(too_large());
    }
    let mut body_stream = resp.into_body();
    let mut body = Vec::new();
    while let Some(frame) = body_stream.frame().await {
        let frame = frame.map_err(protocol)?;
        if let Ok(data) = frame.into_data() {
            if body.len().saturating_add(data.len()) > max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&data);
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("https://api.binance.com/api/v3/depth?symbol=X&limit=5").expect("url");
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (
                true,
                "api.binance.com",
                443,
                "/api/v3/depth?symbol=X&limit=5"
            )
        );
        let u = Url::parse("http://127.0.0.1:8080").expect("url");
        assert_eq!((u.tls, u.port, u.path.as_str()), (false, 8080, "/"));
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://:80/").is_err());
    }

    fn with_retry_after(v: &str) -> Response {
        Response {
            status: 429,
            headers: vec![("Retry-After".into(), v.into())],
            body: Vec::new(),
        }
    }

    #[test]
    fn retry_after_is_clamped() {
        let (def, max) = (Duration::from_secs(60), Duration::from_secs(3600));
        let cases = [
            ("3", 3),
            ("0", 1),
            ("1000000000000", 3600),
            ("18446744073709551615", 3600),
            ("99999999999999999999999", 3600),
            ("Wed, 21 Oct 2015 07:28:00 GMT", 3600),
        ];
        for (v, want) in cases {
            assert_eq!(
                retry_after(&with_retry_after(v), def, max),
                Duration::from_secs(want),
                "{v}"
            );
        }
        let none = Response {
            status: 429,
            headers: Vec::new(),
            body: Vec::new(),
        };
        assert_eq!(retry_after(&none, def, max), def);
        // Whatever it says, it can be added to now.
        let _ = tokio::time::Instant::now()
            + retry_after(&with_retry_after("18446744073709551615"), def, max);
    }
}
