//! Replicated topic pairs and replication lag, derived from a snapshot.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::lag_time::{Age, Ages};
use super::target_only::{PartitionRanges, TargetOnly};
use super::{ClusterState, Health, Snapshot, TopicState};
use crate::config::{MonitorConfig, NameFilter, Replication};

/// The status word of a topic pair. Always shown as text, never by colour alone.
/// How bad a lag is, by the configured thresholds (0 turns a threshold off). A negative lag
/// (the target ahead of the source) is critical: it means extra or foreign records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LagLevel {
    Ok,
    Warn,
    Crit,
}

pub fn lag_level(lag: i64, thresholds: &MonitorConfig) -> LagLevel {
    if lag < 0 || (thresholds.lag_crit > 0 && lag >= thresholds.lag_crit) {
        LagLevel::Crit
    } else if thresholds.lag_warn > 0 && lag >= thresholds.lag_warn {
        LagLevel::Warn
    } else {
        LagLevel::Ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PairStatus {
    Ok,
    /// Lag at or above the warn threshold.
    Lag,
    /// Lag at or above the critical threshold.
    LagCrit,
    /// A cluster's figures are older than two refresh intervals (or never arrived).
    Stale,
    /// The topic does not exist on the target.
    Missing,
    /// Partition counts differ, or the target is ahead of the source.
    Mismatch,
}

impl PairStatus {
    pub fn word(self) -> &'static str {
        match self {
            PairStatus::Ok => "OK",
            PairStatus::Lag => "LAG",
            PairStatus::LagCrit => "LAG!",
            PairStatus::Stale => "STALE",
            PairStatus::Missing => "MISSING",
            PairStatus::Mismatch => "MISMATCH",
        }
    }
}

/// One partition of a topic pair, both sides side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionPair {
    pub partition: i32,
    pub source: Option<SideFigures>,
    pub target: Option<SideFigures>,
    /// Source end offset minus target end offset, when both are known.
    pub lag: Option<i64>,
    /// How old the oldest record waiting to be copied is (None: not known).
    pub lag_age: Option<Age>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SideFigures {
    pub low: super::Figure<i64>,
    pub high: super::Figure<i64>,
    pub leader: i32,
    pub isr: u16,
    pub replicas: u16,
    pub error: Option<String>,
}

/// One replicated topic: source name -> target name per the replication policy.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicPair {
    pub source_topic: String,
    pub target_topic: String,
    pub source_partitions: Option<usize>,
    pub target_partitions: Option<usize>,
    /// Sum of the source end offsets (None if any is unknown).
    pub source_end: Option<i64>,
    pub target_end: Option<i64>,
    /// Sum of the per-partition lags over the partitions both sides have.
    pub lag: Option<i64>,
    /// The oldest record waiting to be copied, over the partitions (None: some not known).
    pub lag_age: Option<Age>,
    pub status: PairStatus,
    /// Why a figure is missing, when one is (shown next to it).
    pub note: Option<String>,
}

fn side_figures(topic: Option<&TopicState>, partition: i32) -> Option<SideFigures> {
    let p = topic?.partition(partition)?;
    Some(SideFigures {
        low: p.low.clone(),
        high: p.high.clone(),
        leader: p.leader,
        isr: p.isr,
        replicas: p.replicas,
        error: p.error.clone(),
    })
}

/// Per-partition figures of one topic pair. Lag is the source end minus the target end,
/// unless `newest_sync` gives MM2's newest (source, target) pair for a partition: then it is
/// what the source gained since that record minus what the target gained, which stays right
/// when the two sides number their records differently.
/// `explained`: records on the target only (written there during a wave), which are no copy
/// of a source record and so no part of the lag.
pub fn partition_pairs(
    source: Option<&TopicState>,
    target: Option<&TopicState>,
    newest_sync: &dyn Fn(i32) -> Option<(i64, i64)>,
    explained: &TargetOnly,
) -> Vec<PartitionPair> {
    partition_ids(source, target)
        .into_iter()
        .map(|id| partition_pair(source, target, id, newest_sync(id), explained))
        .collect()
}

/// Replication lag of one partition: the records the source gained since MM2's newest
/// offset-sync (or since offset 0, when there is none) that the target did not, the target's
/// own records (written there during a wave) left out.
pub fn replication_lag(
    source_end: i64,
    target_end: i64,
    newest_sync: Option<(i64, i64)>,
    explained: PartitionRanges,
) -> i64 {
    match newest_sync {
        Some((up, down)) => (source_end - up) - (target_end - down - explained.count_between(down, target_end)),
        None => source_end - (target_end - explained.count_between(i64::MIN, target_end)),
    }
}

/// The partition ids either side has, in order: the Topic view's rows, whose figures are
/// derived for the rows on screen only.
pub fn partition_ids(source: Option<&TopicState>, target: Option<&TopicState>) -> Vec<i32> {
    let numbered_in_order = |t: &TopicState| t.partitions.iter().enumerate().all(|(i, p)| p.id as usize == i);
    let sides = || source.into_iter().chain(target);
    if sides().all(numbered_in_order) {
        // As Kafka numbers them: 0..n on each side, no sort needed.
        let n = sides().map(|t| t.partitions.len()).max().unwrap_or(0);
        return (0..n as i32).collect();
    }
    let mut ids: Vec<i32> = sides().flat_map(|t| t.partitions.iter().map(|p| p.id)).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The Topic view's rows: one topic's partitions by id, with the polls they were read in, so
/// each row's figures are derived when it is on screen (a topic can have 25,000 partitions).
#[derive(Debug, Clone, Default)]
pub struct PartitionRows {
    pub ids: Vec<i32>,
    source: Option<(Arc<ClusterState>, String)>,
    target: Option<(Arc<ClusterState>, String)>,
    syncs: BTreeMap<i32, (i64, i64)>,
    explained: Arc<TargetOnly>,
    lag_known: bool,
    ages: Arc<Ages>,
}

impl PartitionRows {
    /// The partitions of `topic` on the source and of its replica on the target that `keep`
    /// keeps (given the partition id).
    pub fn new(snapshot: &Snapshot, replication: &Replication, topic: &str, mut keep: impl FnMut(i32) -> bool) -> Self {
        let source = snapshot.source.last_good.clone().map(|c| (c, topic.to_string()));
        let target = snapshot
            .compared_target_arc()
            .map(|c| (c, replication.target_topic(topic)));
        let mut rows = PartitionRows {
            ids: Vec::new(),
            syncs: newest_syncs(snapshot, replication, topic),
            source,
            target,
            explained: snapshot.target_only.clone(),
            lag_known: lag_known(snapshot, replication),
            ages: snapshot.source.ages.clone(),
        };
        rows.ids = partition_ids(rows.topic(&rows.source), rows.topic(&rows.target));
        rows.ids.retain(|id| keep(*id));
        rows
    }

    fn topic<'a>(&self, side: &'a Option<(Arc<ClusterState>, String)>) -> Option<&'a TopicState> {
        side.as_ref().and_then(|(c, name)| c.topics.get(name))
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Row `i`'s figures on both sides.
    pub fn row(&self, i: usize) -> Option<PartitionPair> {
        let id = *self.ids.get(i)?;
        let mut pair = partition_pair(
            self.topic(&self.source),
            self.topic(&self.target),
            id,
            self.syncs.get(&id).copied(),
            &self.explained,
        );
        if !self.lag_known {
            pair.lag = None;
        }
        if let (Some(lag), Some((_, topic))) = (pair.lag, &self.source) {
            pair.lag_age = self.ages.replication(topic, id, lag);
        }
        Some(pair)
    }
}

/// One partition's figures on both sides; `newest_sync`: MM2's newest (source, target) pair
/// of it, if any.
pub fn partition_pair(
    source: Option<&TopicState>,
    target: Option<&TopicState>,
    id: i32,
    newest_sync: Option<(i64, i64)>,
    explained: &TargetOnly,
) -> PartitionPair {
    let s = side_figures(source, id);
    let t = side_figures(target, id);
    let lag = match (&s, &t, target) {
        (Some(s), Some(t), Some(tt)) => match (&s.high, &t.high) {
            (Ok(sh), Ok(th)) => Some(replication_lag(
                *sh,
                *th,
                newest_sync,
                explained.partition(&tt.name, id),
            )),
            _ => None,
        },
        _ => None,
    };
    PartitionPair {
        partition: id,
        source: s,
        target: t,
        lag,
        lag_age: None,
    }
}

/// The overview: one row per replicated topic that passes the topic filter.
pub fn topic_pairs(
    snapshot: &Snapshot,
    replication: &Replication,
    filter: &NameFilter,
    thresholds: &MonitorConfig,
    now: SystemTime,
) -> Vec<TopicPair> {
    let refresh = thresholds.refresh_interval;
    let Some(src) = snapshot.source.state() else {
        return Vec::new();
    };
    let tgt = snapshot.compared_target();
    let known = lag_known(snapshot, replication);
    let stale = |h: Health| !matches!(h, Health::Live);
    let any_stale = stale(snapshot.source.health(now, refresh)) || stale(snapshot.target.health(now, refresh));

    src.topics
        .values()
        .filter(|t| filter.matches(&t.name))
        .map(|s| {
            let target_topic = replication.target_topic(&s.name);
            let t = tgt.and_then(|c| c.topics.get(&target_topic));
            let syncs = newest_syncs(snapshot, replication, &s.name);
            let has_explained = snapshot.target_only.has_topic(&target_topic);
            // One pass over each side's partitions, without building their rows (25,000
            // partitions are derived on every changed poll).
            let (mut lag, mut max_lag, mut negative) = (None::<i64>, None::<i64>, false);
            let mut lag_age = Some(Age::ZERO);
            let (mut source_end, mut problem) = (Some(0i64), false);
            for sp in &s.partitions {
                problem |= sp.high.is_err() || sp.error.is_some();
                source_end = source_end.zip(sp.high.as_ref().ok()).map(|(sum, h)| sum + h);
                let Some(tp) = t.and_then(|t| t.partition(sp.id)).filter(|_| known) else {
                    continue;
                };
                let (Ok(sh), Ok(th)) = (&sp.high, &tp.high) else {
                    continue;
                };
                let explained = match has_explained {
                    true => snapshot.target_only.partition(&target_topic, sp.id),
                    false => PartitionRanges::default(),
                };
                let partition_lag = replication_lag(*sh, *th, syncs.get(&sp.id).copied(), explained);
                negative |= partition_lag < 0;
                max_lag = Some(max_lag.map_or(partition_lag, |m| m.max(partition_lag)));
                lag = Some(lag.unwrap_or(0) + partition_lag);
                let age = snapshot.source.ages.replication(&s.name, sp.id, partition_lag);
                lag_age = lag_age.and_then(|worst| age.map(|a| Age::worst(Some(worst), a)));
            }
            let mut target_end = t.map(|_| 0i64);
            for tp in t.iter().flat_map(|t| &t.partitions) {
                problem |= tp.high.is_err() || tp.error.is_some();
                target_end = target_end.zip(tp.high.as_ref().ok()).map(|(sum, h)| sum + h);
            }
            let note = s
                .error
                .clone()
                .or_else(|| t.and_then(|t| t.error.clone()))
                .or_else(|| problem.then(|| first_partition_problem(s, t)).flatten())
                .or_else(|| (!known && t.is_some()).then(|| WAITING_FOR_SYNCS.to_string()))
                .or_else(|| {
                    has_explained
                        .then(|| snapshot.target_only.topic_note(&target_topic))
                        .flatten()
                });
            let status = if any_stale {
                PairStatus::Stale
            } else if tgt.is_some() && t.is_none() {
                PairStatus::Missing
            } else if t.is_some_and(|t| t.partitions.len() != s.partitions.len()) || negative {
                PairStatus::Mismatch
            } else {
                match lag_level(max_lag.unwrap_or(0), thresholds) {
                    LagLevel::Crit => PairStatus::LagCrit,
                    LagLevel::Warn => PairStatus::Lag,
                    LagLevel::Ok => PairStatus::Ok,
                }
            };
            TopicPair {
                source_topic: s.name.clone(),
                target_topic,
                source_partitions: Some(s.partitions.len()),
                target_partitions: t.map(|t| t.partitions.len()),
                source_end,
                target_end,
                lag_age: lag_age.filter(|_| lag.is_some()),
                lag,
                status,
                note,
            }
        })
        .collect()
}

/// Every watched source partition where records wait to be copied: the oldest waiting one
/// (the source's end less the records waiting) and the end. None before lag can be known.
pub fn waiting_replication(snapshot: &Snapshot, replication: &Replication) -> Vec<super::lag_time::Waiting> {
    let (Some(src), Some(tgt)) = (snapshot.source.state(), snapshot.compared_target()) else {
        return Vec::new();
    };
    if !lag_known(snapshot, replication) {
        return Vec::new();
    }
    let mut waiting = Vec::new();
    for s in src.topics.values() {
        let target_topic = replication.target_topic(&s.name);
        let Some(t) = tgt.topics.get(&target_topic) else {
            continue;
        };
        let syncs = newest_syncs(snapshot, replication, &s.name);
        for sp in &s.partitions {
            let Some(tp) = t.partition(sp.id) else { continue };
            let (Ok(sh), Ok(th)) = (&sp.high, &tp.high) else {
                continue;
            };
            let explained = snapshot.target_only.partition(&target_topic, sp.id);
            let lag = replication_lag(*sh, *th, syncs.get(&sp.id).copied(), explained);
            if lag > 0 {
                waiting.push(super::lag_time::Waiting {
                    group: None,
                    topic: s.name.clone(),
                    partition: sp.id,
                    offset: sh - lag,
                    end: *sh,
                });
            }
        }
    }
    waiting
}

/// MM2's newest offset-sync of each partition of a source topic, when MM2 (not an
/// offset-preserving replicator) does the copying and its offset-syncs have been read: one
/// lookup per topic, for walks over its partitions.
pub fn newest_syncs(snapshot: &Snapshot, replication: &Replication, topic: &str) -> BTreeMap<i32, (i64, i64)> {
    match (&replication.kind, &snapshot.mm2) {
        (crate::config::ReplicationKind::MirrorMaker2, Some(mm2)) => mm2.syncs.newest_of_topic(topic),
        _ => BTreeMap::new(),
    }
}

/// Whether lag can be computed: with MirrorMaker 2, not before its offset-syncs were read once
/// (the two sides may number their records differently, so end offsets alone would be a guess:
/// a target with records of its own showed a false negative lag in the cockpit's first second).
pub fn lag_known(snapshot: &Snapshot, replication: &Replication) -> bool {
    replication.kind != crate::config::ReplicationKind::MirrorMaker2 || snapshot.mm2.is_some()
}

/// Shown in place of the lag while MM2's offset-syncs have not been read.
pub const WAITING_FOR_SYNCS: &str = "lag: MM2's offset-syncs not read yet";

/// The first unavailable end offset or partition error of a pair, in partition order, source
/// before target (the reason shown next to the topic's figures). Only asked when there is one.
fn first_partition_problem(s: &TopicState, t: Option<&TopicState>) -> Option<String> {
    partition_pairs(Some(s), t, &|_| None, &TargetOnly::default())
        .iter()
        .flat_map(|p| [&p.source, &p.target])
        .flatten()
        .find_map(|f| f.high.as_ref().err().cloned().or_else(|| f.error.clone()))
}

/// The last few lag figures of each topic, with the time of the poll they came from: the
/// trend column, and the time to drain.
#[derive(Debug, Clone, Default)]
pub struct LagHistory {
    by_topic: BTreeMap<String, VecDeque<(SystemTime, i64)>>,
    last_seq: u64,
}

pub const TREND_LEN: usize = 12;

impl LagHistory {
    /// Records the lag of every pair once per snapshot (`seq` avoids double counting); `at`:
    /// when the source was polled.
    pub fn record(&mut self, seq: u64, at: SystemTime, pairs: &[TopicPair]) {
        if seq == self.last_seq {
            return;
        }
        self.last_seq = seq;
        for p in pairs {
            let Some(lag) = p.lag else { continue };
            let h = self.by_topic.entry(p.source_topic.clone()).or_default();
            if h.back().is_some_and(|(t, _)| *t == at) {
                continue;
            }
            if h.len() == TREND_LEN {
                h.pop_front();
            }
            h.push_back((at, lag));
        }
    }

    pub fn trend(&self, topic: &str) -> Vec<i64> {
        self.by_topic
            .get(topic)
            .map(|h| h.iter().map(|(_, l)| *l).collect())
            .unwrap_or_default()
    }

    /// How long the topic's lag takes to drain at the pace of the trend.
    pub fn drain(&self, topic: &str) -> super::lag_time::Drain {
        let samples: Vec<(SystemTime, i64)> = self
            .by_topic
            .get(topic)
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default();
        super::lag_time::drain(&samples)
    }
}

/// A sparkline in text: `▁▂▄█`, scaled to the window's max. Empty history gives "".
pub fn sparkline(values: &[i64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().map(|v| v.max(0)).max().unwrap_or(0);
    values
        .iter()
        .map(|v| {
            if max == 0 {
                BARS[0]
            } else {
                let i = (v.max(&0) * 7 + max / 2) / max;
                BARS[i.clamp(0, 7) as usize]
            }
        })
        .collect()
}

/// Age of a cluster's figures as shown in the header.
pub fn age_label(age: Option<Duration>) -> String {
    match age {
        Some(a) => format!("{} ago", super::short_duration(a)),
        None => "never".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClusterFeed, ClusterState, PartitionState};
    use std::sync::Arc;

    fn topic(name: &str, highs: &[i64]) -> TopicState {
        TopicState {
            name: name.into(),
            error: None,
            partitions: highs
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
                .collect(),
        }
    }

    fn feed(name: &str, at: SystemTime, topics: Vec<TopicState>) -> ClusterFeed {
        ClusterFeed {
            name: name.into(),
            last_error: None,
            figures_version: 0,
            last_good: Some(Arc::new(ClusterState {
                polled_at: at,
                poll_duration: Duration::ZERO,
                brokers: vec![],
                topics: topics.into_iter().map(|t| (t.name.clone(), t)).collect(),
                configs: Ok(Default::default()),
                groups: Ok(vec![]),
            })),
            ages: Default::default(),
        }
    }

    #[test]
    fn pairs_lag_and_status() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let snap = Snapshot {
            target_only: Default::default(),
            source: feed(
                "s",
                now,
                vec![
                    topic("a", &[10, 2000]),
                    topic("b", &[5]),
                    topic("c", &[1, 1]),
                    topic("__x", &[1]),
                ],
            ),
            target: feed("t", now, vec![topic("source.a", &[10, 0]), topic("source.c", &[1])]),
            seq: 1,
            target_before_source: None,
            // MM2's state read (no sync yet): lag is the difference of end offsets.
            mm2: Some(Arc::new(crate::mm2::state::Mm2State::new(
                "src",
                "dst",
                SystemTime::UNIX_EPOCH,
            ))),
        };
        let cfg = MonitorConfig::default();
        let rows = topic_pairs(&snap, &Replication::default(), &NameFilter::topics_default(), &cfg, now);
        let by: BTreeMap<_, _> = rows.iter().map(|r| (r.source_topic.as_str(), r)).collect();
        assert_eq!(by.len(), 3, "internal topics are filtered");
        assert_eq!(by["a"].lag, Some(2000));
        assert_eq!(by["a"].status, PairStatus::Lag);
        assert_eq!(by["b"].status, PairStatus::Missing);
        assert_eq!(by["c"].status, PairStatus::Mismatch);
        let later = now + cfg.refresh_interval * 3;
        let stale = topic_pairs(
            &snap,
            &Replication::default(),
            &NameFilter::topics_default(),
            &cfg,
            later,
        );
        assert!(stale.iter().all(|r| r.status == PairStatus::Stale));
    }

    use proptest::prelude::*;

    fn arbitrary_topic(name: &'static str) -> impl Strategy<Value = TopicState> {
        proptest::collection::vec((0i64..50, 0u8..10), 0..6).prop_map(move |parts| TopicState {
            name: name.into(),
            error: None,
            partitions: parts
                .into_iter()
                .enumerate()
                .map(|(i, (high, trouble))| PartitionState {
                    id: i as i32,
                    leader: 1,
                    replicas: 1,
                    isr: 1,
                    low: Ok(0),
                    high: if trouble == 0 {
                        Err(format!("unavailable: {name}/{i}"))
                    } else {
                        Ok(high)
                    },
                    error: (trouble == 1).then(|| format!("leader not available: {name}/{i}")),
                })
                .collect(),
        })
    }

    /// A topic whose partitions may come in any order and with gaps (a poll keeps Kafka's
    /// order; this is the case the Topic view must still get right).
    fn shuffled_topic(name: &'static str) -> impl Strategy<Value = TopicState> {
        (
            proptest::sample::subsequence((0..8).collect::<Vec<i32>>(), 0..8),
            proptest::bool::ANY,
        )
            .prop_flat_map(|(ids, shuffle)| {
                let ids = Just(ids);
                (
                    if shuffle {
                        ids.prop_shuffle().boxed()
                    } else {
                        ids.boxed()
                    },
                    proptest::collection::vec(0i64..50, 8),
                )
            })
            .prop_map(move |(ids, highs)| TopicState {
                name: name.into(),
                error: None,
                partitions: ids
                    .into_iter()
                    .map(|id| PartitionState {
                        id,
                        leader: 1,
                        replicas: 1,
                        isr: 1,
                        low: Ok(0),
                        high: Ok(highs[id as usize]),
                        error: None,
                    })
                    .collect(),
            })
    }

    proptest! {
        /// The Topic view's rows, derived row by row, are every partition either side has, in
        /// id order, each with both sides' figures, whatever order the poll kept them in.
        #[test]
        fn the_topic_views_rows_are_every_partition_of_either_side_in_order(
            s in shuffled_topic("a"),
            t in shuffled_topic("source.a"),
            even_only in proptest::bool::ANY,
        ) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
            let snap = Snapshot {
                target_only: Default::default(),
                source: feed("s", now, vec![s.clone()]),
                target: feed("t", now, vec![t.clone()]),
                seq: 1,
                target_before_source: None,
                // MM2's state read (no sync yet): lag is the difference of end offsets.
            mm2: Some(Arc::new(crate::mm2::state::Mm2State::new("src", "dst", SystemTime::UNIX_EPOCH))),
            };
            let keep = |id: i32| !even_only || id % 2 == 0;
            let rows = PartitionRows::new(&snap, &Replication::default(), "a", keep);
            let high = |topic: &TopicState, id: i32| {
                topic.partitions.iter().find(|p| p.id == id).map(|p| *p.high.as_ref().unwrap())
            };
            let mut ids: Vec<i32> = s.partitions.iter().chain(&t.partitions).map(|p| p.id).filter(|id| keep(*id)).collect();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(rows.len(), ids.len());
            for (i, id) in ids.iter().enumerate() {
                let row = rows.row(i).unwrap();
                prop_assert_eq!(row.partition, *id);
                let (sh, th) = (high(&s, *id), high(&t, *id));
                prop_assert_eq!(row.source.map(|f| f.high.unwrap()), sh);
                prop_assert_eq!(row.target.map(|f| f.high.unwrap()), th);
                prop_assert_eq!(row.lag, sh.zip(th).map(|(a, b)| a - b));
            }
            prop_assert!(rows.row(ids.len()).is_none());
        }

        /// The overview's one-pass figures are the sums and worst cases of the per-partition
        /// rows the Topic view shows (`partition_pairs`), partition counts and errors included.
        #[test]
        fn a_topics_figures_agree_with_its_partition_rows(s in arbitrary_topic("a"), t in arbitrary_topic("source.a")) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
            let snap = Snapshot {
                target_only: Default::default(),
                source: feed("s", now, vec![s.clone()]),
                target: feed("t", now, vec![t.clone()]),
                seq: 1,
                target_before_source: None,
                // MM2's state read (no sync yet): lag is the difference of end offsets.
            mm2: Some(Arc::new(crate::mm2::state::Mm2State::new("src", "dst", SystemTime::UNIX_EPOCH))),
            };
            let cfg = MonitorConfig::default();
            let pair = topic_pairs(&snap, &Replication::default(), &NameFilter::topics_default(), &cfg, now).remove(0);
            let rows = partition_pairs(Some(&s), Some(&t), &|_| None, &TargetOnly::default());
            let lags: Vec<i64> = rows.iter().filter_map(|r| r.lag).collect();
            prop_assert_eq!(pair.lag, (!lags.is_empty()).then(|| lags.iter().sum::<i64>()));
            let note = rows
                .iter()
                .flat_map(|p| [&p.source, &p.target])
                .flatten()
                .find_map(|f| f.high.as_ref().err().cloned().or_else(|| f.error.clone()));
            prop_assert_eq!(pair.note, note);
            let status = if s.partitions.len() != t.partitions.len() || lags.iter().any(|l| *l < 0) {
                PairStatus::Mismatch
            } else {
                match lag_level(lags.iter().copied().max().unwrap_or(0), &cfg) {
                    LagLevel::Crit => PairStatus::LagCrit,
                    LagLevel::Warn => PairStatus::Lag,
                    LagLevel::Ok => PairStatus::Ok,
                }
            };
            prop_assert_eq!(pair.status, status);
        }
    }

    #[test]
    fn sparkline_scales() {
        assert_eq!(sparkline(&[0, 7, 14]), "▁▅█");
        assert_eq!(sparkline(&[0, 0]), "▁▁");
        assert_eq!(sparkline(&[]), "");
    }
}
