//! CloudFormation dynamic references (`{{resolve:secretsmanager:…}}`,
//! `{{resolve:ssm:…}}`) in function environments, resolved from a local secrets
//! file in place of Secrets Manager and Parameter Store.
//!
//! Only the functions whose template names a secret get its value, as on AWS. A
//! reference the runner cannot resolve stops it at start: a function must never
//! start with the reference's text where its secret should be.

use std::collections::BTreeMap;

/// Secret and parameter values by name (a secret's name or ARN, a parameter's name).
#[derive(Debug, Default, Clone)]
pub struct Secrets(BTreeMap<String, String>);

impl Secrets {
    pub fn new(values: impl IntoIterator<Item = (String, String)>) -> Self {
        Secrets(values.into_iter().collect())
    }

    /// `value` with every dynamic reference replaced by what it names.
    pub fn resolve(&self, value: &str) -> Result<String, String> {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(start) = rest.find("{{resolve:") {
            out.push_str(&rest[..start]);
            let reference = &rest[start..];
            let end = reference
                .find("}}")
                .ok_or("a dynamic reference has no closing }}")?;
            out.push_str(&self.lookup(&reference["{{resolve:".len()..end])?);
            rest = &reference[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The value of one reference's body (`service:rest`).
    fn lookup(&self, body: &str) -> Result<String, String> {
        let (service, rest) = body
            .split_once(':')
            .ok_or_else(|| format!("{{{{resolve:{body}}}}} names no service"))?;
        match service {
            "secretsmanager" => self.secret(rest),
            "ssm" => {
                // `name` or `name:version`.
                let name = rest.split(':').next().unwrap_or_default();
                self.named(name, &format!("{{{{resolve:ssm:{rest}}}}}"))
            }
            other => Err(format!(
                "{{{{resolve:{other}:…}}}} is not resolved by the runner (only secretsmanager \
                 and ssm are); set the variable in --env-file instead"
            )),
        }
    }

    /// `secret-id[:SecretString[:json-key[:version-stage[:version-id]]]]`, where the
    /// id may be an ARN (`arn:aws:secretsmanager:region:account:secret:name`).
    fn secret(&self, rest: &str) -> Result<String, String> {
        let parts: Vec<&str> = rest.split(':').collect();
        let id_parts = if rest.starts_with("arn:") { 7 } else { 1 };
        if parts.len() < id_parts {
            return Err(format!("{rest:?} is not a secret name or ARN"));
        }
        let id = parts[..id_parts].join(":");
        let options = &parts[id_parts..];
        if options
            .first()
            .is_some_and(|o| !o.is_empty() && *o != "SecretString")
        {
            return Err(format!(
                "the secret {id}: only SecretString references are supported"
            ));
        }
        let whole = self.named(&id, &format!("{{{{resolve:secretsmanager:{id}}}}}"))?;
        match options.get(1).filter(|key| !key.is_empty()) {
            None => Ok(whole),
            Some(key) => {
                let object: serde_json::Value = serde_json::from_str(&whole)
                    .map_err(|_| format!("the secret {id} is not a JSON object"))?;
                object[key]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("the secret {id} has no string key {key:?}"))
            }
        }
    }

    fn named(&self, name: &str, reference: &str) -> Result<String, String> {
        self.0.get(name).cloned().ok_or_else(|| {
            format!(
                "{reference} is not in the secrets file: add a line `{name}=<value>` to \
                 the file given with --secrets-file"
            )
        })
    }
}

/// Whether a value still holds a dynamic reference.
pub fn is_unresolved(value: &str) -> bool {
    value.contains("{{resolve:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::new([
            ("shop/jwt".to_owned(), "s3cret".to_owned()),
            (
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf".to_owned(),
                r#"{"uri":"mongodb://x","user":"u"}"#.to_owned(),
            ),
            ("/shop/region".to_owned(), "eu".to_owned()),
        ])
    }

    #[test]
    fn references_resolve_by_name_arn_json_key_and_inside_text() {
        let s = secrets();
        assert_eq!(
            s.resolve("{{resolve:secretsmanager:shop/jwt}}").unwrap(),
            "s3cret"
        );
        assert_eq!(
            s.resolve("{{resolve:secretsmanager:shop/jwt:SecretString}}")
                .unwrap(),
            "s3cret"
        );
        assert_eq!(
            s.resolve(
                "{{resolve:secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:SecretString:uri}}"
            )
            .unwrap(),
            "mongodb://x"
        );
        assert_eq!(
            s.resolve("a-{{resolve:ssm:/shop/region}}-{{resolve:ssm:/shop/region:3}}")
                .unwrap(),
            "a-eu-eu"
        );
        assert_eq!(s.resolve("plain").unwrap(), "plain");
    }

    #[test]
    fn what_cannot_be_resolved_is_an_error_that_says_how_to_supply_it() {
        let s = secrets();
        let missing = s.resolve("{{resolve:secretsmanager:other}}").unwrap_err();
        assert!(missing.contains("other=<value>"), "{missing}");
        assert!(s.resolve("{{resolve:ssm-secure:x}}").is_err());
        assert!(
            s.resolve("{{resolve:secretsmanager:shop/jwt:SecretBinary}}")
                .is_err()
        );
        assert!(s.resolve("{{resolve:secretsmanager:shop/jwt").is_err());
        assert!(
            s.resolve("{{resolve:secretsmanager:shop/jwt:SecretString:key}}")
                .is_err()
        );
        assert!(is_unresolved("x{{resolve:y}}"));
        assert!(!is_unresolved("x{{y}}"));
    }
}
