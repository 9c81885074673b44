//! Timestamps: unix seconds or RFC 3339 in, unix seconds (UTC) everywhere inside.

/// Parses unix seconds (`1661140279`, `1661140279.5` is rounded down; fractional values beyond
/// ±9·10^15 s are refused rather than saturated) or RFC 3339
/// (`2022-08-22T03:51:19Z`, `2022-08-22T05:51:19.250+02:00`, `2022-08-22 03:51:19Z`) into unix seconds.
pub fn parse(text: &str) -> Option<i64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_to_the_same_instant() {
        assert_eq!(parse("1661140279"), Some(1_661_140_279));
        assert_eq!(parse("1661140279.9"), Some(1_661_140_279));
        assert_eq!(parse("2022-08-22T03:51:19Z"), Some(1_661_140_279));
        assert_eq!(parse("2022-08-22T05:51:19.250+02:00"), Some(1_661_140_279));
        assert_eq!(parse("2022-08-22 03:51:19Z"), Some(1_661_140_279));
        assert_eq!(parse("2022-08-23"), Some(1_661_212_800));
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse("2022-13-01T00:00:00Z"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("1e300"), None);
        assert_eq!(parse("-inf"), None);
    }

    #[test]
    fn formats_and_calendars() {
        assert_eq!(format_rfc3339(1_661_140_279), "2022-08-22T03:51:19Z");
        assert_eq!(hour_of_day(1_661_140_279), 3);
        // 2022-08-22 was a Monday.
        assert_eq!(day_of_week(1_661_140_279), 0);
        assert_eq!(day_of_week(0), 3);
    }
}
