//! A deliberately slow WebSocket client (it stops reading, behind a tiny receive buffer) is
//! conflated, then dropped with a close reason, while two others keep receiving every trade
//! (no hole but where the feed itself lost its connection) and the engine keeps its pace: no
//! frame shed, its frame rate with the stalled client beside
//! the one without (measured and printed; the assertion is generous — the machine is loaded).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use microstate_config::ApiConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

const GUARD: Duration = Duration::from_secs(90);

/// A client that reads everything and checks the trades have no hole; returns how many
/// trades it got once `stop` says so.
async fn fast(addr: std::net::SocketAddr, stop: tokio::sync::watch::Receiver<bool>) -> (u64, u64) {
    let mut ws = ws(
        addr,
        "symbols=btcusdt&channels=trades,book&depth=5&interval_ms=10",
    )
    .await;
    let (mut trades, mut holes, mut last) = (0u64, 0u64, None::<u64>);
    while !*stop.borrow() {
        let Some(m) = next_json(&mut ws, GUARD).await else {
            panic!("a fast client was disconnected");
        };
        let (channel, _) = envelope(&m);
        if channel == "trades" {
            let id = m["data"]["id"].as_u64().expect("id");
            if let Some(p) = last
                && id != p + 1
            {
                eprintln!("trade hole: {p} then {id}");
                holes += 1;
            }
            last = Some(id);
            trades += 1;
        }
    }
    (trades, holes)
}

/// Frames per second of wall time over `d`: the engine took in, the exchange emitted.
async fn frame_rate(s: &Session, d: Duration) -> (f64, f64) {
    let engine = || s.views.borrow().frames;
    let exchange = || s.exchange.stats().frames_emitted;
    let (f0, x0, t0) = (engine(), exchange(), Instant::now());
    tokio::time::sleep(d).await;
    let secs = t0.elapsed().as_secs_f64();
    (
        (engine() - f0) as f64 / secs,
        (exchange() - x0) as f64 / secs,
    )
}

#[tokio::test]
async fn a_slow_client_is_dropped_and_nobody_else_notices() {
    let _one = ONE_AT_A_TIME.lock().await;
    let api = ApiConfig {
        client_queue: 64,
        slow_grace: Duration::from_secs(1),
        ..ApiConfig::default()
    };
    let (mut s, session) = start(10.0, api).await;
    let test = async {
        s.synced(GUARD).await;
        let addr = s.api.addr;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let a = tokio::spawn(fast(addr, stop_rx.clone()));
        let b = tokio::spawn(fast(addr, stop_rx));
        let before = frame_rate(&s, Duration::from_secs(3)).await;

        // The slow one: a tiny receive buffer, and it reads nothing.
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let tcp = sock.connect(addr).await.expect("connect");
        let url = format!("ws://{addr}/v1/stream?depth=60&interval_ms=10");
        let (mut slow, _) = tokio_tungstenite::client_async(url, tcp)
            .await
            .expect("handshake");
        let during_from = Instant::now();
        let during = frame_rate(&s, Duration::from_secs(3)).await;
        let dropped = tokio::time::timeout(GUARD, async {
            while s.api.shared.counters.dropped_slow.load(Ordering::Relaxed) == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(dropped.is_ok(), "the stalled client was never dropped");
        let took = during_from.elapsed();

        // The others go on: a little more, then they stop and count.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _ = stop_tx.send(true);
        let (ta, ha) = a.await.expect("client a");
        let (tb, hb) = b.await.expect("client b");

        // The slow one, read now: what was buffered, then the close (with its reason when
        // the server could still write it) or the end of the connection.
        let mut reason = None;
        let mut read = 0u64;
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(20), slow.next()).await {
            match m {
                Ok(Message::Close(Some(f))) => {
                    reason = Some((u16::from(f.code), f.reason.to_string()));
                    break;
                }
                Ok(Message::Text(t)) => {
                    let _: serde_json::Value =
                        serde_json::from_str(t.as_str()).expect("every message parses");
                    read += 1;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let v = s.views.borrow().clone();
        let live = v.live.clone().expect("live counters");
        let c = &s.api.shared.counters;
        eprintln!(
            "slow client dropped after {took:?} (read {read} buffered messages, close {reason:?}); \
             engine frames/s without it {:.0} (exchange {:.0}), with it stalled {:.0} \
             (exchange {:.0}) (loaded machine); fast clients got {ta} and {tb} trades; skipped {} messages, lagged {}",
            before.0,
            before.1,
            during.0,
            during.1,
            c.messages_skipped.load(Ordering::Relaxed),
            c.events_lagged.load(Ordering::Relaxed),
        );
        eprintln!("live counters: {live:?}");
        if let Some((code, why)) = &reason {
            assert_eq!(*code, 1008, "{why}");
            assert!(why.contains("slow consumer"), "{why}");
        }
        assert_eq!(
            c.dropped_slow.load(Ordering::Relaxed),
            1,
            "only the stalled client"
        );
        // A hole in the trade ids is market data the session itself missed (a disconnect of
        // the loaded machine's feed: both clients see it); the API adds none.
        assert_eq!(ha, hb, "the fast clients saw different trades");
        assert!(
            ha <= live.disconnects,
            "{ha} holes in the trades with {} disconnects of the feed",
            live.disconnects
        );
        assert!(ta > 0 && tb > 0);
        assert_eq!(
            c.events_lagged.load(Ordering::Relaxed),
            0,
            "no client task lagged"
        );
        assert_eq!(
            live.frames_shed, 0,
            "the engine never fell behind its sockets"
        );
        // The engine keeps the exchange's pace while a client is stalled (the exchange's
        // pace itself follows the machine's load).
        assert!(
            during.0 > 0.8 * during.1,
            "with a stalled client the engine took {:.0} frames/s while the exchange sent {:.0}",
            during.0,
            during.1
        );
        s.stop.stop();
    };
    let (_outcome, ()) = tokio::join!(session, test);
    s.api.join().await;
    s.exchange.shutdown().await;
}
