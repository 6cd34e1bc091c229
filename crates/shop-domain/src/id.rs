//! Ids: twelve bytes each, laid out as MongoDB's ObjectId is (a four-byte
//! creation time in seconds, five bytes fixed per process, a three-byte counter),
//! so ids sort by creation time and the store keeps them as ObjectIds. The domain
//! knows the layout, not the database: the conversion lives in the store.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Five bytes drawn once per process, and where its counter starts.
static PROCESS: LazyLock<([u8; 5], u32)> = LazyLock::new(|| {
    // std's hasher keys are seeded from the operating system's randomness.
    let random = RandomState::new().hash_one(std::process::id());
    let bytes = random.to_be_bytes();
    let process = [bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]];
    let counter = u32::from_be_bytes([0, bytes[5], bytes[6], bytes[7]]);
    (process, counter)
});

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh id: unique within the process by its counter, across processes by
/// their random bytes.
fn generate() -> [u8; 12] {
    let (process, start) = *PROCESS;
    let count = start.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed)) & 0x00ff_ffff;
    // Seconds since the epoch fit four bytes until 2106, as in MongoDB.
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as u32);
    let mut id = [0; 12];
    id[..4].copy_from_slice(&seconds.to_be_bytes());
    id[4..9].copy_from_slice(&process);
    id[9..].copy_from_slice(&count.to_be_bytes()[1..]);
    id
}

/// The 24 lowercase hexadecimal digits of an id, written in one go: an id is
/// printed for every item of every answer, so it is not formatted byte by byte.
struct Hex([u8; 24]);

impl Hex {
    fn of(id: &[u8; 12]) -> Hex {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0; 24];
        for (pair, byte) in out.chunks_exact_mut(2).zip(id) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0f)];
        }
        Hex(out)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hexadecimal digits are ASCII")
    }
}

/// Reads the canonical text form: 24 lowercase hexadecimal characters.
fn parse_hex(value: &str) -> Option<[u8; 12]> {
    let digits = value.as_bytes();
    if digits.len() != 24 {
        return None;
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let mut id = [0; 12];
    for (byte, pair) in id.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(id)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; 12]);

        impl $name {
            pub fn new() -> Self {
                Self(generate())
            }

            /// Only the canonical form: 24 lowercase hexadecimal characters.
            pub fn parse(value: &str) -> Result<Self, String> {
                parse_hex(value)
                    .map(Self)
                    .ok_or_else(|| "must be 24 lowercase hexadecimal characters".into())
            }

            pub fn from_bytes(bytes: [u8; 12]) -> Self {
                Self(bytes)
            }

            pub fn bytes(self) -> [u8; 12] {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(Hex::of(&self.0).as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(Hex::of(&self.0).as_str())
            }
        }
    };
}

id_type!(
    /// A user's id, also the `sub` of their tokens.
    UserId
);
id_type!(
    /// A product's id.
    ProductId
);
id_type!(
    /// An order's id.
    OrderId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_only_24_lowercase_hex_characters() {
        let id = ProductId::new();
        assert_eq!(ProductId::parse(&id.to_string()).unwrap(), id);
        assert_eq!(
            ProductId::parse("0123456789abcdef01234567")
                .unwrap()
                .bytes(),
            [
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67
            ]
        );
        for bad in [
            "",
            "123",
            "0123456789abcdef0123456",
            "0123456789ABCDEF01234567",
            "0123456789abcdef012345678",
            "zzzzzzzzzzzzzzzzzzzzzzzz",
            "0123456789abcdef0123456+",
            "é123456789abcdef0123456",
        ] {
            assert!(ProductId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_print_and_serialise_as_their_24_digits() {
        let id = OrderId::from_bytes([
            0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x10, 0xf0, 0xff,
        ]);
        assert_eq!(id.to_string(), "000123456789abcdef10f0ff");
        assert_eq!(
            format!("{id:>26}|{id:<25}|"),
            "  000123456789abcdef10f0ff|000123456789abcdef10f0ff |"
        );
        assert_eq!(
            serde_json::to_string(&[id]).unwrap(),
            r#"["000123456789abcdef10f0ff"]"#
        );
        for _ in 0..100 {
            let id = UserId::new();
            assert_eq!(UserId::parse(&id.to_string()), Ok(id));
        }
    }

    #[test]
    fn fresh_ids_are_distinct_and_sort_by_creation_second() {
        let ids: Vec<OrderId> = (0..1000).map(|_| OrderId::new()).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as u32;
        let first = u32::from_be_bytes(ids[0].bytes()[..4].try_into().unwrap());
        assert!(now.abs_diff(first) <= 1, "{first} vs {now}");
        assert_eq!(ids[0].bytes()[4..9], ids[999].bytes()[4..9]);
    }
}
