//! The pattern matching of IAM policies' `Action` and `Resource`: `*` for any
//! run of characters, `?` for one.

use serde_json::Value;

/// Whether a policy's `Action` or `Resource` (one pattern or a list) matches
/// `text`; `*` stands for any run of characters and `?` for one. Actions are
/// compared ignoring case (`text` given in lower case), resources exactly.
pub(super) fn any_matches(patterns: &Value, text: &str, ignore_case: bool) -> bool {
    match patterns {
        Value::String(p) if ignore_case => glob(p.to_ascii_lowercase().as_bytes(), text.as_bytes()),
        Value::String(p) => glob(p.as_bytes(), text.as_bytes()),
        Value::Array(items) => items.iter().any(|p| any_matches(p, text, ignore_case)),
        _ => false,
    }
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        // A `*` in the pattern is a wildcard even where the text has a `*`.
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_patterns_match_as_iam_matches_them() {
        let arn = "arn:aws:execute-api:us-east-1:1:local/$default/GET/orders/7";
        assert!(glob(b"*", arn.as_bytes()));
        assert!(glob(
            b"arn:aws:execute-api:*:1:local/*/GET/orders/*",
            arn.as_bytes()
        ));
        assert!(!glob(
            b"arn:aws:execute-api:*:1:local/*/POST/*",
            arn.as_bytes()
        ));
        assert!(glob(b"execute-api:*", b"execute-api:Invoke"));
        assert!(glob(b"a?c", b"abc"));
        assert!(!glob(b"a?c", b"ac"));
        // A `*` in the text does not stop a pattern's `*` from being a wildcard.
        assert!(glob(b"*/GET/admin/*", b"arn/GET/admin/*x"));
        assert!(glob(b"a*b*c", b"a*xb*c"));
    }
}
