//! The crate's error type.

use std::path::PathBuf;

/// Everything reading labels from the Kubernetes API can fail with; each variant names the resource,
/// file or value concerned.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No usable Kubernetes configuration (no in-cluster service account, no kubeconfig, bad context).
    #[error("Kubernetes configuration{}: {reason}", source_name.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Config {
        /// The kubeconfig file, when one was named.
        source_name: Option<PathBuf>,
        /// What is wrong.
        reason: String,
    },
    /// The API server did not accept the credentials (HTTP 401): a bad or expired token or
    /// kubeconfig user.
    #[error(
        "Kubernetes API refused the credentials for `{permission}` (HTTP 401): check the token or the \
         kubeconfig user (an expired token?); server said: {message}"
    )]
    Unauthenticated {
        /// The call (`list events`).
        permission: String,
        /// The API server's message.
        message: String,
    },
    /// The API server denied a call (HTTP 403): the account lacks a permission of
    /// [`crate::KUBE_PERMISSIONS`].
    #[error(
        "Kubernetes API denied `{permission}` (HTTP {code}): grant it to the account \
         (deploy/kustomize/components/watch/clusterrole.yaml) or collect without --labels-from {label_source}; server said: {message}"
    )]
    Forbidden {
        /// What was denied, as `kubectl auth can-i` spells it (`list events`).
        permission: String,
        /// HTTP status (403).
        code: u16,
        /// The `--labels-from` source that needs it.
        label_source: &'static str,
        /// The API server's message.
        message: String,
    },
    /// Any other failed call (unreachable server, 5xx, a body that is not the expected list).
    #[error("Kubernetes API `{permission}` failed: {reason}")]
    Api {
        /// The call (`list events`).
        permission: String,
        /// What went wrong.
        reason: String,
    },
    /// A call of the remediation agent refused by the API server (HTTP 4xx/5xx): 403 a permission
    /// the account lacks (granted by `deploy/kustomize/components/remediate*`), 409 a server-side apply
    /// conflict, 404 a missing object or subresource, 422 an invalid change, 429 an eviction a
    /// PodDisruptionBudget does not allow now.
    #[error("Kubernetes API `{permission}` on {object}: HTTP {code} {reason}: {message}")]
    Refused {
        /// The call (`patch horizontalpodautoscalers.autoscaling`).
        permission: String,
        /// The object (`shop/web`, `node-1`).
        object: String,
        /// HTTP status.
        code: u16,
        /// The API server's reason (`Conflict`, `Forbidden`, `TooManyRequests`, ...).
        reason: String,
        /// The API server's message.
        message: String,
    },
    /// An argument is out of range.
    #[error("{0}")]
    Invalid(String),
}
