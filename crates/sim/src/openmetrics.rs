//! OpenMetrics file output for `promtool tsdb create-blocks-from openmetrics`: timestamps in unix
//! seconds, each family's samples contiguous and in time order per series, ending with `# EOF`.
//!
//! Families must be contiguous, but the simulation produces all families at each step; so each family
//! streams into its own temporary file, and [`OpenMetricsWriter::finish`] concatenates them. Memory stays
//! bounded whatever the duration.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Result, SimError};
use crate::series::{FAMILIES, Kind, render};
use crate::simulation::Simulation;

/// Streams an OpenMetrics file.
pub struct OpenMetricsWriter {
    path: PathBuf,
    parts_dir: PathBuf,
    parts: Vec<BufWriter<File>>,
    buf: String,
}

impl OpenMetricsWriter {
    /// Prepares temporary files next to `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            return Err(SimError::io(
                "cannot write OpenMetrics file into",
                &parent,
                std::io::Error::new(std::io::ErrorKind::NotFound, "directory does not exist"),
            ));
        }
        let file_name = path
            .file_name()
            .map_or("metrics.om".into(), |n| n.to_string_lossy().into_owned());
        let parts_dir = parent.join(format!(".{file_name}.partial.d"));
        // Sweep what a run killed before its end left behind.
        let _ = std::fs::remove_dir_all(&parts_dir);
        let _ = std::fs::remove_file(parent.join(format!(".{file_name}.partial")));
        std::fs::create_dir_all(&parts_dir)
            .map_err(|e| SimError::io("cannot create", &parts_dir, e))?;
        let mut parts = Vec::new();
        for (i, _) in FAMILIES.iter().enumerate() {
            let p = parts_dir.join(format!("{i:02}.part"));
            let f = File::create(&p).map_err(|e| SimError::io("cannot write", &p, e))?;
            parts.push(BufWriter::with_capacity(1 << 18, f));
        }
        Ok(OpenMetricsWriter {
            path: path.to_path_buf(),
            parts_dir,
            parts,
            buf: String::with_capacity(1 << 16),
        })
    }

    /// Appends every series' sample at the simulation's current time.
    pub fn write_step(&mut self, sim: &Simulation) -> Result<()> {
        for f in 0..FAMILIES.len() {
            self.buf.clear();
            for c in &sim.clusters {
                render(f, c, 1.0, Some(c.t), &mut self.buf);
            }
            self.parts[f]
                .write_all(self.buf.as_bytes())
                .map_err(|e| SimError::io("cannot write", &self.parts_dir, e))?;
        }
        Ok(())
    }

    /// Concatenates the families under `# TYPE`/`# HELP` headers, appends `# EOF`, renames into place.
    pub fn finish(self) -> Result<()> {
        let tmp = self.path.with_file_name(format!(
            ".{}.partial",
            self.path
                .file_name()
                .map_or("metrics.om".into(), |n| n.to_string_lossy().into_owned())
        ));
        let result = (|| -> Result<()> {
            let out = File::create(&tmp).map_err(|e| SimError::io("cannot write", &tmp, e))?;
            let mut out = BufWriter::with_capacity(1 << 20, out);
            let werr = |e| SimError::io("cannot write", &tmp, e);
            for (i, (fam, part)) in FAMILIES.iter().zip(self.parts).enumerate() {
                let file = part
                    .into_inner()
                    .map_err(|e| SimError::io("cannot write", &self.parts_dir, e.into_error()))?;
                drop(file);
                let kind = match fam.kind {
                    Kind::Gauge => "gauge",
                    Kind::Counter => "counter",
                    Kind::Histogram => "histogram",
                };
                writeln!(out, "# TYPE {} {kind}", fam.name).map_err(werr)?;
                writeln!(out, "# HELP {} {}", fam.name, fam.help).map_err(werr)?;
                let p = self.parts_dir.join(format!("{i:02}.part"));
                let mut f = File::open(&p).map_err(|e| SimError::io("cannot read", &p, e))?;
                std::io::copy(&mut f, &mut out).map_err(werr)?;
            }
            writeln!(out, "# EOF").map_err(werr)?;
            out.flush().map_err(werr)?;
            Ok(())
        })();
        let _ = std::fs::remove_dir_all(&self.parts_dir);
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| SimError::io("cannot rename into", &self.path, e))
    }

    /// Removes the temporary files after a failure.
    pub fn abandon(self) {
        drop(self.parts);
        let _ = std::fs::remove_dir_all(&self.parts_dir);
    }
}
