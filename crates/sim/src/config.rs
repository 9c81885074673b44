//! Simulation configuration: a TOML file (every field optional, sensible defaults) checked into a
//! [`ValidConfig`] before any work starts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, SimError};
use crate::topology::Preset;
use timeline::time::{parse_duration_secs, parse_timestamp};

/// What the simulation writes at each step: one row per deployment or one per cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// One target per `namespace/deployment` with the catalog's columns (see [`crate::catalog`]).
    Deployment,
    /// One target per cluster with the original service's snapshot fields (see [`crate::snapshot`]).
    Cluster,
}

/// The configuration as written in a TOML file; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of every random choice: the same seed and options give byte-identical output.
    pub seed: u64,
    /// Cluster preset: `online-boutique`, `small` or `large`.
    pub preset: String,
    /// First timestamp, unix seconds or RFC 3339 UTC. Default 2026-01-05T00:00:00Z (a Monday).
    pub start: String,
    /// Simulated time span, e.g. `7d`.
    pub duration: String,
    /// Sample step, e.g. `15s`.
    pub step: String,
    /// Number of independent clusters (each its own seed, load profile and `vmcategory`).
    pub clusters: u32,
    /// Output level.
    pub level: Level,
    /// Request load.
    pub load: LoadConfig,
    /// Rates of faults (incidents, labelled).
    pub faults: FaultRates,
    /// Rates of benign look-alikes (never labelled).
    pub benign: BenignRates,
    /// Demand source: `synthetic` (default) or `azure-v2:PATH`.
    pub demand: String,
    /// Faults at fixed times, same syntax as `--fault`: `KIND:TARGET@+OFFSET[/LEAD]`.
    pub schedule: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            preset: "online-boutique".into(),
            start: "2026-01-05T00:00:00Z".into(),
            duration: "1d".into(),
            step: "15s".into(),
            clusters: 1,
            level: Level::Deployment,
            load: LoadConfig::default(),
            faults: FaultRates::default(),
            benign: BenignRates::default(),
            demand: "synthetic".into(),
            schedule: Vec::new(),
        }
    }
}

/// Shape of the request load: `rps(t) = base · diurnal(t) · weekly(t) · noise(t) · bursts(t)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadConfig {
    /// Scales every deployment's mean request rate (1.0 = the preset's rates).
    pub scale: f64,
    /// Relative amplitude of the daily cycle, 0–0.9 (0.45: the night is ~40% of the afternoon peak).
    pub diurnal_amplitude: f64,
    /// Hour of the daily peak, UTC, 0–24.
    pub peak_hour: f64,
    /// Load on Saturday and Sunday relative to weekdays, 0.05–1.5.
    pub weekend_factor: f64,
    /// Standard deviation of the multiplicative AR(1) noise, 0–0.5.
    pub noise: f64,
    /// Short absorbed traffic bursts per day (+20–50% for 1–4 minutes, cluster-wide).
    pub bursts_per_day: f64,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            scale: 1.0,
            diurnal_amplitude: 0.45,
            peak_hour: 14.0,
            weekend_factor: 0.7,
            noise: 0.05,
            bursts_per_day: 4.0,
        }
    }
}

/// Expected number of faults per target per day (deployment faults: per deployment-day; node faults:
/// per node-day). 0 disables a fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRates {
    /// Memory leak → OOMKill (pod_failure/oom_kill), per deployment-day.
    pub memory_leak: f64,
    /// Traffic surge beyond capacity → CPU saturation (resource_exhaustion/cpu_saturation), per deployment-day.
    pub traffic_surge: f64,
    /// Disk filling on a node → eviction (resource_exhaustion/disk_pressure_eviction), per node-day.
    pub disk_fill: f64,
    /// Packet loss ramping up → errors (network_issue/packet_loss), per deployment-day.
    pub network_degradation: f64,
    /// Node memory pressure → NotReady, pods rescheduled (pod_failure/node_not_ready), per node-day.
    pub node_memory_pressure: f64,
    /// Bad rollout → crash loop (pod_failure/crash_loop), per deployment-day.
    pub bad_rollout: f64,
    /// Chaos pod-kill, no precursor (pod_failure/pod_kill), per deployment-day.
    pub pod_kill: f64,
    /// Sudden network partition, no precursor (network_issue/network_partition), per deployment-day.
    pub network_partition: f64,
}

impl Default for FaultRates {
    fn default() -> Self {
        FaultRates {
            memory_leak: 0.25,
            traffic_surge: 0.15,
            disk_fill: 0.2,
            network_degradation: 0.15,
            node_memory_pressure: 0.2,
            bad_rollout: 0.1,
            pod_kill: 0.12,
            network_partition: 0.06,
        }
    }
}

/// Expected number of benign look-alikes per target per day; they are never labelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BenignRates {
    /// Memory rising to 75–95% of the limit, then levelling off and dropping (cache warm-up, GC), per deployment-day.
    pub memory_plateau: f64,
    /// Traffic spike the HPA absorbs, per deployment-day.
    pub absorbed_spike: f64,
    /// Healthy rolling update (new ReplicaSet, pods replaced), per deployment-day.
    pub rolling_update: f64,
    /// Short, small packet-loss blip, per deployment-day.
    pub network_blip: f64,
    /// Batch job using a node's CPU and memory for a while, per node-day.
    pub batch_job: f64,
    /// Disk usage growing, then logs rotated before the eviction threshold, per node-day.
    pub disk_cleanup: f64,
    /// Cluster autoscaler adding a node, per cluster-day.
    pub node_scale_up: f64,
}

impl Default for BenignRates {
    fn default() -> Self {
        BenignRates {
            memory_plateau: 0.3,
            absorbed_spike: 0.4,
            rolling_update: 0.3,
            network_blip: 0.3,
            batch_job: 0.6,
            disk_cleanup: 0.5,
            node_scale_up: 0.3,
        }
    }
}

/// Where request demand comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum DemandSource {
    /// Diurnal and weekly cycles, noise and bursts.
    Synthetic,
    /// Azure Public Dataset V2 `vm_cpu_readings` CSV (no header: timestamp, vm id, min, max, avg CPU).
    AzureV2(PathBuf),
}

/// A checked configuration: every value parsed and in range.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Cluster preset.
    pub preset: Preset,
    /// First timestamp, unix seconds.
    pub start_ts: i64,
    /// Simulated span, seconds (> 0).
    pub duration_secs: i64,
    /// Sample step, seconds (1–3600).
    pub step_secs: i64,
    /// Number of clusters (1–1000).
    pub clusters: u32,
    /// Output level.
    pub level: Level,
    /// Load shape.
    pub load: LoadConfig,
    /// Fault rates.
    pub faults: FaultRates,
    /// Benign look-alike rates.
    pub benign: BenignRates,
    /// Demand source.
    pub demand: DemandSource,
    /// Faults at fixed times (parsed against the cluster when the simulation is built).
    pub schedule: Vec<String>,
}

impl FaultRates {
    /// No random fault at all (scheduled faults still happen).
    pub const NONE: FaultRates = FaultRates {
        memory_leak: 0.0,
        traffic_surge: 0.0,
        disk_fill: 0.0,
        network_degradation: 0.0,
        node_memory_pressure: 0.0,
        bad_rollout: 0.0,
        pod_kill: 0.0,
        network_partition: 0.0,
    };
}

impl BenignRates {
    /// No benign look-alike at all.
    pub const NONE: BenignRates = BenignRates {
        memory_plateau: 0.0,
        absorbed_spike: 0.0,
        rolling_update: 0.0,
        network_blip: 0.0,
        batch_job: 0.0,
        disk_cleanup: 0.0,
        node_scale_up: 0.0,
    };
}

impl SimConfig {
    /// Makes the simulation calm (what `kubepulse simulate --calm` does): no random fault, no benign
    /// look-alike and no load burst, so only the scheduled faults happen.
    pub fn calm(&mut self) {
        self.faults = FaultRates::NONE;
        self.benign = BenignRates::NONE;
        self.load.bursts_per_day = 0.0;
    }

    /// Reads a TOML configuration file; unknown keys are errors.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::io("cannot read config file", path, e))?;
        let cfg: SimConfig = toml::from_str(&text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start).min(text.len());
            let before = &text.as_bytes()[..at];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let column = at
                - before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1)
                + 1;
            let message = e.message().lines().next().unwrap_or_default();
            SimError::ConfigParse {
                path: path.to_path_buf(),
                message: format!(
                    "line {line}, column {column}: {}",
                    crate::error::clip_to(message, 400)
                ),
            }
        })?;
        // Checked on its own, so a bad value is reported with the file it is in (flags override the
        // file's values, and are checked again with them).
        cfg.check().map_err(|e| SimError::ConfigFile {
            path: path.to_path_buf(),
            problem: Box::new(e),
        })?;
        Ok(cfg)
    }

    /// The defaults as a commented TOML file (what `kubepulse simulate --print-config` shows).
    pub fn default_toml() -> String {
        let body = toml::to_string_pretty(&SimConfig::default()).unwrap_or_default();
        format!(
            "# kubepulse simulate configuration (all fields optional; these are the defaults).\n\
             # Fault and benign rates are expected occurrences per target per day.\n{body}"
        )
    }

    /// Checks every value and parses durations, timestamps, the preset and the demand source.
    pub fn check(&self) -> Result<ValidConfig> {
        let preset = Preset::from_name(&self.preset)?;
        let start_ts =
            parse_timestamp(&self.start).map_err(|e| SimError::config("start", &self.start, e))?;
        let duration_secs = parse_duration_secs(&self.duration)
            .map_err(|e| SimError::config("duration", &self.duration, e))?;
        let step_secs =
            parse_duration_secs(&self.step).map_err(|e| SimError::config("step", &self.step, e))?;
        if !(1..=3600).contains(&step_secs) {
            return Err(SimError::config(
                "step",
                &self.step,
                "must be between 1s and 1h",
            ));
        }
        if duration_secs < step_secs {
            return Err(SimError::config(
                "duration",
                &self.duration,
                "must be at least one step",
            ));
        }
        if duration_secs > 366 * 86_400 {
            return Err(SimError::config(
                "duration",
                &self.duration,
                "must be at most 366 days",
            ));
        }
        if !(1..=1000).contains(&self.clusters) {
            return Err(SimError::config(
                "clusters",
                self.clusters,
                "must be between 1 and 1000",
            ));
        }
        let l = &self.load;
        check_range("load.scale", l.scale, 0.01, 100.0)?;
        check_range("load.diurnal_amplitude", l.diurnal_amplitude, 0.0, 0.9)?;
        check_range("load.peak_hour", l.peak_hour, 0.0, 24.0)?;
        check_range("load.weekend_factor", l.weekend_factor, 0.05, 1.5)?;
        check_range("load.noise", l.noise, 0.0, 0.5)?;
        check_range("load.bursts_per_day", l.bursts_per_day, 0.0, 200.0)?;
        let f = &self.faults;
        for (name, v) in [
            ("faults.memory_leak", f.memory_leak),
            ("faults.traffic_surge", f.traffic_surge),
            ("faults.disk_fill", f.disk_fill),
            ("faults.network_degradation", f.network_degradation),
            ("faults.node_memory_pressure", f.node_memory_pressure),
            ("faults.bad_rollout", f.bad_rollout),
            ("faults.pod_kill", f.pod_kill),
            ("faults.network_partition", f.network_partition),
        ] {
            check_range(name, v, 0.0, 24.0)?;
        }
        let b = &self.benign;
        for (name, v) in [
            ("benign.memory_plateau", b.memory_plateau),
            ("benign.absorbed_spike", b.absorbed_spike),
            ("benign.rolling_update", b.rolling_update),
            ("benign.network_blip", b.network_blip),
            ("benign.batch_job", b.batch_job),
            ("benign.disk_cleanup", b.disk_cleanup),
            ("benign.node_scale_up", b.node_scale_up),
        ] {
            check_range(name, v, 0.0, 24.0)?;
        }
        let demand = parse_demand(&self.demand)?;
        Ok(ValidConfig {
            seed: self.seed,
            preset,
            start_ts,
            duration_secs,
            step_secs,
            clusters: self.clusters,
            level: self.level,
            load: self.load.clone(),
            faults: self.faults.clone(),
            benign: self.benign.clone(),
            demand,
            schedule: self.schedule.clone(),
        })
    }
}

fn check_range(field: &str, value: f64, min: f64, max: f64) -> Result<()> {
    if !value.is_finite() || value < min || value > max {
        return Err(SimError::config(
            field,
            value,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(())
}

/// Parses `synthetic` or `azure-v2:PATH`.
pub fn parse_demand(text: &str) -> Result<DemandSource> {
    if text == "synthetic" || text.is_empty() {
        return Ok(DemandSource::Synthetic);
    }
    match text.split_once(':') {
        Some(("azure-v2", path)) if !path.is_empty() => {
            Ok(DemandSource::AzureV2(PathBuf::from(path)))
        }
        _ => Err(SimError::config(
            "demand",
            text,
            "expected `synthetic` or `azure-v2:PATH` (Azure Public Dataset V2 vm_cpu_readings CSV)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_check_and_round_trip_through_toml() {
        let cfg = SimConfig::default();
        let valid = cfg.check().expect("defaults are valid");
        assert_eq!(valid.step_secs, 15);
        let text = SimConfig::default_toml();
        let back: SimConfig = toml::from_str(&text).expect("default TOML parses");
        assert_eq!(back, cfg);
    }

    #[test]
    fn bad_values_name_the_field() {
        let mut cfg = SimConfig {
            duration: "-3h".into(),
            ..SimConfig::default()
        };
        let err = cfg.check().unwrap_err().to_string();
        assert!(
            err.contains("duration") && err.contains("negative"),
            "{err}"
        );
        cfg.duration = "1d".into();
        cfg.preset = "huge".into();
        assert!(
            cfg.check()
                .unwrap_err()
                .to_string()
                .contains("unknown preset \"huge\"")
        );
        cfg.preset = "small".into();
        cfg.faults.memory_leak = -1.0;
        assert!(
            cfg.check()
                .unwrap_err()
                .to_string()
                .contains("faults.memory_leak")
        );
        let unknown: std::result::Result<SimConfig, _> = toml::from_str("sed = 3");
        assert!(unknown.is_err());
        cfg.faults.memory_leak = 0.1;
        cfg.demand = "gcp:foo".into();
        assert!(
            cfg.check()
                .unwrap_err()
                .to_string()
                .contains("azure-v2:PATH")
        );
    }
}
