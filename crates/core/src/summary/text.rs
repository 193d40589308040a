//! The summary as text for a person: counts and the top of each book, connection facts of a
//! live run, the errors of a replay, the run's speed.
//!
//! Owns: the readable layout (scripts read the JSON; this text may change with care: tests and
//! the README quote parts of it). Must not touch: I/O.

use std::fmt::Write as _;

use super::Summary;

impl Summary {
    /// A readable summary: counts and the top of each book.
    pub fn to_text(&self) -> String {
        let s = self;
        let mut o = String::new();
        for sym in &s.symbols {
            let d = &sym.depth_updates;
            let _ = writeln!(
                o,
                "{} ({}) — {}   frames {}  diffs applied {}  dropped before sync {}  gaps {}  resyncs {}  \
                 crossed {}  trades {}  bookTicker check {}/{}",
                sym.symbol,
                sym.market,
                sym.state.to_uppercase(),
                sym.frames,
                d.applied,
                d.dropped_before_sync,
                sym.gaps,
                sym.resyncs,
                sym.crossed_events,
                sym.trades,
                sym.book_ticker_check.matched,
                sym.book_ticker_check.compared,
            );
            let f = &sym.final_book;
            let _ = writeln!(
                o,
                "  last update id {}   levels {} bids / {} asks",
                f.last_update_id.map_or("-".to_string(), |u| u.to_string()),
                f.bid_levels,
                f.ask_levels
            );
            let _ = writeln!(
                o,
                "  {:>16} {:>14} | {:<16} {:<14}",
                "bid qty", "bid", "ask", "ask qty"
            );
            for i in 0..f.bids.len().max(f.asks.len()).min(5) {
                let (bp, bq) = f
                    .bids
                    .get(i)
                    .map_or(("", ""), |l| (l[0].as_str(), l[1].as_str()));
                let (ap, aq) = f
                    .asks
                    .get(i)
                    .map_or(("", ""), |l| (l[0].as_str(), l[1].as_str()));
                let _ = writeln!(o, "  {bq:>16} {bp:>14} | {ap:<16} {aq:<14}");
            }
            o.push('\n');
        }
        if let Some(l) = &s.live {
            for c in &l.connections {
                let url = c.url.split('?').next().unwrap_or(&c.url);
                let _ = writeln!(
                    o,
                    "connection {url}: {} connected in {} attempts, {} dropped, {} switch-overs, {} server shutdowns{}",
                    c.connections,
                    c.attempts,
                    c.disconnects,
                    c.switch_overs,
                    c.server_shutdowns,
                    c.last_disconnect
                        .as_ref()
                        .map(|d| format!(" (last drop: {d})"))
                        .unwrap_or_default()
                );
            }
            let _ = writeln!(
                o,
                "frames {} received, {} shed, {} refused; snapshots {} of {} requested ok{}; HTTP 429 {}, 418 {}{}",
                l.frames_received,
                l.frames_shed,
                l.frames_refused,
                l.snapshots_ok,
                l.snapshot_requests,
                l.time_to_all_synced_s
                    .map(|t| format!(", all synced {t:.1} s after the start"))
                    .unwrap_or_default(),
                l.rest_429,
                l.rest_418,
                if l.stale_symbols.is_empty() {
                    String::new()
                } else {
                    format!("; stale at the end: {}", l.stale_symbols.join(", "))
                }
            );
            // Bounds that tripped and guards that fired, only when they did.
            let mut tripped = Vec::new();
            if l.unsolicited_frames > 0 {
                tripped.push(format!(
                    "{} frames for symbols not subscribed (dropped)",
                    l.unsolicited_frames
                ));
            }
            if l.snapshots_unusable > 0 {
                tripped.push(format!(
                    "{} HTTP 200 answers that were not snapshots",
                    l.snapshots_unusable
                ));
            }
            if l.snapshot_task_restarts > 0 {
                tripped.push(format!(
                    "snapshot task restarted {} times",
                    l.snapshot_task_restarts
                ));
            }
            if !tripped.is_empty() {
                let _ = writeln!(o, "refused from the network: {}", tripped.join("; "));
            }
            if let Some(f) = &l.fatal {
                let _ = writeln!(o, "stopped: {f}");
            }
            if let Some(b) = &l.bus {
                bus_lines(&mut o, b);
            }
            let k = &l.klines;
            if k.requests > 0 {
                let _ = writeln!(
                    o,
                    "klines (context history): {} requests, {} answers, {} failed; {}",
                    k.requests,
                    k.answers,
                    k.errors,
                    match k.context_ready_after_s {
                        Some(t) => format!("context ready {t:.1} s after the start"),
                        None => "context not ready".into(),
                    }
                );
            }
        } else if s.errors_total > 0 {
            let _ = writeln!(o, "{} frames or lines could not be used:", s.errors_total);
            for e in &s.errors {
                let _ = writeln!(o, "  {e}");
            }
        }
        if let Some(b) = &s.bus {
            bus_lines(&mut o, b);
        }
        let tripped = s.limits.tripped();
        if !tripped.is_empty() {
            let named: Vec<String> = tripped.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let _ = writeln!(
                o,
                "bounds tripped (input turned away, see [limits]): {}",
                named.join(", ")
            );
        }
        if let Some(r) = &s.run {
            let _ = writeln!(
                o,
                "{} frames in {:.3} s ({:.0} frames/s, including decompression)",
                s.frames_total, r.elapsed_s, r.frames_per_s
            );
        }
        o
    }
}

/// The NATS publisher's or consumer's line.
fn bus_lines(o: &mut String, b: &super::BusReport) {
    if let Some(p) = &b.published {
        let _ = writeln!(
            o,
            "NATS {}: {} published, {} dropped, {} errors, {} re-snapshots, {} signals",
            b.url, p.published, p.dropped, p.errors, p.resnapshots, p.signals
        );
    }
    if let Some(c) = &b.consumed {
        let l = &c.receive_to_applied_ns;
        let _ = writeln!(
            o,
            "NATS {}: read {} messages (stream sequences {}…{}), {} unreadable, {} refused; collector receive → applied p50 {:.3} ms, p99 {:.3} ms over {}",
            b.url,
            c.messages,
            c.first_seq,
            c.last_seq,
            c.read_errors,
            c.refused,
            l.p50 as f64 / 1e6,
            l.p99 as f64 / 1e6,
            l.count
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{LiveReport, SlotReport};

    #[test]
    fn live_connections_and_errors_read_as_lines() {
        let mut s = Summary {
            symbols: Vec::new(),
            frames_total: 0,
            errors_total: 2,
            errors: vec!["a.gz:3: malformed".into()],
            run: None,
            digest: None,
            latency: None,
            live: None,
            bus: None,
            limits: Default::default(),
        };
        assert_eq!(
            s.to_text(),
            "2 frames or lines could not be used:\n  a.gz:3: malformed\n"
        );
        s.live = Some(LiveReport {
            connections: vec![SlotReport {
                url: "ws://h/stream?streams=x".into(),
                connections: 1,
                attempts: 2,
                ..SlotReport::default()
            }],
            stale_symbols: vec!["BTCUSDT".into()],
            bus: Some(crate::summary::BusReport {
                url: "nats://h:4222".into(),
                published: Some(crate::summary::BusPublished {
                    published: 7,
                    errors: 2,
                    resnapshots: 1,
                    ..Default::default()
                }),
                consumed: None,
            }),
            ..LiveReport::default()
        });
        let t = s.to_text();
        assert!(
            t.starts_with("connection ws://h/stream: 1 connected in 2 attempts, 0 dropped,"),
            "{t}"
        );
        assert!(
            t.ends_with(
                "HTTP 429 0, 418 0; stale at the end: BTCUSDT\nNATS nats://h:4222: 7 published, 0 dropped, 2 errors, 1 re-snapshots, 0 signals\n"
            ),
            "{t}"
        );
    }
}
