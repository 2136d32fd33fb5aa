//! Time as text: RFC 3339 for JSON (UTC, whole seconds) and IMF-fixdate for the HTTP `Date`
//! header, which the loop formats once per second.

use std::time::SystemTime;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

/// `2026-11-22T14:00:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    rfc3339_unix(secs)
}

/// RFC 3339 of unix seconds (out-of-range values clamp to the epoch rather than fail).
pub fn rfc3339_unix(secs: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.format(&Rfc3339).unwrap_or_default()
}

/// `Sun, 22 Nov 2026 14:00:00 GMT`.
pub fn http_date(t: SystemTime) -> String {
    let fmt = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&fmt)
        .unwrap_or_default()
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
    }
}
