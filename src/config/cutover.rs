//! [cutover] and [[wave]]: the staged cutover plan (waves of topics and groups, their hooks,
//! strategy, confirmation mode and rollback criteria).

use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::duration::parse_duration;
use super::{at, ConfigError, Locate};

/// The engine-wide settings of [cutover].
#[derive(Debug, Clone, PartialEq)]
pub struct CutoverConfig {
    /// Where the journal lives; None: $XDG_STATE_HOME/cutover/<source>-<target>.journal.
    pub journal: Option<PathBuf>,
    /// How long one hook run may take before it counts as failed.
    pub hook_timeout: Duration,
    /// How long end offsets must stand still to count as frozen (or drained).
    pub settle: Duration,
    /// How long any wait of a wave may last before the wave stops as FAILED (a drain that never
    /// comes because the replicator died, groups that never turn Stable): never silently.
    pub wait_timeout: Duration,
}

/// The waits of a wave, by the key `[wave.wait_timeout]` overrides them with.
pub const WAIT_KEYS: [&str; 9] = [
    "preflight",
    "source_frozen",
    "drained",
    "final_parity",
    "groups_empty_on_source",
    "groups_stable_on_target",
    "writes_on_target",
    "target_groups_caught_up",
    "groups_empty_on_target",
];

impl Default for CutoverConfig {
    fn default() -> Self {
        CutoverConfig {
            journal: None,
            hook_timeout: Duration::from_secs(120),
            settle: Duration::from_secs(6),
            wait_timeout: Duration::from_secs(15 * 60),
        }
    }
}

impl CutoverConfig {
    /// The journal path: the configured one, else one per (source, target) pair under
    /// $XDG_STATE_HOME (or ~/.local/state).
    pub fn journal_path(&self, source: &str, target: &str) -> PathBuf {
        if let Some(p) = &self.journal {
            return p.clone();
        }
        let state = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
            .unwrap_or_else(|| PathBuf::from("."));
        let safe = |s: &str| s.replace(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'), "_");
        state
            .join("cutover")
            .join(format!("{}-{}.journal", safe(source), safe(target)))
    }
}

/// The order a wave moves its clients in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Seed 000: freeze producers, drain, final parity, move consumers, then producers.
    StopTheWorld,
    /// Seed 001: move consumers first (producers keep writing to the source), then producers.
    ConsumersFirst,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::StopTheWorld => "stop-the-world",
            Strategy::ConsumersFirst => "consumers-first",
        }
    }
}

/// How often a wave asks before it acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmMode {
    /// Every step with side effects asks (y/N), after the typed confirmation of the start.
    EachStep,
    /// Only the typed confirmation of the start; then the steps run.
    Wave,
}

/// The shell commands that move a wave's clients (each `sh -c`; any may be absent).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hooks {
    pub freeze_producers: Option<String>,
    pub stop_consumers: Option<String>,
    pub flip_consumers: Option<String>,
    pub flip_producers: Option<String>,
    pub rollback_freeze_producers: Option<String>,
    pub rollback_stop_consumers: Option<String>,
    pub rollback_flip_consumers: Option<String>,
    pub rollback_flip_producers: Option<String>,
}

/// Go/no-go and rollback criteria, decided before the wave starts (seed 004).
#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    /// Replication lag of the wave's topics (records, summed) above which the wave won't start.
    pub max_lag_to_start: i64,
    /// Target group lag (records) above which, held for `rollback_after`, a rollback is suggested.
    pub rollback_if_target_group_lag_over: Option<i64>,
    pub rollback_after: Duration,
    pub auto_rollback: bool,
    /// How long producers may stay frozen (the wave's write pause), and consumers stopped
    /// (its read pause): past it an alarm, and with `auto_rollback` a rollback.
    pub max_write_pause: Option<Duration>,
    pub max_read_pause: Option<Duration>,
}

impl Default for Criteria {
    fn default() -> Self {
        Criteria {
            max_lag_to_start: 1_000,
            rollback_if_target_group_lag_over: None,
            rollback_after: Duration::from_secs(15 * 60),
            auto_rollback: false,
            max_write_pause: None,
            max_read_pause: None,
        }
    }
}

/// One wave of the plan.
#[derive(Debug, Clone)]
pub struct Wave {
    pub name: String,
    /// Regexes (whole name) on source topic names.
    pub topics: Vec<Regex>,
    /// Regexes (whole name) on consumer group names.
    pub groups: Vec<Regex>,
    /// Regexes on groups that read the wave's topics on the source and stay there, knowingly:
    /// they receive no new record after `flip_producers`.
    pub leave_groups: Vec<Regex>,
    /// Per wait (by its key in `WAIT_KEYS`), a deadline other than `[cutover] wait_timeout`.
    pub wait_timeouts: std::collections::BTreeMap<String, Duration>,
    pub strategy: Strategy,
    pub confirm: ConfirmMode,
    pub hooks: Hooks,
    pub criteria: Criteria,
}

impl Wave {
    pub fn has_topic(&self, topic: &str) -> bool {
        self.topics.iter().any(|r| r.is_match(topic))
    }

    pub fn has_group(&self, group: &str) -> bool {
        self.groups.iter().any(|r| r.is_match(group))
    }

    /// Whether `group` stays on the source by the plan (`leave_groups`).
    pub fn leaves_group(&self, group: &str) -> bool {
        self.leave_groups.iter().any(|r| r.is_match(group))
    }
}

impl PartialEq for Wave {
    fn eq(&self, other: &Self) -> bool {
        let patterns = |v: &[Regex]| v.iter().map(|r| r.as_str().to_string()).collect::<Vec<_>>();
        self.name == other.name
            && patterns(&self.topics) == patterns(&other.topics)
            && patterns(&self.groups) == patterns(&other.groups)
            && patterns(&self.leave_groups) == patterns(&other.leave_groups)
            && self.strategy == other.strategy
            && self.confirm == other.confirm
            && self.hooks == other.hooks
            && self.criteria == other.criteria
    }
}

// ---------------------------------------------------------------- raw (as written) form

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCutover {
    journal: Option<String>,
    hook_timeout: Option<Spanned<String>>,
    settle: Option<Spanned<String>>,
    wait_timeout: Option<Spanned<String>>,
}

impl RawCutover {
    pub(super) fn validate(self, located: &Locate) -> Result<CutoverConfig, ConfigError> {
        let defaults = CutoverConfig::default();
        let duration = |v: Option<Spanned<String>>, default: Duration, key: &str| match v {
            None => Ok(default),
            Some(v) => parse_duration(&v, key, "\"2m\" or \"6s\"", Duration::from_secs(1), "", located),
        };
        Ok(CutoverConfig {
            journal: self.journal.filter(|j| !j.trim().is_empty()).map(PathBuf::from),
            hook_timeout: duration(self.hook_timeout, defaults.hook_timeout, "hook_timeout")?,
            settle: duration(self.settle, defaults.settle, "settle")?,
            wait_timeout: duration(self.wait_timeout, defaults.wait_timeout, "wait_timeout")?,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWave {
    name: Spanned<String>,
    topics: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    groups: Vec<Spanned<String>>,
    #[serde(default)]
    leave_groups: Vec<Spanned<String>>,
    #[serde(default)]
    wait_timeout: std::collections::BTreeMap<Spanned<String>, Spanned<String>>,
    strategy: Option<Spanned<String>>,
    confirm: Option<Spanned<String>>,
    #[serde(default)]
    hooks: RawHooks,
    #[serde(default)]
    criteria: RawCriteria,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHooks {
    freeze_producers: Option<String>,
    stop_consumers: Option<String>,
    flip_consumers: Option<String>,
    flip_producers: Option<String>,
    rollback_freeze_producers: Option<String>,
    rollback_stop_consumers: Option<String>,
    rollback_flip_consumers: Option<String>,
    rollback_flip_producers: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCriteria {
    max_lag_to_start: Option<Spanned<i64>>,
    rollback_if_target_group_lag_over: Option<Spanned<i64>>,
    rollback_after: Option<Spanned<String>>,
    auto_rollback: Option<bool>,
    max_write_pause: Option<Spanned<String>>,
    max_read_pause: Option<Spanned<String>>,
}

fn patterns(list: &[Spanned<String>], located: &Locate) -> Result<Vec<Regex>, ConfigError> {
    list.iter()
        .map(|p| {
            Regex::new(&format!("^(?:{})$", p.get_ref())).map_err(|e| {
                let first = e.to_string().lines().last().unwrap_or("").trim().to_string();
                located(at(p), format!("invalid regular expression `{}`: {first}", p.get_ref()))
            })
        })
        .collect()
}

fn hook(h: Option<String>) -> Option<String> {
    h.filter(|c| !c.trim().is_empty())
}

impl RawWave {
    fn validate(self, located: &Locate) -> Result<Wave, ConfigError> {
        let name = self.name.get_ref().trim().to_string();
        if name.is_empty() || name.chars().any(|c| c.is_control() || c == ',') {
            return Err(located(
                at(&self.name),
                "a wave needs a name (it is typed to confirm; no commas or control characters)".into(),
            ));
        }
        if self.topics.get_ref().is_empty() {
            return Err(located(
                at(&self.topics),
                "a wave needs at least one topic pattern, e.g. topics = [\"clickstream\"]".into(),
            ));
        }
        let strategy = match self.strategy.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("stop-the-world") => Strategy::StopTheWorld,
            Some("consumers-first") => Strategy::ConsumersFirst,
            Some(other) => {
                return Err(located(
                    self.strategy.as_ref().and_then(at),
                    format!("unknown strategy `{other}`: expected \"stop-the-world\" or \"consumers-first\""),
                ))
            }
        };
        let confirm = match self.confirm.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("each-step") => ConfirmMode::EachStep,
            Some("wave") => ConfirmMode::Wave,
            Some(other) => {
                return Err(located(
                    self.confirm.as_ref().and_then(at),
                    format!("unknown confirm mode `{other}`: expected \"each-step\" or \"wave\""),
                ))
            }
        };
        let h = self.hooks;
        let c = self.criteria;
        let defaults = Criteria::default();
        let records = |v: Option<Spanned<i64>>, key: &str| -> Result<Option<i64>, ConfigError> {
            match v {
                Some(n) if *n.get_ref() < 0 => Err(located(at(&n), format!("{key} must be zero or more records"))),
                Some(n) => Ok(Some(*n.get_ref())),
                None => Ok(None),
            }
        };
        let criteria = Criteria {
            max_lag_to_start: records(c.max_lag_to_start, "max_lag_to_start")?.unwrap_or(defaults.max_lag_to_start),
            rollback_if_target_group_lag_over: records(
                c.rollback_if_target_group_lag_over,
                "rollback_if_target_group_lag_over",
            )?,
            rollback_after: match c.rollback_after {
                None => defaults.rollback_after,
                Some(v) => parse_duration(&v, "rollback_after", "\"15m\"", Duration::from_secs(1), "", located)?,
            },
            auto_rollback: c.auto_rollback.unwrap_or(false),
            max_write_pause: match c.max_write_pause {
                None => None,
                Some(v) => Some(parse_duration(
                    &v,
                    "max_write_pause",
                    "\"30s\"",
                    Duration::from_secs(1),
                    "",
                    located,
                )?),
            },
            max_read_pause: match c.max_read_pause {
                None => None,
                Some(v) => Some(parse_duration(
                    &v,
                    "max_read_pause",
                    "\"30s\"",
                    Duration::from_secs(1),
                    "",
                    located,
                )?),
            },
        };
        Ok(Wave {
            name,
            topics: patterns(self.topics.get_ref(), located)?,
            groups: patterns(&self.groups, located)?,
            leave_groups: patterns(&self.leave_groups, located)?,
            wait_timeouts: self
                .wait_timeout
                .iter()
                .map(|(key, value)| {
                    if !WAIT_KEYS.contains(&key.get_ref().as_str()) {
                        return Err(located(
                            at(key),
                            format!(
                                "unknown wait `{}`: expected one of {}",
                                key.get_ref(),
                                WAIT_KEYS.join(", ")
                            ),
                        ));
                    }
                    let d = parse_duration(value, "wait_timeout", "\"30m\"", Duration::from_secs(1), "", located)?;
                    Ok((key.get_ref().clone(), d))
                })
                .collect::<Result<_, _>>()?,
            strategy,
            confirm,
            hooks: Hooks {
                freeze_producers: hook(h.freeze_producers),
                stop_consumers: hook(h.stop_consumers),
                flip_consumers: hook(h.flip_consumers),
                flip_producers: hook(h.flip_producers),
                rollback_freeze_producers: hook(h.rollback_freeze_producers),
                rollback_stop_consumers: hook(h.rollback_stop_consumers),
                rollback_flip_consumers: hook(h.rollback_flip_consumers),
                rollback_flip_producers: hook(h.rollback_flip_producers),
            },
            criteria,
        })
    }
}

/// Validates every wave; names must be unique (a wave is confirmed by typing its name).
pub(super) fn validate_waves(raw: Vec<RawWave>, located: &Locate) -> Result<Vec<Wave>, ConfigError> {
    let mut waves: Vec<Wave> = Vec::new();
    for w in raw {
        let span = at(&w.name);
        let wave = w.validate(located)?;
        if waves.iter().any(|o| o.name == wave.name) {
            return Err(located(
                span,
                format!(
                    "two waves are named `{}`: a wave is confirmed by typing its name",
                    wave.name
                ),
            ));
        }
        waves.push(wave);
    }
    Ok(waves)
}
