//! The consumer of the NATS fan-out (`--source nats://…`): raw messages from JetStream fed to
//! an engine set up exactly as the collector's, so its books, counters and features equal the
//! collector's.
//!
//! Owns: the consumer's engine during the run and the loop that feeds it. Must not touch: NATS
//! details ([`microstate_io::bus`]), the live sockets.

use std::future::Future;

use microstate_config::Config;
use microstate_core::engine::{Engine, EngineConfig, RawFrame};
use microstate_core::num::Symbol;
use microstate_io::bus::{BusConsumer, BusError, Kind, Start};

use crate::publish::{Extras, Publisher};

/// When a consumer run stops (besides its `stop` future).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// Runs until stopped.
    Stopped,
    /// Stops once the message with this stream sequence was fed.
    Sequence(u64),
}

/// What a consumer run ends with.
pub struct BusOutcome {
    pub engine: Engine,
    /// Raw messages fed, messages that could not be read, frames the engine refused.
    pub messages: u64,
    pub read_errors: u64,
    pub refused: u64,
    /// Stream sequences of the first and last message fed (0: none).
    pub first_seq: u64,
    pub last_seq: u64,
    /// Collector receive → applied here (ns, wall clocks of both hosts: meaningful on one
    /// machine or with synced clocks), over the messages fed that were published after the
    /// consumer started (the history it caught up on is not latency).
    pub latency: Option<hdrhistogram::Histogram<u64>>,
}

/// The engine a consumer feeds: the collector's settings for `symbols`.
pub fn engine_for(cfg: &Config, symbols: &[Symbol]) -> Engine {
    let mut engine = Engine::new(EngineConfig {
        market: Some(cfg.live.market),
        max_buffer: cfg.sync.max_buffered_diffs,
        features: cfg.features.params(),
        ..EngineConfig::default()
    });
    for &s in symbols {
        engine.add_symbol(s);
    }
    engine
}

/// Consumes `url`'s stream for `symbols` from `start` until `until` or `stop`, publishing views
/// to `views` (the screen) when given. Messages of other symbols are skipped.
pub async fn consume(
    cfg: &Config,
    url: &str,
    symbols: &[Symbol],
    start: Start,
    until: Until,
    mut views: Option<Publisher>,
    stop: impl Future<Output = ()>,
) -> Result<BusOutcome, BusError> {
    let mut consumer = BusConsumer::start(url, &cfg.nats, cfg.live.market, symbols, start).await?;
    tracing::info!(
        start = consumer.start_seq,
        stream_last = consumer.last_seq_at_start,
        "consuming from NATS"
    );
    let mut out = BusOutcome {
        engine: engine_for(cfg, symbols),
        messages: 0,
        read_errors: 0,
        refused: 0,
        first_seq: 0,
        last_seq: 0,
        latency: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 3).ok(),
    };
    tokio::pin!(stop);
    loop {
        let next = tokio::select! {
            _ = &mut stop => break,
            n = consumer.next() => n,
        };
        let r = match next {
            None => break,
            Some(Err(e)) => {
                out.read_errors += 1;
                tracing::warn!("NATS message could not be read: {e}");
                continue;
            }
            Some(Ok(r)) => r,
        };
        let m = r.msg;
        let wanted = m.symbol.is_none_or(|s| out.engine.symbol(s).is_some());
        if wanted {
            match m.kind {
                Kind::Reset => {
                    if let Some(s) = m.symbol {
                        out.engine.reset_symbol(s);
                    }
                }
                Kind::Frame | Kind::Snapshot => {
                    let hint = if m.kind == Kind::Snapshot {
                        m.symbol
                    } else {
                        None
                    };
                    if out
                        .engine
                        .on_frame(RawFrame {
                            recv: m.recv,
                            bytes: &m.payload,
                            symbol_hint: hint,
                        })
                        .is_err()
                    {
                        out.refused += 1;
                    }
                }
            }
            out.messages += 1;
            if r.seq > consumer.last_seq_at_start
                && let Some(h) = out.latency.as_mut()
            {
                let now = microstate_io::ingest::now_nanos().0;
                h.saturating_record(now.saturating_sub(m.recv.0).max(1));
            }
            if out.first_seq == 0 {
                out.first_seq = r.seq;
            }
        }
        out.last_seq = r.seq;
        if let Some(p) = views.as_mut().filter(|p| p.due()) {
            p.publish(
                &out.engine,
                Extras {
                    now_ns: m.recv.0,
                    ..Extras::default()
                },
            );
        }
        if let Until::Sequence(s) = until
            && r.seq >= s
        {
            break;
        }
    }
    Ok(out)
}
