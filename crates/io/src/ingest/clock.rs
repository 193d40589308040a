//! Active clock-offset samples: the exchange's server time against ours, NTP-style.
//!
//! Owns: the probe task (one small REST request every `clock.probe_every`). Must not touch: the
//! engine, or what the samples mean for latency (the estimator's business, later).
//!
//! A sample asks `/api/v3/time` (spot) or `/fapi/v1/time` (futures) at local wall time `t0` and
//! has the answer `S` (ms) at `t1`, timed on the monotonic clock. Assuming the request and the
//! answer took equally long, the exchange read its clock at the midpoint `t0 + rtt/2`, so
//! `offset = S − midpoint` (exchange − local; positive when our clock is behind), with an
//! uncertainty of `±rtt/2` plus the 1 ms resolution of `S`.

use tokio::sync::mpsc;

use super::{IngestMsg, http, mono_nanos, now_nanos};
use microstate_config::Config;

/// One measured offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSample {
    /// Local wall time of the midpoint of the round trip, ns since the epoch.
    pub wall_ns: u64,
    /// Exchange clock − local clock, ns.
    pub offset_ns: i64,
    pub rtt_ns: u64,
}

/// The sample from a round trip: sent at local wall time `sent_wall_ns`, answered after
/// `rtt_ns` (monotonic), with server time `server_ms`.
pub fn sample(sent_wall_ns: u64, rtt_ns: u64, server_ms: u64) -> ClockSample {
    let mid = sent_wall_ns + rtt_ns / 2;
    let server_ns = server_ms.saturating_mul(1_000_000);
    ClockSample {
        wall_ns: mid,
        offset_ns: server_ns as i64 - mid as i64,
        rtt_ns,
    }
}

/// What this host says about its clock, for a recording's header: the wall clock read, the
/// kernel clocksource, whether systemd-timesyncd reports the clock synchronized (Linux; fields
/// that cannot be read are left out).
pub fn host_clock_info() -> serde_json::Value {
    let mut v = serde_json::json!({
        "wall": "CLOCK_REALTIME (SystemTime)",
        "monotonic": "CLOCK_MONOTONIC (Instant), origin: first use in the process",
        "offset": "see the ClockOffset records (exchange − local)",
    });
    if let Ok(src) =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
    {
        v["clocksource"] = serde_json::Value::from(src.trim());
    }
    if std::path::Path::new("/run/systemd/timesync").is_dir() {
        v["timesyncd_synchronized"] = serde_json::Value::from(
            std::path::Path::new("/run/systemd/timesync/synchronized").exists(),
        );
    }
    v
}

/// `{"serverTime":1723161253937}` → the number.
pub fn parse_server_time(body: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("serverTime")?.as_u64()
}

/// Probes until the receiver is gone. The first probe goes out at once.
pub async fn probe(cfg: Config, tx: mpsc::Sender<IngestMsg>) {
    let every = cfg.clock.probe_every;
    if every.is_zero() {
        return;
    }
    let url = super::endpoints::time_url(&cfg);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures_logged = 0u32;
    loop {
        tick.tick().await;
        let sent = now_nanos().0;
        let m0 = mono_nanos();
        let got = http::get(&url, cfg.clock.probe_timeout, &cfg.rest).await;
        let rtt = mono_nanos().saturating_sub(m0);
        let msg = match got {
            Ok(r) if r.status == 200 => match parse_server_time(&r.body) {
                Some(ms) => IngestMsg::ClockSample(sample(sent, rtt, ms)),
                None => continue,
            },
            Ok(r) => {
                if failures_logged < 3 {
                    failures_logged += 1;
                    tracing::warn!(%url, status = r.status, "clock probe refused");
                }
                continue;
            }
            Err(e) => {
                if failures_logged < 3 {
                    failures_logged += 1;
                    tracing::warn!(%url, "clock probe failed: {e}");
                }
                continue;
            }
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_taken_at_the_midpoint() {
        // Sent at 1000.000 s local, answered 20 ms later, server said 1000.510 s: the server
        // read its clock at 1000.010 local, so it is 500 ms ahead.
        let s = sample(1_000_000_000_000, 20_000_000, 1_000_510);
        assert_eq!(s.wall_ns, 1_000_010_000_000);
        assert_eq!(s.offset_ns, 500_000_000);
        // Behind: negative.
        let s = sample(1_000_000_000_000, 20_000_000, 998_710);
        assert_eq!(s.offset_ns, -1_300_000_000);
        assert_eq!(
            parse_server_time(br#"{"serverTime":1723161253937}"#),
            Some(1_723_161_253_937)
        );
        assert_eq!(parse_server_time(b"{}"), None);
    }
}
