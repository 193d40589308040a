//! The REST snapshot scheduler: one request at a time, inside a request-weight budget.
//!
//! Owns: when depth snapshots are fetched, and the request-weight budget ([`Budget`]) that every
//! REST request of the session spends from ([`SharedBudget`]: the snapshot scheduler and the
//! kline fetches share one). Must not touch: the engine (bodies go out through the ingest
//! channel with the symbol they were asked for). Rules, from Binance's limits:
//! - requests are sequential (never a storm after a reconnect, whatever the symbol count);
//! - the weight spent in the last minute (ours, or the server's `X-MBX-USED-WEIGHT-1M` when
//!   higher) plus the next request's weight stays within `budget_fraction` of the limit;
//! - HTTP 429 and 418 (IP ban) stop all requests for `Retry-After` as sent, at least 1 s and at
//!   most `rest.retry_after_max` ([`http::retry_after`]); without the header a 429 waits 1
//!   minute and a 418 2 minutes; the stop is kept in the shared budget, so the kline fetches
//!   wait too;
//! - an HTTP 200 whose body is not a depth snapshot (an HTML page, an error object) is counted
//!   (`snapshots_unusable`) and asked again like a failed request;
//! - a failed or unusable snapshot for a symbol is asked again after `retry_min`, doubling up to
//!   `retry_max`; a symbol waiting out its back-off never holds up the others;
//! - resyncs (a symbol that was synced and lost it) are served before cold starts, so one gap
//!   among a hundred symbols still starting waits for one request, not for the whole start.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{IngestMsg, IngestStats, endpoints, http, now_nanos};
use microstate_config::Config;
use microstate_core::market::Market;
use microstate_core::num::Symbol;

/// A request from the engine loop.
#[derive(Clone, Copy, Debug)]
pub struct SnapshotRequest {
    pub symbol: Symbol,
    /// Snapshots of this symbol already delivered that did not bring it into sync.
    pub failures: u32,
    /// The symbol was synced before (a gap, a reconnect, a resync command): served before
    /// symbols that never were.
    pub resync: bool,
}

/// One queued request: what was asked, failed attempts at fetching it, and when it may go.
#[derive(Clone, Copy, Debug)]
struct Queued {
    req: SnapshotRequest,
    tries: u32,
    not_before: Instant,
}

/// The requests waiting for their turn: resyncs first, then cold starts, each in arrival order;
/// one backing off waits without holding up the others.
#[derive(Default, Debug)]
pub struct SnapshotQueue {
    items: VecDeque<Queued>,
}

impl SnapshotQueue {
    /// Queues `req` (once per symbol: a second request for a queued symbol is dropped). Its
    /// back-off (`retry_min` doubling per failure and try, up to `retry_max`) runs from `now`.
    pub fn push(&mut self, req: SnapshotRequest, tries: u32, now: Instant, cfg: &Config) {
        if self.items.iter().any(|q| q.req.symbol == req.symbol) {
            return;
        }
        let n = req.failures.saturating_add(tries);
        let wait = if n == 0 {
            Duration::ZERO
        } else {
            cfg.snapshot
                .retry_min
                .saturating_mul(1 << (n - 1).min(16))
                .min(cfg.snapshot.retry_max)
        };
        self.items.push_back(Queued {
            req,
            tries,
            not_before: now + wait,
        });
    }

    /// Puts back a request that could not be served (429/418) at the head of its class.
    fn push_front(&mut self, q: Queued) {
        self.items.push_front(q);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The next request due at `now` (the first resync due, else the first cold start due), or
    /// `Err` with the earliest time one will be due (`None`: the queue is empty).
    fn pop_due(&mut self, now: Instant) -> Result<Queued, Option<Instant>> {
        let due = |q: &&Queued| q.not_before <= now;
        let pick = self
            .items
            .iter()
            .position(|q| q.req.resync && due(&q))
            .or_else(|| self.items.iter().position(|q| due(&q)));
        match pick.and_then(|i| self.items.remove(i)) {
            Some(q) => Ok(q),
            None => Err(self.items.iter().map(|q| q.not_before).min()),
        }
    }

    /// The symbols in the order they would be served now (for tests and status).
    pub fn order(&self, now: Instant) -> Vec<Symbol> {
        let mut copy = SnapshotQueue {
            items: self.items.clone(),
        };
        let mut out = Vec::new();
        while let Ok(q) = copy.pop_due(now) {
            out.push(q.req.symbol);
        }
        out
    }
}

/// Weight accounting over a rolling minute (shared with the kline fetches: Binance counts
/// every REST request of an IP in one window).
pub struct Budget {
    spent: VecDeque<(Instant, u32)>,
    server_used: Option<(Instant, u32)>,
    budget: u32,
    /// After a 429/418: nothing is spent before this.
    blocked_until: Option<Instant>,
}

impl Budget {
    /// A budget of `budget` weight per rolling minute.
    pub fn new(budget: u32) -> Budget {
        Budget {
            spent: VecDeque::new(),
            server_used: None,
            budget,
            blocked_until: None,
        }
    }

    /// The session's budget: `snapshot.budget_fraction` of the live market's weight limit.
    pub fn for_config(cfg: &Config) -> Budget {
        let limit = match cfg.live.market {
            Market::Spot => cfg.snapshot.spot_weight_per_min,
            _ => cfg.snapshot.futures_weight_per_min,
        };
        Budget::new(((limit as f64) * cfg.snapshot.budget_fraction).max(1.0) as u32)
    }

    /// Records `w` spent at `now`.
    pub fn spend(&mut self, now: Instant, w: u32) {
        self.spent.push_back((now, w));
    }

    /// Records the server's count (`X-MBX-USED-WEIGHT-1M`) seen at `now`.
    pub fn note_server_used(&mut self, now: Instant, used: u32) {
        self.server_used = Some((now, used));
    }

    /// The server said 429/418: nothing may be spent before `until`.
    pub fn block_until(&mut self, until: Instant) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// Weight counted in the minute before `now` (ours, or the server's when higher).
    pub fn used(&mut self, now: Instant) -> u32 {
        while self
            .spent
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= Duration::from_secs(60))
        {
            self.spent.pop_front();
        }
        let ours: u32 = self.spent.iter().map(|(_, w)| w).sum();
        let server = self
            .server_used
            .filter(|(t, _)| now.duration_since(*t) < Duration::from_secs(60))
            .map_or(0, |(_, w)| w);
        ours.max(server)
    }

    /// How long to wait before spending `w` (a 429/418 stop included).
    pub fn wait_for(&mut self, w: u32, now: Instant) -> Duration {
        let blocked = self
            .blocked_until
            .map_or(Duration::ZERO, |u| u.saturating_duration_since(now));
        blocked.max(self.weight_wait(w, now))
    }

    fn weight_wait(&mut self, w: u32, now: Instant) -> Duration {
        if self.used(now) + w <= self.budget {
            return Duration::ZERO;
        }
        if self.spent.is_empty() {
            // Only the server's count binds: wait for that sample to age out of the minute.
            return self.server_used.map_or(Duration::ZERO, |(t, _)| {
                (t + Duration::from_secs(60)).saturating_duration_since(now)
            });
        }
        // Wait until enough of our own spending leaves the window.
        let mut freed = 0;
        let need = (self.used(now) + w).saturating_sub(self.budget);
        for (t, spent) in &self.spent {
            freed += spent;
            if freed >= need {
                return (*t + Duration::from_secs(60)).saturating_duration_since(now);
            }
        }
        Duration::from_secs(60)
    }

    /// Spends `w` at `now` if it fits (`Ok`), else says how long to wait (`Err`). One step, so
    /// two users of a shared budget cannot both take the last room.
    pub fn try_spend(&mut self, w: u32, now: Instant) -> Result<(), Duration> {
        match self.wait_for(w, now) {
            d if d.is_zero() => {
                self.spend(now, w);
                Ok(())
            }
            d => Err(d),
        }
    }
}

/// What spends request weight: one [`Budget`], or a [`SharedBudget`] several tasks spend from.
pub trait WeightBudget {
    /// Spends `w` at `now` if it fits, else how long to wait.
    fn try_spend(&mut self, w: u32, now: Instant) -> Result<(), Duration>;
    /// Records the server's count (`X-MBX-USED-WEIGHT-1M`) seen at `now`.
    fn note_server_used(&mut self, now: Instant, used: u32);
    /// The server said 429/418: nothing may be spent before `until`.
    fn block_until(&mut self, until: Instant);
}

impl WeightBudget for Budget {
    fn try_spend(&mut self, w: u32, now: Instant) -> Result<(), Duration> {
        Budget::try_spend(self, w, now)
    }
    fn note_server_used(&mut self, now: Instant, used: u32) {
        Budget::note_server_used(self, now, used);
    }
    fn block_until(&mut self, until: Instant) {
        Budget::block_until(self, until);
    }
}

/// One budget for every REST request of a session (snapshots and klines): a lock held only for
/// the bookkeeping, never across a request or a wait.
#[derive(Clone)]
pub struct SharedBudget(Arc<Mutex<Budget>>);

impl SharedBudget {
    pub fn new(b: Budget) -> SharedBudget {
        SharedBudget(Arc::new(Mutex::new(b)))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Budget) -> T) -> T {
        // A panic while holding the lock leaves plain numbers behind: still usable.
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Weight counted in the minute before `now`.
    pub fn used(&self, now: Instant) -> u32 {
        self.with(|b| b.used(now))
    }
}

impl WeightBudget for SharedBudget {
    fn try_spend(&mut self, w: u32, now: Instant) -> Result<(), Duration> {
        self.with(|b| b.try_spend(w, now))
    }
    fn note_server_used(&mut self, now: Instant, used: u32) {
        self.with(|b| b.note_server_used(now, used));
    }
    fn block_until(&mut self, until: Instant) {
        self.with(|b| b.block_until(until));
    }
}

/// Waits until `w` fits in `budget`, then spends it; `true` when it had to wait.
pub async fn spend_when_allowed(budget: &mut impl WeightBudget, w: u32) -> bool {
    let mut waited = false;
    loop {
        match budget.try_spend(w, Instant::now()) {
            Ok(()) => return waited,
            Err(wait) => {
                waited = true;
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Consecutive panics of the scheduler loop after which the task gives up (and says so).
const MAX_RESTARTS: u32 = 5;

/// What the scheduler holds across a restart of its loop: the queue, the request in flight
/// (put back at the front), the server's stop, and the panics since the last answer.
#[derive(Default)]
struct Pending {
    queue: SnapshotQueue,
    current: Option<Queued>,
    blocked_until: Option<Instant>,
    panics_in_a_row: u32,
}

/// Runs until `requests` closes. Supervised: a panic inside the loop (none is known to be
/// reachable; this is the guard) is logged, counted (`snapshot_task_restarts`) and the loop
/// restarts with its queue and the request in flight intact, so no symbol is left waiting
/// for a snapshot that will never be asked. After [`MAX_RESTARTS`] panics in a row without
/// an answer in between, it sends [`IngestMsg::Fatal`] and ends: the session stops with an
/// error rather than running on with books that never resync.
pub async fn run(
    cfg: Config,
    mut requests: mpsc::UnboundedReceiver<SnapshotRequest>,
    tx: mpsc::Sender<IngestMsg>,
    stats: Arc<IngestStats>,
    mut budget: SharedBudget,
) {
    use futures_util::FutureExt;
    let mut p = Pending::default();
    loop {
        let r = std::panic::AssertUnwindSafe(schedule(
            &cfg,
            &mut requests,
            &tx,
            &stats,
            &mut budget,
            &mut p,
        ))
        .catch_unwind()
        .await;
        let Err(panic) = r else { return };
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        stats.snapshot_task_restarts.fetch_add(1, Ordering::Relaxed);
        p.panics_in_a_row += 1;
        if let Some(c) = p.current.take() {
            p.queue.push_front(c);
        }
        if p.panics_in_a_row >= MAX_RESTARTS {
            let reason = format!(
                "the snapshot task panicked {} times in a row (last: {what}); books cannot resync",
                p.panics_in_a_row
            );
            tracing::error!("{reason}");
            let _ = tx.send(IngestMsg::Fatal { reason }).await;
            return;
        }
        tracing::error!("snapshot task panicked ({what}); restarting it");
        tokio::time::sleep(cfg.snapshot.retry_min).await;
    }
}

/// Is `body` a depth snapshot (`lastUpdateId`, `bids`, `asks`)? An HTML page or an error
/// object with status 200 is not, and must not count as one.
fn is_depth_snapshot(body: &[u8]) -> bool {
    matches!(
        microstate_core::wire::binance::Decoder::new().decode(body),
        Ok(microstate_core::wire::Event::Snapshot(_))
    )
}

/// The scheduler loop proper (see [`run`]).
async fn schedule(
    cfg: &Config,
    requests: &mut mpsc::UnboundedReceiver<SnapshotRequest>,
    tx: &mpsc::Sender<IngestMsg>,
    stats: &IngestStats,
    budget: &mut SharedBudget,
    p: &mut Pending,
) {
    loop {
        while let Ok(r) = requests.try_recv() {
            p.queue.push(r, 0, Instant::now(), cfg);
        }
        let (req, tries) = match p.queue.pop_due(Instant::now()) {
            Ok(q) => {
                if q.req.failures + q.tries > 0 {
                    stats.snapshot_backoffs.fetch_add(1, Ordering::Relaxed);
                }
                (q.req, q.tries)
            }
            // Nothing due: wait for a new request, or for the first back-off to run out.
            Err(next) => {
                let next_due = async {
                    match next {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    r = requests.recv() => match r {
                        Some(r) => p.queue.push(r, 0, Instant::now(), cfg),
                        None => return,
                    },
                    _ = next_due => {}
                }
                continue;
            }
        };
        p.current = Some(Queued {
            req,
            tries,
            not_before: Instant::now(),
        });
        #[cfg(test)]
        tests::injected_panic();
        if let Some(until) = p.blocked_until {
            tokio::time::sleep_until(until).await;
            p.blocked_until = None;
        }
        let (url, weight) = endpoints::depth_request(cfg, req.symbol);
        if let Err(wait) = budget.try_spend(weight, Instant::now()) {
            stats.snapshot_budget_waits.fetch_add(1, Ordering::Relaxed);
            tracing::info!(symbol = %req.symbol, wait_ms = wait.as_millis() as u64, "snapshot waits for request-weight budget");
            spend_when_allowed(budget, weight).await;
        }
        stats.snapshot_requests.fetch_add(1, Ordering::Relaxed);
        let sent = now_nanos();
        let result = http::get(&url, cfg.snapshot.request_timeout, &cfg.rest).await;
        let recv = now_nanos();
        p.current = None;
        p.panics_in_a_row = 0;
        let failed = |reason: String| IngestMsg::SnapshotFailed {
            symbol: req.symbol,
            reason,
        };
        match result {
            Ok(resp) => {
                if let Some(used) = resp
                    .header("x-mbx-used-weight-1m")
                    .and_then(|v| v.trim().parse().ok())
                {
                    budget.note_server_used(Instant::now(), used);
                }
                match resp.status {
                    200 if is_depth_snapshot(&resp.body) => {
                        stats.snapshots_ok.fetch_add(1, Ordering::Relaxed);
                        let msg = IngestMsg::Snapshot {
                            symbol: req.symbol,
                            url: url.clone(),
                            sent,
                            recv,
                            body: resp.body,
                        };
                        if tx.send(msg).await.is_err() {
                            return;
                        }
                    }
                    200 => {
                        // Counted, said, and asked again (with the per-symbol back-off).
                        stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
                        stats.snapshots_unusable.fetch_add(1, Ordering::Relaxed);
                        let reason = format!(
                            "HTTP 200 from {url} is not a depth snapshot ({}): {}",
                            resp.header("content-type").unwrap_or("no content type"),
                            printable(&resp.body, 120)
                        );
                        tracing::warn!("{reason}");
                        let _ = tx.send(failed(reason)).await;
                        p.queue.push(req, tries + 1, Instant::now(), cfg);
                    }
                    429 | 418 => {
                        // Retry-After is honoured up to rest.retry_after_max; without one, a
                        // 429 waits out the minute window and a 418 (IP ban, 2 min to 3 days)
                        // waits 2 minutes.
                        let (counter, default) = if resp.status == 429 {
                            (&stats.rest_429, Duration::from_secs(60))
                        } else {
                            (&stats.rest_418, Duration::from_secs(120))
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                        let wait = http::retry_after(&resp, default, cfg.rest.retry_after_max);
                        tracing::warn!(
                            status = resp.status,
                            wait_s = wait.as_secs(),
                            "REST rate limit hit; pausing snapshot requests"
                        );
                        let _ = tx
                            .send(failed(format!(
                                "HTTP {} from {url}; waiting {} s",
                                resp.status,
                                wait.as_secs()
                            )))
                            .await;
                        let until = Instant::now() + wait;
                        p.blocked_until = Some(until);
                        budget.block_until(until);
                        p.queue.push_front(Queued {
                            req,
                            tries,
                            not_before: Instant::now(),
                        });
                    }
                    status => {
                        stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
                        let body = printable(&resp.body, 200);
                        let _ = tx
                            .send(failed(format!("HTTP {status} from {url}: {body}")))
                            .await;
                        p.queue.push(req, tries + 1, Instant::now(), cfg);
                    }
                }
            }
            Err(e) => {
                stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
                let _ = tx.send(failed(e.to_string())).await;
                p.queue.push(req, tries + 1, Instant::now(), cfg);
            }
        }
    }
}

/// The first `max` bytes of a body for a message, control characters escaped (a peer's bytes
/// never reach the terminal raw).
fn printable(body: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&body[..body.len().min(max)])
        .chars()
        .flat_map(char::escape_debug)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    /// Panics the scheduler loop this many more times (the supervisor test only).
    static PANICS: AtomicU32 = AtomicU32::new(0);

    pub(super) fn injected_panic() {
        if PANICS
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            panic!("injected test panic");
        }
    }

    #[tokio::test]
    async fn a_panicking_scheduler_restarts_with_its_queue_then_fails_loudly() {
        // Nothing listens on port 1: every request fails fast with a connect error.
        let mut cfg = Config {
            endpoints: microstate_config::EndpointsConfig::local(
                "ws://127.0.0.1:1",
                "http://127.0.0.1:1",
            ),
            ..Config::default()
        };
        cfg.snapshot.retry_min = Duration::from_millis(10);
        cfg.snapshot.retry_max = Duration::from_millis(20);
        let start = |cfg: Config| {
            let (req_tx, req_rx) = mpsc::unbounded_channel();
            let (tx, rx) = mpsc::channel(16);
            let stats = Arc::new(IngestStats::default());
            let budget = SharedBudget::new(Budget::new(100_000));
            let task = tokio::spawn(run(cfg, req_rx, tx, stats.clone(), budget));
            let symbol: Symbol = "BTCUSDT".parse().expect("symbol");
            req_tx
                .send(SnapshotRequest {
                    symbol,
                    failures: 0,
                    resync: false,
                })
                .expect("send");
            (req_tx, rx, stats, task)
        };
        let wait = Duration::from_secs(30);
        // Two panics: restarted twice, and the request in flight is still made.
        PANICS.store(2, Ordering::Relaxed);
        let (_keep, mut rx, stats, task) = start(cfg.clone());
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(IngestMsg::SnapshotFailed { reason, .. })) => {
                assert!(reason.contains("127.0.0.1:1"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(stats.snapshot_task_restarts.load(Ordering::Relaxed), 2);
        task.abort();
        // Panics every time: it gives up and says so, once.
        PANICS.store(u32::MAX, Ordering::Relaxed);
        let (_keep, mut rx, stats, task) = start(cfg);
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(IngestMsg::Fatal { reason })) => {
                assert!(reason.contains("panicked 5 times"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(stats.snapshot_task_restarts.load(Ordering::Relaxed), 5);
        tokio::time::timeout(wait, task)
            .await
            .expect("ended")
            .expect("no panic escapes");
        PANICS.store(0, Ordering::Relaxed);
    }

    #[test]
    fn budget_waits_for_the_window() {
        let t0 = Instant::now();
        let mut b = Budget::new(500);
        assert_eq!(b.wait_for(250, t0), Duration::ZERO);
        b.spent.push_back((t0, 250));
        assert_eq!(b.wait_for(250, t0), Duration::ZERO);
        b.spent.push_back((t0 + Duration::from_secs(10), 250));
        // A third 250 must wait for the first to age out: 60 s after t0.
        assert_eq!(
            b.wait_for(250, t0 + Duration::from_secs(20)),
            Duration::from_secs(40)
        );
        // The server's count wins when higher.
        b.server_used = Some((t0 + Duration::from_secs(61), 400));
        assert!(b.wait_for(250, t0 + Duration::from_secs(65)) > Duration::ZERO);
    }

    fn sym(s: &str) -> Symbol {
        s.parse().expect("symbol")
    }

    fn req(s: &str, failures: u32, resync: bool) -> SnapshotRequest {
        SnapshotRequest {
            symbol: sym(s),
            failures,
            resync,
        }
    }

    #[test]
    fn resyncs_are_served_before_cold_starts_and_back_off_holds_up_no_one() {
        let cfg = Config::default();
        let t0 = Instant::now();
        let mut q = SnapshotQueue::default();
        for i in 0..5 {
            q.push(req(&format!("cold{i}usdt"), 0, false), 0, t0, &cfg);
        }
        q.push(req("gapusdt", 0, true), 0, t0, &cfg);
        // A symbol whose last snapshot did not sync waits retry_min; the others go first.
        q.push(req("badusdt", 1, true), 0, t0, &cfg);
        // Asked twice: queued once.
        q.push(req("cold0usdt", 0, false), 0, t0, &cfg);
        assert_eq!(q.len(), 7);
        let order: Vec<String> = q.order(t0).iter().map(|s| s.to_string()).collect();
        assert_eq!(
            order,
            [
                "GAPUSDT",
                "COLD0USDT",
                "COLD1USDT",
                "COLD2USDT",
                "COLD3USDT",
                "COLD4USDT"
            ]
        );
        let later = t0 + cfg.snapshot.retry_min;
        assert_eq!(q.order(later)[..2], [sym("gapusdt"), sym("badusdt")]);
        // Nothing due: the earliest back-off is what to wait for.
        let mut only = SnapshotQueue::default();
        only.push(req("badusdt", 3, false), 0, t0, &cfg);
        assert_eq!(
            only.pop_due(t0).err(),
            Some(Some(t0 + cfg.snapshot.retry_min * 4))
        );
    }

    /// The sync-time goal, computed from the budget rather than from a wall clock: with the
    /// default settings, the spot snapshots of a cold start of 100 symbols all fit in the
    /// request-weight budget within two minutes (Binance's weight table for the default depth,
    /// the default budget share, the real [`Budget`] accounting). A deeper default depth or a
    /// smaller share fails this.
    #[test]
    fn a_cold_start_of_100_symbols_fits_the_default_budget_within_two_minutes() {
        fn last_request_after(cfg: &Config, n: usize) -> Duration {
            let t0 = Instant::now();
            let mut b = Budget::for_config(cfg);
            let mut t = t0;
            for i in 0..n {
                let (_, w) = endpoints::depth_request(cfg, sym(&format!("s{i}usdt")));
                loop {
                    match b.try_spend(w, t) {
                        Ok(()) => break,
                        Err(wait) => t += wait,
                    }
                }
            }
            t - t0
        }
        let mut cfg = Config::default();
        for market in [Market::Spot, Market::UsdM] {
            cfg.live.market = market;
            let d100 = last_request_after(&cfg, 100);
            assert!(
                d100 <= Duration::from_secs(120),
                "{market:?}: 100 cold starts need {d100:?} of budget"
            );
            assert_eq!(last_request_after(&cfg, 10), Duration::ZERO, "{market:?}");
        }
        // The old default (spot limit 5000, weight 250) needed eight minutes: the goal bites.
        cfg.live.market = Market::Spot;
        cfg.snapshot.spot_limit = 5000;
        assert!(last_request_after(&cfg, 100) > Duration::from_secs(120));
    }
}
