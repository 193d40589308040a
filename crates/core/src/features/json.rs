//! The headless JSON shape of a feature vector: one object per vector, nested on the schema's
//! dots (`"ofi":{"last":…,"1s":…}`), null for invalid values, never `NaN`.
//!
//! Owns: the serialization of [`FeatureRecord`]. Must not touch: I/O (the writer in `run.rs`
//! does), the values (it reads a [`FeatureVector`]).
//!
//! ```json
//! {"symbol":"BTCUSDT","ts_ns":1723161315408000000,"event":"depth","schema":1,
//!  "valid":{"book":true,"1s":true,"10s":true,"60s":false},
//!  "bid_px":61837.63,…,"imbalance":{"1":0.42,"5":…,"10":…,"20":…,"weighted":…},
//!  "ofi":{"last":0.5,"1s":…,"10s":…,"60s":null},…}
//! ```

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::{FEATURE_SCHEMA_VERSION, FeatureVector, Schema};

/// One line of `--features-jsonl`.
pub struct FeatureRecord<'a> {
    pub symbol: &'a str,
    pub schema: &'a Schema,
    pub vector: &'a FeatureVector,
}

/// `{"book":…,"1s":…,…}`.
struct ValidGroups<'a>(&'a Schema, &'a FeatureVector);

impl Serialize for ValidGroups<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1 + self.0.windows.len()))?;
        m.serialize_entry("book", &self.1.book_valid())?;
        for (i, w) in self.0.windows.iter().enumerate() {
            m.serialize_entry(w.as_str(), &self.1.window_valid(i))?;
        }
        m.end()
    }
}

/// The features `range` of one family, keyed by the part after the dot.
struct Family<'a> {
    schema: &'a Schema,
    vector: &'a FeatureVector,
    range: std::ops::Range<usize>,
}

impl Serialize for Family<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.range.len()))?;
        for i in self.range.clone() {
            let key = self.schema.features[i].split().1.unwrap_or_default();
            m.serialize_entry(key, &self.vector.get(i))?;
        }
        m.end()
    }
}

impl Serialize for FeatureRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("symbol", self.symbol)?;
        m.serialize_entry("ts_ns", &self.vector.ts_ns())?;
        m.serialize_entry("event", self.vector.event().as_str())?;
        m.serialize_entry("schema", &FEATURE_SCHEMA_VERSION)?;
        m.serialize_entry("valid", &ValidGroups(self.schema, self.vector))?;
        let f = &self.schema.features;
        let mut i = 0;
        while i < f.len() {
            let (family, key) = f[i].split();
            if key.is_none() {
                // serde_json writes a non-finite f64 as null too; `get` already gives None
                // for invalid values.
                m.serialize_entry(family, &self.vector.get(i))?;
                i += 1;
                continue;
            }
            let end = i + f[i..].iter().take_while(|x| x.split().0 == family).count();
            m.serialize_entry(
                family,
                &Family {
                    schema: self.schema,
                    vector: self.vector,
                    range: i..end,
                },
            )?;
            i = end;
        }
        m.end()
    }
}
