//! What the cockpit knows from MM2's internal topics, as plain data.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::codec::Checkpoint;
use super::syncs::SyncHistory;

/// Offset-syncs, checkpoints and the newest heartbeat, as read so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Mm2State {
    pub syncs: SyncHistory,
    /// Newest checkpoint per (group, target topic, partition).
    pub checkpoints: BTreeMap<(String, String, i32), Checkpoint>,
    /// Newest heartbeat's own timestamp (ms since the epoch).
    pub heartbeat_ms: Option<i64>,
    /// Why a topic could not be read ("offset-syncs: topic … not found on source"), per topic.
    pub errors: BTreeMap<&'static str, String>,
    /// Records that did not decode (each is logged with its offset).
    pub undecodable: u64,
    /// Offset-syncs that decoded but cannot be true (negative offsets), each skipped alone.
    pub rejected_syncs: u64,
    /// This replication flow's aliases: heartbeats of other flows into the same target are
    /// not this flow's sign of life.
    pub flow: (String, String),
    /// Heartbeats of other flows, skipped.
    pub other_flows_heartbeats: u64,
    pub updated_at: SystemTime,
}

impl Mm2State {
    /// The state of the flow from `source_alias` to `target_alias`.
    pub fn new(source_alias: &str, target_alias: &str, now: SystemTime) -> Self {
        Mm2State {
            syncs: SyncHistory::new(1_000),
            checkpoints: BTreeMap::new(),
            heartbeat_ms: None,
            errors: BTreeMap::new(),
            undecodable: 0,
            rejected_syncs: 0,
            flow: (source_alias.to_string(), target_alias.to_string()),
            other_flows_heartbeats: 0,
            updated_at: now,
        }
    }

    /// MM2 records skipped: undecodable, or decoded but rejected.
    pub fn skipped(&self) -> u64 {
        self.undecodable + self.rejected_syncs
    }

    /// The newest checkpoint of a group for a target partition.
    pub fn checkpoint(&self, group: &str, target_topic: &str, partition: i32) -> Option<&Checkpoint> {
        self.checkpoints
            .get(&(group.to_string(), target_topic.to_string(), partition))
    }
}
