//! Inventory diff: what the target lacks or has differently from the source.

use super::Snapshot;
use crate::config::{NameFilter, Replication};

/// Config keys an operator always wants compared, even when a broker omits defaults.
pub const KEY_CONFIGS: [&str; 5] = [
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "min.insync.replicas",
    "max.message.bytes",
];

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
                for key in keys {
                    let (a, b) = (sc.get(key), tc.get(key));
                    if a != b {
                        push(Difference::Config {
                            key: key.clone(),
                            source: a.cloned(),
                            target: b.cloned(),
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
            Difference::Config { .. } => 3,
            Difference::ConfigsUnavailable { .. } => 4,
        };
        (rank, d.source_topic.clone())
    });
    out
}
