//! The live loop: Prometheus client, `collect`, `watch` and Alertmanager alerts.
