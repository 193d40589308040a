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

/// Looks every symbol up in the venue's exchangeInfo, asked **once** for its whole list (weight
/// 20 on spot, 1 on futures, whatever the number of symbols): an error naming the unknown ones
/// (and the venue) when the list lacks them. One lookup per symbol would spend 20 weight each
/// on spot — 2,000 for 100 symbols, two thirds of the session's snapshot budget, which the
/// venue's used-weight count then holds against the snapshots for a minute. When exchangeInfo
/// cannot be asked (no network, a timeout, an error), nothing is checked here: the session says
/// what is wrong on its own.
pub async fn check_listed(cfg: &Config, symbols: &[Symbol]) -> anyhow::Result<()> {
    let market = cfg.live.market;
    let base = cfg.endpoints.rest(market).trim_end_matches('/').to_string();
    let url = format!(
        "{base}{}",
        microstate_io::ingest::exchange_info::path(market)
    );
    let listing = match microstate_io::ingest::http::get(&url, Duration::from_secs(10), &cfg.rest)
        .await
    {
        Ok(r) if r.status == 200 => match microstate_io::ingest::exchange_info::parse(&r.body) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(%url, "exchangeInfo unreadable ({e}); symbols not checked");
                return Ok(());
            }
        },
        Ok(r) => {
            tracing::warn!(%url, status = r.status, "exchangeInfo did not answer; symbols not checked");
            return Ok(());
        }
        Err(e) => {
            tracing::warn!(%url, "exchangeInfo not reachable ({e}); symbols not checked");
            return Ok(());
        }
    };
    let unknown: Vec<String> = symbols
        .iter()
        .filter(|s| !listing.contains_key(*s))
        .map(|s| s.to_string())
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let hint = unknown
        .first()
        .and_then(|u| did_you_mean(u))
        .map(|c| format!(" Did you mean the command `{c}`?"))
        .unwrap_or_default();
    anyhow::bail!(
        "{} not listed on {base} ({market:?}): exchangeInfo lists {} symbols, not {} (Binance \
         answers a lookup of such a name with -1121 Invalid symbol).{hint}",
        if unknown.len() == 1 {
            format!("symbol {}", unknown[0])
        } else {
            format!("symbols {}", unknown.join(", "))
        },
        listing.len(),
        if unknown.len() == 1 {
            "this one"
        } else {
            "these"
        },
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
