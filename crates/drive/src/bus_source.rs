//! The consumer of the NATS fan-out (`--source nats://…`): raw messages from JetStream fed to
//! an engine set up exactly as the collector's, so its books, counters and features equal the
//! collector's.
//!
//! Owns: the consumer's engine during the run and the loop that feeds it. Must not touch: NATS
//! details ([`microstate_io::bus`]), the live sockets.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use microstate_config::Config;
use microstate_core::book::sync::Phase;
use microstate_core::engine::{Engine, EngineConfig, RawFrame};
use microstate_core::latency::Percentiles;
use microstate_core::num::Symbol;
use microstate_core::summary::{BusConsumed, BusReport};
use microstate_io::bus::{BusConsumer, BusError, Kind, Received, Start};
use tokio::sync::watch;

use crate::publish::{Extras, Publisher};

/// When a consumer run stops (besides its `stop` future).
#[derive(Clone, Debug)]
pub enum Until {
    /// Runs until stopped.
    Stopped,
    /// Stops once the message with this stream sequence was fed.
    Sequence(u64),
    /// Stops once the message with the sequence this holds was fed (0: not known yet), e.g.
    /// the stream's last once a collector has ended.
    Watch(watch::Receiver<u64>),
}

/// The most state changes [`BusOutcome::phases`] keeps.
const PHASES_KEPT: usize = 10_000;

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
    /// Each symbol's sync state when it changed: (stream sequence, symbol, state), the first
    /// [`PHASES_KEPT`]; a consumer that missed messages shows `resyncing`, then `synced`.
    pub phases: Vec<(u64, Symbol, &'static str)>,
    /// Messages published before the consumer started have no latency to speak of.
    live_after: u64,
    last_phase: HashMap<Symbol, Phase>,
}

impl BusOutcome {
    /// A fresh engine for `symbols` (the collector's settings); messages after stream
    /// sequence `live_after` count towards the latency.
    pub fn new(cfg: &Config, symbols: &[Symbol], live_after: u64) -> BusOutcome {
        BusOutcome {
            engine: engine_for(cfg, symbols),
            messages: 0,
            read_errors: 0,
            refused: 0,
            first_seq: 0,
            last_seq: 0,
            latency: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 3).ok(),
            phases: Vec::new(),
            live_after,
            last_phase: HashMap::new(),
        }
    }

    /// Feeds one message read from the bus (other symbols' are skipped); returns a state
    /// change it caused (symbol, new state).
    pub fn apply(&mut self, r: &Received) -> Option<(Symbol, &'static str)> {
        self.last_seq = r.seq;
        let m = r.msg.as_ref()?;
        if m.symbol.is_some_and(|s| self.engine.symbol(s).is_none()) {
            return None;
        }
        match m.kind {
            Kind::Reset => {
                if let Some(s) = m.symbol {
                    self.engine.reset_symbol(s);
                }
            }
            Kind::Frame | Kind::Snapshot => {
                let hint = if m.kind == Kind::Snapshot {
                    m.symbol
                } else {
                    None
                };
                if self
                    .engine
                    .on_frame(RawFrame {
                        recv: m.recv,
                        bytes: &m.payload,
                        symbol_hint: hint,
                    })
                    .is_err()
                {
                    self.refused += 1;
                }
            }
        }
        self.messages += 1;
        if r.seq > self.live_after
            && let Some(h) = self.latency.as_mut()
        {
            let now = microstate_io::ingest::now_nanos().0;
            h.saturating_record(now.saturating_sub(m.recv.0).max(1));
        }
        if self.first_seq == 0 {
            self.first_seq = r.seq;
        }
        let st = match (m.kind, m.symbol) {
            (Kind::Reset, Some(s)) => self.engine.symbol(s),
            _ => self.engine.touched(),
        }?;
        let phase = st.sync.phase();
        if self.last_phase.insert(st.symbol, phase) == Some(phase) {
            return None;
        }
        let symbol = st.symbol;
        if self.phases.len() < PHASES_KEPT {
            self.phases.push((r.seq, symbol, phase.as_str()));
        }
        Some((symbol, phase.as_str()))
    }

    /// The summary's `bus` part.
    pub fn report(&self, url: &str) -> BusReport {
        BusReport {
            url: url.to_string(),
            published: None,
            consumed: Some(BusConsumed {
                messages: self.messages,
                read_errors: self.read_errors,
                refused: self.refused,
                first_seq: self.first_seq,
                last_seq: self.last_seq,
                receive_to_applied_ns: self
                    .latency
                    .as_ref()
                    .map(Percentiles::of)
                    .unwrap_or_default(),
            }),
        }
    }
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

/// Where and how long a consumer reads.
#[derive(Clone, Debug)]
pub struct ConsumeOptions {
    pub start: Start,
    pub until: Until,
    /// Headless: a line on stderr when a symbol's sync state changes, and one each period
    /// (messages read, the stream sequence).
    pub status_every: Option<Duration>,
}

/// Consumes `url`'s stream for `symbols` from `opts.start` until `opts.until` or `stop`,
/// publishing views to `views` (the screen) when given. Messages of other symbols are skipped.
pub async fn consume(
    cfg: &Config,
    url: &str,
    symbols: &[Symbol],
    opts: ConsumeOptions,
    mut views: Option<Publisher>,
    stop: impl Future<Output = ()>,
) -> Result<BusOutcome, BusError> {
    let ConsumeOptions {
        start,
        mut until,
        status_every,
    } = opts;
    let mut consumer = BusConsumer::start(url, &cfg.nats, cfg.live.market, symbols, start).await?;
    tracing::info!(
        start = consumer.start_seq,
        stream_last = consumer.last_seq_at_start,
        "consuming from NATS"
    );
    let mut out = BusOutcome::new(cfg, symbols, consumer.last_seq_at_start);
    let mut status_at = tokio::time::Instant::now();
    tokio::pin!(stop);
    loop {
        let watched = async {
            match &mut until {
                Until::Watch(rx) => {
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                _ => std::future::pending().await,
            }
        };
        let next = tokio::select! {
            _ = &mut stop => break,
            () = watched => {
                if let Until::Watch(rx) = &until {
                    let last = *rx.borrow();
                    if last > 0 && out.last_seq >= last {
                        break;
                    }
                }
                continue;
            }
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
        let change = out.apply(&r);
        if let Some(every) = status_every {
            if let Some((sym, state)) = change {
                eprintln!("[seq {}] {sym} {}", r.seq, state.to_uppercase());
            }
            if status_at.elapsed() >= every {
                status_at = tokio::time::Instant::now();
                eprintln!(
                    "read {} messages, at stream sequence {}",
                    out.messages, r.seq
                );
            }
        }
        if let Some(m) = &r.msg
            && let Some(p) = views.as_mut().filter(|p| p.due())
        {
            p.publish(
                &out.engine,
                Extras {
                    now_ns: m.recv.0,
                    ..Extras::default()
                },
            );
        }
        let last = match &until {
            Until::Stopped => 0,
            Until::Sequence(s) => *s,
            Until::Watch(rx) => *rx.borrow(),
        };
        if last > 0 && r.seq >= last {
            break;
        }
    }
    Ok(out)
}
