//! Decoding a JSON string's escapes, for the one large string of a response: its
//! body. serde_json decodes a string through a scratch buffer that is then copied
//! again; this writes each byte once.

/// The text of `quoted`, the inside of a JSON string literal that a JSON parser has
/// already accepted, with its escapes decoded; `None` for what it does not take (a
/// lone surrogate, an unknown escape), which is then left to serde_json to judge.
pub(super) fn unescape(quoted: &str) -> Option<Vec<u8>> {
    let bytes = quoted.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    loop {
        // The runs between escapes, eight bytes at a time: each word is copied
        // whole, then cut back to the first backslash in it, if any.
        while let Some(word) = bytes.get(i..i + 8) {
            let at = first_backslash(word);
            let kept = out.len() + at;
            out.extend_from_slice(word);
            out.truncate(kept);
            i += at;
            if at < 8 {
                break;
            }
        }
        let Some(&byte) = bytes.get(i) else {
            return Some(out);
        };
        if byte != b'\\' {
            // The last few bytes, under a word.
            out.push(byte);
            i += 1;
            continue;
        }
        let decoded = match bytes.get(i + 1)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let (c, used) = code_point(&bytes[i + 2..])?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                i += 2 + used;
                continue;
            }
            _ => return None,
        };
        out.push(decoded);
        i += 2;
    }
}

/// The index of the first backslash in an eight-byte word, or 8: the bytes equal to it
/// become zero, and the lowest zero byte is found by the borrow of a subtraction.
fn first_backslash(word: &[u8]) -> usize {
    let mut eight = [0u8; 8];
    eight.copy_from_slice(word);
    let x = u64::from_le_bytes(eight) ^ 0x5c5c_5c5c_5c5c_5c5c;
    let zeros = x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080;
    (zeros.trailing_zeros() / 8) as usize
}

/// The character a `\u` escape names, from the four hex digits after it (and a
/// second `\uXXXX` for a surrogate pair), with the bytes it took.
fn code_point(digits: &[u8]) -> Option<(char, usize)> {
    let high = hex4(digits)?;
    if !(0xD800..0xE000).contains(&high) {
        return Some((char::from_u32(high)?, 4));
    }
    if high >= 0xDC00 {
        return None;
    }
    let low = digits
        .get(4..6)
        .filter(|s| *s == b"\\u")
        .and(hex4(digits.get(6..)?))?;
    if !(0xDC00..0xE000).contains(&low) {
        return None;
    }
    let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
    Some((char::from_u32(c)?, 10))
}

fn hex4(digits: &[u8]) -> Option<u32> {
    let digits = digits.get(..4)?;
    digits.iter().try_fold(0u32, |n, &d| {
        let v = char::from(d).to_digit(16)?;
        Some(n * 16 + v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json makes of the same literal.
    fn serde(quoted: &str) -> Option<Vec<u8>> {
        serde_json::from_str::<String>(&format!("\"{quoted}\""))
            .ok()
            .map(String::into_bytes)
    }

    #[test]
    fn it_decodes_as_serde_json_does() {
        let cases = [
            "",
            "plain text",
            r#"{\"a\":[1,2],\"b\":\"c\\\\d\"}"#,
            r"line\nbreak\ttab\rcr\bback\fform\/slash",
            r"\u00e9t\u00E9 \u20ac \u0000",
            r"emoji \ud83d\ude00 end",
            "already ünïcode ✓",
            r"\\u0041 is not an escape",
            r"ends with an escape\n",
            r"\\\\\\\\\\\\\\\\\\",
            r"seven b\\eight by\\ nine byte\\ and more \u00e9\u00e9\u00e9\n",
            "\u{7f}\u{80}\u{ff} bytes near the backslash: ]\\\\[ \\u005c",
        ];
        for case in cases {
            assert_eq!(unescape(case), serde(case), "{case}");
            assert!(unescape(case).is_some(), "{case}");
        }
    }

    #[test]
    fn random_mixes_of_runs_and_escapes_decode_as_serde_json_does() {
        let tokens = [
            "a",
            "bc",
            "defghij",
            r#"\""#,
            r"\\",
            r"\n",
            r"\/",
            r"\u00e9",
            r"\ud83d\ude00",
            "é",
            "✓",
        ];
        // A fixed linear congruential sequence: the same cases every run.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            let mut literal = String::new();
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            for _ in 0..(state >> 59) {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                literal.push_str(tokens[(state >> 33) as usize % tokens.len()]);
            }
            assert!(serde(&literal).is_some(), "{literal}");
            assert_eq!(unescape(&literal), serde(&literal), "{literal}");
        }
    }

    #[test]
    fn what_it_does_not_take_is_left_to_serde_json() {
        for case in [
            r"lone high \ud83d end",
            r"lone low \ude00 end",
            r"high then not low \ud83d\u0041",
            r"bad \x escape",
            r"short \u12",
            "trailing \\",
        ] {
            assert_eq!(unescape(case), None, "{case}");
        }
    }
}
