//! Time as text, by arithmetic on the proleptic Gregorian calendar (Howard Hinnant's
//! `days_from_civil` / `civil_from_days`): RFC 3339 for JSON (UTC, whole seconds), IMF-fixdate
//! for the HTTP `Date` header, and the `YYYY-MM-DD HH:MM:SS` fail2ban prints. The `time` crate
//! is used only for the local UTC offset; its parser and formatter cost bytes and microseconds.

use std::time::SystemTime;

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `2026-11-22T14:00:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    rfc3339_unix(unix(t))
}

/// RFC 3339 of unix seconds.
pub fn rfc3339_unix(secs: i64) -> String {
    let mut out = Vec::with_capacity(22);
    write_rfc3339_unix(&mut out, secs);
    String::from_utf8_lossy(&out[1..out.len() - 1]).into_owned()
}

/// `"2026-11-22T14:00:00Z"`, quoted for JSON, appended without `core::fmt`.
pub fn write_rfc3339(out: &mut Vec<u8>, t: SystemTime) {
    write_rfc3339_unix(out, unix(t));
}

/// `"2026-11-22T14:00:00Z"` of unix seconds, quoted for JSON. Years RFC 3339 cannot hold
/// (a permanent ban's far expiry) keep all their digits, as before.
pub fn write_rfc3339_unix(out: &mut Vec<u8>, secs: i64) {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    out.push(b'"');
    year(out, y);
    out.push(b'-');
    two(out, m);
    out.push(b'-');
    two(out, d);
    out.push(b'T');
    clock(out, rem);
    out.extend_from_slice(b"Z\"");
}

/// Two digits.
fn two(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
}

/// A year in at least four digits (`{y:04}`), without `core::fmt` for the usual ones.
fn year(out: &mut Vec<u8>, y: i64) {
    if (0..=9999).contains(&y) {
        two(out, y as u32 / 100);
        two(out, y as u32 % 100);
    } else {
        use std::io::Write;
        let _ = write!(out, "{y:04}");
    }
}

/// `HH:MM:SS` of the seconds into a day.
fn clock(out: &mut Vec<u8>, rem: i64) {
    two(out, (rem / 3600) as u32);
    out.push(b':');
    two(out, (rem / 60 % 60) as u32);
    out.push(b':');
    two(out, (rem % 60) as u32);
}

/// `Sun, 22 Nov 2026 14:00:00 GMT`, written like `write_rfc3339_unix` (one `format!` with six
/// padded arguments cost more code).
pub fn http_date(t: SystemTime) -> String {
    const WEEKDAYS: &[u8; 21] = b"ThuFriSatSunMonTueWed";
    const MONTHS: &[u8; 36] = b"JanFebMarAprMayJunJulAugSepOctNovDec";
    let secs = unix(t);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (w, m3) = (days.rem_euclid(7) as usize * 3, (m as usize - 1) * 3);
    let mut out = Vec::with_capacity(29);
    out.extend_from_slice(&WEEKDAYS[w..w + 3]);
    out.extend_from_slice(b", ");
    two(&mut out, d);
    out.push(b' ');
    out.extend_from_slice(&MONTHS[m3..m3 + 3]);
    out.push(b' ');
    year(&mut out, y);
    out.push(b' ');
    clock(&mut out, rem);
    out.extend_from_slice(b" GMT");
    String::from_utf8(out).unwrap_or_default()
}

/// Unix seconds of `YYYY-MM-DD HH:MM:SS` read in a zone `offset_secs` east of UTC.
pub fn parse_local(text: &str, offset_secs: i64) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_are_exact() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_356_000);
        assert_eq!(rfc3339(t), "2026-11-22T14:00:00Z");
        assert_eq!(http_date(t), "Sun, 22 Nov 2026 14:00:00 GMT");
        assert_eq!(rfc3339_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_unix(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339_unix(253_402_300_800), "10000-01-01T00:00:00Z");
        assert_eq!(rfc3339_unix(-62_135_596_801), "0000-12-31T23:59:59Z");
        let at = |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(http_date(at(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(at(951_782_400 + 7_381)),
            "Tue, 29 Feb 2000 02:03:01 GMT"
        );
        assert_eq!(
            http_date(at(253_402_300_800)),
            "Sat, 01 Jan 10000 00:00:00 GMT"
        );
        let mut out = Vec::new();
        write_rfc3339(&mut out, t);
        assert_eq!(out, b"\"2026-11-22T14:00:00Z\"");
    }

    #[test]
    fn civil_round_trips_over_centuries() {
        for days in (-800_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn parses_fail2ban_local_times() {
        assert_eq!(parse_local("2026-11-22 14:00:00", 0), Some(1_795_356_000));
        assert_eq!(
            parse_local("2026-11-22 15:00:00", 3600),
            Some(1_795_356_000)
        );
        assert_eq!(parse_local("9999-12-31 23:59:59", 0), Some(253_402_300_799));
        for bad in [
            "2026-13-01 00:00:00",
            "2026-11-22T14:00:00",
            "2026-11-22 14:00",
            "2026-1a-22 14:00:00",
            "",
        ] {
            assert_eq!(parse_local(bad, 0), None, "{bad}");
        }
    }
}
