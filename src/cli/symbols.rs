//! Checking the symbols a live session is asked for before it starts: an argument that looks
//! like a misspelt subcommand gets "did you mean `replay`?", and every symbol is looked up in the
//! venue's exchangeInfo, so a typo is a clear error and a non-zero exit instead of a book that
//! stays STALE forever.
//!
//! Owns: the subcommand names' spelling check and the exchangeInfo lookup. Must not touch: the
//! live session itself. Without network the lookup cannot answer: the session then starts and
//! says so on the screen, as before.

use std::time::Duration;

use microstate::config::Config;
use microstate_core::market::Market;
use microstate_core::num::Symbol;

/// The subcommands a mistyped first argument is compared with.
const COMMANDS: [&str; 7] = [
    "live", "record", "replay", "demo", "exchange", "train", "eval",
];

use microstate::ui::prompt::distance;

/// The subcommand `arg` is probably a misspelling of (within two edits, not one itself).
pub fn did_you_mean(arg: &str) -> Option<&'static str> {
    let a = arg.to_ascii_lowercase();
    if a.len() < 3 || COMMANDS.contains(&a.as_str()) {
        return None;
    }
    COMMANDS
        .iter()
        .map(|c| (distance(&a, c), *c))
        .filter(|(d, c)| *d <= 2.min(c.len() / 2))
        .min()
        .map(|(_, c)| c)
}

/// An error for symbols given where the first one looks like a misspelt subcommand.
pub fn check_not_a_command(args: &[String]) -> anyhow::Result<()> {
    if let Some(first) = args.first()
        && let Some(cmd) = did_you_mean(first)
    {
        anyhow::bail!(
            "{first:?} is neither a command nor a symbol to stream: did you mean `{cmd}`? \
             (`microstate-tui --help` lists the commands)"
        );
    }
    Ok(())
}

/// Whether exchangeInfo knows `symbol`: `Some(false)` on Binance's -1121 "Invalid symbol",
/// `None` when the venue could not be asked (no network, a timeout, another error).
async fn known(
    base: &str,
    market: Market,
    symbol: Symbol,
    rest: &microstate_config::RestConfig,
) -> Option<bool> {
    let path = match market {
        Market::Spot => "/api/v3/exchangeInfo",
        _ => "/fapi/v1/exchangeInfo",
    };
    let url = format!("{base}{path}?symbol={symbol}");
    match microstate_io::ingest::http::get(&url, Duration::from_secs(5), rest).await {
        Ok(r) if r.status == 200 => Some(true),
        Ok(r) if String::from_utf8_lossy(&r.body).contains("-1121") => Some(false),
        Ok(r) => {
            tracing::warn!(%url, status = r.status, "exchangeInfo did not answer; symbols not checked");
            None
        }
        Err(e) => {
            tracing::warn!(%url, "exchangeInfo not reachable ({e}); symbols not checked");
            None
        }
    }
}

/// Looks every symbol up in the venue's exchangeInfo; an error naming the unknown ones (and the
/// venue) when exchangeInfo says they do not exist.
pub async fn check_listed(cfg: &Config, symbols: &[Symbol]) -> anyhow::Result<()> {
    let market = cfg.live.market;
    let base = cfg.endpoints.rest(market).trim_end_matches('/').to_string();
    let mut unknown = Vec::new();
    for s in symbols {
        match known(&base, market, *s, &cfg.rest).await {
            Some(false) => unknown.push(s.to_string()),
            Some(true) => {}
            None => return Ok(()), // cannot ask: the session says what is wrong on its own
        }
    }
    if unknown.is_empty() {
        return Ok(());
    }
    let hint = unknown
        .first()
        .and_then(|u| did_you_mean(u))
        .map(|c| format!(" Did you mean the command `{c}`?"))
        .unwrap_or_default();
    anyhow::bail!(
        "{} not listed on {base} ({market:?}): exchangeInfo answers -1121 Invalid symbol.{hint}",
        if unknown.len() == 1 {
            format!("symbol {}", unknown[0])
        } else {
            format!("symbols {}", unknown.join(", "))
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_commands_are_recognised_symbols_are_not() {
        assert_eq!(did_you_mean("replpay"), Some("replay"));
        assert_eq!(did_you_mean("REPLY"), Some("replay"));
        assert_eq!(did_you_mean("dmeo"), Some("demo"));
        assert_eq!(did_you_mean("exchnage"), Some("exchange"));
        assert_eq!(did_you_mean("recrod"), Some("record"));
        assert_eq!(did_you_mean("replay"), None);
        assert_eq!(did_you_mean("btcusdt"), None);
        assert_eq!(did_you_mean("ethusdt"), None);
        assert_eq!(did_you_mean("x"), None);
        assert_eq!(did_you_mean("lrcbtc"), None);
        assert!(check_not_a_command(&["replpay".into(), "x".into()]).is_err());
        assert!(check_not_a_command(&["btcusdt".into()]).is_ok());
    }
}
