//! The JSON an event is written as, by hand: keys and punctuation go in as
//! they stand, strings are escaped as serde_json escapes them with one look at
//! each byte, eight at a time, and nothing grows past the event's limit.

use std::io::Write;

use crate::decimal::Decimal;
use crate::gateway::json_string::first_special;

/// The event would be larger than the limit it was built under.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

/// A buffer that refuses to grow past its limit.
pub(super) struct Json {
    pub(super) bytes: Vec<u8>,
    limit: usize,
}

impl Json {
    pub(super) fn new(capacity: usize, limit: usize) -> Json {
        Json {
            bytes: Vec::with_capacity(capacity.min(limit)),
            limit,
        }
    }

    /// Bytes that are JSON already: keys, punctuation, literals.
    #[inline]
    pub(super) fn raw(&mut self, data: &[u8]) -> Result<(), TooLarge> {
        let needed = self.bytes.len() + data.len();
        if needed > self.limit {
            return Err(TooLarge);
        }
        // Growing by doubling, but never past the limit: memory held stays within
        // what the body budget granted.
        if needed > self.bytes.capacity() {
            let target = (self.bytes.capacity() * 2).clamp(needed, self.limit);
            self.bytes.reserve_exact(target - self.bytes.len());
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    /// `text` as a JSON string: quotes, backslashes and control characters
    /// escaped (the short forms where JSON has them, `\u00XX` otherwise), the
    /// rest as it is.
    pub(super) fn string(&mut self, text: &str) -> Result<(), TooLarge> {
        let bytes = text.as_bytes();
        self.raw(b"\"")?;
        // `from..i` is the run written as it is, up to the next byte to escape.
        let (mut from, mut i) = (0, 0);
        while i < bytes.len() {
            match bytes.get(i..i + 8) {
                Some(word) => {
                    let at = first_special(word);
                    i += at;
                    if at == 8 {
                        continue;
                    }
                }
                None if bytes[i] >= b' ' && bytes[i] != b'"' && bytes[i] != b'\\' => {
                    i += 1;
                    continue;
                }
                None => {}
            }
            self.raw(&bytes[from..i])?;
            self.escape(bytes[i])?;
            i += 1;
            from = i;
        }
        self.raw(&bytes[from..])?;
        self.raw(b"\"")
    }

    /// `key` (a key and its colon, and the comma before it, as JSON already)
    /// and `text` as a string.
    pub(super) fn field(&mut self, key: &[u8], text: &str) -> Result<(), TooLarge> {
        self.raw(key)?;
        self.string(text)
    }

    fn escape(&mut self, byte: u8) -> Result<(), TooLarge> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        match byte {
            b'"' => self.raw(b"\\\""),
            b'\\' => self.raw(b"\\\\"),
            b'\n' => self.raw(b"\\n"),
            b'\r' => self.raw(b"\\r"),
            b'\t' => self.raw(b"\\t"),
            0x08 => self.raw(b"\\b"),
            0x0c => self.raw(b"\\f"),
            _ => self.raw(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]),
        }
    }

    pub(super) fn number(&mut self, n: u64) -> Result<(), TooLarge> {
        self.raw(Decimal::of(n).as_str().as_bytes())
    }

    pub(super) fn boolean(&mut self, b: bool) -> Result<(), TooLarge> {
        self.raw(if b { b"true" } else { b"false" })
    }

    /// A JSON object of string pairs, in the order given.
    pub(super) fn object<'p, K, V>(
        &mut self,
        pairs: impl IntoIterator<Item = (&'p K, &'p V)>,
    ) -> Result<(), TooLarge>
    where
        K: AsRef<str> + ?Sized + 'p,
        V: AsRef<str> + ?Sized + 'p,
    {
        self.raw(b"{")?;
        for (n, (k, v)) in pairs.into_iter().enumerate() {
            if n > 0 {
                self.raw(b",")?;
            }
            self.string(k.as_ref())?;
            self.raw(b":")?;
            self.string(v.as_ref())?;
        }
        self.raw(b"}")
    }

    /// A JSON array of strings.
    pub(super) fn strings<S: AsRef<str>>(&mut self, items: &[S]) -> Result<(), TooLarge> {
        self.raw(b"[")?;
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                self.raw(b",")?;
            }
            self.string(item.as_ref())?;
        }
        self.raw(b"]")
    }

    /// Any value, through serde_json (the authorizer's context, which the
    /// authorizer chose).
    pub(super) fn value(&mut self, value: &impl serde::Serialize) -> Result<(), TooLarge> {
        serde_json::to_writer(&mut *self, value).map_err(|_| TooLarge)
    }
}

impl Write for Json {
    #[inline]
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.raw(data)
            .map(|()| data.len())
            .map_err(|TooLarge| std::io::ErrorKind::FileTooLarge.into())
    }

    /// One step, not std's loop: `write` takes all of `data` or fails. The
    /// serializer writes every key, quote and comma through here.
    #[inline]
    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.write(data).map(|_| ())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(text: &str) -> String {
        let mut json = Json::new(0, usize::MAX);
        json.string(text).unwrap();
        String::from_utf8(json.bytes).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut every_byte: String = (0u8..0x80).map(char::from).collect();
        every_byte.push_str("é✓😀 \u{7f}");
        let cases = [
            "",
            "plain",
            "exactly8",
            "\"quoted\" and \\ back",
            "seven b\"eight by\\ nine\n",
            "\u{1}\u{1f}\u{8}\u{c}\t\r\n",
            &every_byte,
        ];
        for case in cases {
            assert_eq!(
                written(case),
                serde_json::to_string(case).unwrap(),
                "{case:?}"
            );
            let long = case.repeat(37);
            assert_eq!(written(&long), serde_json::to_string(&long).unwrap());
        }
    }

    #[test]
    fn nothing_is_written_past_the_limit() {
        let mut json = Json::new(0, 10);
        assert_eq!(json.string("12345678"), Ok(()));
        assert_eq!(json.raw(b"x"), Err(TooLarge));
        assert_eq!(json.bytes.len(), 10);
        let mut json = Json::new(0, 10);
        assert_eq!(json.string("\u{1}\u{1}"), Err(TooLarge));
        assert!(json.bytes.len() <= 10 && json.bytes.capacity() <= 10);
    }
}
