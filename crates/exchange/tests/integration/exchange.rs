//! The local Binance-compatible exchange against real clients on real sockets (127.0.0.1:0), fed
//! with the real captures in ../shared/data: what a subscriber receives is the capture byte for
//! byte, snapshots bridge the stream, weights and bans behave like Binance's, and injected
//! faults visibly happen. Ping/pong timers run on paused tokio time.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use microstate_core::engine::{Engine, EngineConfig, RawFrame};
use microstate_core::num::{Nanos, Price, Qty, Symbol};
use microstate_exchange::{
    self, ExchangeConfig, ExchangeHandle, ExchangeSource, FaultKind, Speed, parse_fault,
};
use microstate_testkit::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn btc() -> Symbol {
    Symbol::new(b"BTCUSDT").expect("symbol")
}

/// The first `n` lines of a gzip capture, as a `'static` plain-text capture for
/// [`ExchangeSource::Memory`] (leaked: a test process lives briefly).
fn capture_head(path: &PathBuf, n: usize) -> &'static [u8] {
    let f = std::fs::File::open(path).expect("capture file");
    let r = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(f));
    let mut text = String::new();
    for l in r.lines().take(n) {
        text.push_str(&l.expect("line"));
        text.push('\n');
    }
    Box::leak(text.into_boxed_str()).as_bytes()
}

fn memory(bytes: &'static [u8]) -> ExchangeSource {
    ExchangeSource::Memory {
        name: "btcusdt_20240808.txt".into(),
        bytes,
        symbol: Some(btc()),
    }
}

/// The JSON of a capture line (after the receive timestamp).
fn json_of(line: &str) -> &str {
    line.split_once(' ').expect("ts json").1
}

fn is_snapshot(line: &str) -> bool {
    json_of(line).starts_with("{\"lastUpdateId\"")
}

/// The `data` value of a combined envelope, as bytes of the original text.
fn data_of(envelope: &str) -> &str {
    let at = envelope.find(",\"data\":").expect("envelope") + 8;
    &envelope[at..envelope.len() - 1]
}

async fn start(cfg: ExchangeConfig) -> ExchangeHandle {
    microstate_exchange::start(cfg)
        .await
        .expect("exchange starts")
}

async fn ws(h: &ExchangeHandle, path: &str) -> Ws {
    let (ws, _) = connect_async(format!("{}{path}", h.ws_base()))
        .await
        .expect("WebSocket connects");
    ws
}

/// The next text frame (pings and pongs skipped); `None` when the socket closes.
async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
        {
            Some(Ok(Message::Text(t))) => return Some(t.to_string()),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
            Some(Ok(_)) => {}
        }
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Reads one response (head + `Content-Length` body) from a kept-alive connection.
async fn read_reply(s: &mut TcpStream, buf: &mut Vec<u8>) -> Reply {
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed before a response head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("utf8 head");
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .expect("Content-Length");
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await.expect("read body");
        assert!(n > 0, "connection closed inside a body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8(buf[head_end..head_end + len].to_vec()).expect("utf8 body");
    buf.drain(..head_end + len);
    Reply {
        status,
        headers,
        body,
    }
}

/// GETs several paths over one kept-alive connection, in order.
async fn get_many(addr: SocketAddr, paths: &[&str]) -> Vec<Reply> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for p in paths {
        let req = format!("GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        out.push(read_reply(&mut s, &mut buf).await);
    }
    out
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    get_many(addr, &[path]).await.pop().expect("one reply")
}

fn feed(engine: &mut Engine, bytes: &str, hint: Option<Symbol>) {
    let _ = engine.on_frame(RawFrame {
        recv: Nanos(0),
        bytes: bytes.as_bytes(),
        symbol_hint: hint,
    });
}

/// The price/qty levels of a depth answer as exact integers (formatting aside).
fn levels(v: &Value, side: &str) -> Vec<(Price, Qty)> {
    v[side]
        .as_array()
        .expect("levels")
        .iter()
        .map(|l| {
            (
                l[0].as_str().expect("p").parse().expect("price"),
                l[1].as_str().expect("q").parse().expect("qty"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_subscriber_gets_the_capture_verbatim_and_the_captured_snapshot() {
    let lines = gz_lines(&spot_files());
    let h = start(ExchangeConfig::new(ExchangeSource::Captures(spot_files()))).await;
    let mut c = ws(
        &h,
        "/stream?streams=btcusdt@depth@100ms/btcusdt@trade/btcusdt@bookTicker",
    )
    .await;
    // Faithful mode: the clock holds at the capture's snapshot line until this request.
    let snap = get(h.addr(), "/api/v3/depth?symbol=BTCUSDT&limit=1000").await;
    assert_eq!(snap.status, 200, "{}", snap.body);
    assert_eq!(snap.header("X-MBX-USED-WEIGHT-1M"), Some("50"));
    let captured_snap = lines
        .iter()
        .find(|l| is_snapshot(l))
        .expect("snapshot line");
    assert_eq!(
        snap.body,
        json_of(captured_snap),
        "the captured snapshot, verbatim"
    );

    // Every WebSocket frame of the capture, byte for byte and in order.
    let expected: Vec<&str> = lines
        .iter()
        .filter(|l| !is_snapshot(l))
        .map(|l| json_of(l))
        .collect();
    let mut got = Vec::with_capacity(expected.len());
    while got.len() < expected.len() {
        let t = next_text(&mut c).await.expect("socket open until the end");
        assert_eq!(t, expected[got.len()], "frame {}", got.len());
        got.push(t);
    }
    timeout(Duration::from_secs(10), h.finished())
        .await
        .expect("finished");
    let stats = h.stats();
    assert_eq!(stats.frames_emitted, expected.len() as u64);
    assert_eq!(stats.connections.len(), 1);
    assert_eq!(stats.connections[0].frames_sent, expected.len() as u64);
    assert_eq!(
        (stats.snapshots_served, stats.faithful_snapshots_served),
        (1, 1)
    );

    // Replayed through a fresh engine in capture order: the README's facts.
    let mut e = Engine::new(EngineConfig::default());
    for l in &lines {
        let j = json_of(l);
        let body = if is_snapshot(l) {
            snap.body.as_str()
        } else {
            j
        };
        feed(&mut e, body, Some(btc()));
    }
    let s = e.symbol(btc()).expect("BTCUSDT");
    let k = s.sync.counters();
    assert!(s.sync.is_synced());
    assert_eq!((k.applied, k.gaps), (6_493, 0));
    assert_eq!(
        (s.ticker_check.compared, s.ticker_check.matched),
        (1_072, 1_072)
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn futures_snapshot_later_equals_the_book_and_bridges_the_stream() {
    let lines = gz_lines(&usdm_files());
    let mut cfg = ExchangeConfig::new(ExchangeSource::Captures(usdm_files()));
    cfg.faithful_snapshots = false;
    let h = start(cfg).await;
    // The routed USD-M prefix, a depth name other than the captured `@depth@0ms`.
    let mut c = ws(&h, "/public/stream?streams=btcusdt@depth@100ms").await;
    let trades = ws(&h, "/public/ws/btcusdt@trade").await;
    let mut frames = Vec::new();
    for _ in 0..1000 {
        frames.push(next_text(&mut c).await.expect("frame"));
    }
    let before = frames.len();
    let snap = get(h.addr(), "/fapi/v1/depth?symbol=BTCUSDT&limit=1000").await;
    assert_eq!(snap.status, 200, "{}", snap.body);
    assert_eq!(snap.header("X-MBX-USED-WEIGHT-1M"), Some("20"));
    let sv = snap.json();
    let lid = sv["lastUpdateId"].as_u64().expect("lastUpdateId");
    assert!(
        sv["E"].as_u64().is_some() && sv["T"].as_u64().is_some(),
        "futures E/T"
    );
    let first_price = sv["bids"][0][0].as_str().expect("price");
    assert_eq!(
        first_price.split('.').nth(1).map(str::len),
        Some(2),
        "priced like the capture"
    );
    // The clock runs ahead of what the client has read: read on past the snapshot's id.
    let mut after = 0;
    while after < 200 {
        let f = next_text(&mut c).await.expect("frame");
        let v: Value = serde_json::from_str(&f).expect("json");
        if v["data"]["U"].as_u64().expect("U") > lid {
            after += 1;
        }
        frames.push(f);
    }

    // Payloads are the captured ones, under the name the client used.
    let captured: Vec<&str> = lines
        .iter()
        .map(|l| json_of(l))
        .filter(|j| j.starts_with("{\"stream\":\"btcusdt@depth@0ms\""))
        .collect();
    for (i, f) in frames.iter().enumerate() {
        assert!(f.starts_with("{\"stream\":\"btcusdt@depth@100ms\",\"data\":"));
        assert_eq!(data_of(f), data_of(captured[i]), "diff {i}");
    }

    // The snapshot is the book after the diff with u == lastUpdateId (independent rebuild).
    let capture_snap: Value = serde_json::from_str(json_of(
        lines
            .iter()
            .find(|l| is_snapshot(l))
            .expect("snapshot line"),
    ))
    .expect("json");
    let diffs: Vec<Value> = captured
        .iter()
        .map(|j| serde_json::from_str::<Value>(j).expect("json")["data"].clone())
        .take_while(|d| d["u"].as_u64().is_some_and(|u| u <= lid))
        .collect();
    let r = rebuild(&diffs, &capture_snap, true);
    assert_eq!(
        (r.gaps, r.book.last),
        (0, lid),
        "the snapshot id is a diff's u"
    );
    let norm = |v: Vec<(Price, Qty)>| -> Vec<[String; 2]> {
        v.into_iter()
            .map(|(p, q)| [p.to_string(), q.to_string()])
            .collect()
    };
    assert_eq!(norm(levels(&sv, "bids")), r.book.top_bids(1000));
    assert_eq!(norm(levels(&sv, "asks")), r.book.top_asks(1000));

    // And it bridges what the client buffered before and received after.
    let mut e = Engine::new(EngineConfig::default());
    for f in &frames[..before] {
        feed(&mut e, f, None);
    }
    feed(&mut e, &snap.body, Some(btc()));
    for f in &frames[before..] {
        feed(&mut e, f, None);
    }
    let s = e.symbol(btc()).expect("BTCUSDT");
    assert!(s.sync.is_synced(), "{:?}", s.sync.state());
    assert_eq!(s.sync.counters().gaps, 0);
    assert!(s.sync.counters().applied >= 200);

    // Trades are not served on the /public route: read the depth stream on to the end of the
    // capture (at max speed the clock waits for its slowest reader); once every frame has been
    // written to every socket, the trade socket's count is final.
    timeout(Duration::from_secs(60), async {
        let finished = h.finished();
        tokio::pin!(finished);
        loop {
            tokio::select! {
                () = &mut finished => break,
                m = c.next() => assert!(matches!(m, Some(Ok(_))), "depth socket ended early: {m:?}"),
            }
        }
    })
    .await
    .expect("the capture ends");
    let st = h.stats();
    let sent = |path: &str| {
        st.connections
            .iter()
            .find(|x| x.path == path)
            .map(|x| (x.open, x.frames_sent))
            .unwrap_or_else(|| panic!("no connection {path}: {:?}", st.connections))
    };
    assert_eq!(
        sent("/public/ws/btcusdt@trade"),
        (true, 0),
        "no frame on /public for @trade"
    );
    let (_, depth_sent) = sent("/public/stream?streams=btcusdt@depth@100ms");
    assert!(depth_sent > 9_000, "the whole depth stream: {depth_sent}");
    drop(trades);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_weights_429_then_418_and_binance_errors() {
    let mut cfg = ExchangeConfig::new(ExchangeSource::Captures(spot_files()[..1].to_vec()));
    cfg.speed = Speed::Factor(1.0);
    cfg.start_on_first_client = false;
    cfg.faithful_snapshots = false;
    cfg.weight_limit_per_min = 60;
    let h = start(cfg).await;
    let a = h.addr();
    let depth5 = "/api/v3/depth?symbol=BTCUSDT&limit=5";
    let r = get_many(
        a,
        &[
            "/api/v3/time",
            "/api/v3/exchangeInfo",
            "/api/v3/depth?symbol=ETHUSDT",
            "/api/v3/depth?symbol=BTCUSDT&limit=abc",
            "/fapi/v1/depth?symbol=BTCUSDT&limit=5",
            depth5,
            depth5,
            depth5,
            depth5,
            depth5,
            depth5,
            "/api/v3/time",
        ],
    )
    .await;
    let weights: Vec<&str> = r
        .iter()
        .map(|x| x.header("X-MBX-USED-WEIGHT-1M").expect("weight header"))
        .collect();
    let statuses: Vec<u16> = r.iter().map(|x| x.status).collect();
    assert_eq!(
        statuses,
        [200, 200, 400, 400, 400, 200, 200, 200, 200, 200, 429, 418]
    );
    assert_eq!(
        weights,
        [
            "1", "21", "26", "31", "33", "38", "43", "48", "53", "58", "58", "58"
        ]
    );

    let t = r[0].json()["serverTime"].as_u64().expect("serverTime");
    assert!(
        (1_723_161_250_000..1_723_162_000_000).contains(&t),
        "capture time, got {t}"
    );
    let info = r[1].json();
    assert_eq!(info["symbols"][0]["symbol"], "BTCUSDT");
    assert_eq!(info["symbols"][0]["status"], "TRADING");
    assert_eq!(info["symbols"][0]["baseAsset"], "BTC");
    assert_eq!(info["symbols"][0]["quoteAsset"], "USDT");
    assert_eq!(info["rateLimits"][0]["rateLimitType"], "REQUEST_WEIGHT");
    assert_eq!(info["rateLimits"][0]["limit"], 60);
    assert_eq!(r[2].json()["code"], -1121);
    assert_eq!(r[3].json()["code"], -1100);
    // A spot symbol is unknown to the futures API.
    assert_eq!(r[4].json()["code"], -1121);
    let d = r[5].json();
    assert_eq!(levels(&d, "bids").len(), 5);
    assert_eq!(levels(&d, "asks").len(), 5);
    assert!(
        d["bids"][0][0].as_str().expect("p").ends_with('0'),
        "8 decimals like spot"
    );
    assert_eq!(r[10].json()["code"], -1003);
    let retry: u64 = r[10]
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("secs");
    assert!((1..=60).contains(&retry));
    let ban: u64 = r[11]
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("secs");
    assert!(ban > retry, "a ban is longer than the back-off");

    let misc = get_many(a, &["/nope", "/api/v3/depth"]).await;
    assert_eq!(misc[0].status, 404);
    assert_eq!(
        misc[0].header("X-MBX-USED-WEIGHT-1M"),
        Some("58"),
        "on every answer"
    );
    assert_eq!(misc[1].status, 418, "still banned");
    // Malformed HTTP gets a 400, not a dropped connection or a panic.
    let mut s = TcpStream::connect(a).await.expect("connect");
    s.write_all(b"BLAH\r\n\r\n").await.expect("write");
    let bad = read_reply(&mut s, &mut Vec::new()).await;
    assert_eq!(bad.status, 400);
    let st = h.stats();
    assert_eq!((st.sent_429, st.sent_418), (1, 2));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_is_answered_and_too_many_messages_close_the_socket() {
    let mut cfg = ExchangeConfig::new(memory(capture_head(&spot_files()[0], 3000)));
    cfg.faithful_snapshots = false;
    cfg.speed = Speed::Factor(1.0);
    let h = start(cfg).await;
    let mut c = ws(&h, "/ws").await;
    c.send(Message::text(
        r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":7}"#,
    ))
    .await
    .expect("send");
    assert_eq!(
        next_text(&mut c).await.as_deref(),
        Some(r#"{"result":null,"id":7}"#)
    );
    let t: Value = serde_json::from_str(&next_text(&mut c).await.expect("trade")).expect("json");
    assert_eq!(t["e"], "trade", "a raw payload, no envelope");
    c.send(Message::text(r#"{"method":"LIST_SUBSCRIPTIONS","id":8}"#))
        .await
        .expect("send");
    loop {
        let t = next_text(&mut c).await.expect("answer");
        if t.contains("\"id\":8") {
            assert_eq!(t, r#"{"result":["btcusdt@trade"],"id":8}"#);
            break;
        }
    }
    // Two messages so far; a burst of pings goes over five within a second.
    for _ in 0..10 {
        if c.send(Message::Ping(vec![1].into())).await.is_err() {
            break;
        }
    }
    let mut reason = None;
    while let Ok(Some(m)) = timeout(Duration::from_secs(5), c.next()).await {
        match m {
            Ok(Message::Close(f)) => {
                reason = f.map(|f| f.reason.to_string());
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert!(
        reason.as_deref().is_some_and(|r| r.contains("too many")),
        "{reason:?}"
    );
    let st = h.stats();
    assert_eq!(st.closed_rate_limited, 1);
    assert!((6..=7).contains(&st.connections[0].incoming));
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn pings_are_sent_and_a_client_that_never_pongs_is_dropped() {
    let mut cfg = ExchangeConfig::new(memory(capture_head(&spot_files()[0], 100)));
    cfg.faithful_snapshots = false;
    let h = start(cfg).await;
    // A answers pings (tungstenite pongs while reading); B never reads, so never pongs.
    let mut a = ws(&h, "/ws").await;
    let mut b = ws(&h, "/ws").await;
    let pinger = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(Ok(m)) = a.next().await {
            if matches!(m, Message::Ping(_)) {
                pings += 1;
            }
            if pings == 7 {
                break;
            }
        }
        (pings, a)
    });
    let open = |id: u64| {
        let st = h.stats();
        let c = st
            .connections
            .iter()
            .find(|c| c.id == id)
            .expect("conn")
            .clone();
        (c.open, c.close_reason)
    };
    // Pings at 20, 40, 60 s go unanswered by B; 60 s after the first it is dropped.
    tokio::time::sleep(Duration::from_secs(79)).await;
    assert_eq!(open(2), (true, None), "still within the pong timeout");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(open(2), (false, Some("pong timeout".to_string())));
    tokio::time::sleep(Duration::from_secs(69)).await;
    let (pings, _a) = pinger.await.expect("reader");
    assert_eq!(pings, 7, "a ping every 20 s");
    assert_eq!(open(1), (true, None), "the ponging client stays");
    assert_eq!(h.stats().closed_pong_timeout, 1);
    // B finds the pings it never answered, then the end of the connection.
    let mut seen = 0;
    while let Some(Ok(m)) = b.next().await {
        if matches!(m, Message::Ping(_)) {
            seen += 1;
        }
    }
    assert!(seen >= 1, "B was pinged");
    h.shutdown().await;
}

#[test]
fn every_fault_spec_parses_and_bad_ones_name_the_spec() {
    let cases = [
        ("drop-depth:3@500", FaultKind::DropDepth { count: 3 }),
        ("dup-depth@10", FaultKind::DuplicateDepth),
        ("swap-depth@10", FaultKind::SwapDepth),
        ("close@100", FaultKind::Close),
        (
            "shutdown:2s@100",
            FaultKind::ServerShutdown {
                grace: Duration::from_secs(2),
            },
        ),
        ("silent@5", FaultKind::Silent),
        ("ignore-pong", FaultKind::IgnorePongs),
        ("no-ping", FaultKind::NoPing),
        ("malformed@7", FaultKind::Malformed),
        ("oversize:2m@7", FaultKind::Oversize { bytes: 2 << 20 }),
        ("rest-429:2", FaultKind::Rest429 { count: 2 }),
        ("rest-418", FaultKind::Rest418 { count: 1 }),
        ("rest-500:1@50", FaultKind::Rest500 { count: 1 }),
        (
            "slow-depth:1500",
            FaultKind::SlowDepth {
                delay: Duration::from_millis(1500),
            },
        ),
        ("stale-depth:20", FaultKind::StaleDepth { behind: 20 }),
    ];
    for (spec, kind) in cases {
        let f = parse_fault(spec).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.kind, kind, "{spec}");
        assert_eq!(parse_fault(&f.to_string()), Ok(f), "{spec} round trips");
    }
    let f = parse_fault("close@1000/5000").expect("repeat");
    assert_eq!((f.at, f.every), (Some(1000), Some(5000)));
    for bad in [
        "explode",
        "drop-depth:0",
        "close@soon",
        "slow-depth",
        "oversize:1",
    ] {
        let e = parse_fault(bad).expect_err(bad);
        assert!(e.contains(&format!("{bad:?}")), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_faults_show_up_in_a_fresh_engine() {
    let mut cfg = ExchangeConfig::new(memory(capture_head(&spot_files()[0], 6000)));
    cfg.faults = ["malformed@1000", "dup-depth@2000", "drop-depth:1@3000"]
        .iter()
        .map(|s| parse_fault(s).expect("spec"))
        .collect();
    let h = start(cfg).await;
    let mut c = ws(&h, "/stream?streams=btcusdt@depth@100ms").await;
    let snap = get(h.addr(), "/api/v3/depth?symbol=BTCUSDT&limit=1000").await;
    assert_eq!(snap.status, 200);
    let mut e = Engine::new(EngineConfig::default());
    feed(&mut e, &snap.body, Some(btc()));
    let mut malformed = 0;
    while let Some(t) = next_text(&mut c).await {
        if serde_json::from_str::<Value>(&t).is_err() {
            malformed += 1;
        }
        feed(&mut e, &t, None);
        if h.stats().frames_emitted >= 4000
            && e.symbol(btc()).is_some_and(|s| s.sync.counters().gaps > 0)
        {
            break;
        }
    }
    assert_eq!(malformed, 1);
    assert_eq!(e.stats.errors, 1, "the malformed frame");
    // Counted apart from market data (it was written before frames the client read since).
    let c = &h.stats().connections[0];
    assert_eq!(c.injected_sent, 1, "{c:?}");
    let k = *e.symbol(btc()).expect("BTCUSDT").sync.counters();
    assert_eq!(k.stale, 1, "the duplicated diff");
    assert_eq!(k.gaps, 1, "the dropped diff");
    assert_eq!(h.stats().faults_fired, 3);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_and_server_shutdown_faults_end_the_socket() {
    let bytes = capture_head(&spot_files()[0], 400);
    let all = "/stream?streams=btcusdt@depth@100ms/btcusdt@trade/btcusdt@bookTicker";
    // `close@100`: exactly the 100 frames before it, then the TCP connection ends.
    let mut cfg = ExchangeConfig::new(memory(bytes));
    cfg.faithful_snapshots = false;
    cfg.faults = vec![parse_fault("close@100").expect("spec")];
    let h = start(cfg).await;
    let mut c = ws(&h, all).await;
    let mut n = 0;
    let mut saw_close_frame = false;
    while let Some(m) = timeout(Duration::from_secs(10), c.next())
        .await
        .expect("progress")
    {
        match m {
            Ok(Message::Text(_)) => n += 1,
            Ok(Message::Close(_)) => saw_close_frame = true,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(n, 100);
    assert!(!saw_close_frame, "an abrupt close");
    h.shutdown().await;

    // `shutdown`: the serverShutdown event, frames keep coming, then a close frame.
    let mut cfg = ExchangeConfig::new(memory(bytes));
    cfg.faithful_snapshots = false;
    cfg.speed = Speed::Factor(10.0);
    cfg.faults = vec![parse_fault("shutdown:300ms@50").expect("spec")];
    let h = start(cfg).await;
    let mut c = ws(&h, all).await;
    let mut event_at = None;
    let mut n = 0;
    let mut reason = None;
    while let Some(m) = timeout(Duration::from_secs(10), c.next())
        .await
        .expect("progress")
    {
        match m {
            Ok(Message::Text(t)) => {
                if t.starts_with("{\"e\":\"serverShutdown\",\"E\":17231") {
                    event_at = Some(n);
                } else {
                    n += 1;
                }
            }
            Ok(Message::Close(f)) => {
                reason = f.map(|f| f.reason.to_string());
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(event_at, Some(50));
    assert!(n > 50, "frames flow during the grace period");
    assert_eq!(reason.as_deref(), Some("server shutdown"));
    h.shutdown().await;
}

// Current-thread runtime: the clock is paused once the exchange has read its source, so the
// 429's back-off and the slow answer run on tokio time, not on the wall clock.
#[tokio::test]
async fn rest_faults_500_429_slow_and_stale() {
    let mut cfg = ExchangeConfig::new(memory(capture_head(&spot_files()[0], 3000)));
    cfg.speed = Speed::Factor(1.0);
    cfg.start_on_first_client = false;
    cfg.faithful_snapshots = false;
    cfg.faults = ["rest-500", "rest-429", "slow-depth:300ms", "stale-depth:5"]
        .iter()
        .map(|s| parse_fault(s).expect("spec"))
        .collect();
    let h = start(cfg).await;
    let a = h.addr();
    let path = "/api/v3/depth?symbol=BTCUSDT&limit=10";
    let r = get_many(a, &[path, path]).await;
    assert_eq!((r[0].status, r[1].status), (500, 429));
    assert_eq!(r[0].json()["code"], -1001);
    assert_eq!(r[1].header("Retry-After"), Some("1"));
    // Answering needs the symbol catalog, so the reader thread has read the whole (3,000-line)
    // source into the clock's queue: from here nothing waits on another thread, and paused
    // time advances only when every task is idle. Wait out the back-off, the capture playing
    // on meanwhile at 1x, so the stale book is synced and behind the current one.
    tokio::time::pause();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t0 = tokio::time::Instant::now();
    let stale = get(a, path).await;
    assert!(t0.elapsed() >= Duration::from_millis(300), "slow answer");
    let fresh = get(a, path).await;
    assert_eq!((stale.status, fresh.status), (200, 200), "{}", stale.body);
    let old = stale.json()["lastUpdateId"].as_u64().expect("id");
    let new = fresh.json()["lastUpdateId"].as_u64().expect("id");
    assert!(old < new, "stale {old} < fresh {new}");
    let st = h.stats();
    assert_eq!(
        (st.sent_500, st.sent_429, st.stale_snapshots_served),
        (1, 1, 1)
    );
    h.shutdown().await;
}

/// The numbers of a trade payload that a loop moves (E, T, t) and those it keeps (p, q).
fn trade_numbers(text: &str) -> ((u64, u64, u64), (String, String)) {
    let v: Value = serde_json::from_str(text).expect("json");
    let d = &v["data"];
    let n = |k: &str| d[k].as_u64().expect(k);
    let s = |k: &str| d[k].as_str().expect(k).to_string();
    ((n("E"), n("T"), n("t")), (s("p"), s("q")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looping_goes_on_in_time_and_ids_on_the_same_socket() {
    let bytes = capture_head(&spot_files()[0], 300);
    let trades: Vec<String> = std::str::from_utf8(bytes)
        .expect("utf8")
        .lines()
        .map(json_of)
        .filter(|j| j.starts_with("{\"stream\":\"btcusdt@trade\""))
        .map(str::to_string)
        .collect();
    assert!(trades.len() > 3, "the excerpt has trades");
    let mut cfg = ExchangeConfig::new(memory(bytes));
    cfg.looped = true;
    cfg.faithful_snapshots = false;
    let h = start(cfg).await;
    // One socket for three passes: looping does not close it.
    let mut c = ws(&h, "/stream?streams=btcusdt@trade").await;
    let mut got = Vec::new();
    while got.len() < 3 * trades.len() {
        match timeout(Duration::from_secs(10), c.next())
            .await
            .expect("progress")
        {
            Some(Ok(Message::Text(t))) => got.push(t.to_string()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("after {} trades: unexpected {other:?}", got.len()),
        }
    }
    // The first pass is the capture verbatim.
    assert_eq!(got[..trades.len()], trades[..]);
    let first: Vec<_> = trades.iter().map(|t| trade_numbers(t)).collect();
    let mut last = first.last().expect("trades").0;
    for pass in 1..3 {
        let this = &got[pass * trades.len()..(pass + 1) * trades.len()];
        let nums: Vec<_> = this.iter().map(|t| trade_numbers(t)).collect();
        // Same prices and sizes; times and ids later than everything before.
        let shift = nums[0].0.0 - first[0].0.0;
        for (k, ((moved, kept), (orig, orig_kept))) in nums.iter().zip(&first).enumerate() {
            assert_eq!(kept, orig_kept, "pass {pass} trade {k}");
            assert_eq!(
                moved.0 - orig.0,
                shift,
                "pass {pass} trade {k}: E moves by one shift"
            );
            assert_eq!(moved.1 - orig.1, shift, "pass {pass} trade {k}: T too");
        }
        assert!(
            nums[0].0.0 > last.0,
            "pass {pass}: E goes on: {:?} after {last:?}",
            nums[0]
        );
        assert!(nums[0].0.1 > last.1, "pass {pass}: T goes on");
        assert!(nums[0].0.2 > last.2, "pass {pass}: trade ids go on");
        last = nums.last().expect("trades").0;
    }
    assert!(h.stats().passes >= 2);
    assert_eq!(h.stats().connections.len(), 1, "no reconnect");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_a_finite_speed_a_client_that_cannot_keep_up_is_disconnected() {
    let mut cfg = ExchangeConfig::new(ExchangeSource::Captures(spot_files()[..1].to_vec()));
    cfg.speed = Speed::Factor(1000.0);
    cfg.faithful_snapshots = false;
    cfg.client_queue = 16;
    let h = start(cfg).await;
    // A client with a tiny receive buffer that never reads.
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = sock.connect(h.addr()).await.expect("connect");
    let url = format!(
        "{}/stream?streams=btcusdt@depth@100ms/btcusdt@trade/btcusdt@bookTicker",
        h.ws_base()
    );
    let (_stuck, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("handshake");
    // The clock does not wait for it: the capture runs to its end.
    timeout(Duration::from_secs(30), h.finished())
        .await
        .expect("the clock was not held back by the slow client");
    let st = h.stats();
    assert_eq!(st.closed_slow, 1);
    assert!(!st.connections[0].open);
    assert_eq!(
        st.connections[0].close_reason.as_deref(),
        Some("queue full: client too slow")
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_sources_are_served_once_and_bad_sources_fail_at_start() {
    use microstate_io::record::hftbacktest::HftSource;
    let bytes = capture_head(&spot_files()[0], 300);
    let source = || -> Vec<Box<dyn microstate_io::record::FrameSource + Send>> {
        vec![Box::new(HftSource::from_reader(
            "mem",
            Box::new(bytes),
            Some(btc()),
        ))]
    };
    let mut looped = ExchangeConfig::new(ExchangeSource::Sources(source()));
    looped.looped = true;
    let e = microstate_exchange::start(looped)
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("looping"), "{e}");
    let missing = PathBuf::from("/nonexistent/btcusdt_20240808.gz");
    let e = microstate_exchange::start(ExchangeConfig::new(ExchangeSource::Captures(vec![
        missing.clone(),
    ])))
    .await
    .err()
    .expect("refused");
    assert!(format!("{e:#}").contains("/nonexistent"), "{e:#}");

    let mut cfg = ExchangeConfig::new(ExchangeSource::Sources(source()));
    cfg.faithful_snapshots = false;
    let h = start(cfg).await;
    let mut c = ws(&h, "/ws/btcusdt@bookTicker").await;
    let first = next_text(&mut c).await.expect("a ticker");
    assert!(
        first.starts_with("{\"u\":"),
        "the bare spot bookTicker payload: {first}"
    );
    timeout(Duration::from_secs(10), h.finished())
        .await
        .expect("finished");
    let st = h.stats();
    assert_eq!(st.frames_emitted, 299);
    assert_eq!(st.rest_lines, 1);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_synthetic_market_is_served_like_a_capture() {
    use microstate_exchange::synthetic::{SyntheticConfig, SyntheticSource};
    let eth = Symbol::new(b"ETHUSDT").expect("symbol");
    let synth = SyntheticSource::new(SyntheticConfig::new(7, vec![btc(), eth]));
    let h = start(ExchangeConfig::new(ExchangeSource::Sources(vec![
        Box::new(synth),
    ])))
    .await;
    let mut c = ws(
        &h,
        "/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms",
    )
    .await;
    let mut e = Engine::new(EngineConfig::default());
    for (sym, text) in [(btc(), "BTCUSDT"), (eth, "ETHUSDT")] {
        let r = get(h.addr(), &format!("/api/v3/depth?symbol={text}&limit=5000")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        feed(&mut e, &r.body, Some(sym));
    }
    for _ in 0..400 {
        let t = next_text(&mut c).await.expect("frame");
        feed(&mut e, &t, None);
    }
    for sym in [btc(), eth] {
        let s = e.symbol(sym).expect("symbol");
        assert!(s.sync.is_synced(), "{sym}: {:?}", s.sync.state());
        assert_eq!(s.sync.counters().gaps, 0);
    }
    assert_eq!(h.stats().faithful_snapshots_served, 2);
    h.shutdown().await;
}

/// Sends `req` and returns the answer carrying `id` (market data in between is skipped), or,
/// for `id` `None`, the next answer without an id.
async fn ask(c: &mut Ws, req: &str, id: Option<u64>) -> Value {
    c.send(Message::text(req.to_string())).await.expect("send");
    loop {
        let t = next_text(c).await.expect("an answer");
        let v: Value = serde_json::from_str(&t).expect("json");
        let is_answer = v.get("result").is_some() || v.get("error").is_some();
        if is_answer && v.get("id").and_then(Value::as_u64) == id {
            return v;
        }
    }
}

/// Live (un)subscribing as Binance answers it: results and each documented error code (0
/// unknown property, 1 wrong value type, 2 invalid request, 3 invalid JSON), and the
/// per-connection stream limit, refused as a whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_errors_are_answered_with_binances_codes() {
    let mut cfg = ExchangeConfig::new(memory(capture_head(&spot_files()[0], 3000)));
    cfg.faithful_snapshots = false;
    cfg.speed = Speed::Factor(1.0);
    cfg.max_incoming_per_sec = 1000;
    cfg.max_streams_per_conn = 3;
    let h = start(cfg).await;
    let mut c = ws(&h, "/ws").await;
    let code = |v: &Value| v["error"]["code"].as_i64();
    let msg = |v: &Value| v["error"]["msg"].as_str().unwrap_or("").to_string();

    let v = ask(&mut c, "not json", None).await;
    assert_eq!(code(&v), Some(3), "{v}");
    assert!(msg(&v).starts_with("Invalid JSON"), "{v}");

    let v = ask(&mut c, r#"{"id":1}"#, Some(1)).await;
    assert_eq!(code(&v), Some(2), "{v}");
    assert!(msg(&v).contains("missing field `method`"), "{v}");

    let v = ask(
        &mut c,
        r#"{"method":"SUBSCRIB","params":[],"id":2}"#,
        Some(2),
    )
    .await;
    assert_eq!(code(&v), Some(2), "{v}");
    assert!(msg(&v).contains("unknown variant `SUBSCRIB`"), "{v}");
    assert!(msg(&v).contains("`SUBSCRIBE`, `UNSUBSCRIBE`"), "{v}");

    let v = ask(
        &mut c,
        r#"{"method":"SUBSCRIBE","params":"btcusdt@trade","id":3}"#,
        Some(3),
    )
    .await;
    assert_eq!(code(&v), Some(2), "{v}");

    // Four streams where three fit: refused whole, nothing subscribed.
    let v = ask(
        &mut c,
        r#"{"method":"SUBSCRIBE","params":["a@trade","b@trade","c@trade","d@trade"],"id":4}"#,
        Some(4),
    )
    .await;
    assert_eq!(code(&v), Some(2), "{v}");
    assert!(msg(&v).contains("at most 3"), "{v}");
    let v = ask(&mut c, r#"{"method":"LIST_SUBSCRIPTIONS","id":5}"#, Some(5)).await;
    assert_eq!(v["result"], serde_json::json!([]), "{v}");

    let v = ask(
        &mut c,
        r#"{"method":"SET_PROPERTY","params":["combined","yes"],"id":6}"#,
        Some(6),
    )
    .await;
    assert_eq!(code(&v), Some(1), "{v}");
    assert_eq!(msg(&v), "Invalid value type: expected Boolean");
    let v = ask(
        &mut c,
        r#"{"method":"SET_PROPERTY","params":["colour",true],"id":7}"#,
        Some(7),
    )
    .await;
    assert_eq!(code(&v), Some(0), "{v}");
    assert_eq!(msg(&v), "Unknown property");
    let v = ask(
        &mut c,
        r#"{"method":"GET_PROPERTY","params":["combined"],"id":8}"#,
        Some(8),
    )
    .await;
    assert_eq!(v["result"], Value::Bool(false), "{v}");

    let v = ask(&mut c, r#"{"method":"LIST_SUBSCRIPTIONS","id":-1}"#, None).await;
    assert_eq!(code(&v), Some(2), "{v}");
    assert!(msg(&v).contains("request ID"), "{v}");

    // Subscribe two, unsubscribe one: the list says so, and the trades come.
    let v = ask(
        &mut c,
        r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@depth"],"id":9}"#,
        Some(9),
    )
    .await;
    assert_eq!(v, serde_json::json!({"result": null, "id": 9}));
    let v = ask(
        &mut c,
        r#"{"method":"UNSUBSCRIBE","params":["btcusdt@depth"],"id":10}"#,
        Some(10),
    )
    .await;
    assert_eq!(v, serde_json::json!({"result": null, "id": 10}));
    let v = ask(
        &mut c,
        r#"{"method":"LIST_SUBSCRIPTIONS","id":11}"#,
        Some(11),
    )
    .await;
    assert_eq!(v["result"], serde_json::json!(["btcusdt@trade"]), "{v}");
    // Two more fit under the limit of three; a third more does not.
    let v = ask(
        &mut c,
        r#"{"method":"SUBSCRIBE","params":["ethusdt@trade","ethusdt@depth","btcusdt@trade"],"id":12}"#,
        Some(12),
    )
    .await;
    assert_eq!(v["result"], Value::Null, "{v}");
    let v = ask(
        &mut c,
        r#"{"method":"SUBSCRIBE","params":["lrcbtc@trade"],"id":13}"#,
        Some(13),
    )
    .await;
    assert_eq!(code(&v), Some(2), "{v}");
    h.shutdown().await;
}
