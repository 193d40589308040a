//! What the API tests share: a live session on the local exchange's synthetic market with the
//! API serving it, and a WebSocket client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use microstate_api::{ApiHandle, ApiOptions};
use microstate_config::{ApiConfig, Config, EndpointsConfig};
use microstate_core::num::Symbol;
use microstate_core::view::{Source, View};
use microstate_drive::live::{self, LiveOptions, LiveOutcome};
use microstate_drive::publish::Publisher;
use microstate_drive::shutdown::Stop;
use microstate_exchange::{ExchangeConfig, ExchangeHandle, ExchangeSource, Speed};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The sessions of this binary run one at a time: each is a whole market, client and server
/// on a shared 2-core machine, and the slow-client test measures the engine's pace.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn sym(s: &str) -> Symbol {
    s.parse().expect("a symbol")
}

/// A session: the exchange, the API, the views, and the stop for both.
pub struct Session {
    pub exchange: ExchangeHandle,
    pub api: ApiHandle,
    pub views: watch::Receiver<Arc<View>>,
    pub stop: Stop,
}

/// Starts the synthetic market (BTCUSDT, ETHUSDT at `speed`), the API with `api`, and
/// returns them with the live session's future (to run beside the test on this runtime:
/// the API runs on the driver's runtime, as in the binary).
pub async fn start(
    speed: f64,
    api: ApiConfig,
) -> (Session, impl std::future::Future<Output = LiveOutcome>) {
    let symbols = vec![sym("BTCUSDT"), sym("ETHUSDT")];
    let sc = microstate_exchange::synthetic::SyntheticConfig::new(7, symbols.clone());
    let src = microstate_exchange::synthetic::SyntheticSource::new(sc);
    let mut xcfg = ExchangeConfig::new(ExchangeSource::Sources(vec![Box::new(src)]));
    xcfg.speed = Speed::Factor(speed);
    let exchange = microstate_exchange::start(xcfg)
        .await
        .expect("the exchange starts");
    let mut cfg = Config {
        endpoints: EndpointsConfig::local(&exchange.ws_base(), &exchange.rest_base()),
        ..Config::default()
    };
    cfg.api = api;
    let (vtx, views) = watch::channel(Arc::new(View::default()));
    let events = microstate_api::event_channel(&cfg.api);
    let publisher = Publisher::new(
        vtx,
        Duration::from_millis(33),
        Source::Live {
            endpoint: exchange.ws_base(),
        },
    )
    .with_events(events.clone());
    let stop = Stop::new();
    let opts = ApiOptions {
        addr: "127.0.0.1:0".parse().expect("addr"),
        token: None,
        cfg: cfg.api.clone(),
    };
    let api = microstate_api::start(opts, views.clone(), events, stop.shutdown())
        .await
        .expect("the API starts");
    let session = live::run_with(
        LiveOptions::new(cfg, symbols),
        None,
        Some(publisher),
        stop.shutdown(),
    );
    (
        Session {
            exchange,
            api,
            views,
            stop,
        },
        session,
    )
}

impl Session {
    /// Waits (guarded by `guard`) until every symbol's book is synced.
    pub async fn synced(&mut self, guard: Duration) {
        let r = tokio::time::timeout(
            guard,
            self.views.wait_for(|v| {
                v.symbols.len() == 2
                    && v.symbols
                        .iter()
                        .all(|s| s.phase == microstate_core::book::sync::Phase::Synced)
            }),
        )
        .await;
        let ok = r.map(|x| x.is_ok()).unwrap_or(false);
        if !ok {
            panic!(
                "not synced within {guard:?}: {:?}",
                self.views
                    .borrow()
                    .symbols
                    .iter()
                    .map(|s| (s.symbol, s.phase))
                    .collect::<Vec<_>>()
            );
        }
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `/v1/stream?query` on the API.
pub async fn ws(addr: SocketAddr, query: &str) -> Ws {
    let url = format!("ws://{addr}/v1/stream?{query}");
    let (ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    ws
}

/// The next text message as JSON (every message must parse), or `None` at the end.
pub async fn next_json(ws: &mut Ws, guard: Duration) -> Option<serde_json::Value> {
    loop {
        let m = match tokio::time::timeout(guard, ws.next()).await {
            Err(_) => panic!("no message within {guard:?}"),
            Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(m))) => m,
        };
        match m {
            Message::Text(t) => {
                return Some(
                    serde_json::from_str(t.as_str())
                        .unwrap_or_else(|e| panic!("a stream message that is not JSON ({e}): {t}")),
                );
            }
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

/// Checks the envelope every stream message has.
pub fn envelope(m: &serde_json::Value) -> (&str, Option<&str>) {
    let channel = m["channel"]
        .as_str()
        .unwrap_or_else(|| panic!("no channel: {m}"));
    assert!(m["ts_ns"].is_u64(), "no ts_ns: {m}");
    assert!(m.get("data").is_some(), "no data: {m}");
    (channel, m["symbol"].as_str())
}

/// `promtool check metrics` on `text`: its verdict (Prometheus's own linter).
pub fn promtool(text: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package `prometheus`; .ci/run installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
