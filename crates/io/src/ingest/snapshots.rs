//! The REST snapshot scheduler: one request at a time, inside a request-weight budget.
//!
//! Owns: when depth snapshots are fetched, and the request-weight budget ([`Budget`]) that every
//! REST request of the session spends from ([`SharedBudget`]: the snapshot scheduler and the
//! kline fetches share one). Must not touch: the engine (bodies go out through the ingest
//! channel with the symbol they were asked for). Rules, from Binance's limits:
//! - requests are sequential (never a storm after a reconnect, whatever the symbol count);
//! - the weight spent in the last minute (ours, or the server's `X-MBX-USED-WEIGHT-1M` when
//!   higher) plus the next request's weight stays within `budget_fraction` of the limit;
//! - HTTP 429 stops all requests for `Retry-After`; 418 (IP ban) likewise, at least 2 minutes;
//!   the stop is kept in the shared budget, so the kline fetches wait too;
//! - a failed or unusable snapshot for a symbol is asked again after `retry_min`, doubling up to
//!   `retry_max`.

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

/// Runs until `requests` closes.
pub async fn run(
    cfg: Config,
    mut requests: mpsc::UnboundedReceiver<SnapshotRequest>,
    tx: mpsc::Sender<IngestMsg>,
    stats: Arc<IngestStats>,
    mut budget: SharedBudget,
) {
    let mut blocked_until: Option<Instant> = None;
    let mut queue: VecDeque<(SnapshotRequest, u32)> = VecDeque::new();
    loop {
        if queue.is_empty() {
            match requests.recv().await {
                Some(r) => queue.push_back((r, 0)),
                None => return,
            }
        }
        while let Ok(r) = requests.try_recv() {
            if !queue.iter().any(|(q, _)| q.symbol == r.symbol) {
                queue.push_back((r, 0));
            }
        }
        let Some((req, tries)) = queue.pop_front() else {
            continue;
        };
        // Back off per symbol: after unusable snapshots, and after failed requests.
        let n = req.failures + tries;
        if n > 0 {
            let wait = cfg
                .snapshot
                .retry_min
                .saturating_mul(1 << (n - 1).min(16))
                .min(cfg.snapshot.retry_max);
            tokio::time::sleep(wait).await;
        }
        if let Some(until) = blocked_until {
            tokio::time::sleep_until(until).await;
            blocked_until = None;
        }
        let (url, weight) = endpoints::depth_request(&cfg, req.symbol);
        if let Err(wait) = budget.try_spend(weight, Instant::now()) {
            stats.snapshot_budget_waits.fetch_add(1, Ordering::Relaxed);
            tracing::info!(symbol = %req.symbol, wait_ms = wait.as_millis() as u64, "snapshot waits for request-weight budget");
            spend_when_allowed(&mut budget, weight).await;
        }
        stats.snapshot_requests.fetch_add(1, Ordering::Relaxed);
        let sent = now_nanos();
        let result = http::get(&url, cfg.snapshot.request_timeout).await;
        let recv = now_nanos();
        let retry_after = |r: &http::Response| {
            r.header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
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
                    200 => {
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
                    429 | 418 => {
                        // Retry-After is honoured as sent; without one, a 429 waits out the
                        // minute window and a 418 (IP ban, 2 min to 3 days) waits 2 minutes.
                        let (counter, default) = if resp.status == 429 {
                            (&stats.rest_429, Duration::from_secs(60))
                        } else {
                            (&stats.rest_418, Duration::from_secs(120))
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                        let wait = retry_after(&resp)
                            .unwrap_or(default)
                            .max(Duration::from_secs(1));
                        tracing::warn!(
                            status = resp.status,
                            wait_s = wait.as_secs(),
                            "REST rate limit hit; pausing snapshot requests"
                        );
                        let _ = tx
                            .send(IngestMsg::SnapshotFailed {
                                symbol: req.symbol,
                                reason: format!(
                                    "HTTP {} from {url}; waiting {} s",
                                    resp.status,
                                    wait.as_secs()
                                ),
                            })
                            .await;
                        blocked_until = Some(Instant::now() + wait);
                        budget.block_until(Instant::now() + wait);
                        queue.push_front((req, tries));
                    }
                    status => {
                        stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
                        let body = String::from_utf8_lossy(&resp.body[..resp.body.len().min(200)])
                            .into_owned();
                        let _ = tx
                            .send(IngestMsg::SnapshotFailed {
                                symbol: req.symbol,
                                reason: format!("HTTP {status} from {url}: {body}"),
                            })
                            .await;
                        queue.push_back((req, tries + 1));
                    }
                }
            }
            Err(e) => {
                stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
                let _ = tx
                    .send(IngestMsg::SnapshotFailed {
                        symbol: req.symbol,
                        reason: e.to_string(),
                    })
                    .await;
                queue.push_back((req, tries + 1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
