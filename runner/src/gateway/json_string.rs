//! Reading a JSON string in one pass: finding its end, checking it and decoding
//! its escapes, for the one large string of a response, its body. serde_json
//! scans a string once to find its end and again to decode it; this does both
//! with one look at each byte, eight at a time.

/// The string that starts right after an opening quote in `input`: its decoded
/// bytes (UTF-8, checked), and the length of `input` it took, closing quote
/// included. `None` for anything it does not take (no closing quote, a control
/// character, an unknown escape, a lone surrogate, bytes that are not UTF-8),
/// which is then left to serde_json to judge.
pub(super) fn read(input: &[u8]) -> Option<(Vec<u8>, usize)> {
    // Decoding never lengthens: the output fits in the input's length, plus a
    // word of room so that whole words can always be stored.
    let mut out = vec![0u8; input.len() + 8];
    let (mut i, mut w) = (0, 0);
    // The high bits of every byte copied as it is (and of some bytes next to
    // them): when none is set, the string is ASCII, and so UTF-8 without a check.
    // What escapes decode to is UTF-8 by construction.
    let mut high = 0u64;
    loop {
        // The run up to the next special byte, eight bytes at a time: each word
        // is stored whole, and the write position moves up to its first
        // special byte, if any (what lies past it is overwritten next).
        while let Some(word) = input.get(i..i + 8) {
            out[w..w + 8].copy_from_slice(word);
            high |= u64::from_le_bytes(word.try_into().unwrap_or_default());
            let at = first_special(word);
            i += at;
            w += at;
            if at < 8 {
                break;
            }
        }
        let &byte = input.get(i)?;
        let decoded = match byte {
            b'"' => {
                out.truncate(w);
                if high & 0x8080_8080_8080_8080 != 0 {
                    std::str::from_utf8(&out).ok()?;
                }
                // A string followed by much more JSON does not keep its room.
                if out.capacity() > 2 * out.len() + 4096 {
                    out.shrink_to_fit();
                }
                return Some((out, i + 1));
            }
            ..b' ' => return None,
            b'\\' => match input.get(i + 1)? {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'u' => {
                    let (c, used) = code_point(&input[i + 2..])?;
                    let encoded = c.len_utf8();
                    c.encode_utf8(&mut out[w..w + encoded]);
                    w += encoded;
                    i += 2 + used;
                    continue;
                }
                _ => return None,
            },
            // The last few bytes, under a word.
            _ => {
                high |= u64::from(byte);
                out[w] = byte;
                w += 1;
                i += 1;
                continue;
            }
        };
        out[w] = decoded;
        w += 1;
        i += 2;
    }
}

/// The index in an eight-byte word of its first quote, backslash or control
/// character, or 8. Each test turns the bytes it looks for into set high bits;
/// the lowest set bit of each is exact (a borrow can only mark bytes above a
/// true one), so the lowest of them all is too.
pub(super) fn first_special(word: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut eight = [0u8; 8];
    eight.copy_from_slice(word);
    let v = u64::from_le_bytes(eight);
    let zero_of = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let quote = zero_of(v ^ (ONES * u64::from(b'"')));
    let backslash = zero_of(v ^ (ONES * u64::from(b'\\')));
    let control = v.wrapping_sub(ONES * 0x20) & !v & HIGH;
    ((quote | backslash | control).trailing_zeros() / 8) as usize
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

    /// What this reader makes of it, followed by more JSON it must not read.
    fn unescape(quoted: &str) -> Option<Vec<u8>> {
        let input = format!("{quoted}\",\"next\":1}}");
        let (text, used) = read(input.as_bytes())?;
        assert_eq!(used, quoted.len() + 1, "{quoted}");
        Some(text)
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
    fn long_strings_of_every_kind_decode_whole() {
        for unit in ["plain run of text ", r#"\"q\" "#, r"\ud83d\ude00", "é✓"] {
            let literal = unit.repeat(5000 / unit.len());
            assert!(serde(&literal).is_some());
            assert_eq!(unescape(&literal), serde(&literal), "{unit}");
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
            "a raw\ncontrol character",
            "a raw\u{1f}unit separator",
        ] {
            assert_eq!(unescape(case), None, "{case}");
            assert_eq!(serde(case), None, "{case}");
        }
        // No closing quote, and bytes that are not UTF-8.
        assert_eq!(read(b"no end"), None);
        assert_eq!(read(b"an escape at the end \\"), None);
        assert_eq!(read(b"\xff\xfe bytes\""), None);
        // A byte that is not UTF-8 in the tail under a word, in a later word,
        // after an escape, or starting a character that never ends.
        assert_eq!(read(b"tail \xff\""), None);
        assert_eq!(read(b"12345678\xff2345678\""), None);
        assert_eq!(read(b"\\n1234567\xff234567\""), None);
        assert_eq!(read(b"then a cut character: \xc3\""), None);
    }
}
