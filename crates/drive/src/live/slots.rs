//! Connection slots: one logical connection per planned URL, kept up by a task with back-off,
//! and the make-before-break switch to a second connection.
//!
//! Owns: the slot task (connect, reconnect, open a successor on request, retire), what the
//! driver remembers per slot ([`Slot`]: primary connection, a pending successor and its held
//! frames, state for a person, report), and the rule for when a successor may take over
//! ([`switch_ready`]). Must not touch: the engine (read only, to judge the switch), socket
//! details ([`microstate_io::ingest::ws`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use microstate_config::ConnectionConfig;
use microstate_core::engine::Engine;
use microstate_core::market::Market;
use microstate_core::num::{Nanos, Symbol};
use microstate_core::summary::SlotReport;
use microstate_core::wire::TradeKind;
use microstate_io::ingest::endpoints::WsPlan;
use microstate_io::ingest::ws::{self, EndReason};
use microstate_io::ingest::{ConnId, IngestMsg};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// How long held-back frames of a new connection wait for the old one to catch up.
pub const SWITCH_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that ended sooner than this did not prove the endpoint healthy: back-off grows.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// What the driver tells a slot task.
pub enum SlotCmd {
    /// Open a second connection to switch over to.
    Rotate,
    /// Close this connection (the switch-over is done).
    Retire(ConnId),
    /// The slot's streams changed while running: `request` (a `SUBSCRIBE`/`UNSUBSCRIBE`) goes
    /// out on every open connection, and connections opened from now on use `url`, so a
    /// reconnect or a switch-over keeps what was added and drops what was removed.
    Streams {
        url: String,
        request: String,
    },
    Shutdown,
}

/// A successor connection whose frames are held back until the old one has caught up.
pub struct Pending {
    pub conn: ConnId,
    pub since: Instant,
    pub frames: Vec<(Nanos, Utf8Bytes)>,
    /// First diff per symbol on the new connection: (`U`, `pu`).
    pub first: HashMap<Symbol, (u64, Option<u64>)>,
    /// First bookTicker `u` per symbol on the new connection.
    pub first_ticker: HashMap<Symbol, u64>,
    /// First trade id per (symbol, kind) on the new connection.
    pub first_trade: HashMap<(Symbol, TradeKind), u64>,
}

impl Pending {
    pub fn new(conn: ConnId) -> Pending {
        Pending {
            conn,
            since: Instant::now(),
            frames: Vec::new(),
            first: HashMap::new(),
            first_ticker: HashMap::new(),
            first_trade: HashMap::new(),
        }
    }
}

/// What every slot task is given: the connection settings, the queue to the driver, the state
/// the socket readers share, and the counter connection ids come from.
#[derive(Clone)]
pub struct SlotEnv {
    pub cfg: ConnectionConfig,
    pub tx: mpsc::Sender<IngestMsg>,
    pub readers: Arc<ws::ReaderShared>,
    pub ids: Arc<AtomicU64>,
    /// The spacing of control requests on a connection ([`microstate_io::ingest::endpoints::control_gap`]).
    pub control_gap: Duration,
}

/// What the driver keeps per slot.
pub struct Slot {
    pub plan: WsPlan,
    pub cmds: mpsc::UnboundedSender<SlotCmd>,
    /// The connection whose frames are fed.
    pub primary: Option<ConnId>,
    pub primary_since: Instant,
    pub pending: Option<Pending>,
    pub rotate_asked: Option<Instant>,
    /// For a person: "up", "connecting, attempt 2", "reconnecting: …".
    pub state: String,
    pub report: SlotReport,
    pub all_stale_since: Option<Instant>,
}

impl Slot {
    /// Starts the slot's task on the current runtime.
    pub fn spawn(index: usize, plan: WsPlan, env: SlotEnv) -> (Slot, JoinHandle<()>) {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(slot_task(index, plan.url.clone(), env, cmd_rx));
        let slot = Slot {
            report: SlotReport {
                url: plan.url.clone(),
                ..Default::default()
            },
            plan,
            cmds: cmd_tx,
            primary: None,
            primary_since: Instant::now(),
            pending: None,
            rotate_asked: None,
            state: "connecting".into(),
            all_stale_since: None,
        };
        (slot, task)
    }

    /// Asks for a successor connection (again only after [`SWITCH_TIMEOUT`]).
    pub fn request_rotate(&mut self) {
        if self
            .rotate_asked
            .is_none_or(|t| t.elapsed() > SWITCH_TIMEOUT)
        {
            self.rotate_asked = Some(Instant::now());
            let _ = self.cmds.send(SlotCmd::Rotate);
        }
    }
}

/// The URL without its query (the stream list), for a person.
pub fn short_url(u: &str) -> &str {
    u.split('?').next().unwrap_or(u)
}

/// The connections' state in a few words: `up`, or the first slot that is not.
pub fn connection_state(slots: &[Slot]) -> String {
    let n = slots.len();
    match slots.iter().find(|s| s.state != "up") {
        None if n == 1 => "up".into(),
        None => format!("up ({n} sockets)"),
        Some(s) => s.state.clone(),
    }
}

/// True when every synced symbol on the slot has been delivered by the old connection up to
/// where the new connection's first diff starts (or the wait is over).
pub fn switch_ready(engine: &Engine, market: Market, s: &Slot) -> bool {
    let Some(p) = &s.pending else { return false };
    // A silent old connection will never catch up: switch at once (a hole shows as a gap).
    if p.since.elapsed() > SWITCH_TIMEOUT || s.all_stale_since.is_some() {
        return true;
    }
    let depth_ok = s.plan.depth_symbols.iter().all(|&sym| {
        let Some(st) = engine.symbol(sym) else {
            return true;
        };
        if !st.sync.is_synced() {
            return true;
        }
        let last = st.book().last_update_id;
        match p.first.get(&sym) {
            None => false,
            Some(&(first, pu)) => match market {
                Market::Spot => last + 1 >= first,
                _ => last >= pu.unwrap_or(first.saturating_sub(1)),
            },
        }
    });
    // Trades and bookTickers too: the old socket must have delivered up to the new one's first
    // of each, or one sent just before the new socket subscribed, still unread on the old
    // socket, would be lost when the old one is closed. A kind the engine never took in sets
    // no condition.
    let others_ok = s.plan.streams.iter().all(|name| {
        let Some((sym, kind)) = name.split_once('@') else {
            return true;
        };
        let Some(st) = Symbol::new(sym.as_bytes()).and_then(|s| engine.symbol(s)) else {
            return true;
        };
        let caught_up = |have: Option<u64>, first: Option<&u64>| match (have, first) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(h), Some(&f)) => h >= f,
        };
        let trade =
            |k: TradeKind| caught_up(st.last_trade_id(k), p.first_trade.get(&(st.symbol, k)));
        match kind {
            "bookTicker" => caught_up(st.last_ticker_u(), p.first_ticker.get(&st.symbol)),
            "trade" => trade(TradeKind::Trade),
            "aggTrade" => trade(TradeKind::AggTrade),
            _ => true,
        }
    });
    depth_ok && others_ok
}

/// Jittered exponential back-off for attempt `n` (1-based).
pub fn backoff(cfg: &ConnectionConfig, n: u32, seed: u64) -> Duration {
    let base = cfg
        .backoff_initial
        .saturating_mul(1u32 << n.saturating_sub(1).min(20))
        .min(cfg.backoff_max);
    // Uniform in [-1, 1) from the project's generator.
    let z = microstate_core::rng::Rng::new(seed, 0).next_u64();
    let u = (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
    base.mul_f64((1.0 + cfg.backoff_jitter * u).max(0.0))
}

/// One logical connection: keeps a socket up with back-off, and opens a second one on request
/// for a make-before-break switch.
async fn slot_task(
    slot: usize,
    url: String,
    env: SlotEnv,
    mut cmds: mpsc::UnboundedReceiver<SlotCmd>,
) {
    let SlotEnv {
        cfg,
        tx,
        readers: shared,
        ids,
        control_gap,
    } = env;
    let mut url = url;
    struct Live {
        id: ConnId,
        retire: Option<oneshot::Sender<()>>,
        requests: mpsc::UnboundedSender<String>,
        task: JoinHandle<EndReason>,
        since: Instant,
    }
    let mut live: Vec<Live> = Vec::new();
    let mut attempt = 0u32;
    let open = |id: ConnId, ws: ws::Ws| {
        let (retire_tx, retire_rx) = oneshot::channel();
        let (req_tx, req_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(ws::serve(
            ws,
            id,
            cfg.clone(),
            tx.clone(),
            shared.clone(),
            retire_rx,
            Some(ws::Requests {
                rx: req_rx,
                min_gap: control_gap,
            }),
        ));
        Live {
            id,
            retire: Some(retire_tx),
            requests: req_tx,
            task,
            since: Instant::now(),
        }
    };
    loop {
        if live.is_empty() {
            attempt += 1;
            let id = ids.fetch_add(1, Ordering::Relaxed);
            if tx
                .send(IngestMsg::Connecting {
                    slot,
                    conn: id,
                    url: url.clone(),
                    attempt,
                })
                .await
                .is_err()
            {
                return;
            }
            match ws::connect(&url, cfg.connect_timeout, cfg.max_frame_bytes).await {
                Ok(w) => {
                    live.push(open(id, w));
                    if tx
                        .send(IngestMsg::Connected {
                            slot,
                            conn: id,
                            url: url.clone(),
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(reason) => {
                    let next_in = backoff(&cfg, attempt, id ^ (slot as u64) << 32);
                    let _ = tx
                        .send(IngestMsg::ConnectFailed {
                            slot,
                            attempt,
                            reason,
                            next_in,
                        })
                        .await;
                    tokio::select! {
                        _ = tokio::time::sleep(next_in) => {}
                        cmd = cmds.recv() => {
                            if matches!(cmd, None | Some(SlotCmd::Shutdown)) {
                                return;
                            }
                        }
                    }
                    continue;
                }
            }
        }
        let ended = futures_util::future::select_all(live.iter_mut().map(|l| &mut l.task));
        tokio::select! {
            (res, idx, _) = ended => {
                let l = live.remove(idx);
                let reason = res.unwrap_or_else(|e| EndReason::Error(format!("reader task failed: {e}")));
                let planned = reason == EndReason::Retired;
                if l.since.elapsed() >= HEALTHY_AFTER || planned {
                    attempt = 0;
                }
                if tx
                    .send(IngestMsg::Disconnected { slot, conn: l.id, reason: reason.to_string(), planned })
                    .await
                    .is_err()
                {
                    return;
                }
                if live.is_empty() && !planned && attempt > 0 {
                    // It died young: wait before trying again, so a flapping server is not hammered.
                    let next_in = backoff(&cfg, attempt, l.id);
                    tokio::time::sleep(next_in).await;
                }
            }
            cmd = cmds.recv() => match cmd {
                Some(SlotCmd::Rotate) if live.len() == 1 => {
                    let id = ids.fetch_add(1, Ordering::Relaxed);
                    let _ = tx.send(IngestMsg::Connecting { slot, conn: id, url: url.clone(), attempt: 1 }).await;
                    match ws::connect(&url, cfg.connect_timeout, cfg.max_frame_bytes).await {
                        Ok(w) => {
                            live.push(open(id, w));
                            let _ = tx.send(IngestMsg::Connected { slot, conn: id, url: url.clone() }).await;
                        }
                        Err(reason) => {
                            let _ = tx
                                .send(IngestMsg::ConnectFailed { slot, attempt: 1, reason, next_in: SWITCH_TIMEOUT })
                                .await;
                        }
                    }
                }
                Some(SlotCmd::Rotate) => {}
                Some(SlotCmd::Streams { url: next, request }) => {
                    url = next;
                    for l in &live {
                        let _ = l.requests.send(request.clone());
                    }
                }
                Some(SlotCmd::Retire(id)) => {
                    if let Some(l) = live.iter_mut().find(|l| l.id == id)
                        && let Some(r) = l.retire.take()
                    {
                        let _ = r.send(());
                    }
                }
                None | Some(SlotCmd::Shutdown) => {
                    for l in &mut live {
                        if let Some(r) = l.retire.take() {
                            let _ = r.send(());
                        }
                    }
                    for l in live {
                        let _ = tokio::time::timeout(Duration::from_secs(1), l.task).await;
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let cfg = ConnectionConfig::default();
        let d1 = backoff(&cfg, 1, 7);
        assert!(
            d1 >= Duration::from_millis(400) && d1 <= Duration::from_millis(600),
            "{d1:?}"
        );
        let d4 = backoff(&cfg, 4, 7);
        assert!(
            d4 >= Duration::from_millis(3200) && d4 <= Duration::from_millis(4800),
            "{d4:?}"
        );
        let d20 = backoff(&cfg, 20, 7);
        assert!(d20 <= Duration::from_secs(36), "{d20:?}");
        assert_ne!(
            backoff(&cfg, 3, 1),
            backoff(&cfg, 3, 2),
            "jitter differs by seed"
        );
    }
}
