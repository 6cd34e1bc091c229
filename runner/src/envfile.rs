//! Reads a dotenv-style file (`KEY=VALUE` lines) whose variables every function gets.

use std::path::Path;

/// A line that is not `KEY=VALUE`.
#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} line {line}: expected KEY=VALUE")]
    Syntax { path: String, line: usize },
}

/// Parses `KEY=VALUE` lines; `#` starts a comment line, `export ` is allowed, and a
/// value may be wrapped in single or double quotes. Keys are variable names.
pub fn read(path: &Path) -> Result<Vec<(String, String)>, EnvFileError> {
    read_with(path, is_variable_name)
}

/// Like [`read`], for a file of secrets: a key is a secret's name or ARN, anything
/// without blanks or `=`.
pub fn read_secrets(path: &Path) -> Result<Vec<(String, String)>, EnvFileError> {
    read_with(path, |key| !key.contains(char::is_whitespace))
}

fn read_with(path: &Path, key_ok: fn(&str) -> bool) -> Result<Vec<(String, String)>, EnvFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| EnvFileError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_with(&text, key_ok).map_err(|line| EnvFileError::Syntax {
        path: path.display().to_string(),
        line,
    })
}

fn is_variable_name(key: &str) -> bool {
    key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variables of `text`, or the number of the first bad line.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, usize> {
    parse_with(text, is_variable_name)
}

fn parse_with(text: &str, key_ok: fn(&str) -> bool) -> Result<Vec<(String, String)>, usize> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = line.split_once('=').ok_or(i + 1)?;
        let key = key.trim();
        if key.is_empty() || !key_ok(key) {
            return Err(i + 1);
        }
        let value = value.trim();
        let unquoted = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(value);
        out.push((key.to_owned(), unquoted.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_exports_and_quotes_are_understood() {
        let vars = parse("# c\nexport A=1\nB = \"two words\"\nC='x=y'\n\n").unwrap();
        assert_eq!(
            vars,
            [
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x=y".into())
            ]
        );
    }

    #[test]
    fn a_line_without_equals_is_reported_by_number() {
        assert_eq!(parse("A=1\noops\n"), Err(2));
    }
}
