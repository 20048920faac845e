//! Inventory diff: what the target lacks or has differently from the source.

use std::collections::{BTreeMap, BTreeSet};

use super::{ConfigValue, Snapshot};
use crate::config::{NameFilter, Replication};

/// Config keys an operator always wants compared, even when a broker omits defaults.
pub const KEY_CONFIGS: [&str; 5] = [
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "min.insync.replicas",
    "max.message.bytes",
];

/// The topic config by which a broker stamps each record with its own time on append.
pub const TIMESTAMP_TYPE: &str = "message.timestamp.type";

/// Whether a topic's configs say its broker stamps each record with its own time
/// (`message.timestamp.type=LogAppendTime`): a copy there does not keep the source's timestamp.
pub fn stamps_own_time(configs: &BTreeMap<String, ConfigValue>) -> bool {
    configs.get(TIMESTAMP_TYPE).is_some_and(|v| v.value == "LogAppendTime")
}

/// The target topics whose broker stamps its own times, from the target's configs in the
/// snapshot: validation and translation compare their records by key, value and headers only.
pub fn own_timestamps(snapshot: &Snapshot) -> BTreeSet<String> {
    let Some(Ok(configs)) = snapshot.target.state().map(|t| &t.configs) else {
        return BTreeSet::new();
    };
    configs
        .iter()
        .filter(|(_, c)| stamps_own_time(c))
        .map(|(topic, _)| topic.clone())
        .collect()
}

/// Why a topic's records were compared without timestamps (shown beside the figures).
pub const WITHOUT_TIMESTAMPS: &str =
    "compared by key, value and headers only: the target topic stamps its own times (message.timestamp.type=LogAppendTime)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The source topic has no counterpart on the target.
    MissingOnTarget,
    PartitionCount {
        source: usize,
        target: usize,
    },
    /// A config key whose value differs (None: not set / not reported on that side).
    Config {
        key: String,
        source: Option<String>,
        target: Option<String>,
    },
    /// Configs could not be read on a side; drift cannot be judged.
    ConfigsUnavailable {
        reason: String,
    },
    /// The target's broker stamps each record with its own time (LogAppendTime): no copy keeps
    /// the source's timestamp. `source`: the source topic's timestamp type.
    OwnTimestamps {
        source: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDiff {
    pub source_topic: String,
    pub target_topic: String,
    pub difference: Difference,
}

impl Difference {
    pub fn kind(&self) -> &'static str {
        match self {
            Difference::MissingOnTarget => "MISSING",
            Difference::PartitionCount { .. } => "PARTITIONS",
            Difference::Config { .. } => "CONFIG",
            Difference::ConfigsUnavailable { .. } => "UNKNOWN",
            Difference::OwnTimestamps { .. } => "TIMESTAMPS",
        }
    }

    /// Source value first: "cleanup.policy: compact → delete".
    pub fn describe(&self) -> String {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "unset".into());
        match self {
            Difference::MissingOnTarget => "missing on the target".into(),
            Difference::PartitionCount { source, target } => format!("partitions: {source} → {target}"),
            Difference::Config { key, source, target } => {
                format!("{key}: {} → {}", show(source), show(target))
            }
            Difference::ConfigsUnavailable { reason } => format!("configs unavailable: {reason}"),
            Difference::OwnTimestamps { source } => format!(
                "{TIMESTAMP_TYPE}: {} → LogAppendTime: the target stamps its own times, so no copy keeps the source's timestamp; validation and translation compare key, value and headers only",
                source.as_deref().unwrap_or("unset")
            ),
        }
    }
}

/// Every difference between the filtered source topics and their target counterparts.
/// Empty when either side has not been polled yet (nothing is guessed).
pub fn diff(snapshot: &Snapshot, replication: &Replication, filter: &NameFilter) -> Vec<TopicDiff> {
    let (Some(src), Some(tgt)) = (snapshot.source.state(), snapshot.target.state()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in src.topics.values().filter(|t| filter.matches(&t.name)) {
        let target_topic = replication.target_topic(&s.name);
        let mut push = |difference| {
            out.push(TopicDiff {
                source_topic: s.name.clone(),
                target_topic: target_topic.clone(),
                difference,
            })
        };
        let Some(t) = tgt.topics.get(&target_topic) else {
            push(Difference::MissingOnTarget);
            continue;
        };
        if s.partitions.len() != t.partitions.len() {
            push(Difference::PartitionCount {
                source: s.partitions.len(),
                target: t.partitions.len(),
            });
        }
        match (&src.configs, &tgt.configs) {
            (Ok(sc), Ok(tc)) => {
                let empty = Default::default();
                let sc = sc.get(&s.name).unwrap_or(&empty);
                let tc = tc.get(&target_topic).unwrap_or(&empty);
                let mut keys: Vec<&String> = sc.keys().chain(tc.keys()).collect();
                keys.sort();
                keys.dedup();
                if stamps_own_time(tc) {
                    push(Difference::OwnTimestamps {
                        source: sc.get(TIMESTAMP_TYPE).map(|v| v.value.clone()),
                    });
                    keys.retain(|k| *k != TIMESTAMP_TYPE);
                }
                for key in keys {
                    let (a, b) = (sc.get(key), tc.get(key));
                    // Defaults on both sides are no difference of the topic, even where the
                    // two versions' defaults differ; an override is compared with the other
                    // side's value, default or not.
                    let overridden = [a, b].into_iter().flatten().any(|v| !v.default);
                    let (a, b) = (a.map(|v| v.value.clone()), b.map(|v| v.value.clone()));
                    if overridden && a != b {
                        push(Difference::Config {
                            key: key.clone(),
                            source: a,
                            target: b,
                        });
                    }
                }
            }
            (Err(e), _) => push(Difference::ConfigsUnavailable {
                reason: format!("source: {e}"),
            }),
            (_, Err(e)) => push(Difference::ConfigsUnavailable {
                reason: format!("target: {e}"),
            }),
        }
    }
    // The key configs first: they are the ones that lose data when they differ.
    out.sort_by_key(|d| {
        let rank = match &d.difference {
            Difference::MissingOnTarget => 0,
            Difference::PartitionCount { .. } => 1,
            Difference::Config { key, .. } if KEY_CONFIGS.contains(&key.as_str()) => 2,
            Difference::Config { .. } | Difference::OwnTimestamps { .. } => 3,
            Difference::ConfigsUnavailable { .. } => 4,
        };
        (rank, d.source_topic.clone())
    });
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::config::PolicyKind;
    use crate::model::{ClusterFeed, ClusterState, ConfigValue, PartitionState, TopicState};

    fn cluster(configs: &[(&str, &str, bool)]) -> ClusterFeed {
        let topic = TopicState {
            name: "orders".into(),
            error: None,
            partitions: vec![PartitionState {
                id: 0,
                leader: 1,
                replicas: 1,
                isr: 1,
                low: Ok(0),
                high: Ok(0),
                error: None,
            }],
        };
        let values = configs
            .iter()
            .map(|(k, v, default)| {
                let value = ConfigValue {
                    value: v.to_string(),
                    default: *default,
                };
                (k.to_string(), value)
            })
            .collect();
        ClusterFeed {
            name: "c".into(),
            last_good: Some(Arc::new(ClusterState {
                polled_at: SystemTime::UNIX_EPOCH,
                poll_duration: Duration::ZERO,
                brokers: vec![],
                topics: BTreeMap::from([("orders".to_string(), topic)]),
                configs: Ok(BTreeMap::from([("orders".to_string(), values)])),
                groups: Ok(vec![]),
            })),
            last_error: None,
            figures_version: 0,
            ages: Default::default(),
        }
    }

    fn snapshot(source: ClusterFeed, target: ClusterFeed) -> Snapshot {
        Snapshot {
            target_only: Default::default(),
            source,
            target,
            mm2: None,
            seq: 1,
            target_before_source: None,
        }
    }

    /// The differences found in `snapshot`, with the identity policy.
    fn differences(snapshot: &Snapshot) -> Vec<Difference> {
        let replication = Replication {
            policy: PolicyKind::Identity,
            ..Default::default()
        };
        diff(snapshot, &replication, &NameFilter::topics_default())
            .into_iter()
            .map(|d| d.difference)
            .collect()
    }

    /// Kafka sends every config with its source: defaults that differ between two versions
    /// are no difference; an override is, against the other side's value or its absence.
    #[test]
    fn only_overrides_that_differ_are_differences() {
        let snapshot = snapshot(
            cluster(&[
                ("message.format.version", "3.0-IV1", true),
                ("segment.bytes", "1073741824", true),
                ("retention.ms", "3600000", false),
                ("cleanup.policy", "delete", false),
                ("min.insync.replicas", "2", false),
            ]),
            cluster(&[
                ("segment.bytes", "536870912", true),
                ("retention.ms", "604800000", true),
                ("cleanup.policy", "delete", true),
            ]),
        );
        let found = differences(&snapshot);
        assert_eq!(
            found,
            vec![
                Difference::Config {
                    key: "min.insync.replicas".into(),
                    source: Some("2".into()),
                    target: None,
                },
                Difference::Config {
                    key: "retention.ms".into(),
                    source: Some("3600000".into()),
                    target: Some("604800000".into()),
                },
            ]
        );
    }

    /// A target topic stamping its own times is flagged once (not also as a CONFIG
    /// difference), even when the source's timestamp type is the same.
    #[test]
    fn a_target_that_stamps_its_own_times_is_flagged() {
        for source in [
            ("message.timestamp.type", "CreateTime", true),
            ("message.timestamp.type", "LogAppendTime", false),
        ] {
            let snapshot = snapshot(
                cluster(&[source]),
                cluster(&[("message.timestamp.type", "LogAppendTime", false)]),
            );
            let found = differences(&snapshot);
            assert_eq!(
                found,
                vec![Difference::OwnTimestamps {
                    source: Some(source.1.into())
                }]
            );
            assert!(found[0].describe().contains("compare key, value and headers only"));
            assert_eq!(own_timestamps(&snapshot), BTreeSet::from(["orders".to_string()]));
        }
    }
}
