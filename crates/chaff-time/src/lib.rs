//! RFC 3339 timestamps, parsed and written without a date library.
//!
//! Three readers need them: the sensor's `ts` (`2024-05-01T12:34:56.789Z`), the timestamp
//! Docker puts before every log line (`2024-05-01T12:34:56.123456789Z`), and the user's
//! `--since`. One writer: the millisecond UTC form the sensor uses, for output and syslog.
//!
//! The calendar arithmetic is the proleptic Gregorian calendar (H. Hinnant's `days_from_civil`
//! and `civil_from_days`), exact for every year 0000–9999.

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// `text` as nanoseconds since the Unix epoch (UTC), or `None` when it is not an RFC 3339
/// date-time: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, `T`/`Z` in either case. Fraction
/// digits past the ninth are ignored (truncated); leap seconds (`:60`) are refused. `None`
/// too outside what an `i64` of nanoseconds holds (years 1677–2262).
pub fn parse_nanos(text: &str) -> Option<i64> {
    let (seconds, fraction) = parse_seconds(text)?;
    seconds.checked_mul(NANOS_PER_SECOND)?.checked_add(fraction)
}

/// `text` as milliseconds since the Unix epoch (the fraction truncated), like
/// [`parse_nanos`] but for every year 0000–9999.
pub fn parse_millis(text: &str) -> Option<i64> {
    let (seconds, fraction) = parse_seconds(text)?;
    Some(seconds * 1000 + fraction / 1_000_000)
}

/// Whole seconds since the epoch and the fraction in nanoseconds.
fn parse_seconds(text: &str) -> Option<(i64, i64)> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    if !matches!(bytes[10], b'T' | b't') {
        return None;
    }
    let year = digits(&bytes[0..4])?;
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    let (hour, minute, second) = (digits(&bytes[11..13])?, digits(&bytes[14..16])?, digits(&bytes[17..19])?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let (fraction, rest) = fraction_nanos(&bytes[19..])?;
    let offset_seconds = offset(rest)?;
    let days = days_from_civil(year, month, day);
    Some((days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset_seconds, fraction))
}

/// `millis` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (the sensor's form). Years
/// outside 0000–9999 are clamped to those bounds' first or last millisecond.
pub fn format_millis(millis: i64) -> String {
    const MIN: i64 = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
    const MAX: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    let millis = millis.clamp(MIN, MAX);
    let seconds = millis.div_euclid(1000);
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let in_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60,
        millis.rem_euclid(1000)
    )
}

/// ASCII digits as a number; `None` if any byte is not a digit.
fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |n, b| b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0')))
}

/// An optional `.digits` fraction as nanoseconds, and what follows it.
fn fraction_nanos(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let Some(after_dot) = bytes.strip_prefix(b".") else { return Some((0, bytes)) };
    let count = after_dot.iter().take_while(|b| b.is_ascii_digit()).count();
    if count == 0 {
        return None;
    }
    let kept = &after_dot[..count.min(9)];
    let scale = 10i64.pow(9 - kept.len() as u32);
    Some((digits(kept)? * scale, &after_dot[count..]))
}

/// `Z`, or `±HH:MM`, as seconds east of UTC; nothing may follow.
fn offset(bytes: &[u8]) -> Option<i64> {
    match bytes {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (hours, minutes) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            Some(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => None,
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01: (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sensor_and_docker_forms() {
        assert_eq!(parse_millis("2024-05-01T12:34:56.789Z"), Some(1_714_566_896_789));
        assert_eq!(parse_nanos("2024-05-01T12:34:56.123456789Z"), Some(1_714_566_896_123_456_789));
        assert_eq!(parse_nanos("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_nanos("1970-01-01t00:00:01z"), Some(1_000_000_000));
        // More than nine fraction digits are truncated, not rounded.
        assert_eq!(parse_nanos("1970-01-01T00:00:00.1234567899Z"), Some(123_456_789));
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let utc = parse_nanos("2024-05-01T12:00:00Z").unwrap();
        assert_eq!(parse_nanos("2024-05-01T14:00:00+02:00"), Some(utc));
        assert_eq!(parse_nanos("2024-05-01T07:30:00-04:30"), Some(utc));
    }

    #[test]
    fn before_the_epoch_is_negative() {
        assert_eq!(parse_millis("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(format_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn refuses_what_is_not_a_date_time() {
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01 12:34:56Z",
            "2024-05-01T12:34:56",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T23:59:60Z",
            "2024-05-01T12:34:56.Z",
            "2024-05-01T12:34:56+2:00",
            "2024-05-01T12:34:56+24:00",
            "2024-05-01T12:34:56Zjunk",
            "２０２４-05-01T12:34:56Z",
        ] {
            assert_eq!(parse_nanos(bad), None, "{bad:?}");
            assert_eq!(parse_millis(bad), None, "{bad:?}");
        }
        // Past what i64 nanoseconds hold, but not milliseconds.
        assert_eq!(parse_nanos("2999-01-01T00:00:00Z"), None);
        assert_eq!(parse_millis("9999-12-31T23:59:59.999Z"), Some(253_402_300_799_999));
        assert_eq!(parse_nanos("2024-02-29T00:00:00Z"), Some(1_709_164_800 * NANOS_PER_SECOND), "leap day");
    }

    #[test]
    fn formatting_round_trips_through_parsing() {
        for millis in [0, 1, 999, 1_714_566_896_789, 951_782_400_000, 4_102_444_800_000, -86_400_001] {
            let text = format_millis(millis);
            assert_eq!(parse_millis(&text), Some(millis), "{text}");
        }
        assert_eq!(format_millis(1_714_566_896_789), "2024-05-01T12:34:56.789Z");
        assert_eq!(format_millis(i64::MAX), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn calendar_agrees_with_itself_over_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
        }
    }
}
