//! The terminal screen (ratatui + crossterm).
//!
//! Owns: the terminal (raw mode, alternate screen — restored on quit, on panic through
//! ratatui's hook, and on Ctrl-C, which arrives as a key in raw mode, or when the shared
//! [`Shutdown`] is given: the command line wires SIGINT/SIGTERM to it), the UI loop, and turning
//! keys into [`Action`]s and those into the drivers' [`Command`]s. Must not touch: market state —
//! it draws the latest `Arc<View>` the engine published, at a frame tick (never per market
//! event), and sends small commands back; recordings (the live driver starts and owns them).
//!
//! The loop is one `select!` over the terminal's event stream, the frame tick, `view.changed()`,
//! the driver's events and shutdown. A frame is drawn only when something changed (a new view, a
//! key, a notice, a resize), at most `ui.fps` times a second.

pub mod chart;
pub mod clock;
pub mod depth;
pub mod heat;
pub mod keys;
pub mod mouse;
pub mod prompt;
pub mod render;
pub mod sort;
pub mod state;
pub mod theme;

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, KeyEventKind};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use tokio::sync::watch;

pub use keys::{Action, Bindings};
pub use state::UiState;
pub use theme::Theme;

use microstate_core::view::{Source, View};
use microstate_drive::command::{self, Command, ScreenEnd, Switch};
use microstate_drive::replay::ReplayCommand;
use microstate_drive::shutdown::Shutdown;
use prompt::{Prompt, PromptKind, PromptOutcome};

/// Screen settings.
pub struct UiOptions {
    pub fps: u32,
    pub theme: Theme,
    pub bindings: Bindings,
    /// Panels shown at start, the tape's large-trade thresholds, the bell.
    pub panels: PanelOptions,
    /// Mouse capture on (`ui.mouse`): clicks and the wheel reach the screen.
    pub mouse: bool,
}

/// What the screen starts with besides the defaults (`[ui.tape]`, `[ui.volume]`, `[alerts]`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PanelOptions {
    pub tape: bool,
    pub volume: bool,
    /// Highlight taker orders at least this big (base, quote); `None`: off.
    pub tape_large: (Option<f64>, Option<f64>),
    /// Ring the terminal bell on new alerts.
    pub bell: bool,
    /// Contiguous ladder, quote sizes, levels per side (`[ui.ladder]`).
    pub ladder: state::LadderOptions,
    /// Panels hidden at start, per [`state::Panel::ALL`] (`[ui.layout] hide`).
    pub hidden_panels: [bool; 6],
}

/// The screen's terminal: crossterm on a buffered stdout (std's stdout is line-buffered with
/// a 1 KiB buffer, so one frame's escape codes went out in several writes; buffered, a frame
/// is one write at ratatui's flush).
type Term = Terminal<CrosstermBackend<std::io::BufWriter<std::io::Stdout>>>;

/// Raw mode, the alternate screen and a terminal of the current size — what `ratatui::init`
/// does (its panic hook included: a panic restores the terminal before the message prints),
/// but with a buffered stdout and a fixed viewport. A fullscreen viewport asks the terminal
/// its size before every frame (crossterm opens `/dev/tty` for that: three system calls a
/// frame); a fixed one is resized when the terminal reports a resize (`Event::Resize`).
fn init_terminal() -> std::io::Result<Term> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        ratatui::restore();
        hook(info);
    }));
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    let (w, h) = crossterm::terminal::size()?;
    let backend = CrosstermBackend::new(std::io::BufWriter::with_capacity(
        1 << 16,
        std::io::stdout(),
    ));
    Terminal::with_options(
        backend,
        ratatui::TerminalOptions {
            viewport: ratatui::Viewport::Fixed(Rect::new(0, 0, w, h)),
        },
    )
}

/// Terminal input, read on a thread of its own and handed over a channel.
///
/// Why not crossterm's `EventStream`: every time the loop's `select!` polls it (on every view
/// and every tick), it tries its global reader lock with a zero timeout while its own wake
/// thread holds that lock, blocked in `poll`; the failed try spins through parking_lot's
/// back-off, seven `sched_yield` calls each time — about 700 system calls a second in a 1×
/// replay, for no input. Here one thread owns the reader and waits in `poll` with a timeout
/// (to see `stop`); the loop only polls a channel.
struct Input {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Event>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Input {
    /// How long the reader waits for input before it looks at `stop`: the most a quit waits
    /// for the thread.
    const POLL: Duration = Duration::from_millis(50);

    fn start() -> std::io::Result<Input> {
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let halt = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("input".into())
            .spawn(move || {
                use std::sync::atomic::Ordering;
                while !halt.load(Ordering::Relaxed) {
                    let ev = match crossterm::event::poll(Self::POLL) {
                        Ok(false) => continue,
                        Ok(true) => crossterm::event::read(),
                        Err(e) => Err(e),
                    };
                    let failed = ev.is_err();
                    // The loop has gone (or fell behind by 256 events while it ends): stop.
                    if tx.blocking_send(ev).is_err() || failed {
                        break;
                    }
                }
            })?;
        Ok(Input {
            rx,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Unblocks a reader waiting to hand over an event.
        self.rx.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs the screen until the user quits or `shutdown`. The terminal is restored however it
/// ends.
pub async fn run(
    mut views: watch::Receiver<Arc<View>>,
    mut driver: ScreenEnd,
    opts: UiOptions,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut terminal = match init_terminal() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            return Err(e.into());
        }
    };
    if opts.mouse {
        mouse_capture(true);
    }
    let result = ui_loop(&mut terminal, &mut views, &mut driver, &opts, shutdown).await;
    if opts.mouse {
        mouse_capture(false);
    }
    ratatui::restore();
    result
}

/// Turns the terminal's mouse reporting on or off. On, a panic also turns it off (before
/// ratatui's own hook restores the rest), so a crash never leaves the shell reading mouse
/// escape codes.
fn mouse_capture(on: bool) {
    use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
    let mut out = std::io::stdout();
    if on {
        let _ = crossterm::execute!(out, EnableMouseCapture);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
            previous(info);
        }));
    } else {
        let _ = crossterm::execute!(out, DisableMouseCapture);
    }
}

async fn ui_loop(
    terminal: &mut Term,
    views: &mut watch::Receiver<Arc<View>>,
    driver: &mut ScreenEnd,
    opts: &UiOptions,
    mut shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut input = Input::start()?;
    let frame = Duration::from_secs_f64(1.0 / f64::from(opts.fps.max(1)));
    let mut tick = tokio::time::interval(frame);
    let mut last_draw = std::time::Instant::now() - frame;
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut ui = UiState::with_panels(&opts.panels);
    // What the engine published, and what the screen shows of it (without removed symbols).
    let mut raw: Arc<View> = views.borrow_and_update().clone();
    let mut view: Arc<View> = raw.clone();
    let mut dirty = true;
    // When the view→drawn percentiles were last read (ns, wall clock).
    let mut drawn_read = 0u64;
    let mut engine_gone = false;
    let mut driver_events = true;
    // The end-to-end test of the panic path (tests/integration/tmux.rs) needs the real binary to panic
    // with the screen up. Compiled only with the `test-hooks` feature — which the package's
    // own dev-dependency on itself turns on for its tests — so a release build has no such
    // path; a cargo feature rather than a constructor argument because the panic must happen
    // inside the real binary's UI loop, which tests reach only through the command line.
    #[cfg(feature = "test-hooks")]
    let panic_after_draw = std::env::var_os("MICROSTATE_TEST_PANIC").is_some();
    loop {
        tokio::select! {
            ev = input.rx.recv() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release && ui.prompt.is_some() => {
                    on_prompt_key(&k, &mut ui, &raw, driver);
                    view = ui.visible(raw.clone());
                    dirty = true;
                }
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => {
                    if let Some(a) = opts.bindings.action(&k) {
                        if a == Action::Quit {
                            driver.send(Command::Quit);
                            break;
                        }
                        act(a, &mut ui, &view, &raw, driver);
                        view = ui.visible(raw.clone());
                    }
                    dirty = true;
                }
                Some(Ok(Event::Mouse(m))) => {
                    if ui.on_mouse(&m, &view) {
                        dirty = true;
                    }
                }
                Some(Ok(Event::Resize(w, h))) => {
                    terminal.resize(Rect::new(0, 0, w, h))?;
                    dirty = true;
                }
                Some(Ok(_)) => dirty = true, // focus, paste: redraw
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            changed = views.changed(), if !engine_gone => {
                if changed.is_err() {
                    engine_gone = true;
                } else if !ui.frozen {
                    raw = views.borrow_and_update().clone();
                    view = ui.visible(raw.clone());
                    if view.alerts_raised > ui.alerts_seen {
                        ui.alerts_seen = view.alerts_raised;
                        if opts.panels.bell {
                            use std::io::Write;
                            let mut out = std::io::stdout();
                            let _ = out.write_all(b"\x07").and_then(|()| out.flush());
                        }
                    }
                    ui.on_view(&view);
                    dirty = true;
                    // Draw a new view at once unless a frame was drawn within the frame time:
                    // the tick only catches up what this skipped.
                    if last_draw.elapsed() >= frame {
                        draw(terminal, &view, &mut ui, opts, &mut last_draw, &mut drawn_read)?;
                        dirty = false;
                    }
                }
            }
            ev = driver.events.recv(), if driver_events => match ev {
                Some(command::Event::Notice(text)) => {
                    ui.message = Some(text);
                    dirty = true;
                }
                // The last view stays on screen until the user quits.
                Some(command::Event::Ended) | None => driver_events = false,
            },
            _ = tick.tick() => {
                if dirty {
                    draw(terminal, &view, &mut ui, opts, &mut last_draw, &mut drawn_read)?;
                    dirty = false;
                }
            }
            _ = shutdown.recv() => break,
        }
        #[cfg(feature = "test-hooks")]
        if panic_after_draw && view.seq > 0 && !dirty {
            panic!("MICROSTATE_TEST_PANIC is set: panicking after a frame, on purpose");
        }
    }
    Ok(())
}

/// Draws a frame and records how long the view waited to be drawn.
fn draw(
    terminal: &mut Term,
    view: &View,
    ui: &mut UiState,
    opts: &UiOptions,
    last_draw: &mut std::time::Instant,
    drawn_read: &mut u64,
) -> std::io::Result<()> {
    ui.prepare(view);
    let mut hits = mouse::Hits::default();
    terminal.draw(|f| hits = render::draw_hits(f, view, ui, &opts.theme, &opts.bindings))?;
    ui.hits = hits;
    *last_draw = std::time::Instant::now();
    let now = microstate_io::ingest::now_nanos().0;
    if view.published_ns > 0 && now >= view.published_ns {
        ui.drawn
            .get_or_insert_with(|| microstate_core::latency::StageHist::new(60_000_000_000, 6))
            .record(now, now - view.published_ns);
        if ui.drawn_view.is_none() || *drawn_read + DRAWN_EVERY_NS <= now {
            *drawn_read = now;
            ui.drawn_view = ui.drawn.as_ref().map(drawn_view);
        }
    }
    Ok(())
}

/// How often the view→drawn percentiles are read off their histogram (ns).
const DRAWN_EVERY_NS: u64 = 500_000_000;

/// The screen's own stage as the latency panel shows it.
fn drawn_view(h: &microstate_core::latency::StageHist) -> microstate_core::view::StageView {
    let p = microstate_core::latency::Percentiles::of(&h.total);
    microstate_core::view::StageView {
        name: "view→drawn".into(),
        count: p.count,
        p50: p.p50,
        p90: p.p90,
        p99: p.p99,
        p999: p.p999,
        max: p.max,
        buckets: Vec::new(),
    }
}

/// What an action does: the screen's own state here; the rest is a command to the driver,
/// which answers with a notice when it cannot do it (a live session has no speed, a replay no
/// recording).
fn act(a: Action, ui: &mut UiState, view: &View, raw: &View, driver: &ScreenEnd) {
    let n = view.symbols.len().max(1);
    ui.message = None;
    let replay = |c: ReplayCommand| {
        driver.send(Command::Replay(c));
    };
    match a {
        Action::Quit => {}
        Action::Help => ui.help = !ui.help,
        Action::CloseHelp => ui.help = false,
        // In the table's order (sorted or not).
        Action::NextSymbol => ui.select_step(view, 1),
        Action::PrevSymbol => ui.select_step(view, n - 1),
        Action::SortColumn => {
            ui.sort = ui.sort.next();
            ui.message = Some(format!("symbols sorted by {}", ui.sort.label()));
        }
        Action::SortReverse => {
            ui.sort_desc = !ui.sort_desc;
            ui.message = Some(format!(
                "symbols sorted by {} {}",
                ui.sort.label(),
                if ui.sort_desc {
                    "descending"
                } else {
                    "ascending"
                }
            ));
        }
        Action::Symbol(i) => {
            if usize::from(i) < view.symbols.len() {
                ui.selected = usize::from(i);
            } else {
                ui.message = Some(format!("there is no symbol {}", i + 1));
            }
        }
        Action::ZoomIn => ui.zoom = ui.zoom.saturating_sub(1),
        Action::ZoomOut => ui.zoom = (ui.zoom + 1).min(state::ZOOMS.len() - 1),
        Action::Heatmap => ui.heatmap = !ui.heatmap,
        Action::LatencyStage => ui.latency_stage = ui.latency_stage.wrapping_add(1),
        // A replay's view says it is one: space pauses it; live, it freezes the screen.
        Action::Pause if view.replay.is_some() => replay(ReplayCommand::TogglePause),
        Action::Pause => ui.frozen = !ui.frozen,
        Action::Faster => replay(ReplayCommand::Faster),
        Action::Slower => replay(ReplayCommand::Slower),
        Action::NormalSpeed => replay(ReplayCommand::SetSpeed(
            microstate_io::record::Speed::Factor(1.0),
        )),
        Action::Step => replay(ReplayCommand::Step),
        Action::SeekBack => replay(ReplayCommand::SeekBy(-10_000_000_000)),
        Action::SeekForward => replay(ReplayCommand::SeekBy(10_000_000_000)),
        Action::Resync => {
            if let Some(s) = view.symbols.get(ui.symbol_index(view)) {
                driver.send(Command::Resync(s.symbol));
            }
        }
        Action::ToggleRecording => {
            driver.send(Command::Record(Switch::Toggle));
        }
        Action::Tape => ui.tape = !ui.tape,
        Action::Volume => ui.volume = !ui.volume,
        Action::ResetReference => {
            ui.reset_reference(view);
            ui.message = Some("volume: pulled/stacked counted from now".into());
        }
        Action::AddSymbol => {
            // Live: every symbol the venue lists; otherwise those of the session (hidden ones
            // come back).
            let choices = if raw.listed.is_empty() {
                raw.symbols.iter().map(|s| s.symbol.to_string()).collect()
            } else {
                raw.listed.iter().map(|s| s.to_string()).collect()
            };
            ui.prompt = Some(Prompt::new(PromptKind::AddSymbol, choices));
        }
        Action::RemoveSymbol => match view.symbols.get(ui.symbol_index(view)) {
            Some(_) if view.symbols.len() <= 1 => {
                ui.message = Some("the last symbol stays on screen".into());
            }
            // A live session unsubscribes it for real.
            Some(s) if raw.live.is_some() => {
                driver.send(Command::RemoveSymbol(s.symbol));
                ui.message = Some(format!("removing {}: unsubscribing", s.symbol));
            }
            Some(s) => {
                ui.hidden.insert(s.symbol);
                let behind = match view.source {
                    Source::Replay { .. } => "the replay still plays it",
                    _ => "its book keeps syncing behind the screen",
                };
                ui.message = Some(format!(
                    "{} removed from the screen ({behind}; `a` brings it back)",
                    s.symbol
                ));
            }
            None => {}
        },
        Action::GoTo if view.replay.is_some() => {
            ui.prompt = Some(Prompt::new(PromptKind::GoTo, Vec::new()));
        }
        Action::GoTo => ui.message = Some("go to a time is for replays".into()),
        Action::HeatZoomIn => ui.heat.zoom_in(),
        Action::HeatZoomOut => ui.heat.zoom_out(),
        Action::HeatUp => ui.heat.pan_by(5),
        Action::HeatDown => ui.heat.pan_by(-5),
        Action::HeatCentre => ui.heat.recentre(),
        Action::Contiguous => ui.ladder.contiguous = !ui.ladder.contiguous,
        Action::QuoteSizes => ui.ladder.quote = !ui.ladder.quote,
        Action::FullScreen => ui.full = ui.full.next(),
        Action::Panel(i) => ui.toggle_panel(state::Panel::from_index(i)),
        Action::AddAlert => {
            if view.symbols.is_empty() {
                ui.message = Some("no symbol to watch yet".into());
            } else {
                ui.prompt = Some(Prompt::new(PromptKind::Alert, Vec::new()));
            }
        }
    }
}

/// A key while a prompt is open: typed into it; Enter does what it asked.
fn on_prompt_key(k: &crossterm::event::KeyEvent, ui: &mut UiState, raw: &View, driver: &ScreenEnd) {
    let Some(p) = ui.prompt.as_mut() else {
        return;
    };
    let kind = p.kind;
    let text = match p.key(k) {
        PromptOutcome::Open => return,
        PromptOutcome::Cancel => {
            ui.prompt = None;
            return;
        }
        PromptOutcome::Submit(t) => t,
    };
    ui.prompt = None;
    if text.is_empty() {
        return;
    }
    ui.message = Some(submit(kind, &text, ui, raw, driver));
}

/// What a submitted prompt does, and what to tell the person.
fn submit(
    kind: PromptKind,
    text: &str,
    ui: &mut UiState,
    raw: &View,
    driver: &ScreenEnd,
) -> String {
    match kind {
        PromptKind::AddSymbol => {
            let Some(sym) = microstate_core::num::Symbol::new(text.as_bytes()) else {
                return format!("{text:?} is not a symbol (letters and digits)");
            };
            if raw.symbols.iter().any(|s| s.symbol == sym) {
                ui.hidden.remove(&sym);
                let shown: Vec<_> = raw
                    .symbols
                    .iter()
                    .filter(|s| !ui.hidden.contains(&s.symbol))
                    .map(|s| s.symbol)
                    .collect();
                ui.selected = shown.iter().position(|s| *s == sym).unwrap_or(0);
                return format!("{sym} on screen");
            }
            let known: Vec<String> = raw.symbols.iter().map(|s| s.symbol.to_string()).collect();
            // A live session (the demo is one, against its own exchange) subscribes it, once
            // the venue's list says it exists.
            if raw.live.is_some() {
                if !raw.listed.is_empty() && !raw.listed.contains(&sym) {
                    let near = prompt::closest(sym.as_str(), raw.listed.iter().map(|s| s.as_str()));
                    let venue = match raw.source {
                        Source::Demo { .. } => format!(
                            "the demo's exchange (it serves {})",
                            raw.listed
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        _ => "this venue's exchangeInfo".to_string(),
                    };
                    return match near.as_slice() {
                        [] => format!("{sym} is not listed on {venue}; nothing added"),
                        _ => format!(
                            "{sym} is not listed on {venue}: did you mean {}?",
                            near.join(", ")
                        ),
                    };
                }
                driver.send(Command::AddSymbol(sym));
                ui.select_when_shown = Some(sym);
                return format!("adding {sym}: subscribing…");
            }
            match raw.source {
                Source::Replay { .. } => format!(
                    "a replay has only its recorded symbols ({}); {sym} is not among them",
                    known.join(", ")
                ),
                Source::Demo { .. } => format!(
                    "the demo's exchange serves {} only; {sym} needs a live session",
                    known.join(", ")
                ),
                _ => format!(
                    "adding {sym} to a running session is not built yet: start it with `microstate-tui {} {}`",
                    known.join(" ").to_lowercase(),
                    sym.lower()
                ),
            }
        }
        PromptKind::GoTo => {
            let Some(r) = &raw.replay else {
                return "go to a time is for replays".into();
            };
            match prompt::parse_goto(text, r.first_ns, r.position_ns, r.last_ns) {
                Ok(t) => {
                    driver.send(Command::Replay(ReplayCommand::SeekTo(
                        microstate_core::num::Nanos(t),
                    )));
                    format!("going to {}", render::fmt::clock(t))
                }
                Err(e) => e,
            }
        }
        PromptKind::Alert => {
            let price = text.replace(',', "");
            let Ok(price) = price.parse::<f64>() else {
                return format!("{text:?} is not a price");
            };
            if !(price.is_finite() && price > 0.0) {
                return format!("{text:?}: a price is above 0");
            }
            let shown = ui.visible(std::sync::Arc::new(raw.clone()));
            let Some(s) = shown.symbols.get(ui.symbol_index(&shown)) else {
                return "no symbol to watch".into();
            };
            let level = microstate_core::alerts::PriceLevel {
                symbol: s.symbol,
                price,
            };
            driver.send(Command::AlertPrice(level));
            format!("alert when {} crosses {price}", s.symbol)
        }
    }
}
