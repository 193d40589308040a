//! The demo's settings: the bundled capture, the local exchange that loops it, and the client's
//! request-weight budget scaled to the demo's speed.
//!
//! Owns: what makes `microstate-tui demo` the demo (which capture, looped, at which speed, with
//! which synthetic history and weight limits), here in the library so the soak test runs the
//! very same demo the command does. Must not touch: the exchange or the live driver themselves
//! (`cli/demo.rs` starts them).
//!
//! No real 1-minute klines of the capture's time (2024-08-08 23:54 UTC) exist in the project,
//! so the exchange serves a synthetic history ending at the capture's first mid (labelled as
//! such wherever it is shown). The capture loops; each pass goes on in event time and update
//! ids from where the last one ended (the exchange moves it), so the feature clock, the clock
//! offset, the latency stages and the context's minutes keep moving forward; the client sees
//! one gap per loop and resyncs on the same socket.

use microstate_config::Config;
use microstate_core::num::Symbol;
use microstate_exchange::{ExchangeConfig, ExchangeSource};

/// A real excerpt of a Binance spot capture (hftbacktest, MIT; see assets/demo/README.md).
pub const CAPTURE: &[u8] = include_bytes!("../assets/demo/btcusdt_20240808-excerpt.gz");

/// Seed of the demo's synthetic history (the same history every run).
const HISTORY_SEED: u64 = 20_240_808;

/// The demo's symbol, BTCUSDT.
pub fn symbol() -> Symbol {
    Symbol::new(b"BTCUSDT").unwrap_or_default()
}

/// The demo's local exchange: the bundled capture, looped, at `speed`, with a synthetic
/// 1-minute history before it and a weight limit scaled to the speed ([`scaled_weight`]).
pub fn exchange_config(speed: f64) -> anyhow::Result<ExchangeConfig> {
    let source = ExchangeSource::Memory {
        name: "bundled btcusdt_20240808 excerpt".into(),
        bytes: CAPTURE,
        symbol: Some(symbol()),
    };
    let history = microstate_exchange::klines::synthetic_history_for(
        &source,
        microstate_exchange::synthetic::HISTORY_MINUTES,
        HISTORY_SEED,
    )?;
    let mut xcfg = ExchangeConfig::new(source);
    xcfg.speed = microstate_exchange::Speed::Factor(speed);
    xcfg.looped = true;
    xcfg.weight_limit_per_min = scaled_weight(xcfg.weight_limit_per_min, speed);
    xcfg.klines = history;
    Ok(xcfg)
}

/// A request-weight limit per minute of *market* time: at `speed`× a market minute lasts
/// 60/speed s of wall time, so the exchange and the client allow `speed` times Binance's weight
/// per wall minute (never less than Binance's). Without it a fast demo resyncs at each loop
/// faster than the budget refills, and the client waits a minute for a snapshot while the
/// market runs on.
pub fn scaled_weight(per_min: u32, speed: f64) -> u32 {
    let k = if speed.is_finite() {
        speed.max(1.0)
    } else {
        1.0
    };
    (f64::from(per_min) * k).min(f64::from(u32::MAX)) as u32
}

/// The client's settings for the demo: `cfg` with its request-weight budget scaled to the
/// demo's speed (see [`scaled_weight`]).
pub fn client_config(mut cfg: Config, speed: f64) -> Config {
    cfg.snapshot.spot_weight_per_min = scaled_weight(cfg.snapshot.spot_weight_per_min, speed);
    cfg.snapshot.futures_weight_per_min = scaled_weight(cfg.snapshot.futures_weight_per_min, speed);
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_scales_with_speed_never_below_binance() {
        assert_eq!(scaled_weight(6000, 1.0), 6000);
        assert_eq!(scaled_weight(6000, 0.5), 6000);
        assert_eq!(scaled_weight(6000, 60.0), 360_000);
        assert_eq!(scaled_weight(6000, f64::INFINITY), 6000);
        let c = client_config(Config::default(), 10.0);
        assert_eq!(c.snapshot.spot_weight_per_min, 60_000);
        assert_eq!(c.snapshot.futures_weight_per_min, 24_000);
    }
}
