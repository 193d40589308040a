//! The request head as the exchange reads it, and its answer as a plain value.
//!
//! Owns: the peeked head's parse that decides whether a connection is a WebSocket handshake
//! (and which stream path it asks for), percent-decoding, and [`Response`] (status, Binance
//! JSON body, extra headers), which the server turns into axum's answer. Must not touch:
//! sockets, or writing HTTP: the REST side is served by hyper and axum ([`super::server`]);
//! this parse only routes a connection (anything it refuses is hyper's to answer).

/// Longest request head accepted (bytes); Binance's limit is similar.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// Why a request head was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("request head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("request head is not UTF-8")]
    NotUtf8,
    #[error("malformed request line {0:?}")]
    BadRequestLine(String),
    #[error("malformed header line {0:?}")]
    BadHeader(String),
    #[error("unsupported HTTP version {0:?}")]
    BadVersion(String),
    #[error("bad percent-encoding in {0:?}")]
    BadEncoding(String),
}

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// Query parameters in order, percent-decoded.
    pub query: Vec<(String, String)>,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// Header names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A WebSocket handshake (`Upgrade: websocket`).
    pub fn is_websocket(&self) -> bool {
        self.header("upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
    }
}

/// Index just past the blank line that ends the head, if the head is complete.
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Decodes `%XX` escapes and `+` (as a space, form style, which Binance accepts).
pub(crate) fn percent_decode(s: &str) -> Result<String, HttpError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| HttpError::BadEncoding(s.to_string()))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| HttpError::BadEncoding(s.to_string()))
}

/// Splits a request target into its decoded path and query parameters.
pub(crate) fn split_target(target: &str) -> Result<(String, Vec<(String, String)>), HttpError> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    let path = percent_decode(path)?;
    let mut params = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.push((percent_decode(k)?, percent_decode(v)?));
    }
    Ok((path, params))
}

/// Parses a complete request head (everything before and including the blank line).
pub(crate) fn parse_head(head: &[u8]) -> Result<RequestHead, HttpError> {
    if head.len() > MAX_HEAD {
        return Err(HttpError::HeadTooLarge);
    }
    let text = std::str::from_utf8(head).map_err(|_| HttpError::NotUtf8)?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::BadRequestLine(request_line.to_string()));
    };
    if method.is_empty() || !method.bytes().all(|c| c.is_ascii_uppercase()) {
        return Err(HttpError::BadRequestLine(request_line.to_string()));
    }
    if !target.starts_with('/') {
        return Err(HttpError::BadRequestLine(request_line.to_string()));
    }
    let minor_version = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        v => return Err(HttpError::BadVersion(v.to_string())),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .filter(|(n, _)| !n.is_empty() && !n.contains(' '))
            .ok_or_else(|| HttpError::BadHeader(line.to_string()))?;
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let (path, query) = split_target(target)?;
    Ok(RequestHead {
        method: method.to_string(),
        path,
        query,
        minor_version,
        headers,
    })
}

/// An answer, written by [`Response::to_bytes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    pub body: String,
    /// Extra headers (`X-MBX-USED-WEIGHT-1M`, `Retry-After`).
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    pub fn json(status: u16, body: String) -> Response {
        Response {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// A Binance error body: `{"code":-1121,"msg":"Invalid symbol."}`.
    pub fn error(status: u16, code: i32, msg: &str) -> Response {
        Response::json(
            status,
            serde_json::json!({ "code": code, "msg": msg }).to_string(),
        )
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Response {
        self.headers.push((name, value));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_get() {
        let h = parse_head(
            b"GET /api/v3/depth?symbol=BTCUSDT&limit=5%30 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        assert_eq!(h.method, "GET");
        assert_eq!(h.path, "/api/v3/depth");
        assert_eq!(h.param("symbol"), Some("BTCUSDT"));
        assert_eq!(h.param("limit"), Some("50"));
        assert!(!h.is_websocket());
    }

    #[test]
    fn refuses_bad_heads() {
        let cases: &[&[u8]] = &[
            b"GARBAGE\r\n\r\n",
            b"GET x HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET /%zz HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: \xff\r\n\r\n",
        ];
        for head in cases {
            assert!(parse_head(head).is_err(), "{head:?}");
        }
    }
}
