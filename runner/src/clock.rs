//! Timestamps for log lines, written without a formatting library: RFC 3339 in
//! UTC with microseconds, as `tracing` writes them.

use std::time::SystemTime;

/// [`timestamp`] as a string.
pub(crate) fn timestamp_string(now: SystemTime) -> String {
    let mut line = Vec::with_capacity(27);
    timestamp(&mut line, now);
    String::from_utf8(line).unwrap_or_default()
}

/// RFC 3339 in UTC with microseconds, as `tracing` writes it.
pub(crate) fn timestamp(line: &mut Vec<u8>, now: SystemTime) {
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_date(secs / 86_400);
    let of_day = secs % 86_400;
    let mut digits = |n: u64, width: usize, after: u8| {
        let mut buf = [b'0'; 6];
        let mut n = n;
        for slot in buf[..width].iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
        line.extend_from_slice(&buf[..width]);
        line.push(after);
    };
    digits(year, 4, b'-');
    digits(month, 2, b'-');
    digits(day, 2, b'T');
    digits(of_day / 3600, 2, b':');
    digits(of_day / 60 % 60, 2, b':');
    digits(of_day % 60, 2, b'.');
    digits(u64::from(since.subsec_micros()), 6, b'Z');
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (days on or after
/// it only), by whole 400-year eras of 146,097 days.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Counted from 0000-03-01, so that a leap day ends its year.
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_match_the_time_crate_across_centuries_and_leap_days() {
        let format = time::format_description::well_known::Rfc3339;
        // Every day from 1970 to 2100 at a fixed hour, and a few odd instants.
        let mut instants: Vec<u64> = (0..47_847).map(|d| d * 86_400 + 45_296).collect();
        instants.extend([0, 951_782_399, 951_782_400, 4_107_542_399, 4_107_542_400]);
        for secs in instants {
            let at = SystemTime::UNIX_EPOCH + Duration::new(secs, 123_456_000);
            let mut ours = Vec::new();
            timestamp(&mut ours, at);
            let theirs = time::OffsetDateTime::from(at).format(&format).unwrap();
            assert_eq!(String::from_utf8(ours).unwrap(), theirs, "{secs}");
        }
    }
}
