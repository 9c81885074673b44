//! Hot reload of `watch`'s model file: the retraining loop publishes a new bundle (temporary file +
//! rename) and the running watcher swaps it in without a restart.
//!
//! [`ReloadingModel`] is the [`Predictor`] the loop holds: every prediction reads the model in service
//! through one lock, so a swap is atomic — a cycle's targets each see the old or the new model, never a
//! half-loaded one. [`ReloadingModel::check`] (called every `poll` by [`watch_file`]) reloads when the
//! file's modification time or size changed. A new model is refused, and the one in service stays,
//! when it does not load or its shape differs (columns, step, window, baseline, per-target condition:
//! the watcher's queries and per-target state are built for them; restart watch to change them). Its
//! alarm threshold may differ: with [`crate::live::WatchOptions::follow_model_threshold`] the alert
//! thresholds follow it.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use learn::LearnError;
use learn::bundle::ModelBundle;
use learn::prediction::{PredictOptions, Prediction};
use learn::window::Window;

use crate::error::WatchError;
use crate::live::{ModelShape, Predictor};

/// What identifies a version of the file: modification time and size.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The shape without name and version: what must not change across a reload.
fn fixed_part(shape: &ModelShape) -> ModelShape {
    ModelShape {
        name: String::new(),
        version: String::new(),
        ..shape.clone()
    }
}

/// A model file, swapped in place when it changes (see the module doc).
pub struct ReloadingModel {
    path: PathBuf,
    shape: ModelShape,
    current: RwLock<Arc<ModelBundle>>,
    stamp: Mutex<Stamp>,
}

/// What one [`ReloadingModel::check`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Reload {
    /// The file did not change.
    Unchanged,
    /// The new model is in service (its version).
    Swapped(String),
    /// The file changed but its model was refused; the previous one stays (why).
    Refused(String),
}

impl ReloadingModel {
    /// Loads `path`.
    pub fn load(path: &Path) -> Result<Self, WatchError> {
        let before = stamp(path);
        let model = ModelBundle::load(path).map_err(|e| WatchError::Model(e.to_string()))?;
        Ok(ReloadingModel {
            path: path.to_path_buf(),
            shape: model.shape(),
            current: RwLock::new(Arc::new(model)),
            stamp: Mutex::new(before),
        })
    }

    /// The model in service.
    pub fn current(&self) -> Arc<ModelBundle> {
        match self.current.read() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads the file if it changed since the last check (see [`Reload`]).
    pub fn check(&self) -> Reload {
        let now = stamp(&self.path);
        {
            let mut last = match self.stamp.lock() {
                Ok(l) => l,
                Err(poisoned) => poisoned.into_inner(),
            };
            if *last == now {
                return Reload::Unchanged;
            }
            *last = now;
        }
        let model = match ModelBundle::load(&self.path) {
            Ok(m) => m,
            Err(e) => return Reload::Refused(e.to_string()),
        };
        let shape = model.shape();
        if fixed_part(&shape) != fixed_part(&self.shape) {
            return Reload::Refused(format!(
                "model {} {} has other columns, step, window or per-target condition than the one \
                 watch started with ({} columns at {} s over {} s, against {} at {} s over {} s): \
                 restart watch to change them",
                shape.name,
                shape.version,
                shape.metrics.len(),
                shape.step_secs,
                shape.window_secs,
                self.shape.metrics.len(),
                self.shape.step_secs,
                self.shape.window_secs
            ));
        }
        let version = shape.version.clone();
        match self.current.write() {
            Ok(mut m) => *m = Arc::new(model),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(model),
        }
        Reload::Swapped(version)
    }
}

impl Predictor for ReloadingModel {
    fn shape(&self) -> ModelShape {
        let mut shape = self.shape.clone();
        shape.version = self.current().info().version.clone();
        shape
    }

    fn predict(&self, window: &Window, options: PredictOptions) -> Result<Prediction, LearnError> {
        self.current().predict_window(window, options)
    }

    fn threshold(&self) -> Option<f64> {
        Some(self.current().info().threshold)
    }
}

/// Checks `model`'s file every `poll` until `shutdown` resolves, logging each swap or refusal.
pub async fn watch_file<F>(model: Arc<ReloadingModel>, poll: Duration, shutdown: F)
where
    F: Future<Output = ()> + Send,
{
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(poll) => {}
        }
        let checked = model.clone();
        // Loading parses a file of a few MB: keep it off the async workers.
        let outcome = tokio::task::spawn_blocking(move || checked.check()).await;
        match outcome {
            Ok(Reload::Unchanged) => {}
            Ok(Reload::Swapped(version)) => {
                tracing::info!(path = %model.path.display(), version = %version, "model reloaded")
            }
            Ok(Reload::Refused(why)) => tracing::error!(path = %model.path.display(), error = %why,
                "new model refused; the previous model stays in service"),
            Err(e) => tracing::error!(error = %e, "model reload task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(version: &str, threshold: f64, metrics: Option<Vec<String>>) -> ModelBundle {
        let base = ModelBundle::embedded().unwrap();
        let mut info = base.info().clone();
        info.version = version.into();
        info.threshold = threshold;
        if let Some(m) = metrics {
            info.metrics = m;
        }
        let mut window = base.window_model().clone();
        window.meta.threshold = threshold;
        ModelBundle::new(
            info,
            window,
            base.snapshot_model().cloned(),
            base.card_markdown().to_string(),
            base.card_json(),
        )
    }

    /// Waits until the file system shows a new modification time (coarse clocks).
    fn write_changed(path: &Path, bytes: &[u8]) {
        let before = stamp(path);
        let tmp = path.with_extension("tmp");
        for _ in 0..100 {
            std::fs::write(&tmp, bytes).unwrap();
            std::fs::rename(&tmp, path).unwrap();
            if stamp(path) != before {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the file's stamp did not change");
    }

    #[test]
    fn a_changed_file_is_swapped_in_and_a_bad_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("current.kpm");
        variant("one", 0.5, None).save(&path).unwrap();
        let model = ReloadingModel::load(&path).unwrap();
        assert_eq!(model.shape().version, "one");
        assert_eq!(model.threshold(), Some(0.5));
        assert_eq!(model.check(), Reload::Unchanged);

        write_changed(&path, &variant("two", 0.25, None).to_bytes());
        assert_eq!(model.check(), Reload::Swapped("two".into()));
        assert_eq!(model.shape().version, "two");
        assert_eq!(model.threshold(), Some(0.25));
        assert_eq!(model.check(), Reload::Unchanged);

        // A truncated file, then a model with other columns: refused, "two" stays in service.
        write_changed(&path, b"KPMODEL\0 truncated");
        assert!(matches!(model.check(), Reload::Refused(why) if why.contains("bundle")));
        let mut fewer = ModelBundle::embedded().unwrap().info().metrics.clone();
        fewer.pop();
        write_changed(&path, &variant("three", 0.3, Some(fewer)).to_bytes());
        assert!(
            matches!(model.check(), Reload::Refused(why) if why.contains("restart watch")),
            "other columns"
        );
        assert_eq!(model.shape().version, "two");

        // Predictions go through the model in service.
        let w = Window {
            target: "shop/cart".into(),
            timestamps: (0..12).map(|i| 1_767_571_200 + i * 15).collect(),
            columns: model
                .shape()
                .metrics
                .iter()
                .map(|m| (m.clone(), vec![0.5; 12]))
                .collect(),
            baseline: None,
        };
        let p = model.predict(&w, PredictOptions::default()).unwrap();
        assert!((0.0..=1.0).contains(&p.issue_probability));
    }

    #[tokio::test]
    async fn the_file_watch_swaps_within_a_few_polls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("current.kpm");
        variant("one", 0.5, None).save(&path).unwrap();
        let model = Arc::new(ReloadingModel::load(&path).unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(watch_file(
            model.clone(),
            Duration::from_millis(20),
            async move {
                let _ = rx.await;
            },
        ));
        write_changed(&path, &variant("two", 0.4, None).to_bytes());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while model.shape().version != "two" {
            assert!(std::time::Instant::now() < deadline, "not reloaded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = tx.send(());
        task.await.unwrap();
    }
}
