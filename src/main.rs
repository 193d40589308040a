//! The `microstate-tui` binary: command line, logging, and the edges where errors become messages.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use microstate::config::{Config, EndpointsConfig};
use microstate_core::market::Market;
use microstate_core::num::Symbol;
use microstate_core::summary::Summary;
use microstate_core::view::{Source, View};
use microstate_drive::live::{self, LiveOptions, LiveOutcome};
use microstate_drive::replay::{
    Player, PlayerOptions, ReplayCommand, ReplayOptions, TimeArg, ViewTx, attach_feature_writer,
    finish_feature_writer, play_out, play_view,
};
use microstate_exchange::{self, ExchangeConfig, ExchangeSource};

/// A real excerpt of a Binance spot capture (hftbacktest, MIT; see assets/demo/README.md).
const DEMO_CAPTURE: &[u8] = include_bytes!("../assets/demo/btcusdt_20240808-excerpt.gz");

#[derive(Parser, Debug)]
#[command(
    name = "microstate-tui",
    version,
    about = "Market-microstructure monitor for Binance order books",
    long_about = "Keeps exactly synced L2 order books from Binance diff-depth streams and REST \
snapshots, live or from recorded captures, through one engine.\n\n\
With SYMBOLs it streams them live from Binance. With nothing at all it runs the offline demo: \
a local Binance-compatible exchange serving a bundled real capture, and the live client \
connected to it.",
    after_help = "Examples:\n  \
microstate-tui                                    # offline demo (no network needed)\n  \
microstate-tui btcusdt ethusdt                    # live spot books from Binance\n  \
microstate-tui --market usdm btcusdt              # live USD-M futures\n  \
microstate-tui live btcusdt --duration 30s --summary-json -\n  \
microstate-tui replay capture.gz --summary-json - # replay a capture as fast as possible\n  \
microstate-tui exchange --capture capture.gz --speed 10   # serve a capture on 127.0.0.1\n  \
microstate-tui train context --data klines.csv.gz  # train the price-context model\n  \
microstate-tui eval --context-data klines.csv.gz --held-out --json -",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Symbols to stream live (same as `live SYMBOL...`).
    #[arg(value_name = "SYMBOL")]
    symbols: Vec<String>,
    #[command(flatten)]
    live: LiveArgs,
}

/// Options of a live session.
#[derive(clap::Args, Debug, Clone)]
struct LiveArgs {
    /// Market: spot or usdm (USD-M futures). Default: from the config file, else spot.
    #[arg(long, value_enum)]
    market: Option<Market>,
    /// Config file (default: config.toml in the platform config dir, if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Binance production or the public testnet (default: the config file's endpoints).
    #[arg(long, value_enum)]
    venue: Option<Venue>,
    /// WebSocket base URL, e.g. ws://127.0.0.1:9000 for the local exchange.
    #[arg(long, value_name = "URL")]
    ws_endpoint: Option<String>,
    /// REST base URL, e.g. http://127.0.0.1:9000.
    #[arg(long, value_name = "URL")]
    rest_endpoint: Option<String>,
    /// Stop after this long (e.g. 30s, 5m). Default: until Ctrl-C.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    duration: Option<Duration>,
    /// Write the summary as JSON to PATH ('-' for stdout) at the end.
    #[arg(long, value_name = "PATH|-")]
    summary_json: Option<String>,
    /// Run without the terminal screen (status lines on stderr, summary at the end; also when
    /// stdout is not a terminal).
    #[arg(long)]
    headless: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Venue {
    Production,
    Testnet,
}

fn parse_speed_arg(s: &str) -> Result<microstate_io::record::Speed, String> {
    microstate_io::record::Speed::parse(s)
}

fn parse_time_arg(s: &str) -> Result<TimeArg, String> {
    TimeArg::parse(s)
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    microstate::config::parse_duration(s)
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Stream SYMBOLs live: diff-depth + trades + bookTicker over WebSocket, REST snapshots.
    Live {
        #[arg(required = true, value_name = "SYMBOL")]
        symbols: Vec<String>,
        #[command(flatten)]
        live: LiveArgs,
    },
    /// Stream SYMBOLs live and record what comes off the wire (frames, snapshots, connection
    /// events) to a file that `replay` reads.
    Record {
        #[arg(required = true, value_name = "SYMBOL")]
        symbols: Vec<String>,
        /// Folder for the recording (default: the config's record.dir, else the platform data dir).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[command(flatten)]
        live: LiveArgs,
    },
    /// Replay captures (hftbacktest collector files, cryptofeed raw captures, our recordings)
    /// through the engine.
    ///
    /// Formats are detected from content; gzip is detected from the bytes. Day files of one
    /// capture (btcusdt_20240808.gz, btcusdt_20240809.gz) continue each other; cryptofeed's
    /// X.http.N and X.ws.N files are paired and merged by time. A folder means every capture in it.
    Replay {
        /// Capture files or folders.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Run without the terminal screen and print a summary (also when stdout is not a
        /// terminal).
        #[arg(long)]
        headless: bool,
        /// Write the summary as JSON to PATH ('-' for stdout) instead of the readable text.
        #[arg(long, value_name = "PATH|-")]
        summary_json: Option<String>,
        /// Force the sync rules (default: read from the data: a diff with `pu` is futures).
        #[arg(long, value_enum)]
        market: Option<Market>,
        /// Stop at the first malformed frame or line (default: count it, report it, go on).
        #[arg(long)]
        strict: bool,
        /// Pace by the recorded receive times: a factor from 0.1 to 1000 (1 = as recorded), or
        /// `max` (as fast as possible). Default: 1 on the screen, max headless.
        #[arg(long, value_parser = parse_speed_arg)]
        speed: Option<microstate_io::record::Speed>,
        /// Config file (screen settings: fps, theme, keys).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Start at this point: `+90s` (or `90s`, `2m`) after the first frame, or a UTC time
        /// `2024-08-08T23:58:00Z`. Everything before it is fed at full speed, so the books are
        /// right from the first paced frame.
        #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
        from: Option<TimeArg>,
        /// Stop after this point (same forms as --from).
        #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
        until: Option<TimeArg>,
        /// Add a "digest" (hex) of every engine output to the summary: it is the same at any
        /// speed and with any pauses.
        #[arg(long)]
        digest: bool,
        /// Write feature vectors as JSON lines to PATH ('-' for stdout): one per event, or one
        /// per symbol per --features-every of event time. Shape and names: README "Features".
        #[arg(long, value_name = "PATH|-")]
        features_jsonl: Option<String>,
        /// With --features-jsonl: one vector per symbol per DURATION of exchange event time
        /// (e.g. 100ms, 1s) instead of one per event.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, requires = "features_jsonl")]
        features_every: Option<Duration>,
    },
    /// Offline demo: a local exchange serves a bundled real BTCUSDT capture, the live client
    /// connects to it.
    Demo {
        /// Stop after this long (default: 20 s headless, until you quit on the screen).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
        duration: Option<Duration>,
        /// Run without the terminal screen (also when stdout is not a terminal).
        #[arg(long)]
        headless: bool,
        /// Replay speed of the bundled capture.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Write the summary as JSON to PATH ('-' for stdout) at the end.
        #[arg(long, value_name = "PATH|-")]
        summary_json: Option<String>,
    },
    /// Run the local Binance-compatible exchange (WebSocket + REST on one port) over captures or
    /// a synthetic market. Prints its bound address on the first line of stdout.
    Exchange {
        /// Capture files or folders to serve.
        #[arg(long = "capture", value_name = "FILE")]
        captures: Vec<PathBuf>,
        /// Serve a seeded synthetic market instead of captures.
        #[arg(long, conflicts_with = "captures")]
        synthetic: bool,
        /// Seed of the synthetic market.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Symbols of the synthetic market (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "BTCUSDT,ETHUSDT")]
        symbols: Vec<String>,
        /// Market of the synthetic data.
        #[arg(long, value_enum, default_value = "spot")]
        market: Market,
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Replay speed: a factor of real time (0.1 … 1000), or `max`.
        #[arg(long, default_value = "1")]
        speed: String,
        /// Start the capture again at its end (clients are disconnected and resync).
        #[arg(long = "loop")]
        looped: bool,
        /// Inject a fault (repeatable); see the exchange module docs for the forms.
        #[arg(long = "fault", value_name = "SPEC")]
        faults: Vec<String>,
        /// Server ping interval.
        #[arg(long, value_parser = parse_duration_arg, default_value = "20s")]
        ping_interval: Duration,
        /// Drop clients that do not answer a ping within this.
        #[arg(long, value_parser = parse_duration_arg, default_value = "60s")]
        pong_timeout: Duration,
    },
    /// Train a model from recorded data (chronological split, held-out test, model card
    /// metrics in the metadata).
    Train {
        #[command(subcommand)]
        model: TrainCommand,
    },
    /// Evaluate the models on data against simple baselines, e.g.
    /// `eval --context-data klines.csv.gz --held-out --json -`.
    Eval {
        /// Captures or recordings for the pressure model.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        data: Vec<PathBuf>,
        /// 1-minute kline CSVs (Binance 12-column, or headered OHLCV; gzip or plain) for the
        /// context model.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        context_data: Vec<PathBuf>,
        /// Models folder (holding context/ and pressure/), or one model's folder. Default: the
        /// config's models.dir (the shipped models).
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
        /// Print the tables as JSON to PATH ('-' for stdout) instead of text.
        #[arg(long, value_name = "PATH|-")]
        json: Option<String>,
        /// Only the model's held-out test period (recorded in its metadata).
        #[arg(long)]
        held_out: bool,
        /// Only samples from this UTC time on (`2025-08-01`, `2025-08-01 12:00:00`, or ms).
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Only samples whose outcome is known by this UTC time.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Only the last N minutes of each file (quick checks).
        #[arg(long, value_name = "N")]
        last_minutes: Option<usize>,
        /// Config file (context thresholds, gap rule).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum TrainCommand {
    /// The 15/30 min price-context model, from 1-minute kline CSVs.
    Context {
        /// 1-minute kline CSVs (each file one symbol's continuous history).
        #[arg(long, required = true, value_name = "FILE", num_args = 1..)]
        data: Vec<PathBuf>,
        /// Output folder (default: <models.dir>/context).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Seed of the initial weights and the batch order.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Walk-forward folds to report besides the main split (0: none).
        #[arg(long, default_value_t = 3)]
        folds: usize,
        /// Upper limit of training epochs (early stopping usually ends sooner).
        #[arg(long, default_value_t = 30)]
        max_epochs: usize,
        /// Config file (gap rule, label threshold).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// The ≈1 s order-book pressure model, from captures or recordings.
    Pressure {
        /// Captures or recordings (the last part of each is held out).
        #[arg(long, required = true, value_name = "FILE", num_args = 1..)]
        data: Vec<PathBuf>,
        /// Output folder (default: <models.dir>/pressure).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Label horizon in event time (default: models.pressure.horizon).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
        horizon: Option<Duration>,
        /// Dead band, `0.5vol`, `1spread`, `1tick` or `0.5bps` (default:
        /// models.pressure.dead_band).
        #[arg(long, value_name = "BAND")]
        dead_band: Option<String>,
        /// Also evaluate leaving each capture out in turn (trained on the others, run as live
        /// on it); the table is printed and stored in the model's metadata.
        #[arg(long)]
        loco: bool,
        /// An MLP, or the logistic baseline through the same code.
        #[arg(long, value_enum, default_value = "mlp")]
        kind: PressureKind,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum PressureKind {
    Mlp,
    Logistic,
}

fn main() -> ExitCode {
    // candle's CPU kernels read RAYON_NUM_THREADS on every matmul and, above one thread, pay a
    // rayon wake-up per small matmul (BUILD-NOTES trap 1: 28 µs vs 3 µs). Set it before any
    // other thread exists; an explicit value from the environment is kept.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: the first statement of `main`: no other thread runs yet (no runtime, no
        // logger, no thread pool), so nothing can read the environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("RAYON_NUM_THREADS", "1")
        };
    }
    microstate_io::ingest::tls::install_default_provider();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, or to `file` while the screen runs (the screen owns the terminal).
fn init_logging(file: Option<&std::path::Path>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("MICROSTATE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(if file.is_some() { "info" } else { "warn" }));
    let opened = file.and_then(|p| {
        if let Some(d) = p.parent() {
            let _ = std::fs::create_dir_all(d);
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    let _ = match opened {
        Some(f) => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::sync::Mutex::new(f))
            .with_ansi(false)
            .try_init(),
        None => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .try_init(),
    };
}

/// The screen opens unless `--headless`, or when stdin/stdout are not a terminal (scripts,
/// pipes, CI): then the run is headless and says so.
fn wants_screen(headless: bool) -> bool {
    use std::io::IsTerminal;
    if headless {
        return false;
    }
    let tty = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if !tty {
        eprintln!("(not a terminal: running headless; --headless says so explicitly)");
    }
    tty
}

/// Screen settings from the config.
fn ui_options(cfg: &Config) -> anyhow::Result<microstate::ui::UiOptions> {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Ok(microstate::ui::UiOptions {
        fps: cfg.ui.fps,
        theme: microstate::ui::Theme::new(&cfg.ui.theme, no_color),
        bindings: microstate::ui::Bindings::with_overrides(&cfg.ui.keys)
            .map_err(|e| anyhow::anyhow!(e))?,
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // Current-thread: the engine loop and the sockets share one core without cross-thread
    // wake-ups (BUILD-NOTES: 13.6 µs vs 66 µs loopback round trips).
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = match cli.command {
        Some(c) => c,
        None if !cli.symbols.is_empty() => Command::Live {
            symbols: cli.symbols,
            live: cli.live,
        },
        None => Command::Demo {
            duration: None,
            speed: 1.0,
            summary_json: None,
            headless: false,
        },
    };
    if matches!(command, Command::Exchange { .. }) {
        init_logging(None);
    }
    match command {
        Command::Replay {
            files,
            headless,
            summary_json,
            market,
            strict,
            speed,
            config,
            from,
            until,
            digest,
            features_jsonl,
            features_every,
        } => {
            let screen = wants_screen(headless);
            let (cfg, _) = microstate::config::load(config.as_deref())?;
            init_logging(screen.then(|| cfg.ui.log_path()).as_deref());
            let default_speed = if screen {
                microstate_io::record::Speed::Factor(1.0)
            } else {
                microstate_io::record::Speed::Max
            };
            let replay = ReplayOptions {
                market,
                strict,
                features: cfg.features.params(),
                features_jsonl,
                features_every,
                ..ReplayOptions::default()
            };
            let opts = PlayerOptions {
                replay: replay.clone(),
                speed: speed.unwrap_or(default_speed),
                digest,
                models: Some(microstate_drive::replay::load_models(&cfg)),
                ..PlayerOptions::default()
            };
            let mut player = Player::open(&files, opts)?;
            let writer = attach_feature_writer(&mut player, &replay)?;
            let epoch = std::time::Instant::now();
            let first = player.first_time()?;
            if let Some(first) = first {
                if let Some(u) = until {
                    player.set_until(u.resolve(first));
                }
                if let Some(f) = from {
                    let t = f.resolve(first);
                    player.command(ReplayCommand::SeekTo(t), epoch.elapsed().as_nanos() as u64)?;
                }
            }
            if screen {
                let code = screen_replay(player, &files, &cfg, epoch, summary_json)?;
                finish_feature_writer(writer, &replay)?;
                return Ok(code);
            }
            let outcome = play_out(player, None, epoch)?;
            finish_feature_writer(writer, &replay)?;
            if replay.features_jsonl.as_deref() == Some("-") && summary_json.is_none() {
                // stdout carries the JSON lines: the readable summary goes to stderr.
                eprint!("{}", render_text(&outcome.summary()));
            } else {
                emit(&outcome.summary(), summary_json.as_deref())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Train { model } => run_train(model),
        Command::Eval {
            data,
            context_data,
            model,
            json,
            held_out,
            from,
            until,
            last_minutes,
            config,
        } => run_eval(EvalArgs {
            data,
            context_data,
            model,
            json,
            held_out,
            from,
            until,
            last_minutes,
            config,
        }),
        Command::Live { symbols, live } => run_live(symbols, live, None),
        Command::Record { symbols, out, live } => run_live(symbols, live, Some(out)),
        Command::Demo {
            duration,
            speed,
            summary_json,
            headless,
        } => run_demo(duration, speed, summary_json, headless),
        Command::Exchange {
            captures,
            synthetic,
            seed,
            symbols,
            market,
            listen,
            speed,
            looped,
            faults,
            ping_interval,
            pong_timeout,
        } => {
            let source = if synthetic {
                let syms = parse_symbols(&symbols)?;
                let mut sc = microstate_exchange::synthetic::SyntheticConfig::new(seed, syms);
                sc.market = market;
                ExchangeSource::Sources(vec![Box::new(
                    microstate_exchange::synthetic::SyntheticSource::new(sc),
                )])
            } else if captures.is_empty() {
                anyhow::bail!("nothing to serve: give --capture FILE... or --synthetic");
            } else {
                ExchangeSource::Captures(captures)
            };
            let mut cfg = ExchangeConfig::new(source);
            // A synthetic market has no original session whose snapshot timing could be
            // reproduced: its snapshots are always the book at the current point.
            cfg.faithful_snapshots = !synthetic;
            cfg.listen = listen;
            cfg.speed = parse_speed(&speed)?;
            cfg.looped = looped;
            cfg.ping_interval = ping_interval;
            cfg.pong_timeout = pong_timeout;
            for f in &faults {
                cfg.faults.push(
                    microstate_exchange::parse_fault(f)
                        .map_err(|e| anyhow::anyhow!("--fault {f:?}: {e}"))?,
                );
            }
            runtime()?.block_on(async move {
                let handle = microstate_exchange::start(cfg).await?;
                // Whoever reads the address may close the pipe after it: a write error on
                // stdout must not take the exchange down.
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", handle.addr());
                let _ = out.flush();
                drop(out);
                eprintln!(
                    "serving: WebSocket {} (…/stream?streams=, /ws/, /public/…, /market/…), REST {} (/api/v3/…, /fapi/v1/…). Ctrl-C stops.",
                    handle.ws_base(),
                    handle.rest_base()
                );
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = handle.finished(), if !looped => {
                        eprintln!("end of the capture");
                    }
                }
                handle.shutdown().await;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_symbols(raw: &[String]) -> anyhow::Result<Vec<Symbol>> {
    raw.iter()
        .map(|s| s.parse::<Symbol>().map_err(|e| anyhow::anyhow!(e)))
        .collect()
}

fn parse_speed(s: &str) -> anyhow::Result<microstate_exchange::Speed> {
    microstate_exchange::Speed::parse(s).map_err(|e| anyhow::anyhow!("--{e}"))
}

/// Loads the config and applies the command line over it (CLI > file > defaults).
fn live_config(a: &LiveArgs) -> anyhow::Result<Config> {
    let (mut cfg, _path) = microstate::config::load(a.config.as_deref())?;
    if let Some(m) = a.market {
        if m == Market::CoinM {
            anyhow::bail!("--market coinm: COIN-M is read in replays but not streamed live yet");
        }
        cfg.live.market = m;
    }
    match a.venue {
        Some(Venue::Production) => cfg.endpoints = EndpointsConfig::production(),
        Some(Venue::Testnet) => cfg.endpoints = EndpointsConfig::testnet(),
        None => {}
    }
    if let Some(ws) = &a.ws_endpoint {
        cfg.endpoints.spot_ws = ws.clone();
        cfg.endpoints.usdm_ws = ws.clone();
    }
    if let Some(rest) = &a.rest_endpoint {
        cfg.endpoints.spot_rest = rest.clone();
        cfg.endpoints.usdm_rest = rest.clone();
    }
    cfg.validate("the command line")?;
    Ok(cfg)
}

/// The header of a recording of a live session (journaled: replay follows the feed).
fn record_header(
    cfg: &Config,
    symbols: &[Symbol],
    now: u64,
) -> microstate_io::record::format::Header {
    let names: Vec<String> = symbols.iter().map(|s| s.to_string()).collect();
    microstate_io::record::format::Header {
        journal: true,
        ..microstate_io::record::format::Header::new(
            cfg.live.market.as_str(),
            names,
            vec![
                cfg.endpoints.ws(cfg.live.market).to_string(),
                cfg.endpoints.rest(cfg.live.market).to_string(),
            ],
            microstate_io::ingest::clock::host_clock_info(),
            now,
        )
    }
}

type Writer = (
    microstate_io::record::writer::Recorder,
    std::thread::JoinHandle<std::io::Result<()>>,
);

fn run_live(
    symbols: Vec<String>,
    a: LiveArgs,
    record: Option<Option<PathBuf>>,
) -> anyhow::Result<ExitCode> {
    let mut cfg = live_config(&a)?;
    let symbols = parse_symbols(&symbols)?;
    let screen = wants_screen(a.headless);
    init_logging(screen.then(|| cfg.ui.log_path()).as_deref());
    let recorder = match record {
        None => None,
        Some(out) => {
            let dir = out.unwrap_or_else(|| cfg.record.folder());
            // `r` on the screen records into the same folder.
            cfg.record.dir = dir.display().to_string();
            let names: Vec<String> = symbols.iter().map(|s| s.to_string()).collect();
            let now = microstate_io::ingest::now_nanos().0;
            let path = dir.join(microstate_io::record::writer::file_name(
                cfg.live.market.as_str(),
                &names,
                now,
            ));
            let header = record_header(&cfg, &symbols, now);
            let (rec, handle) = microstate_io::record::writer::start(
                &path,
                &header,
                microstate_io::record::writer::RecordOptions::from(&cfg.record),
            )
            .with_context(|| format!("creating the recording {}", path.display()))?;
            if !screen {
                eprintln!("recording to {}", path.display());
            }
            Some((rec, handle))
        }
    };
    if screen {
        let endpoint = cfg.endpoints.ws(cfg.live.market).to_string();
        return screen_live(
            cfg,
            symbols,
            Source::Live { endpoint },
            recorder,
            None,
            a.duration,
            a.summary_json,
        );
    }
    let outcome = runtime()?.block_on(live_session(
        cfg,
        symbols,
        a.duration,
        recorder.as_ref().map(|(r, _)| r.clone()),
    ));
    if let Some(w) = recorder {
        finish_recording(w)?;
    }
    finish_live(outcome, a.summary_json.as_deref())
}

/// Closes a recording started at launch and says what it holds.
fn finish_recording((rec, handle): Writer) -> anyhow::Result<()> {
    use std::sync::atomic::Ordering::Relaxed;
    let stats = rec.stats.clone();
    drop(rec);
    let ended = handle
        .join()
        .map_err(|_| anyhow::anyhow!("the recording thread panicked"))?;
    let files = stats.files();
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "recorded {} records in {} chunks, {} bytes on disk, to {} ({} dropped: disk behind; {} lost to write failures)",
        stats.written.load(Relaxed),
        stats.chunks.load(Relaxed),
        stats.file_bytes.load(Relaxed),
        names.join(", "),
        stats.dropped.load(Relaxed),
        stats.lost.load(Relaxed),
    );
    if let Err(e) = ended {
        eprintln!(
            "error: writing the recording failed: {e} ({} failures; every chunk written before stays readable)",
            stats.failures.load(Relaxed)
        );
    } else if let Some(e) = stats.last_error() {
        eprintln!(
            "warning: the recording had {} write failure(s), last: {e}; it went on in a new part",
            stats.failures.load(Relaxed)
        );
    }
    Ok(())
}

/// The demo's local exchange: the bundled capture, looped, at `speed`.
async fn demo_exchange(speed: f64) -> anyhow::Result<microstate_exchange::ExchangeHandle> {
    let btc: Symbol = "BTCUSDT".parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let mut xcfg = ExchangeConfig::new(ExchangeSource::Memory {
        name: "bundled btcusdt_20240808 excerpt".into(),
        bytes: DEMO_CAPTURE,
        symbol: Some(btc),
    });
    xcfg.speed = microstate_exchange::Speed::Factor(speed);
    xcfg.looped = true;
    microstate_exchange::start(xcfg).await
}

/// A live session (or the demo: `demo_speed`) on the screen: the engine and its sockets on
/// their own thread and runtime, the screen on this one; quitting the screen stops the session.
#[allow(clippy::too_many_arguments)]
fn screen_live(
    cfg: Config,
    symbols: Vec<Symbol>,
    source: Source,
    recorder: Option<Writer>,
    demo_speed: Option<f64>,
    duration: Option<Duration>,
    summary_json: Option<String>,
) -> anyhow::Result<ExitCode> {
    use microstate::ui::{Control, RecordSetup};
    let (vtx, vrx) = tokio::sync::watch::channel(std::sync::Arc::new(View::default()));
    let (ctx, crx) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let every = Duration::from_secs_f64(1.0 / f64::from(cfg.ui.fps.max(1)));
    let setup = RecordSetup {
        dir: cfg.record.folder(),
        header: record_header(&cfg, &symbols, 0),
        options: microstate_io::record::writer::RecordOptions::from(&cfg.record),
    };
    let ui_opts = ui_options(&cfg)?;
    let rec = recorder.as_ref().map(|(r, _)| r.clone());
    let engine = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || -> anyhow::Result<LiveOutcome> {
            runtime()?.block_on(async move {
                let (cfg, xh) = match demo_speed {
                    Some(speed) => {
                        let h = demo_exchange(speed).await?;
                        let cfg = Config {
                            endpoints: EndpointsConfig::local(&h.ws_base(), &h.rest_base()),
                            ..cfg
                        };
                        (cfg, Some(h))
                    }
                    None => (cfg, None),
                };
                let models = microstate_drive::replay::load_models(&cfg);
                let mut opts = LiveOptions::new(cfg, symbols);
                opts.recorder = rec;
                opts.models = Some(models);
                let stop = async move {
                    match duration {
                        Some(d) => {
                            tokio::select! {
                                _ = tokio::time::sleep(d) => {}
                                _ = stop_rx => {}
                            }
                        }
                        None => {
                            let _ = stop_rx.await;
                        }
                    }
                };
                let view = ViewTx::new(vtx, every, source);
                let out = live::run_with(opts, Some(crx), Some(view), stop).await;
                if let Some(h) = xh {
                    h.shutdown().await;
                }
                Ok(out)
            })
        })
        .context("starting the engine thread")?;
    let shown = runtime()?.block_on(microstate::ui::run(
        vrx,
        Control::Live {
            commands: ctx,
            record: Box::new(setup),
        },
        ui_opts,
    ));
    let _ = stop_tx.send(());
    let outcome = engine
        .join()
        .map_err(|_| anyhow::anyhow!("the engine thread panicked"))??;
    if let Some(w) = recorder {
        finish_recording(w)?;
    }
    shown?;
    finish_live(outcome, summary_json.as_deref())
}

/// A replay on the screen: the player on its own thread, the screen on this one.
fn screen_replay(
    mut player: Player,
    files: &[PathBuf],
    cfg: &Config,
    epoch: std::time::Instant,
    summary_json: Option<String>,
) -> anyhow::Result<ExitCode> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (vtx, vrx) = tokio::sync::watch::channel(Arc::new(View::default()));
    let (ctx, crx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let every = Duration::from_secs_f64(1.0 / f64::from(cfg.ui.fps.max(1)));
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name().map_or_else(
                || f.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let source = Source::Replay {
        files: names.join(", "),
    };
    let stop2 = stop.clone();
    let engine = std::thread::Builder::new()
        .name("replay".into())
        .spawn(move || {
            let mut view = ViewTx::new(vtx, every, source);
            let r = play_view(&mut player, &crx, epoch, &mut view, &stop2);
            (player, r)
        })
        .context("starting the replay thread")?;
    let shown = runtime()?.block_on(microstate::ui::run(
        vrx,
        microstate::ui::Control::Replay { commands: ctx },
        ui_options(cfg)?,
    ));
    stop.store(true, Ordering::Relaxed);
    let (player, r) = engine
        .join()
        .map_err(|_| anyhow::anyhow!("the replay thread panicked"))?;
    shown?;
    r?;
    if summary_json.is_some() {
        let (engine, errors_total, errors, digest) = player.into_parts();
        let mut s = Summary::of(&engine, errors_total, errors);
        s.digest = digest.map(|d| d.hex());
        emit(&s, summary_json.as_deref())?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn live_session(
    cfg: Config,
    symbols: Vec<Symbol>,
    duration: Option<Duration>,
    recorder: Option<microstate_io::record::writer::Recorder>,
) -> LiveOutcome {
    let stop = async move {
        match duration {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    let models = microstate_drive::replay::load_models(&cfg);
    let mut opts = LiveOptions::new(cfg, symbols);
    opts.status_every = Some(Duration::from_secs(1));
    opts.recorder = recorder;
    opts.models = Some(models);
    live::run(opts, stop).await
}

fn finish_live(outcome: LiveOutcome, json: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut summary = Summary::of(&outcome.engine, outcome.report.frames_refused, Vec::new());
    summary.latency = Some(outcome.latency.clone());
    let never = !outcome.report.ever_connected;
    let why = outcome.report.last_failure.clone();
    summary.live = Some(outcome.report);
    emit(&summary, json)?;
    if never {
        eprintln!(
            "error: never connected{}. Check the network, or run `microstate-tui demo` to try the \
             tool offline.",
            why.map(|w| format!(" ({w})")).unwrap_or_default()
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn run_demo(
    duration: Option<Duration>,
    speed: f64,
    json: Option<String>,
    headless: bool,
) -> anyhow::Result<ExitCode> {
    let btc: Symbol = "BTCUSDT".parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let screen = wants_screen(headless);
    if screen {
        let (cfg, _) = microstate::config::load(None)?;
        init_logging(Some(&cfg.ui.log_path()));
        let capture = "bundled BTCUSDT 2024-08-08 via a local exchange".to_string();
        return screen_live(
            cfg,
            vec![btc],
            Source::Demo { capture },
            None,
            Some(speed),
            duration,
            json,
        );
    }
    init_logging(None);
    let duration = duration.unwrap_or(Duration::from_secs(20));
    let outcome = runtime()?.block_on(async move {
        let handle = demo_exchange(speed).await?;
        eprintln!(
            "Demo: a local Binance-compatible exchange on {} replays a real Binance spot BTCUSDT \
             capture (2024-08-08, bundled) at {speed}×; the live client below is the same one \
             that connects to Binance. Ctrl-C stops.",
            handle.addr()
        );
        let cfg = Config {
            endpoints: EndpointsConfig::local(&handle.ws_base(), &handle.rest_base()),
            ..Config::default()
        };
        let outcome = live_session(cfg, vec![btc], Some(duration), None).await;
        handle.shutdown().await;
        anyhow::Ok(outcome)
    })?;
    finish_live(outcome, json.as_deref())
}

/// `eval --data`: the pressure model run as live over captures (`microstate_train::pressure_eval`).
fn run_eval_pressure(a: EvalArgs) -> anyhow::Result<ExitCode> {
    use microstate_train::pressure_eval as pe;
    if !a.context_data.is_empty() {
        anyhow::bail!("give either --data (pressure) or --context-data (context), not both");
    }
    let (cfg, _) = microstate::config::load(a.config.as_deref())?;
    let root = a.model.unwrap_or_else(|| PathBuf::from(&cfg.models.dir));
    let dir = if root.join(microstate_core::ml::meta::META_FILE).is_file() {
        root
    } else {
        root.join("pressure")
    };
    let params = cfg.features.params().unwrap_or_default();
    let model = microstate_io::models::load_pressure(&dir, &params)?;
    let captures = microstate_train::pressure::group_captures(&a.data);
    let report = pe::eval_live(
        &model,
        &captures,
        &live_eval_options(&cfg, params),
        &dir.display().to_string(),
    )?;
    #[derive(serde::Serialize)]
    struct EvalOut<'a> {
        pressure: &'a pe::LiveEvalReport,
    }
    match a.json.as_deref() {
        Some(dest) => json_out(&EvalOut { pressure: &report }, dest)?,
        None => print!("{}", pe::render_live_eval(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

/// How `eval` and `train pressure --loco` run the pressure model: as live, from the config.
fn live_eval_options(
    cfg: &microstate::config::Config,
    params: microstate_core::features::FeatureParams,
) -> microstate_train::pressure_eval::LiveEvalOptions {
    let p = &cfg.models.pressure;
    microstate_train::pressure_eval::LiveEvalOptions {
        params,
        throttle_ns: p.throttle.as_nanos() as u64,
        gate: microstate_drive::replay::pressure_gate(cfg, 0),
        online: p.online.then(|| microstate_train::online::OnlineOptions {
            lr: p.online_lr,
            l2_prior: p.online_l2_prior,
            publish_every: p.online_publish_every,
            ..Default::default()
        }),
        stale_after_ns: cfg.connection.stale_after.as_nanos() as u64,
        ..Default::default()
    }
}

/// The command line as typed, for a model's metadata (`microstate-tui train …`).
fn command_line() -> String {
    let mut parts = vec!["microstate-tui".to_string()];
    for a in std::env::args().skip(1) {
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
            parts.push(format!("'{}'", a.replace('\'', "'\\''")));
        } else {
            parts.push(a);
        }
    }
    parts.join(" ")
}

fn read_kline_files(
    files: &[PathBuf],
) -> anyhow::Result<Vec<microstate_io::record::klines::KlineSeries>> {
    let mut out = Vec::new();
    for f in files {
        let s = microstate_io::record::klines::read_klines(f)?;
        if !s.gaps.is_empty() {
            let missing: u64 = s.gaps.iter().map(|g| g.missing).sum();
            eprintln!(
                "{}: {} gaps, {missing} minutes missing (short gaps filled, long ones restart the history)",
                f.display(),
                s.gaps.len()
            );
        }
        out.push(s);
    }
    Ok(out)
}

fn run_train(cmd: TrainCommand) -> anyhow::Result<ExitCode> {
    use microstate_train::context::{self as context_train, ContextTrainOptions};
    match cmd {
        TrainCommand::Pressure {
            data,
            out,
            seed,
            horizon,
            dead_band,
            kind,
            loco,
            config,
        } => {
            use microstate_train::pressure::{
                self as pt, PressureDataOptions, PressureTrainOptions,
            };
            let (cfg, _) = microstate::config::load(config.as_deref())?;
            let out = out.unwrap_or_else(|| PathBuf::from(&cfg.models.dir).join("pressure"));
            let started = std::time::Instant::now();
            let pc = &cfg.models.pressure;
            let dopts = PressureDataOptions {
                params: cfg.features.params().unwrap_or_default(),
                horizon_ns: horizon.unwrap_or(pc.horizon).as_nanos() as u64,
                throttle_ns: pc.throttle.as_nanos() as u64,
                dead_band: match dead_band {
                    Some(b) => microstate_core::ml::DeadBand::parse(&b)
                        .map_err(|e| anyhow::anyhow!("--dead-band: {e}"))?,
                    None => pc.dead_band,
                },
                ..PressureDataOptions::default()
            };
            let ds = pt::build_dataset(&pt::group_captures(&data), &dopts)?;
            eprintln!(
                "{} series, {} samples (train {}, validation {}, test {}), data {}",
                ds.series.len(),
                ds.series.iter().map(|s| s.samples.len()).sum::<usize>(),
                ds.count(pt::Part::Train),
                ds.count(pt::Part::Validation),
                ds.count(pt::Part::Test),
                ds.digest
            );
            let mut opts = PressureTrainOptions::default();
            opts.train.seed = seed;
            if matches!(kind, PressureKind::Logistic) {
                opts.hidden.clear();
            }
            let created_by = format!("microstate-tui {}", env!("CARGO_PKG_VERSION"));
            let mut t = pt::train_pressure(&ds, &opts, &command_line(), &created_by)?;
            let groups = pt::group_captures(&data);
            let loco = if loco {
                let lo = live_eval_options(&cfg, dopts.params);
                let rows = microstate_train::pressure_eval::leave_one_capture_out(
                    &groups, &dopts, &opts, &lo,
                )?;
                if let Ok(v) = toml::Value::try_from(&rows) {
                    t.meta.details.insert("leave_one_capture_out".into(), v);
                }
                Some(rows)
            } else {
                None
            };
            microstate_io::models::save_model(&out, &t.meta, &t.weights)?;
            println!(
                "trained {} in {:.1} s: best epoch {} of {} (validation loss {:.4}), temperature {:.3}\n",
                out.display(),
                started.elapsed().as_secs_f64(),
                t.report.best_epoch,
                t.report.epochs_run,
                t.report.best_val_loss,
                t.meta.temperature.unwrap_or(1.0)
            );
            println!("{}", pt::render_eval(&t.eval));
            println!("{}", pt::render_folds(&t.folds));
            if let Some(rows) = loco {
                println!("{}", microstate_train::pressure_eval::render_loco(&rows));
            }
            Ok(ExitCode::SUCCESS)
        }
        TrainCommand::Context {
            data,
            out,
            seed,
            folds,
            max_epochs,
            config,
        } => {
            let (cfg, _) = microstate::config::load(config.as_deref())?;
            let out = out.unwrap_or_else(|| PathBuf::from(&cfg.models.dir).join("context"));
            let started = std::time::Instant::now();
            let series = read_kline_files(&data)?;
            let mut opts = ContextTrainOptions::default();
            opts.train.seed = seed;
            opts.train.max_epochs = max_epochs;
            opts.folds = folds;
            opts.max_fill = cfg.models.context.max_gap_fill.as_secs() / 60;
            opts.z_threshold = cfg.models.context.z_threshold;
            let ds = context_train::build_dataset(&series, opts.max_fill);
            eprintln!(
                "{} rows from {} files ({} segments, {} minutes filled): {} samples, data {}",
                ds.rows,
                ds.files.len(),
                ds.segments,
                ds.filled_minutes,
                ds.samples.len(),
                ds.digest
            );
            let created_by = format!("microstate-tui {}", env!("CARGO_PKG_VERSION"));
            let t = context_train::train_context(&ds, &opts, &command_line(), &created_by)?;
            microstate_io::models::save_model(&out, &t.meta, &t.weights)?;
            let d = &t.meta.details;
            let get = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
            println!(
                "trained {} in {:.1} s: best epoch {} of {} (validation loss {:.4})",
                out.display(),
                started.elapsed().as_secs_f64(),
                t.report.best_epoch,
                t.report.epochs_run,
                t.report.best_val_loss
            );
            println!(
                "train {}\nvalidation {}\ntest (held out) {}\n",
                get("train_period"),
                get("validation_period"),
                get("test_period")
            );
            println!(
                "held-out test:\n{}",
                context_train::render_horizons(&t.test)
            );
            for f in &t.folds {
                println!(
                    "walk-forward fold {}: train {}, test {}\n{}",
                    f.fold,
                    f.train,
                    f.test,
                    context_train::render_horizons(&f.horizons)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

struct EvalArgs {
    data: Vec<PathBuf>,
    context_data: Vec<PathBuf>,
    model: Option<PathBuf>,
    json: Option<String>,
    held_out: bool,
    from: Option<String>,
    until: Option<String>,
    last_minutes: Option<usize>,
    config: Option<PathBuf>,
}

/// `2025-08-01`, `2025-08-01 12:00:00` (UTC) or epoch ms.
fn parse_eval_time(flag: &str, s: &str) -> anyhow::Result<i64> {
    let t = if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') {
        format!("{s} 00:00:00")
    } else {
        s.to_string()
    };
    microstate_io::record::klines::parse_time(&t).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

fn run_eval(a: EvalArgs) -> anyhow::Result<ExitCode> {
    use microstate_train::context::{self as context_train, EvalFilter};
    if !a.data.is_empty() {
        return run_eval_pressure(a);
    }
    if a.context_data.is_empty() {
        anyhow::bail!(
            "nothing to evaluate: give --context-data FILE... (1-minute klines) for the context model"
        );
    }
    let (cfg, _) = microstate::config::load(a.config.as_deref())?;
    let root = a.model.unwrap_or_else(|| PathBuf::from(&cfg.models.dir));
    let dir = if root.join(microstate_core::ml::meta::META_FILE).is_file() {
        root
    } else {
        root.join("context")
    };
    let mut model = microstate_io::models::load_context(&dir, cfg.models.context.z_threshold)?;
    let mut series = read_kline_files(&a.context_data)?;
    if let Some(n) = a.last_minutes {
        for s in &mut series {
            context_train::keep_last_minutes(s, n);
        }
    }
    let max_fill = cfg.models.context.max_gap_fill.as_secs() / 60;
    let ds = context_train::build_dataset(&series, max_fill);
    let filter = EvalFilter {
        from_ms: a
            .from
            .as_deref()
            .map(|s| parse_eval_time("--from", s))
            .transpose()?,
        until_ms: a
            .until
            .as_deref()
            .map(|s| parse_eval_time("--until", s))
            .transpose()?,
        held_out: a.held_out,
    };
    if a.held_out && context_train::test_start_ms(&model.meta).is_none() {
        anyhow::bail!(
            "--held-out: {} does not record its test period",
            dir.display()
        );
    }
    let report = context_train::eval_context(
        &mut model,
        &ds,
        &filter,
        cfg.models.context_label_index(),
        &dir.display().to_string(),
    );
    if report.n == 0 {
        anyhow::bail!(
            "no samples to evaluate in {} (each file needs more than {} minutes of prices, inside --from/--until/--held-out)",
            report.files.join(", "),
            microstate_core::ml::context::LOOKBACK + 30
        );
    }
    #[derive(serde::Serialize)]
    struct EvalOut<'a> {
        context: &'a context_train::ContextEvalReport,
    }
    let out = EvalOut { context: &report };
    match a.json.as_deref() {
        Some(dest) => json_out(&out, dest)?,
        None => {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(
                o,
                "context model {} on {} samples, {} (label horizon {}, z_threshold {}){}\n",
                report.model_dir,
                report.n,
                report.period,
                report.horizon,
                report.z_threshold,
                match report.in_sample_fraction {
                    Some(f) if f > 0.0 => format!(
                        "\nWARNING: {:.1} % of these samples are inside the model's training/validation period: not a held-out score",
                        f * 100.0
                    ),
                    _ => String::new(),
                }
            );
            let _ = o.write_all(context_train::render_horizons(&report.horizons).as_bytes());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `value` as one JSON line to stdout (`-`), or pretty to a file.
fn json_out(value: &impl serde::Serialize, dest: &str) -> anyhow::Result<()> {
    if dest == "-" {
        let mut o = std::io::stdout().lock();
        serde_json::to_writer(&mut o, value)?;
        writeln!(o)?;
    } else {
        std::fs::write(dest, serde_json::to_string_pretty(value)? + "\n")
            .with_context(|| format!("writing {dest}"))?;
    }
    Ok(())
}

/// Writes the summary as JSON to a path or stdout, or as text to stdout.
fn emit(summary: &Summary, json: Option<&str>) -> anyhow::Result<()> {
    match json {
        Some(dest) => json_out(summary, dest)?,
        // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
        None => {
            let _ = std::io::stdout()
                .lock()
                .write_all(render_text(summary).as_bytes());
        }
    }
    Ok(())
}

/// A readable summary: counts and the top of each book.
fn render_text(s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    for sym in &s.symbols {
        let d = &sym.depth_updates;
        let _ = writeln!(
            o,
            "{} ({}) — {}   frames {}  diffs applied {}  dropped before sync {}  gaps {}  resyncs {}  \
             crossed {}  trades {}  bookTicker check {}/{}",
            sym.symbol,
            sym.market,
            sym.state.to_uppercase(),
            sym.frames,
            d.applied,
            d.dropped_before_sync,
            sym.gaps,
            sym.resyncs,
            sym.crossed_events,
            sym.trades,
            sym.book_ticker_check.matched,
            sym.book_ticker_check.compared,
        );
        let f = &sym.final_book;
        let _ = writeln!(
            o,
            "  last update id {}   levels {} bids / {} asks",
            f.last_update_id.map_or("-".to_string(), |u| u.to_string()),
            f.bid_levels,
            f.ask_levels
        );
        let _ = writeln!(
            o,
            "  {:>16} {:>14} | {:<16} {:<14}",
            "bid qty", "bid", "ask", "ask qty"
        );
        for i in 0..f.bids.len().max(f.asks.len()).min(5) {
            let (bp, bq) = f
                .bids
                .get(i)
                .map_or(("", ""), |l| (l[0].as_str(), l[1].as_str()));
            let (ap, aq) = f
                .asks
                .get(i)
                .map_or(("", ""), |l| (l[0].as_str(), l[1].as_str()));
            let _ = writeln!(o, "  {bq:>16} {bp:>14} | {ap:<16} {aq:<14}");
        }
        o.push('\n');
    }
    if let Some(l) = &s.live {
        for c in &l.connections {
            let url = c.url.split('?').next().unwrap_or(&c.url);
            let _ = writeln!(
                o,
                "connection {url}: {} connected in {} attempts, {} dropped, {} switch-overs, {} server shutdowns{}",
                c.connections,
                c.attempts,
                c.disconnects,
                c.switch_overs,
                c.server_shutdowns,
                c.last_disconnect
                    .as_ref()
                    .map(|d| format!(" (last drop: {d})"))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(
            o,
            "frames {} received, {} shed, {} refused; snapshots {} of {} requested ok; HTTP 429 {}, 418 {}{}",
            l.frames_received,
            l.frames_shed,
            l.frames_refused,
            l.snapshots_ok,
            l.snapshot_requests,
            l.rest_429,
            l.rest_418,
            if l.stale_symbols.is_empty() {
                String::new()
            } else {
                format!("; stale at the end: {}", l.stale_symbols.join(", "))
            }
        );
    } else if s.errors_total > 0 {
        let _ = writeln!(o, "{} frames or lines could not be used:", s.errors_total);
        for e in &s.errors {
            let _ = writeln!(o, "  {e}");
        }
    }
    if let Some(r) = &s.run {
        let _ = writeln!(
            o,
            "{} frames in {:.3} s ({:.0} frames/s, including decompression)",
            s.frames_total, r.elapsed_s, r.frames_per_s
        );
    }
    o
}
