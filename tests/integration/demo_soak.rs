//! The demo for an hour of market time: the very demo of `microstate-tui demo`
//! (`microstate::demo`: the bundled capture looped by the local exchange, the client's weight
//! budget scaled to the speed) at 60×, its view checked every market minute — every panel
//! alive, and the clocks only moving forward across loops. An hour at 60× covers the issue's
//! "demo at 1× for 10 minutes" six times over, through the same client and exchange.
//!
//! Every panel, each minute: the status bar (connection up, clock offset measured), the
//! ladder and the spread, the price chart (its history moves on), imbalance and OFI, the
//! pressure panel (its probabilities move), the context panel (trend and forecast), the
//! interpretation (ready), latency (stages holding samples), the tape (a newer taker
//! order), volume at price, the symbols table (synced, not stale); and the screen itself, drawn
//! from that view at 120×40 with the tape and volume shown, says none of the things a dead
//! panel says ("not loaded", "waiting for a snapshot", "no trades yet", GAP→RESYNC, STALE).
//!
//! Before the exchange moved each looped pass on in time and ids, the first loop sent event
//! time and update ids back ~53 s: OFI read "—" for good, the pressure panel said "book
//! resyncing" while the book was synced, and the clock offset jumped back. The checks below
//! wait for the condition (a loop's resync takes a moment), with a hang guard, never a timing
//! assertion.

use std::sync::Arc;
use std::time::{Duration, Instant};

use microstate::config::{Config, EndpointsConfig};
use microstate_core::book::sync::Phase;
use microstate_core::view::{ModelView, Source, View};
use microstate_drive::live::{self, LiveOptions};
use microstate_drive::publish::Publisher;
use microstate_drive::shutdown::Stop;
use tokio::sync::watch;

/// Market minutes checked, and the demo's speed: 60 minutes at 60× is about a minute of wall time.
const MINUTES: u64 = 60;
const SPEED: f64 = 60.0;

/// What a person would see as dead on the screen, or `None` when every panel is alive.
fn dead_panel(v: &View) -> Option<String> {
    let Some(s) = v.symbols.first() else {
        return Some("no symbol".into());
    };
    if s.phase != Phase::Synced || s.stale {
        return Some(format!("book {:?} stale {}", s.phase, s.stale));
    }
    if s.mid.is_none() || s.bids.is_empty() || s.asks.is_empty() {
        return Some("ladder empty".into());
    }
    let Some(f) = &s.features else {
        return Some("no features".into());
    };
    // The 1 s and 10 s windows refill within seconds of a loop's resync; the 60 s window
    // never spans a whole pass of a 53 s capture, so it is not asked for.
    if f.ofi_norm[0].is_none() || f.ofi_norm[1].is_none() {
        return Some(format!("OFI {:?}", f.ofi_norm));
    }
    if f.imbalance[0].is_none() {
        return Some("imbalance —".into());
    }
    match &s.pressure {
        ModelView::Missing(why) => return Some(format!("pressure: {why}")),
        ModelView::Ready(_) => {}
    }
    match &s.context {
        ModelView::Missing(why) => return Some(format!("context: {why}")),
        ModelView::Ready(_) => {}
    }
    if let ModelView::Missing(why) = &s.interpretation
        && (why.contains("resync") || why.contains("stale") || why.contains("gap"))
    {
        return Some(format!("interpretation: {why}"));
    }
    if !matches!(&s.interpretation, ModelView::Ready(_)) {
        return Some("interpretation not ready".into());
    }
    if let ModelView::Ready(c) = &s.context
        && (c.trend.is_empty() || c.forecast.is_empty())
    {
        return Some("context without trend or forecast".into());
    }
    if v.latency.is_empty() {
        return Some("no latency stages".into());
    }
    if !v.connection.starts_with("up") {
        return Some(format!("connection: {}", v.connection));
    }
    if v.clock_offset.is_none() {
        return Some("no clock offset".into());
    }
    if s.tape.is_empty() {
        return Some("tape empty".into());
    }
    if s.volume.is_empty() {
        return Some("volume at price empty".into());
    }
    None
}

/// What a person sees: the screen drawn from `v` at 120×40 with the tape and volume shown;
/// `Some(what)` when it says something only a dead panel says.
fn dead_on_screen(v: &View) -> Option<String> {
    use microstate::ui::{Bindings, PanelOptions, Theme, UiState};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let mut ui = UiState::with_panels(&PanelOptions {
        tape: true,
        volume: true,
        ..PanelOptions::default()
    });
    ui.prepare(v);
    let theme = Theme::new(&Default::default(), true);
    let mut t = Terminal::new(TestBackend::new(120, 40)).ok()?;
    t.draw(|f| microstate::ui::render::draw(f, v, &ui, &theme, &Bindings::default()))
        .ok()?;
    let buf = t.backend().buffer();
    let text: String = (0..40)
        .map(|y| (0..120).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
        .collect();
    for panel in [
        " Depth ",
        " Tape ",
        " Volume",
        " Imbalance",
        " Pressure",
        " Latency",
        " Symbols",
    ] {
        if !text.contains(panel) {
            return Some(format!("no {panel:?} panel on screen:\n{text}"));
        }
    }
    [
        "not loaded",
        "waiting for",
        "no trades yet",
        "no book yet",
        "no prices yet",
        "GAP→RESYNC",
        "STALE",
        "not measured yet",
    ]
    .into_iter()
    .find(|m| text.contains(m))
    .map(|m| format!("the screen says {m:?}:\n{text}"))
}

#[test]
fn the_demo_keeps_every_panel_alive_for_an_hour_at_60x() {
    // A minute of full load: not beside the live tests, whose clients must keep up.
    let _turn = crate::common::soak_turn();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let x = microstate::demo::exchange_config(SPEED).expect("demo exchange");
        let sources = x.kline_sources();
        let h = microstate_exchange::start(x).await.expect("exchange");
        let cfg = microstate::demo::client_config(
            Config {
                endpoints: EndpointsConfig::local(&h.ws_base(), &h.rest_base()),
                ..Config::default()
            },
            SPEED,
        );
        let mut opts = LiveOptions::new(cfg.clone(), vec![microstate::demo::symbol()]);
        opts.models = Some(microstate_drive::models::load_models(&cfg));
        opts.history_sources = sources;
        let (tx, mut rx) = watch::channel(Arc::new(View::default()));
        let every = Duration::from_secs(1) / cfg.ui.fps.max(1);
        let publisher = Publisher::new(tx, every, Source::None);
        let stop = Stop::new();
        let session = tokio::spawn(live::run_with(opts, None, Some(publisher), stop.shutdown()));

        let minute = Duration::from_secs_f64(60.0 / SPEED);
        // How long a check waits for a loop's resync to pass: a hang guard on a loaded machine.
        let guard = Duration::from_secs(20);
        let mut last_id = 0u64;
        let mut last_applied = 0u64;
        let mut last_trades = 0u64;
        let mut last_t = 0u64;
        let mut last_offset: Option<i64> = None;
        let mut last_tape_ns = 0u64;
        let mut last_pressure: Option<(f64, f64, f64)> = None;
        let mut alive_views = 0u64;
        for m in 1..=MINUTES {
            tokio::time::sleep(minute).await;
            let start = Instant::now();
            // Alive, and moved on since the last check (a live book, not a frozen one: new
            // diffs and trades, ids forward, the chart moving) — waited for, as a loop's
            // resync or a loaded machine may hold it a moment.
            let moved = |v: &View| -> Option<String> {
                let s = &v.symbols[0];
                let t = s.history.samples.back().map_or(0, |x| x.t_ns);
                if s.last_update_id <= last_id {
                    Some(format!(
                        "update ids did not move forward: {} after {last_id}",
                        s.last_update_id
                    ))
                } else if s.applied <= last_applied {
                    Some("no diff applied".into())
                } else if s.trades <= last_trades {
                    Some("no trade".into())
                } else if t <= last_t {
                    Some(format!(
                        "the price chart did not move on: {t} after {last_t}"
                    ))
                } else if s.tape.first().is_none_or(|r| r.t_ns <= last_tape_ns) {
                    Some("the tape did not move on".into())
                } else if v.latency.iter().all(|x| x.count == 0) {
                    // The stages are rolling windows: samples in the last window, not a total.
                    Some("latency stages hold no sample".into())
                } else if let ModelView::Ready(p) = &s.pressure
                    && last_pressure == Some((p.p_up, p.p_flat, p.p_down))
                {
                    Some("the pressure panel did not move".into())
                } else {
                    dead_on_screen(v)
                }
            };
            let v = loop {
                let v = rx.borrow_and_update().clone();
                match dead_panel(&v).or_else(|| moved(&v)) {
                    None => break v,
                    Some(why) if start.elapsed() > guard => {
                        panic!("market minute {m}: still dead after {guard:?}: {why}")
                    }
                    Some(_) => {
                        let _ =
                            tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
                    }
                }
            };
            alive_views += 1;
            let s = &v.symbols[0];
            last_id = s.last_update_id;
            last_applied = s.applied;
            last_trades = s.trades;
            last_t = s.history.samples.back().map_or(0, |x| x.t_ns);
            last_tape_ns = s.tape.first().map_or(0, |r| r.t_ns);
            if let ModelView::Ready(p) = &s.pressure {
                last_pressure = Some((p.p_up, p.p_flat, p.p_down));
            }
            // At 60× exchange time runs ahead of the local clock: the offset only grows.
            if let (Some((off, _)), Some(prev)) = (v.clock_offset, last_offset) {
                assert!(
                    off >= prev - 2_000_000_000,
                    "minute {m}: the clock offset went back: {off} ns after {prev} ns ({})",
                    v.clock_source
                );
            }
            if let Some((off, _)) = v.clock_offset {
                last_offset = Some(off);
            }
        }
        assert_eq!(alive_views, MINUTES);
        let stats = h.stats();
        assert!(
            stats.passes >= 30,
            "an hour of market time loops the 53 s capture many times: {} passes",
            stats.passes
        );
        stop.stop();
        let out = session.await.expect("session");
        let gaps = out
            .engine
            .symbols()
            .iter()
            .map(|s| s.sync.counters().gaps)
            .sum::<u64>();
        assert!(gaps >= 30, "one gap per loop, each resynced: {gaps}");
        h.shutdown().await;
    });
}
