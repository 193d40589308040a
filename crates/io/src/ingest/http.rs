//! A small HTTP/1.1 GET client over TCP or TLS, for REST snapshots and server time.
//!
//! Owns: one request per connection (`Connection: close`), response parsing (status, headers,
//! `Content-Length`, chunked or read-to-end bodies), size and time limits. Must not touch:
//! what bodies mean. Written here rather than pulling in an HTTP stack: the client needs GET and
//! nothing else, snapshots are rare, and the build stays light (BUILD-NOTES).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Largest body accepted (a 5000-level snapshot is ~250 KB).
const MAX_BODY: usize = 32 << 20;
const MAX_HEAD: usize = 64 << 10;

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
    #[error("reading the response: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed response: {0}")]
    Malformed(String),
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

/// GET `url`, the whole exchange bounded by `timeout`.
pub async fn get(url: &str, timeout: Duration) -> Result<Response, HttpError> {
    match tokio::time::timeout(timeout, get_inner(url)).await {
        Ok(r) => r,
        Err(_) => Err(HttpError::Timeout(url.to_string(), timeout)),
    }
}

async fn get_inner(url: &str) -> Result<Response, HttpError> {
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
        exchange(tls, &u).await
    } else {
        exchange(tcp, &u).await
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    u: &Url,
) -> Result<Response, HttpError> {
    let host = if (u.tls && u.port == 443) || (!u.tls && u.port == 80) {
        u.host.clone()
    } else {
        format!("{}:{}", u.host, u.port)
    };
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: microstate-tui/{}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        u.path,
        env!("CARGO_PKG_VERSION")
    );
    s.write_all(req.as_bytes()).await?;
    s.flush().await?;
    read_response(BufReader::new(s)).await
}

async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    line: &mut String,
) -> Result<usize, HttpError> {
    line.clear();
    Ok(r.read_line(line).await?)
}

/// Parses an HTTP/1.1 response from a stream.
pub async fn read_response<R: AsyncRead + Unpin>(
    mut r: BufReader<R>,
) -> Result<Response, HttpError> {
    let mut line = String::new();
    let mut head_len = 0usize;
    let n = read_line(&mut r, &mut line).await?;
    if n == 0 {
        return Err(HttpError::Malformed(
            "connection closed before a status line".into(),
        ));
    }
    head_len += n;
    let status_line = line.trim_end().to_string();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed(format!("status line {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| HttpError::Malformed(format!("status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let n = read_line(&mut r, &mut line).await?;
        head_len += n;
        if n == 0 || head_len > MAX_HEAD {
            return Err(HttpError::Malformed(
                "response head too long or cut short".into(),
            ));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l
            .split_once(':')
            .ok_or_else(|| HttpError::Malformed(format!("header line {l:?}")))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let n = read_line(&mut r, &mut line).await?;
            if n == 0 {
                return Err(HttpError::Malformed("chunked body cut short".into()));
            }
            let size_hex = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| HttpError::Malformed(format!("chunk size {size_hex:?}")))?;
            if size == 0 {
                // Trailers until the empty line.
                loop {
                    let n = read_line(&mut r, &mut line).await?;
                    if n == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            if body.len() + size > MAX_BODY {
                return Err(HttpError::Malformed("body larger than 32 MiB".into()));
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..]).await?;
            read_line(&mut r, &mut line).await?; // CRLF after the chunk
        }
    } else if let Some(len) = find("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| HttpError::Malformed(format!("content-length {len:?}")))?;
        if len > MAX_BODY {
            return Err(HttpError::Malformed("body larger than 32 MiB".into()));
        }
        body.resize(len, 0);
        r.read_exact(&mut body).await?;
    } else {
        (&mut r)
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body)
            .await?;
        if body.len() > MAX_BODY {
            return Err(HttpError::Malformed("body larger than 32 MiB".into()));
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

    #[tokio::test]
    async fn parses_length_chunked_and_eof_bodies() {
        let cases: &[(&[u8], &str)] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-MBX-USED-WEIGHT-1M: 7\r\n\r\nhello", "hello"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n", "hello"),
            (b"HTTP/1.0 200 OK\r\n\r\nhello", "hello"),
        ];
        for (raw, want) in cases {
            let r = read_response(BufReader::new(*raw)).await.expect("parse");
            assert_eq!(r.status, 200);
            assert_eq!(r.body, want.as_bytes());
        }
        let r = read_response(BufReader::new(
            &b"HTTP/1.1 429 Too Many\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n"[..],
        ))
        .await
        .expect("parse");
        assert_eq!((r.status, r.header("retry-after")), (429, Some("3")));
        assert!(
            read_response(BufReader::new(&b"garbage\r\n\r\n"[..]))
                .await
                .is_err()
        );
        assert!(
            read_response(BufReader::new(
                &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"[..]
            ))
            .await
            .is_err()
        );
    }
}
