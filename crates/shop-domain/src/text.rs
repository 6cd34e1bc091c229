//! The length rule every free-text field shares.

/// Counts characters (Unicode scalar values), the unit every length rule uses.
pub(crate) fn length_between(value: &str, min: usize, max: usize) -> Result<(), String> {
    let len = value.chars().count();
    match (min, max) {
        (0, _) if len > max => Err(format!("must be at most {max} characters")),
        _ if len < min || len > max => Err(format!("must be {min}–{max} characters")),
        _ => Ok(()),
    }
}
