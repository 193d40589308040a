//! The kline endpoints of the local exchange, against the real server on 127.0.0.1:0: paths,
//! parameters, limits, weights, 429/418 over the budget; the io fetch + exact parse round trip
//! on real klines; a recording of the answers replayed into an engine whose context is then
//! ready; and klines built from the synthetic market's trades continuing its history.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use microstate_core::engine::{Engine, EngineConfig};
use microstate_core::market::Market;
use microstate_core::ml::context::{ContextModel, LOOKBACK};
use microstate_core::ml::signals::Models;
use microstate_core::num::Symbol;
use microstate_core::wire::klines::parse_klines;
use microstate_exchange::klines::{SymbolKlines, from_series, symbol_from_name};
use microstate_exchange::synthetic::{HISTORY_MINUTES, SyntheticConfig, SyntheticSource};
use microstate_exchange::{ExchangeConfig, ExchangeHandle, ExchangeSource};
use microstate_io::ingest::http;
use microstate_io::ingest::klines::{KlineFetchError, KlineSource, fetch_klines};
use microstate_io::ingest::snapshots::Budget;
use microstate_io::record::FrameSource;
use microstate_io::record::format::{Header, RecordingSource, RecordingWriter, WriterOptions};
use microstate_io::record::klines::read_klines;

fn sym(s: &str) -> Symbol {
    s.parse().expect("symbol")
}

fn data(rel: &str) -> PathBuf {
    microstate_testkit::data_dir().join(rel)
}

const T: Duration = Duration::from_secs(10);

async fn get(base: &str, path: &str) -> http::Response {
    http::get(&format!("{base}{path}"), T, &Default::default())
        .await
        .expect("GET")
}

fn weight(r: &http::Response) -> u32 {
    r.header("x-mbx-used-weight-1m")
        .and_then(|v| v.parse().ok())
        .expect("weight header")
}

fn code(r: &http::Response) -> i64 {
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    v["code"].as_i64().expect("code")
}

/// The synthetic market (clock held until a WebSocket client comes) with its own history.
async fn synthetic(weight_limit: u32) -> (ExchangeHandle, Vec<SymbolKlines>) {
    let src = SyntheticSource::new(SyntheticConfig::new(
        3,
        vec![sym("BTCUSDT"), sym("ETHUSDT")],
    ));
    let history = src.history_klines(HISTORY_MINUTES);
    let mut cfg = ExchangeConfig::new(ExchangeSource::Sources(vec![Box::new(src)]));
    cfg.faithful_snapshots = false;
    cfg.weight_limit_per_min = weight_limit;
    cfg.klines = history.clone();
    (
        microstate_exchange::start(cfg).await.expect("start"),
        history,
    )
}

#[tokio::test]
async fn kline_paths_params_limits_and_weights_like_binance() {
    let (ex, history) = synthetic(6000).await;
    let base = ex.rest_base();
    let btc = &history[0].klines;
    // No range: the 500 most recent, the last closing where the market starts.
    let r = get(&base, "/api/v3/klines?symbol=BTCUSDT&interval=1m").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let k = parse_klines(&r.body).expect("klines");
    assert_eq!(k.len(), 500);
    assert_eq!(k.last(), btc.last());
    assert_eq!(weight(&r), 2, "spot klines weigh 2");
    // Spot: limit up to 1000 (more is served as 1000), still weight 2.
    let r = get(
        &base,
        "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5000",
    )
    .await;
    assert_eq!(parse_klines(&r.body).expect("klines").len(), 1000);
    assert_eq!(weight(&r), 4);
    // USD-M: limit up to 1500, weight by limit (1500 → 10, 99 → 1).
    let r = get(
        &base,
        "/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=1500",
    )
    .await;
    assert_eq!(parse_klines(&r.body).expect("klines").len(), 1500);
    assert_eq!(weight(&r), 14);
    let r = get(&base, "/fapi/v1/klines?symbol=ETHUSDT&interval=1m&limit=99").await;
    assert_eq!(parse_klines(&r.body).expect("klines").len(), 99);
    assert_eq!(weight(&r), 15);
    // startTime: ascending from it (spot, USD-M); COIN-M: the most recent in the range.
    let t0 = btc[100].open_time_ms;
    let r = get(
        &base,
        &format!("/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={t0}&limit=3"),
    )
    .await;
    assert_eq!(
        parse_klines(&r.body).expect("klines"),
        btc[100..103].to_vec()
    );
    let t1 = btc[109].open_time_ms;
    let r = get(
        &base,
        &format!("/dapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime={t0}&endTime={t1}&limit=3"),
    )
    .await;
    assert_eq!(
        parse_klines(&r.body).expect("klines"),
        btc[107..110].to_vec()
    );
    assert_eq!(weight(&r), 18, "COIN-M weight 1 below 100");
    // Binance's errors for bad requests.
    for (path, status, want) in [
        ("/api/v3/klines?interval=1m", 400, -1102),
        ("/api/v3/klines?symbol=BTCUSDT", 400, -1102),
        ("/api/v3/klines?symbol=BTCUSDT&interval=5m", 400, -1120),
        ("/api/v3/klines?symbol=BTCUSDT&interval=7m", 400, -1120),
        ("/api/v3/klines?symbol=DOGEUSDT&interval=1m", 400, -1121),
        (
            "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=x",
            400,
            -1100,
        ),
        (
            "/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=5&endTime=4",
            400,
            -1023,
        ),
    ] {
        let r = get(&base, path).await;
        assert_eq!((r.status, code(&r)), (status, want), "{path}");
        assert!(r.header("x-mbx-used-weight-1m").is_some(), "{path}");
    }
    assert_eq!(ex.stats().klines_served, 6, "the 200 answers");
    ex.shutdown().await;
}

#[tokio::test]
async fn over_the_weight_budget_429_then_418() {
    let (ex, _) = synthetic(10).await;
    let base = ex.rest_base();
    for _ in 0..5 {
        let r = get(&base, "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=10").await;
        assert_eq!(r.status, 200);
    }
    let r = get(&base, "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=10").await;
    assert_eq!((r.status, code(&r)), (429, -1003));
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry));
    // Asking again during the back-off is a ban.
    let r = get(&base, "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=10").await;
    assert_eq!(r.status, 418);
    // The io fetch turns it into a typed error with the server's wait.
    let src = KlineSource {
        base: base.clone(),
        market: Market::Spot,
        timeout: T,
        rest: Default::default(),
    };
    let mut budget = Budget::new(1000);
    let e = fetch_klines(&src, sym("BTCUSDT"), 0, 60_000 * 5, &mut budget)
        .await
        .expect_err("banned");
    match e {
        KlineFetchError::RateLimited {
            status,
            retry_after,
            ..
        } => {
            assert_eq!(status, 418);
            assert!(retry_after >= Duration::from_secs(100));
        }
        other => panic!("{other}"),
    }
    let st = ex.stats();
    assert_eq!((st.sent_429, st.sent_418), (1, 2));
    ex.shutdown().await;
}

#[tokio::test]
async fn real_klines_fetched_parsed_exactly_recorded_and_replayed_into_a_ready_context() {
    let file = data("klines-2024q1/BTCUSDT_1m.csv.gz");
    assert!(file.is_file(), "{} missing", file.display());
    let s = symbol_from_name(&file.display().to_string()).expect("symbol from the name");
    assert_eq!(s, sym("BTCUSDT"));
    let mut series = read_klines(&file).expect("read");
    series.rows.truncate(3000);
    // No capture: the exchange's clock is the wall clock, long after 2024.
    let mut cfg = ExchangeConfig::new(ExchangeSource::Sources(Vec::new()));
    cfg.klines = vec![from_series(s, &series)];
    let ex = microstate_exchange::start(cfg).await.expect("start");
    let src = KlineSource {
        base: ex.rest_base(),
        market: Market::Spot,
        timeout: T,
        rest: Default::default(),
    };
    let mut budget = Budget::new(3000);
    let start = series.rows[100].open_time_ms;
    let end = series.rows[2599].open_time_ms;
    let pages = fetch_klines(&src, s, start, end, &mut budget)
        .await
        .expect("fetch");
    // 2500 minutes at spot's 1000 a request: three pages, each within the budget.
    assert_eq!(pages.len(), 3);
    assert_eq!(budget.used(tokio::time::Instant::now()), 6);
    let got: Vec<_> = pages.iter().flat_map(|p| p.klines.iter()).collect();
    assert_eq!(got.len(), 2500);
    for (k, row) in got.iter().zip(&series.rows[100..2600]) {
        assert_eq!(k.open_time_ms as i64, row.open_time_ms);
        // Exact: the decimal served is the file's value.
        assert_eq!(k.close.to_string().parse::<f64>().ok(), Some(row.close));
        assert_eq!(k.high.to_f64(), row.high);
    }
    assert!(
        pages[0]
            .url
            .contains("/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=")
    );

    // Recorded like snapshots, then replayed through an engine with a context model.
    let dir = std::env::temp_dir().join(format!("ms-klines-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("session.msrec");
    let header = Header::new(
        "spot",
        vec!["BTCUSDT".into()],
        vec![ex.rest_base()],
        serde_json::json!({}),
        pages[0].sent.0,
    );
    let mut w = RecordingWriter::new(
        std::fs::File::create(&path).expect("create"),
        &header,
        WriterOptions::default(),
    )
    .expect("writer");
    for (i, p) in pages.iter().enumerate() {
        for r in p.records(i as u64 + 1) {
            w.push(&r).expect("push");
        }
    }
    w.finish().expect("finish");
    let mut rec = RecordingSource::open(&path).expect("open");
    let mut engine = Engine::new(EngineConfig::default());
    let mut models = Models::none("test");
    models.context = Ok(ContextModel::seeded(1));
    engine.set_models(Arc::new(models));
    let mut fed = 0;
    while rec.advance().expect("read") {
        engine
            .on_frame(rec.current().raw())
            .expect("a kline answer");
        fed += 1;
    }
    assert_eq!(fed, 3, "one response per page (requests are not fed)");
    let st = engine.symbol(s).expect("symbol");
    let sig = st.signals.as_deref().expect("signals");
    assert!(sig.context_state().is_ready());
    assert_eq!(sig.context_state().history_minutes(), LOOKBACK);
    assert_eq!(
        sig.context_state().last_ts(),
        Some(series.rows[2599].open_time_ms + 60_000)
    );
    std::fs::remove_dir_all(&dir).ok();
    ex.shutdown().await;
}

#[tokio::test]
async fn the_synthetic_market_builds_minutes_from_its_trades_after_its_history() {
    use futures_util::StreamExt;
    let (ex, history) = synthetic(6000).await;
    let last_hist = *history[0].klines.last().expect("history");
    // A WebSocket client starts the clock (max speed) and keeps reading.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}/stream?streams=btcusdt@trade", ex.ws_base()))
            .await
            .expect("ws");
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
    // Wait until the replay clock is three minutes past the start.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let t = ex.stats().exchange_time_ms.unwrap_or(0);
        if t > last_hist.close_time_ms + 3 * 60_000 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "clock stuck at {t}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = get(
        &ex.rest_base(),
        "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=10",
    )
    .await;
    let k = parse_klines(&r.body).expect("klines");
    let i = k
        .iter()
        .position(|x| x.open_time_ms == last_hist.open_time_ms)
        .expect("the last history minute is among the 10 most recent");
    let live = &k[i + 1..];
    assert!(live.len() >= 3, "{k:?}");
    assert!(live.iter().all(|x| x.trades > 0), "built from trades");
    assert!(
        live.windows(2)
            .all(|w| w[1].open_time_ms == w[0].open_time_ms + 60_000)
    );
    // Continuous: the first live minute opens within 0.5 % of the history's last close.
    let jump = (live[0].open.to_f64() / last_hist.close.to_f64() - 1.0).abs();
    assert!(jump < 0.005, "{jump}");
    reader.abort();
    ex.shutdown().await;
}
