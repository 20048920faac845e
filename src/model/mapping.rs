//! The offset mapping per partition, from MM2's newest offset-sync, and its drift.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{ClusterState, Snapshot};
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
    /// Records written on the target only during a wave are left out of target_since.
    pub drift: Option<i64>,
    /// Records of target_end - sync written on the target only (explained, left out).
    pub target_only: i64,
}

/// One row per partition of every watched source topic, by topic then partition.
pub fn mapping_rows(snapshot: &Snapshot, replication: &Replication, filter: &NameFilter) -> Vec<MappingRow> {
    let rows = MappingRows::new(snapshot, replication, filter, |_| true);
    rows.page(0..rows.len())
}

/// The Offset mapping view's rows: every partition of every watched source topic that `keep`
/// keeps, by topic then partition. A row's figures are derived when it is on screen (a
/// changed poll of 25,000 partitions would otherwise build 25,000 rows for one page).
#[derive(Debug, Clone, Default)]
pub struct MappingRows {
    source: Option<Arc<ClusterState>>,
    target: Option<Arc<ClusterState>>,
    /// MM2's state when MM2 does the copying (its offset-syncs map the offsets).
    mm2: Option<Arc<Mm2State>>,
    identity: bool,
    explained: Arc<super::target_only::TargetOnly>,
    /// (source topic, target topic, index of its first row), in row order.
    topics: Vec<(Arc<str>, Arc<str>, usize)>,
    len: usize,
}

impl MappingRows {
    pub fn new(
        snapshot: &Snapshot,
        replication: &Replication,
        filter: &NameFilter,
        keep: impl Fn(&str) -> bool,
    ) -> MappingRows {
        let mut rows = MappingRows {
            source: snapshot.source.last_good.clone(),
            target: snapshot.compared_target_arc(),
            mm2: match replication.kind {
                ReplicationKind::MirrorMaker2 => snapshot.mm2.clone(),
                ReplicationKind::OffsetPreserving => None,
            },
            identity: replication.kind == ReplicationKind::OffsetPreserving,
            explained: snapshot.target_only.clone(),
            ..MappingRows::default()
        };
        for s in rows.source.iter().flat_map(|c| c.topics.values()) {
            if filter.matches(&s.name) && keep(&s.name) {
                let target_topic = replication.target_topic(&s.name).into();
                rows.topics.push((s.name.as_str().into(), target_topic, rows.len));
                rows.len += s.partitions.len();
            }
        }
        rows
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rows in `range` (clipped to the rows there are), with their figures.
    pub fn page(&self, range: Range<usize>) -> Vec<MappingRow> {
        let range = range.start.min(self.len)..range.end.min(self.len);
        let mut out = Vec::with_capacity(range.len());
        let Some(src) = &self.source else { return out };
        // The topics whose rows overlap the range: the last one starting at or before it, on.
        let first = self
            .topics
            .partition_point(|(_, _, start)| *start <= range.start)
            .saturating_sub(1);
        for (source_topic, target_topic, start) in &self.topics[first..] {
            if *start >= range.end {
                break;
            }
            let Some(s) = src.topics.get(&**source_topic) else {
                continue;
            };
            let t = self.target.as_ref().and_then(|c| c.topics.get(&**target_topic));
            let syncs = self
                .mm2
                .as_ref()
                .map(|m| m.syncs.newest_of_topic(source_topic))
                .unwrap_or_default();
            let from = range.start.saturating_sub(*start);
            let to = (range.end - start).min(s.partitions.len());
            for p in s.partitions.get(from..to).unwrap_or_default() {
                let source_end = p.high.clone().ok();
                let target_end = t.and_then(|t| t.partition(p.id)).and_then(|tp| tp.high.clone().ok());
                let sync = syncs.get(&p.id).copied();
                let explained = self.explained.partition(target_topic, p.id);
                let target_only = match (sync, target_end) {
                    (Some((_, down)), Some(e)) => explained.count_between(down, e),
                    (None, Some(e)) => explained.count_between(i64::MIN, e),
                    _ => 0,
                };
                let (source_since, target_since) = match (sync, self.identity) {
                    (Some((up, down)), _) => (source_end.map(|e| e - up), target_end.map(|e| e - down - target_only)),
                    (None, true) => (source_end, target_end.map(|e| e - target_only)),
                    (None, false) => (None, None),
                };
                out.push(MappingRow {
                    source_topic: source_topic.clone(),
                    target_topic: target_topic.clone(),
                    partition: p.id,
                    sync,
                    source_end,
                    target_end,
                    source_since,
                    target_since,
                    drift: target_since.zip(source_since).map(|(t, s)| t - s),
                    target_only,
                });
            }
        }
        out
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClusterFeed, PartitionState, TopicState};
    use proptest::prelude::*;

    fn cluster(topics: &[(String, Vec<i64>)]) -> Arc<ClusterState> {
        Arc::new(ClusterState {
            polled_at: UNIX_EPOCH,
            poll_duration: Duration::ZERO,
            brokers: vec![],
            topics: topics
                .iter()
                .map(|(name, highs)| {
                    let partitions = highs
                        .iter()
                        .enumerate()
                        .map(|(i, h)| PartitionState {
                            id: i as i32,
                            leader: 1,
                            replicas: 1,
                            isr: 1,
                            low: Ok(0),
                            high: Ok(*h),
                            error: None,
                        })
                        .collect();
                    (
                        name.clone(),
                        TopicState {
                            name: name.clone(),
                            partitions,
                            error: None,
                        },
                    )
                })
                .collect(),
            configs: Ok(Default::default()),
            groups: Ok(vec![]),
        })
    }

    proptest! {
        /// Any page of the Offset mapping is that slice of every row, and every row is a source
        /// partition, in (topic, partition) order, with both ends (offset-preserving: identity).
        #[test]
        fn a_page_of_the_mapping_is_that_slice_of_every_row(
            highs in proptest::collection::vec(proptest::collection::vec(0i64..100, 0..5), 0..6),
            a in 0usize..30,
            b in 0usize..30,
        ) {
            let source: Vec<(String, Vec<i64>)> =
                highs.iter().enumerate().map(|(i, h)| (format!("t{i}"), h.clone())).collect();
            let target: Vec<(String, Vec<i64>)> =
                source.iter().map(|(n, h)| (n.clone(), h.iter().map(|x| x / 2).collect())).collect();
            let snap = Snapshot {
                target_only: Default::default(),
                source: ClusterFeed { last_good: Some(cluster(&source)), ..Default::default() },
                target: ClusterFeed { last_good: Some(cluster(&target)), ..Default::default() },
                seq: 1,
                target_before_source: None,
                mm2: None,
            };
            let replication = Replication { kind: ReplicationKind::OffsetPreserving, ..Default::default() };
            let rows = MappingRows::new(&snap, &replication, &NameFilter::topics_default(), |t| t != "t1");
            let all = rows.page(0..rows.len());
            let expected: Vec<(String, i32, i64, i64)> = source
                .iter()
                .filter(|(n, _)| n != "t1")
                .flat_map(|(n, h)| h.iter().enumerate().map(move |(p, x)| (n.clone(), p as i32, *x, x / 2)))
                .collect();
            let got: Vec<(String, i32, i64, i64)> = all
                .iter()
                .map(|r| (r.source_topic.to_string(), r.partition, r.source_end.unwrap(), r.target_end.unwrap()))
                .collect();
            prop_assert_eq!(got, expected);
            prop_assert!(all.iter().all(|r| r.drift == Some(r.target_end.unwrap() - r.source_end.unwrap())));
            let (a, b) = (a.min(b), a.max(b));
            let want = all[a.min(all.len())..b.min(all.len())].to_vec();
            prop_assert_eq!(rows.page(a..b), want);
        }
    }
}
