//! A live session on the local exchange with the API beside it: REST answers, the stream
//! (every message parses; trades arrive without a hole; subscribe and unsubscribe while
//! connected), `/metrics` through promtool.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::SinkExt;
use microstate_config::ApiConfig;
use microstate_testkit::http::{get, get_json};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

const GUARD: Duration = Duration::from_secs(60);

/// What a stream client saw: messages per (channel, symbol), and holes in BTCUSDT's trade ids.
#[derive(Default)]
struct Tally {
    seen: HashMap<(String, String), u64>,
    last_trade: Option<u64>,
    holes: u64,
}

impl Tally {
    fn on(&mut self, m: &serde_json::Value) {
        let (channel, symbol) = envelope(m);
        *self
            .seen
            .entry((channel.to_string(), symbol.unwrap_or("-").to_string()))
            .or_default() += 1;
        if channel == "trades" && symbol == Some("BTCUSDT") {
            let id = m["data"]["id"].as_u64().expect("trade id");
            assert!(
                m["data"]["price"].is_string() && m["data"]["qty"].is_string(),
                "{m}"
            );
            if self.last_trade.is_some_and(|prev| id != prev + 1) {
                self.holes += 1;
            }
            self.last_trade = Some(id);
        }
        if channel == "book" {
            assert_eq!(m["data"]["bids"].as_array().map(Vec::len), Some(3), "{m}");
        }
    }
}

#[tokio::test]
async fn live_session_serves_rest_stream_and_metrics() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (mut s, session) = start(5.0, ApiConfig::default()).await;
    let test = async {
        s.synced(GUARD).await;
        let addr = s.api.addr;

        // REST.
        let (code, h) = get_json(addr, "/v1/health").await;
        assert_eq!(code, 200, "{h}");
        assert_eq!(h["status"], "ok", "{h}");
        assert_eq!(h["source"]["kind"], "live", "{h}");
        let (code, syms) = get_json(addr, "/v1/symbols").await;
        assert_eq!(code, 200);
        let names: Vec<&str> = syms["symbols"]
            .as_array()
            .expect("symbols")
            .iter()
            .map(|x| x["symbol"].as_str().expect("symbol"))
            .collect();
        assert_eq!(names, ["BTCUSDT", "ETHUSDT"]);
        for x in syms["symbols"].as_array().expect("symbols") {
            assert_eq!(x["state"], "synced");
            assert_eq!(x["market"], "spot");
            let (bid, ask) = (x["best_bid"].as_str(), x["best_ask"].as_str());
            let (bid, ask) = (bid.expect("bid"), ask.expect("ask"));
            assert!(bid.parse::<f64>().expect("bid") < ask.parse::<f64>().expect("ask"));
            assert!(x["mid"].is_string() && x["spread"].is_string(), "{x}");
        }
        let (code, b) = get_json(addr, "/v1/book/btcusdt?depth=5").await;
        assert_eq!(code, 200, "{b}");
        assert_eq!(b["symbol"], "BTCUSDT");
        assert_eq!(b["bids"].as_array().map(Vec::len), Some(5));
        assert_eq!(b["asks"].as_array().map(Vec::len), Some(5));
        assert!(b["bids"][0][0].is_string() && b["bids"][0][1].is_string());
        assert!(b["last_update_id"].as_u64().is_some_and(|u| u > 0));
        let (code, f) = get_json(addr, "/v1/features/ETHUSDT").await;
        assert_eq!(code, 200, "{f}");
        assert_eq!(f["symbol"], "ETHUSDT");
        assert_eq!(f["schema"], 1);
        for key in [
            "valid",
            "mid",
            "microprice",
            "imbalance",
            "ofi",
            "spread_bps",
        ] {
            assert!(f.get(key).is_some(), "features without {key}: {f}");
        }
        let (code, sig) = get_json(addr, "/v1/signals/BTCUSDT").await;
        assert_eq!(code, 200, "{sig}");
        for key in ["pressure", "context", "interpretation"] {
            assert!(sig.get(key).is_some(), "signals without {key}: {sig}");
        }
        let (code, lat) = get_json(addr, "/v1/latency").await;
        assert_eq!(code, 200);
        assert!(
            !lat["stages"].as_array().expect("stages").is_empty(),
            "{lat}"
        );
        let (code, e) = get_json(addr, "/v1/book/DOGEUSDT").await;
        assert_eq!(code, 404, "{e}");
        assert!(
            e["error"].as_str().is_some_and(|m| m.contains("DOGEUSDT")),
            "{e}"
        );
        for bad in [
            "/v1/book/BTCUSDT?depth=0",
            "/v1/book/BTCUSDT?depth=x",
            "/v1/book/BTCUSDT?dpeth=3",
        ] {
            let (code, e) = get_json(addr, bad).await;
            assert_eq!(code, 400, "{bad}: {e}");
            let msg = e["error"].as_str().unwrap_or_default();
            assert!(msg.contains("depth") || msg.contains("dpeth"), "{bad}: {e}");
        }
        let (code, e) = get_json(addr, "/v1/nothing").await;
        assert_eq!(code, 404, "{e}");
        let (code, e) = get_json(addr, "/v1/stream?channels=quotes").await;
        assert_eq!(code, 400, "{e}");

        // The stream: BTCUSDT's book and trades, then ETHUSDT's features added, then BTCUSDT
        // taken away.
        let mut ws = ws(
            addr,
            "symbols=btcusdt&channels=book,trades&depth=3&interval_ms=50",
        )
        .await;
        let mut t = Tally::default();
        while t
            .seen
            .get(&("trades".into(), "BTCUSDT".into()))
            .copied()
            .unwrap_or(0)
            < 20
            || t.seen
                .get(&("book".into(), "BTCUSDT".into()))
                .copied()
                .unwrap_or(0)
                < 5
        {
            let m = next_json(&mut ws, GUARD).await.expect("the stream goes on");
            t.on(&m);
        }
        assert!(
            t.seen.contains_key(&("status".into(), "BTCUSDT".into())),
            "{:?}",
            t.seen
        );
        assert!(
            !t.seen.keys().any(|(_, s)| s == "ETHUSDT"),
            "ETHUSDT was not asked for: {:?}",
            t.seen
        );
        ws.send(Message::text(
            r#"{"op":"subscribe","symbols":["ethusdt"],"channels":["features"]}"#,
        ))
        .await
        .expect("send subscribe");
        loop {
            let m = next_json(&mut ws, GUARD).await.expect("the stream goes on");
            t.on(&m);
            if m["channel"] == "features" {
                assert_eq!(m["data"]["schema"], 1, "{m}");
            }
            if t.seen.contains_key(&("features".into(), "ETHUSDT".into()))
                && t.seen.contains_key(&("trades".into(), "ETHUSDT".into()))
            {
                break;
            }
        }
        assert!(
            t.seen.contains_key(&("control".into(), "-".into())),
            "the subscribe was answered: {:?}",
            t.seen
        );
        ws.send(Message::text(
            r#"{"op":"unsubscribe","symbols":["BTCUSDT"]}"#,
        ))
        .await
        .expect("send unsubscribe");
        // Everything after the answer is about ETHUSDT only.
        loop {
            let m = next_json(&mut ws, GUARD).await.expect("the stream goes on");
            if m["channel"] == "control" && m["data"]["op"] == "unsubscribed" {
                assert_eq!(m["data"]["symbols"], serde_json::json!(["ETHUSDT"]), "{m}");
                break;
            }
        }
        let mut after = 0;
        while after < 30 {
            let m = next_json(&mut ws, GUARD).await.expect("the stream goes on");
            let (_, symbol) = envelope(&m);
            assert_eq!(symbol, Some("ETHUSDT"), "after unsubscribing BTCUSDT: {m}");
            after += 1;
        }
        ws.send(Message::text("not json")).await.expect("send");
        loop {
            let m = next_json(&mut ws, GUARD).await.expect("the stream goes on");
            if m["channel"] == "error" {
                assert!(
                    m["data"]["error"]
                        .as_str()
                        .is_some_and(|e| e.contains("op")),
                    "{m}"
                );
                break;
            }
        }
        // A hole is market data the feed itself lost (a disconnect on a loaded machine).
        let disconnects = s.views.borrow().live.as_ref().map_or(0, |l| l.disconnects);
        assert!(
            t.holes <= disconnects,
            "BTCUSDT trades missed by the stream: {} holes, {disconnects} disconnects",
            t.holes
        );

        // Metrics, checked by Prometheus's own linter.
        let (code, text) = get(addr, "/metrics", None).await;
        assert_eq!(code, 200);
        let (ok, why) = promtool(&text);
        assert!(ok, "promtool check metrics: {why}\n{text}");
        for name in [
            "microstate_frames_total ",
            "microstate_diffs_applied_total{symbol=\"BTCUSDT\"}",
            "microstate_snapshot_requests_total ",
            "microstate_rest_429_total ",
            "microstate_reconnects_total ",
            "microstate_frames_shed_total ",
            "microstate_queue_depth ",
            "microstate_api_clients 1",
            "microstate_stage_latency_seconds_bucket{",
        ] {
            assert!(text.contains(name), "/metrics without {name}:\n{text}");
        }
        drop(ws);
        s.stop.stop();
    };
    let (outcome, ()) = tokio::join!(session, test);
    s.api.join().await;
    s.exchange.shutdown().await;
    assert!(outcome.report.ever_connected);
}
