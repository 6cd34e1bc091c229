//! The one log line the gateway writes per invocation. It is the busiest line the
//! runner writes, so it is put together by hand rather than through `tracing`'s
//! formatter, which costs several times as much; it reads the same, and honours
//! the same `RUST_LOG` filter and `--log-format`.

use std::time::SystemTime;

/// The one log line of an invocation.
pub(super) struct InvocationLog {
    pub(super) function: String,
    pub(super) request_id: String,
    pub(super) method: String,
    pub(super) path: String,
    pub(super) status: u16,
    pub(super) duration_ms: f64,
    pub(super) init_ms: Option<f64>,
}

impl InvocationLog {
    pub(super) fn write(&self) {
        if !tracing::enabled!(tracing::Level::INFO) {
            return;
        }
        let now = SystemTime::now();
        let line = if crate::output::json_logs() {
            self.json(now)
        } else {
            self.text(now)
        };
        crate::output::log_line(line);
    }

    fn message(&self) -> &'static str {
        if self.init_ms.is_some() {
            "invocation (cold start)"
        } else {
            "invocation"
        }
    }

    /// `2026-12-05T02:17:36.493240Z  INFO invocation function=… status=200 …`
    fn text(&self, now: SystemTime) -> Vec<u8> {
        let mut line = Vec::with_capacity(200 + self.path.len());
        timestamp(&mut line, now);
        line.extend_from_slice(b"  INFO ");
        line.extend_from_slice(self.message().as_bytes());
        for (name, value) in [
            ("function", &self.function),
            ("request_id", &self.request_id),
            ("method", &self.method),
            ("path", &self.path),
        ] {
            line.push(b' ');
            line.extend_from_slice(name.as_bytes());
            line.push(b'=');
            printable(&mut line, value);
        }
        line.extend_from_slice(b" status=");
        line.extend_from_slice(self.status.to_string().as_bytes());
        line.extend_from_slice(b" duration_ms=");
        millis(&mut line, self.duration_ms);
        if let Some(init_ms) = self.init_ms {
            line.extend_from_slice(b" init_ms=");
            millis(&mut line, init_ms);
        }
        line.push(b'\n');
        line
    }

    fn json(&self, now: SystemTime) -> Vec<u8> {
        let mut stamp = Vec::with_capacity(32);
        timestamp(&mut stamp, now);
        let mut fields = serde_json::json!({
            "message": self.message(),
            "function": self.function,
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": self.duration_ms,
        });
        if let Some(init_ms) = self.init_ms {
            fields["init_ms"] = init_ms.into();
        }
        let line = serde_json::json!({
            "timestamp": String::from_utf8_lossy(&stamp),
            "level": "INFO",
            "fields": fields,
            "target": module_path!(),
        });
        let mut bytes = line.to_string().into_bytes();
        bytes.push(b'\n');
        bytes
    }
}

/// `value` as it is when it is plain printable ASCII; anything else (a control
/// character, a space, non-ASCII) as Rust would escape it, so one line stays one line.
fn printable(line: &mut Vec<u8>, value: &str) {
    if value.bytes().all(|b| b.is_ascii_graphic()) {
        line.extend_from_slice(value.as_bytes());
    } else {
        line.extend_from_slice(format!("{value:?}").as_bytes());
    }
}

/// Milliseconds with microsecond precision: `12.345678` → `12.346`.
fn millis(line: &mut Vec<u8>, ms: f64) {
    let micros = (ms * 1000.0).round().max(0.0) as u64;
    line.extend_from_slice((micros / 1000).to_string().as_bytes());
    line.push(b'.');
    let fraction = micros % 1000;
    line.extend_from_slice(&[
        b'0' + (fraction / 100) as u8,
        b'0' + (fraction / 10 % 10) as u8,
        b'0' + (fraction % 10) as u8,
    ]);
}

/// RFC 3339 in UTC with microseconds, as `tracing` writes it.
fn timestamp(line: &mut Vec<u8>, now: SystemTime) {
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

    #[test]
    fn the_text_line_carries_every_field_on_one_line() {
        let log = InvocationLog {
            function: "Echo".into(),
            request_id: "id-1".into(),
            method: "GET".into(),
            path: "/a b\n".into(),
            status: 200,
            duration_ms: 12.345_678,
            init_ms: Some(9.0),
        };
        let line = String::from_utf8(log.text(SystemTime::UNIX_EPOCH)).unwrap();
        assert_eq!(
            line,
            "1970-01-01T00:00:00.000000Z  INFO invocation (cold start) function=Echo \
             request_id=id-1 method=GET path=\"/a b\\n\" status=200 duration_ms=12.346 init_ms=9.000\n"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&log.json(SystemTime::UNIX_EPOCH)).unwrap();
        assert_eq!(json["fields"]["path"], "/a b\n");
        assert_eq!(json["fields"]["init_ms"], 9.0);
        assert_eq!(json["level"], "INFO");
    }
}
