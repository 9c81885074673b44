//! Prometheus HTTP API client (`/api/v1/query`, `/api/v1/query_range`).
//!
//! Works with anything that speaks the Prometheus query API (Prometheus, Thanos, Mimir, Cortex,
//! VictoriaMetrics, GKE Managed Prometheus, Azure Monitor workspaces): bearer token or basic auth, a custom CA,
//! extra headers (e.g. `X-Scope-OrgID`). Every request is bounded by a timeout; connection errors, timeouts and
//! 5xx answers are retried with exponential backoff, 4xx answers never are. Long ranges are split into chunks
//! under Prometheus' 11,000-points-per-series limit and fetched with bounded concurrency.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Semaphore;

mod client;
mod http;
mod wire;

pub use http::{backoff_delay, build_http, error_chain, is_loopback, range_chunks};
pub use wire::parse_value;

/// A series' label set (`__name__` included when Prometheus returns it).
pub type Labels = BTreeMap<String, String>;

/// How requests authenticate.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// HTTP basic auth.
    Basic {
        /// User name.
        username: String,
        /// Password (may be empty).
        password: String,
    },
}

impl fmt::Debug for Auth {
    // Never print secrets in logs or error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => write!(f, "None"),
            Auth::Bearer(_) => write!(f, "Bearer(<redacted>)"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
        }
    }
}

/// Connection settings of a [`PromClient`].
#[derive(Debug, Clone)]
pub struct PromConfig {
    /// Base URL; `/api/v1/query` etc. are appended (e.g. `http://prometheus:9090` or
    /// `https://mimir.example/prometheus`).
    pub url: String,
    /// Whole-request timeout of one attempt.
    pub timeout: Duration,
    /// TCP/TLS connect timeout of one attempt.
    pub connect_timeout: Duration,
    /// Retries after the first attempt (connection errors, timeouts and 5xx only).
    pub retries: u32,
    /// Delay before the first retry; doubled at each further retry up to `max_backoff`.
    pub backoff: Duration,
    /// Upper bound of the retry delay.
    pub max_backoff: Duration,
    /// Requests in flight at once, over all queries of this client.
    pub concurrency: usize,
    /// Points per series per `query_range` request (Prometheus refuses more than 11,000).
    pub max_points_per_request: usize,
    /// Authentication.
    pub auth: Auth,
    /// Extra PEM CA certificates trusted in addition to the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Extra headers sent with every request, e.g. `("X-Scope-OrgID", "tenant-1")` for Mimir/Cortex.
    pub headers: Vec<(String, String)>,
    /// Ask for gzip-compressed answers: saves bandwidth to remote servers, but costs Prometheus more CPU
    /// than evaluating some queries (measured: +50% per `query_range` answer on loopback).
    pub gzip: bool,
}

impl PromConfig {
    /// Defaults for `url`: 30 s timeout, 3 retries from 250 ms, 4 requests in flight, 10,000 points per request,
    /// gzip unless the URL's host is a loopback address.
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        PromConfig {
            gzip: !is_loopback(&url),
            url,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retries: 3,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            concurrency: 4,
            max_points_per_request: 10_000,
            auth: Auth::None,
            ca_pem: None,
            headers: Vec::new(),
        }
    }
}

/// What can go wrong talking to Prometheus. Every variant names the query (or URL) concerned.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    /// The configured base URL is not an http(s) URL.
    #[error("invalid Prometheus URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The client could not be built (bad CA certificate, bad header).
    #[error("invalid Prometheus client settings: {0}")]
    Setup(String),
    /// Prometheus rejected the PromQL (HTTP 400 `bad_data` and friends). Never retried.
    #[error("Prometheus rejected the query ({error_type}): {message}\n  query: {query}")]
    BadQuery {
        /// The PromQL sent.
        query: String,
        /// Prometheus' `errorType` (e.g. `bad_data`).
        error_type: String,
        /// Prometheus' `error` text.
        message: String,
    },
    /// Any other 4xx (401/403/404/...): a configuration problem, never retried.
    #[error("Prometheus at {url} answered HTTP {status}: {body}\n  query: {query}")]
    Client {
        /// Request URL (without credentials).
        url: String,
        /// HTTP status.
        status: u16,
        /// Start of the body.
        body: String,
        /// The PromQL sent.
        query: String,
    },
    /// 5xx after every retry.
    #[error(
        "Prometheus at {url} answered HTTP {status} after {attempts} attempt(s): {body}\n  query: {query}"
    )]
    Server {
        /// Request URL.
        url: String,
        /// HTTP status of the last attempt.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// Start of the last body.
        body: String,
        /// The PromQL sent.
        query: String,
    },
    /// Could not connect (or the connection broke) after every retry.
    #[error("cannot reach Prometheus at {url} after {attempts} attempt(s): {reason}")]
    Unreachable {
        /// Request URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last transport error.
        reason: String,
    },
    /// Every attempt took longer than the timeout.
    #[error(
        "Prometheus at {url} did not answer within {timeout_secs} s ({attempts} attempt(s))\n  query: {query}"
    )]
    Timeout {
        /// Request URL.
        url: String,
        /// Per-attempt timeout in seconds.
        timeout_secs: f64,
        /// Attempts made.
        attempts: u32,
        /// The PromQL sent.
        query: String,
    },
    /// The answer was not the JSON the Prometheus API defines.
    #[error("unexpected answer from Prometheus at {url}: {reason}\n  query: {query}")]
    Decode {
        /// Request URL.
        url: String,
        /// What did not parse.
        reason: String,
        /// The PromQL sent.
        query: String,
    },
    /// A `query_range` argument is impossible (end before start, step ≤ 0).
    #[error("invalid range for query {query:?}: {reason}")]
    InvalidRange {
        /// The PromQL.
        query: String,
        /// Why.
        reason: String,
    },
}

impl PromError {
    /// True when the error comes from the server or the network (worth trying again later), false when the
    /// query or the configuration is wrong.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PromError::Server { .. }
                | PromError::Unreachable { .. }
                | PromError::Timeout { .. }
                | PromError::Decode { .. }
        )
    }
}

/// One sample of an instant query.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// The series' labels.
    pub labels: Labels,
    /// Evaluation time, unix seconds.
    pub timestamp: f64,
    /// Value (may be NaN or ±Inf as Prometheus sends them).
    pub value: f64,
}

/// One series of a range query.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// `(unix seconds, value)`, increasing in time.
    pub samples: Vec<(f64, f64)>,
}

/// A Prometheus query API client. Cheap to clone (shares its connection pool and concurrency limit).
#[derive(Debug, Clone)]
pub struct PromClient {
    http: reqwest::Client,
    base: String,
    config: Arc<PromConfig>,
    permits: Arc<Semaphore>,
}

/// A range query's series plus the server's warnings (e.g. Thanos/Mimir partial responses: some stores
/// did not answer, so the data may be incomplete).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RangeAnswer {
    /// The series.
    pub series: Vec<RangeSeries>,
    /// Warnings the server attached to the answer.
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_step_exactly_once() {
        let chunks = range_chunks(0.0, 15.0 * 25_000.0, 15.0, 10_000).unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0], (0.0, 15.0 * 9_999.0));
        assert_eq!(chunks[1].0, 15.0 * 10_000.0);
        assert_eq!(chunks[2].1, 15.0 * 25_000.0);
        let points: u64 = chunks
            .iter()
            .map(|(s, e)| ((e - s) / 15.0).round() as u64 + 1)
            .sum();
        assert_eq!(points, 25_001);
        assert!(
            chunks
                .iter()
                .all(|(s, e)| (((e - s) / 15.0).round() as u64) < 10_000)
        );
    }

    #[test]
    fn chunks_refuse_impossible_ranges() {
        assert!(range_chunks(10.0, 0.0, 15.0, 100).is_err());
        assert!(range_chunks(0.0, 10.0, 0.0, 100).is_err());
        assert_eq!(range_chunks(5.0, 5.0, 15.0, 100).unwrap(), vec![(5.0, 5.0)]);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = |r| backoff_delay(Duration::from_millis(100), Duration::from_secs(1), r);
        assert_eq!(b(0), Duration::from_millis(100));
        assert_eq!(b(1), Duration::from_millis(200));
        assert_eq!(b(3), Duration::from_millis(800));
        assert_eq!(b(4), Duration::from_secs(1));
        assert_eq!(b(60), Duration::from_secs(1));
    }

    #[test]
    fn values_include_prometheus_specials() {
        assert!(parse_value("NaN").unwrap().is_nan());
        assert_eq!(parse_value("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_value("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_value("1e3"), Some(1000.0));
        assert_eq!(parse_value("abc"), None);
    }

    #[test]
    fn loopback_urls_are_not_compressed() {
        assert!(is_loopback("http://127.0.0.1:9090"));
        assert!(is_loopback("http://localhost:9090/prometheus"));
        assert!(is_loopback("http://[::1]:9090"));
        assert!(!is_loopback("https://mimir.example/prometheus"));
        assert!(!is_loopback("http://10.0.0.7:9090"));
        assert!(!is_loopback("not a url"));
        assert!(PromConfig::new("https://mimir.example").gzip);
        assert!(!PromConfig::new("http://127.0.0.1:9090").gzip);
    }

    #[test]
    fn secrets_are_not_printed() {
        let a = Auth::Bearer("s3cret".into());
        assert!(!format!("{a:?}").contains("s3cret"));
        let b = Auth::Basic {
            username: "u".into(),
            password: "pw".into(),
        };
        assert!(!format!("{b:?}").contains("pw"));
    }

    #[test]
    fn a_non_http_url_is_refused() {
        let err = PromClient::new(PromConfig::new("ftp://x")).unwrap_err();
        assert!(err.to_string().contains("scheme"), "{err}");
        let err = PromClient::new(PromConfig::new("not a url")).unwrap_err();
        assert!(err.to_string().contains("invalid Prometheus URL"), "{err}");
    }
}
