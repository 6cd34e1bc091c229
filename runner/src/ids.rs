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
    let text = |digits: &[u8]| digits.iter().map(|d| char::from(*d)).collect::<String>();
    (text(&hex[..24]), text(&hex[16..]))
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
    id.extend(seconds[24..].iter().map(|d| char::from(*d)));
    id.push('-');
    id.extend(hex[..24].iter().map(|d| char::from(*d)));
    id.push_str(";Parent=");
    id.extend(hex[16..].iter().map(|d| char::from(*d)));
    id.push_str(";Sampled=0");
    id
}

#[cfg(test)]
mod tests {
    use super::*;

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
