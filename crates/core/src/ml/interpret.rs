//! Interpretation: the deterministic table that turns the two models' outputs and the data's
//! health into one label a person can read, with the reasons behind it.
//!
//! Owns: the 3×3 table (pressure UP / FLAT / DOWN × context BULLISH / NEUTRAL / BEARISH), the
//! precedence of the exceptions, and the wording. Must not touch: models, books, clocks, the
//! screen (colours live in the UI's theme; [`Tone`] only says which kind of label it is).
//!
//! Precedence, first match wins:
//! 1. something fails, and the label says exactly what (every failing part, joined by "; "):
//!    the data (book stale, a gap / resync in progress), the pressure model (missing, no
//!    output, inputs out of range, no live edge over its baselines — e.g. "pressure: no edge
//!    now (Brier 0.61 vs 0.58 for microprice sign over the last 1,000)"), the context model
//!    (missing, warming up). Never one blanket word for all of them: a trader must see whether
//!    the feed, the model's fit to this market, or the history is the problem.
//! 2. the pressure model's top probability is below `min_pressure_confidence` — "no clear
//!    pressure";
//! 3. the table cell of (pressure class, context label).
//!
//! The two signals stay independent: nothing here mixes their numbers; they meet only as a
//! table lookup.

use serde::Serialize;

use crate::ml::context::{ContextLabel, ContextOutput, normal_cdf};

/// The pressure model's class over its horizon (≈1 s): the sign of the mid change beyond the
/// dead band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PressureClass {
    Down,
    Flat,
    Up,
}

impl PressureClass {
    /// Class order of the pressure model's outputs.
    pub const ALL: [PressureClass; 3] =
        [PressureClass::Down, PressureClass::Flat, PressureClass::Up];

    pub fn as_str(self) -> &'static str {
        match self {
            PressureClass::Down => "DOWN",
            PressureClass::Flat => "FLAT",
            PressureClass::Up => "UP",
        }
    }
}

/// The pressure model's output: calibrated probabilities of DOWN, FLAT, UP.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PressureInput {
    pub probs: [f32; 3],
}

impl PressureInput {
    /// The most probable class and its probability (the first on ties).
    pub fn top(&self) -> (PressureClass, f32) {
        let mut best = 0;
        for i in 1..3 {
            if self.probs[i] > self.probs[best] {
                best = i;
            }
        }
        (PressureClass::ALL[best], self.probs[best])
    }
}

/// The context model's output for the label horizon.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ContextInput {
    pub label: ContextLabel,
    /// `Φ(|drift| / sigma)`, see `ml::context`.
    pub confidence: f64,
    pub horizon_min: u32,
}

impl ContextInput {
    /// What the table reads of a context output for horizon index `h`: the *trend* label (the
    /// description of the last `h` minutes), with `Φ(|z|)` as its strength. `None` while
    /// warming up.
    pub fn of(out: &ContextOutput, h: usize) -> Option<ContextInput> {
        match out {
            ContextOutput::Ready { trend, .. } => trend.get(h).map(|t| ContextInput {
                label: t.label,
                confidence: normal_cdf(t.z.abs()),
                horizon_min: t.horizon_min,
            }),
            ContextOutput::WarmingUp { .. } => None,
        }
    }
}

/// Is the data behind the models fit to be read?
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Health {
    /// The book has had no update for the stale limit.
    pub stale: bool,
    /// A sequence gap was seen and the book is resyncing (or not yet synced).
    pub resyncing: bool,
    /// The context model still lacks this many minutes of history.
    pub context_warming_min: Option<usize>,
    /// No pressure model output (model missing, or no features yet).
    pub pressure_missing: Option<String>,
    /// No context model (missing file, schema mismatch).
    pub context_missing: Option<String>,
    /// The pressure direction is held back (inputs out of range, no live edge): why.
    pub pressure_quiet: Option<String>,
}

/// Thresholds (from `[models.interpret]` in the config).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Thresholds {
    /// Below this top probability the pressure is "no clear pressure".
    pub min_pressure_confidence: f32,
}

/// What kind of label it is (the UI maps it to a colour).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    StrongBullish,
    Bullish,
    Neutral,
    Bearish,
    StrongBearish,
    Caution,
    Unreliable,
}

/// The outcome: a label and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Interpretation {
    pub label: String,
    pub tone: Tone,
    /// Which inputs and thresholds decided it, one line each.
    pub reasons: Vec<String>,
}

/// The 3×3 table: (label, tone) for (pressure, context).
pub fn cell(p: PressureClass, c: ContextLabel) -> (&'static str, Tone) {
    use ContextLabel::*;
    use PressureClass::*;
    match (p, c) {
        (Up, Bullish) => ("strong bullish alignment", Tone::StrongBullish),
        (Up, Neutral) => ("buying pressure, no trend context", Tone::Bullish),
        (Up, Bearish) => ("counter-trend buying (risky)", Tone::Caution),
        (Flat, Bullish) => ("quiet within an uptrend", Tone::Neutral),
        (Flat, Neutral) => ("balanced: no pressure, no trend", Tone::Neutral),
        (Flat, Bearish) => ("quiet within a downtrend", Tone::Neutral),
        (Down, Bullish) => ("pullback within uptrend", Tone::Caution),
        (Down, Neutral) => ("selling pressure, no trend context", Tone::Bearish),
        (Down, Bearish) => ("strong bearish alignment", Tone::StrongBearish),
    }
}

/// Interprets one moment. `pressure` / `context` are `None` when there is no output (the
/// reason is then in `health`).
pub fn interpret(
    pressure: Option<&PressureInput>,
    context: Option<&ContextInput>,
    health: &Health,
    th: &Thresholds,
) -> Interpretation {
    // What fails, in the order a trader should read it; `unreliable` when the feed itself or a
    // missing model is the cause (the rest: the models are fine but have nothing to say).
    let mut fails = Vec::new();
    let mut unreliable = false;
    if health.stale {
        fails.push("book stale: no depth update within connection.stale_after".to_string());
        unreliable = true;
    }
    if health.resyncing {
        fails.push("sequence gap: book resyncing".to_string());
        unreliable = true;
    }
    match (&health.pressure_missing, pressure) {
        (Some(m), _) => {
            fails.push(format!("pressure: no output ({m})"));
            // A model that is not there (or made for other inputs) is a setup problem; an
            // output not there yet is not.
            unreliable |=
                m.contains("not loaded") || m.contains("no model") || m.contains("does not match");
        }
        (None, None) => fails.push("pressure: no output yet".into()),
        (None, Some(_)) => {
            if let Some(q) = &health.pressure_quiet {
                fails.push(format!("pressure: {q}"));
            }
        }
    }
    if let Some(m) = &health.context_missing {
        fails.push(format!("context: no model ({m})"));
        unreliable = true;
    } else if let Some(m) = health.context_warming_min {
        fails.push(format!("context warming up ({m} min)"));
    } else if context.is_none() {
        fails.push("context: no forecast yet".into());
    }
    let (Some(p), Some(c), true) = (pressure, context, fails.is_empty()) else {
        // Say what still works beside what fails.
        let mut reasons = fails.clone();
        if let Some(p) = pressure.filter(|_| health.pressure_quiet.is_none()) {
            let (class, conf) = p.top();
            reasons.push(format!("pressure {} p={conf:.2}", class.as_str()));
        }
        if let Some(c) = context {
            reasons.push(format!(
                "context {} over {} min, confidence {:.2}",
                c.label.as_str(),
                c.horizon_min,
                c.confidence
            ));
        }
        return Interpretation {
            label: fails.join("; "),
            tone: if unreliable {
                Tone::Unreliable
            } else {
                Tone::Neutral
            },
            reasons,
        };
    };
    let (class, conf) = p.top();
    let mut reasons = vec![format!(
        "pressure {} p={conf:.2} (DOWN {:.2} / FLAT {:.2} / UP {:.2})",
        class.as_str(),
        p.probs[0],
        p.probs[1],
        p.probs[2]
    )];
    // NaN confidence fails this comparison too: it is not clear pressure either.
    let clear = conf >= th.min_pressure_confidence;
    if !clear {
        reasons.push(format!(
            "top probability {conf:.2} < models.interpret.min_pressure_confidence {:.2}",
            th.min_pressure_confidence
        ));
        return Interpretation {
            label: "no clear pressure".into(),
            tone: Tone::Neutral,
            reasons,
        };
    }
    reasons.push(format!(
        "top probability {conf:.2} ≥ models.interpret.min_pressure_confidence {:.2}",
        th.min_pressure_confidence
    ));
    reasons.push(format!(
        "context {} over {} min, confidence {:.2}",
        c.label.as_str(),
        c.horizon_min,
        c.confidence
    ));
    let (label, tone) = cell(class, c.label);
    Interpretation {
        label: label.into(),
        tone,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContextLabel::*;
    use PressureClass::*;

    const TH: Thresholds = Thresholds {
        min_pressure_confidence: 0.5,
    };

    fn p(class: PressureClass, top: f32) -> PressureInput {
        let rest = (1.0 - top) / 2.0;
        let mut probs = [rest; 3];
        probs[class as usize] = top;
        PressureInput { probs }
    }

    fn c(label: ContextLabel) -> ContextInput {
        ContextInput {
            label,
            confidence: 0.7,
            horizon_min: 15,
        }
    }

    #[test]
    fn every_cell_of_the_table() {
        let table = [
            (Up, Bullish, "strong bullish alignment", Tone::StrongBullish),
            (
                Up,
                Neutral,
                "buying pressure, no trend context",
                Tone::Bullish,
            ),
            (Up, Bearish, "counter-trend buying (risky)", Tone::Caution),
            (Flat, Bullish, "quiet within an uptrend", Tone::Neutral),
            (
                Flat,
                Neutral,
                "balanced: no pressure, no trend",
                Tone::Neutral,
            ),
            (Flat, Bearish, "quiet within a downtrend", Tone::Neutral),
            (Down, Bullish, "pullback within uptrend", Tone::Caution),
            (
                Down,
                Neutral,
                "selling pressure, no trend context",
                Tone::Bearish,
            ),
            (
                Down,
                Bearish,
                "strong bearish alignment",
                Tone::StrongBearish,
            ),
        ];
        for (pc, cl, label, tone) in table {
            let out = interpret(Some(&p(pc, 0.8)), Some(&c(cl)), &Health::default(), &TH);
            assert_eq!(out.label, label, "{pc:?} × {cl:?}");
            assert_eq!(out.tone, tone, "{pc:?} × {cl:?}");
            let r = out.reasons.join(" | ");
            assert!(
                r.contains(&format!("pressure {} p=0.80", pc.as_str())),
                "{r}"
            );
            assert!(r.contains("min_pressure_confidence 0.50"), "{r}");
            assert!(
                r.contains(&format!("context {} over 15 min", cl.as_str())),
                "{r}"
            );
        }
    }

    #[test]
    fn low_confidence_is_no_clear_pressure() {
        for (top, clear) in [(0.49, false), (0.5, true), (0.9, true)] {
            let out = interpret(
                Some(&p(Up, top)),
                Some(&c(Bullish)),
                &Health::default(),
                &TH,
            );
            assert_eq!(out.label == "no clear pressure", !clear, "{top}: {out:?}");
        }
        let out = interpret(
            Some(&p(Down, 0.4)),
            Some(&c(Bearish)),
            &Health::default(),
            &TH,
        );
        assert!(out.reasons[1].contains("0.40 < models.interpret.min_pressure_confidence 0.50"));
        let nan = PressureInput {
            probs: [f32::NAN; 3],
        };
        let out = interpret(Some(&nan), Some(&c(Neutral)), &Health::default(), &TH);
        assert_eq!(out.label, "no clear pressure");
    }

    #[test]
    fn each_failure_is_named_never_a_blanket_unreliable() {
        let cases: [(Health, &str, Tone); 7] = [
            (
                Health {
                    stale: true,
                    ..Health::default()
                },
                "book stale: no depth update within connection.stale_after",
                Tone::Unreliable,
            ),
            (
                Health {
                    resyncing: true,
                    ..Health::default()
                },
                "sequence gap: book resyncing",
                Tone::Unreliable,
            ),
            (
                Health {
                    context_warming_min: Some(37),
                    ..Health::default()
                },
                "context warming up (37 min)",
                Tone::Neutral,
            ),
            (
                Health {
                    context_missing: Some("no model at models/context/model.toml".into()),
                    ..Health::default()
                },
                "context: no model (no model at models/context/model.toml)",
                Tone::Unreliable,
            ),
            (
                Health {
                    pressure_quiet: Some(
                        "no edge now (Brier 0.61 vs 0.58 for microprice sign over the last 1,000)"
                            .into(),
                    ),
                    ..Health::default()
                },
                "pressure: no edge now (Brier 0.61 vs 0.58 for microprice sign over the last 1,000)",
                Tone::Neutral,
            ),
            (
                Health {
                    pressure_quiet: Some(
                        "inputs out of range (trade_rate.1s/10s 12.00, training 0.10 to 3.00)"
                            .into(),
                    ),
                    ..Health::default()
                },
                "pressure: inputs out of range (trade_rate.1s/10s 12.00",
                Tone::Neutral,
            ),
            (
                Health {
                    stale: true,
                    resyncing: true,
                    ..Health::default()
                },
                "book stale: no depth update within connection.stale_after; sequence gap",
                Tone::Unreliable,
            ),
        ];
        for (h, want, tone) in cases {
            // Even with a confident, aligned signal.
            let out = interpret(Some(&p(Up, 0.95)), Some(&c(Bullish)), &h, &TH);
            assert!(out.label.starts_with(want), "{h:?}: {}", out.label);
            assert!(!out.label.contains("data unreliable"), "{}", out.label);
            assert_eq!(out.tone, tone, "{h:?}");
            assert!(!out.reasons.is_empty());
        }
        // A quiet pressure next to a ready context: the context still reads in the reasons, the
        // held-back direction does not.
        let h = Health {
            pressure_quiet: Some("no edge yet (12 of 200 predictions scored)".into()),
            ..Health::default()
        };
        let out = interpret(Some(&p(Up, 0.95)), Some(&c(Bullish)), &h, &TH);
        assert_eq!(
            out.label,
            "pressure: no edge yet (12 of 200 predictions scored)"
        );
        assert!(
            out.reasons.iter().any(|r| r.starts_with("context BULLISH")),
            "{out:?}"
        );
        assert!(
            !out.reasons.iter().any(|r| r.starts_with("pressure UP")),
            "{out:?}"
        );
        // Two parts fail: both are said.
        let h = Health {
            context_warming_min: Some(5),
            pressure_quiet: Some(
                "no edge now (Brier 0.70 vs 0.60 for majority (live) over the last 300)".into(),
            ),
            ..Health::default()
        };
        let out = interpret(Some(&p(Up, 0.95)), None, &h, &TH);
        assert_eq!(
            out.label,
            "pressure: no edge now (Brier 0.70 vs 0.60 for majority (live) over the last 300); context warming up (5 min)"
        );
        let out = interpret(None, Some(&c(Bullish)), &Health::default(), &TH);
        assert_eq!(out.label, "pressure: no output yet");
        let h = Health {
            pressure_missing: Some("waiting for features".into()),
            ..Health::default()
        };
        let out = interpret(None, Some(&c(Bullish)), &h, &TH);
        assert_eq!(out.label, "pressure: no output (waiting for features)");
        assert_eq!(out.tone, Tone::Neutral);
        let h = Health {
            pressure_missing: Some("pressure model not loaded: no model at x".into()),
            ..Health::default()
        };
        assert_eq!(
            interpret(None, Some(&c(Bullish)), &h, &TH).tone,
            Tone::Unreliable
        );
    }
}
