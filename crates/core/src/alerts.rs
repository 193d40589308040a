//! Alerts: price crosses a level, imbalance beyond a threshold, a large trade, a gap, a stale
//! feed, a resync — turned from a symbol's numbers into dated, worded events.
//!
//! Owns: the rules ([`AlertRules`]), each symbol's last seen state, and the bounded list of
//! recent alerts. Must not touch: clocks (every alert is dated by the data it comes from: the
//! history's receive times, the view's data clock), the screen (it shows them, rings the bell),
//! logging (the driver logs them).
//!
//! Evaluation reads what a symbol's view shows ([`Look`], from `view::SymbolView::look`) each time a view is put together. It sees every
//! mid sample and every trade the history kept since the last evaluation, so a price that
//! crossed a level and came back between two views still alerts, as does a large trade between
//! them; the first evaluation of a symbol only sets the baseline (no alert for what happened
//! before the screen looked). Edge-triggered: the imbalance alerts when it goes beyond the
//! threshold and re-arms when it comes back inside; stale alerts when the flag is raised.

use std::collections::{HashMap, VecDeque};

use crate::engine::history::History;
use crate::num::Symbol;
use crate::tape::tape;

/// Which kind of alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertKind {
    Price,
    Imbalance,
    LargeTrade,
    Gap,
    Stale,
    Resync,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Price => "price",
            AlertKind::Imbalance => "imbalance",
            AlertKind::LargeTrade => "large trade",
            AlertKind::Gap => "gap",
            AlertKind::Stale => "stale",
            AlertKind::Resync => "resync",
        }
    }
}

/// One alert, as shown and logged.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Numbered from 1 in the order raised (the screen rings the bell for new numbers).
    pub seq: u64,
    /// When it happened, on the data clock (ns).
    pub t_ns: u64,
    pub symbol: Symbol,
    pub kind: AlertKind,
    /// For a person: `mid crossed 61850 ↑ (61850.01)`.
    pub text: String,
}

/// A price level to watch on one symbol.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PriceLevel {
    pub symbol: Symbol,
    pub price: f64,
}

/// What raises an alert.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRules {
    pub prices: Vec<PriceLevel>,
    /// |imbalance| over the top `imbalance_levels` (1, 5 or 10) at or beyond this; `None`: off.
    pub imbalance: Option<f64>,
    pub imbalance_levels: usize,
    /// A taker order (the tape's row) of at least this size in base / in quote; `None`: off.
    pub large_base: Option<f64>,
    pub large_quote: Option<f64>,
    pub gap: bool,
    pub stale: bool,
    pub resync: bool,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            prices: Vec::new(),
            imbalance: None,
            imbalance_levels: 5,
            large_base: None,
            large_quote: None,
            gap: true,
            stale: true,
            resync: true,
        }
    }
}

/// What evaluation reads of one symbol (its view's numbers and the history it shares).
#[derive(Clone, Copy, Debug)]
pub struct Look<'a> {
    pub symbol: Symbol,
    pub history: &'a History,
    /// Over the top 1, 5, 10 levels.
    pub imbalance: [Option<f64>; 3],
    pub gaps: u64,
    pub resyncs: u64,
    pub stale: bool,
}

/// One symbol's state as last evaluated.
#[derive(Clone, Debug, Default)]
struct Seen {
    /// Last mid sample looked at (receive ns) and its value.
    sample_t: u64,
    mid: Option<f64>,
    /// Receive time of the last trade looked at.
    trade_t: u64,
    imbalance_beyond: bool,
    gaps: u64,
    resyncs: u64,
    stale: bool,
    /// The data clock at the last look.
    now: u64,
}

/// The rules, what each symbol looked like last time, and the recent alerts.
#[derive(Clone, Debug, Default)]
pub struct Alerts {
    pub rules: AlertRules,
    seen: HashMap<Symbol, Seen>,
    recent: VecDeque<Alert>,
    keep: usize,
    seq: u64,
}

impl Alerts {
    /// Keeps the newest `keep` alerts.
    pub fn new(rules: AlertRules, keep: usize) -> Alerts {
        Alerts {
            rules,
            seen: HashMap::new(),
            recent: VecDeque::new(),
            keep: keep.max(1),
            seq: 0,
        }
    }

    /// Adds a price level (from the screen's prompt).
    pub fn add_price(&mut self, level: PriceLevel) {
        if !self.rules.prices.contains(&level) {
            self.rules.prices.push(level);
        }
    }

    /// The recent alerts, newest last.
    pub fn recent(&self) -> impl DoubleEndedIterator<Item = &Alert> {
        self.recent.iter()
    }

    /// Alerts raised so far.
    pub fn raised(&self) -> u64 {
        self.seq
    }

    /// Looks at `s` at data time `now_ns`; returns how many alerts were raised (the newest of
    /// [`Self::recent`]).
    pub fn evaluate(&mut self, s: Look<'_>, now_ns: u64) -> usize {
        // A data clock that went back (a replay seeked back) starts a new baseline.
        let (first, mut seen) = match self.seen.remove(&s.symbol) {
            Some(x) if now_ns >= x.now => (false, x),
            _ => (true, Seen::default()),
        };
        seen.now = now_ns;
        let mut raised: Vec<(u64, AlertKind, String)> = Vec::new();
        let h = s.history;
        // Price levels: every mid sample since the last look, against the one before it.
        let levels: Vec<f64> = self
            .rules
            .prices
            .iter()
            .filter(|l| l.symbol == s.symbol)
            .map(|l| l.price)
            .collect();
        let since = seen.sample_t;
        for smp in h.samples.iter().filter(|x| x.t_ns > since) {
            if let Some(prev) = seen.mid {
                for &lvl in &levels {
                    let up = prev < lvl && smp.mid >= lvl;
                    let down = prev > lvl && smp.mid <= lvl;
                    if up || down {
                        raised.push((
                            smp.t_ns,
                            AlertKind::Price,
                            format!(
                                "mid crossed {lvl} {} ({})",
                                if up { "↑" } else { "↓" },
                                short(smp.mid)
                            ),
                        ));
                    }
                }
            }
            seen.sample_t = smp.t_ns;
            seen.mid = Some(smp.mid);
        }
        // Large trades: the tape's rows (taker orders) that printed since the last look.
        if self.rules.large_base.is_some() || self.rules.large_quote.is_some() {
            let newer = h.trades.iter().rev().take_while(|t| t.t_ns > seen.trade_t);
            let n = newer.count();
            if !first && n > 0 {
                for r in tape(h.trades.iter(), n).iter().rev() {
                    if r.t_ns > seen.trade_t
                        && r.is_large(self.rules.large_base, self.rules.large_quote)
                    {
                        raised.push((
                            r.t_ns,
                            AlertKind::LargeTrade,
                            format!(
                                "large {} {} @ {} ({:.0} quote{})",
                                if r.buy { "buy" } else { "sell" },
                                short(r.qty),
                                r.last_price,
                                r.quote,
                                if r.prints > 1 {
                                    format!(", {} prints", r.prints)
                                } else {
                                    String::new()
                                }
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(t) = h.trades.back() {
            seen.trade_t = seen.trade_t.max(t.t_ns);
        }
        // Imbalance: edge-triggered.
        let idx = match self.rules.imbalance_levels {
            0 | 1 => 0,
            2..=5 => 1,
            _ => 2,
        };
        if let (Some(th), Some(imb)) = (self.rules.imbalance, s.imbalance[idx]) {
            let beyond = imb.abs() >= th;
            if beyond && !seen.imbalance_beyond && !first {
                raised.push((
                    now_ns,
                    AlertKind::Imbalance,
                    format!(
                        "imbalance {imb:+.2} over the top {} beyond ±{th}",
                        self.rules.imbalance_levels
                    ),
                ));
            }
            seen.imbalance_beyond = beyond;
        }
        if !first {
            if self.rules.gap && s.gaps > seen.gaps {
                raised.push((
                    now_ns,
                    AlertKind::Gap,
                    format!("gap in the depth stream ({} in all)", s.gaps),
                ));
            }
            if self.rules.resync && s.resyncs > seen.resyncs {
                raised.push((
                    now_ns,
                    AlertKind::Resync,
                    format!("book resynced ({} in all)", s.resyncs),
                ));
            }
            if self.rules.stale && s.stale && !seen.stale {
                raised.push((now_ns, AlertKind::Stale, "no depth update: stale".into()));
            }
        }
        seen.gaps = s.gaps;
        seen.resyncs = s.resyncs;
        seen.stale = s.stale;
        self.seen.insert(s.symbol, seen);
        if first {
            return 0;
        }
        raised.sort_by_key(|r| r.0);
        let n = raised.len();
        for (t_ns, kind, text) in raised {
            self.seq += 1;
            if self.recent.len() >= self.keep {
                self.recent.pop_front();
            }
            self.recent.push_back(Alert {
                seq: self.seq,
                t_ns,
                symbol: s.symbol,
                kind,
                text,
            });
        }
        n
    }

    /// Forgets a symbol's state (it was removed; added again, it starts a new baseline).
    pub fn forget(&mut self, symbol: Symbol) {
        self.seen.remove(&symbol);
    }
}

/// A number with at most 8 decimals and no trailing zeros (`0.18`, not `0.18000000000000005`).
fn short(x: f64) -> String {
    let s = format!("{x:.8}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::history::{Sample, TradeMark};
    use crate::num::Price;

    fn sym() -> Symbol {
        Symbol::new(b"BTCUSDT").expect("symbol")
    }

    fn view(h: &History) -> Look<'_> {
        Look {
            symbol: sym(),
            history: h,
            imbalance: [None; 3],
            gaps: 0,
            resyncs: 0,
            stale: false,
        }
    }

    fn mid(h: &mut History, t_ns: u64, mid: f64) {
        h.samples.push_capped(
            100,
            Sample {
                t_ns,
                mid,
                microprice: mid,
            },
        );
    }

    fn trade(h: &mut History, t_ns: u64, trade_ms: u64, qty: f64, buy: bool) {
        h.trades.push_capped(
            100,
            TradeMark {
                t_ns,
                price: 100.0,
                qty,
                buy,
                trade_ms,
                price_exact: Price(100 * 100_000_000),
            },
        );
    }

    #[test]
    fn numbers_in_alert_texts_are_short() {
        assert_eq!(short(0.180_000_000_000_000_05), "0.18");
        assert_eq!(short(61852.0), "61852");
        assert_eq!(short(0.000_001_23), "0.00000123");
    }

    #[test]
    fn a_price_crossed_between_two_looks_alerts_once_per_crossing() {
        let mut a = Alerts::new(
            AlertRules {
                prices: vec![PriceLevel {
                    symbol: sym(),
                    price: 100.0,
                }],
                ..AlertRules::default()
            },
            10,
        );
        let mut h = History::default();
        mid(&mut h, 1, 99.0);
        assert_eq!(a.evaluate(view(&h), 1), 0, "the first look is the baseline");
        // Up through 100 and back down, both between two looks.
        mid(&mut h, 2, 100.5);
        mid(&mut h, 3, 99.5);
        assert_eq!(a.evaluate(view(&h), 3), 2);
        let r: Vec<&Alert> = a.recent().collect();
        assert_eq!(r[0].kind, AlertKind::Price);
        assert!(r[0].text.contains("↑") && r[1].text.contains("↓"), "{r:?}");
        assert_eq!((r[0].t_ns, r[1].t_ns), (2, 3), "dated by the samples");
        // Nothing new: nothing raised.
        assert_eq!(a.evaluate(view(&h), 4), 0);
        // Another symbol's level does not fire here.
        a.rules.prices[0].symbol = Symbol::new(b"ETHUSDT").expect("symbol");
        mid(&mut h, 5, 101.0);
        assert_eq!(a.evaluate(view(&h), 5), 0);
    }

    #[test]
    fn large_taker_orders_gaps_resyncs_stale_and_imbalance_alert_on_their_edge() {
        let mut a = Alerts::new(
            AlertRules {
                imbalance: Some(0.6),
                large_base: Some(1.0),
                ..AlertRules::default()
            },
            3,
        );
        let mut h = History::default();
        trade(&mut h, 1, 10, 5.0, true);
        assert_eq!(
            a.evaluate(view(&h), 1),
            0,
            "before the screen looked: baseline"
        );
        // Three prints of one taker (0.5 each: 1.5 in all) and a small other one.
        trade(&mut h, 2, 11, 0.5, false);
        trade(&mut h, 3, 11, 0.5, false);
        trade(&mut h, 4, 11, 0.5, false);
        trade(&mut h, 5, 12, 0.5, true);
        assert_eq!(a.evaluate(view(&h), 5), 1);
        let last = a.recent().last().expect("an alert").clone();
        assert_eq!(last.kind, AlertKind::LargeTrade);
        assert!(
            last.text.contains("sell 1.5") && last.text.contains("3 prints"),
            "{}",
            last.text
        );
        let mut v = view(&h);
        v.gaps = 1;
        v.resyncs = 1;
        v.stale = true;
        v.imbalance = [None, Some(-0.7), None];
        assert_eq!(a.evaluate(v, 6), 4);
        assert_eq!(a.evaluate(v, 7), 0, "edges only");
        v.imbalance = [None, Some(0.1), None];
        a.evaluate(v, 8);
        v.imbalance = [None, Some(0.65), None];
        assert_eq!(a.evaluate(v, 9), 1, "re-armed once back inside");
        assert_eq!(a.recent().count(), 3, "bounded");
        assert_eq!(a.raised(), 6);
        let kinds: Vec<AlertKind> = a.recent().map(|x| x.kind).collect();
        assert_eq!(kinds.last(), Some(&AlertKind::Imbalance));
    }
}
