//! KubePulse's random-forest engine: a pure library (no I/O except its own model format).
