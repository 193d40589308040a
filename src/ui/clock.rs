//! Event time for the screen: the history, the alerts and the volume reference are dated by
//! receive time (the local clock, or the recording's), while the tape prints the exchange's trade
//! time. The screen writes every market time as event time, so the tape, the heatmap's time axis,
//! the alerts line and the volume panel's "Δ since" agree (in the demo of a 2024 capture the two
//! clocks are years apart). Wall time is written only where it is wall time (the status bar's
//! clock).
//!
//! Owns: the receive → event offset. Must not touch: drawing, clocks (the offset comes from the
//! view).

use microstate_core::view::{SymbolView, View};

/// Event time − receive time (ns) for `s`: from its newest trade (the same print's exchange time
/// and receive time: exact up to the network latency), else the view's measured clock offset
/// (exchange − local), else 0.
pub fn event_offset(view: &View, s: Option<&SymbolView>) -> i64 {
    s.and_then(symbol_offset)
        .or_else(|| view.symbols.iter().find_map(symbol_offset))
        .or(view.clock_offset.map(|(off, _)| off))
        .unwrap_or(0)
}

/// Event − receive time of `s`'s newest trade.
pub fn symbol_offset(s: &SymbolView) -> Option<i64> {
    let t = s.history.trades.back()?;
    Some((t.trade_ms as i64).saturating_mul(1_000_000) - t.t_ns as i64)
}

/// A receive time moved to event time by `offset` (ns); 0 stays 0 (no time).
pub fn to_event(recv_ns: u64, offset: i64) -> u64 {
    if recv_ns == 0 {
        return 0;
    }
    (recv_ns as i64).saturating_add(offset).max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_times_move_to_event_time() {
        assert_eq!(to_event(5_000, -1_000), 4_000);
        assert_eq!(to_event(0, 123), 0, "no time stays no time");
        assert_eq!(to_event(10, -100), 0);
        // No trade, no clock offset: receive time as it is.
        assert_eq!(event_offset(&View::default(), None), 0);
        let v = View {
            clock_offset: Some((-7, 1)),
            ..View::default()
        };
        assert_eq!(event_offset(&v, None), -7);
    }
}
