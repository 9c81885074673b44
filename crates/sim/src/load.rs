//! Request demand over time: `rps_d(t) = mean_rps_d · shape_d(t) · noise(t) · noise_d(t) · burst(t) · fault_d(t)`.
//!
//! The shape is either synthetic (daily cosine peaking at `peak_hour`, weekends scaled by
//! `weekend_factor`) or read from an Azure Public Dataset V2 `vm_cpu_readings` trace, one VM per deployment.

use std::io::BufRead;
use std::path::Path;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::config::LoadConfig;
use crate::error::{Result, SimError, clip};
use crate::topology::VmCategory;
use timeline::time::day_of_week;

/// The deterministic part of demand (without noise, bursts or faults).
#[derive(Debug, Clone)]
pub enum Shape {
    /// Daily and weekly cycles.
    Synthetic {
        /// Relative daily amplitude.
        amplitude: f64,
        /// Hour of the peak, UTC.
        peak_hour: f64,
        /// Weekend level relative to weekdays.
        weekend_factor: f64,
    },
    /// One normalised CPU trace per deployment (mean 1), looped over the trace's span.
    Trace(AzureTrace),
}

impl Shape {
    /// The synthetic shape for a cluster of a given category.
    pub fn synthetic(load: &LoadConfig, category: VmCategory) -> Shape {
        let factor = match category {
            VmCategory::Interactive => 1.0,
            VmCategory::Unknown => 0.7,
            VmCategory::DelayInsensitive => 0.3,
        };
        let weekend = match category {
            VmCategory::DelayInsensitive => 1.0 - (1.0 - load.weekend_factor) * 0.3,
            _ => load.weekend_factor,
        };
        Shape::Synthetic {
            amplitude: load.diurnal_amplitude * factor,
            peak_hour: load.peak_hour,
            weekend_factor: weekend,
        }
    }

    /// Demand multiplier of deployment `dep` at unix time `ts` (mean ≈ 1 over a weekday).
    pub fn at(&self, dep: usize, ts: i64, start_ts: i64) -> f64 {
        match self {
            Shape::Synthetic {
                amplitude,
                peak_hour,
                weekend_factor,
            } => {
                let hour = ts.rem_euclid(86_400) as f64 / 3600.0;
                let daily =
                    1.0 + amplitude * (std::f64::consts::TAU * (hour - peak_hour) / 24.0).cos();
                let weekly = if day_of_week(ts) >= 5 {
                    *weekend_factor
                } else {
                    1.0
                };
                daily * weekly
            }
            Shape::Trace(trace) => trace.at(dep, ts - start_ts),
        }
    }
}

/// AR(1) noise in log space with stationary standard deviation `sigma` and correlation `phi` per step.
#[derive(Debug, Clone)]
pub struct Ar1 {
    value: f64,
    phi: f64,
    sigma: f64,
}

impl Ar1 {
    /// Starts at 0 (multiplier 1).
    pub fn new(sigma: f64, phi: f64) -> Self {
        Ar1 {
            value: 0.0,
            phi,
            sigma,
        }
    }

    /// Advances one step and returns the multiplier `exp(x)`.
    pub fn next(&mut self, rng: &mut ChaCha8Rng) -> f64 {
        let e: f64 = rng.sample(StandardNormal);
        self.value = self.phi * self.value + (1.0 - self.phi * self.phi).sqrt() * self.sigma * e;
        self.value.exp()
    }
}

/// Latest timestamp of a demand trace (seconds since its start, ~31,700 years): keeps the trace's span
/// and every offset in it far from `i64` overflow.
const MAX_TRACE_SECS: f64 = 1e12;

/// Azure Public Dataset V2 `vm_cpu_readings`: per VM, average CPU over time, normalised to mean 1.
#[derive(Debug, Clone)]
pub struct AzureTrace {
    /// Per deployment: (seconds since the trace's first reading, multiplier), sorted by time.
    series: Vec<Vec<(i64, f64)>>,
    /// Length of the loop, seconds.
    span_secs: i64,
}

impl AzureTrace {
    /// Reads a trace and maps its first `deployments` distinct VMs (in order of appearance) onto the
    /// deployments, round-robin when there are fewer VMs. Lines: `timestamp,vm_id,min_cpu,max_cpu,avg_cpu`.
    pub fn read(path: &Path, deployments: usize) -> Result<Self> {
        let file = std::fs::File::open(path)
            .map_err(|e| SimError::io("cannot read demand trace", path, e))?;
        let reader = std::io::BufReader::new(file);
        let mut ids: Vec<String> = Vec::new();
        let mut readings: Vec<Vec<(i64, f64)>> = Vec::new();
        let mut first_ts = i64::MAX;
        let mut last_ts = i64::MIN;
        let bad = |line: u64, message: String| SimError::Trace {
            path: path.to_path_buf(),
            line,
            message,
        };
        for (i, line) in reader.lines().enumerate() {
            let line_no = i as u64 + 1;
            let line = line.map_err(|e| bad(line_no, format!("cannot read: {e}")))?;
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != 5 {
                return Err(bad(
                    line_no,
                    format!(
                        "expected 5 fields (timestamp,vm_id,min_cpu,max_cpu,avg_cpu), found {}",
                        fields.len()
                    ),
                ));
            }
            let ts: i64 = fields[0]
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| (0.0..=MAX_TRACE_SECS).contains(v))
                .map(|v| v as i64)
                .ok_or_else(|| {
                    bad(
                        line_no,
                        format!(
                            "timestamp {:?} is not a number of seconds within 0–{MAX_TRACE_SECS:e}",
                            clip(fields[0])
                        ),
                    )
                })?;
            let mut cpu = [0.0f64; 3];
            for (k, name) in ["min_cpu", "max_cpu", "avg_cpu"].iter().enumerate() {
                let v: f64 = fields[2 + k].trim().parse().map_err(|_| {
                    bad(
                        line_no,
                        format!("{name} {:?} is not a number", clip(fields[2 + k])),
                    )
                })?;
                if !(0.0..=100.0).contains(&v) {
                    return Err(bad(line_no, format!("{name} {v} is outside 0–100 %")));
                }
                cpu[k] = v;
            }
            first_ts = first_ts.min(ts);
            last_ts = last_ts.max(ts);
            let id = fields[1].trim();
            let slot = match ids.iter().position(|x| x == id) {
                Some(p) => p,
                None if ids.len() < deployments => {
                    ids.push(id.to_string());
                    readings.push(Vec::new());
                    ids.len() - 1
                }
                None => continue,
            };
            readings[slot].push((ts, cpu[2]));
        }
        if ids.is_empty() {
            return Err(bad(0, "no readings in the file".into()));
        }
        let span_secs = (last_ts - first_ts + 300).max(300);
        let normalised: Vec<Vec<(i64, f64)>> = readings
            .into_iter()
            .map(|mut r| {
                r.sort_by_key(|&(t, _)| t);
                let mean = r.iter().map(|&(_, v)| v).sum::<f64>() / r.len() as f64;
                r.into_iter()
                    .map(|(t, v)| {
                        (
                            t - first_ts,
                            if mean > 0.0 {
                                (v / mean).max(0.05)
                            } else {
                                1.0
                            },
                        )
                    })
                    .collect()
            })
            .collect();
        let series = (0..deployments)
            .map(|d| normalised[d % normalised.len()].clone())
            .collect();
        Ok(AzureTrace { series, span_secs })
    }

    /// Number of distinct VMs used.
    pub fn span_secs(&self) -> i64 {
        self.span_secs
    }

    /// Multiplier of deployment `dep` at `offset_secs` after the simulation start, linearly interpolated
    /// and looped over the trace span.
    pub fn at(&self, dep: usize, offset_secs: i64) -> f64 {
        let s = &self.series[dep];
        let t = offset_secs.rem_euclid(self.span_secs);
        match s.binary_search_by_key(&t, |&(ts, _)| ts) {
            Ok(i) => s[i].1,
            Err(0) => s[0].1,
            Err(i) if i >= s.len() => s[s.len() - 1].1,
            Err(i) => {
                let (t0, v0) = s[i - 1];
                let (t1, v1) = s[i];
                v0 + (v1 - v0) * (t - t0) as f64 / (t1 - t0) as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_peaks_in_the_afternoon_and_drops_on_weekends() {
        let shape = Shape::synthetic(&LoadConfig::default(), VmCategory::Interactive);
        let monday = 1_767_571_200; // 2026-01-05 00:00 UTC
        let peak = shape.at(0, monday + 14 * 3600, monday);
        let night = shape.at(0, monday + 2 * 3600, monday);
        let saturday_peak = shape.at(0, monday + 5 * 86_400 + 14 * 3600, monday);
        assert!(peak > 1.4 && night < 0.7, "{peak} {night}");
        assert!((saturday_peak - peak * 0.7).abs() < 1e-9);
    }
}
