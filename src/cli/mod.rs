//! The command line: what each subcommand takes and which driver it starts.
//!
//! Owns: the argument definitions (clap), one module per subcommand, the API flags and start
//! ([`serve`]), the thread/runtime/channel
//! wiring of the screen with a driver ([`screen`]) and every report the binary prints
//! ([`report`]). Must not touch: the run loops (the drive crate), training and evaluation
//! themselves (the train crate: the bodies here only call into it and print what it returns),
//! market logic.
//!
//! Precedence of settings: command line > config file > defaults ([`live::live_config`]).

mod data;
mod demo;
mod eval;
mod exchange;
mod export;
mod live;
mod replay;
mod report;
mod screen;
mod serve;
mod setup;
mod symbols;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes scripts can trust (also in `--help` and the README's reliability section).
pub mod exit {
    /// Live, record, demo: the session never connected.
    pub const NEVER_CONNECTED: u8 = 2;
    /// Replay: nothing usable was read.
    pub const NOTHING_READ: u8 = 3;
    /// Record: the recording lost data.
    pub const RECORDING_LOST_DATA: u8 = 4;
    /// Live, record, demo: a requested symbol never synced.
    pub const NEVER_SYNCED: u8 = 5;
    /// Live, record, demo: the session stopped on its own because a task it needs gave up
    /// (`live.fatal` in the summary).
    pub const TASK_GAVE_UP: u8 = 6;
}

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
microstate-tui eval --context-data klines.csv.gz --held-out --json -\n  \
microstate-tui export capture.gz --out parquet/            # Parquet for DuckDB, Polars, Spark\n\n\
Exit codes (scripts can trust them; the first that applies):\n  \
0  success\n  \
1  an error, said on stderr (bad arguments or config, a file that cannot be opened)\n  \
2  live/record/demo: never connected\n  \
3  replay: nothing usable was read (no frame the engine could take)\n  \
4  record: the recording lost data (records dropped or lost to write failures)\n  \
5  live/record/demo: a requested symbol never synced\n  \
6  live/record/demo: a task the session needs gave up (`live.fatal` in the summary)",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Symbols to stream live (same as `live SYMBOL...`).
    #[arg(value_name = "SYMBOL")]
    symbols: Vec<String>,
    #[command(flatten)]
    live: live::LiveArgs,
}

// The variants' doc comments are the subcommands' help; the argument structs carry none, so
// clap takes the text from here.
#[derive(Subcommand, Debug)]
enum Command {
    /// Stream SYMBOLs live: diff-depth + trades + bookTicker over WebSocket, REST snapshots.
    Live(live::LiveCmd),
    /// Stream SYMBOLs live and record what comes off the wire (frames, snapshots, connection
    /// events) to a file that `replay` reads.
    Record(live::RecordCmd),
    /// Replay captures (hftbacktest collector files, cryptofeed raw captures, our recordings)
    /// through the engine.
    ///
    /// Formats are detected from content; gzip is detected from the bytes. Day files of one
    /// capture (btcusdt_20240808.gz, btcusdt_20240809.gz) continue each other; cryptofeed's
    /// X.http.N and X.ws.N files are paired and merged by time. A folder means every capture in it.
    Replay(replay::ReplayCmd),
    /// Offline demo: a local exchange serves a bundled real BTCUSDT capture, the live client
    /// connects to it.
    Demo(demo::DemoCmd),
    /// Run the local Binance-compatible exchange (WebSocket + REST on one port) over captures or
    /// a synthetic market. Prints its bound address on the first line of stdout.
    Exchange(exchange::ExchangeCmd),
    /// Train a model from recorded data (chronological split, held-out test, model card
    /// metrics in the metadata).
    Train {
        #[command(subcommand)]
        model: train::TrainCmd,
    },
    /// Evaluate the models on data against simple baselines, e.g.
    /// `eval --context-data klines.csv.gz --held-out --json -`.
    Eval(eval::EvalCmd),
    /// Export captures and recordings to hive-partitioned Parquet (book, trades, features,
    /// signals, events) for DuckDB, Polars and Spark, through the replay engine.
    ///
    /// Writes OUT/<table>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/part-<n>.parquet. Files get their
    /// final names only once all are complete; an existing export is refused unless
    /// --overwrite. The same input gives byte-identical files.
    Export(export::ExportCmd),
}

/// Runs what the command line asks. With SYMBOLs and no subcommand: `live`; with nothing: the
/// demo on the screen.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = match cli.command {
        Some(c) => c,
        None if !cli.symbols.is_empty() => {
            symbols::check_not_a_command(&cli.symbols)?;
            Command::Live(live::LiveCmd {
                symbols: cli.symbols,
                live: cli.live,
            })
        }
        None => Command::Demo(demo::DemoCmd::default()),
    };
    match command {
        Command::Live(c) => live::run(c.symbols, c.live, None),
        Command::Record(c) => live::run(c.symbols, c.live, Some(c.out)),
        Command::Replay(c) => replay::run(c),
        Command::Demo(c) => demo::run(c),
        Command::Exchange(c) => exchange::run(c),
        Command::Train { model } => train::run(model),
        Command::Eval(c) => eval::run(c),
        Command::Export(c) => export::run(c),
    }
}
