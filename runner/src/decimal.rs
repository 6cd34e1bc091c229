//! Whole numbers in decimal without `core::fmt`, for what is written with
//! every request (the Runtime API's answers, Lambda's `REPORT` lines), where
//! `format!` costs several times as much.

/// The decimal digits of a number, held on the stack.
pub(crate) struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    pub(crate) fn of(mut n: u64) -> Decimal {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Decimal { digits, start }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(&self.digits[self.start..]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 202, 1_234_567, u64::MAX] {
            assert_eq!(Decimal::of(n).as_str(), n.to_string());
        }
    }
}
