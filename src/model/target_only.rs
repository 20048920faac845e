//! Records that exist on the target only: written there by the application's producers
//! during a wave (from `flip_producers` until a rollback stopped them), never on the source.
//! The journal says where they are (the target's end offsets at the flip and when the writes
//! stopped); lag, drift, validation and translation step over them as explained, instead of
//! calling them extra records, negative lag or a divergence.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// One partition's records written on the target only during one run of a wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetOnlyRange {
    pub wave: String,
    /// The topic as the target names it.
    pub topic: String,
    pub partition: i32,
    /// The target's end offset when the producers were flipped: the range's first offset.
    pub from: i64,
    /// The target's end offset when a rollback stopped the writes; None while they go on
    /// (the wave is done, or its rollback has not stopped them yet).
    pub to: Option<i64>,
    /// When the producers were flipped and (once rolled back) when writes stopped, ms.
    pub flipped_at_ms: i64,
    pub stopped_at_ms: Option<i64>,
}

impl TargetOnlyRange {
    /// Whether `offset` lies in the range.
    pub fn contains(&self, offset: i64) -> bool {
        offset >= self.from && self.to.is_none_or(|to| offset < to)
    }

    /// Offsets of the range in [from, to).
    fn overlap(&self, from: i64, to: i64) -> i64 {
        let end = self.to.map_or(to, |t| t.min(to));
        (end - self.from.max(from)).max(0)
    }

    /// Records in the range, once it is closed.
    pub fn records(&self) -> Option<i64> {
        self.to.map(|to| to - self.from)
    }

    /// "40 records written on the target during wave analytics (rolled back at 04:01:07Z)".
    pub fn describe(&self) -> String {
        let at = |ms: i64| crate::model::groups::clock(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64));
        match (self.to, self.stopped_at_ms) {
            (Some(to), Some(stopped)) => format!(
                "{} records ({}..{}) written on the target during wave {} (rolled back at {})",
                to - self.from,
                self.from,
                to,
                self.wave,
                at(stopped)
            ),
            _ => format!(
                "records from {} on are written on the target since wave {} flipped its producers ({})",
                self.from,
                self.wave,
                at(self.flipped_at_ms)
            ),
        }
    }
}

/// Every partition's target-only ranges, by (target topic, partition), oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetOnly {
    ranges: BTreeMap<(String, i32), Vec<TargetOnlyRange>>,
}

/// One partition's ranges (empty when it has none).
#[derive(Debug, Clone, Copy, Default)]
pub struct PartitionRanges<'a>(pub &'a [TargetOnlyRange]);

impl TargetOnly {
    pub fn new(ranges: impl IntoIterator<Item = TargetOnlyRange>) -> TargetOnly {
        let mut out = TargetOnly::default();
        for r in ranges {
            out.ranges.entry((r.topic.clone(), r.partition)).or_default().push(r);
        }
        for v in out.ranges.values_mut() {
            v.sort_by_key(|r| r.from);
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn partition(&self, target_topic: &str, partition: i32) -> PartitionRanges<'_> {
        // A lookup without allocating: most partitions have no range.
        PartitionRanges(
            self.ranges
                .range((target_topic.to_string(), partition)..=(target_topic.to_string(), partition))
                .next()
                .map_or(&[][..], |(_, v)| v.as_slice()),
        )
    }

    /// Whether any partition of the topic has a range (a cheap test before per-partition work).
    pub fn has_topic(&self, target_topic: &str) -> bool {
        self.ranges.keys().any(|(t, _)| t == target_topic)
    }

    /// One line for a topic: its records written on the target only, per wave run, summed
    /// over its partitions ("40 records written on the target during wave analytics (rolled
    /// back at 04:01:07Z)").
    pub fn topic_note(&self, target_topic: &str) -> Option<String> {
        let mut runs: BTreeMap<(i64, &str), (i64, Option<i64>, bool)> = BTreeMap::new();
        for r in self
            .ranges
            .iter()
            .filter(|((t, _), _)| t == target_topic)
            .flat_map(|(_, v)| v)
        {
            let run = runs
                .entry((r.flipped_at_ms, &r.wave))
                .or_insert((0, r.stopped_at_ms, false));
            run.0 += r.records().unwrap_or(0);
            run.2 |= r.to.is_none();
        }
        let at = |ms: i64| crate::model::groups::clock(time_of(ms));
        let lines: Vec<String> = runs
            .iter()
            .map(|((flipped, wave), (n, stopped, open))| match (open, stopped) {
                (false, Some(stopped)) => format!(
                    "{n} records written on the target during wave {wave} (rolled back at {})",
                    at(*stopped)
                ),
                _ => format!(
                    "written on the target since wave {wave} flipped its producers ({})",
                    at(*flipped)
                ),
            })
            .collect();
        (!lines.is_empty()).then(|| lines.join("; "))
    }

    pub fn all(&self) -> impl Iterator<Item = &TargetOnlyRange> {
        self.ranges.values().flatten()
    }
}

impl PartitionRanges<'_> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Target-only offsets in [from, to).
    pub fn count_between(&self, from: i64, to: i64) -> i64 {
        self.0.iter().map(|r| r.overlap(from, to)).sum()
    }

    pub fn contains(&self, offset: i64) -> bool {
        self.0.iter().any(|r| r.contains(offset))
    }

    /// The first offset at or after `offset` outside every closed range (an offset inside an
    /// open range stays: the records after it are still being written).
    pub fn skip(&self, offset: i64) -> i64 {
        let mut at = offset;
        for r in self.0 {
            if let Some(to) = r.to {
                if r.contains(at) {
                    at = to;
                }
            }
        }
        at
    }

    /// With an offset-preserving replicator, the target offset of source offset `source`: the
    /// same offset, moved on by every range that lies before it.
    pub fn shift(&self, source: i64) -> i64 {
        let mut at = source;
        for r in self.0 {
            if r.from <= at {
                at += r.records().unwrap_or(0);
            }
        }
        at
    }

    /// The target offset `n` records after `from` (itself a copy), the target-only records
    /// between them counted over.
    pub fn advance(&self, from: i64, n: i64) -> i64 {
        let (mut at, mut left) = (from, n);
        for r in self.0.iter().filter(|r| r.from > from) {
            if left < r.from - at {
                break;
            }
            match r.to {
                Some(to) => {
                    left -= r.from - at;
                    at = to;
                }
                None => break,
            }
        }
        at + left
    }

    /// Target offset back to the source offset an offset-preserving replicator gave it.
    pub fn unshift(&self, target: i64) -> i64 {
        target - self.count_between(i64::MIN, target)
    }

    /// What the ranges say, for a row's note; None when there are none.
    pub fn note(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(TargetOnlyRange::describe)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// When a range was flipped, as a time.
pub fn time_of(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(from: i64, to: Option<i64>) -> TargetOnlyRange {
        TargetOnlyRange {
            wave: "analytics".into(),
            topic: "src.clicks".into(),
            partition: 0,
            from,
            to,
            flipped_at_ms: 1_700_000_000_000,
            stopped_at_ms: to.map(|_| 1_700_000_060_000),
        }
    }

    #[test]
    fn counts_skips_and_shifts_over_closed_ranges() {
        let t = TargetOnly::new([range(100, Some(140)), range(10, Some(15))]);
        let p = t.partition("src.clicks", 0);
        assert!(t.partition("src.clicks", 1).is_empty());
        assert_eq!(p.count_between(0, 1000), 45);
        assert_eq!(p.count_between(120, 1000), 20);
        assert_eq!(p.count_between(0, 12), 2);
        assert_eq!(p.count_between(140, 1000), 0);
        assert_eq!(p.skip(100), 140);
        assert_eq!(p.skip(139), 140);
        assert_eq!(p.skip(140), 140);
        assert_eq!(p.skip(99), 99);
        // Source offsets 0..10 are target 0..10; 10..95 are 15..100; 95.. are 140..
        assert_eq!(p.shift(9), 9);
        assert_eq!(p.shift(10), 15);
        assert_eq!(p.shift(94), 99);
        assert_eq!(p.shift(95), 140);
        for s in [0, 9, 10, 50, 94, 95, 300] {
            assert_eq!(p.unshift(p.shift(s)), s);
            assert_eq!(p.advance(0, s), p.shift(s), "from offset 0, counting is shifting");
        }
        assert_eq!(p.advance(99, 1), 140);
        assert_eq!(p.advance(140, 3), 143);
        assert!(p
            .note()
            .unwrap()
            .contains("40 records (100..140) written on the target during wave analytics"));
    }

    #[test]
    fn an_open_range_explains_everything_after_it_and_is_not_skipped() {
        let t = TargetOnly::new([range(100, None)]);
        let p = t.partition("src.clicks", 0);
        assert_eq!(p.count_between(0, 130), 30);
        assert!(p.contains(5_000));
        assert_eq!(p.skip(120), 120);
        assert!(p.note().unwrap().contains("since wave analytics flipped its producers"));
    }
}
