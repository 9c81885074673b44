//! The query API's JSON answers, decoded straight into numbers.

use super::*;

#[derive(Deserialize)]
pub(super) struct ApiEnvelope<'a> {
    pub(super) status: &'a str,
    #[serde(default, rename = "errorType")]
    pub(super) error_type: Option<String>,
    #[serde(default)]
    pub(super) error: Option<String>,
    #[serde(default)]
    pub(super) warnings: Vec<String>,
    #[serde(default)]
    pub(super) data: Option<ApiData>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub(super) enum ApiData {
    Vector(Vec<VectorItem>),
    Matrix(Vec<MatrixItem>),
    Scalar(Sample),
    String(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
pub(super) struct VectorItem {
    #[serde(default)]
    pub(super) metric: Labels,
    pub(super) value: Sample,
}

#[derive(Deserialize)]
pub(super) struct MatrixItem {
    #[serde(default)]
    pub(super) metric: Labels,
    #[serde(default)]
    pub(super) values: Vec<Sample>,
}

/// A `[unix seconds, "value"]` pair, decoded straight into numbers (no intermediate strings).
pub(super) struct Sample(pub(super) f64, pub(super) f64);

impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(SampleVisitor)
    }
}

pub(super) struct SampleVisitor;

impl<'de> serde::de::Visitor<'de> for SampleVisitor {
    type Value = Sample;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a [timestamp, \"value\"] pair")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Sample, A::Error> {
        use serde::de::Error as _;
        let t: f64 = seq
            .next_element()?
            .ok_or_else(|| A::Error::invalid_length(0, &self))?;
        let v = seq
            .next_element_seed(ValueSeed)?
            .ok_or_else(|| A::Error::invalid_length(1, &self))?;
        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            return Err(A::Error::invalid_length(3, &self));
        }
        Ok(Sample(t, v))
    }
}

/// A sample value string (`"1.5"`, `"NaN"`, `"+Inf"`) parsed where it lies in the answer.
pub(super) struct ValueSeed;

impl<'de> serde::de::DeserializeSeed<'de> for ValueSeed {
    type Value = f64;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<f64, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for ValueSeed {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sample value string")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<f64, E> {
        parse_value(s).ok_or_else(|| E::custom(format!("sample value {s:?} is not a number")))
    }
}

/// Parses a Prometheus sample value (`"1.5"`, `"NaN"`, `"+Inf"`, `"-Inf"`).
pub fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

pub(super) enum Answer {
    Vector(Vec<InstantSample>),
    Matrix(Vec<RangeSeries>, Vec<String>),
}
