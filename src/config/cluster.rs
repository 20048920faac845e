//! [source] and [target]: a cluster's name, bootstrap servers and librdkafka properties,
//! with `${ENV}` expansion for secrets.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use std::fmt;

use super::{at, looks_secret, ConfigError, Locate};

/// librdkafka properties the cockpit sets itself: a user value would change what it does
/// (the cockpit must never join or commit for a group by accident).
const RESERVED_PROPERTIES: [&str; 4] = [
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
];

#[derive(Clone, PartialEq)]
pub struct ClusterConfig {
    /// Shown in the header; also used as a label in logs.
    pub name: String,
    pub bootstrap: String,
    /// librdkafka properties passed through as given (after `${ENV}` expansion).
    pub properties: Vec<(String, String)>,
}

/// A bootstrap address both clusters list (host:port, compared without case): the same
/// cluster twice, as far as the config alone can tell.
pub fn shared_bootstrap(a: &ClusterConfig, b: &ClusterConfig) -> Option<String> {
    let addresses = |c: &ClusterConfig| -> Vec<String> {
        c.bootstrap
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let theirs = addresses(b);
    addresses(a).into_iter().find(|x| theirs.contains(x))
}

/// Never prints property values that may be secrets (logs and panics go through Debug).
impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let props: Vec<(&str, &str)> = self
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), if looks_secret(k) { "<redacted>" } else { v.as_str() }))
            .collect();
        f.debug_struct("ClusterConfig")
            .field("name", &self.name)
            .field("bootstrap", &self.bootstrap)
            .field("properties", &props)
            .finish()
    }
}

impl ClusterConfig {
    /// A cluster on plain TCP with no extra properties: the demo and the tests use it.
    pub fn plaintext(name: &str, bootstrap: &str) -> Self {
        ClusterConfig {
            name: name.to_string(),
            bootstrap: bootstrap.to_string(),
            properties: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    name: Spanned<String>,
    bootstrap: Spanned<String>,
    #[serde(default)]
    properties: BTreeMap<Spanned<String>, Spanned<PropertyValue>>,
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "a string, an integer or a boolean")]
pub(super) enum PropertyValue {
    Text(String),
    Integer(i64),
    Bool(bool),
}

impl RawCluster {
    pub(super) fn validate(
        self,
        section: &str,
        located: &Locate,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClusterConfig, ConfigError> {
        let name = self.name.get_ref().trim().to_string();
        if name.is_empty() {
            return Err(located(at(&self.name), format!("[{section}] name must not be empty")));
        }
        let bootstrap =
            expand_env(self.bootstrap.get_ref(), env).map_err(|m| located(at(&self.bootstrap), m.to_string()))?;
        if bootstrap.trim().is_empty() {
            return Err(located(
                at(&self.bootstrap),
                format!("[{section}] bootstrap must list at least one host:port"),
            ));
        }
        let mut properties = Vec::new();
        let mut native = rdkafka::ClientConfig::new();
        for (key, value) in self.properties {
            let key_span = at(&key);
            let key = key.into_inner();
            if RESERVED_PROPERTIES.contains(&key.as_str()) {
                let hint = if key == "bootstrap.servers" {
                    format!("use `bootstrap` in [{section}]")
                } else {
                    "the cockpit never joins or commits for a group on its own".to_string()
                };
                return Err(located(
                    key_span,
                    format!("[{section}.properties] `{key}` is set by cutover itself ({hint})"),
                ));
            }
            let value_span = at(&value);
            let value = match value.into_inner() {
                PropertyValue::Text(t) => {
                    expand_env(&t, env).map_err(|m| located(value_span.clone(), m.to_string()))?
                }
                PropertyValue::Integer(i) => i.to_string(),
                PropertyValue::Bool(b) => b.to_string(),
            };
            // librdkafka checks names and values without connecting anywhere.
            native.set(&key, &value);
            if let Err(e) = native.create_native_config() {
                let detail = match &e {
                    rdkafka::error::KafkaError::ClientConfig(_, description, _, _) => description.clone(),
                    other => other.to_string(),
                };
                let detail = redact(&detail, &value);
                return Err(located(
                    key_span,
                    format!("[{section}.properties] librdkafka rejects `{key}`: {detail}"),
                ));
            }
            properties.push((key, value));
        }
        Ok(ClusterConfig {
            name,
            bootstrap,
            properties,
        })
    }
}

/// Removes a value from a message so a rejected secret is never printed.
fn redact(message: &str, value: &str) -> String {
    if value.is_empty() {
        message.to_string()
    } else {
        message.replace(value, "<redacted>")
    }
}

/// Expands `${VAR}` references; `$$` is a literal `$`. The error never includes values.
pub fn expand_env(input: &str, env: &dyn Fn(&str) -> Option<String>) -> crate::error::Result<String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| "unterminated `${` (write `${NAME}`, or `$$` for a literal `$`)".to_string())?;
            let name = &body[..end];
            let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("`${{{name}}}` is not a valid environment variable name").into());
            }
            let value = env(name).ok_or_else(|| format!("environment variable `{name}` is not set"))?;
            out.push_str(&value);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod shared_tests {
    use super::*;

    #[test]
    fn the_same_bootstrap_address_is_the_same_cluster() {
        let a = ClusterConfig::plaintext("a", "k1:9092, K2:9092");
        assert_eq!(
            shared_bootstrap(&a, &ClusterConfig::plaintext("b", "k2:9092")),
            Some("k2:9092".into())
        );
        assert_eq!(shared_bootstrap(&a, &ClusterConfig::plaintext("b", "k3:9092")), None);
    }
}
