//! The client's requests: instant and range queries, retries with backoff, bounded concurrency.

use super::http::{excerpt, format_secs};
use super::wire::*;
use super::*;

impl PromClient {
    /// Builds a client; fails on a malformed URL, CA certificate or header.
    pub fn new(config: PromConfig) -> Result<Self, PromError> {
        let base = config.url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base).map_err(|e| PromError::InvalidUrl {
            url: config.url.clone(),
            reason: e.to_string(),
        })?;
        if parsed.scheme() != "http" && parsed.scheme() != "https" {
            return Err(PromError::InvalidUrl {
                url: config.url.clone(),
                reason: format!("scheme must be http or https, not {:?}", parsed.scheme()),
            });
        }
        if config.concurrency == 0 {
            return Err(PromError::Setup("concurrency must be at least 1".into()));
        }
        if config.max_points_per_request < 2 || config.max_points_per_request > 11_000 {
            return Err(PromError::Setup(format!(
                "max points per request must be within 2..=11000, not {}",
                config.max_points_per_request
            )));
        }
        let http = build_http(
            config.timeout,
            config.connect_timeout,
            config.ca_pem.as_deref(),
            &config.headers,
            config.gzip,
        )
        .map_err(PromError::Setup)?;
        Ok(PromClient {
            http,
            base,
            permits: Arc::new(Semaphore::new(config.concurrency)),
            config: Arc::new(config),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &PromConfig {
        &self.config
    }

    /// Instant query at `time` (unix seconds; `None` = the server's now).
    pub async fn query(
        &self,
        promql: &str,
        time: Option<f64>,
    ) -> Result<Vec<InstantSample>, PromError> {
        let mut form = vec![("query", promql.to_string())];
        if let Some(t) = time {
            form.push(("time", format_secs(t)));
        }
        match self.request("query", promql, &form).await? {
            Answer::Vector(v) => Ok(v),
            Answer::Matrix(m, _) => Ok(m
                .into_iter()
                .filter_map(|s| {
                    let (timestamp, value) = *s.samples.last()?;
                    Some(InstantSample {
                        labels: s.labels,
                        timestamp,
                        value,
                    })
                })
                .collect()),
        }
    }

    /// Range query over `[start, end]` (unix seconds) at `step_secs`, split into chunks of at most
    /// `max_points_per_request` points fetched concurrently; series are merged back in time order.
    pub async fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step_secs: f64,
    ) -> Result<Vec<RangeSeries>, PromError> {
        let chunks = range_chunks(start, end, step_secs, self.config.max_points_per_request)
            .map_err(|reason| PromError::InvalidRange {
                query: promql.to_string(),
                reason,
            })?;
        let mut set = tokio::task::JoinSet::new();
        for (index, (chunk_start, chunk_end)) in chunks.iter().copied().enumerate() {
            let client = self.clone();
            let promql = promql.to_string();
            set.spawn(async move {
                let r = client
                    .query_range_once(&promql, chunk_start, chunk_end, step_secs)
                    .await;
                (index, r)
            });
        }
        let mut parts: Vec<Option<Vec<RangeSeries>>> = vec![None; chunks.len()];
        while let Some(joined) = set.join_next().await {
            let (index, result) = joined.map_err(|e| PromError::Decode {
                url: self.base.clone(),
                reason: format!("query task failed: {e}"),
                query: promql.to_string(),
            })?;
            parts[index] = Some(result?);
        }
        let mut merged: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for part in parts.into_iter().flatten() {
            for series in part {
                merged
                    .entry(series.labels)
                    .or_default()
                    .extend(series.samples);
            }
        }
        Ok(merged
            .into_iter()
            .map(|(labels, samples)| RangeSeries { labels, samples })
            .collect())
    }

    /// One `query_range` request, no chunking (the caller keeps within the points limit).
    pub async fn query_range_once(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step_secs: f64,
    ) -> Result<Vec<RangeSeries>, PromError> {
        Ok(self
            .query_range_answer(promql, start, end, step_secs)
            .await?
            .series)
    }

    /// One `query_range` request, with the server's warnings (for callers that must know an answer may be
    /// partial).
    pub async fn query_range_answer(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step_secs: f64,
    ) -> Result<RangeAnswer, PromError> {
        let form = vec![
            ("query", promql.to_string()),
            ("start", format_secs(start)),
            ("end", format_secs(end)),
            ("step", format_secs(step_secs)),
        ];
        match self.request("query_range", promql, &form).await? {
            Answer::Matrix(series, warnings) => Ok(RangeAnswer { series, warnings }),
            Answer::Vector(_) => Err(PromError::Decode {
                url: self.endpoint("query_range"),
                reason: "expected a matrix, got a vector".into(),
                query: promql.to_string(),
            }),
        }
    }

    fn endpoint(&self, api: &str) -> String {
        format!("{}/api/v1/{api}", self.base)
    }

    async fn request(
        &self,
        api: &str,
        promql: &str,
        form: &[(&str, String)],
    ) -> Result<Answer, PromError> {
        let url = self.endpoint(api);
        let attempts_max = self.config.retries + 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.attempt(&url, promql, form).await;
            let error = match outcome {
                Ok(answer) => return Ok(answer),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry(e)) => e,
            };
            if attempt >= attempts_max {
                return Err(error.with_attempts(attempt));
            }
            let delay = backoff_delay(self.config.backoff, self.config.max_backoff, attempt - 1);
            // Debug, not warn: the caller reports the outcome (an error after the last attempt), and a
            // Prometheus that is down would otherwise log every attempt of every query.
            tracing::debug!(url = %url, attempt, delay_ms = delay.as_millis() as u64, error = %error.summary(),
                "Prometheus request failed, retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        url: &str,
        promql: &str,
        form: &[(&str, String)],
    ) -> Result<Answer, Attempt> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Attempt::Fatal(PromError::Setup(e.to_string())))?;
        let mut request = self.http.post(url).form(form);
        request = match &self.config.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
        };
        let response = request
            .send()
            .await
            .map_err(|e| self.transport(url, promql, e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport(url, promql, e))?;
        if status.is_server_error() {
            return Err(Attempt::Retry(Transient::Server {
                url: url.to_string(),
                status: status.as_u16(),
                body: excerpt(&body),
                query: promql.to_string(),
            }));
        }
        let envelope: Result<ApiEnvelope, _> = serde_json::from_slice(&body);
        if status.is_client_error() {
            // Prometheus answers 400 bad_data / 422 execution with its JSON error envelope.
            if let Ok(env) = &envelope {
                if env.status == "error" {
                    return Err(Attempt::Fatal(PromError::BadQuery {
                        query: promql.to_string(),
                        error_type: env.error_type.clone().unwrap_or_else(|| "unknown".into()),
                        message: env.error.clone().unwrap_or_default(),
                    }));
                }
            }
            return Err(Attempt::Fatal(PromError::Client {
                url: url.to_string(),
                status: status.as_u16(),
                body: excerpt(&body),
                query: promql.to_string(),
            }));
        }
        let decode = |reason: String| {
            // A garbled answer from a proxy or an overloaded server is worth another try.
            Attempt::Retry(Transient::Decode {
                url: url.to_string(),
                reason,
                query: promql.to_string(),
            })
        };
        let envelope = envelope.map_err(|e| {
            decode(format!(
                "HTTP {status}, body is not Prometheus API JSON ({e}): {}",
                excerpt(&body)
            ))
        })?;
        if envelope.status != "success" {
            return Err(Attempt::Fatal(PromError::BadQuery {
                query: promql.to_string(),
                error_type: envelope.error_type.unwrap_or_else(|| "unknown".into()),
                message: envelope.error.unwrap_or_default(),
            }));
        }
        for warning in &envelope.warnings {
            tracing::warn!(query = promql, warning = %warning, "Prometheus warning");
        }
        let data = envelope
            .data
            .ok_or_else(|| decode("success without `data`".into()))?;
        Ok(match data {
            ApiData::Vector(items) => Answer::Vector(
                items
                    .into_iter()
                    .map(|item| InstantSample {
                        labels: item.metric,
                        timestamp: item.value.0,
                        value: item.value.1,
                    })
                    .collect(),
            ),
            ApiData::Matrix(items) => Answer::Matrix(
                items
                    .into_iter()
                    .map(|item| RangeSeries {
                        labels: item.metric,
                        samples: item.values.into_iter().map(|s| (s.0, s.1)).collect(),
                    })
                    .collect(),
                envelope.warnings,
            ),
            ApiData::Scalar(sample) => Answer::Vector(vec![InstantSample {
                labels: Labels::new(),
                timestamp: sample.0,
                value: sample.1,
            }]),
            ApiData::String(_) => {
                return Err(Attempt::Fatal(PromError::BadQuery {
                    query: promql.to_string(),
                    error_type: "bad_data".into(),
                    message: "the query returns a string, not numbers".into(),
                }));
            }
        })
    }

    fn transport(&self, url: &str, promql: &str, e: reqwest::Error) -> Attempt {
        if e.is_timeout() {
            Attempt::Retry(Transient::Timeout {
                url: url.to_string(),
                timeout_secs: self.config.timeout.as_secs_f64(),
                query: promql.to_string(),
            })
        } else {
            Attempt::Retry(Transient::Unreachable {
                url: url.to_string(),
                reason: error_chain(&e),
            })
        }
    }
}

pub(super) enum Attempt {
    Fatal(PromError),
    Retry(Transient),
}

pub(super) enum Transient {
    Server {
        url: String,
        status: u16,
        body: String,
        query: String,
    },
    Unreachable {
        url: String,
        reason: String,
    },
    Timeout {
        url: String,
        timeout_secs: f64,
        query: String,
    },
    Decode {
        url: String,
        reason: String,
        query: String,
    },
}

impl Transient {
    fn with_attempts(self, attempts: u32) -> PromError {
        match self {
            Transient::Server {
                url,
                status,
                body,
                query,
            } => PromError::Server {
                url,
                status,
                attempts,
                body,
                query,
            },
            Transient::Unreachable { url, reason } => PromError::Unreachable {
                url,
                attempts,
                reason,
            },
            Transient::Timeout {
                url,
                timeout_secs,
                query,
            } => PromError::Timeout {
                url,
                timeout_secs,
                attempts,
                query,
            },
            Transient::Decode { url, reason, query } => PromError::Decode { url, reason, query },
        }
    }

    fn summary(&self) -> String {
        match self {
            Transient::Server { status, .. } => format!("HTTP {status}"),
            Transient::Unreachable { reason, .. } => reason.clone(),
            Transient::Timeout { timeout_secs, .. } => format!("timeout after {timeout_secs} s"),
            Transient::Decode { reason, .. } => reason.clone(),
        }
    }
}
