//! The value parsers of every subcommand's flags (clap `value_parser`s), all on the workspace's one
//! parser (`timeline::time`): a duration or a time means the same to `simulate`, `collect`, `train`,
//! `eval` and `watch`.

/// A positive duration: plain seconds (`90`) or with units (`15s`, `5m`, `1h30m`, `7d`, `2w`).
pub fn duration_secs(text: &str) -> Result<i64, String> {
    timeline::time::parse_positive_duration_secs(text).map_err(|e| format!("{text:?}: {e}"))
}

/// A time: unix seconds or RFC 3339 (`2022-08-23T00:00:00Z`, or a date `2022-08-23`).
pub fn timestamp(text: &str) -> Result<i64, String> {
    timeline::parse_timestamp(text).map_err(|e| e.to_string())
}

/// A time as [`timestamp`], or `now`, or `now-<duration>` (e.g. `now-7d`).
pub fn when(text: &str) -> Result<i64, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if text == "now" {
        return Ok(now);
    }
    if let Some(ago) = text.strip_prefix("now-") {
        return Ok(now - duration_secs(ago)?);
    }
    timestamp(text)
}

/// `--train-until`: a time ([`when`]: unix seconds, RFC 3339, `now-1d`), or `end-1d`: that long
/// before the data's last sample.
pub fn split(text: &str) -> Result<learn::eval::Split, String> {
    match text.strip_prefix("end-") {
        Some(before) => Ok(learn::eval::Split::BeforeEnd(duration_secs(before)?)),
        None => when(text).map(learn::eval::Split::TrainUntil),
    }
}

/// A memory size in bytes: `2G`, `1500M`, `512K`, `1T` (binary units), or a plain number of MB.
pub fn memory_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => t.split_at(i),
        None => (t, "M"),
    };
    let shift = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("{text:?}: a size such as 2G, 1500M or 512K")),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: a size such as 2G, 1500M or 512K"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("{text:?}: the size must be positive"));
    }
    Ok((n * (1u64 << shift) as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_parse() {
        assert_eq!(duration_secs("15s"), Ok(15));
        assert_eq!(duration_secs("2m"), Ok(120));
        assert_eq!(duration_secs("1h30m"), Ok(5400));
        assert_eq!(duration_secs("7d"), Ok(604_800));
        assert_eq!(duration_secs("30"), Ok(30));
        assert!(duration_secs("0s").is_err());
        assert!(duration_secs("5y").unwrap_err().contains("unit"));
        assert_eq!(timestamp("2022-08-23"), Ok(1_661_212_800));
        assert!(timestamp("yesterday").unwrap_err().contains("yesterday"));
        assert_eq!(when("1700000000"), Ok(1_700_000_000));
        assert!(when("now-1h").unwrap() < when("now").unwrap());
    }

    #[test]
    fn memory_sizes_parse() {
        assert_eq!(memory_bytes("2G"), Ok(2 << 30));
        assert_eq!(memory_bytes("1500M"), Ok(1500 << 20));
        assert_eq!(memory_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(memory_bytes("512k"), Ok(512 << 10));
        assert_eq!(memory_bytes("300"), Ok(300 << 20));
        for bad in ["", "G", "2X", "-1G", "0"] {
            assert!(memory_bytes(bad).is_err(), "{bad}");
        }
    }
}
