//! The one tokio runtime and the one shutdown signal (mini-redis's shape): library crates offer
//! `async` entry points taking a shutdown future and never build a runtime of their own.

use std::future::Future;

use anyhow::Context;

/// Runs `future` to completion on a new multi-threaded runtime.
// The one place a runtime is built (`runtimes_are_built_only_by_the_binary` checks it).
pub fn block_on<F: Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
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
