//! How to reach the Kubernetes API: in-cluster service account, or a kubeconfig and context.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::ClusterError;

/// Where the Kubernetes API is and who we are there.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// A kubeconfig file; `None` infers: `KUBECONFIG` or `~/.kube/config`, else the in-cluster service
    /// account (`KUBERNETES_SERVICE_HOST` and the mounted token).
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig; `None` is its `current-context`.
    pub context: Option<String>,
}

impl Connection {
    /// Builds a client (reads files, no network traffic yet).
    pub async fn client(&self) -> Result<kube::Client, ClusterError> {
        Ok(self.client_and_server().await?.0)
    }

    /// Builds a client and says which API server URL it talks to (for error messages).
    pub async fn client_and_server(&self) -> Result<(kube::Client, String), ClusterError> {
        let bad = |reason: String| ClusterError::Config {
            source_name: self.kubeconfig.clone(),
            reason: one_line(&reason),
        };
        let options = KubeConfigOptions {
            context: self.context.clone(),
            cluster: None,
            user: None,
        };
        let config = match (&self.kubeconfig, &self.context) {
            (Some(path), _) => {
                let file = Kubeconfig::read_from(path).map_err(|e| bad(e.to_string()))?;
                kube::Config::from_custom_kubeconfig(file, &options)
                    .await
                    .map_err(|e| bad(e.to_string()))?
            }
            (None, Some(_)) => kube::Config::from_kubeconfig(&options)
                .await
                .map_err(|e| bad(e.to_string()))?,
            (None, None) => kube::Config::infer().await.map_err(|e| {
                bad(format!(
                    "no in-cluster service account and no kubeconfig ({e}); pass --kubeconfig FILE"
                ))
            })?,
        };
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(|e| bad(e.to_string()))?;
        Ok((client, server))
    }
}

/// Collapses whitespace so an error stays on one line.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
