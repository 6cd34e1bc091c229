//! Reading a JSON request body field by field, collecting every failure at once.
//!
//! Each field is kept as raw JSON text, so a money value is read from its digits
//! and a `{"$gt": ""}` where a string belongs is a validation error, never a query.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// Why a request body is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// The body is not JSON, or not a JSON object (the reason says which).
    Malformed(&'static str),
    /// One or more fields fail their rules.
    Fields(Vec<FieldError>),
}

/// One failing field, as listed in a problem's `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Accumulates field errors across a whole request.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// `Ok(())` when nothing in the body failed, else every failure.
    pub fn finish(self) -> Result<(), Invalid> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Invalid::Fields(self.0))
        }
    }

    /// Every failure recorded, in the order recorded.
    pub fn into_fields(self) -> Vec<FieldError> {
        self.0
    }
}

/// A JSON object whose fields are read one by one. `path` prefixes field names
/// (`products[2].quantity`) for objects nested in the body.
pub struct Object<'a> {
    path: String,
    fields: BTreeMap<String, &'a RawValue>,
}

impl<'a> Object<'a> {
    /// Parses a whole request body, which must be a JSON object.
    pub fn parse_body(body: &'a str) -> Result<Self, Invalid> {
        let value: &RawValue = serde_json::from_str(body)
            .map_err(|_| Invalid::Malformed("the request body is not valid JSON"))?;
        Self::from_raw(String::new(), value)
            .map_err(|_| Invalid::Malformed("the request body must be a JSON object"))
    }

    /// Reads a nested value as an object, or reports why it is not one.
    pub fn from_raw(path: String, raw: &'a RawValue) -> Result<Self, String> {
        let fields =
            serde_json::from_str(raw.get()).map_err(|_| "must be an object".to_string())?;
        Ok(Self { path, fields })
    }

    /// The field's full name, with this object's path.
    pub fn field_name(&self, field: &str) -> String {
        self.name(field)
    }

    /// The fields not in `allowed`, in name order.
    pub fn unknown_fields<'s>(&'s self, allowed: &[&str]) -> Vec<&'s str> {
        self.fields
            .keys()
            .map(String::as_str)
            .filter(|key| !allowed.contains(key))
            .collect()
    }

    fn name(&self, field: &str) -> String {
        if self.path.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.path)
        }
    }

    /// Reports every field not in `allowed` as unknown.
    pub fn deny_unknown(&self, allowed: &[&str], errors: &mut Errors) {
        for key in self
            .fields
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
        {
            errors.push(self.name(key), "is not a known field");
        }
    }

    /// Reads a required field with `parse`, recording a missing or failing field.
    pub fn required<T>(
        &self,
        field: &str,
        errors: &mut Errors,
        parse: impl FnOnce(&'a RawValue) -> Result<T, String>,
    ) -> Option<T> {
        let Some(raw) = self.fields.get(field) else {
            errors.push(self.name(field), "is required");
            return None;
        };
        parse(raw)
            .map_err(|message| errors.push(self.name(field), message))
            .ok()
    }

    /// Reads a field that may be absent (a patch): `None` when absent or failing.
    pub fn present<T>(
        &self,
        field: &str,
        errors: &mut Errors,
        parse: impl FnOnce(&'a RawValue) -> Result<T, String>,
    ) -> Option<T> {
        if self.fields.contains_key(field) {
            self.required(field, errors, parse)
        } else {
            None
        }
    }

    /// Like [`Object::required`], but an absent field is `Some(default)`.
    pub fn optional<T>(
        &self,
        field: &str,
        errors: &mut Errors,
        default: T,
        parse: impl FnOnce(&'a RawValue) -> Result<T, String>,
    ) -> Option<T> {
        if self.fields.contains_key(field) {
            self.required(field, errors, parse)
        } else {
            Some(default)
        }
    }
}

fn typed<T: DeserializeOwned>(raw: &RawValue, expected: &str) -> Result<T, String> {
    serde_json::from_str(raw.get()).map_err(|_| format!("must be {expected}"))
}

/// A JSON string, then its own rule.
pub fn string<T>(
    rule: impl FnOnce(String) -> Result<T, String>,
) -> impl FnOnce(&RawValue) -> Result<T, String> {
    move |raw| rule(typed::<String>(raw, "a string")?)
}

/// A JSON integer within `min..=max` (`2.0` and `"2"` are refused).
pub fn integer(min: u32, max: u32) -> impl FnOnce(&RawValue) -> Result<u32, String> {
    move |raw| {
        let message = || format!("must be an integer from {min} to {max}");
        let text = raw.get().trim();
        if !text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            return Err(message());
        }
        let value: i64 = text.parse().map_err(|_| message())?;
        u32::try_from(value)
            .ok()
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(message)
    }
}

/// A JSON array, its elements kept raw for the caller to read.
pub fn array(raw: &RawValue) -> Result<Vec<&RawValue>, String> {
    serde_json::from_str(raw.get()).map_err(|_| "must be an array".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Username;

    fn fields(err: Invalid) -> Vec<(String, String)> {
        match err {
            Invalid::Fields(list) => list.into_iter().map(|e| (e.field, e.message)).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn lists_every_failing_field_at_once() {
        let body = r#"{"username": "x", "extra": 1, "role": "admin"}"#;
        let object = Object::parse_body(body).unwrap();
        let mut errors = Errors::default();
        object.deny_unknown(&["username", "email"], &mut errors);
        object.required("username", &mut errors, string(Username::parse));
        object.required("email", &mut errors, string(Ok));
        let listed = fields(errors.finish().unwrap_err());
        let names: Vec<&str> = listed.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names, ["extra", "role", "username", "email"]);
        assert_eq!(listed[3].1, "is required");
    }

    #[test]
    fn an_operator_object_where_a_string_belongs_is_a_field_error() {
        let object = Object::parse_body(r#"{"username": {"$ne": ""}}"#).unwrap();
        let mut errors = Errors::default();
        assert!(
            object
                .required("username", &mut errors, string(Ok))
                .is_none()
        );
        assert_eq!(
            fields(errors.finish().unwrap_err()),
            [("username".to_string(), "must be a string".to_string())]
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_malformed() {
        for body in ["", "{", "[1]", "\"text\"", "null", "{\"a\":1}x"] {
            assert!(
                matches!(Object::parse_body(body), Err(Invalid::Malformed(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn integers_are_whole_json_numbers_in_range() {
        let read = |json: &str| {
            let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
            integer(1, 1000)(&raw)
        };
        assert_eq!(read("1"), Ok(1));
        assert_eq!(read("1000"), Ok(1000));
        for bad in [
            "0",
            "1001",
            "-1",
            "2.0",
            "1e2",
            "\"3\"",
            "null",
            "99999999999999999999",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nested_objects_name_their_fields_with_a_path() {
        let body = r#"{"products": [{"quantity": 0}]}"#;
        let object = Object::parse_body(body).unwrap();
        let mut errors = Errors::default();
        let lines = object.required("products", &mut errors, array).unwrap();
        let line = Object::from_raw("products[0]".into(), lines[0]).unwrap();
        line.required("quantity", &mut errors, integer(1, 1000));
        assert_eq!(
            fields(errors.finish().unwrap_err())[0].0,
            "products[0].quantity"
        );
    }
}
