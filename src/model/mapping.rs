//! The offset mapping per partition, from MM2's newest offset-sync, and its drift.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Snapshot;
use crate::config::{NameFilter, Replication, ReplicationKind};
use crate::mm2::state::Mm2State;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    /// Shared by the rows of one topic (25,000 rows are derived on every changed poll).
    pub source_topic: Arc<str>,
    pub target_topic: Arc<str>,
    pub partition: i32,
    /// Newest sync: (source offset, target offset) of one record. None: no sync read, or an
    /// offset-preserving replicator (identity).
    pub sync: Option<(i64, i64)>,
    pub source_end: Option<i64>,
    pub target_end: Option<i64>,
    /// Offsets each side gained from the sync's record to its end.
    pub source_since: Option<i64>,
    pub target_since: Option<i64>,
    /// target_since - source_since: while MM2 is behind this is minus its lag; once it has
    /// caught up, negative means records missing on the target, positive extra ones.
    pub drift: Option<i64>,
}

/// One row per partition of every watched source topic that has a counterpart.
pub fn mapping_rows(snapshot: &Snapshot, replication: &Replication, filter: &NameFilter) -> Vec<MappingRow> {
    let Some(src) = snapshot.source.state() else {
        return Vec::new();
    };
    let tgt = snapshot.target.state();
    let identity = replication.kind == ReplicationKind::OffsetPreserving;
    let mut rows = Vec::with_capacity(src.topics.values().map(|t| t.partitions.len()).sum());
    for s in src.topics.values().filter(|t| filter.matches(&t.name)) {
        let target_topic: Arc<str> = replication.target_topic(&s.name).into();
        let source_topic: Arc<str> = s.name.as_str().into();
        let t = tgt.and_then(|c| c.topics.get(&*target_topic));
        let syncs = super::overview::newest_syncs(snapshot, replication, &s.name);
        for p in &s.partitions {
            let source_end = p.high.clone().ok();
            let target_end = t.and_then(|t| t.partition(p.id)).and_then(|tp| tp.high.clone().ok());
            let sync = syncs.get(&p.id).copied();
            let (source_since, target_since) = match (sync, identity) {
                (Some((up, down)), _) => (source_end.map(|e| e - up), target_end.map(|e| e - down)),
                (None, true) => (source_end, target_end),
                (None, false) => (None, None),
            };
            let drift = target_since.zip(source_since).map(|(t, s)| t - s);
            rows.push(MappingRow {
                source_topic: source_topic.clone(),
                target_topic: target_topic.clone(),
                partition: p.id,
                sync,
                source_end,
                target_end,
                source_since,
                target_since,
                drift,
            });
        }
    }
    rows
}

/// How old MM2's newest heartbeat is at `now`; None when none was read.
pub fn heartbeat_age(mm2: &Mm2State, now: SystemTime) -> Option<Duration> {
    let now_ms = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    mm2.heartbeat_ms
        .map(|hb| Duration::from_millis((now_ms - hb).max(0) as u64))
}

/// MM2 emits a heartbeat every second or so: ten refreshes without one means it is not running
/// (or not reaching the target).
pub fn heartbeat_stale(age: Duration, refresh: Duration) -> bool {
    age > refresh * 10
}
