//! The one way the product writes to a cluster: committing a consumer group's offsets.
//!
//! An `OffsetWriter` can only be built with a `WritePermission`, and a permission is only
//! granted to a run that may write (not `--read-only`, not `--dry-run`). Each commit checks,
//! just before it writes, that the group is Empty (no member would overwrite the commit, nor be
//! moved under its feet) and that the group's current offsets are the ones the caller read
//! when it decided what to write; afterwards it reads the offsets back and compares. Any
//! difference is a typed `CommitError`, so the caller can tell "retry" from "stop".

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::{consumer_config, retryable};
use crate::config::ClusterConfig;

/// Proof that this run may write. Only `grant` makes one.
#[derive(Debug)]
pub struct WritePermission {
    _private: (),
}

impl WritePermission {
    /// None for a run that must not write (`--read-only`, `--dry-run`).
    pub fn grant(may_write: bool) -> Option<WritePermission> {
        may_write.then_some(WritePermission { _private: () })
    }
}

/// One partition's commit: what the caller read before deciding (None: nothing committed),
/// and what it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetChange {
    pub topic: String,
    pub partition: i32,
    pub expected: Option<i64>,
    pub new: i64,
}

/// A partition whose committed offset is not what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub topic: String,
    pub partition: i32,
    pub expected: Option<i64>,
    pub found: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitError {
    /// The group has members or is rebalancing: nothing was written.
    GroupNotEmpty {
        group: String,
        state: String,
        members: usize,
    },
    /// Someone committed since the caller read the offsets: nothing was written.
    OffsetsMoved { group: String, moved: Vec<Moved> },
    /// The commit was sent, but reading it back shows other offsets.
    ReadBackDiffers { group: String, moved: Vec<Moved> },
    /// The broker could not be asked or refused. `retryable`: trying again may help
    /// (a timeout, a coordinator moving, a broker down).
    Broker { what: String, retryable: bool },
}

impl CommitError {
    /// Whether the same commit may succeed if tried again later, unchanged.
    pub fn retryable(&self) -> bool {
        matches!(self, CommitError::Broker { retryable: true, .. })
    }
}

/// As the crate's error: a broker error keeps whether it may pass; the rest are permanent
/// (moved offsets need the engineer).
impl From<CommitError> for crate::error::Error {
    fn from(e: CommitError) -> crate::error::Error {
        if e.retryable() {
            crate::error::Error::transient(e.to_string())
        } else {
            crate::error::Error::permanent(e.to_string())
        }
    }
}

fn moved_list(moved: &[Moved]) -> String {
    let at = |o: Option<i64>| o.map_or("none".to_string(), |o| o.to_string());
    moved
        .iter()
        .map(|m| {
            format!(
                "{}/{} expected {} found {}",
                m.topic,
                m.partition,
                at(m.expected),
                at(m.found)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommitError::GroupNotEmpty { group, state, members } => write!(
                f,
                "group {group} is {state} with {members} member(s): offsets are only committed to an Empty group"
            ),
            CommitError::OffsetsMoved { group, moved } => write!(
                f,
                "group {group} committed since its offsets were read ({}): nothing was written",
                moved_list(moved)
            ),
            CommitError::ReadBackDiffers { group, moved } => {
                write!(
                    f,
                    "group {group}: offsets read back differ from those committed ({})",
                    moved_list(moved)
                )
            }
            CommitError::Broker { what, retryable } => {
                write!(f, "{what}{}", if *retryable { " (retryable)" } else { "" })
            }
        }
    }
}

impl std::error::Error for CommitError {}

/// Commits group offsets on one cluster, under the checks above.
pub struct OffsetWriter {
    cluster: ClusterConfig,
    timeout: Duration,
}

impl OffsetWriter {
    pub fn new(_permission: &WritePermission, cluster: &ClusterConfig, timeout: Duration) -> OffsetWriter {
        OffsetWriter {
            cluster: cluster.clone(),
            timeout,
        }
    }

    pub fn cluster(&self) -> &str {
        &self.cluster.name
    }

    fn broker_error(&self, what: &str, e: KafkaError) -> CommitError {
        CommitError::Broker {
            what: format!("{}: {what}: {e}", self.cluster.name),
            retryable: retryable(&e),
        }
    }

    /// Commits every change for `group`, or nothing (see the module comment for the checks).
    pub fn commit(&self, group: &str, changes: &[OffsetChange]) -> Result<(), CommitError> {
        let consumer: BaseConsumer = consumer_config(&self.cluster)
            .set("group.id", group)
            .create()
            .map_err(|e| self.broker_error("client", e))?;
        self.require_empty(&consumer, group)?;
        let moved = self.differences(&consumer, changes, |c| c.expected)?;
        if !moved.is_empty() {
            return Err(CommitError::OffsetsMoved {
                group: group.to_string(),
                moved,
            });
        }
        let mut tpl = TopicPartitionList::new();
        for c in changes {
            tpl.add_partition_offset(&c.topic, c.partition, Offset::Offset(c.new))
                .map_err(|e| self.broker_error("offset list", e))?;
        }
        // A simple commit (no generation) to a group with members is also refused by the
        // broker itself, which closes the gap between the check above and this write.
        consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| self.broker_error(&format!("commit for {group}"), e))?;
        let moved = self.differences(&consumer, changes, |c| Some(c.new))?;
        if !moved.is_empty() {
            return Err(CommitError::ReadBackDiffers {
                group: group.to_string(),
                moved,
            });
        }
        tracing::info!(cluster = %self.cluster.name, group, partitions = changes.len(), "offsets committed");
        Ok(())
    }

    fn require_empty(&self, consumer: &BaseConsumer, group: &str) -> Result<(), CommitError> {
        let list = consumer
            .fetch_group_list(Some(group), self.timeout)
            .map_err(|e| self.broker_error(&format!("describe group {group}"), e))?;
        let Some(info) = list.groups().iter().find(|g| g.name() == group) else {
            return Ok(()); // not known to the broker: nobody is in it
        };
        let state = info.state();
        let members = info.members().len();
        // "Dead": the broker has no such group. Anything else with members, or rebalancing,
        // has consumers that would overwrite or be moved by the commit.
        if (state == "Empty" || state == "Dead") && members == 0 {
            return Ok(());
        }
        Err(CommitError::GroupNotEmpty {
            group: group.to_string(),
            state: state.to_string(),
            members,
        })
    }

    /// The partitions whose committed offset is not `want(change)`.
    fn differences(
        &self,
        consumer: &BaseConsumer,
        changes: &[OffsetChange],
        want: impl Fn(&OffsetChange) -> Option<i64>,
    ) -> Result<Vec<Moved>, CommitError> {
        let mut tpl = TopicPartitionList::new();
        for c in changes {
            tpl.add_partition(&c.topic, c.partition);
        }
        let committed = consumer
            .committed_offsets(tpl, self.timeout)
            .map_err(|e| self.broker_error("read committed offsets", e))?;
        let found: BTreeMap<(String, i32), Option<i64>> = committed
            .elements()
            .iter()
            .map(|e| {
                let at = match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                };
                ((e.topic().to_string(), e.partition()), at)
            })
            .collect();
        Ok(changes
            .iter()
            .filter_map(|c| {
                let found = found.get(&(c.topic.clone(), c.partition)).copied().flatten();
                (found != want(c)).then(|| Moved {
                    topic: c.topic.clone(),
                    partition: c.partition,
                    expected: want(c),
                    found,
                })
            })
            .collect())
    }
}
