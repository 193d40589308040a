//! `live` and `record` (and SYMBOLs with no subcommand): a live session from Binance (or any
//! compatible endpoint), on the screen or headless, optionally recorded.
//!
//! Owns: the live options on the command line, laying them over the config file, and the
//! headless session's end (summary, exit code). Must not touch: the session itself (the drive
//! crate's live driver), the screen's wiring ([`super::screen`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use microstate::config::{Config, EndpointsConfig};
use microstate_core::market::Market;
use microstate_core::num::Symbol;
use microstate_core::summary::Summary;
use microstate_core::view::Source;
use microstate_drive::live::{self, LiveOptions, LiveOutcome};
use microstate_drive::recording::{RecordSetup, Recording};
use microstate_drive::shutdown::Stop;

use super::report;
use super::setup::{init_logging, parse_duration_arg, parse_symbols, runtime, wants_screen};

/// Options of a live session.
#[derive(clap::Args, Debug, Clone)]
pub struct LiveArgs {
    /// Market: spot or usdm (USD-M futures). Default: from the config file, else spot.
    #[arg(long, value_enum)]
    market: Option<Market>,
    /// Config file (default: config.toml in the platform config dir, if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Folder holding the models (pressure/, context/). Default: `models.dir` if it holds one,
    /// else models/ beside the binary, in the data dir, or in the source tree.
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
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
    #[command(flatten)]
    pub api: super::serve::ApiArgs,
    /// Also publish what comes off the wire (frames, snapshots, resets) to NATS JetStream at
    /// nats://HOST:PORT, in the `[nats]` stream (created when missing).
    #[arg(long, value_name = "nats://HOST:PORT")]
    publish: Option<String>,
    /// Read a collector's stream from NATS JetStream at nats://HOST:PORT instead of Binance:
    /// the same engine, the same books (no sockets to the exchange, no REST).
    #[arg(long, value_name = "nats://HOST:PORT", conflicts_with_all = ["publish", "venue", "ws_endpoint", "rest_endpoint"])]
    source: Option<String>,
    /// With --source, where to start: `latest` (the latest snapshot of the symbols, the
    /// default), `start` (the stream's oldest message), `seq:N`, a UTC time
    /// (`2026-12-07T19:00:00Z`, `+01:00` offsets, or `"2026-12-07 19:00:00"`), or a duration
    /// ago (`10m`).
    #[arg(long, value_name = "FROM", requires = "source")]
    from: Option<String>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Venue {
    Production,
    Testnet,
}

#[derive(clap::Args, Debug)]
pub struct LiveCmd {
    #[arg(required = true, value_name = "SYMBOL")]
    pub symbols: Vec<String>,
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(clap::Args, Debug)]
pub struct RecordCmd {
    #[arg(required = true, value_name = "SYMBOL")]
    pub symbols: Vec<String>,
    /// Folder for the recording (default: the config's record.dir, else the platform data dir).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub live: LiveArgs,
}

/// Loads the config and applies the command line over it (CLI > file > defaults).
pub fn live_config(a: &LiveArgs) -> anyhow::Result<Config> {
    let (mut cfg, _path) = microstate::config::load(a.config.as_deref())?;
    microstate::config::resolve_models(&mut cfg, a.models.as_deref());
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
pub fn record_header(
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

/// Where recordings of this session go (`r` on the screen, or `record` from the start).
pub fn record_setup(cfg: &Config, symbols: &[Symbol]) -> RecordSetup {
    RecordSetup {
        dir: cfg.record.folder(),
        header: record_header(cfg, symbols, 0),
        options: microstate_io::record::writer::RecordOptions::from(&cfg.record),
    }
}

/// `live SYMBOL…`, or `record SYMBOL…` (`record` is `Some(--out)`).
pub fn run(
    symbols: Vec<String>,
    a: LiveArgs,
    record: Option<Option<PathBuf>>,
) -> anyhow::Result<ExitCode> {
    let mut cfg = live_config(&a)?;
    let api = a.api.options(&mut cfg)?;
    let symbols = parse_symbols(&symbols)?;
    let screen = wants_screen(a.headless);
    if let Some(url) = &a.source {
        if record.is_some() {
            anyhow::bail!(
                "--source: `record` writes what comes off the wire; record on the collector (`record … --publish`)"
            );
        }
        microstate_io::bus::check_url(url)?;
        return source_run(cfg, symbols, &a, screen);
    }
    if let Some(url) = &a.publish {
        microstate_io::bus::check_url(url)?;
    }
    init_logging(screen.then(|| cfg.ui.log_path()).as_deref());
    runtime()?.block_on(super::symbols::check_listed(&cfg, &symbols))?;
    let recording = match record {
        None => None,
        Some(out) => {
            // `r` on the screen records into the same folder.
            cfg.record.dir = out
                .unwrap_or_else(|| cfg.record.folder())
                .display()
                .to_string();
            let rec = record_setup(&cfg, &symbols).start().map_err(|e| {
                anyhow::Error::new(e.source)
                    .context(format!("creating the recording {}", e.path.display()))
            })?;
            if !screen {
                eprintln!("recording to {}", rec.path().display());
            }
            Some(rec)
        }
    };
    if screen {
        let endpoint = cfg.endpoints.ws(cfg.live.market).to_string();
        let setup = record_setup(&cfg, &symbols);
        let outcome = super::screen::live(
            cfg,
            symbols,
            Source::Live { endpoint },
            setup,
            recording,
            None,
            a.duration,
            a.publish.clone(),
        )?;
        return finish(outcome, a.summary_json.as_deref());
    }
    let outcome = runtime()?.block_on(async {
        let bus = match &a.publish {
            Some(url) => Some(
                microstate_io::bus::BusPublisher::start(url, &cfg.nats, cfg.live.market).await?,
            ),
            None => None,
        };
        session(
            cfg,
            symbols,
            a.duration,
            recording,
            HashMap::new(),
            api,
            bus,
        )
        .await
    })?;
    report::recordings(&outcome.recordings)?;
    finish(outcome, a.summary_json.as_deref())
}

/// A headless live session: status lines every second, until Ctrl-C or `duration`.
/// `history_sources` says where the exchange's klines come from, when the caller knows. With
/// `api`, the API serves the session's views and trades on this runtime until it ends.
pub async fn session(
    cfg: Config,
    symbols: Vec<Symbol>,
    duration: Option<Duration>,
    recording: Option<Recording>,
    history_sources: HashMap<Symbol, String>,
    api: Option<microstate_api::ApiOptions>,
    bus: Option<microstate_io::bus::BusPublisher>,
) -> anyhow::Result<LiveOutcome> {
    let stop = Stop::new();
    stop.on_ctrl_c();
    let shutdown = stop.shutdown().or_after(duration);
    let api_stop = Stop::new();
    let (views, server) = match api {
        None => (None, None),
        Some(opts) => {
            let ch = super::serve::Channels::new(&opts);
            let every = Duration::from_secs_f64(1.0 / f64::from(cfg.ui.fps.max(1)));
            let publisher = microstate_drive::publish::Publisher::new(
                ch.views,
                every,
                Source::Live {
                    endpoint: cfg.endpoints.ws(cfg.live.market).to_string(),
                },
            )
            .with_events(ch.events.clone());
            let h = super::serve::start(opts, ch.watch, ch.events, api_stop.shutdown())?;
            (Some(publisher), Some(h))
        }
    };
    let (models, learner) = super::setup::live_models(&cfg);
    let mut opts = LiveOptions::new(cfg, symbols);
    opts.status_every = Some(Duration::from_secs(1));
    opts.recording = recording;
    opts.models = Some(models);
    opts.learner = learner;
    opts.history_sources = history_sources;
    opts.bus = bus;
    let out = live::run_with(opts, None, views, shutdown).await;
    api_stop.stop();
    if let Some(h) = server {
        let _ = tokio::time::timeout(Duration::from_secs(3), h.join()).await;
    }
    Ok(out)
}

/// `live --source nats://…`: a consumer of a collector's JetStream stream, through the same
/// engine; on the screen or headless (the summary at the end, as `replay` prints it).
fn source_run(
    cfg: Config,
    symbols: Vec<Symbol>,
    a: &LiveArgs,
    screen: bool,
) -> anyhow::Result<ExitCode> {
    use microstate_drive::bus_source::{self, ConsumeOptions, Until};
    let url = a.source.clone().unwrap_or_default();
    let start = microstate_io::bus::Start::parse(
        a.from.as_deref().unwrap_or("latest"),
        microstate_io::ingest::now_nanos().0,
    )
    .map_err(anyhow::Error::msg)?;
    if screen {
        let outcome = super::screen::bus(cfg, symbols, url.clone(), start, a.duration)?;
        return finish_source(outcome, &url, a.summary_json.as_deref());
    }
    init_logging(None);
    eprintln!(
        "consuming {url} (stream {}) from {start:?}",
        cfg.nats.stream
    );
    let outcome = runtime()?.block_on(async {
        // The Ctrl-C handler needs the runtime.
        let stop = Stop::new();
        stop.on_ctrl_c();
        let mut shutdown = stop.shutdown().or_after(a.duration);
        bus_source::consume(
            &cfg,
            &url,
            &symbols,
            ConsumeOptions {
                start,
                until: Until::Stopped,
                status_every: Some(Duration::from_secs(1)),
            },
            None,
            async move { shutdown.recv().await },
        )
        .await
    })?;
    finish_source(outcome, &url, a.summary_json.as_deref())
}

/// The end of a consumer's run: the summary (its books and counters, as a replay's).
fn finish_source(
    o: microstate_drive::bus_source::BusOutcome,
    url: &str,
    json: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let mut summary = Summary::of(&o.engine, o.refused, Vec::new());
    summary.bus = Some(o.report(url));
    report::summary(&summary, json)?;
    Ok(ExitCode::SUCCESS)
}

/// The end of a live session: the summary, and the exit code ([`super::exit`]): never
/// connected, a recording that lost data, a requested symbol that never synced, a task the
/// session needs that gave up (`live.fatal` in the summary).
pub fn finish(outcome: LiveOutcome, json: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut summary = Summary::of(&outcome.engine, outcome.report.frames_refused, Vec::new());
    summary.latency = Some(outcome.latency.clone());
    // A stale symbol is not shown as `synced` beside the list that calls it stale.
    for s in &mut summary.symbols {
        if outcome.report.stale_symbols.contains(&s.symbol) && s.state == "synced" {
            s.state = "stale".to_string();
        }
    }
    let never = !outcome.report.ever_connected;
    let why = outcome.report.last_failure.clone();
    let fatal = outcome.report.fatal.clone();
    summary.live = Some(outcome.report);
    report::summary(&summary, json)?;
    if never {
        eprintln!(
            "error: never connected{}. Check the network, or run `microstate-tui demo` to try the \
             tool offline.",
            // The reason may quote a peer: no control bytes reach the terminal.
            why.map(|w| format!(" ({})", microstate_core::limits::escape_controls(&w)))
                .unwrap_or_default()
        );
        return Ok(ExitCode::from(super::exit::NEVER_CONNECTED));
    }
    if report::recordings_lost_data(&outcome.recordings) {
        eprintln!("error: the recording lost data (see the account above)");
        return Ok(ExitCode::from(super::exit::RECORDING_LOST_DATA));
    }
    let unsynced: Vec<String> = outcome
        .engine
        .symbols()
        .iter()
        .filter(|s| s.sync.counters().applied == 0)
        .map(|s| s.symbol.to_string())
        .collect();
    if !unsynced.is_empty() {
        eprintln!(
            "error: never synced: {} (no snapshot bridged by the stream during the session)",
            unsynced.join(", ")
        );
        return Ok(ExitCode::from(super::exit::NEVER_SYNCED));
    }
    if let Some(f) = fatal {
        eprintln!("error: the session stopped: {f}");
        return Ok(ExitCode::from(super::exit::TASK_GAVE_UP));
    }
    Ok(ExitCode::SUCCESS)
}
