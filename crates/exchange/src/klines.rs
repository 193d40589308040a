//! The exchange's 1-minute klines: what `/api/v3/klines`, `/fapi/v1/klines` and
//! `/dapi/v1/klines` answer.
//!
//! Owns: per symbol, the klines handed in at start (kline CSV files, the synthetic market's own
//! history before it starts, or a synthetic history for a capture that has no real klines of its
//! time: [`synthetic_history_for`]) and the klines built from the trades the replay clock passes
//! (the minute in progress included, as Binance does), the choice of which to answer for a
//! range, and their JSON. Must not touch: sockets, weights (that is `rest`), the clock.
//!
//! # What is served at a replay point `now`
//! - preloaded klines only once complete (`close_time < now`): a file knows a minute's final
//!   values before the minute is over, and serving them early would tell the future;
//! - klines built from passed trades, including the minute in progress;
//! - where both have a minute, the one built from trades.
//!
//! Choice within a range, as Binance documents it: spot and USD-M return up to `limit` klines
//! from `startTime` on (or the `limit` most recent up to `endTime` / now); COIN-M returns the
//! `limit` most recent within `[startTime, endTime]`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use microstate_core::market::Market;
use microstate_core::num::{Price, Qty, SCALE, Symbol, format_decimal};
use microstate_core::wire::klines::WireKline;
use microstate_io::record::klines::KlineSeries;

const MINUTE_MS: u64 = 60_000;

/// Klines of one symbol handed to the exchange at start (see [`crate::ExchangeConfig::klines`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SymbolKlines {
    pub symbol: Symbol,
    /// Sorted by open time, one per minute at most.
    pub klines: Vec<WireKline>,
    /// Where they came from, for logs (`file.csv.gz`, `synthetic history`).
    pub source: String,
}

/// A float from a kline file as an exact 8-decimal mantissa (Binance's precision).
fn mantissa(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        (v * SCALE as f64).round() as u64
    } else {
        0
    }
}

/// A kline file's rows as Binance would serve them (prices rounded to 8 decimals, the close
/// time `open + 59 999 ms`, no trade count). Missing open/high/low (a close-only file) become
/// the close; missing volume 0.
pub fn from_series(symbol: Symbol, s: &KlineSeries) -> SymbolKlines {
    let klines = s
        .rows
        .iter()
        .filter(|k| k.open_time_ms >= 0)
        .map(|k| {
            let c = mantissa(k.close);
            let or = |v: f64| match mantissa(v) {
                0 => c,
                m => m,
            };
            let volume = mantissa(k.volume);
            WireKline {
                open_time_ms: k.open_time_ms as u64,
                open: Price(or(k.open)),
                high: Price(or(k.high)),
                low: Price(or(k.low)),
                close: Price(c),
                volume: Qty(volume),
                close_time_ms: k.open_time_ms as u64 + MINUTE_MS - 1,
                quote_volume: Qty(quote(c, volume)),
                trades: 0,
            }
        })
        .collect();
    SymbolKlines {
        symbol,
        klines,
        source: s.source.clone(),
    }
}

/// What every synthetic history is called where it is served and shown: a screen showing a
/// context built on it must say so plainly.
pub const SYNTHETIC_HISTORY: &str = "synthetic history";

/// A synthetic 1-minute history of `minutes` klines for `symbol` ending where a capture starts:
/// the last kline closes at the boundary of `end_ms`'s minute at `end_price`, so the history
/// runs straight into the capture's prices. A random walk of about 2 bp a minute with a slowly
/// changing drift, on a price grid of `tick`, deterministic from `seed` (integer arithmetic).
/// For a capture that has no real klines of its time (the demo); labelled
/// [`SYNTHETIC_HISTORY`].
pub fn synthetic_history(
    symbol: Symbol,
    end_ms: u64,
    end_price: Price,
    tick: Price,
    minutes: usize,
    seed: u64,
) -> SymbolKlines {
    let tick = tick.0.max(1);
    let end_min = end_ms - end_ms % MINUTE_MS;
    let mut rng = microstate_core::rng::Rng::new(seed, 0x4B4C_4853);
    let end_ticks = (end_price.0 / tick).max(1) as i64;
    // 2 bp of the price, in ticks: the spread of one minute's step (the sum of 4 uniforms).
    let sigma = (end_ticks * 2 / 10_000).max(1);
    let floor = (end_ticks / 2).max(1);
    let u = |rng: &mut microstate_core::rng::Rng, w: i64| rng.below(2 * w as u64 + 1) as i64 - w;
    let mut p = vec![0i64; minutes + 1];
    p[minutes] = end_ticks;
    let mut drift = 0i64;
    for k in (0..minutes).rev() {
        drift = drift * 31 / 32 + u(&mut rng, (sigma / 8).max(1));
        let step: i64 = (0..4).map(|_| u(&mut rng, sigma)).sum::<i64>() + drift;
        p[k] = (p[k + 1] - step).max(floor);
    }
    let px = |t: i64| Price(t as u64 * tick);
    let klines = (0..minutes)
        .map(|j| {
            let open_ms = end_min - (minutes - j) as u64 * MINUTE_MS;
            let (o, c) = (p[j], p[j + 1]);
            let wick = (sigma / 2).max(1) as u64;
            let hi = o.max(c) + rng.below(wick) as i64;
            let lo = (o.min(c) - rng.below(wick) as i64).max(1);
            // 0.5 to 3 units of the base asset a minute: plausible, not real.
            let volume = Qty(SCALE / 100 * (50 + rng.below(250)));
            let close = px(c);
            WireKline {
                open_time_ms: open_ms,
                open: px(o),
                high: px(hi),
                low: px(lo),
                close,
                volume,
                close_time_ms: open_ms + MINUTE_MS - 1,
                quote_volume: Qty(quote(close.0, volume.0)),
                trades: 20 + rng.below(40),
            }
        })
        .collect();
    SymbolKlines {
        symbol,
        klines,
        source: SYNTHETIC_HISTORY.into(),
    }
}

/// A synthetic history ([`synthetic_history`]) for every symbol of a capture: each ends at the
/// minute of the capture's first event at the mid of the symbol's first synced book (read
/// with a books-only engine from the capture's start, at most [`crate::LOOKAHEAD_FRAMES`] × 4
/// frames). A symbol whose book does not sync that early gets none. Given sources
/// ([`ExchangeSource::Sources`]) cannot be read twice: an error.
pub fn synthetic_history_for(
    source: &crate::ExchangeSource,
    minutes: usize,
    seed: u64,
) -> anyhow::Result<Vec<SymbolKlines>> {
    use microstate_core::engine::{Engine, EngineConfig};
    use microstate_io::record::{Merge, Merged};
    let opener = match source {
        crate::ExchangeSource::Captures(p) => crate::source::Opener::Captures(p.clone()),
        crate::ExchangeSource::Memory {
            name,
            bytes,
            symbol,
        } => crate::source::Opener::Memory {
            name: name.clone(),
            bytes,
            symbol: *symbol,
        },
        crate::ExchangeSource::Sources(_) => {
            anyhow::bail!("a synthetic history needs a capture it can read from its start")
        }
    };
    let mut opener = opener;
    let mut merge = Merge::new(opener.open()?);
    let mut engine = Engine::new(EngineConfig::books_only());
    let mut first_event_ms: Option<u64> = None;
    let mut mids: BTreeMap<Symbol, Price> = BTreeMap::new();
    for _ in 0..crate::LOOKAHEAD_FRAMES * 4 {
        let Some(m) = merge.next_frame() else { break };
        let Merged::Frame { frame, .. } = m else {
            continue;
        };
        if engine.on_frame(frame.raw()).is_err() {
            continue;
        }
        if first_event_ms.is_none() {
            first_event_ms = engine.last_times().event_ms;
        }
        if let Some(st) = engine.touched()
            && st.sync.is_synced()
            && !mids.contains_key(&st.symbol)
        {
            let bbo = st.book().bbo();
            if let (Some(b), Some(a)) = (bbo.bid, bbo.ask) {
                mids.insert(st.symbol, Price((b.price.0 + a.price.0) / 2));
            }
        }
        if !mids.is_empty()
            && engine
                .symbols()
                .iter()
                .all(|s| mids.contains_key(&s.symbol))
        {
            break;
        }
    }
    let Some(end_ms) = first_event_ms else {
        anyhow::bail!("the capture has no event time to end a synthetic history at");
    };
    Ok(mids
        .into_iter()
        .map(|(symbol, mid)| {
            // About seven significant digits (0.01 at 60,000): the walk's grid.
            let digits = (mid.0 / SCALE).max(1).ilog10();
            let tick = Price((SCALE / 10u64.pow(6)) * 10u64.pow(digits).min(10u64.pow(6)));
            synthetic_history(symbol, end_ms, mid, tick, minutes, seed)
        })
        .collect())
}

/// `price × qty` as a mantissa (saturating).
fn quote(price: u64, qty: u64) -> u64 {
    (price as u128 * qty as u128 / SCALE as u128).min(u64::MAX as u128) as u64
}

/// The symbol a kline file is for, from its name: the first `_`/`-`/`.`-separated token that
/// is all capitals and digits and ends in a known quote asset (`BTCUSDT_1m.csv.gz`,
/// `binance-spot_ETHUSDT_1m_2025-05-20_2025-08-18.csv.gz`). `SYMBOL=FILE` overrides it.
pub fn symbol_from_name(name: &str) -> Option<Symbol> {
    const QUOTES: &[&str] = &[
        "USDT", "USDC", "FDUSD", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY", "USD",
    ];
    let file = name.rsplit('/').next().unwrap_or(name);
    file.split(['_', '-', '.'])
        .find(|t| {
            t.len() >= 5
                && t.bytes()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && QUOTES.iter().any(|q| t.ends_with(q) && t.len() > q.len())
        })
        .and_then(|t| Symbol::new(t.as_bytes()))
}

/// Why kline files could not be served.
#[derive(Debug, thiserror::Error)]
pub enum KlineFileError {
    #[error(transparent)]
    Read(#[from] microstate_io::record::klines::KlineError),
    #[error(
        "{0}: cannot tell the symbol from the file name; write it as SYMBOL=FILE (e.g. BTCUSDT={0})"
    )]
    NoSymbol(String),
    #[error("{0:?}: {1:?} is not a symbol")]
    BadSymbol(String, String),
}

/// Reads kline files to serve, each given as `FILE` (symbol from its name, see
/// [`symbol_from_name`]) or `SYMBOL=FILE`, in any format `eval --context-data` reads.
pub fn load_files(specs: &[String]) -> Result<Vec<SymbolKlines>, KlineFileError> {
    specs
        .iter()
        .map(|spec| {
            let (symbol, file) = match spec.split_once('=') {
                Some((s, f)) => (
                    s.parse::<Symbol>()
                        .map_err(|_| KlineFileError::BadSymbol(spec.clone(), s.to_string()))?,
                    f,
                ),
                None => (
                    symbol_from_name(spec).ok_or_else(|| KlineFileError::NoSymbol(spec.clone()))?,
                    spec.as_str(),
                ),
            };
            let series = microstate_io::record::klines::read_klines(std::path::Path::new(file))?;
            Ok(from_series(symbol, &series))
        })
        .collect()
}

/// Per symbol: preloaded klines, klines built from passed trades, the minute in progress.
#[derive(Default)]
struct Book {
    preloaded: Vec<WireKline>,
    built: Vec<WireKline>,
    current: Option<WireKline>,
}

/// All symbols' klines.
#[derive(Default)]
pub(crate) struct KlineStore {
    books: BTreeMap<Symbol, Book>,
}

impl KlineStore {
    pub fn new(preloaded: Vec<SymbolKlines>) -> KlineStore {
        let mut books: BTreeMap<Symbol, Book> = BTreeMap::new();
        for s in preloaded {
            let b = books.entry(s.symbol).or_default();
            b.preloaded.extend(s.klines);
            b.preloaded.sort_by_key(|k| k.open_time_ms);
            b.preloaded.dedup_by_key(|k| k.open_time_ms);
        }
        KlineStore { books }
    }

    /// Whether any kline of `sym` is known.
    pub fn knows(&self, sym: Symbol) -> bool {
        self.books.contains_key(&sym)
    }

    /// A trade the clock passed: into the minute it falls in. A trade from an earlier minute
    /// than the one in progress (the source restarted) drops what was built from there on.
    pub fn on_trade(&mut self, sym: Symbol, price: Price, qty: Qty, time_ms: u64) {
        let b = self.books.entry(sym).or_default();
        let open = time_ms - time_ms % MINUTE_MS;
        if let Some(cur) = b.current.as_mut() {
            if cur.open_time_ms == open {
                cur.high = cur.high.max(price);
                cur.low = cur.low.min(price);
                cur.close = price;
                cur.volume = Qty(cur.volume.0.saturating_add(qty.0));
                cur.quote_volume = Qty(cur.quote_volume.0.saturating_add(quote(price.0, qty.0)));
                cur.trades += 1;
                return;
            }
            if cur.open_time_ms < open {
                let done = *cur;
                b.built.push(done);
            } else {
                b.built.retain(|k| k.open_time_ms < open);
            }
        }
        b.current = Some(WireKline {
            open_time_ms: open,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: qty,
            close_time_ms: open + MINUTE_MS - 1,
            quote_volume: Qty(quote(price.0, qty.0)),
            trades: 1,
        });
    }

    /// The klines served at replay time `now_ms` for a request on `market`, in time order.
    pub fn select(
        &self,
        sym: Symbol,
        market: Market,
        start_ms: Option<u64>,
        end_ms: Option<u64>,
        limit: usize,
        now_ms: u64,
    ) -> Vec<WireKline> {
        let Some(b) = self.books.get(&sym) else {
            return Vec::new();
        };
        // Preloaded (complete ones only), overridden by what trades built, then the minute in
        // progress.
        let mut by_open: BTreeMap<u64, WireKline> = b
            .preloaded
            .iter()
            .filter(|k| k.close_time_ms < now_ms)
            .map(|k| (k.open_time_ms, *k))
            .collect();
        for k in b.built.iter().chain(b.current.iter()) {
            if k.open_time_ms <= now_ms {
                by_open.insert(k.open_time_ms, *k);
            }
        }
        let lo = start_ms.unwrap_or(0);
        let hi = end_ms.unwrap_or(u64::MAX);
        let in_range = by_open.range(lo..=hi).map(|(_, k)| *k);
        let from_start = start_ms.is_some() && market != Market::CoinM;
        if from_start {
            in_range.take(limit).collect()
        } else {
            let all: Vec<WireKline> = in_range.collect();
            all[all.len().saturating_sub(limit)..].to_vec()
        }
    }
}

/// A Binance kline answer: `[[open, "o", "h", "l", "c", "v", close, "qv", n, "tbv", "tbqv",
/// "0"], …]` (taker volumes are not known here: 0).
pub(crate) fn body(klines: &[WireKline]) -> String {
    let mut s = String::with_capacity(16 + klines.len() * 140);
    s.push('[');
    for (i, k) in klines.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "[{},", k.open_time_ms);
        for v in [k.open.0, k.high.0, k.low.0, k.close.0, k.volume.0] {
            s.push('"');
            let _ = format_decimal(v, &mut s);
            s.push_str("\",");
        }
        let _ = write!(s, "{},\"", k.close_time_ms);
        let _ = format_decimal(k.quote_volume.0, &mut s);
        let _ = write!(s, "\",{},\"0\",\"0\",\"0\"]", k.trades);
    }
    s.push(']');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use microstate_core::wire::klines::parse_klines;
    use microstate_io::record::klines::Kline;

    fn sym(s: &str) -> Symbol {
        s.parse().expect("symbol")
    }

    fn series(n: usize, t0: i64) -> KlineSeries {
        KlineSeries {
            source: "f.csv".into(),
            rows: (0..n)
                .map(|i| Kline {
                    open_time_ms: t0 + i as i64 * 60_000,
                    open: 100.0 + i as f64,
                    high: 101.5 + i as f64,
                    low: 99.25 + i as f64,
                    close: 100.5 + i as f64,
                    volume: 2.0,
                })
                .collect(),
            gaps: vec![],
        }
    }

    #[test]
    fn files_are_named_or_given_a_symbol() {
        let dir = std::env::temp_dir().join(format!("ms-xk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("ETHUSDT_1m.csv");
        std::fs::write(&f, "open_time_ms,close\n1708000030000,1.5\n").ok();
        // Not on a minute boundary: the reader names file and line.
        let e = load_files(&[f.display().to_string()]).expect_err("bad line");
        assert!(e.to_string().contains("ETHUSDT_1m.csv:2"), "{e}");
        std::fs::write(&f, "open_time_ms,close\n1708000020000,1.5\n").ok();
        let k = load_files(&[f.display().to_string()]).expect("load");
        assert_eq!(k[0].symbol, sym("ETHUSDT"));
        let g = dir.join("prices.csv");
        std::fs::copy(&f, &g).expect("copy");
        let e = load_files(&[g.display().to_string()]).expect_err("no symbol");
        assert!(e.to_string().contains("SYMBOL=FILE"), "{e}");
        let k = load_files(&[format!("SOLUSDT={}", g.display())]).expect("named");
        assert_eq!(k[0].symbol, sym("SOLUSDT"));
        assert_eq!(k[0].klines[0].close, Price(150_000_000));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn names_give_symbols() {
        assert_eq!(
            symbol_from_name("x/BTCUSDT_1m.csv.gz"),
            Some(sym("BTCUSDT"))
        );
        assert_eq!(
            symbol_from_name("binance-spot_ETHUSDT_1m_2025-05-20_2025-08-18.csv.gz"),
            Some(sym("ETHUSDT"))
        );
        assert_eq!(symbol_from_name("klines.csv.gz"), None);
    }

    #[test]
    fn ranges_limits_and_the_future() {
        let t0 = 1_708_000_020_000i64; // on a minute boundary
        let s = sym("BTCUSDT");
        let store = KlineStore::new(vec![from_series(s, &series(100, t0))]);
        let t0 = t0 as u64;
        let now = t0 + 50 * 60_000 + 30_000; // half-way through minute 50
        // No range: the most recent complete ones (minute 50 is not over).
        let k = store.select(s, Market::Spot, None, None, 10, now);
        assert_eq!(k.len(), 10);
        assert_eq!(k[9].open_time_ms, t0 + 49 * 60_000);
        // From a start: ascending from it.
        let k = store.select(s, Market::Spot, Some(t0 + 60_000), None, 3, now);
        assert_eq!(
            k.iter().map(|k| k.open_time_ms).collect::<Vec<_>>(),
            [t0 + 60_000, t0 + 120_000, t0 + 180_000]
        );
        // COIN-M: the most recent within the range.
        let k = store.select(s, Market::CoinM, Some(t0), Some(t0 + 9 * 60_000), 3, now);
        assert_eq!(k[0].open_time_ms, t0 + 7 * 60_000);
        // The answer parses back exactly.
        let body = body(&k);
        let back = parse_klines(body.as_bytes()).expect("parse");
        assert_eq!(back, k);
        assert_eq!(back[0].close.to_string(), "107.5");
        assert!(
            store
                .select(sym("ETHUSDT"), Market::Spot, None, None, 5, now)
                .is_empty()
        );
    }

    #[test]
    fn trades_build_minutes_and_override_files() {
        let s = sym("BTCUSDT");
        let t0 = 1_708_000_020_000u64;
        let mut store = KlineStore::new(vec![from_series(s, &series(5, t0 as i64))]);
        let p = |x: u64| Price(x * SCALE);
        let q = |x: u64| Qty(x * SCALE);
        store.on_trade(s, p(200), q(1), t0 + 4 * 60_000 + 1_000);
        store.on_trade(s, p(210), q(2), t0 + 4 * 60_000 + 2_000);
        store.on_trade(s, p(190), q(1), t0 + 4 * 60_000 + 3_000);
        store.on_trade(s, p(205), q(1), t0 + 5 * 60_000 + 10);
        let now = t0 + 5 * 60_000 + 20;
        let k = store.select(s, Market::UsdM, None, None, 10, now);
        assert_eq!(
            k.len(),
            6,
            "4 from the file, minute 4 built from trades, minute 5 in progress"
        );
        let m4 = k[4];
        assert_eq!(
            (m4.open, m4.high, m4.low, m4.close),
            (p(200), p(210), p(190), p(190))
        );
        assert_eq!((m4.volume, m4.trades), (q(4), 3));
        assert_eq!(m4.quote_volume, Qty(810 * SCALE), "200 + 2×210 + 190");
        assert_eq!(k[5].close, p(205));
        // The source restarts (time goes back): what was built from there on is dropped.
        store.on_trade(s, p(300), q(1), t0 + 4 * 60_000 + 500);
        let k = store.select(s, Market::UsdM, None, None, 10, now);
        assert_eq!(k.len(), 5);
        assert_eq!(k[4].close, p(300));
    }
}
