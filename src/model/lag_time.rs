//! Lag in seconds: how old the oldest record still waiting is (to be copied to the target, or
//! to be read by a group).
//!
//! Exact when that record's timestamp was read (`RecordTimes`, once per lagging partition and
//! poll, cached by offset); otherwise estimated as kafka-lag-exporter does: each partition's
//! end offsets as the polls saw them (`EndHistory`), linearly interpolated to the time the
//! record was written. A partition with nothing waiting is 0 s behind.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use super::ClusterState;

/// How an age was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeHow {
    /// From the waiting record's own timestamp (or nothing is waiting).
    Exact,
    /// Interpolated from the end offsets the polls saw.
    Estimated,
    /// The record is older than the first poll remembered: at least this old.
    AtLeast,
}

/// The age of the oldest waiting record, at the time of the poll that saw it waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Age {
    pub age: Duration,
    pub how: AgeHow,
}

impl Age {
    pub const ZERO: Age = Age {
        age: Duration::ZERO,
        how: AgeHow::Exact,
    };

    /// "0s", "4.2s", "~4.2s" (estimated), ">2m05s" (at least), short enough for a cell.
    pub fn label(&self) -> String {
        let mark = match self.how {
            AgeHow::Exact => "",
            AgeHow::Estimated => "~",
            AgeHow::AtLeast => ">",
        };
        format!("{mark}{}", seconds_label(self.age))
    }

    pub fn seconds(&self) -> f64 {
        self.age.as_secs_f64()
    }

    /// The older of two ages; of equal ages, the less certain.
    pub fn worst(a: Option<Age>, b: Age) -> Age {
        match a {
            Some(a) if (a.age, a.how) > (b.age, b.how) => a,
            _ => b,
        }
    }
}

/// "0s", "4.2s" below a minute, then as `short_duration`.
pub fn seconds_label(d: Duration) -> String {
    if d.is_zero() {
        "0s".into()
    } else if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        super::short_duration(d)
    }
}

/// Points kept per partition: when full, every other point of the older half goes, so the
/// table covers ever longer spans at a coarser grain (25,000 partitions stay a few MB).
pub const HISTORY_POINTS: usize = 32;

/// Each partition's end offsets as the polls of one cluster saw them: (end, poll time) points,
/// one per change of the end, oldest first.
#[derive(Debug, Clone, Default)]
pub struct EndHistory {
    /// Topic -> partition -> points (looked up by name without allocating: 25,000 partitions
    /// are recorded on every poll).
    points: HashMap<String, HashMap<i32, VecDeque<(i64, SystemTime)>>>,
}

impl EndHistory {
    /// Adds the ends of a poll. An end that went down (a topic deleted and made again) starts
    /// the partition's table anew; topics no longer polled are forgotten.
    pub fn record(&mut self, state: &ClusterState) {
        let at = state.polled_at;
        for t in state.topics.values() {
            let partitions = match self.points.get_mut(t.name.as_str()) {
                Some(p) => p,
                None => self.points.entry(t.name.clone()).or_default(),
            };
            partitions.retain(|id, _| t.partition(*id).is_some());
            for p in &t.partitions {
                let Ok(end) = p.high else { continue };
                let points = partitions.entry(p.id).or_default();
                match points.back() {
                    Some(&(last, _)) if last == end => continue,
                    Some(&(last, _)) if last > end => points.clear(),
                    _ => {}
                }
                if points.len() == HISTORY_POINTS {
                    thin_older_half(points);
                }
                points.push_back((end, at));
            }
        }
        if self.points.len() > state.topics.len() {
            self.points.retain(|topic, _| state.topics.contains_key(topic));
        }
    }

    /// When the record at `offset` was written, from the ends seen: between the last poll
    /// whose end was at or below it and the first whose end was above it, linearly. None
    /// when no poll saw it written yet, or nothing was seen of the partition.
    pub fn written_at(&self, topic: &str, partition: i32, offset: i64) -> Option<(SystemTime, AgeHow)> {
        let points = self.points.get(topic)?.get(&partition)?;
        interpolate(points.iter().copied(), offset)
    }
}

fn thin_older_half(points: &mut VecDeque<(i64, SystemTime)>) {
    let half = points.len() / 2;
    let mut i = 0;
    points.retain(|_| {
        i += 1;
        // Keep the first point (the span's start) and every other one up to the half.
        i > half || i % 2 == 1
    });
}

/// The interpolation itself over (end, time) points, oldest first.
pub fn interpolate(points: impl Iterator<Item = (i64, SystemTime)>, offset: i64) -> Option<(SystemTime, AgeHow)> {
    let mut before: Option<(i64, SystemTime)> = None;
    for (end, at) in points {
        if end > offset {
            return Some(match before {
                // Already there when first seen: written before then.
                None => (at, AgeHow::AtLeast),
                Some((end0, at0)) => {
                    // Written after the poll at `at0` and by the one at `at`: the records in
                    // between spread evenly over that span.
                    let share = (offset - end0 + 1) as f64 / (end - end0) as f64;
                    let span = at.duration_since(at0).unwrap_or_default();
                    (at0 + span.mul_f64(share.clamp(0.0, 1.0)), AgeHow::Estimated)
                }
            });
        }
        before = Some((end, at));
    }
    None
}

/// Timestamps read from records: (topic, partition, offset asked) -> ms of the first record at
/// or after that offset.
#[derive(Debug, Clone, Default)]
pub struct RecordTimes {
    by_offset: HashMap<(String, i32, i64), i64>,
}

impl RecordTimes {
    pub fn get(&self, topic: &str, partition: i32, offset: i64) -> Option<i64> {
        self.by_offset.get(&(topic.to_string(), partition, offset)).copied()
    }

    pub fn insert(&mut self, topic: &str, partition: i32, offset: i64, ms: i64) {
        self.by_offset.insert((topic.to_string(), partition, offset), ms);
    }

    /// Forgets the records no longer waiting (each is read once while it waits).
    pub fn keep_only(&mut self, waiting: &[Waiting]) {
        let keep: std::collections::HashSet<(&str, i32, i64)> = waiting
            .iter()
            .map(|w| (w.topic.as_str(), w.partition, w.offset))
            .collect();
        self.by_offset
            .retain(|(t, p, o), _| keep.contains(&(t.as_str(), *p, *o)));
    }
}

/// The age of the oldest waiting record of a partition whose waiting records start at
/// `offset` and end before `end`, as seen by the poll at `at`: exact when its timestamp was
/// read, else estimated from the history; None when neither knows.
pub fn age(
    history: &EndHistory,
    times: &RecordTimes,
    (topic, partition): (&str, i32),
    offset: i64,
    end: i64,
    at: SystemTime,
) -> Option<Age> {
    if offset >= end {
        return Some(Age::ZERO);
    }
    let since = |then: SystemTime| at.duration_since(then).unwrap_or_default();
    if let Some(ms) = times.get(topic, partition, offset) {
        let written = SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
        return Some(Age {
            age: since(written),
            how: AgeHow::Exact,
        });
    }
    history.written_at(topic, partition, offset).map(|(written, how)| Age {
        age: since(written),
        how,
    })
}

/// A record waiting on one partition: to be copied (replication) or read by a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The group that has yet to read it; None: replication (the source topic's partition).
    pub group: Option<String>,
    pub topic: String,
    pub partition: i32,
    /// The oldest waiting record's offset, and the partition's end offset.
    pub offset: i64,
    pub end: i64,
}

/// The ages one cluster's poll gave: for the source, replication lag (by source topic and
/// partition) and its groups' lag; for the target, its groups' lag. Only partitions where
/// records wait are listed: any other is 0 s behind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ages {
    /// When the poll they belong to finished.
    pub at: Option<SystemTime>,
    pub replication: HashMap<(String, i32), Age>,
    pub consumer: HashMap<(String, String, i32), Age>,
}

impl Ages {
    /// From what waits, the poll's time, the ends seen and the timestamps read. A waiting
    /// record neither read nor in the history has no age (shown as unknown, never as 0).
    pub fn of(waiting: &[Waiting], at: SystemTime, history: &EndHistory, times: &RecordTimes) -> Ages {
        let mut ages = Ages {
            at: Some(at),
            ..Ages::default()
        };
        for w in waiting {
            let Some(a) = age(history, times, (&w.topic, w.partition), w.offset, w.end, at) else {
                continue;
            };
            match &w.group {
                None => ages.replication.insert((w.topic.clone(), w.partition), a),
                Some(g) => ages.consumer.insert((g.clone(), w.topic.clone(), w.partition), a),
            };
        }
        ages
    }

    /// Replication lag of a source partition with `records` waiting: 0 s when none wait.
    pub fn replication(&self, topic: &str, partition: i32, records: i64) -> Option<Age> {
        match records <= 0 {
            true => Some(Age::ZERO),
            false => self.replication.get(&(topic.to_string(), partition)).copied(),
        }
    }

    /// A group's lag on one partition of this side with `records` unread.
    pub fn consumer(&self, group: &str, topic: &str, partition: i32, records: i64) -> Option<Age> {
        match records <= 0 {
            true => Some(Age::ZERO),
            false => self
                .consumer
                .get(&(group.to_string(), topic.to_string(), partition))
                .copied(),
        }
    }
}

/// The worst of many partitions' ages; None if any is unknown (a part is no whole).
pub fn worst(ages: impl IntoIterator<Item = Option<Age>>) -> Option<Age> {
    let mut worst = Some(Age::ZERO);
    for a in ages {
        worst = Some(Age::worst(worst, a?));
    }
    worst
}

/// How long a lag takes to drain at the pace it fell over the samples (time, records).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Drain {
    /// Nothing waits.
    Drained,
    /// At the pace of the window, this long.
    In(Duration),
    /// The lag did not fall over the window.
    NotDraining,
    /// Fewer than two samples.
    Unknown,
}

impl Drain {
    pub fn label(&self) -> String {
        match self {
            Drain::Drained => "drained".into(),
            Drain::In(d) => seconds_label(*d),
            Drain::NotDraining => "not draining".into(),
            Drain::Unknown => "-".into(),
        }
    }

    pub fn seconds(&self) -> Option<f64> {
        match self {
            Drain::Drained => Some(0.0),
            Drain::In(d) => Some(d.as_secs_f64()),
            _ => None,
        }
    }
}

/// Time to drain from a lag trend, oldest sample first: the newest lag over the rate at which
/// it fell between the window's first and last samples.
pub fn drain(samples: &[(SystemTime, i64)]) -> Drain {
    let (Some(&(t0, first)), Some(&(t1, last))) = (samples.first(), samples.last()) else {
        return Drain::Unknown;
    };
    if last <= 0 {
        return Drain::Drained;
    }
    let span = t1.duration_since(t0).unwrap_or_default().as_secs_f64();
    if samples.len() < 2 || span <= 0.0 {
        return Drain::Unknown;
    }
    let per_second = (first - last) as f64 / span;
    if per_second <= 0.0 {
        return Drain::NotDraining;
    }
    Drain::In(Duration::from_secs_f64(last as f64 / per_second))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PartitionState, TopicState};
    use std::collections::BTreeMap;

    fn t(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    fn state(at: SystemTime, ends: &[i64]) -> ClusterState {
        ClusterState {
            polled_at: at,
            poll_duration: Duration::ZERO,
            brokers: vec![],
            topics: BTreeMap::from([(
                "orders".to_string(),
                TopicState {
                    name: "orders".into(),
                    error: None,
                    partitions: ends
                        .iter()
                        .enumerate()
                        .map(|(i, e)| PartitionState {
                            id: i as i32,
                            leader: 1,
                            replicas: 1,
                            isr: 1,
                            low: Ok(0),
                            high: Ok(*e),
                            error: None,
                        })
                        .collect(),
                },
            )]),
            configs: Ok(Default::default()),
            groups: Ok(vec![]),
        }
    }

    /// A steady 100 records/s seen every second: a record's time is interpolated to the
    /// millisecond between the polls that bracket it.
    #[test]
    fn a_steady_rate_is_interpolated_between_the_polls_that_bracket_a_record() {
        let mut h = EndHistory::default();
        for s in 1..10u64 {
            h.record(&state(t(s * 1000), &[100 * s as i64]));
        }
        // Offset 250 is the 51st record written after the poll at 2 s (end 200): 2.51 s.
        let (at, how) = h.written_at("orders", 0, 250).unwrap();
        assert_eq!(how, AgeHow::Estimated);
        assert_eq!(at.duration_since(t(0)).unwrap(), Duration::from_millis(2_510));
        // Not written yet: no time.
        assert_eq!(h.written_at("orders", 0, 900), None);
        // Written before the first poll: at least that old.
        let (at, how) = h.written_at("orders", 0, 0).unwrap();
        assert_eq!((at, how), (t(1000), AgeHow::AtLeast));
        let age = age(&h, &RecordTimes::default(), ("orders", 0), 250, 900, t(9000)).unwrap();
        assert_eq!(age.age, Duration::from_millis(6_490));
        assert_eq!(age.label(), "~6.5s");
    }

    #[test]
    fn an_exact_timestamp_wins_and_nothing_waiting_is_zero() {
        let h = EndHistory::default();
        let mut times = RecordTimes::default();
        times.insert("orders", 0, 40, 1_700_000_003_000);
        let a = age(&h, &times, ("orders", 0), 40, 90, t(7_500)).unwrap();
        assert_eq!((a.age, a.how), (Duration::from_millis(4_500), AgeHow::Exact));
        assert_eq!(a.label(), "4.5s");
        // Read for another offset: not this one's, and no history to estimate from.
        assert_eq!(age(&h, &times, ("orders", 0), 41, 90, t(7_500)), None);
        // Nothing waiting: 0 s, never unknown.
        assert_eq!(age(&h, &times, ("orders", 0), 90, 90, t(7_500)), Some(Age::ZERO));
        assert_eq!(Age::ZERO.label(), "0s");
    }

    #[test]
    fn the_table_thins_its_older_half_and_restarts_when_an_end_goes_down() {
        let mut h = EndHistory::default();
        for s in 0..200u64 {
            h.record(&state(t(s * 1000), &[10 * s as i64]));
        }
        let points = &h.points["orders"][&0];
        assert!(points.len() <= HISTORY_POINTS);
        // The span still starts near the beginning, and the newest points are one poll apart.
        assert_eq!(points.front().unwrap().1, t(0));
        assert_eq!(points.back().unwrap().0, 1990);
        assert_eq!(points[points.len() - 2].0, 1980);
        // Unchanged ends add nothing.
        h.record(&state(t(300_000), &[1990]));
        assert_eq!(h.points["orders"][&0].back().unwrap().1, t(199_000));
        // The topic made again: the table starts over.
        h.record(&state(t(301_000), &[5]));
        assert_eq!(h.points["orders"][&0].len(), 1);
        // A partition no longer polled is forgotten.
        h.record(&state(t(302_000), &[]));
        assert!(h.points["orders"].is_empty());
    }

    #[test]
    fn drain_time_from_the_trend() {
        let s = |v: &[(u64, i64)]| v.iter().map(|(ms, l)| (t(*ms), *l)).collect::<Vec<_>>();
        assert_eq!(drain(&s(&[(0, 1000), (2000, 600)])), Drain::In(Duration::from_secs(3)));
        assert_eq!(drain(&s(&[(0, 100), (2000, 100)])), Drain::NotDraining);
        assert_eq!(drain(&s(&[(0, 100), (2000, 0)])), Drain::Drained);
        assert_eq!(drain(&s(&[(0, 100)])), Drain::Unknown);
        assert_eq!(drain(&[]), Drain::Unknown);
        assert_eq!(Drain::In(Duration::from_secs(3)).label(), "3.0s");
    }
}
