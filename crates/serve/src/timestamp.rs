//! RFC 3339 timestamps (UTC, whole seconds) of the response bodies, through the workspace's one
//! timestamp module (`learn::timestamp`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Formats a time as RFC 3339 UTC with whole seconds, e.g. `2025-04-16T10:10:00Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    rfc3339_from_unix(secs)
}

/// Formats unix seconds as RFC 3339 UTC, e.g. `2025-04-16T10:10:00Z`.
pub fn rfc3339_from_unix(unix_secs: i64) -> String {
    learn::timestamp::format_rfc3339(unix_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_744_798_200), "2025-04-16T10:10:00Z");
        assert_eq!(rfc3339_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_from_unix(-1), "1969-12-31T23:59:59Z");
    }
}
