//! Typed configuration: parsing, `${ENV}` expansion and validation.
//!
//! Every error names the file, line and column, says what was expected, and never echoes a
//! secret: the offending line is shown only when it does not look like it holds one, and
//! values that came from the environment are never printed.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

mod cluster;
pub use cluster::shared_bootstrap;
mod cutover;
mod duration;
mod filter;
mod log;
mod metrics;
mod monitor;
mod notify;
mod replication;
mod ui;
mod validation;

pub use cluster::{expand_env, ClusterConfig};
pub use cutover::{ConfirmMode, Criteria, CutoverConfig, Hooks, Strategy, Wave, WAIT_KEYS};
pub use filter::{NameFilter, MM2_GROUP_EXCLUDES, MM2_TOPIC_EXCLUDES};
pub use log::LogConfig;
pub use metrics::MetricsConfig;
pub use monitor::MonitorConfig;
pub use notify::NotifyConfig;
pub use replication::{OffsetSyncsLocation, PolicyKind, Replication, ReplicationKind};
pub use ui::UiConfig;
pub use validation::ValidationConfig;

use cluster::RawCluster;
use cutover::{validate_waves, RawCutover, RawWave};
use filter::{validate_filter, RawFilter};
use log::RawLog;
use metrics::RawMetrics;
use monitor::RawMonitor;
use notify::RawNotify;
use replication::RawReplication;
use ui::RawUi;
use validation::RawValidation;

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub source: ClusterConfig,
    pub target: ClusterConfig,
    pub replication: Replication,
    pub topics: NameFilter,
    pub groups: NameFilter,
    pub monitor: MonitorConfig,
    pub validation: ValidationConfig,
    pub ui: UiConfig,
    pub log: LogConfig,
    pub notify: NotifyConfig,
    pub metrics: MetricsConfig,
    pub cutover: CutoverConfig,
    /// The staged cutover plan, in order.
    pub waves: Vec<Wave>,
}

/// A configuration error, located in its file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based line and column, when the error has a place in the file.
    pub location: Option<(usize, usize)>,
    pub message: String,
    /// The offending line, unless it may hold a secret.
    pub excerpt: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some((line, col)) => write!(f, "{}:{}:{}: {}", self.path.display(), line, col, self.message)?,
            None => write!(f, "{}: {}", self.path.display(), self.message)?,
        }
        if let (Some(excerpt), Some((line, col))) = (&self.excerpt, self.location) {
            let gutter = line.to_string().len();
            write!(
                f,
                "\n{:gutter$} |\n{line} | {excerpt}\n{:gutter$} | {:>col$}",
                "", "", "^",
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        path: path.to_path_buf(),
        location: None,
        message: format!("cannot read the config file: {e}"),
        excerpt: None,
    })?;
    parse(path, &text, &|name| std::env::var(name).ok())
}

/// Parses config text; `env` looks up `${VAR}` references (injected so tests are pure).
pub fn parse(path: &Path, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let located = |span: Option<Range<usize>>, message: String| locate(path, text, span, message);
    let raw: RawConfig = toml::from_str(text).map_err(|e| located(e.span(), clean_toml_message(e.message())))?;
    raw.validate(&located, env).map(|mut c| {
        c.path = path.to_path_buf();
        c
    })
}

fn locate(path: &Path, text: &str, span: Option<Range<usize>>, message: String) -> ConfigError {
    let location = span.map(|s| line_col(text, s.start));
    let excerpt = location.and_then(|(line, _)| {
        let l = text.lines().nth(line - 1)?.to_string();
        (!looks_secret(&l)).then_some(l)
    });
    ConfigError {
        path: path.to_path_buf(),
        location,
        message,
        excerpt,
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn looks_secret(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    ["password", "secret", "token", "jaas", "credential", ".key", "key.pem"]
        .iter()
        .any(|w| lower.contains(w))
}

/// serde speaks Rust ("expected i64"); the person reading this may not.
fn clean_toml_message(msg: &str) -> String {
    let msg = msg.trim().trim_end_matches('.');
    [
        ("expected i64", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected a boolean", "expected true or false"),
    ]
    .iter()
    .fold(msg.to_string(), |m, (from, to)| m.replace(from, to))
}

// ---------------------------------------------------------------- raw (as written) form

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    source: RawCluster,
    target: RawCluster,
    #[serde(default)]
    replication: Option<Spanned<RawReplication>>,
    #[serde(default)]
    topics: Option<RawFilter>,
    #[serde(default)]
    groups: Option<RawFilter>,
    #[serde(default)]
    monitor: Option<RawMonitor>,
    #[serde(default)]
    validation: Option<RawValidation>,
    #[serde(default)]
    ui: Option<RawUi>,
    #[serde(default)]
    log: Option<RawLog>,
    #[serde(default)]
    notify: Option<RawNotify>,
    #[serde(default)]
    metrics: Option<RawMetrics>,
    #[serde(default)]
    cutover: Option<RawCutover>,
    #[serde(default)]
    wave: Vec<RawWave>,
}

pub(crate) type Locate<'a> = dyn Fn(Option<Range<usize>>, String) -> ConfigError + 'a;

pub(crate) fn at<T>(value: &Spanned<T>) -> Option<Range<usize>> {
    Some(value.span())
}

impl RawConfig {
    fn validate(self, located: &Locate, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let source = self.source.validate("source", located, env)?;
        let target = self.target.validate("target", located, env)?;
        let replication = match self.replication {
            Some(r) => r.into_inner().validate(located)?,
            None => Replication::default(),
        };
        let topics = validate_filter(self.topics, &MM2_TOPIC_EXCLUDES, located)?;
        let groups = validate_filter(self.groups, &MM2_GROUP_EXCLUDES, located)?;
        let monitor = match self.monitor {
            Some(m) => m.validate(located)?,
            None => MonitorConfig::default(),
        };
        let validation = match self.validation {
            Some(v) => v.validate(located)?,
            None => ValidationConfig::default(),
        };
        let ui = match self.ui {
            Some(u) => u.validate(),
            None => UiConfig::default(),
        };
        let log = match self.log {
            Some(l) => l.validate(located)?,
            None => LogConfig::default(),
        };
        let notify = match self.notify {
            Some(n) => n.validate(located)?,
            None => NotifyConfig::default(),
        };
        let metrics = match self.metrics {
            Some(m) => m.validate(located)?,
            None => MetricsConfig::default(),
        };
        let cutover = match self.cutover {
            Some(c) => c.validate(located)?,
            None => CutoverConfig::default(),
        };
        let waves = validate_waves(self.wave, located)?;
        Ok(Config {
            path: PathBuf::new(),
            source,
            target,
            replication,
            topics,
            groups,
            monitor,
            validation,
            ui,
            log,
            notify,
            metrics,
            cutover,
            waves,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PASS" => Some("hunter2".into()),
            "HOST" => Some("kafka:9092".into()),
            _ => None,
        }
    }

    fn parse_str(text: &str) -> Result<Config, ConfigError> {
        parse(Path::new("c.toml"), text, &env)
    }

    const MINIMAL: &str = "[source]\nname = \"a\"\nbootstrap = \"h:1\"\n[target]\nname = \"b\"\nbootstrap = \"h:2\"\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse_str(MINIMAL).unwrap();
        assert_eq!(c.monitor.refresh_interval, Duration::from_secs(2));
        assert_eq!(c.replication.target_topic("orders"), "source.orders");
        assert!(!c.topics.matches("__consumer_offsets"));
        assert!(!c.topics.matches("mm2-offset-syncs.b.internal"));
        assert!(!c.topics.matches("x.replica"));
        assert!(c.topics.matches("orders"));
        assert!(!c.groups.matches("console-consumer-123"));
    }

    #[test]
    fn validation_section() {
        let c = parse_str(MINIMAL).unwrap();
        assert_eq!(c.validation.interval, Some(Duration::from_secs(300)));
        let c = parse_str(&format!(
            "{MINIMAL}[validation]\ninterval = \"off\"\nrate_limit_mb_per_s = 0.5\nparallelism = 2\n"
        ))
        .unwrap();
        assert_eq!(c.validation.interval, None);
        assert_eq!(c.validation.rate_limit_bytes, 500_000);
        assert_eq!(c.validation.parallelism, 2);
        let e = parse_str(&format!("{MINIMAL}[validation]\nparallelism = 0\n")).unwrap_err();
        assert_eq!(e.location, Some((8, 15)));
    }

    #[test]
    fn waves_are_parsed_in_order_with_defaults() {
        let c = parse_str(&format!(
            "{MINIMAL}[cutover]\nsettle = \"3s\"\n\
             [[wave]]\nname = \"analytics\"\ntopics = [\"clickstream\", \"analytics\\\\..*\"]\ngroups = [\"analytics-.*\"]\n\
             [wave.hooks]\nfreeze_producers = \"echo freeze\"\n[wave.criteria]\nmax_lag_to_start = 10\n\
             [[wave]]\nname = \"payments\"\ntopics = [\"payments\"]\nstrategy = \"consumers-first\"\nconfirm = \"wave\"\n"
        ))
        .unwrap();
        assert_eq!(c.cutover.settle, Duration::from_secs(3));
        assert_eq!(c.cutover.hook_timeout, Duration::from_secs(120));
        let names: Vec<&str> = c.waves.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["analytics", "payments"]);
        let a = &c.waves[0];
        assert!(a.has_topic("analytics.views") && a.has_topic("clickstream") && !a.has_topic("clickstreams"));
        assert!(a.has_group("analytics-etl") && !a.has_group("billing"));
        assert_eq!(a.strategy, Strategy::StopTheWorld);
        assert_eq!(a.confirm, ConfirmMode::EachStep);
        assert_eq!(a.hooks.freeze_producers.as_deref(), Some("echo freeze"));
        assert_eq!(a.hooks.flip_producers, None);
        assert_eq!(a.criteria.max_lag_to_start, 10);
        assert_eq!(c.waves[1].strategy, Strategy::ConsumersFirst);
        assert_eq!(c.waves[1].confirm, ConfirmMode::Wave);
    }

    #[test]
    fn wave_errors_are_located() {
        let wave = |body: &str| parse_str(&format!("{MINIMAL}[[wave]]\n{body}")).unwrap_err();
        let e = wave("name = \"a\"\ntopics = [\"x\"]\nstrategy = \"big-bang\"\n");
        assert_eq!(e.location, Some((10, 12)));
        assert!(e.message.contains("stop-the-world"), "{}", e.message);
        let e = wave("name = \"a\"\ntopics = [\"(\"]\n");
        assert_eq!(e.location, Some((9, 11)));
        let e = wave("name = \"a\"\ntopics = []\n");
        assert!(e.message.contains("at least one topic"), "{}", e.message);
        let e = parse_str(&format!(
            "{MINIMAL}[[wave]]\nname = \"a\"\ntopics = [\"x\"]\n[[wave]]\nname = \"a\"\ntopics = [\"y\"]\n"
        ))
        .unwrap_err();
        assert_eq!(e.location, Some((11, 8)));
        let e = wave("name = \"a\"\ntopics = [\"x\"]\n[wave.hooks]\nfreeze = \"x\"\n");
        assert!(e.message.contains("unknown field `freeze`"), "{}", e.message);
    }

    #[test]
    fn env_expansion_and_escape() {
        assert_eq!(expand_env("a${HOST}b$$c", &env).unwrap(), "akafka:9092b$c");
        assert!(expand_env("${NOPE}", &env).unwrap_err().message.contains("NOPE"));
        assert!(expand_env("${HOST", &env).is_err());
    }

    #[test]
    fn unknown_key_is_located() {
        let e = parse_str(&format!("{MINIMAL}[monitor]\nrefresh = \"1s\"\n")).unwrap_err();
        assert_eq!(e.location, Some((8, 1)));
        assert!(e.message.contains("unknown field `refresh`"), "{}", e.message);
    }

    #[test]
    fn secrets_are_never_echoed() {
        let text = format!(
            "{MINIMAL}[target.properties]\n\"sasl.password\" = \"${{PASS}}\"\n\"security.protocol\" = \"${{PASS}}\"\n"
        );
        let e = parse_str(&text).unwrap_err();
        let shown = e.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("security.protocol"), "{shown}");
        let ok = parse_str(&format!(
            "{MINIMAL}[target.properties]\n\"sasl.password\" = \"${{PASS}}\"\n"
        ))
        .unwrap();
        assert!(!format!("{:?}", ok.target).contains("hunter2"));
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncdé f", 8), (2, 5));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
