//! [log]: where the log file is and how much goes into it.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::{at, ConfigError, Locate};

#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub file: PathBuf,
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            file: default_log_file(),
            level: "info".into(),
        }
    }
}

fn default_log_file() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    state.join("cutover").join("cutover.log")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    file: Option<Spanned<String>>,
    level: Option<Spanned<String>>,
}

impl RawLog {
    pub(super) fn validate(self, located: &Locate) -> Result<LogConfig, ConfigError> {
        let defaults = LogConfig::default();
        let level = match self.level {
            None => defaults.level,
            Some(l) => {
                let v = l.get_ref().to_ascii_lowercase();
                if !["error", "warn", "info", "debug", "trace"].contains(&v.as_str()) {
                    return Err(located(
                        at(&l),
                        format!(
                            "unknown log level `{}`, expected error, warn, info, debug or trace",
                            l.get_ref()
                        ),
                    ));
                }
                v
            }
        };
        Ok(LogConfig {
            file: self.file.map_or(defaults.file, |f| PathBuf::from(f.into_inner())),
            level,
        })
    }
}
