//! Request and trace ids: UUIDv4-shaped, unique per process, without a system call
//! for randomness on every request.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static SEED: OnceLock<u64> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// SplitMix64: a bijection on u64, so distinct counters give distinct ids.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn next_bytes() -> [u8; 16] {
    let seed = *SEED.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let high = mix(seed ^ n);
    let low = mix(high ^ seed.rotate_left(17));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    bytes
}

/// A new request id, formatted as a UUID (version 4).
pub fn request_id() -> String {
    uuid::Builder::from_random_bytes(next_bytes())
        .into_uuid()
        .to_string()
}

/// 24 hex digits for an X-Ray trace root and 16 for its parent.
pub fn trace_parts() -> (String, String) {
    let mut hex = [0u8; 32];
    hex_into(&next_bytes(), &mut hex);
    (ascii(&hex[..24]).to_owned(), ascii(&hex[16..]).to_owned())
}

fn hex_into(bytes: &[u8; 16], out: &mut [u8; 32]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
}

/// An X-Ray style trace header, as Lambda passes in `Lambda-Runtime-Trace-Id`:
/// `Root=1-<8 hex: seconds>-<24 hex>;Parent=<16 hex>;Sampled=0`.
pub fn trace_id(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut hex = [0u8; 32];
    hex_into(&next_bytes(), &mut hex);
    let mut id = String::with_capacity(64);
    id.push_str("Root=1-");
    let mut seconds = [0u8; 32];
    let mut wide = [0u8; 16];
    wide[12..].copy_from_slice(&(secs as u32).to_be_bytes());
    hex_into(&wide, &mut seconds);
    id.push_str(ascii(&seconds[24..]));
    id.push('-');
    id.push_str(ascii(&hex[..24]));
    id.push_str(";Parent=");
    id.push_str(ascii(&hex[16..]));
    id.push_str(";Sampled=0");
    id
}

/// Hex digits as text: pushed whole, where pushing them one `char` at a time
/// costs ten times as much.
fn ascii(digits: &[u8]) -> &str {
    std::str::from_utf8(digits).unwrap_or_default()
}

/// The trace id for a request whose `X-Amzn-Trace-Id` is `header`: a caller's
/// valid root (and sampling decision) is kept, under a new parent segment, so the
/// function's trace joins the caller's; anything else starts a new trace, as
/// [`trace_id`] does.
pub fn continued_trace_id(header: Option<&[u8]>, at: std::time::SystemTime) -> String {
    let Some((root, sampled)) = header.and_then(caller_trace) else {
        return trace_id(at);
    };
    let (_, parent) = trace_parts();
    format!("Root={root};Parent={parent};Sampled={sampled}")
}

/// The root and sampling decision of a caller's trace header
/// (`Root=1-<8 hex>-<24 hex>`, optionally `;Sampled=0|1`, in any order, among
/// other fields), or `None` when it has no valid root.
fn caller_trace(header: &[u8]) -> Option<(&str, &str)> {
    let header = std::str::from_utf8(header).ok()?;
    let mut root = None;
    let mut sampled = "0";
    for field in header.split(';').map(str::trim) {
        if let Some(value) = field.strip_prefix("Root=") {
            let mut parts = value.split('-');
            let valid = parts.next() == Some("1")
                && parts.next().is_some_and(|t| is_hex(t, 8))
                && parts.next().is_some_and(|id| is_hex(id, 24))
                && parts.next().is_none();
            root = Some(valid.then_some(value)?);
        } else if let Some(decision @ ("0" | "1")) = field.strip_prefix("Sampled=") {
            sampled = decision;
        }
    }
    Some((root?, sampled))
}

fn is_hex(text: &str, digits: usize) -> bool {
    text.len() == digits && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_valid_root_is_kept_under_a_new_parent() {
        let now = std::time::SystemTime::now();
        let root = "1-5759e988-bd862e3fe1be46a994272793";
        let kept = continued_trace_id(
            Some(format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1").as_bytes()),
            now,
        );
        assert!(kept.starts_with(&format!("Root={root};Parent=")), "{kept}");
        assert!(kept.ends_with(";Sampled=1"), "{kept}");
        assert!(!kept.contains("53995c3f42cd8ad8"), "a new parent: {kept}");
        let unsampled = continued_trace_id(Some(format!("Self=x; Root={root}").as_bytes()), now);
        assert!(
            unsampled.starts_with(&format!("Root={root};")) && unsampled.ends_with("Sampled=0")
        );
        for bad in [
            "Root=1-5759e988-bd862e3fe1be46a99427279",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98g-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd862e3fe1be46a994272793-extra",
            "Root=1-5759e988-bd862e3fe1be46a994272793\r\nX: y",
            "Parent=53995c3f42cd8ad8",
            "",
        ] {
            let fresh = continued_trace_id(Some(bad.as_bytes()), now);
            assert!(
                !fresh.contains("5759e988-bd862e3fe1be46a994272793"),
                "{bad:?}: {fresh}"
            );
            assert!(
                fresh.starts_with("Root=1-") && fresh.ends_with(";Sampled=0"),
                "{fresh}"
            );
        }
    }

    #[test]
    fn trace_ids_have_x_rays_shape_and_the_time_in_seconds() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(0x6b13_5050);
        let id = trace_id(at);
        let shape =
            regex::Regex::new("^Root=1-6b135050-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$")
                .unwrap();
        assert!(shape.is_match(&id), "{id}");
        assert_ne!(trace_id(at), id);
        let (root, parent) = trace_parts();
        assert_eq!((root.len(), parent.len()), (24, 16));
        assert!(
            root.bytes()
                .chain(parent.bytes())
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn request_ids_are_distinct_version_4_uuids() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        let id = uuid::Uuid::parse_str(ids.iter().next().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 4);
    }
}
