//! The one-line prompt at the bottom of the screen: add a symbol (Tab completes from the symbols
//! known), go to a time (replay), alert at a price. Typing goes to the prompt while it is open;
//! Enter submits, Esc cancels.
//!
//! Owns: the prompt's text and completion, and reading what was typed (a time to go to, a
//! price). Must not touch: what a submitted prompt does (the UI loop decides), drawing.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What the prompt asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    AddSymbol,
    GoTo,
    Alert,
}

impl PromptKind {
    /// The question, before the text typed.
    pub fn label(self) -> &'static str {
        match self {
            PromptKind::AddSymbol => "add symbol (Tab completes, Enter adds, Esc cancels): ",
            PromptKind::GoTo => "go to (12:34:56 UTC, +2m from the start, -30s back, 50%): ",
            PromptKind::Alert => "alert when the mid crosses price: ",
        }
    }
}

/// An open prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: String,
    /// Completions offered (symbols), upper case.
    pub choices: Vec<String>,
}

/// What a key did to the prompt.
#[derive(Clone, Debug, PartialEq)]
pub enum PromptOutcome {
    /// Still open.
    Open,
    Cancel,
    /// Enter, with the text (trimmed).
    Submit(String),
}

impl Prompt {
    pub fn new(kind: PromptKind, choices: Vec<String>) -> Prompt {
        Prompt {
            kind,
            input: String::new(),
            choices,
        }
    }

    /// The choices that start with what was typed (case does not matter).
    pub fn matches(&self) -> Vec<&str> {
        let typed = self.input.to_ascii_uppercase();
        self.choices
            .iter()
            .filter(|c| c.starts_with(&typed))
            .map(String::as_str)
            .collect()
    }

    pub fn key(&mut self, k: &KeyEvent) -> PromptOutcome {
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            return PromptOutcome::Cancel;
        }
        match k.code {
            KeyCode::Esc => return PromptOutcome::Cancel,
            KeyCode::Enter => return PromptOutcome::Submit(self.input.trim().to_string()),
            KeyCode::Backspace => {
                self.input.pop();
            }
            KeyCode::Tab => {
                // The longest prefix all matches share (the one match, when there is one).
                let m = self.matches();
                if let Some(first) = m.first() {
                    let mut common = first.len();
                    for other in &m[1..] {
                        common = first
                            .bytes()
                            .zip(other.bytes())
                            .take(common)
                            .take_while(|(a, b)| a == b)
                            .count();
                    }
                    if common > self.input.len() {
                        self.input = first[..common].to_string();
                    }
                }
            }
            KeyCode::Char(c) if !c.is_control() && self.input.len() < 40 => self.input.push(c),
            _ => {}
        }
        PromptOutcome::Open
    }
}

/// Levenshtein distance (small strings: the plain table).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Up to three of `choices` closest to `typed` (within two edits), nearest first: the
/// "did you mean" of a symbol that is not listed.
pub fn closest<'a>(typed: &str, choices: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let t = typed.to_ascii_uppercase();
    let mut near: Vec<(usize, &str)> = choices
        .into_iter()
        .filter(|c| c.len().abs_diff(t.len()) <= 2)
        .map(|c| (distance(&t, c), c))
        .filter(|(d, _)| *d <= 2)
        .collect();
    near.sort();
    near.into_iter().take(3).map(|(_, c)| c).collect()
}

/// Where "go to" `text` lands, in recorded receive time (ns): `12:34:56[.789]` (a UTC time of
/// day on the day of `position`), `+2m` (that long after the recording's `first` frame), `-30s`
/// (that far back from `position`, not before the start), `50%` (of the span to `last`, when
/// the files say where they end).
pub fn parse_goto(
    text: &str,
    first: Option<u64>,
    position: Option<u64>,
    last: Option<u64>,
) -> Result<u64, String> {
    let t = text.trim();
    let first = first.ok_or("the recording has not started yet")?;
    let here = position.unwrap_or(first);
    let dur = |s: &str| -> Result<u64, String> {
        microstate_core::units::parse_duration(s).map(|d| d.as_nanos() as u64)
    };
    if let Some(rest) = t.strip_prefix('+') {
        return Ok(first.saturating_add(dur(rest)?));
    }
    if let Some(rest) = t.strip_prefix('-') {
        return Ok(here.saturating_sub(dur(rest)?).max(first));
    }
    if let Some(pct) = t.strip_suffix('%') {
        let p: f64 = pct
            .trim()
            .parse()
            .map_err(|_| format!("{t:?} is not a percentage"))?;
        let last = last.ok_or(
            "the recording's end is not known (a capture has no index): use a time or +2m",
        )?;
        if !(0.0..=100.0).contains(&p) {
            return Err(format!("{t:?}: a percentage is 0 to 100"));
        }
        return Ok(first + ((last.saturating_sub(first)) as f64 * p / 100.0) as u64);
    }
    // A time of day, UTC, on the day of the current position.
    let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
    let parts: Vec<&str> = hms.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(format!(
            "{t:?}: give a time (12:34:56), +2m from the start, -30s back, or 50%"
        ));
    }
    let num = |s: &str, max: u64| -> Result<u64, String> {
        s.parse::<u64>()
            .ok()
            .filter(|v| *v < max)
            .ok_or_else(|| format!("{t:?} is not a time of day"))
    };
    let h = num(parts[0], 24)?;
    let m = num(parts[1], 60)?;
    let s = parts.get(2).map_or(Ok(0), |x| num(x, 60))?;
    let ms = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        num(&digits, 1000)?
    };
    let day = here - here % 86_400_000_000_000;
    Ok(day + ((h * 3600 + m * 60 + s) * 1000 + ms) * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn typing_completing_and_submitting() {
        let mut p = Prompt::new(
            PromptKind::AddSymbol,
            vec!["BTCUSDT".into(), "BTCFDUSD".into(), "ETHUSDT".into()],
        );
        for c in "bt".chars() {
            assert_eq!(p.key(&key(KeyCode::Char(c))), PromptOutcome::Open);
        }
        assert_eq!(p.matches(), ["BTCUSDT", "BTCFDUSD"]);
        p.key(&key(KeyCode::Tab));
        assert_eq!(p.input, "BTC", "the common prefix");
        p.key(&key(KeyCode::Char('u')));
        p.key(&key(KeyCode::Tab));
        assert_eq!(p.input, "BTCUSDT");
        p.key(&key(KeyCode::Backspace));
        assert_eq!(p.input, "BTCUSD");
        assert_eq!(
            p.key(&key(KeyCode::Enter)),
            PromptOutcome::Submit("BTCUSD".into())
        );
        assert_eq!(p.key(&key(KeyCode::Esc)), PromptOutcome::Cancel);
        assert_eq!(
            p.key(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            PromptOutcome::Cancel
        );
    }

    #[test]
    fn go_to_reads_times_offsets_and_percentages() {
        // 2024-08-08 23:54:15.343 UTC
        let first = 1_723_161_255_343_000_000u64;
        let here = first + 60_000_000_000;
        let last = first + 200_000_000_000;
        let g = |s: &str| parse_goto(s, Some(first), Some(here), Some(last));
        assert_eq!(g("+2m"), Ok(first + 120_000_000_000));
        assert_eq!(g("-30s"), Ok(here - 30_000_000_000));
        assert_eq!(g("-1h"), Ok(first), "not before the start");
        assert_eq!(g("50%"), Ok(first + 100_000_000_000));
        assert_eq!(g("23:55:00"), Ok(1_723_161_300_000_000_000));
        assert_eq!(g("23:55:00.5"), Ok(1_723_161_300_500_000_000));
        assert_eq!(g("23:55"), Ok(1_723_161_300_000_000_000));
        assert!(g("25:00").is_err());
        assert!(g("soon").unwrap_err().contains("give a time"));
        assert!(g("150%").is_err());
        assert!(
            parse_goto("50%", Some(first), None, None)
                .unwrap_err()
                .contains("end is not known")
        );
        assert!(parse_goto("+1s", None, None, None).is_err());
    }
}
