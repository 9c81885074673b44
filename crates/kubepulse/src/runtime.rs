//! The one tokio runtime and the one shutdown signal (mini-redis's shape): library crates offer
//! `async` entry points taking a shutdown future and never build a runtime of their own.

use std::future::Future;

use anyhow::Context;

/// Runs `future` to completion on a new multi-threaded runtime.
pub fn block_on<F: Future>(future: F) -> anyhow::Result<F::Output> {
    Ok(runtime()?.block_on(future))
}

/// Runs the future `run(shutdown)` returns to completion on a new multi-threaded runtime; `shutdown`
/// resolves on SIGINT (Ctrl-C) or SIGTERM. The signal handlers are installed before `run` is called, so
/// a signal that arrives at once (a pod stopped right after it started) is never lost nor left to the
/// default action, which kills the process without a graceful shutdown.
pub fn block_on_until_signal<R, F>(run: R) -> anyhow::Result<F::Output>
where
    R: FnOnce(ShutdownSignal) -> F,
    F: Future,
{
    let runtime = runtime()?;
    let shutdown = {
        let _inside = runtime.enter();
        ShutdownSignal::install()
    };
    Ok(runtime.block_on(run(shutdown)))
}

// The one place a runtime is built (`runtimes_are_built_only_by_the_binary` checks it).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// SIGINT and SIGTERM, listened for from the moment it is made (see [`block_on_until_signal`]).
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    /// Installs the handlers; must run inside the runtime.
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind| match signal(kind) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(error = %e, ?kind, "cannot listen for a signal");
                    None
                }
            };
            ShutdownSignal {
                interrupt: listen(SignalKind::interrupt()),
                terminate: listen(SignalKind::terminate()),
            }
        }
        #[cfg(not(unix))]
        ShutdownSignal {}
    }

    /// Resolves on the first SIGINT or SIGTERM.
    pub async fn recv(self) {
        #[cfg(unix)]
        {
            async fn on(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = on(self.interrupt) => {},
                () = on(self.terminate) => {},
            }
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    /// No library builds a tokio runtime: they offer `async fn`s taking a shutdown future.
    #[test]
    fn runtimes_are_built_only_by_the_binary() {
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut offenders = Vec::new();
        let mut dirs = vec![crates.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir)
                .expect("crates/ is readable")
                .flatten()
            {
                let path = entry.path();
                let name = entry.file_name();
                if path.is_dir() {
                    // Only library sources: tests may start their own runtimes (`#[tokio::test]`).
                    let skip = ["kubepulse", "tests", "benches", "examples", "target"];
                    if !skip.iter().any(|s| name == *s) {
                        dirs.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("source is readable");
                    let code = text.split("#[cfg(test)]").next().unwrap_or("");
                    for needle in ["Runtime::new", "runtime::Builder", "signal::ctrl_c"] {
                        if code.contains(needle) {
                            offenders.push(format!("{}: {needle}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "runtime or signal outside the binary: {offenders:?}"
        );
    }
}
