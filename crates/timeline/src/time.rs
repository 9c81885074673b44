//! The one parser for timestamps and durations, used by every command, configuration file and
//! dataset reader: a duration written `1h30m` means the same to `simulate`, `collect` and `watch`.

use thiserror::Error;

/// Why a timestamp or duration was refused (the message names the value).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    /// Nothing to parse.
    #[error("empty duration")]
    EmptyDuration,
    /// A leading minus sign.
    #[error("durations cannot be negative")]
    Negative,
    /// A letter that is not one of the units.
    #[error("unknown unit {0:?} (use s, m, h, d or w)")]
    UnknownUnit(char),
    /// A unit with no number before it (`m`).
    #[error("unit {0:?} without a number")]
    UnitWithoutNumber(char),
    /// Digits after the last unit (`1h30`).
    #[error("trailing number without a unit (e.g. write 15s)")]
    TrailingNumber,
    /// Beyond `i64` seconds.
    #[error("duration too large")]
    TooLarge,
    /// Zero where a positive duration is needed (a step, an interval).
    #[error("must be positive")]
    NotPositive,
    /// Neither unix seconds nor RFC 3339 (the text, cut at 200 characters).
    #[error("`{0}` is not a timestamp (unix seconds or RFC 3339, e.g. 2022-08-23T00:00:00Z)")]
    Timestamp(String),
    /// A time before 1970-01-01T00:00:00Z (negative unix seconds): no metric history has one.
    #[error("`{0}` is before 1970 (negative unix seconds)")]
    BeforeEpoch(String),
    /// A time after 9999-12-31T23:59:59Z ([`MAX_TIMESTAMP`]): no metric history has one, and later
    /// arithmetic on it (a window, a horizon) would overflow.
    #[error("`{0}` is after the year 9999 (more than 253402300799 unix seconds)")]
    AfterYear9999(String),
}

/// The latest timestamp accepted, unix seconds: 9999-12-31T23:59:59Z (the earliest is 0, 1970).
pub const MAX_TIMESTAMP: i64 = 253_402_300_799;

/// At most 200 characters of a value, for an error message.
fn quoted(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Parses a duration such as `15s`, `90m`, `1h30m`, `7d`, `2w` or a plain number of seconds
/// (`120`) into seconds. Zero is allowed (an offset of `0s`); negative, empty or malformed values
/// are errors that say why.
pub fn parse_duration_secs(text: &str) -> Result<i64, TimeError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(TimeError::EmptyDuration);
    }
    if s.starts_with('-') {
        return Err(TimeError::Negative);
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
            _ => return Err(TimeError::UnknownUnit(ch)),
        };
        if number.is_empty() {
            return Err(TimeError::UnitWithoutNumber(ch));
        }
        let n: i64 = number.parse().map_err(|_| TimeError::TooLarge)?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or(TimeError::TooLarge)?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(TimeError::TrailingNumber);
    }
    Ok(total)
}

/// [`parse_duration_secs`] for steps, intervals and look-backs: zero is refused too.
pub fn parse_positive_duration_secs(text: &str) -> Result<i64, TimeError> {
    match parse_duration_secs(text)? {
        0 => Err(TimeError::NotPositive),
        secs => Ok(secs),
    }
}

/// Formats seconds compactly (`3600` → `1h`, `90` → `1m30s`); [`parse_duration_secs`] reads it back.
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

/// Parses unix seconds (`1661140279`; `1661140279.5` is rounded down; fractional values beyond
/// ±9·10^15 s are refused rather than saturated) or RFC 3339 (`2022-08-22T03:51:19Z`,
/// `2022-08-22T05:51:19.250+02:00`, `2022-08-22 03:51:19Z`, or a bare date `2022-08-22`)
/// into unix seconds. Times before 1970 or after the year 9999 ([`MAX_TIMESTAMP`]) are an error.
pub fn parse_timestamp(text: &str) -> Result<i64, TimeError> {
    match parse_timestamp_opt(text) {
        Some(t) if (0..=MAX_TIMESTAMP).contains(&t) => Ok(t),
        Some(t) if t > MAX_TIMESTAMP => Err(TimeError::AfterYear9999(quoted(text))),
        Some(_) => Err(TimeError::BeforeEpoch(quoted(text))),
        None => Err(TimeError::Timestamp(quoted(text))),
    }
}

fn parse_timestamp_opt(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<i64>() {
        return Some(secs);
    }
    if let Ok(secs) = text.parse::<f64>() {
        // ±2^53 s keeps the conversion exact and far from i64 overflow in later arithmetic.
        return (secs.is_finite() && secs.abs() < 9.0e15).then_some(secs.floor() as i64);
    }
    parse_rfc3339(text)
}

fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 10 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let year = num(0..4)?;
    let month = num(5..7)?;
    let day = num(8..10)?;
    if b[4] != b'-' || b[7] != b'-' || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if b.len() == 10 {
        return Some(days * 86_400);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return None;
            }
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            let sign = if rb[0] == b'-' { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// 1970-01-01 plus `days` → (year, month 1–12, day 1–31), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats unix seconds as RFC 3339 UTC (`2022-08-22T03:51:19Z`).
pub fn format_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Hour of day in UTC, 0–23.
pub fn hour_of_day(secs: i64) -> u32 {
    (secs.rem_euclid(86_400) / 3600) as u32
}

/// Day of week in UTC, 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
pub fn day_of_week(secs: i64) -> u32 {
    ((secs.div_euclid(86_400) + 3).rem_euclid(7)) as u32
}

/// Whether a timestamp falls in business hours: Monday–Friday, 09:00–17:59 UTC.
pub fn is_business_hours(secs: i64) -> bool {
    day_of_week(secs) < 5 && (9..18).contains(&hour_of_day(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_reject() {
        assert_eq!(parse_duration_secs("15s"), Ok(15));
        assert_eq!(parse_duration_secs("1h30m"), Ok(5400));
        assert_eq!(parse_duration_secs("7d"), Ok(604_800));
        assert_eq!(parse_duration_secs("2w"), Ok(1_209_600));
        assert_eq!(parse_duration_secs("120"), Ok(120));
        assert_eq!(parse_duration_secs("0s"), Ok(0));
        assert_eq!(parse_duration_secs("-5m"), Err(TimeError::Negative));
        assert_eq!(parse_duration_secs("5x"), Err(TimeError::UnknownUnit('x')));
        assert_eq!(
            parse_duration_secs("m"),
            Err(TimeError::UnitWithoutNumber('m'))
        );
        assert_eq!(parse_duration_secs("1h30"), Err(TimeError::TrailingNumber));
        assert_eq!(parse_duration_secs(""), Err(TimeError::EmptyDuration));
        assert_eq!(
            parse_positive_duration_secs("0s"),
            Err(TimeError::NotPositive)
        );
        assert_eq!(parse_positive_duration_secs("1h30m"), Ok(5400));
        assert_eq!(format_duration_secs(5400), "1h30m");
        assert_eq!(format_duration_secs(0), "0s");
    }

    #[test]
    fn parses_both_forms_to_the_same_instant() {
        assert_eq!(parse_timestamp("1661140279"), Ok(1_661_140_279));
        assert_eq!(parse_timestamp("1661140279.9"), Ok(1_661_140_279));
        assert_eq!(parse_timestamp("2022-08-22T03:51:19Z"), Ok(1_661_140_279));
        assert_eq!(
            parse_timestamp("2022-08-22T05:51:19.250+02:00"),
            Ok(1_661_140_279)
        );
        assert_eq!(parse_timestamp("2022-08-22 03:51:19Z"), Ok(1_661_140_279));
        assert_eq!(parse_timestamp("2022-08-23"), Ok(1_661_212_800));
        assert_eq!(parse_timestamp("0"), Ok(0));
        for before in ["-1", "-0.5", "1969-12-31T23:59:59Z", "1960-01-01"] {
            assert!(
                matches!(parse_timestamp(before), Err(TimeError::BeforeEpoch(_))),
                "{before}"
            );
        }
        assert_eq!(parse_timestamp("9999-12-31T23:59:59Z"), Ok(MAX_TIMESTAMP));
        for after in ["253402300800", "9223372036854775807", "8e15"] {
            assert!(
                matches!(parse_timestamp(after), Err(TimeError::AfterYear9999(_))),
                "{after}"
            );
        }
        let long = parse_timestamp(&"x".repeat(100_000))
            .unwrap_err()
            .to_string();
        assert!(long.len() < 400, "{}", long.len());
        for bad in ["yesterday", "2022-13-01T00:00:00Z", "", "1e300", "-inf"] {
            assert!(parse_timestamp(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse_timestamp("yesterday")
                .unwrap_err()
                .to_string()
                .contains("yesterday")
        );
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

    #[test]
    fn formats_and_calendars() {
        assert_eq!(format_rfc3339(1_661_140_279), "2022-08-22T03:51:19Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(hour_of_day(1_661_140_279), 3);
        // 2022-08-22 was a Monday.
        assert_eq!(day_of_week(1_661_140_279), 0);
        assert_eq!(day_of_week(0), 3);
    }
}
