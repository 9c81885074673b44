//! HTTP plumbing shared with `watch`'s Alertmanager client: the reqwest client, error chains,
//! backoff, and splitting a range into chunks.

use super::*;

/// True when `url`'s host is `localhost` or a loopback IP (no bandwidth to save by compressing).
pub fn is_loopback(url: &str) -> bool {
    let Some(host) = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Builds the shared reqwest client (rustls, optional extra CA, default headers); also used by
/// `watch`'s Alertmanager client.
pub fn build_http(
    timeout: Duration,
    connect_timeout: Duration,
    ca_pem: Option<&[u8]>,
    headers: &[(String, String)],
    gzip: bool,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .gzip(gzip)
        .user_agent(concat!("kubepulse/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| format!("CA certificate is not valid PEM: {e}"))?;
        if certs.is_empty() {
            return Err("CA file holds no PEM certificate".into());
        }
        builder = builder.tls_certs_merge(certs);
    }
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("header name {name:?}: {e}"))?;
        let value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|e| format!("header {name} value: {e}"))?;
        map.insert(name, value);
    }
    builder
        .default_headers(map)
        .build()
        .map_err(|e| error_chain(&e))
}

/// The error and its causes on one line (reqwest hides "connection refused" in its sources).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Delay before retry number `retry` (0-based): `base · 2^retry`, at most `max`.
pub fn backoff_delay(base: Duration, max: Duration, retry: u32) -> Duration {
    let factor = 2u32.saturating_pow(retry.min(20));
    base.saturating_mul(factor).min(max)
}

/// Splits `[start, end]` at `step` into consecutive sub-ranges of at most `max_points` points each; the
/// evaluation timestamps of the chunks together are exactly those of the whole range.
pub fn range_chunks(
    start: f64,
    end: f64,
    step: f64,
    max_points: usize,
) -> Result<Vec<(f64, f64)>, String> {
    if !(step > 0.0 && step.is_finite()) {
        return Err(format!("step must be positive, not {step}"));
    }
    if !(start.is_finite() && end.is_finite()) {
        return Err("start and end must be finite".into());
    }
    if end < start {
        return Err(format!("end {end} is before start {start}"));
    }
    let max_points = max_points.max(1);
    let total_points = ((end - start) / step + 1e-9).floor() as u64 + 1;
    let mut chunks = Vec::new();
    let mut first = 0u64;
    while first < total_points {
        let last = (first + max_points as u64 - 1).min(total_points - 1);
        chunks.push((start + first as f64 * step, start + last as f64 * step));
        first = last + 1;
    }
    Ok(chunks)
}

pub(super) fn format_secs(t: f64) -> String {
    if t.fract() == 0.0 && t.abs() < 1e15 {
        format!("{}", t as i64)
    } else {
        format!("{t:.3}")
    }
}

pub(super) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if body.len() > 300 {
        format!("{one_line}…")
    } else {
        one_line
    }
}
