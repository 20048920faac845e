//! [monitor]: how often the clusters are polled, and the lag thresholds.

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::parse_duration;
use super::{at, ConfigError, Locate};

#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    pub refresh_interval: Duration,
    pub request_timeout: Duration,
    pub lag_warn: i64,
    pub lag_crit: i64,
    /// Waiting records whose timestamps are read per poll and cluster (lag in seconds, exact);
    /// the rest are estimated from the end offsets the polls saw. 0: estimate them all.
    pub timestamp_reads: usize,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            refresh_interval: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            lag_warn: 1_000,
            lag_crit: 100_000,
            timestamp_reads: 200,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMonitor {
    refresh_interval: Option<Spanned<String>>,
    request_timeout: Option<Spanned<String>>,
    lag_warn: Option<Spanned<i64>>,
    lag_crit: Option<Spanned<i64>>,
    timestamp_reads: Option<Spanned<i64>>,
}

impl RawMonitor {
    pub(super) fn validate(self, located: &Locate) -> Result<MonitorConfig, ConfigError> {
        let defaults = MonitorConfig::default();
        let duration = |v: Option<Spanned<String>>, default: Duration, key: &str| match v {
            None => Ok(default),
            Some(v) => parse_duration(&v, key, "\"2s\" or \"500ms\"", Duration::from_millis(100), "", located),
        };
        let refresh_interval = duration(self.refresh_interval, defaults.refresh_interval, "refresh_interval")?;
        let request_timeout = duration(self.request_timeout, defaults.request_timeout, "request_timeout")?;
        let count =
            |v: Option<Spanned<i64>>, default: i64, what: &str| -> Result<(i64, Option<Range<usize>>), ConfigError> {
                match v {
                    None => Ok((default, None)),
                    Some(n) if *n.get_ref() < 0 => Err(located(at(&n), format!("{what} must be zero or more records"))),
                    Some(n) => Ok((*n.get_ref(), at(&n))),
                }
            };
        let (lag_warn, _) = count(self.lag_warn, defaults.lag_warn, "lag_warn")?;
        let (lag_crit, crit_span) = count(self.lag_crit, defaults.lag_crit, "lag_crit")?;
        if lag_crit < lag_warn {
            return Err(located(
                crit_span,
                format!("lag_crit ({lag_crit}) must be at least lag_warn ({lag_warn})"),
            ));
        }
        let timestamp_reads = match self.timestamp_reads {
            None => defaults.timestamp_reads,
            Some(n) if *n.get_ref() < 0 => return Err(located(at(&n), "timestamp_reads must be zero or more".into())),
            Some(n) => *n.get_ref() as usize,
        };
        Ok(MonitorConfig {
            refresh_interval,
            request_timeout,
            lag_warn,
            lag_crit,
            timestamp_reads,
        })
    }
}
