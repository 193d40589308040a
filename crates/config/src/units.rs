//! Durations, sizes and fixed-length arrays in the TOML text form (`"500ms"`,
//! `["1s", "10s", "60s"]`, `"1GiB"`, `[5, 10, 20]`): serde adapters for `#[serde(with = "…")]`.
//!
//! Owns: turning a section's `Duration`/byte-size fields into the strings a person writes and
//! back, and holding fixed arrays to their exact length. Must not touch: the text forms themselves (`microstate_core::units` owns parsing and
//! printing, shared with the CLI and the screen), range checks (each section's `validate`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use microstate_core::units::{format_duration, format_size, parse_duration, parse_size};

/// One duration as a string (`"250ms"`).
pub(crate) mod duration_str {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// A fixed array of durations as strings (`["1s", "10s", "60s"]`).
pub(crate) mod durations_str {
    use super::*;

    pub fn serialize<S: Serializer, const N: usize>(
        d: &[Duration; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        d.map(format_duration).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[Duration; N], D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        let got = v.len();
        let parsed = v
            .iter()
            .map(|s| parse_duration(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(serde::de::Error::custom)?;
        parsed
            .try_into()
            .map_err(|_| serde::de::Error::custom(format!("expected {N} durations, got {got}")))
    }
}

/// A byte count as a size string (`"1GiB"`, `"0"`).
pub(crate) mod size_str {
    use super::*;

    pub fn serialize<S: Serializer>(b: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_size(*b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        parse_size(&s).map_err(serde::de::Error::custom)
    }
}

/// A fixed array written as a TOML array of exactly `N` values. serde's own array impl stops
/// reading after `N` items, so `[5, 10, 20, 40]` would pass for `[5, 10, 20]`; this refuses it,
/// in the same words serde uses for a short one.
pub(crate) mod exact_array {
    use super::*;

    pub fn serialize<S: Serializer, T: Serialize, const N: usize>(
        a: &[T; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        a.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>, const N: usize>(
        d: D,
    ) -> Result<[T; N], D::Error> {
        let v = Vec::<T>::deserialize(d)?;
        let got = v.len();
        v.try_into().map_err(|_| {
            serde::de::Error::invalid_length(got, &format!("an array of length {N}").as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size(" 2 GiB "), Ok(2 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999GiB").is_err());
        for b in [0, 1000, 4096, 64 << 20, 3 << 30] {
            assert_eq!(parse_size(&format_size(b)), Ok(b));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("23h30m"), Ok(Duration::from_secs(84_600)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("").is_err());
        for d in [
            Duration::from_millis(1500),
            Duration::from_secs(84_600),
            Duration::ZERO,
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}
