//! The Prometheus client against a real, backfilled Prometheus and against a misbehaving fake server.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use collect::prom::{Auth, PromClient, PromConfig, PromError};

const T0: i64 = 1_700_000_000;

/// Two hours of three gauge series at 15 s: value = pod index · 1000 + step index.
fn openmetrics() -> String {
    let mut text = String::from("# TYPE test_gauge gauge\n");
    for pod in 0..3 {
        for i in 0..480 {
            let t = T0 + i * 15;
            text.push_str(&format!(
                "test_gauge{{pod=\"p{pod}\"}} {} {t}\n",
                pod * 1000 + i
            ));
        }
    }
    text.push_str("# EOF\n");
    text
}

fn fast_config(url: &str) -> PromConfig {
    let mut c = PromConfig::new(url);
    c.timeout = Duration::from_millis(500);
    c.retries = 2;
    c.backoff = Duration::from_millis(20);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_prometheus_range_is_chunked_and_exact_and_bad_promql_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let tsdb = dir.path().join("tsdb");
    common::backfill(&openmetrics(), dir.path(), &tsdb);
    let prom = common::Prometheus::start(dir.path(), &tsdb, &[]).await;

    let mut config = PromConfig::new(&prom.url);
    config.max_points_per_request = 100; // 480 points → 5 chunks, fetched concurrently
    config.concurrency = 2;
    let client = PromClient::new(config).unwrap();
    let series = client
        .query_range("test_gauge", T0 as f64, (T0 + 479 * 15) as f64, 15.0)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prom.proc.stderr_tail()));
    assert_eq!(series.len(), 3);
    for s in &series {
        let pod: i64 = s.labels["pod"][1..].parse().unwrap();
        assert_eq!(
            s.samples.len(),
            480,
            "every step exactly once for {:?}",
            s.labels
        );
        for (i, (t, v)) in s.samples.iter().enumerate() {
            assert_eq!(*t, (T0 + i as i64 * 15) as f64);
            assert_eq!(*v, (pod * 1000 + i as i64) as f64);
        }
    }

    let instant = client
        .query("sum(test_gauge)", Some((T0 + 15 * 10) as f64))
        .await
        .unwrap();
    assert_eq!(instant.len(), 1);
    assert_eq!(instant[0].value, (10 + 1010 + 2010) as f64);

    let err = client
        .query("sum(rate(test_gauge[5m]", None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PromError::BadQuery { .. }), "{text}");
    assert!(
        text.contains("bad_data") && text.contains("sum(rate(test_gauge[5m]"),
        "{text}"
    );
}

/// A fake Prometheus whose behaviour is chosen per test.
async fn fake(behaviour: &'static str, hits: Arc<AtomicUsize>) -> String {
    let app = Router::new().route(
        "/api/v1/query",
        post(move |headers: axum::http::HeaderMap| {
            let hits = hits.clone();
            async move {
                let n = hits.fetch_add(1, Ordering::SeqCst);
                let ok = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"42"]}]}}"#;
                match behaviour {
                    "500-then-ok" if n < 2 => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
                    "500-then-ok" => (StatusCode::OK, ok).into_response(),
                    "always-500" => (StatusCode::SERVICE_UNAVAILABLE, "overloaded").into_response(),
                    "garbage" => (StatusCode::OK, "<html>proxy error</html>").into_response(),
                    "400" => (
                        StatusCode::BAD_REQUEST,
                        r#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#,
                    )
                        .into_response(),
                    "403" => (StatusCode::FORBIDDEN, "forbidden").into_response(),
                    "slow" => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        (StatusCode::OK, ok).into_response()
                    }
                    "auth" => {
                        let expected = "Bearer t0ken";
                        let got = headers.get("authorization").and_then(|v| v.to_str().ok());
                        let tenant = headers.get("x-scope-orgid").and_then(|v| v.to_str().ok());
                        if got == Some(expected) && tenant == Some("team-a") {
                            (StatusCode::OK, ok).into_response()
                        } else {
                            (StatusCode::UNAUTHORIZED, "no").into_response()
                        }
                    }
                    _ => (StatusCode::OK, ok).into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = fake("500-then-ok", hits.clone()).await;
    let client = PromClient::new(fast_config(&url)).unwrap();
    let v = client.query("up", None).await.unwrap();
    assert_eq!(v[0].value, 42.0);
    assert_eq!(hits.load(Ordering::SeqCst), 3, "two 500s then a success");
}

#[tokio::test]
async fn persistent_5xx_gives_up_after_the_retries() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = fake("always-500", hits.clone()).await;
    let client = PromClient::new(fast_config(&url)).unwrap();
    let err = client.query("up", None).await.unwrap_err();
    assert!(
        matches!(
            err,
            PromError::Server {
                status: 503,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_transient());
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    for (behaviour, bad_query) in [("400", true), ("403", false)] {
        let hits = Arc::new(AtomicUsize::new(0));
        let url = fake(behaviour, hits.clone()).await;
        let client = PromClient::new(fast_config(&url)).unwrap();
        let err = client.query("rate(x[5m]", None).await.unwrap_err();
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "{behaviour} must not be retried"
        );
        assert!(!err.is_transient());
        assert_eq!(
            matches!(err, PromError::BadQuery { .. }),
            bad_query,
            "{err}"
        );
        assert!(
            err.to_string().contains("rate(x[5m]"),
            "the query is shown: {err}"
        );
    }
}

#[tokio::test]
async fn garbage_is_a_decode_error() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = fake("garbage", hits.clone()).await;
    let client = PromClient::new(fast_config(&url)).unwrap();
    let err = client.query("up", None).await.unwrap_err();
    assert!(matches!(err, PromError::Decode { .. }), "{err}");
    assert!(err.to_string().contains("proxy error"), "{err}");
}

#[tokio::test]
async fn slow_answers_time_out() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = fake("slow", hits.clone()).await;
    let mut config = fast_config(&url);
    config.retries = 1;
    let client = PromClient::new(config).unwrap();
    let started = Instant::now();
    let err = client.query("up", None).await.unwrap_err();
    assert!(
        matches!(err, PromError::Timeout { attempts: 2, .. }),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "gave up in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn unreachable_server_is_named() {
    let port = common::free_port();
    let client = PromClient::new(fast_config(&format!("http://127.0.0.1:{port}"))).unwrap();
    let err = client.query("up", None).await.unwrap_err();
    assert!(
        matches!(err, PromError::Unreachable { attempts: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

#[tokio::test]
async fn bearer_token_and_tenant_header_are_sent() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = fake("auth", hits.clone()).await;
    let mut config = fast_config(&url);
    config.auth = Auth::Bearer("t0ken".into());
    config.headers = vec![("X-Scope-OrgID".into(), "team-a".into())];
    let client = PromClient::new(config).unwrap();
    assert_eq!(client.query("up", None).await.unwrap()[0].value, 42.0);

    let client = PromClient::new(fast_config(&url)).unwrap();
    let err = client.query("up", None).await.unwrap_err();
    assert!(
        matches!(err, PromError::Client { status: 401, .. }),
        "{err}"
    );
}

#[test]
fn a_bad_ca_file_is_refused() {
    let mut config = PromConfig::new("https://example.invalid");
    config.ca_pem = Some(b"not a certificate".to_vec());
    let err = PromClient::new(config).unwrap_err();
    assert!(err.to_string().contains("CA"), "{err}");
}
