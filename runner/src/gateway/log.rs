//! The one log line the gateway writes per invocation. It is the busiest line the
//! runner writes, so it is put together by hand rather than through `tracing`'s
//! formatter, which costs several times as much; it reads the same, and honours
//! the same `RUST_LOG` filter and `--log-format`.

use std::time::SystemTime;

use crate::clock::timestamp;

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

#[cfg(test)]
mod tests {
    use super::*;

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
