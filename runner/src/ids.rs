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
    let hex = uuid::Uuid::from_bytes(next_bytes()).simple().to_string();
    (hex[..24].to_owned(), hex[16..].to_owned())
}

/// An X-Ray style trace header, as Lambda passes in `Lambda-Runtime-Trace-Id`.
pub fn trace_id(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (root, parent) = trace_parts();
    format!("Root=1-{secs:08x}-{root};Parent={parent};Sampled=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_version_4_uuids() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        let id = uuid::Uuid::parse_str(ids.iter().next().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 4);
    }
}
