//! Interpretation: the deterministic table that turns the two models' outputs and the data's
//! health into one label a person can read, with the reasons behind it.
//!
//! Owns: the 3×3 table (pressure UP / FLAT / DOWN × context BULLISH / NEUTRAL / BEARISH), the
//! precedence of the exceptions, and the wording. Must not touch: models, books, clocks, the
//! screen (colours live in the UI's theme; [`Tone`] only says which kind of label it is).
//!
//! Precedence, first match wins:
//! 1. the data is unreliable — book stale, a gap / resync in progress, the context warming up,
//!    a model missing — "data unreliable: <why>";
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
    let mut why = Vec::new();
    if health.stale {
        why.push("book stale: no depth update within connection.stale_after".to_string());
    }
    if health.resyncing {
        why.push("sequence gap: book resyncing".to_string());
    }
    if let Some(m) = health.context_warming_min {
        why.push(format!("context warming up ({m} min)"));
    }
    if let Some(m) = &health.pressure_missing {
        why.push(format!("no pressure model output: {m}"));
    }
    if let Some(m) = &health.context_missing {
        why.push(format!("no context model: {m}"));
    }
    let (Some(p), Some(c)) = (pressure, context) else {
        if why.is_empty() {
            why.push("a model output is missing".into());
        }
        return unreliable(why);
    };
    if !why.is_empty() {
        return unreliable(why);
    }
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

fn unreliable(why: Vec<String>) -> Interpretation {
    Interpretation {
        label: format!("data unreliable: {}", why.join("; ")),
        tone: Tone::Unreliable,
        reasons: why,
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
    fn unreliable_data_wins_and_says_why() {
        let cases: [(Health, &str); 5] = [
            (
                Health {
                    stale: true,
                    ..Health::default()
                },
                "data unreliable: book stale",
            ),
            (
                Health {
                    resyncing: true,
                    ..Health::default()
                },
                "data unreliable: sequence gap: book resyncing",
            ),
            (
                Health {
                    context_warming_min: Some(37),
                    ..Health::default()
                },
                "data unreliable: context warming up (37 min)",
            ),
            (
                Health {
                    context_missing: Some("no model at models/context/model.toml".into()),
                    ..Health::default()
                },
                "data unreliable: no context model: no model at models/context/model.toml",
            ),
            (
                Health {
                    stale: true,
                    resyncing: true,
                    ..Health::default()
                },
                "data unreliable: book stale: no depth update within connection.stale_after; sequence gap",
            ),
        ];
        for (h, want) in cases {
            // Even with a confident, aligned signal.
            let out = interpret(Some(&p(Up, 0.95)), Some(&c(Bullish)), &h, &TH);
            assert!(out.label.starts_with(want), "{h:?}: {}", out.label);
            assert_eq!(out.tone, Tone::Unreliable);
            assert!(!out.reasons.is_empty());
        }
        let out = interpret(None, Some(&c(Bullish)), &Health::default(), &TH);
        assert_eq!(out.tone, Tone::Unreliable);
        let h = Health {
            pressure_missing: Some("waiting for features".into()),
            ..Health::default()
        };
        let out = interpret(None, Some(&c(Bullish)), &h, &TH);
        assert_eq!(
            out.label,
            "data unreliable: no pressure model output: waiting for features"
        );
    }
}
