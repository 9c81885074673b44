//! Hand-written deserialisers for the request bodies.
//!
//! Written by hand (not derived) so that one pass over the JSON decides between the snapshot and the
//! window form without buffering, unknown fields are skipped without allocating, and `cluster_id` /
//! `is_business_hours` accept the loose types the original service's clients send. Errors carry the
//! field path through `serde_path_to_error`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

use crate::api::{BatchRequest, PredictRequest, Sample, SnapshotInput, WindowInput};

/// A top-level key of a predict body.
enum Key {
    ClusterId,
    Vmcategory,
    IsBusinessHours,
    Number(fn(&mut SnapshotInput) -> &mut Option<f64>),
    Target,
    Samples,
    Unknown,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "cluster_id" => Key::ClusterId,
                    "vmcategory" => Key::Vmcategory,
                    "is_business_hours" => Key::IsBusinessHours,
                    "target" => Key::Target,
                    "samples" => Key::Samples,
                    "cluster_cpu_util_avg" => Key::Number(|s| &mut s.cluster_cpu_util_avg),
                    "cluster_cpu_util_max" => Key::Number(|s| &mut s.cluster_cpu_util_max),
                    "cluster_cpu_util_min" => Key::Number(|s| &mut s.cluster_cpu_util_min),
                    "cluster_cpu_util_std" => Key::Number(|s| &mut s.cluster_cpu_util_std),
                    "node_count" => Key::Number(|s| &mut s.node_count),
                    "sample_count" => Key::Number(|s| &mut s.sample_count),
                    "prev_node_count" => Key::Number(|s| &mut s.prev_node_count),
                    "node_count_change" => Key::Number(|s| &mut s.node_count_change),
                    "prev_cpu_avg" => Key::Number(|s| &mut s.prev_cpu_avg),
                    "cpu_change_rate" => Key::Number(|s| &mut s.cpu_change_rate),
                    "hour" => Key::Number(|s| &mut s.hour),
                    "day_of_week" => Key::Number(|s| &mut s.day_of_week),
                    "cpu_avg_1h" => Key::Number(|s| &mut s.cpu_avg_1h),
                    "cpu_max_1h" => Key::Number(|s| &mut s.cpu_max_1h),
                    "cpu_std_1h" => Key::Number(|s| &mut s.cpu_std_1h),
                    "node_count_change_1h" => Key::Number(|s| &mut s.node_count_change_1h),
                    _ => Key::Unknown,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A number, or null (= missing).
struct Number(Option<f64>);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl<'de> Visitor<'de> for NumberVisitor {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or null")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(Some(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(Some(v as f64)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Number, D::Error> {
                d.deserialize_any(self)
            }
        }
        deserializer.deserialize_any(NumberVisitor)
    }
}

/// A number, a boolean (true = 1) or null.
struct Flag(Option<f64>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlagVisitor;
        impl<'de> Visitor<'de> for FlagVisitor {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("0, 1, true, false or null")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(Some(if v { 1.0 } else { 0.0 })))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Flag, E> {
                Ok(Flag(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Flag, E> {
                Ok(Flag(Some(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Flag, E> {
                Ok(Flag(Some(v as f64)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Flag, D::Error> {
                d.deserialize_any(self)
            }
        }
        deserializer.deserialize_any(FlagVisitor)
    }
}

/// An identifier: a string, or a number turned into its decimal string; null = missing.
struct Id(Option<String>);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl<'de> Visitor<'de> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, an integer or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                Ok(Id(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Id, E> {
                Ok(Id(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                Ok(Id(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Id, E> {
                Ok(Id(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Id, E> {
                Ok(Id(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Id, D::Error> {
                d.deserialize_any(self)
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

/// Reads a predict body's fields into a snapshot and the window parts.
fn visit_predict_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<PredictRequest, A::Error> {
    let mut snapshot = SnapshotInput::default();
    let mut target: Option<String> = None;
    let mut samples: Option<Vec<Sample>> = None;
    while let Some(key) = map.next_key::<Key>()? {
        match key {
            Key::ClusterId => snapshot.cluster_id = map.next_value::<Id>()?.0,
            Key::Vmcategory => snapshot.vmcategory = map.next_value::<Option<String>>()?,
            Key::IsBusinessHours => snapshot.is_business_hours = map.next_value::<Flag>()?.0,
            Key::Number(field) => *field(&mut snapshot) = map.next_value::<Number>()?.0,
            Key::Target => target = map.next_value::<Id>()?.0,
            Key::Samples => samples = Some(map.next_value::<Vec<Sample>>()?),
            Key::Unknown => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    match samples {
        Some(samples) => {
            // A `cluster_id` beside `target` is not used, but is held to the bound the document states.
            if target.is_some()
                && snapshot
                    .cluster_id
                    .as_ref()
                    .is_some_and(|id| id.len() > crate::api::MAX_STRING_BYTES)
            {
                return Err(de::Error::custom(format!(
                    "cluster_id is longer than {} bytes",
                    crate::api::MAX_STRING_BYTES
                )));
            }
            let target = target
                .or(snapshot.cluster_id)
                .ok_or_else(|| de::Error::missing_field("target"))?;
            Ok(PredictRequest::Window(WindowInput { target, samples }))
        }
        None if target.is_some() => Err(de::Error::missing_field("samples")),
        None => Ok(PredictRequest::Snapshot(snapshot)),
    }
}

impl<'de> Deserialize<'de> for PredictRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PredictVisitor;
        impl<'de> Visitor<'de> for PredictVisitor {
            type Value = PredictRequest;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a JSON object (a cluster snapshot, or a window with `target` and `samples`)",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PredictRequest, A::Error> {
                visit_predict_map(map)
            }
        }
        deserializer.deserialize_map(PredictVisitor)
    }
}

impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SampleVisitor;
        impl<'de> Visitor<'de> for SampleVisitor {
            type Value = Sample;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "an object with `timestamp` (unix seconds or RFC 3339) and numeric metrics",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Sample, A::Error> {
                let mut timestamp = None;
                let mut values = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "timestamp" {
                        timestamp = Some(map.next_value::<Timestamp>()?.0);
                    } else {
                        let value = map.next_value::<Number>()?.0;
                        values.insert(key, value);
                    }
                }
                let timestamp = timestamp.ok_or_else(|| de::Error::missing_field("timestamp"))?;
                Ok(Sample { timestamp, values })
            }
        }
        deserializer.deserialize_map(SampleVisitor)
    }
}

/// A sample's time: integer or fractional unix seconds (rounded down, as in datasets), or a
/// string holding either or an RFC 3339 time (`2025-04-16T10:10:00Z`, offsets allowed).
struct Timestamp(i64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;
        impl Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("unix seconds or an RFC 3339 time")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom(format!("timestamp {v} is out of range")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                // ±2^53 s is far beyond any real time and keeps the conversion exact.
                if v.is_finite() && v.abs() < 9.0e15 {
                    Ok(Timestamp(v.floor() as i64))
                } else {
                    Err(E::custom(format!("timestamp {v} is out of range")))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                learn::timestamp::parse_timestamp(v).map(Timestamp).map_err(|_| {
                    E::custom(format!(
                        "{v:?} is neither unix seconds nor an RFC 3339 time like 2025-04-16T10:10:00Z"
                    ))
                })
            }
        }
        deserializer.deserialize_any(TimestampVisitor)
    }
}

impl<'de> Deserialize<'de> for BatchRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BatchVisitor;
        impl<'de> Visitor<'de> for BatchVisitor {
            type Value = BatchRequest;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of predict bodies, or an object with `items`")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BatchRequest, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(item) = seq.next_element::<PredictRequest>()? {
                    items.push(item);
                }
                Ok(BatchRequest { items })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BatchRequest, A::Error> {
                let mut items = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "items" {
                        items = Some(map.next_value::<Vec<PredictRequest>>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                let items = items.ok_or_else(|| de::Error::missing_field("items"))?;
                Ok(BatchRequest { items })
            }
        }
        deserializer.deserialize_any(BatchVisitor)
    }
}

/// Writes a count as a JSON integer when it is whole (as the original service did), else as a number.
pub(crate) fn serialize_count<S: Serializer>(
    value: &Option<f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match *value {
        Some(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => serializer.serialize_i64(v as i64),
        other => other.serialize(serializer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<PredictRequest, String> {
        let mut de = serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(&mut de).map_err(|e| e.to_string())
    }

    #[test]
    fn snapshot_fields_loose_types_and_unknown_fields() {
        let req = parse(
            r#"{"cluster_id": 5, "hour": 10, "is_business_hours": true, "vmcategory": null,
                "node_count": 3, "extra": {"nested": [1, 2]}}"#,
        )
        .unwrap();
        let PredictRequest::Snapshot(s) = req else {
            panic!("expected a snapshot")
        };
        assert_eq!(s.cluster_id.as_deref(), Some("5"));
        assert_eq!(s.hour, Some(10.0));
        assert_eq!(s.is_business_hours, Some(1.0));
        assert_eq!(s.vmcategory, None);
        assert_eq!(s.node_count, Some(3.0));
        assert_eq!(s.cpu_avg_1h, None);
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err = parse(r#"{"cluster_cpu_util_avg": "high"}"#).unwrap_err();
        assert!(err.starts_with("cluster_cpu_util_avg:"), "{err}");
        let err =
            parse(r#"{"target": "a/b", "samples": [{"timestamp": 1, "cpu": "x"}]}"#).unwrap_err();
        assert!(err.starts_with("samples[0].cpu:"), "{err}");
    }

    #[test]
    fn window_form_is_recognised_by_samples() {
        let req = parse(
            r#"{"target": "shop/cart", "samples": [{"timestamp": 10, "cpu": 0.5, "mem": null},
                {"timestamp": 25, "cpu": 0.7}]}"#,
        )
        .unwrap();
        let PredictRequest::Window(w) = req else {
            panic!("expected a window")
        };
        assert_eq!(w.target, "shop/cart");
        assert_eq!(w.samples.len(), 2);
        assert_eq!(w.samples[0].values["mem"], None);
        assert_eq!(w.samples[1].values["cpu"], Some(0.7));
        assert!(parse(r#"{"target": "x"}"#).unwrap_err().contains("samples"));
        assert!(parse(r#"{"samples": []}"#).unwrap_err().contains("target"));
    }

    #[test]
    fn timestamps_accept_integers_fractions_and_rfc3339() {
        let times = |json: &str| -> Result<Vec<i64>, String> {
            match parse(json)? {
                PredictRequest::Window(w) => Ok(w.samples.iter().map(|s| s.timestamp).collect()),
                PredictRequest::Snapshot(_) => Err("expected a window".into()),
            }
        };
        let body = r#"{"target": "a/b", "samples": [{"timestamp": 1744797600},
            {"timestamp": 1744797615.75}, {"timestamp": "1744797630"},
            {"timestamp": "2025-04-16T10:00:45Z"}, {"timestamp": "2025-04-16T12:01:00+02:00"}]}"#;
        assert_eq!(
            times(body).unwrap(),
            [1744797600, 1744797615, 1744797630, 1744797645, 1744797660]
        );
        for bad in [
            r#""yesterday""#,
            "1e300",
            "-1e300",
            "true",
            "18446744073709551615",
        ] {
            let body = format!(r#"{{"target": "a/b", "samples": [{{"timestamp": {bad}}}]}}"#);
            let err = times(&body).unwrap_err();
            assert!(err.starts_with("samples[0].timestamp:"), "{bad}: {err}");
        }
    }

    #[test]
    fn batch_accepts_array_and_items_object() {
        let from_array: BatchRequest = serde_json::from_str(r#"[{"hour": 1}, {}]"#).unwrap();
        let from_object: BatchRequest =
            serde_json::from_str(r#"{"items": [{"hour": 1}, {}]}"#).unwrap();
        assert_eq!(from_array, from_object);
        assert_eq!(from_array.items.len(), 2);
    }

    #[test]
    fn counts_serialise_as_integers_when_whole() {
        #[derive(Serialize)]
        struct W {
            #[serde(serialize_with = "serialize_count")]
            n: Option<f64>,
        }
        let json = |n| serde_json::to_string(&W { n }).unwrap();
        assert_eq!(json(Some(3.0)), r#"{"n":3}"#);
        assert_eq!(json(Some(2.5)), r#"{"n":2.5}"#);
        assert_eq!(json(None), r#"{"n":null}"#);
    }
}
