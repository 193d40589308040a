//! Reading the exchange's source on its own thread, ahead of the replay clock.
//!
//! Owns: opening (and, when looping, reopening) the source, merging its files by receive time,
//! classifying each frame once ([`super::streams`]), moving later passes on in time and ids
//! ([`super::passes`]), and the symbol catalog. Must not touch:
//! pacing, the book or clients (that is [`super::clock`]). Reading and inflating captures is
//! blocking work, so it runs on a plain thread and hands frames over a bounded channel: the
//! clock is never blocked by the disk, and the reader never runs further ahead than
//! [`LOOKAHEAD`] frames.

use std::io::BufRead;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Bytes;

use super::passes::{Span, shift};
use super::streams::{StreamKey, classify_rest, classify_ws, level_decimals, level_tick};

/// Depth bodies per symbol looked at for its tick.
const TICK_SAMPLES: u8 = 32;
use super::{ExchangeSource, Shared, bump, lock};
use microstate_core::num::{Nanos, Symbol};
use microstate_io::record::hftbacktest::{HftSource, symbol_from_name};
use microstate_io::record::{FrameKind, FrameSource, Merge, Merged, open_captures};

/// Frames read ahead of the clock. Also how far the reader looks before the symbol catalog is
/// declared complete enough to answer "unknown symbol".
pub(crate) const LOOKAHEAD: usize = 8192;

/// One frame, read and classified.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    /// Local receive time in the capture.
    pub recv: Nanos,
    /// A captured REST snapshot body rather than a WebSocket frame.
    pub rest: bool,
    /// The symbol the reader attached (REST snapshots do not name theirs).
    pub hint: Option<Symbol>,
    pub symbol: Option<Symbol>,
    pub key: Option<StreamKey>,
    /// The whole captured frame or body.
    pub bytes: Bytes,
    /// The payload inside `bytes` (the combined envelope's `data`, or all of it).
    pub payload: Range<usize>,
    pub event_ms: Option<u64>,
    pub transact_ms: Option<u64>,
    pub depth: bool,
    /// Futures data: a diff with `pu`, or a snapshot with `E`.
    pub futures_hint: bool,
}

/// What the reader sends the clock.
#[derive(Debug)]
pub(crate) enum Feed {
    Frame(Prepared),
    /// A line that could not be read (reading goes on).
    Error(String),
    /// The source is exhausted; when looping, the next pass follows.
    EndOfPass,
}

/// Opens the source, again for each pass.
pub(crate) enum Opener {
    Captures(Vec<std::path::PathBuf>),
    Memory {
        name: String,
        bytes: &'static [u8],
        symbol: Option<Symbol>,
    },
    /// Given sources: usable once.
    Once(Option<Vec<Box<dyn FrameSource + Send>>>),
}

impl Opener {
    pub fn new(src: ExchangeSource) -> Opener {
        match src {
            ExchangeSource::Captures(p) => Opener::Captures(p),
            ExchangeSource::Memory {
                name,
                bytes,
                symbol,
            } => Opener::Memory {
                name,
                bytes,
                symbol,
            },
            ExchangeSource::Sources(s) => Opener::Once(Some(s)),
        }
    }

    /// Opens the source for one pass.
    pub fn open(&mut self) -> anyhow::Result<Vec<Box<dyn FrameSource + Send>>> {
        match self {
            Opener::Captures(paths) => {
                let sources =
                    open_captures(paths).with_context(|| format!("opening captures {paths:?}"))?;
                if sources.is_empty() {
                    anyhow::bail!("no capture files found in {paths:?}");
                }
                Ok(sources)
            }
            Opener::Memory {
                name,
                bytes,
                symbol,
            } => {
                let data: &'static [u8] = bytes;
                let reader: Box<dyn BufRead + Send> = if data.starts_with(&[0x1f, 0x8b]) {
                    Box::new(std::io::BufReader::with_capacity(
                        1 << 16,
                        flate2::read::MultiGzDecoder::new(data),
                    ))
                } else {
                    Box::new(data)
                };
                let hint = symbol.or_else(|| symbol_from_name(Path::new(name.as_str())));
                Ok(vec![Box::new(HftSource::from_reader(name, reader, hint))])
            }
            Opener::Once(s) => s
                .take()
                .context("these sources were already served once and cannot be reopened"),
        }
    }
}

/// Starts the reader thread. It stops when the clock drops its receiver.
pub(crate) fn spawn_reader(
    mut opener: Opener,
    first: Vec<Box<dyn FrameSource + Send>>,
    looped: bool,
    tx: mpsc::Sender<Feed>,
    shared: Arc<Shared>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("exchange-reader".into())
        .spawn(move || {
            let mut sources = Some(first);
            let mut pass = 0u64;
            let mut span = Span::default();
            loop {
                let srcs = match sources.take() {
                    Some(s) => s,
                    None => match opener.open() {
                        Ok(s) => s,
                        Err(e) => {
                            bump(&shared.counters.read_errors);
                            let _ = tx.blocking_send(Feed::Error(format!("{e:#}")));
                            let _ = tx.blocking_send(Feed::EndOfPass);
                            shared.catalog_ready.send_replace(true);
                            return;
                        }
                    },
                };
                if !read_pass(srcs, &tx, &shared, pass, looped.then_some(&mut span)) {
                    return;
                }
                shared.catalog_ready.send_replace(true);
                if tx.blocking_send(Feed::EndOfPass).is_err() || !looped {
                    return;
                }
                pass += 1;
            }
        })
        .map(|_| ())
}

/// Reads one pass. `false` when the clock has gone away.
fn read_pass(
    sources: Vec<Box<dyn FrameSource + Send>>,
    tx: &mpsc::Sender<Feed>,
    shared: &Shared,
    pass: u64,
    // Only a looped source is measured and moved (the first pass as read, later ones shifted).
    mut span: Option<&mut Span>,
) -> bool {
    let moved = span.as_ref().map(|s| s.shift(pass)).unwrap_or_default();
    let mut merge = Merge::new(sources);
    let mut count = 0usize;
    while let Some(item) = merge.next_frame() {
        let feed = match item {
            Merged::Error(e) => {
                bump(&shared.counters.read_errors);
                Feed::Error(e.to_string())
            }
            // A recorded session's book reset is the client's business, not the market's.
            Merged::Frame { frame, .. } if frame.kind == FrameKind::Reset => continue,
            // A recorded kline answer is what a client fetched, not market data to replay (the
            // exchange answers kline requests from its own store).
            Merged::Frame { frame, .. }
                if frame.kind == FrameKind::Rest
                    && microstate_core::wire::klines::is_klines_body(frame.body()) =>
            {
                continue;
            }
            Merged::Frame { frame, file } => {
                // Later passes go on in time and ids from where the first one ended.
                let (recv, body) = if pass == 0 || span.is_none() {
                    if let Some(span) = span.as_deref_mut() {
                        span.observe(frame.recv.0, frame.body());
                    }
                    (frame.recv, std::borrow::Cow::Borrowed(frame.body()))
                } else {
                    let recv = Nanos(
                        frame
                            .recv
                            .0
                            .saturating_add(moved.time_ms.saturating_mul(1_000_000)),
                    );
                    (recv, std::borrow::Cow::Owned(shift(frame.body(), moved)))
                };
                match prepare(recv, frame.kind, frame.symbol_hint, &body) {
                    Ok(p) => {
                        if pass == 0 {
                            learn(shared, &p);
                        }
                        Feed::Frame(p)
                    }
                    Err(msg) => {
                        bump(&shared.counters.read_errors);
                        Feed::Error(format!("{file}:{}: {msg}", frame.line))
                    }
                }
            }
        };
        if tx.blocking_send(feed).is_err() {
            return false;
        }
        count += 1;
        if count == LOOKAHEAD {
            shared.catalog_ready.send_replace(true);
        }
    }
    true
}

/// Classifies one captured frame. Frames that are not UTF-8 cannot be WebSocket text: refused.
fn prepare(
    recv: Nanos,
    kind: FrameKind,
    hint: Option<Symbol>,
    body: &[u8],
) -> Result<Prepared, String> {
    if std::str::from_utf8(body).is_err() {
        return Err("frame is not UTF-8 text".into());
    }
    let bytes = Bytes::copy_from_slice(body);
    let rest = kind == FrameKind::Rest;
    let c = if rest {
        classify_rest(body)
    } else {
        // A frame that is not JSON is still emitted (and counted) but reaches nobody; the
        // engine reports it.
        classify_ws(body).unwrap_or_default()
    };
    Ok(Prepared {
        recv,
        rest,
        hint,
        symbol: if rest { hint } else { c.symbol },
        key: c.key,
        payload: if c.payload.is_empty() {
            0..body.len()
        } else {
            c.payload
        },
        bytes,
        event_ms: c.event_ms,
        transact_ms: c.transact_ms,
        depth: c.depth,
        futures_hint: c.futures_hint,
    })
}

/// Records the symbol, its market and number format in the catalog.
fn learn(shared: &Shared, p: &Prepared) {
    let Some(sym) = p.symbol else { return };
    let mut cat = lock(&shared.catalog);
    if cat.first_event_ms.is_none() {
        cat.first_event_ms = p.event_ms;
    }
    if !cat.symbols.contains_key(&sym) {
        cat.order.push(sym);
    }
    let info = cat.symbols.entry(sym).or_default();
    if p.depth || p.rest {
        // A futures sign is definitive; spot is what a diff without `pu` says.
        if info.futures != Some(true) {
            info.futures = Some(p.futures_hint);
        }
        if info.decimals.is_none() {
            info.decimals = level_decimals(&p.bytes[p.payload.clone()]);
        }
        // A few bodies are enough (a snapshot alone usually is); not every frame is parsed.
        if info.tick_samples < TICK_SAMPLES {
            info.tick_samples += 1;
            if let Some(t) = level_tick(&p.bytes[p.payload.clone()]) {
                info.tick = Some(info.tick.map_or(t, |x| x.min(t)));
            }
        }
    }
}
