//! [notify]: a command run for each of a wave's state changes and alarms, with the event as
//! JSON on its stdin (for a pager, or a chat webhook through curl).

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::parse_duration;
use super::{at, ConfigError, Locate};

#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    /// Run with `sh -c`; None: no notification.
    pub command: Option<String>,
    /// How long one run may take before it is killed (the next event goes on).
    pub timeout: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            command: None,
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    command: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
}

impl RawNotify {
    pub(super) fn validate(self, located: &Locate) -> Result<NotifyConfig, ConfigError> {
        let defaults = NotifyConfig::default();
        let command = match self.command {
            Some(c) if c.get_ref().trim().is_empty() => {
                return Err(located(
                    at(&c),
                    "command must not be empty (leave [notify] out for no notification)".into(),
                ))
            }
            c => c.map(Spanned::into_inner),
        };
        let timeout = match self.timeout {
            None => defaults.timeout,
            Some(t) => parse_duration(&t, "timeout", "\"10s\"", Duration::from_millis(100), "", located)?,
        };
        Ok(NotifyConfig { command, timeout })
    }
}
