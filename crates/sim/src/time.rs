//! Durations ("90s", "15m", "1h30m", "7d") and timestamps (unix seconds or RFC 3339 UTC), calendar helpers.

/// Parses a duration such as `15s`, `90m`, `1h30m`, `7d`, `2w` or a plain number of seconds.
/// Returns seconds; negative, empty or malformed values are errors (the message says why).
pub fn parse_duration_secs(text: &str) -> Result<i64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s.starts_with('-') {
        return Err("durations cannot be negative".into());
    }
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(secs);
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(format!("unknown unit {ch:?} (use s, m, h, d or w)")),
        };
        if number.is_empty() {
            return Err(format!("unit {ch:?} without a number"));
        }
        let n: i64 = number.parse().map_err(|_| "number too large".to_string())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or("duration too large")?;
        number.clear();
    }
    if !number.is_empty() {
        return Err("trailing number without a unit (e.g. write 15s)".into());
    }
    Ok(total)
}

/// Formats seconds compactly (`3600` → `1h`, `90` → `1m30s`).
pub fn format_duration_secs(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, name) in [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")] {
        if rest >= unit {
            out.push_str(&format!("{}{}", rest / unit, name));
            rest %= unit;
        }
    }
    out
}

/// Parses unix seconds or an RFC 3339 UTC timestamp (`2026-01-05T00:00:00Z`).
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let s = text.trim();
    if let Ok(v) = s.parse::<i64>() {
        return Ok(v);
    }
    let bad =
        || format!("{s:?} is neither unix seconds nor RFC 3339 UTC like 2026-01-05T00:00:00Z");
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .ok_or_else(bad)?;
    let (date, time) = s.split_once(['T', ' ']).ok_or_else(bad)?;
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || t.len() != 3 {
        return Err(bad());
    }
    let num = |p: &str| p.parse::<i64>().map_err(|_| bad());
    let (y, mo, da) = (num(d[0])?, num(d[1])?, num(d[2])?);
    let (h, mi, se) = (
        num(t[0])?,
        num(t[1])?,
        num(t[2].split('.').next().unwrap_or("0"))?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    Ok(days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Hour of day (0–23, UTC) of a unix timestamp.
pub fn hour_of_day(ts: i64) -> i64 {
    ts.rem_euclid(86_400) / 3600
}

/// Day of week of a unix timestamp, 0 = Monday … 6 = Sunday (UTC).
pub fn day_of_week(ts: i64) -> i64 {
    // 1970-01-01 was a Thursday (3 when Monday is 0).
    (ts.div_euclid(86_400) + 3).rem_euclid(7)
}

/// Whether a timestamp falls in business hours: Monday–Friday, 09:00–17:59 UTC.
pub fn is_business_hours(ts: i64) -> bool {
    day_of_week(ts) < 5 && (9..18).contains(&hour_of_day(ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_reject() {
        assert_eq!(parse_duration_secs("15s"), Ok(15));
        assert_eq!(parse_duration_secs("1h30m"), Ok(5400));
        assert_eq!(parse_duration_secs("7d"), Ok(604_800));
        assert_eq!(parse_duration_secs("120"), Ok(120));
        assert!(parse_duration_secs("-5m").unwrap_err().contains("negative"));
        assert!(parse_duration_secs("5x").is_err());
        assert!(parse_duration_secs("5").is_ok());
        assert!(parse_duration_secs("m").is_err());
        assert_eq!(format_duration_secs(5400), "1h30m");
    }

    #[test]
    fn timestamps_parse() {
        assert_eq!(parse_timestamp("2026-01-05T00:00:00Z"), Ok(1_767_571_200));
        assert_eq!(day_of_week(1_767_571_200), 0, "2026-01-05 is a Monday");
        assert_eq!(parse_timestamp("1700000000"), Ok(1_700_000_000));
        assert!(parse_timestamp("yesterday").is_err());
        assert!(is_business_hours(1_767_571_200 + 10 * 3600));
        assert!(!is_business_hours(1_767_571_200 + 5 * 86_400 + 10 * 3600));
    }
}
