//! MM2's rules for offset-syncs (emitting them, and translating with them), as pure functions.

use std::collections::BTreeMap;

use super::codec::OffsetSync;

/// MirrorSourceTask's per-partition state: decides when a copied record gets an offset-sync.
#[derive(Debug, Clone, Default)]
pub struct SyncEmitter {
    last_sync_downstream: Option<i64>,
    previous_upstream: Option<i64>,
    previous_downstream: Option<i64>,
}

impl SyncEmitter {
    /// A record copied from `upstream` to `downstream`: true when MM2 would emit a sync — the
    /// first record; the translated offset would be `max_offset_lag` or more stale; the
    /// upstream offsets are not consecutive; or the target was truncated.
    pub fn update(&mut self, upstream: i64, downstream: i64, max_offset_lag: i64) -> bool {
        let first = self.last_sync_downstream.is_none();
        let stale = self
            .last_sync_downstream
            .is_some_and(|last| downstream - (last + 1) >= max_offset_lag);
        let skipped = self.previous_upstream.is_some_and(|p| upstream - p != 1);
        let truncated = self.previous_downstream.is_some_and(|p| downstream < p);
        let sync = first || stale || skipped || truncated;
        if sync {
            self.last_sync_downstream = Some(downstream);
        }
        self.previous_upstream = Some(upstream);
        self.previous_downstream = Some(downstream);
        sync
    }

    /// A record the replicator consumed but never wrote, and does not know it lost (a fault
    /// the tests inject): MM2 sees no gap, so no sync marks it.
    pub fn lose(&mut self, upstream: i64) {
        self.previous_upstream = Some(upstream);
    }
}

/// Every offset-sync seen, per (upstream topic, partition), oldest first, bounded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncHistory {
    by_partition: BTreeMap<(String, i32), Vec<(i64, i64)>>,
    limit: usize,
}

impl SyncHistory {
    pub fn new(limit: usize) -> Self {
        SyncHistory {
            by_partition: BTreeMap::new(),
            limit: limit.max(1),
        }
    }

    /// Adds a sync; one that cannot be true (a negative offset) is rejected on its own and
    /// leaves the history as it was.
    pub fn record(&mut self, s: &OffsetSync) -> crate::error::Result<()> {
        if s.upstream < 0 || s.downstream < 0 || s.partition < 0 {
            return Err(format!(
                "offset-sync {}/{} {}->{} rejected: negative offset or partition",
                s.topic, s.partition, s.upstream, s.downstream
            )
            .into());
        }
        let h = self.by_partition.entry((s.topic.clone(), s.partition)).or_default();
        // Compacted re-reads and restarts can repeat or rewind: keep the newest per upstream.
        h.retain(|(up, _)| *up < s.upstream);
        h.push((s.upstream, s.downstream));
        if h.len() > self.limit {
            let excess = h.len() - self.limit;
            h.drain(..excess);
        }
        Ok(())
    }

    /// The newest sync of a partition.
    pub fn newest(&self, topic: &str, partition: i32) -> Option<(i64, i64)> {
        self.by_partition.get(&(topic.to_string(), partition))?.last().copied()
    }

    /// The newest sync of every partition of `topic` that has one: one lookup per topic, for
    /// walks over all of a topic's partitions.
    pub fn newest_of_topic(&self, topic: &str) -> BTreeMap<i32, (i64, i64)> {
        let (from, to) = ((topic.to_string(), i32::MIN), (topic.to_string(), i32::MAX));
        self.by_partition
            .range(from..=to)
            .filter_map(|((_, p), syncs)| syncs.last().map(|s| (*p, *s)))
            .collect()
    }

    /// The oldest sync still known for a partition (where validation can start).
    pub fn oldest(&self, topic: &str, partition: i32) -> Option<(i64, i64)> {
        self.by_partition.get(&(topic.to_string(), partition))?.first().copied()
    }

    /// The oldest sync whose source record is still there (`upstream >= start`, the source's
    /// log start): where validation can start after retention deleted older records.
    pub fn oldest_from(&self, topic: &str, partition: i32, start: i64) -> Option<(i64, i64)> {
        self.by_partition
            .get(&(topic.to_string(), partition))?
            .iter()
            .find(|(up, _)| *up >= start)
            .copied()
    }

    /// The newest sync with `upstream <= offset`: the anchor for translating `offset`.
    pub fn anchor(&self, topic: &str, partition: i32, offset: i64) -> Option<(i64, i64)> {
        self.by_partition
            .get(&(topic.to_string(), partition))?
            .iter()
            .rev()
            .find(|(up, _)| *up <= offset)
            .copied()
    }

    pub fn len(&self) -> usize {
        self.by_partition.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// MM2's own translation of a committed offset (the "+1 rule"): exact at a sync, one past the
/// sync's downstream offset otherwise, none without a sync at or below it.
pub fn mm2_translate(anchor: Option<(i64, i64)>, committed: i64) -> Option<i64> {
    let (up, down) = anchor?;
    Some(if committed == up { down } else { down + 1 })
}

/// How many syncs MM2's checkpoint task remembers per partition.
const REMEMBERED: usize = 64;

/// The offset-syncs MM2's checkpoint task (Kafka 3.6+) remembers per partition, and so the
/// anchors its checkpoints use: not every sync, but the newest, then older ones ever further
/// apart. Slot 0 is the newest sync; slot i is replaced by a new sync when their upstream
/// offsets differ above bit i, so a slot keeps its sync while the offsets stay within the same
/// block of 2^i. A sync that goes back (a rewound source) replaces every slot. Measured on real
/// MM2: a group committed at 202 right after a sync there was checkpointed from the first sync
/// (201 records re-delivered); the "newest sync at or below" would have been exact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mm2SyncMemory {
    by_partition: BTreeMap<(String, i32), [(i64, i64); REMEMBERED]>,
}

impl Mm2SyncMemory {
    pub fn record(&mut self, topic: &str, partition: i32, upstream: i64, downstream: i64) {
        let sync = (upstream, downstream);
        let slots = self
            .by_partition
            .entry((topic.to_string(), partition))
            .or_insert([sync; REMEMBERED]);
        if upstream < slots[0].0 {
            *slots = [sync; REMEMBERED];
            return;
        }
        slots[0] = sync;
        for (i, slot) in slots.iter_mut().enumerate().skip(1) {
            let above_bit_i = i64::MAX << i;
            if (slot.0 ^ upstream) & above_bit_i == 0 {
                break;
            }
            *slot = sync;
        }
    }

    /// The checkpoint MM2 writes for a committed source offset: the +1 rule on the newest
    /// remembered sync at or below it; None when every remembered sync is past it (MM2 writes
    /// no usable checkpoint then).
    pub fn checkpoint(&self, topic: &str, partition: i32, committed: i64) -> Option<i64> {
        let slots = self.by_partition.get(&(topic.to_string(), partition))?;
        let anchor = slots.iter().find(|(up, _)| *up <= committed).copied();
        mm2_translate(anchor, committed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Syncs at 0, 101 and 202: 202 differs from 101 and from 0 up to bit 7, so it replaces
    /// slots 0 to 7 and slot 8 on keeps 0: a group at 137 is anchored at 0, as real MM2 did.
    #[test]
    fn mm2_remembers_fewer_syncs_the_older_they_are() {
        let mut m = Mm2SyncMemory::default();
        assert_eq!(m.checkpoint("t", 0, 5), None, "no sync yet");
        for up in [0, 101, 202] {
            m.record("t", 0, up, up);
        }
        assert_eq!(m.checkpoint("t", 0, 202), Some(202), "exact at the newest sync");
        assert_eq!(m.checkpoint("t", 0, 250), Some(203), "+1 past it");
        assert_eq!(m.checkpoint("t", 0, 137), Some(1), "101 is forgotten: anchored at 0");
        // Within one block of 2^i the older sync stays: 1024 then 1030 keeps 1024 in slot 3+.
        let mut m = Mm2SyncMemory::default();
        m.record("t", 0, 1024, 1000);
        m.record("t", 0, 1030, 1006);
        assert_eq!(m.checkpoint("t", 0, 1027), Some(1001));
        // A rewind forgets everything before it.
        m.record("t", 0, 500, 480);
        assert_eq!(m.checkpoint("t", 0, 1027), Some(481));
        assert_eq!(m.checkpoint("t", 0, 499), None);
    }

    #[test]
    fn emits_on_first_stale_gap_and_truncation() {
        let mut e = SyncEmitter::default();
        assert!(e.update(10, 0, 100), "first record");
        assert!(!e.update(11, 1, 100));
        for i in 2..100 {
            assert!(!e.update(10 + i, i, 100), "{i}");
        }
        assert!(e.update(111, 101, 100), "downstream 101 is 100 past the sync at 0, +1");
        assert!(e.update(113, 102, 100), "upstream gap (a transaction marker, say)");
        assert!(e.update(114, 50, 100), "target truncated");
        e.lose(115);
        assert!(!e.update(116, 51, 100), "a silently lost record leaves no gap");
    }

    /// A topic's newest syncs in one lookup are each partition's `newest`, and only that
    /// topic's (not a topic whose name it begins, nor the next one).
    #[test]
    fn the_newest_syncs_of_a_topic_are_each_partitions_newest() {
        let mut h = SyncHistory::new(3);
        for (topic, partition, up) in [("t", 0, 5), ("t", 0, 9), ("t", 2, 7), ("t2", 0, 1), ("s", 1, 3)] {
            h.record(&OffsetSync {
                topic: topic.into(),
                partition,
                upstream: up,
                downstream: up * 10,
            })
            .unwrap();
        }
        let all = h.newest_of_topic("t");
        assert_eq!(all, BTreeMap::from([(0, (9, 90)), (2, (7, 70))]));
        for (p, newest) in &all {
            assert_eq!(h.newest("t", *p), Some(*newest));
        }
        assert!(h.newest_of_topic("u").is_empty());
    }

    #[test]
    fn history_anchor_and_plus_one_rule() {
        let mut h = SyncHistory::new(3);
        for (up, down) in [(0, 0), (100, 90), (200, 180), (300, 270)] {
            h.record(&OffsetSync {
                topic: "t".into(),
                partition: 0,
                upstream: up,
                downstream: down,
            })
            .unwrap();
        }
        assert_eq!(h.len(), 3, "bounded");
        let bad = OffsetSync {
            topic: "t".into(),
            partition: 0,
            upstream: -5,
            downstream: -5,
        };
        assert!(h.record(&bad).is_err(), "a negative offset is rejected");
        assert_eq!(h.len(), 3, "and wipes nothing");
        assert_eq!(h.anchor("t", 0, 50), None, "the oldest sync was dropped");
        assert_eq!(h.anchor("t", 0, 250), Some((200, 180)));
        assert_eq!(h.newest("t", 0), Some((300, 270)));
        assert_eq!(mm2_translate(Some((200, 180)), 200), Some(180));
        assert_eq!(mm2_translate(Some((200, 180)), 237), Some(181));
        assert_eq!(mm2_translate(None, 5), None);
    }
}
