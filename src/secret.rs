//! Secrets (inbound tokens, application credentials) read from the environment, a file, or inline
//! text, held in a type whose `Debug` never shows the value.

use serde::Deserialize;
use std::fmt;

/// A secret value. `Debug` and `Display` are redacted; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a secret comes from: exactly one of `env`, `file` or `value`.
#[derive(Clone, Deserialize, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// Name of an environment variable holding the secret.
    #[serde(default)]
    pub env: Option<String>,
    /// Path of a file holding the secret (trailing newline trimmed).
    #[serde(default)]
    pub file: Option<String>,
    /// The secret inline (tests and demos; prefer `env` or `file`).
    #[serde(default)]
    pub value: Option<String>,
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSource")
            .field("env", &self.env)
            .field("file", &self.file)
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl SecretSource {
    /// Reads the secret. The error names the source but never the value.
    pub fn resolve(&self) -> Result<Secret, String> {
        match (&self.env, &self.file, &self.value) {
            (Some(name), None, None) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Secret(v)),
                Ok(_) => Err(format!("environment variable {name} is empty")),
                Err(_) => Err(format!("environment variable {name} is not set")),
            },
            (None, Some(path), None) => match std::fs::read_to_string(path) {
                Ok(v) => {
                    let v = v.trim_end_matches(['\r', '\n']).to_string();
                    if v.is_empty() {
                        Err(format!("secret file {path} is empty"))
                    } else {
                        Ok(Secret(v))
                    }
                }
                Err(e) => Err(format!("cannot read secret file {path}: {e}")),
            },
            (None, None, Some(v)) if !v.is_empty() => Ok(Secret(v.clone())),
            (None, None, Some(_)) => Err("inline secret value is empty".into()),
            _ => Err("expected exactly one of `env`, `file` or `value`".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        let src = SecretSource {
            value: Some("hunter2".into()),
            ..Default::default()
        };
        assert!(!format!("{src:?}").contains("hunter2"));
        assert_eq!(src.resolve().unwrap().expose(), "hunter2");
    }

    #[test]
    fn exactly_one_source() {
        let both = SecretSource {
            env: Some("A".into()),
            value: Some("b".into()),
            ..Default::default()
        };
        assert!(both.resolve().is_err());
        assert!(SecretSource::default().resolve().is_err());
        let missing = SecretSource {
            env: Some("SCIM_SIDECAR_TEST_SURELY_UNSET".into()),
            ..Default::default()
        };
        assert!(missing.resolve().unwrap_err().contains("not set"));
    }
}
