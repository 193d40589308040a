//! The one global replay clock: paces frames, keeps the book at the replay point, applies stream
//! faults, and hands every frame to every subscribed client.
//!
//! Owns: the pass loop (wait for the first client, emit, end or loop), pacing by receive time ×
//! speed, the exchange's [`Engine`] feeding (every WebSocket frame and every captured REST
//! snapshot line passes through it), the faithful-snapshot hold, the emitted-frame index that
//! fault specs count, and fan-out with backpressure (at [`Speed::Max`] it waits for slow
//! clients; at a finite speed a full queue disconnects the client). Must not touch: sockets
//! (clients get [`Out`] items through their queues) or HTTP.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

use super::faults::{FaultKind, Schedule};
use super::source::{Feed, Prepared};
use super::streams::{StreamKey, StreamKind, envelope};
use super::ws::{ClientSlot, Control, Out};
use super::{PendingSnapshot, Shared, Speed, bump, lock, rest};
use microstate_core::engine::{Engine, EngineConfig, RawFrame};
use microstate_core::num::{Nanos, Symbol};
use microstate_drive::shutdown::Shutdown;

/// The injected malformed frame: a depth event cut off mid-number.
const MALFORMED: &str = r#"{"stream":"malformed@depth","data":{"e":"depthUpdate","E":17231612"#;

/// A second book kept `behind` depth diffs late, for stale-snapshot faults.
pub(crate) struct LagBook {
    pub engine: Engine,
    behind: usize,
    queue: VecDeque<(Nanos, Bytes, Option<Symbol>, bool)>,
    depth_queued: usize,
}

impl LagBook {
    pub fn new(behind: usize) -> LagBook {
        LagBook {
            engine: Engine::new(EngineConfig::books_only()),
            behind: behind.max(1),
            queue: VecDeque::new(),
            depth_queued: 0,
        }
    }

    fn push(&mut self, f: &Prepared) {
        if !(f.depth || f.rest) {
            return;
        }
        self.queue
            .push_back((f.recv, f.bytes.clone(), f.hint, f.depth));
        if f.depth {
            self.depth_queued += 1;
        }
        while self.depth_queued > self.behind {
            let Some((recv, bytes, hint, depth)) = self.queue.pop_front() else {
                break;
            };
            let _ = self.engine.on_frame(RawFrame {
                recv,
                bytes: &bytes,
                symbol_hint: hint,
            });
            if depth {
                self.depth_queued -= 1;
            }
        }
    }
}

/// Arms a REST fault (they act on the next depth requests).
pub(crate) fn arm_rest_fault(shared: &Shared, kind: &FaultKind) {
    rest::arm(shared, kind);
}

/// Receive time → wall time.
struct Pace {
    factor: Option<f64>,
    origin: Option<(Nanos, Instant)>,
}

impl Pace {
    fn new(speed: Speed) -> Pace {
        Pace {
            factor: match speed {
                Speed::Max => None,
                Speed::Factor(f) => Some(f),
            },
            origin: None,
        }
    }

    /// When a frame received at `recv` is due (`None`: now).
    fn due(&mut self, recv: Nanos) -> Option<Instant> {
        let f = self.factor?;
        let (r0, w0) = *self.origin.get_or_insert((recv, Instant::now()));
        let ns = recv.0.saturating_sub(r0.0) as f64 / f;
        Some(w0 + Duration::from_nanos(ns.min(1e18) as u64))
    }

    /// The clock was held for `d`: everything after is due that much later.
    fn shift(&mut self, d: Duration) {
        if let Some((_, w)) = &mut self.origin {
            *w += d;
        }
    }
}

/// What to do with a client whose queue is full.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WhenFull {
    Wait,
    Disconnect,
}

/// Stream faults in progress.
#[derive(Default)]
struct StreamFaults {
    drop: u64,
    dup: u64,
    swap: u64,
    held: Option<Prepared>,
}

struct Clock {
    shared: Arc<Shared>,
    shutdown: Shutdown,
    schedule: Schedule,
    faults: StreamFaults,
    lag_behind: Option<usize>,
    /// Emitted WebSocket frames, over all passes.
    index: u64,
    full: WhenFull,
}

/// Runs the clock until the source is done (or forever when looping) or shutdown.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut feed: mpsc::Receiver<Feed>,
    schedule: Schedule,
    lag_behind: Option<usize>,
    finished: watch::Sender<bool>,
) {
    let mut c = Clock {
        shutdown: shared.shutdown.clone(),
        full: match shared.settings.speed {
            Speed::Max => WhenFull::Wait,
            Speed::Factor(_) => WhenFull::Disconnect,
        },
        shared,
        schedule,
        faults: StreamFaults::default(),
        lag_behind,
        index: 0,
    };
    loop {
        if c.shared.settings.start_on_first_client && !c.wait_for_client().await {
            return;
        }
        let Some(more) = c.pass(&mut feed).await else {
            return;
        };
        bump(&c.shared.counters.passes);
        if more && c.shared.settings.looped {
            if !c.restart() {
                return;
            }
            continue;
        }
        c.finish(&finished).await;
        return;
    }
}

impl Clock {
    /// Waits until a WebSocket client is registered. `false` on shutdown.
    async fn wait_for_client(&mut self) -> bool {
        loop {
            let joined = self.shared.client_joined.notified();
            tokio::pin!(joined);
            joined.as_mut().enable();
            if !lock(&self.shared.clients).live.is_empty() {
                return true;
            }
            tokio::select! {
                _ = &mut joined => {}
                _ = self.shutdown.recv() => return false,
            }
        }
    }

    /// Emits one pass. `Some(true)`: the source ended and can be read again; `Some(false)`: the
    /// reader is gone; `None`: shutdown.
    async fn pass(&mut self, feed: &mut mpsc::Receiver<Feed>) -> Option<bool> {
        let mut pace = Pace::new(self.shared.settings.speed);
        loop {
            let item = tokio::select! {
                f = feed.recv() => f,
                _ = self.shutdown.recv() => return None,
            };
            let f = match item {
                None => return Some(false),
                Some(Feed::EndOfPass) => break,
                Some(Feed::Error(e)) => {
                    tracing::warn!("exchange source: {e}");
                    continue;
                }
                Some(Feed::Frame(f)) => f,
            };
            if let Some(due) = pace.due(f.recv)
                && due > Instant::now()
            {
                tokio::select! {
                    _ = sleep_until(due) => {}
                    _ = self.shutdown.recv() => return None,
                }
            }
            if f.rest {
                let held = self.rest_line(&f).await?;
                pace.shift(held);
                continue;
            }
            for kind in self.schedule.due(self.index) {
                if !self.fire(&kind).await {
                    return None;
                }
            }
            self.apply(&f);
            if !self.route_with_faults(f).await {
                return None;
            }
            self.index += 1;
            self.shared
                .counters
                .frames_emitted
                .store(self.index, Ordering::Relaxed);
            self.shared.market_changed.notify_waiters();
        }
        if let Some(h) = self.faults.held.take()
            && !self.route(&h).await
        {
            return None;
        }
        Some(true)
    }

    /// Feeds a frame into the exchange's book and advances exchange time.
    fn apply(&mut self, f: &Prepared) {
        let mut m = lock(&self.shared.market);
        let trades_before = f
            .symbol
            .and_then(|s| m.engine.symbol(s))
            .map_or(0, |st| st.trades);
        if let Err(e) = m.engine.on_frame(RawFrame {
            recv: f.recv,
            bytes: &f.bytes,
            symbol_hint: f.hint,
        }) {
            tracing::debug!(error = %e, "exchange engine refused a frame");
        }
        // A trade passed: into its minute's kline.
        let trade = f
            .symbol
            .and_then(|s| m.engine.symbol(s))
            .filter(|st| st.trades > trades_before)
            .and_then(|st| st.last_trade);
        if let Some(t) = trade {
            m.klines.on_trade(t.symbol, t.price, t.qty, t.trade_time_ms);
        }
        if let Some(lag) = m.lag.as_mut() {
            lag.push(f);
        }
        if let Some(e) = f.event_ms {
            m.exchange_time_ms = Some(m.exchange_time_ms.map_or(e, |x| x.max(e)));
        }
        if let Some(t) = f.transact_ms {
            m.transact_time_ms = Some(m.transact_time_ms.map_or(t, |x| x.max(t)));
        }
    }

    /// A captured REST snapshot line: in faithful mode, hold the clock until a client takes it
    /// (or the hold runs out), then feed it to the book. Returns how long the clock was held;
    /// `None` on shutdown.
    async fn rest_line(&mut self, f: &Prepared) -> Option<Duration> {
        bump(&self.shared.counters.rest_lines);
        let start = Instant::now();
        // Hold only for someone who will want it: a client on that symbol's depth stream.
        let hold = f.hint.filter(|sym| {
            self.shared.settings.faithful_snapshots && depth_subscriber(&self.shared, *sym)
        });
        if let Some(symbol) = hold {
            lock(&self.shared.market).pending = Some(PendingSnapshot {
                symbol,
                body: f.bytes.clone(),
                taken: false,
            });
            self.shared.market_changed.notify_waiters();
            let deadline = start + self.shared.settings.snapshot_hold;
            loop {
                let taken = self.shared.snapshot_taken.notified();
                tokio::pin!(taken);
                taken.as_mut().enable();
                if lock(&self.shared.market)
                    .pending
                    .as_ref()
                    .is_none_or(|p| p.taken)
                {
                    break;
                }
                tokio::select! {
                    _ = &mut taken => {}
                    _ = sleep_until(deadline) => break,
                    _ = self.shutdown.recv() => return None,
                }
            }
            let taken = lock(&self.shared.market)
                .pending
                .take()
                .is_some_and(|p| p.taken);
            if !taken {
                tracing::debug!(%symbol, "no client asked for the captured snapshot in time");
            }
        }
        self.apply(f);
        self.shared.market_changed.notify_waiters();
        Some(start.elapsed())
    }

    /// Routes a frame, applying drop/duplicate/swap faults to depth diffs. `false` on shutdown.
    async fn route_with_faults(&mut self, f: Prepared) -> bool {
        if f.depth && self.faults.drop > 0 {
            self.faults.drop -= 1;
            return true;
        }
        if f.depth && self.faults.swap > 0 && self.faults.held.is_none() {
            self.faults.swap -= 1;
            self.faults.held = Some(f);
            return true;
        }
        if !self.route(&f).await {
            return false;
        }
        if f.depth {
            if let Some(h) = self.faults.held.take_if(|h| h.symbol == f.symbol)
                && !self.route(&h).await
            {
                return false;
            }
            if self.faults.dup > 0 {
                self.faults.dup -= 1;
                return self.route(&f).await;
            }
        }
        true
    }

    /// Hands one frame to every client subscribed to its stream.
    async fn route(&mut self, f: &Prepared) -> bool {
        let Some(key) = f.key.as_ref() else {
            return true;
        };
        let mut raw: Option<Utf8Bytes> = None;
        let payload = &f.bytes[f.payload.clone()];
        let full = self.full;
        broadcast(&self.shared, &mut self.shutdown, full, |slot, q| {
            for sub in &slot.subs {
                if sub.key.as_ref() != Some(key) || !slot.route.allows(key) {
                    continue;
                }
                let text = if slot.combined {
                    match std::str::from_utf8(payload) {
                        Ok(p) => Utf8Bytes::from(envelope(&sub.name, p)),
                        Err(_) => continue,
                    }
                } else {
                    if raw.is_none() {
                        raw = Utf8Bytes::try_from(f.bytes.slice(f.payload.clone())).ok();
                    }
                    match &raw {
                        Some(r) => r.clone(),
                        None => continue,
                    }
                };
                q.push_back(Out::Frame(Message::Text(text)));
            }
        })
        .await
    }

    /// Fires one fault. `false` on shutdown.
    async fn fire(&mut self, kind: &FaultKind) -> bool {
        bump(&self.shared.counters.faults_fired);
        tracing::info!(fault = ?kind, frame = self.index, "exchange fault fired");
        let full = self.full;
        match kind {
            FaultKind::DropDepth { count } => self.faults.drop += *count as u64,
            FaultKind::DuplicateDepth => self.faults.dup += 1,
            FaultKind::SwapDepth => self.faults.swap += 1,
            FaultKind::Close => {
                return broadcast(
                    &self.shared,
                    &mut self.shutdown,
                    full,
                    control(Control::Abort),
                )
                .await;
            }
            FaultKind::ServerShutdown { grace } => {
                let time = lock(&self.shared.market).exchange_time_ms.unwrap_or(0);
                let text = Utf8Bytes::from(format!("{{\"e\":\"serverShutdown\",\"E\":{time}}}"));
                let grace = *grace;
                return broadcast(&self.shared, &mut self.shutdown, full, |_, q| {
                    q.push_back(Out::Inject(Message::Text(text.clone())));
                    q.push_back(Out::Control(Control::CloseAfter(grace)));
                })
                .await;
            }
            FaultKind::Silent => {
                return broadcast(
                    &self.shared,
                    &mut self.shutdown,
                    full,
                    control(Control::Silent),
                )
                .await;
            }
            FaultKind::IgnorePongs => {
                return broadcast(
                    &self.shared,
                    &mut self.shutdown,
                    full,
                    control(Control::IgnorePongs),
                )
                .await;
            }
            FaultKind::NoPing => {
                return broadcast(
                    &self.shared,
                    &mut self.shutdown,
                    full,
                    control(Control::NoPing),
                )
                .await;
            }
            FaultKind::Malformed => {
                let text = Utf8Bytes::from_static(MALFORMED);
                return broadcast(&self.shared, &mut self.shutdown, full, |_, q| {
                    q.push_back(Out::Inject(Message::Text(text.clone())));
                })
                .await;
            }
            FaultKind::Oversize { bytes } => {
                let text = Utf8Bytes::from(oversize(*bytes));
                return broadcast(&self.shared, &mut self.shutdown, full, |_, q| {
                    q.push_back(Out::Inject(Message::Text(text.clone())));
                })
                .await;
            }
            FaultKind::Rest429 { .. }
            | FaultKind::Rest418 { .. }
            | FaultKind::Rest500 { .. }
            | FaultKind::SlowDepth { .. }
            | FaultKind::StaleDepth { .. } => rest::arm(&self.shared, kind),
        }
        true
    }

    /// End of a looped pass: forget the book, so nobody is served a book from the previous
    /// pass. Sockets stay open: the next pass goes on in event time and jumps forward in update
    /// ids (`passes`), so clients see a gap and resync from the next pass's book. Exchange and
    /// transaction time are kept (they only move forward). `false` on shutdown.
    fn restart(&mut self) -> bool {
        if self.shutdown.is_shutdown() {
            return false;
        }
        self.reset_market();
        tracing::info!("capture restarted");
        true
    }

    fn reset_market(&mut self) {
        let mut m = lock(&self.shared.market);
        m.engine = Engine::new(EngineConfig::books_only());
        m.lag = self.lag_behind.map(LagBook::new);
        m.pending = None;
        drop(m);
        self.shared.market_changed.notify_waiters();
    }

    /// End of a non-looped source: wait until every client has written everything, then say so.
    async fn finish(&mut self, finished: &watch::Sender<bool>) {
        let mut acks = Vec::new();
        let ok = broadcast(&self.shared, &mut self.shutdown, WhenFull::Wait, |_, q| {
            let (tx, rx) = oneshot::channel();
            q.push_back(Out::Flush(tx));
            acks.push(rx);
        })
        .await;
        if !ok {
            return;
        }
        for rx in acks {
            tokio::select! {
                _ = rx => {}
                _ = self.shutdown.recv() => return,
            }
        }
        lock(&self.shared.market).ended = true;
        self.shared.market_changed.notify_waiters();
        let _ = finished.send(true);
        tracing::info!(frames = self.index, "capture finished");
    }
}

/// Whether a live client is subscribed to `sym`'s depth stream (on a route that serves it).
fn depth_subscriber(shared: &Shared, sym: Symbol) -> bool {
    let key = StreamKey::Book(sym, StreamKind::Depth);
    lock(&shared.clients).live.iter().any(|slot| {
        slot.route.allows(&key) && slot.subs.iter().any(|s| s.key.as_ref() == Some(&key))
    })
}

/// Builds a control order for every client.
fn control(c: Control) -> impl FnMut(&ClientSlot, &mut VecDeque<Out>) {
    move |_, q| q.push_back(Out::Control(c.clone()))
}

/// A valid JSON text frame of exactly `bytes` bytes (at least 64).
fn oversize(bytes: usize) -> String {
    let head = "{\"e\":\"oversize\",\"pad\":\"";
    let tail = "\"}";
    let pad = bytes.saturating_sub(head.len() + tail.len());
    let mut s = String::with_capacity(bytes);
    s.push_str(head);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str(tail);
    s
}

/// Puts what `make` builds for each live client into its queue. With [`WhenFull::Wait`] a full
/// queue is waited for (after every other client got its share); with
/// [`WhenFull::Disconnect`] the client is dropped. `false` on shutdown.
async fn broadcast(
    shared: &Shared,
    shutdown: &mut Shutdown,
    when_full: WhenFull,
    mut make: impl FnMut(&ClientSlot, &mut VecDeque<Out>),
) -> bool {
    let mut blocked: Vec<(mpsc::Sender<Out>, VecDeque<Out>)> = Vec::new();
    {
        let mut clients = lock(&shared.clients);
        let mut q: VecDeque<Out> = VecDeque::new();
        let mut slow: Vec<u64> = Vec::new();
        for slot in &clients.live {
            q.clear();
            make(slot, &mut q);
            while let Some(out) = q.pop_front() {
                match slot.tx.try_send(out) {
                    Ok(()) => {}
                    Err(TrySendError::Closed(_)) => break,
                    Err(TrySendError::Full(out)) => {
                        match when_full {
                            WhenFull::Wait => {
                                q.push_front(out);
                                blocked.push((slot.tx.clone(), std::mem::take(&mut q)));
                            }
                            WhenFull::Disconnect => {
                                slot.kill.kill("queue full: client too slow");
                                slow.push(slot.id);
                            }
                        }
                        break;
                    }
                }
            }
        }
        if !slow.is_empty() {
            clients.live.retain(|s| !slow.contains(&s.id));
            for _ in &slow {
                bump(&shared.counters.closed_slow);
            }
        }
    }
    for (tx, outs) in blocked {
        for out in outs {
            tokio::select! {
                r = tx.send(out) => if r.is_err() { break },
                _ = shutdown.recv() => return false,
            }
        }
    }
    true
}
