//! Injected faults: what can go wrong on purpose, their `--fault` string form, and when they fire.
//!
//! Owns: the [`Fault`] value, its parser ([`parse_fault`]) and printer (`Display`, which round
//! trips), and the schedule that says which faults are due at an emitted frame index. Must not
//! touch: sockets or the book — the clock (`exchange::clock`) and the REST routes act on what fires.
//!
//! # Grammar
//! ```text
//! SPEC  := KIND [":" ARG] ["@" FRAME ["/" EVERY]]
//! FRAME := index of the emitted WebSocket frame (0-based, every stream counts, over all loops)
//! EVERY := fire again every EVERY frames after FRAME
//! ```
//! Without `@`, stream faults fire at frame 0 and REST faults are armed at start (before any
//! frame). Each fault fires once unless it has `/EVERY`. Durations are milliseconds, or carry
//! `ms`/`s`; sizes are bytes, or carry `k`/`m` (KiB/MiB).
//!
//! | spec | effect |
//! |---|---|
//! | `drop-depth[:N]` | the next N depth diffs (default 1) are not sent (the exchange's own book still applies them) |
//! | `dup-depth` | the next depth diff is sent twice |
//! | `swap-depth` | the next two depth diffs of one symbol are sent in swapped order |
//! | `close` | every open WebSocket is closed abruptly (TCP close, no close frame) after the frames before it |
//! | `shutdown[:GRACE]` | `{"e":"serverShutdown","E":ms}` to every socket, close frame GRACE later (default 3 s) |
//! | `silent` | open sockets stop getting frames, answers and pings, but stay open |
//! | `ignore-pong` | open sockets' pongs are ignored, so they are dropped after the pong timeout |
//! | `no-ping` | open sockets are never pinged again |
//! | `malformed` | a truncated JSON text frame to every socket |
//! | `oversize[:BYTES]` | a valid JSON text frame of BYTES (default 2 MiB) to every socket |
//! | `rest-429[:N]`, `rest-418[:N]`, `rest-500[:N]` | the next N depth requests (default 1) get that status |
//! | `slow-depth:DELAY` | the next depth response is delayed by DELAY |
//! | `stale-depth[:DIFFS]` | the next depth response is the book as it was DIFFS depth diffs earlier (default 20), with its older `lastUpdateId` |
//!
//! Examples: `drop-depth:3@500` (drop 3 diffs from frame 500), `rest-429:2` (the first two depth
//! requests), `close@1000/5000` (close every socket at frame 1000, 6000, 11000, …).

use std::fmt;
use std::time::Duration;

/// Largest oversize frame accepted (bytes): anything bigger only tests the machine's memory.
const OVERSIZE_MAX: usize = 256 << 20;
/// Default oversize frame (bytes): above common client limits, below tungstenite's 64 MiB default.
const OVERSIZE_DEFAULT: usize = 2 << 20;
/// Default delay of the close frame after `serverShutdown`.
const SHUTDOWN_GRACE_DEFAULT: Duration = Duration::from_secs(3);
/// Default age of a stale snapshot, in depth diffs.
const STALE_DEFAULT: u32 = 20;

/// What a fault does. See the module docs for the spec of each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The next `count` depth diffs are not sent.
    DropDepth { count: u32 },
    /// The next depth diff is sent twice.
    DuplicateDepth,
    /// The next two depth diffs of one symbol are sent in swapped order.
    SwapDepth,
    /// Every open WebSocket is closed abruptly.
    Close,
    /// `serverShutdown` event, then a close frame after `grace`.
    ServerShutdown { grace: Duration },
    /// Open sockets stop getting frames and pings but stay open.
    Silent,
    /// Open sockets' pongs are ignored (they get dropped after the pong timeout).
    IgnorePongs,
    /// Open sockets are not pinged any more.
    NoPing,
    /// A truncated JSON text frame.
    Malformed,
    /// A valid JSON text frame of `bytes` bytes.
    Oversize { bytes: usize },
    /// The next `count` depth requests get HTTP 429.
    Rest429 { count: u32 },
    /// The next `count` depth requests get HTTP 418 with `Retry-After: 2`, and every weighted
    /// request is then refused with 418 until those 2 s are over (a ban, as Binance's).
    Rest418 { count: u32 },
    /// The next `count` depth requests get HTTP 500.
    Rest500 { count: u32 },
    /// The next depth response is delayed.
    SlowDepth { delay: Duration },
    /// The next depth response is the book `behind` depth diffs ago.
    StaleDepth { behind: u32 },
}

impl FaultKind {
    /// True for faults that act on REST answers rather than on the stream.
    pub fn is_rest(&self) -> bool {
        matches!(
            self,
            FaultKind::Rest429 { .. }
                | FaultKind::Rest418 { .. }
                | FaultKind::Rest500 { .. }
                | FaultKind::SlowDepth { .. }
                | FaultKind::StaleDepth { .. }
        )
    }
}

/// One scheduled fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    /// Emitted WebSocket frame index (0-based, all streams, counted over all loops) at which it
    /// fires. `None`: at start (REST faults are armed before any frame; stream faults fire at 0).
    pub at: Option<u64>,
    /// Fire again every this many frames after `at`.
    pub every: Option<u64>,
}

impl Fault {
    /// A fault that fires once at frame `at`.
    pub fn at(kind: FaultKind, at: u64) -> Fault {
        Fault {
            kind,
            at: Some(at),
            every: None,
        }
    }

    /// A fault that fires at start.
    pub fn now(kind: FaultKind) -> Fault {
        Fault {
            kind,
            at: None,
            every: None,
        }
    }
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_fault(s)
    }
}

fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FaultKind::DropDepth { count } => write!(f, "drop-depth:{count}")?,
            FaultKind::DuplicateDepth => f.write_str("dup-depth")?,
            FaultKind::SwapDepth => f.write_str("swap-depth")?,
            FaultKind::Close => f.write_str("close")?,
            FaultKind::ServerShutdown { grace } => write!(f, "shutdown:{}", fmt_duration(*grace))?,
            FaultKind::Silent => f.write_str("silent")?,
            FaultKind::IgnorePongs => f.write_str("ignore-pong")?,
            FaultKind::NoPing => f.write_str("no-ping")?,
            FaultKind::Malformed => f.write_str("malformed")?,
            FaultKind::Oversize { bytes } => write!(f, "oversize:{bytes}")?,
            FaultKind::Rest429 { count } => write!(f, "rest-429:{count}")?,
            FaultKind::Rest418 { count } => write!(f, "rest-418:{count}")?,
            FaultKind::Rest500 { count } => write!(f, "rest-500:{count}")?,
            FaultKind::SlowDepth { delay } => write!(f, "slow-depth:{}", fmt_duration(*delay))?,
            FaultKind::StaleDepth { behind } => write!(f, "stale-depth:{behind}")?,
        }
        if let Some(at) = self.at {
            write!(f, "@{at}")?;
            if let Some(e) = self.every {
                write!(f, "/{e}")?;
            }
        }
        Ok(())
    }
}

/// Parses a `--fault` spec (grammar in the module docs). Errors quote the spec and say what is
/// wrong with it.
pub fn parse_fault(spec: &str) -> Result<Fault, String> {
    let bad = |why: &str| format!("bad fault spec {spec:?}: {why}");
    let s = spec.trim();
    let (body, when) = match s.split_once('@') {
        Some((b, w)) => (b, Some(w)),
        None => (s, None),
    };
    let (at, every) = match when {
        None => (None, None),
        Some(w) => {
            let (a, e) = match w.split_once('/') {
                Some((a, e)) => (a, Some(e)),
                None => (w, None),
            };
            let at = a
                .parse::<u64>()
                .map_err(|_| bad(&format!("frame index {a:?} is not a whole number")))?;
            let every = match e {
                None => None,
                Some(e) => match e.parse::<u64>() {
                    Ok(0) | Err(_) => {
                        return Err(bad(&format!(
                            "repeat interval {e:?} is not a positive whole number of frames"
                        )));
                    }
                    Ok(n) => Some(n),
                },
            };
            (Some(at), every)
        }
    };
    let (name, arg) = match body.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (body, None),
    };
    let count = |arg: Option<&str>| -> Result<u32, String> {
        match arg {
            None => Ok(1),
            Some(a) => match a.parse::<u32>() {
                Ok(0) | Err(_) => Err(bad(&format!("count {a:?} is not a positive whole number"))),
                Ok(n) => Ok(n),
            },
        }
    };
    let no_arg = |arg: Option<&str>| -> Result<(), String> {
        match arg {
            None => Ok(()),
            Some(a) => Err(bad(&format!("{name} takes no argument (got {a:?})"))),
        }
    };
    let duration = |a: &str| -> Result<Duration, String> {
        let (num, mult) = if let Some(n) = a.strip_suffix("ms") {
            (n, 1)
        } else if let Some(n) = a.strip_suffix('s') {
            (n, 1000)
        } else {
            (a, 1)
        };
        num.parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(mult))
            .map(Duration::from_millis)
            .ok_or_else(|| bad(&format!("duration {a:?} is not like 1500, 1500ms or 2s")))
    };
    let kind = match name {
        "drop-depth" => FaultKind::DropDepth { count: count(arg)? },
        "dup-depth" | "duplicate-depth" => {
            no_arg(arg)?;
            FaultKind::DuplicateDepth
        }
        "swap-depth" | "reorder-depth" => {
            no_arg(arg)?;
            FaultKind::SwapDepth
        }
        "close" => {
            no_arg(arg)?;
            FaultKind::Close
        }
        "shutdown" | "server-shutdown" => FaultKind::ServerShutdown {
            grace: match arg {
                None => SHUTDOWN_GRACE_DEFAULT,
                Some(a) => duration(a)?,
            },
        },
        "silent" => {
            no_arg(arg)?;
            FaultKind::Silent
        }
        "ignore-pong" | "no-pong" => {
            no_arg(arg)?;
            FaultKind::IgnorePongs
        }
        "no-ping" => {
            no_arg(arg)?;
            FaultKind::NoPing
        }
        "malformed" => {
            no_arg(arg)?;
            FaultKind::Malformed
        }
        "oversize" => FaultKind::Oversize {
            bytes: match arg {
                None => OVERSIZE_DEFAULT,
                Some(a) => {
                    let lower = a.to_ascii_lowercase();
                    let (num, mult) = if let Some(n) = lower.strip_suffix('k') {
                        (n.to_string(), 1usize << 10)
                    } else if let Some(n) = lower.strip_suffix('m') {
                        (n.to_string(), 1usize << 20)
                    } else {
                        (lower.clone(), 1)
                    };
                    match num.parse::<usize>().ok().and_then(|n| n.checked_mul(mult)) {
                        Some(b) if (64..=OVERSIZE_MAX).contains(&b) => b,
                        _ => {
                            return Err(bad(&format!(
                                "size {a:?} is not 64 bytes to 256m (like 2097152, 512k or 2m)"
                            )));
                        }
                    }
                }
            },
        },
        "rest-429" => FaultKind::Rest429 { count: count(arg)? },
        "rest-418" => FaultKind::Rest418 { count: count(arg)? },
        "rest-500" => FaultKind::Rest500 { count: count(arg)? },
        "slow-depth" | "slow-snapshot" => FaultKind::SlowDepth {
            delay: match arg {
                Some(a) => duration(a)?,
                None => return Err(bad("slow-depth needs a delay, like slow-depth:1500")),
            },
        },
        "stale-depth" | "stale-snapshot" => FaultKind::StaleDepth {
            behind: match arg {
                None => STALE_DEFAULT,
                Some(_) => count(arg)?,
            },
        },
        "" => return Err(bad("empty fault name")),
        other => {
            return Err(bad(&format!(
                "unknown fault {other:?} (known: drop-depth, dup-depth, swap-depth, close, shutdown, \
                 silent, ignore-pong, no-ping, malformed, oversize, rest-429, rest-418, rest-500, \
                 slow-depth, stale-depth)"
            )));
        }
    };
    Ok(Fault { kind, at, every })
}

/// Which faults are due, by emitted frame index.
pub(crate) struct Schedule {
    items: Vec<(FaultKind, Option<u64>, Option<u64>)>,
}

impl Schedule {
    /// Takes the faults that fire on frames; REST faults without a frame are returned at once
    /// (the caller arms them before anything runs).
    pub fn new(faults: &[Fault]) -> (Schedule, Vec<FaultKind>) {
        let mut now = Vec::new();
        let mut items = Vec::new();
        for f in faults {
            match f.at {
                None if f.kind.is_rest() => now.push(f.kind.clone()),
                None => items.push((f.kind.clone(), Some(0), None)),
                Some(at) => items.push((f.kind.clone(), Some(at), f.every)),
            }
        }
        (Schedule { items }, now)
    }

    /// Faults due at frame `index` (each at most once per call, in spec order).
    pub fn due(&mut self, index: u64) -> Vec<FaultKind> {
        let mut out = Vec::new();
        for (kind, next, every) in &mut self.items {
            if let Some(n) = *next
                && n <= index
            {
                out.push(kind.clone());
                *next = every.map(|e| {
                    // Skip repeats that fell behind (a frame index is visited once).
                    let missed = (index - n) / e + 1;
                    n.saturating_add(missed.saturating_mul(e))
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip() {
        for s in [
            "drop-depth:3@500",
            "dup-depth@7",
            "swap-depth",
            "close@1000/5000",
            "shutdown:3s@10",
            "silent@0",
            "ignore-pong",
            "no-ping@4",
            "malformed@9",
            "oversize:2097152@1",
            "rest-429:2",
            "rest-418:1@3",
            "rest-500:1",
            "slow-depth:1500ms",
            "stale-depth:20@100",
        ] {
            let f = parse_fault(s).unwrap();
            assert_eq!(parse_fault(&f.to_string()).unwrap(), f, "{s}");
        }
    }

    #[test]
    fn bad_specs_name_themselves() {
        for s in [
            "",
            "boom",
            "drop-depth:0",
            "drop-depth:x",
            "dup-depth:2",
            "close@x",
            "close@5/0",
            "slow-depth",
            "oversize:1",
            "shutdown:soon",
        ] {
            let e = parse_fault(s).unwrap_err();
            assert!(e.contains(&format!("{s:?}")), "{e}");
        }
    }

    #[test]
    fn schedule_fires_once_or_every() {
        let faults = vec![
            parse_fault("close@2").unwrap(),
            parse_fault("malformed@1/3").unwrap(),
            parse_fault("rest-429").unwrap(),
            parse_fault("silent").unwrap(),
        ];
        let (mut s, now) = Schedule::new(&faults);
        assert_eq!(now, vec![FaultKind::Rest429 { count: 1 }]);
        assert_eq!(s.due(0), vec![FaultKind::Silent]);
        assert_eq!(s.due(1), vec![FaultKind::Malformed]);
        assert_eq!(s.due(2), vec![FaultKind::Close]);
        assert!(s.due(3).is_empty());
        assert_eq!(s.due(4), vec![FaultKind::Malformed]);
        assert_eq!(s.due(100), vec![FaultKind::Malformed]);
        assert!(s.due(101).is_empty());
        assert_eq!(s.due(103), vec![FaultKind::Malformed]);
    }
}
