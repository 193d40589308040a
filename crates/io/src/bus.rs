//! The NATS JetStream fan-out: one collector publishes what came off the wire, any number of
//! consumers read it back through the same engine.
//!
//! Owns: the NATS connection, the JetStream stream (created with the `[nats]` retention limits
//! when missing, reused when present), the subjects and the message form, the publisher task
//! (bounded queue, acks pipelined) and the consumer stream (an ordered pull consumer: flow
//! controlled, recreated by the client after a server restart). Must not touch: the engine
//! (the drive crate feeds it) or the recording.
//!
//! Subjects (one stream holds `<prefix>.>`):
//! - `<prefix>.<market>.<SYMBOL>.raw`: WebSocket frames, the payload byte for byte;
//! - `<prefix>.<market>.<SYMBOL>.raw.snapshot`: REST depth snapshots (the body as received);
//! - `<prefix>.<market>.<SYMBOL>.raw.reset`: the collector reset the symbol's book (a dropped
//!   connection, a resync command) — the consumer does the same;
//! - `<prefix>.<market>.<SYMBOL>.signals`: features as JSON (for consumers in other languages);
//! - `<prefix>.<market>._.raw`: frames the collector's engine could not put to a symbol.
//!
//! Each raw message carries the collector's receive time in the `Ms-Recv` header (ns since the
//! epoch), so a consumer's engine sees the same times and computes the same features; a
//! signals message carries the time it was sent, so the header grows along the stream (a
//! consumer's start time is found by binary search on it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use futures_util::StreamExt;
use microstate_config::NatsConfig;
use microstate_core::market::Market;
use microstate_core::num::{Nanos, Symbol};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Header: the collector's receive time, ns since the epoch.
pub const HDR_RECV: &str = "Ms-Recv";

/// What went wrong talking to NATS (the URL and the step are named).
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("NATS URL {0:?}: expected nats://HOST:PORT")]
    Url(String),
    #[error("connecting to NATS at {url}: {msg}")]
    Connect { url: String, msg: String },
    #[error("JetStream stream {stream:?} at {url}: {msg}")]
    Stream {
        url: String,
        stream: String,
        msg: String,
    },
    #[error("JetStream consumer on {stream:?}: {msg}")]
    Consumer { stream: String, msg: String },
}

/// What a raw message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A WebSocket frame (fed with no symbol hint).
    Frame,
    /// A REST depth snapshot body (fed with its symbol).
    Snapshot,
    /// The symbol's book was reset.
    Reset,
}

impl Kind {
    fn suffix(self) -> &'static str {
        match self {
            Kind::Frame => "raw",
            Kind::Snapshot => "raw.snapshot",
            Kind::Reset => "raw.reset",
        }
    }
}

/// One message on the bus.
#[derive(Clone, Debug)]
pub struct BusMsg {
    pub kind: Kind,
    /// `None`: a frame no symbol could be put to.
    pub symbol: Option<Symbol>,
    pub recv: Nanos,
    pub payload: Bytes,
}

/// The subjects of one market under a prefix.
#[derive(Clone, Debug)]
pub struct Subjects {
    prefix: String,
    market: &'static str,
}

impl Subjects {
    pub fn new(cfg: &NatsConfig, market: Market) -> Subjects {
        Subjects {
            prefix: cfg.subject_prefix.clone(),
            market: market.as_str(),
        }
    }

    /// The subject of a raw message.
    pub fn raw(&self, kind: Kind, symbol: Option<Symbol>) -> String {
        let sym = symbol.map_or_else(|| "_".to_string(), |s| s.to_string());
        format!("{}.{}.{sym}.{}", self.prefix, self.market, kind.suffix())
    }

    /// The subject of a symbol's signals.
    pub fn signals(&self, symbol: Symbol) -> String {
        format!("{}.{}.{symbol}.signals", self.prefix, self.market)
    }

    /// Everything of this market (a consumer's filter).
    pub fn market_filter(&self) -> String {
        format!("{}.{}.>", self.prefix, self.market)
    }

    /// A raw message back from its subject; `None` for signals and foreign subjects.
    pub fn parse(&self, subject: &str) -> Option<(Kind, Option<Symbol>)> {
        let rest = subject
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('.')?
            .strip_prefix(self.market)?
            .strip_prefix('.')?;
        let (sym, kind) = rest.split_once('.')?;
        let kind = match kind {
            "raw" => Kind::Frame,
            "raw.snapshot" => Kind::Snapshot,
            "raw.reset" => Kind::Reset,
            _ => return None,
        };
        let symbol = if sym == "_" {
            None
        } else {
            Some(Symbol::new(sym.as_bytes())?)
        };
        Some((kind, symbol))
    }
}

/// `nats://HOST:PORT` (checked) as the client takes it.
pub fn check_url(url: &str) -> Result<String, BusError> {
    let rest = url
        .strip_prefix("nats://")
        .ok_or_else(|| BusError::Url(url.to_string()))?;
    let ok = rest
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
    if ok {
        Ok(url.to_string())
    } else {
        Err(BusError::Url(url.to_string()))
    }
}

/// Connects (the client reconnects by itself after a drop, without limit).
pub async fn connect(url: &str) -> Result<async_nats::Client, BusError> {
    let url = check_url(url)?;
    async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .map_err(|e| BusError::Connect {
            url: url.clone(),
            msg: e.to_string(),
        })
}

/// The stream, created with the configured retention when missing (an existing one is reused
/// as it is: its limits are the operator's).
pub async fn ensure_stream(
    js: &jetstream::Context,
    cfg: &NatsConfig,
    url: &str,
) -> Result<stream::Stream, BusError> {
    js.get_or_create_stream(stream::Config {
        name: cfg.stream.clone(),
        subjects: vec![format!("{}.>", cfg.subject_prefix)],
        max_age: cfg.max_age,
        max_bytes: cfg.max_bytes.min(i64::MAX as u64) as i64,
        num_replicas: cfg.replicas as usize,
        storage: stream::StorageType::File,
        discard: stream::DiscardPolicy::Old,
        ..Default::default()
    })
    .await
    .map_err(|e| BusError::Stream {
        url: url.to_string(),
        stream: cfg.stream.clone(),
        msg: e.to_string(),
    })
}

/// The stream's last sequence now (0: empty).
pub async fn last_sequence(url: &str, cfg: &NatsConfig) -> Result<u64, BusError> {
    let js = jetstream::new(connect(url).await?);
    let mut st = ensure_stream(&js, cfg, url).await?;
    let info = st.info().await.map_err(|e| BusError::Stream {
        url: url.to_string(),
        stream: cfg.stream.clone(),
        msg: e.to_string(),
    })?;
    Ok(info.state.last_sequence)
}

/// What the publisher did.
#[derive(Debug, Default)]
pub struct BusStats {
    /// Messages the server acknowledged.
    pub published: AtomicU64,
    /// Messages dropped because the publisher's queue was full (NATS slower than the feed).
    pub dropped: AtomicU64,
    /// Publishes that failed (the server away, no ack): the consumers see a gap and resync.
    pub errors: AtomicU64,
    /// Set when publishing works again after errors: the collector then publishes a fresh
    /// snapshot of every symbol so consumers that missed messages resync.
    pub resnapshot_due: AtomicBool,
    /// Times the collector asked for fresh snapshots for the consumers' sake.
    pub resnapshots: AtomicU64,
    /// `.signals` messages queued.
    pub signals: AtomicU64,
}

impl BusStats {
    /// The counters for the summary.
    pub fn report(&self) -> microstate_core::summary::BusPublished {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        microstate_core::summary::BusPublished {
            published: load(&self.published),
            dropped: load(&self.dropped),
            errors: load(&self.errors),
            resnapshots: load(&self.resnapshots),
            signals: load(&self.signals),
        }
    }
}

/// The collector's side: a bounded queue the live feed never waits on, and a task that
/// publishes with at most `max_in_flight` acks outstanding.
pub struct BusPublisher {
    tx: mpsc::Sender<(String, Nanos, Bytes)>,
    subjects: Subjects,
    /// The server's URL as given.
    pub url: String,
    pub stats: Arc<BusStats>,
    task: JoinHandle<()>,
}

impl BusPublisher {
    /// Connects to `url`, makes sure the stream exists, starts the publishing task.
    pub async fn start(url: &str, cfg: &NatsConfig, market: Market) -> Result<Self, BusError> {
        let client = connect(url).await?;
        let js = jetstream::new(client);
        ensure_stream(&js, cfg, url).await?;
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let stats = Arc::new(BusStats::default());
        let task = tokio::spawn(publish_loop(
            js,
            rx,
            cfg.max_in_flight.max(1),
            stats.clone(),
        ));
        Ok(BusPublisher {
            tx,
            subjects: Subjects::new(cfg, market),
            url: url.to_string(),
            stats,
            task,
        })
    }

    /// Queues a raw message; drops and counts it when the queue is full.
    pub fn send(&self, kind: Kind, symbol: Option<Symbol>, recv: Nanos, payload: &[u8]) {
        let subject = self.subjects.raw(kind, symbol);
        let m = (subject, recv, Bytes::copy_from_slice(payload));
        if self.tx.try_send(m).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues a symbol's signals (JSON) sent at wall time `now` (its `Ms-Recv`, so receive
    /// times still grow along the stream); dropped and counted when the queue is full.
    pub fn send_signals(&self, symbol: Symbol, now: Nanos, json: Vec<u8>) {
        let subject = self.subjects.signals(symbol);
        if self.tx.try_send((subject, now, Bytes::from(json))).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.signals.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `true` once after publishing works again following errors (consumers missed messages:
    /// the collector should publish fresh snapshots).
    pub fn take_resnapshot_due(&self) -> bool {
        self.stats.resnapshot_due.swap(false, Ordering::Relaxed)
    }

    /// Publishes what is queued, waits for its acks (at most `wait`), and stops.
    pub async fn close(self, wait: Duration) {
        drop(self.tx);
        let mut task = self.task;
        if tokio::time::timeout(wait, &mut task).await.is_err() {
            task.abort();
        }
    }
}

async fn publish_loop(
    js: jetstream::Context,
    mut rx: mpsc::Receiver<(String, Nanos, Bytes)>,
    max_in_flight: usize,
    stats: Arc<BusStats>,
) {
    let mut acks = futures_util::stream::FuturesOrdered::new();
    // Errors since the last acknowledged publish.
    let mut failing = false;
    loop {
        if acks.len() >= max_in_flight {
            if let Some(r) = acks.next().await {
                count_ack(&stats, r, &mut failing);
            }
            continue;
        }
        let pending = !acks.is_empty();
        tokio::select! {
            m = rx.recv() => match m {
                Some((subject, recv, payload)) => {
                    let mut headers = HeaderMap::new();
                    headers.insert(HDR_RECV, recv.0.to_string().as_str());
                    match js.publish_with_headers(subject, headers, payload).await {
                        Ok(ack) => acks.push_back(ack.into_future()),
                        Err(e) => {
                            failing = true;
                            if stats.errors.fetch_add(1, Ordering::Relaxed) < 10 {
                                tracing::warn!("NATS publish failed: {e}");
                            }
                        }
                    }
                }
                None => break,
            },
            Some(r) = acks.next(), if pending => count_ack(&stats, r, &mut failing),
        }
    }
    while let Some(r) = acks.next().await {
        count_ack(&stats, r, &mut failing);
    }
}

/// Counts an acknowledgement; the first one after errors asks for fresh snapshots.
fn count_ack<T, E: std::fmt::Display>(stats: &BusStats, r: Result<T, E>, failing: &mut bool) {
    match r {
        Ok(_) => {
            stats.published.fetch_add(1, Ordering::Relaxed);
            if std::mem::take(failing) {
                tracing::info!("NATS publishing works again: fresh snapshots for the consumers");
                stats.resnapshot_due.store(true, Ordering::Relaxed);
            }
        }
        Err(e) => {
            *failing = true;
            if stats.errors.fetch_add(1, Ordering::Relaxed) < 10 {
                tracing::warn!("NATS publish not acknowledged: {e}");
            }
        }
    }
}

/// Where a consumer starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The stream's first message still kept.
    All,
    /// `late_join_lead` before the latest snapshot of the oldest of its symbols (every symbol
    /// then has a snapshot to sync from); the stream's start where a symbol has none.
    LatestSnapshot,
    /// This stream sequence.
    Sequence(u64),
    /// The first message the collector received at or after this time (ns since the epoch).
    RecvTime(u64),
}

impl Start {
    /// `--from`: `latest`, `start`, `seq:N` (a stream sequence), a UTC time (RFC 3339
    /// `2026-12-07T19:00:00Z` or `+01:00`, or `2026-12-07 19:00:00` taken as UTC) or a
    /// duration ago (`10m`), given now (ns since the epoch).
    pub fn parse(text: &str, now_ns: u64) -> Result<Start, String> {
        match text {
            "latest" => Ok(Start::LatestSnapshot),
            "start" => Ok(Start::All),
            t => {
                if let Some(n) = t.strip_prefix("seq:") {
                    return n
                        .parse::<u64>()
                        .map(Start::Sequence)
                        .map_err(|_| format!("--from {t:?}: seq:N needs a whole number"));
                }
                if t.len() >= 10
                    && t.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                    && t.as_bytes()[4] == b'-'
                {
                    return microstate_core::calendar::parse_utc(t)
                        .map(Start::RecvTime)
                        .ok_or_else(|| {
                            format!("--from {t:?}: not a UTC time like 2026-12-07T19:00:00Z or 2026-12-07 19:00:00")
                        });
                }
                let ago = microstate_core::units::parse_duration(t).map_err(|e| {
                    format!("--from {t:?}: expected latest, start, seq:N, a UTC time such as 2026-12-07T19:00:00Z or a duration ago such as 10m ({e})")
                })?;
                Ok(Start::RecvTime(now_ns.saturating_sub(
                    ago.as_nanos().min(u64::MAX as u128) as u64,
                )))
            }
        }
    }
}

/// A message read back, with its stream sequence.
#[derive(Clone, Debug)]
pub struct Received {
    pub seq: u64,
    /// `None`: not a raw message (signals, another market's subject), only its place in the
    /// stream counts.
    pub msg: Option<BusMsg>,
}

/// The consumer's side: an ordered pull consumer on the market's subjects, from `start`.
pub struct BusConsumer {
    messages: consumer::pull::Ordered,
    subjects: Subjects,
    /// The stream's last sequence when the consumer was made.
    pub last_seq_at_start: u64,
    /// The sequence the consumer started from (0: the stream's start).
    pub start_seq: u64,
}

impl BusConsumer {
    pub async fn start(
        url: &str,
        cfg: &NatsConfig,
        market: Market,
        symbols: &[Symbol],
        start: Start,
    ) -> Result<BusConsumer, BusError> {
        let client = connect(url).await?;
        let js = jetstream::new(client);
        let mut st = ensure_stream(&js, cfg, url).await?;
        let consumer_err = |msg: String| BusError::Consumer {
            stream: cfg.stream.clone(),
            msg,
        };
        let info = st.info().await.map_err(|e| consumer_err(e.to_string()))?;
        let last_seq_at_start = info.state.last_sequence;
        let subjects = Subjects::new(cfg, market);
        let start_seq = match start {
            Start::All => 0,
            Start::Sequence(s) => s,
            Start::LatestSnapshot => {
                latest_snapshot_start(&st, &subjects, symbols, cfg.late_join_lead).await
            }
            Start::RecvTime(t) => first_received_at(&st, t, last_seq_at_start).await,
        };
        let deliver_policy = if start_seq == 0 {
            consumer::DeliverPolicy::All
        } else {
            consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start_seq,
            }
        };
        let messages = st
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: subjects.market_filter(),
                deliver_policy,
                ..Default::default()
            })
            .await
            .map_err(|e| consumer_err(e.to_string()))?
            .messages()
            .await
            .map_err(|e| consumer_err(e.to_string()))?;
        Ok(BusConsumer {
            messages,
            subjects,
            last_seq_at_start,
            start_seq,
        })
    }

    /// The next message (signals and foreign subjects without a body); `None` when the
    /// consumer ended, `Err` for a message that could not be read (counted by the caller).
    pub async fn next(&mut self) -> Option<Result<Received, String>> {
        let m = match self.messages.next().await? {
            Ok(m) => m,
            Err(e) => return Some(Err(e.to_string())),
        };
        let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
        let Some((kind, symbol)) = self.subjects.parse(m.subject.as_str()) else {
            return Some(Ok(Received { seq, msg: None }));
        };
        let recv = m
            .headers
            .as_ref()
            .and_then(|h| h.get(HDR_RECV))
            .and_then(|v| v.as_str().parse::<u64>().ok())
            .unwrap_or(0);
        Some(Ok(Received {
            seq,
            msg: Some(BusMsg {
                kind,
                symbol,
                recv: Nanos(recv),
                payload: m.payload.clone(),
            }),
        }))
    }
}

/// The sequence to start from so every symbol sees its latest snapshot and the diffs just
/// before it: the first message received `lead` before the oldest of the symbols' latest
/// snapshots.
async fn latest_snapshot_start(
    st: &stream::Stream,
    subjects: &Subjects,
    symbols: &[Symbol],
    lead: Duration,
) -> u64 {
    let mut oldest: Option<u64> = None;
    for &s in symbols {
        match st
            .get_last_raw_message_by_subject(&subjects.raw(Kind::Snapshot, Some(s)))
            .await
        {
            Ok(m) => oldest = Some(oldest.map_or(m.sequence, |o| o.min(m.sequence))),
            // A symbol without a snapshot in the stream: read it all.
            Err(_) => return 0,
        }
    }
    let Some(snap_seq) = oldest else { return 0 };
    // Step back to the first message received `lead` before that snapshot was asked for.
    let Ok(snap) = st.get_raw_message(snap_seq).await else {
        return snap_seq;
    };
    let target = recv_of(&snap.headers).saturating_sub(lead.as_nanos() as u64);
    first_received_at(st, target, snap_seq).await
}

/// The first sequence up to `hi` whose collector receive time is at or after `target` (receive
/// times grow with the sequence: the collector publishes in feed order), by binary search.
async fn first_received_at(st: &stream::Stream, target: u64, hi: u64) -> u64 {
    let (mut lo, mut hi) = (1u64, hi.max(1));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let t = match st.get_raw_message(mid).await {
            Ok(m) => recv_of(&m.headers),
            // Deleted or aged out: older than the target.
            Err(_) => 0,
        };
        if t < target {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

fn recv_of(h: &HeaderMap) -> u64 {
    h.get(HDR_RECV)
        .and_then(|v| v.as_str().parse::<u64>().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip() {
        let s = Subjects::new(&NatsConfig::default(), Market::Spot);
        let btc: Symbol = "btcusdt".parse().expect("sym");
        assert_eq!(s.raw(Kind::Frame, Some(btc)), "microstate.spot.BTCUSDT.raw");
        assert_eq!(
            s.raw(Kind::Snapshot, Some(btc)),
            "microstate.spot.BTCUSDT.raw.snapshot"
        );
        assert_eq!(s.signals(btc), "microstate.spot.BTCUSDT.signals");
        for k in [Kind::Frame, Kind::Snapshot, Kind::Reset] {
            assert_eq!(s.parse(&s.raw(k, Some(btc))), Some((k, Some(btc))));
        }
        assert_eq!(
            s.parse(&s.raw(Kind::Frame, None)),
            Some((Kind::Frame, None))
        );
        assert_eq!(s.parse(&s.signals(btc)), None);
        assert_eq!(s.parse("microstate.usdm.BTCUSDT.raw"), None);
        assert!(check_url("nats://127.0.0.1:4222").is_ok());
        assert!(check_url("http://127.0.0.1:4222").is_err());
        assert!(check_url("nats://127.0.0.1").is_err());
        let now = 3_600_000_000_000;
        assert_eq!(Start::parse("latest", now), Ok(Start::LatestSnapshot));
        assert_eq!(Start::parse("start", now), Ok(Start::All));
        assert_eq!(Start::parse("seq:42", now), Ok(Start::Sequence(42)));
        assert_eq!(
            Start::parse("10m", now),
            Ok(Start::RecvTime(now - 600_000_000_000))
        );
        assert!(Start::parse("yesterday", now).is_err());
        assert_eq!(
            Start::parse("2024-08-08T23:54:13Z", now),
            Ok(Start::RecvTime(1_723_161_253_000_000_000))
        );
        assert_eq!(
            Start::parse("2024-08-09 01:54:13+02:00", now),
            Ok(Start::RecvTime(1_723_161_253_000_000_000))
        );
        assert_eq!(
            Start::parse("2024-08-08 23:54:13", now),
            Ok(Start::RecvTime(1_723_161_253_000_000_000))
        );
        let e = Start::parse("2024-08-08T25:00:00Z", now).expect_err("hour 25");
        assert!(e.contains("not a UTC time"), "{e}");
    }
}
