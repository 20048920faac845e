//! [validation]: the background validation job's schedule, rate limit and parallelism.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::parse_duration;
use super::{at, ConfigError, Locate};

/// The cockpit's background validation job.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationConfig {
    /// Time between scheduled runs; None: only on demand.
    pub interval: Option<Duration>,
    /// Bytes per second the job may read from both clusters together.
    pub rate_limit_bytes: u64,
    /// Partitions validated at once.
    pub parallelism: usize,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            interval: Some(Duration::from_secs(300)),
            rate_limit_bytes: 10 * 1_000_000,
            parallelism: 4,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawValidation {
    interval: Option<Spanned<String>>,
    rate_limit_mb_per_s: Option<Spanned<f64>>,
    parallelism: Option<Spanned<i64>>,
}

impl RawValidation {
    pub(super) fn validate(self, located: &Locate) -> Result<ValidationConfig, ConfigError> {
        let defaults = ValidationConfig::default();
        let interval = match self.interval {
            None => defaults.interval,
            Some(v) if v.get_ref().trim() == "off" => None,
            Some(v) => Some(parse_duration(
                &v,
                "interval",
                "\"5m\", or \"off\" for on demand only",
                Duration::from_secs(1),
                " (or \"off\")",
                located,
            )?),
        };
        let rate_limit_bytes = match self.rate_limit_mb_per_s {
            None => defaults.rate_limit_bytes,
            Some(r) if !(*r.get_ref() > 0.0 && r.get_ref().is_finite()) => {
                return Err(located(
                    at(&r),
                    "rate_limit_mb_per_s must be more than 0 (megabytes per second read from both clusters)".into(),
                ))
            }
            Some(r) => ((*r.get_ref() * 1_000_000.0) as u64).max(1),
        };
        let parallelism = match self.parallelism {
            None => defaults.parallelism,
            Some(n) if !(1..=64).contains(n.get_ref()) => {
                return Err(located(at(&n), "parallelism must be from 1 to 64 partitions".into()))
            }
            Some(n) => *n.get_ref() as usize,
        };
        Ok(ValidationConfig {
            interval,
            rate_limit_bytes,
            parallelism,
        })
    }
}
