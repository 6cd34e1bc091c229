//! `Schedule` (EventBridge rules) and `ScheduleV2` (EventBridge Scheduler)
//! events: their `rate()` and `cron()` expressions, when they fire next, and
//! the event they deliver.
//!
//! Cron expressions are AWS's six fields (minutes, hours, day of month, month,
//! day of week, year) in UTC, with `*`, `?`, lists, ranges, steps and names
//! (`JAN`, `MON`); `L`, `W` and `#` are refused at start, as is a time zone
//! other than UTC.

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use super::cron::Cron;
use super::error::{TemplateError, invalid};
use super::intrinsics::scalar_string;

/// One schedule of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    /// The event's name in the template.
    pub name: String,
    pub expression: Expression,
    /// The expression as written, for logs.
    pub text: String,
    /// `Input`: delivered as is instead of the scheduled event.
    pub input: Option<String>,
    /// `Enabled: false` / `State: DISABLED` schedules never fire.
    pub enabled: bool,
    /// `Schedule` (an EventBridge rule, which delivers a "Scheduled Event")
    /// or `ScheduleV2` (EventBridge Scheduler, which delivers `{}`).
    pub rule: bool,
    /// The rule's ARN, in the scheduled event's `resources`.
    pub arn: String,
}

/// When a schedule fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    Rate(Duration),
    Cron(Box<Cron>),
}

/// Parses a `Schedule` or `ScheduleV2` event's properties.
pub(super) fn schedule_spec(
    kind: &str,
    name: &str,
    props: &serde_json::Map<String, Value>,
    rule_arn: String,
    at: &dyn Fn(&str) -> String,
) -> Result<ScheduleSpec, TemplateError> {
    let rule = kind == "Schedule";
    let key = check_keys(rule, props, at)?;
    let text = props
        .get(key)
        .and_then(scalar_string)
        .ok_or_else(|| invalid(at(&format!(".Properties.{key}")), "is required"))?;
    let expression =
        Expression::parse(&text).map_err(|why| invalid(at(&format!(".Properties.{key}")), why))?;
    let enabled = props
        .get("Enabled")
        .and_then(scalar_string)
        .is_none_or(|e| e != "false")
        && props
            .get("State")
            .and_then(scalar_string)
            .is_none_or(|s| s != "DISABLED");
    let input = match props.get("Input") {
        None => None,
        Some(value) => {
            let text = scalar_string(value)
                .ok_or_else(|| invalid(at(".Properties.Input"), "must be a string of JSON"))?;
            serde_json::from_str::<serde::de::IgnoredAny>(&text)
                .map_err(|e| invalid(at(".Properties.Input"), format!("is not JSON: {e}")))?;
            Some(text)
        }
    };
    Ok(ScheduleSpec {
        name: name.to_owned(),
        expression,
        text,
        input,
        enabled,
        rule,
        arn: rule_arn,
    })
}

/// Refuses keys the runner cannot honour; answers the expression's key.
fn check_keys(
    rule: bool,
    props: &serde_json::Map<String, Value>,
    at: &dyn Fn(&str) -> String,
) -> Result<&'static str, TemplateError> {
    let (allowed, key): (&[&str], _) = if rule {
        (
            &[
                "Schedule",
                "Input",
                "Enabled",
                "State",
                "Name",
                "Description",
                "DeadLetterConfig",
                "RetryPolicy",
            ],
            "Schedule",
        )
    } else {
        (
            &[
                "ScheduleExpression",
                "Input",
                "State",
                "Name",
                "Description",
                "FlexibleTimeWindow",
                "ScheduleExpressionTimezone",
                "GroupName",
                "DeadLetterConfig",
                "RetryPolicy",
                "RoleArn",
                "KmsKeyArn",
                "PermissionsBoundary",
                "OmitName",
                "StartDate",
                "EndDate",
            ],
            "ScheduleExpression",
        )
    };
    if let Some(other) = props.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid(
            at(&format!(".Properties.{other}")),
            "is not supported by the runner",
        ));
    }
    for unsupported in ["StartDate", "EndDate"] {
        if props.contains_key(unsupported) {
            return Err(invalid(
                at(&format!(".Properties.{unsupported}")),
                "is not supported by the runner (schedules fire from its start)",
            ));
        }
    }
    if let Some(zone) = props
        .get("ScheduleExpressionTimezone")
        .and_then(scalar_string)
        && zone != "UTC"
        && zone != "Etc/UTC"
    {
        return Err(invalid(
            at(".Properties.ScheduleExpressionTimezone"),
            "only UTC schedules run here",
        ));
    }
    Ok(key)
}

impl Expression {
    /// `rate(5 minutes)` or `cron(0 12 * * ? *)`.
    pub fn parse(text: &str) -> Result<Expression, String> {
        let text = text.trim();
        if let Some(rate) = text.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
            return rate_of(rate).map(Expression::Rate);
        }
        if let Some(cron) = text.strip_prefix("cron(").and_then(|c| c.strip_suffix(')')) {
            return Cron::parse(cron).map(|c| Expression::Cron(Box::new(c)));
        }
        Err(format!("{text:?} is neither rate(…) nor cron(…)"))
    }

    /// The first time after `after` that this fires; a rate counts from `after`,
    /// `speed` times faster. `None` when a cron never fires again.
    pub fn next(&self, after: OffsetDateTime, speed: u32) -> Option<OffsetDateTime> {
        match self {
            Expression::Rate(every) => after.checked_add((*every / speed.max(1)).try_into().ok()?),
            Expression::Cron(cron) => cron.next(after),
        }
    }
}

/// The longest rate the runner takes: longer ones could never fire anyway.
const MAX_RATE_SECONDS: u64 = 100 * 366 * 86400;

fn rate_of(text: &str) -> Result<Duration, String> {
    let (value, unit) = text
        .trim()
        .split_once(' ')
        .ok_or_else(|| format!("rate({text}) needs a value and a unit"))?;
    let value: u64 = value
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("rate({text}): the value must be a positive whole number"))?;
    let seconds = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86400,
        other => {
            return Err(format!(
                "rate({text}): unknown unit {other:?} (minutes, hours or days)"
            ));
        }
    };
    let every = value.saturating_mul(seconds);
    if every > MAX_RATE_SECONDS {
        return Err(format!("rate({text}) is longer than 100 years"));
    }
    Ok(Duration::from_secs(every))
}

/// The event an EventBridge rule delivers to its target.
pub fn scheduled_event(spec: &ScheduleSpec, at: OffsetDateTime, id: &str) -> String {
    if let Some(input) = &spec.input {
        return input.clone();
    }
    if !spec.rule {
        return "{}".to_owned();
    }
    // arn:aws:events:<region>:<account>:rule/<name>
    let mut parts = spec.arn.split(':');
    let (region, account) = (
        parts.nth(3).unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let time = at
        .replace_nanosecond(0)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    serde_json::json!({
        "version": "0",
        "id": id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": time,
        "region": region,
        "resources": [spec.arn],
        "detail": {},
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn next(expression: &str, after: OffsetDateTime) -> OffsetDateTime {
        Expression::parse(expression)
            .unwrap()
            .next(after, 1)
            .unwrap()
    }

    #[test]
    fn rates_count_from_the_last_fire_and_can_be_sped_up() {
        let at = datetime!(2026-12-04 10:00:30 UTC);
        assert_eq!(
            next("rate(1 minute)", at),
            datetime!(2026-12-04 10:01:30 UTC)
        );
        assert_eq!(
            next("rate(2 hours)", at),
            datetime!(2026-12-04 12:00:30 UTC)
        );
        assert_eq!(next("rate(1 day)", at), datetime!(2026-12-05 10:00:30 UTC));
        let fast = Expression::parse("rate(1 minute)")
            .unwrap()
            .next(at, 60)
            .unwrap();
        assert_eq!(fast, datetime!(2026-12-04 10:00:31 UTC));
        // Past the calendar's end, a rate never fires again rather than failing.
        let late = Expression::parse("rate(36000 days)").unwrap();
        // (The calendar's end depends on the `time` crate's features, so it is
        // taken from the crate.)
        let near_the_end = time::PrimitiveDateTime::MAX.assume_utc() - time::Duration::days(1);
        assert!(late.next(near_the_end, 1).is_none());
        for bad in [
            "rate(3000000 days)",
            "rate(18446744073709551615 minutes)",
            "rate(0 minutes)",
            "rate(5 seconds)",
            "rate(five minutes)",
            "rate(5)",
            "every 5 minutes",
        ] {
            assert!(Expression::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn crons_fire_on_the_next_matching_minute_in_utc() {
        let friday = datetime!(2026-12-04 10:07:30 UTC);
        let friday_evening = datetime!(2026-12-04 18:30 UTC);
        for (expression, after, expected) in [
            ("cron(* * * * ? *)", friday, datetime!(2026-12-04 10:08 UTC)),
            (
                "cron(0/15 * * * ? *)",
                friday,
                datetime!(2026-12-04 10:15 UTC),
            ),
            (
                "cron(0 12 * * ? *)",
                friday,
                datetime!(2026-12-04 12:00 UTC),
            ),
            ("cron(0 8 * * ? *)", friday, datetime!(2026-12-05 08:00 UTC)),
            // Mondays to Fridays at 18:00: from Friday evening, Monday.
            (
                "cron(0 18 ? * MON-FRI *)",
                friday_evening,
                datetime!(2026-12-07 18:00 UTC),
            ),
            // Day 1 is Sunday.
            ("cron(0 0 ? * 1 *)", friday, datetime!(2026-12-06 00:00 UTC)),
            (
                "cron(30 9 1 JAN,JUL ? *)",
                friday,
                datetime!(2027-01-01 09:30 UTC),
            ),
            (
                "cron(0 0 29 2 ? *)",
                friday,
                datetime!(2028-02-29 00:00 UTC),
            ),
            (
                "cron(0 0 1 1 ? 2030-2031)",
                friday,
                datetime!(2030-01-01 00:00 UTC),
            ),
        ] {
            assert_eq!(next(expression, after), expected, "{expression}");
        }
        let past = Expression::parse("cron(0 0 1 1 ? 2020)").unwrap();
        assert!(past.next(friday, 1).is_none());
    }

    #[test]
    fn cron_expressions_aws_would_refuse_or_the_runner_cannot_run_are_refused() {
        for (bad, why) in [
            ("cron(0 12 * * *)", "six fields"),
            ("cron(0 12 * * * *)", "exactly one"),
            ("cron(0 12 ? * ? *)", "exactly one"),
            ("cron(0 12 L * ? *)", "not supported"),
            ("cron(0 12 ? * 6#3 *)", "not supported"),
            ("cron(0 12 15W * ? *)", "not supported"),
            ("cron(60 12 * * ? *)", "from 0 to 59"),
            ("cron(0 5-2 * * ? *)", "backwards"),
            ("cron(0/0 12 * * ? *)", "bad step"),
        ] {
            let error = Expression::parse(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
        // Names with L and W in them are names.
        assert!(Expression::parse("cron(0 12 ? JUL WED *)").is_ok());
    }

    #[test]
    fn a_rule_delivers_the_scheduled_event_or_its_input() {
        let spec = ScheduleSpec {
            name: "Nightly".into(),
            expression: Expression::parse("rate(1 day)").unwrap(),
            text: "rate(1 day)".into(),
            input: None,
            enabled: true,
            rule: true,
            arn: "arn:aws:events:eu-west-1:111122223333:rule/local-FnNightly".into(),
        };
        let at = datetime!(2026-12-04 10:00:30.250 UTC);
        let event: Value = serde_json::from_str(&scheduled_event(&spec, at, "id-1")).unwrap();
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert_eq!(event["source"], "aws.events");
        assert_eq!(event["time"], "2026-12-04T10:00:30Z");
        assert_eq!(event["region"], "eu-west-1");
        assert_eq!(event["account"], "111122223333");
        assert_eq!(event["resources"][0], spec.arn);
        assert_eq!(event["id"], "id-1");
        let with_input = ScheduleSpec {
            input: Some(r#"{"job":"sweep"}"#.into()),
            ..spec.clone()
        };
        assert_eq!(scheduled_event(&with_input, at, "id"), r#"{"job":"sweep"}"#);
        let scheduler = ScheduleSpec {
            rule: false,
            ..spec
        };
        assert_eq!(scheduled_event(&scheduler, at, "id"), "{}");
    }
}
