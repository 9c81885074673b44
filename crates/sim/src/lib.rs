//! Cluster simulator: Kubernetes-like telemetry with faults that have precursors.
