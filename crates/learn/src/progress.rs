//! Progress bars for long jobs: drawn on a terminal's stderr, silent otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over a fixed number of named steps.
pub struct Steps {
    bar: ProgressBar,
}

impl Steps {
    /// A bar of `total` steps; hidden unless `show` and stderr is a terminal.
    pub fn new(show: bool, total: u64) -> Self {
        let target = if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self { bar }
    }

    /// Starts the next step.
    pub fn step(&self, name: &str) {
        if self.bar.message().is_empty() {
            self.bar.set_message(name.to_string());
        } else {
            self.bar.inc(1);
            self.bar.set_message(name.to_string());
        }
    }

    /// Completes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A bar over rows read (with rows/s, and the time left when the total is known, e.g. from a Parquet
/// footer); hidden unless asked for and stderr is a terminal.
pub struct Rows {
    bar: ProgressBar,
}

impl Rows {
    /// A bar for reading `what`, of `total` rows when known.
    pub fn new(show: bool, what: &str, total: Option<u64>) -> Self {
        let target = if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(total, target);
        let template = if total.is_some() {
            "{elapsed_precise} {msg} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, {eta} left"
        } else {
            "{elapsed_precise} {msg} {human_pos} rows, {per_sec}"
        };
        bar.set_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(format!("reading {what}"));
        Self { bar }
    }

    /// `n` more rows read.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
