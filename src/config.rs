//! Typed configuration: parsing, `${ENV}` expansion and validation.
//!
//! Every error names the file, line and column, says what was expected, and never echoes a
//! secret: the offending line is shown only when it does not look like it holds one, and
//! values that came from the environment are never printed.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

/// MirrorMaker 2's default topic exclusions (`topics.exclude`).
pub const MM2_TOPIC_EXCLUDES: [&str; 3] = [r"__.*", r".*[\-\.]internal", r".*\.replica"];
/// MirrorMaker 2's default group exclusions (`groups.exclude`).
pub const MM2_GROUP_EXCLUDES: [&str; 3] = [r"console-consumer-.*", r"connect-.*", r"__.*"];

/// librdkafka properties the cockpit sets itself: a user value would change what it does
/// (the cockpit must never join or commit for a group by accident).
const RESERVED_PROPERTIES: [&str; 4] = [
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
];

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
}

#[derive(Clone, PartialEq)]
pub struct ClusterConfig {
    /// Shown in the header; also used as a label in logs.
    pub name: String,
    pub bootstrap: String,
    /// librdkafka properties passed through as given (after `${ENV}` expansion).
    pub properties: Vec<(String, String)>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicationKind {
    MirrorMaker2,
    OffsetPreserving,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// `<source-alias><separator><topic>`
    Default,
    /// same name on both sides
    Identity,
}

/// MM2's `offset-syncs.topic.location`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSyncsLocation {
    Source,
    Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    pub kind: ReplicationKind,
    pub source_alias: String,
    pub target_alias: String,
    pub policy: PolicyKind,
    pub separator: String,
    pub offset_syncs_location: OffsetSyncsLocation,
}

impl Replication {
    /// The name a source topic has on the target, per the replication policy.
    pub fn target_topic(&self, source_topic: &str) -> String {
        match (self.kind, self.policy) {
            (ReplicationKind::OffsetPreserving, _) | (_, PolicyKind::Identity) => source_topic.to_string(),
            (ReplicationKind::MirrorMaker2, PolicyKind::Default) => {
                format!("{}{}{}", self.source_alias, self.separator, source_topic)
            }
        }
    }
}

impl Replication {
    /// The source topic a target topic replicates, per the policy (None: not a replica).
    pub fn source_topic(&self, target_topic: &str) -> Option<String> {
        match (self.kind, self.policy) {
            (ReplicationKind::OffsetPreserving, _) | (_, PolicyKind::Identity) => Some(target_topic.to_string()),
            (ReplicationKind::MirrorMaker2, PolicyKind::Default) => target_topic
                .strip_prefix(&format!("{}{}", self.source_alias, self.separator))
                .map(str::to_string),
        }
    }
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            kind: ReplicationKind::MirrorMaker2,
            source_alias: "source".into(),
            target_alias: "target".into(),
            policy: PolicyKind::Default,
            separator: ".".into(),
            offset_syncs_location: OffsetSyncsLocation::Source,
        }
    }
}

/// Include/exclude regexes, each matched against the whole name (as MM2 does).
#[derive(Debug, Clone)]
pub struct NameFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl NameFilter {
    pub fn new(include: &[&str], exclude: &[&str]) -> Result<Self, regex::Error> {
        let compile =
            |patterns: &[&str]| -> Result<Vec<Regex>, regex::Error> { patterns.iter().map(|p| anchored(p)).collect() };
        Ok(NameFilter {
            include: compile(include)?,
            exclude: compile(exclude)?,
        })
    }

    pub fn topics_default() -> Self {
        NameFilter::new(&[".*"], &MM2_TOPIC_EXCLUDES).expect("built-in patterns compile")
    }

    pub fn groups_default() -> Self {
        NameFilter::new(&[".*"], &MM2_GROUP_EXCLUDES).expect("built-in patterns compile")
    }

    pub fn matches(&self, name: &str) -> bool {
        self.include.iter().any(|r| r.is_match(name)) && !self.exclude.iter().any(|r| r.is_match(name))
    }
}

fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    pub refresh_interval: Duration,
    pub request_timeout: Duration,
    pub lag_warn: i64,
    pub lag_crit: i64,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            refresh_interval: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            lag_warn: 1_000,
            lag_crit: 100_000,
        }
    }
}

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

#[derive(Debug, Clone, PartialEq)]
pub struct UiConfig {
    /// A built-in theme name or a path to a theme file.
    pub theme: String,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig { theme: "dark".into() }
    }
}

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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    name: Spanned<String>,
    bootstrap: Spanned<String>,
    #[serde(default)]
    properties: BTreeMap<Spanned<String>, Spanned<PropertyValue>>,
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "a string, an integer or a boolean")]
enum PropertyValue {
    Text(String),
    Integer(i64),
    Bool(bool),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplication {
    kind: Option<Spanned<String>>,
    source_alias: Option<Spanned<String>>,
    target_alias: Option<Spanned<String>>,
    policy: Option<Spanned<String>>,
    separator: Option<Spanned<String>>,
    offset_syncs_location: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    include: Option<Vec<Spanned<String>>>,
    exclude: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMonitor {
    refresh_interval: Option<Spanned<String>>,
    request_timeout: Option<Spanned<String>>,
    lag_warn: Option<Spanned<i64>>,
    lag_crit: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidation {
    interval: Option<Spanned<String>>,
    rate_limit_mb_per_s: Option<Spanned<f64>>,
    parallelism: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUi {
    theme: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    file: Option<Spanned<String>>,
    level: Option<Spanned<String>>,
}

type Locate<'a> = dyn Fn(Option<Range<usize>>, String) -> ConfigError + 'a;

fn at<T>(value: &Spanned<T>) -> Option<Range<usize>> {
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
            Some(u) => UiConfig {
                theme: u.theme.map_or_else(|| UiConfig::default().theme, |t| t.into_inner()),
            },
            None => UiConfig::default(),
        };
        let log = match self.log {
            Some(l) => l.validate(located)?,
            None => LogConfig::default(),
        };
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
        })
    }
}

impl RawCluster {
    fn validate(
        self,
        section: &str,
        located: &Locate,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClusterConfig, ConfigError> {
        let name = self.name.get_ref().trim().to_string();
        if name.is_empty() {
            return Err(located(at(&self.name), format!("[{section}] name must not be empty")));
        }
        let bootstrap = expand_env(self.bootstrap.get_ref(), env).map_err(|m| located(at(&self.bootstrap), m))?;
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
                PropertyValue::Text(t) => expand_env(&t, env).map_err(|m| located(value_span.clone(), m))?,
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

impl RawReplication {
    fn validate(self, located: &Locate) -> Result<Replication, ConfigError> {
        let defaults = Replication::default();
        let kind = match &self.kind {
            None => defaults.kind,
            Some(k) => match k.get_ref().as_str() {
                "mirrormaker2" => ReplicationKind::MirrorMaker2,
                "offset-preserving" => ReplicationKind::OffsetPreserving,
                other => {
                    return Err(located(
                        at(k),
                        format!("unknown replication kind `{other}`, expected `mirrormaker2` or `offset-preserving`"),
                    ))
                }
            },
        };
        let policy = match &self.policy {
            None => defaults.policy,
            Some(p) => match p.get_ref().as_str() {
                "default" => PolicyKind::Default,
                "identity" => PolicyKind::Identity,
                other => {
                    return Err(located(
                        at(p),
                        format!("unknown replication policy `{other}`, expected `default` (<alias><separator><topic>) or `identity`"),
                    ))
                }
            },
        };
        let offset_syncs_location = match &self.offset_syncs_location {
            None => defaults.offset_syncs_location,
            Some(l) => match l.get_ref().as_str() {
                "source" => OffsetSyncsLocation::Source,
                "target" => OffsetSyncsLocation::Target,
                other => {
                    return Err(located(
                        at(l),
                        format!(
                            "unknown offset_syncs_location `{other}`, expected `source` (MM2's default) or `target`"
                        ),
                    ))
                }
            },
        };
        let non_empty = |v: Option<Spanned<String>>, what: &str, default: String| -> Result<String, ConfigError> {
            match v {
                None => Ok(default),
                Some(s) if s.get_ref().is_empty() => Err(located(at(&s), format!("{what} must not be empty"))),
                Some(s) => Ok(s.into_inner()),
            }
        };
        Ok(Replication {
            kind,
            policy,
            source_alias: non_empty(self.source_alias, "source_alias", defaults.source_alias)?,
            target_alias: non_empty(self.target_alias, "target_alias", defaults.target_alias)?,
            separator: non_empty(self.separator, "separator", defaults.separator)?,
            offset_syncs_location,
        })
    }
}

fn validate_filter(
    raw: Option<RawFilter>,
    default_excludes: &[&str],
    located: &Locate,
) -> Result<NameFilter, ConfigError> {
    let compile = |patterns: Vec<Spanned<String>>| -> Result<Vec<Regex>, ConfigError> {
        patterns
            .iter()
            .map(|p| {
                anchored(p.get_ref()).map_err(|e| {
                    let first = e.to_string().lines().last().unwrap_or("").trim().to_string();
                    located(at(p), format!("invalid regular expression `{}`: {first}", p.get_ref()))
                })
            })
            .collect()
    };
    let defaults = NameFilter::new(&[".*"], default_excludes).expect("built-in patterns compile");
    let Some(raw) = raw else { return Ok(defaults) };
    Ok(NameFilter {
        include: match raw.include {
            Some(p) => compile(p)?,
            None => defaults.include,
        },
        // As in MM2: setting `exclude` replaces the default exclusions.
        exclude: match raw.exclude {
            Some(p) => compile(p)?,
            None => defaults.exclude,
        },
    })
}

impl RawMonitor {
    fn validate(self, located: &Locate) -> Result<MonitorConfig, ConfigError> {
        let defaults = MonitorConfig::default();
        let duration = |v: Option<Spanned<String>>, default: Duration, what: &str| -> Result<Duration, ConfigError> {
            let Some(v) = v else { return Ok(default) };
            let d = humantime::parse_duration(v.get_ref()).map_err(|e| {
                located(
                    at(&v),
                    format!(
                        "{what}: `{}` is not a duration ({e}); write e.g. \"2s\" or \"500ms\"",
                        v.get_ref()
                    ),
                )
            })?;
            if d < Duration::from_millis(100) {
                return Err(located(at(&v), format!("{what} must be at least 100ms")));
            }
            Ok(d)
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
        Ok(MonitorConfig {
            refresh_interval,
            request_timeout,
            lag_warn,
            lag_crit,
        })
    }
}

impl RawValidation {
    fn validate(self, located: &Locate) -> Result<ValidationConfig, ConfigError> {
        let defaults = ValidationConfig::default();
        let interval = match self.interval {
            None => defaults.interval,
            Some(v) if v.get_ref().trim() == "off" => None,
            Some(v) => {
                let d = humantime::parse_duration(v.get_ref()).map_err(|e| {
                    located(
                        at(&v),
                        format!(
                            "interval: `{}` is not a duration ({e}); write e.g. \"5m\", or \"off\" for on demand only",
                            v.get_ref()
                        ),
                    )
                })?;
                if d < Duration::from_secs(1) {
                    return Err(located(at(&v), "interval must be at least 1s (or \"off\")".into()));
                }
                Some(d)
            }
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

impl RawLog {
    fn validate(self, located: &Locate) -> Result<LogConfig, ConfigError> {
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

/// Expands `${VAR}` references; `$$` is a literal `$`. The error never includes values.
pub fn expand_env(input: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
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
                return Err(format!("`${{{name}}}` is not a valid environment variable name"));
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
mod tests {
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
    fn env_expansion_and_escape() {
        assert_eq!(expand_env("a${HOST}b$$c", &env).unwrap(), "akafka:9092b$c");
        assert!(expand_env("${NOPE}", &env).unwrap_err().contains("NOPE"));
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
