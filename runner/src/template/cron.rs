//! AWS's cron expressions: six fields (minutes, hours, day of month, month,
//! day of week, year) in UTC, with `*`, `?`, lists, ranges, steps and names
//! (`JAN`, `MON`); `L`, `W` and `#` are refused.

use time::OffsetDateTime;

/// A parsed cron expression: the allowed values of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<u8>,
    hours: Vec<u8>,
    /// Empty when the field is `?`.
    days: Vec<u8>,
    months: Vec<u8>,
    /// Day of week, 1 (Sunday) to 7; empty when the field is `?`.
    weekdays: Vec<u8>,
    /// `None` for any year.
    years: Option<Vec<u16>>,
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Cron {
    pub(super) fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minutes, hours, days, months, weekdays, years] = fields.as_slice() else {
            return Err(format!(
                "cron({text}) needs six fields: minutes hours day-of-month month day-of-week year"
            ));
        };
        if (*days == "?") == (*weekdays == "?") {
            return Err(format!(
                "cron({text}): exactly one of day-of-month and day-of-week must be ?"
            ));
        }
        let field = |value: &str, low: u16, high: u16, names: &[&str]| {
            values(value, low, high, names).map_err(|why| format!("cron({text}): {why}"))
        };
        let small = |v: Vec<u16>| v.into_iter().map(|n| n as u8).collect::<Vec<u8>>();
        Ok(Cron {
            minutes: small(field(minutes, 0, 59, &[])?),
            hours: small(field(hours, 0, 23, &[])?),
            days: if *days == "?" {
                Vec::new()
            } else {
                small(field(days, 1, 31, &[])?)
            },
            months: small(field(months, 1, 12, MONTHS)?),
            weekdays: if *weekdays == "?" {
                Vec::new()
            } else {
                small(field(weekdays, 1, 7, WEEKDAYS)?)
            },
            years: if *years == "*" {
                None
            } else {
                Some(field(years, 1970, 2199, &[])?)
            },
        })
    }

    /// The first whole minute after `after` that matches; none within 200 years.
    pub(super) fn next(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let mut t =
            after.replace_second(0).ok()?.replace_nanosecond(0).ok()? + time::Duration::minutes(1);
        let limit = after + time::Duration::days(366 * 200);
        while t < limit {
            let date = t.date();
            if self
                .years
                .as_ref()
                .is_some_and(|y| !y.contains(&(date.year() as u16)))
            {
                t = OffsetDateTime::new_utc(
                    time::Date::from_calendar_date(date.year() + 1, time::Month::January, 1)
                        .ok()?,
                    time::Time::MIDNIGHT,
                );
                continue;
            }
            if !self.months.contains(&(date.month() as u8)) || !self.day_matches(date) {
                t = OffsetDateTime::new_utc(date.next_day()?, time::Time::MIDNIGHT);
                continue;
            }
            if !self.hours.contains(&t.hour()) {
                t = t.replace_minute(0).ok()? + time::Duration::hours(1);
                continue;
            }
            if !self.minutes.contains(&t.minute()) {
                t += time::Duration::minutes(1);
                continue;
            }
            return Some(t);
        }
        None
    }

    fn day_matches(&self, date: time::Date) -> bool {
        if self.days.is_empty() {
            // 1 is Sunday.
            let weekday = date.weekday().number_from_sunday();
            self.weekdays.contains(&weekday)
        } else {
            self.days.contains(&date.day())
        }
    }
}

/// The values a cron field allows: `*`, `n`, `a-b`, `*/s`, `a/s`, `a-b/s`,
/// names, and lists of those.
fn values(field: &str, low: u16, high: u16, names: &[&str]) -> Result<Vec<u16>, String> {
    let number = |text: &str| -> Result<u16, String> {
        if let Some(at) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
            return Ok(low + at as u16);
        }
        if text.contains(['L', 'W', '#']) {
            return Err(format!(
                "{text:?}: L, W and # are not supported by the runner"
            ));
        }
        text.parse::<u16>()
            .ok()
            .filter(|n| (low..=high).contains(n))
            .ok_or_else(|| format!("{text:?} is not a value from {low} to {high}"))
    };
    let mut out = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u16>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("bad step in {part:?}"))?,
            ),
            None => (part, 1),
        };
        let (first, last) = match range {
            "*" => (low, high),
            _ => match range.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if part.contains('/') => (number(range)?, high),
                None => {
                    let n = number(range)?;
                    (n, n)
                }
            },
        };
        if first > last {
            return Err(format!("{part:?} runs backwards"));
        }
        out.extend((first..=last).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}
