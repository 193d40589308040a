//! The terminal screen (ratatui + crossterm).
//!
//! Owns: the terminal (raw mode, alternate screen — restored on quit, on panic through
//! ratatui's hook, and on Ctrl-C, which arrives as a key in raw mode, or as SIGINT/SIGTERM),
//! the UI loop, and turning keys into [`Action`]s and those into engine commands. Must not
//! touch: market state — it draws the latest `Arc<View>` the engine published, at a frame tick
//! (never per market event), and sends small commands back.
//!
//! The loop is one `select!` over the terminal's event stream, the frame tick, `view.changed()`
//! and shutdown signals. A frame is drawn only when something changed (a new view, a key, a
//! resize), at most `ui.fps` times a second.

pub mod keys;
pub mod render;
pub mod state;
pub mod theme;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::sync::watch;

pub use keys::{Action, Bindings};
pub use state::UiState;
pub use theme::Theme;

use microstate_core::view::View;
use microstate_drive::live::LiveCommand;
use microstate_drive::replay::ReplayCommand;
use microstate_io::record::format::Header;
use microstate_io::record::writer::{self, RecordOptions};

/// How the screen reaches the engine.
pub enum Control {
    Live {
        commands: tokio::sync::mpsc::UnboundedSender<LiveCommand>,
        /// What `r` needs to start a recording.
        record: Box<RecordSetup>,
    },
    Replay {
        commands: std::sync::mpsc::Sender<ReplayCommand>,
    },
}

/// Where and how a recording started from the screen is written.
#[derive(Clone, Debug)]
pub struct RecordSetup {
    pub dir: PathBuf,
    /// Header template (its time is set when recording starts).
    pub header: Header,
    pub options: RecordOptions,
}

/// Screen settings.
pub struct UiOptions {
    pub fps: u32,
    pub theme: Theme,
    pub bindings: Bindings,
}

/// Recording started from the screen: the writer thread to join at the end.
type Writer = std::thread::JoinHandle<std::io::Result<()>>;

/// Runs the screen until the user quits. The terminal is restored however it ends.
pub async fn run(
    mut views: watch::Receiver<Arc<View>>,
    control: Control,
    opts: UiOptions,
) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = ui_loop(&mut terminal, &mut views, &control, &opts).await;
    ratatui::restore();
    let writers = result?;
    for w in writers {
        match w.join() {
            Ok(Err(e)) => eprintln!("warning: the recording ended with an error: {e}"),
            Err(_) => eprintln!("warning: the recording thread panicked"),
            Ok(Ok(())) => {}
        }
    }
    Ok(())
}

async fn ui_loop(
    terminal: &mut ratatui::DefaultTerminal,
    views: &mut watch::Receiver<Arc<View>>,
    control: &Control,
    opts: &UiOptions,
) -> anyhow::Result<Vec<Writer>> {
    let mut events = EventStream::new();
    let frame = Duration::from_secs_f64(1.0 / f64::from(opts.fps.max(1)));
    let mut tick = tokio::time::interval(frame);
    let mut last_draw = std::time::Instant::now() - frame;
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut ui = UiState::default();
    let mut view: Arc<View> = views.borrow_and_update().clone();
    let mut dirty = true;
    let mut engine_gone = false;
    let mut writers: Vec<Writer> = Vec::new();
    let mut recording: Option<PathBuf> = None;
    // For the end-to-end test of the panic path: the terminal must come back even then.
    let panic_after_draw = std::env::var_os("MICROSTATE_TEST_PANIC").is_some();
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        #[cfg(unix)]
        let terminated = term.recv();
        #[cfg(not(unix))]
        let terminated = std::future::pending::<Option<()>>();
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => {
                    if let Some(a) = opts.bindings.action(&k) {
                        if a == Action::Quit {
                            break;
                        }
                        act(a, &mut ui, &view, control, &mut recording, &mut writers);
                    }
                    dirty = true;
                }
                Some(Ok(_)) => dirty = true, // resize, focus, mouse: redraw
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            changed = views.changed(), if !engine_gone => {
                if changed.is_err() {
                    engine_gone = true;
                } else if !ui.frozen {
                    view = views.borrow_and_update().clone();
                    ui.on_view(&view);
                    dirty = true;
                    // Draw a new view at once unless a frame was drawn within the frame time:
                    // the tick only catches up what this skipped.
                    if last_draw.elapsed() >= frame {
                        draw(terminal, &view, &mut ui, opts, &mut last_draw)?;
                        dirty = false;
                    }
                }
            }
            _ = tick.tick() => {
                if dirty {
                    draw(terminal, &view, &mut ui, opts, &mut last_draw)?;
                    dirty = false;
                }
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = terminated => break,
        }
        if panic_after_draw && view.seq > 0 && !dirty {
            panic!("MICROSTATE_TEST_PANIC is set: panicking after a frame, on purpose");
        }
    }
    if recording.is_some()
        && let Control::Live { commands, .. } = control
    {
        let _ = commands.send(LiveCommand::StopRecording);
    }
    Ok(writers)
}

/// Draws a frame and records how long the view waited to be drawn.
fn draw(
    terminal: &mut ratatui::DefaultTerminal,
    view: &View,
    ui: &mut UiState,
    opts: &UiOptions,
    last_draw: &mut std::time::Instant,
) -> std::io::Result<()> {
    terminal.draw(|f| render::draw(f, view, ui, &opts.theme, &opts.bindings))?;
    *last_draw = std::time::Instant::now();
    let now = microstate_io::ingest::now_nanos().0;
    if view.published_ns > 0 && now >= view.published_ns {
        ui.drawn
            .get_or_insert_with(|| microstate_core::latency::StageHist::new(60_000_000_000, 6))
            .record(now, now - view.published_ns);
    }
    Ok(())
}

/// What an action does.
fn act(
    a: Action,
    ui: &mut UiState,
    view: &View,
    control: &Control,
    recording: &mut Option<PathBuf>,
    writers: &mut Vec<Writer>,
) {
    let n = view.symbols.len().max(1);
    ui.message = None;
    let replay = |c: ReplayCommand| match control {
        Control::Replay { commands } => {
            let _ = commands.send(c);
            None
        }
        Control::Live { .. } => Some("that key is for replays".to_string()),
    };
    match a {
        Action::Quit => {}
        Action::Help => ui.help = !ui.help,
        Action::NextSymbol => ui.selected = (ui.symbol_index(view) + 1) % n,
        Action::PrevSymbol => ui.selected = (ui.symbol_index(view) + n - 1) % n,
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
        Action::Pause => match control {
            Control::Replay { commands } => {
                let _ = commands.send(ReplayCommand::TogglePause);
            }
            Control::Live { .. } => ui.frozen = !ui.frozen,
        },
        Action::Faster => ui.message = replay(ReplayCommand::Faster),
        Action::Slower => ui.message = replay(ReplayCommand::Slower),
        Action::Step => ui.message = replay(ReplayCommand::Step),
        Action::SeekBack => ui.message = replay(ReplayCommand::SeekBy(-10_000_000_000)),
        Action::SeekForward => ui.message = replay(ReplayCommand::SeekBy(10_000_000_000)),
        Action::Resync => match control {
            Control::Live { commands, .. } => {
                if let Some(s) = view.symbols.get(ui.symbol_index(view)) {
                    let _ = commands.send(LiveCommand::Resync(s.symbol));
                    ui.message = Some(format!("resyncing {} from a new snapshot", s.symbol));
                }
            }
            Control::Replay { .. } => {
                ui.message = Some("a replay resyncs exactly as recorded".into());
            }
        },
        Action::ToggleRecording => match control {
            Control::Live { commands, record } => {
                if recording.take().is_some() {
                    let _ = commands.send(LiveCommand::StopRecording);
                    ui.message = Some("recording stopped".into());
                } else {
                    match start_recording(record.as_ref()) {
                        Ok((rec, handle)) => {
                            ui.message = Some(format!("recording to {}", rec.path.display()));
                            *recording = Some(rec.path.clone());
                            writers.push(handle);
                            let _ = commands.send(LiveCommand::StartRecording(rec));
                        }
                        Err(e) => ui.message = Some(format!("cannot record: {e}")),
                    }
                }
            }
            Control::Replay { .. } => {
                ui.message = Some("recording is for live sessions".into());
            }
        },
    }
}

fn start_recording(
    setup: &RecordSetup,
) -> anyhow::Result<(
    writer::Recorder,
    std::thread::JoinHandle<std::io::Result<()>>,
)> {
    let now = microstate_io::ingest::now_nanos().0;
    let mut header = setup.header.clone();
    header.created_wall_ns = now;
    let path = setup
        .dir
        .join(writer::file_name(&header.market, &header.symbols, now));
    let (rec, handle) = writer::start(&path, &header, setup.options)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok((rec, handle))
}
