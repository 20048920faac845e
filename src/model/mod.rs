//! Snapshots of both clusters as plain data, and the pure math on them.
//!
//! Nothing here talks to Kafka: `kafka/` fills these types, `monitor` publishes them,
//! and the TUI and the headless commands render what the functions here derive.

pub mod events;
pub mod groups;
pub mod inventory;
pub mod lag_time;
pub mod mapping;
pub mod overview;
pub mod target_only;
pub mod translation;
pub mod validation;
pub mod verdict;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A figure that may be unavailable; the error says why, and is shown next to it.
pub type Figure<T> = Result<T, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub id: i32,
    pub host: String,
    pub port: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    pub id: i32,
    pub leader: i32,
    /// How many replicas the partition has, and how many are in sync: the cockpit shows the
    /// counts only, and 25,000 partitions per poll are walked (kept small for that).
    pub replicas: u16,
    pub isr: u16,
    /// Earliest offset still stored (low watermark).
    pub low: Figure<i64>,
    /// Offset the next record will get (high watermark, end offset).
    pub high: Figure<i64>,
    /// A metadata error for this partition (e.g. leader not available).
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicState {
    pub name: String,
    pub partitions: Vec<PartitionState>,
    pub error: Option<String>,
}

impl TopicState {
    /// Partition `id`: by index, as Kafka numbers a topic's partitions 0..n and polls keep
    /// them in order (a search would make every per-partition walk quadratic); a search only
    /// when the list is not in that order.
    pub fn partition(&self, id: i32) -> Option<&PartitionState> {
        let by_index = usize::try_from(id).ok().and_then(|i| self.partitions.get(i));
        match by_index {
            Some(p) if p.id == id => Some(p),
            _ => self.partitions.iter().find(|p| p.id == id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupStatus {
    Stable,
    PreparingRebalance,
    CompletingRebalance,
    /// The consumer protocol's (KIP-848) rebalance states: the coordinator computes a new
    /// assignment, then members take it up.
    Assigning,
    Reconciling,
    Empty,
    Dead,
    /// The broker did not say (or said something this version does not know).
    Unknown(String),
}

impl GroupStatus {
    pub fn parse(s: &str) -> GroupStatus {
        match s {
            "Stable" => GroupStatus::Stable,
            "PreparingRebalance" => GroupStatus::PreparingRebalance,
            "CompletingRebalance" | "AwaitingSync" => GroupStatus::CompletingRebalance,
            "Assigning" => GroupStatus::Assigning,
            "Reconciling" => GroupStatus::Reconciling,
            "Empty" => GroupStatus::Empty,
            "Dead" => GroupStatus::Dead,
            other => GroupStatus::Unknown(other.to_string()),
        }
    }

    pub fn is_rebalancing(&self) -> bool {
        matches!(
            self,
            GroupStatus::PreparingRebalance
                | GroupStatus::CompletingRebalance
                | GroupStatus::Assigning
                | GroupStatus::Reconciling
        )
    }

    pub fn label(&self) -> String {
        match self {
            GroupStatus::Stable => "Stable".into(),
            GroupStatus::PreparingRebalance => "PreparingRebalance".into(),
            GroupStatus::CompletingRebalance => "CompletingRebalance".into(),
            GroupStatus::Assigning => "Assigning".into(),
            GroupStatus::Reconciling => "Reconciling".into(),
            GroupStatus::Empty => "Empty".into(),
            GroupStatus::Dead => "Dead".into(),
            GroupStatus::Unknown(s) if s.is_empty() => "unknown".into(),
            GroupStatus::Unknown(s) => format!("unknown ({s})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub client_id: String,
    pub host: String,
    /// Topic -> partitions assigned to this member; unavailable when the broker did not send
    /// the assignment or it could not be decoded (never shown as "no partitions").
    pub assignment: Figure<BTreeMap<String, Vec<i32>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    pub name: String,
    pub status: GroupStatus,
    pub protocol_type: String,
    pub members: Vec<Member>,
    /// Committed offsets by (topic, partition).
    pub offsets: Figure<Commits>,
}

/// A group's committed offsets, topic by topic in name order and each topic's partitions in
/// order: one name per topic and the offsets side by side in memory, since 1,000 groups'
/// commits are walked on every changed poll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commits(Vec<TopicCommits>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicCommits {
    pub topic: String,
    /// (partition, committed offset), by partition.
    pub offsets: Vec<(i32, i64)>,
}

impl Commits {
    pub fn get(&self, topic: &str, partition: i32) -> Option<i64> {
        let t = self.0.binary_search_by(|t| t.topic.as_str().cmp(topic)).ok()?;
        let offsets = &self.0[t].offsets;
        let p = offsets.binary_search_by_key(&partition, |(p, _)| *p).ok()?;
        Some(offsets[p].1)
    }

    pub fn topics(&self) -> &[TopicCommits] {
        &self.0
    }

    /// Every (topic, partition, offset), in (topic, partition) order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, i32, i64)> + '_ {
        self.0
            .iter()
            .flat_map(|t| t.offsets.iter().map(move |(p, o)| (t.topic.as_str(), *p, *o)))
    }

    /// The number of committed partitions.
    pub fn len(&self) -> usize {
        self.0.iter().map(|t| t.offsets.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// From ((topic, partition), offset) in any order; a later offset of the same partition wins.
impl FromIterator<((String, i32), i64)> for Commits {
    fn from_iter<I: IntoIterator<Item = ((String, i32), i64)>>(iter: I) -> Commits {
        let sorted: BTreeMap<(String, i32), i64> = iter.into_iter().collect();
        let mut topics: Vec<TopicCommits> = Vec::new();
        for ((topic, partition), offset) in sorted {
            match topics.last_mut() {
                Some(last) if last.topic == topic => last.offsets.push((partition, offset)),
                _ => topics.push(TopicCommits {
                    topic,
                    offsets: vec![(partition, offset)],
                }),
            }
        }
        Commits(topics)
    }
}

/// A topic config's value, and whether it is only Kafka's built-in default (Kafka answers
/// DescribeConfigs with every config; a broker that sends only what was set sends no defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigValue {
    pub value: String,
    pub default: bool,
}

impl ConfigValue {
    /// A value set on the topic or its broker.
    pub fn set(value: &str) -> ConfigValue {
        ConfigValue {
            value: value.to_string(),
            default: false,
        }
    }
}

/// Everything one successful poll learned about one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterState {
    /// When the poll finished: the time of every figure in it.
    pub polled_at: SystemTime,
    pub poll_duration: Duration,
    pub brokers: Vec<Broker>,
    pub topics: BTreeMap<String, TopicState>,
    /// Topic -> config key -> value, for the topics the cockpit watches.
    pub configs: Figure<BTreeMap<String, BTreeMap<String, ConfigValue>>>,
    pub groups: Figure<Vec<GroupState>>,
}

impl ClusterState {
    /// The same figures, whenever and however fast they were polled.
    pub fn same_figures(&self, other: &ClusterState) -> bool {
        self.brokers == other.brokers
            && self.topics == other.topics
            && self.configs == other.configs
            && self.groups == other.groups
    }
}

/// What the monitor publishes for one cluster: the newest good poll and the newest failure.
#[derive(Debug, Clone, Default)]
pub struct ClusterFeed {
    pub name: String,
    pub last_good: Option<Arc<ClusterState>>,
    /// The newest failed poll, cleared by the next success.
    pub last_error: Option<(SystemTime, String)>,
    /// Counts the polls whose figures differed from the poll before: the monitor compares them
    /// on its poll task, so the UI tells a changed poll from an unchanged one without comparing
    /// 25,000 partitions itself. 0: not counted (a feed built by hand).
    pub figures_version: u64,
    /// Lag in seconds, derived by the poll loop from the same poll as `last_good`.
    pub ages: Arc<lag_time::Ages>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// No poll has finished yet.
    Connecting,
    /// The newest figures are younger than the stale limit.
    Live,
    /// Figures are older than two refresh intervals: shown, but marked STALE.
    Stale { age: Duration },
    /// No poll has ever succeeded, and the newest one failed.
    Unreachable,
}

impl ClusterFeed {
    pub fn new(name: &str) -> Self {
        ClusterFeed {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Age of the newest good figures.
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        self.last_good
            .as_ref()
            .map(|s| now.duration_since(s.polled_at).unwrap_or_default())
    }

    /// A cluster turns stale when its newest figures are older than two refresh intervals.
    pub fn health(&self, now: SystemTime, refresh: Duration) -> Health {
        match (self.age(now), &self.last_error) {
            (Some(age), _) if age > refresh * 2 => Health::Stale { age },
            (Some(_), _) => Health::Live,
            (None, Some(_)) => Health::Unreachable,
            (None, None) => Health::Connecting,
        }
    }

    pub fn state(&self) -> Option<&ClusterState> {
        self.last_good.as_deref()
    }
}

/// Both clusters, as the monitor last saw them.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub source: ClusterFeed,
    pub target: ClusterFeed,
    /// What MM2's internal topics say (None: not read, e.g. an offset-preserving replicator).
    pub mm2: Option<Arc<crate::mm2::state::Mm2State>>,
    /// Bumped on every publish, so a view knows when to redraw.
    pub seq: u64,
    /// The target as it was last polled before the source's newest poll began: what the
    /// source's figures are compared with (lag, drift). Every record the target held then was
    /// on the source when the source was read, so polls a moment apart never make lag
    /// negative or drift positive. None: the source was read before any target poll.
    pub target_before_source: Option<Arc<ClusterState>>,
    /// Records on the target only (written there during a wave), from the journal: read
    /// before each target poll, so every such record the poll sees is already explained.
    pub target_only: Arc<target_only::TargetOnly>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Source,
    Target,
}

impl Snapshot {
    /// Whether `other` shows the same figures as this one: only poll times and the sequence
    /// differ (MM2's state counts as the same only when it is the same publish).
    pub fn same_figures(&self, other: &Snapshot) -> bool {
        fn same(a: &ClusterFeed, b: &ClusterFeed) -> bool {
            a.name == b.name
                && a.last_error == b.last_error
                && match (&a.last_good, &b.last_good) {
                    (None, None) => true,
                    (Some(x), Some(y)) => {
                        Arc::ptr_eq(x, y)
                            || match (a.figures_version, b.figures_version) {
                                (0, _) | (_, 0) => x.same_figures(y),
                                (m, n) => m == n,
                            }
                    }
                    _ => false,
                }
        }
        let mm2 = match (&self.mm2, &other.mm2) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        mm2 && self.target_only == other.target_only
            && same(&self.source, &other.source)
            && same(&self.target, &other.target)
    }

    /// The target state to compare the source's newest figures with (see
    /// `target_before_source`), else the target's newest.
    pub fn compared_target(&self) -> Option<&ClusterState> {
        self.target_before_source.as_deref().or(self.target.state())
    }

    /// As `compared_target`, shared.
    pub fn compared_target_arc(&self) -> Option<Arc<ClusterState>> {
        self.target_before_source
            .clone()
            .or_else(|| self.target.last_good.clone())
    }

    pub fn feed(&self, side: Side) -> &ClusterFeed {
        match side {
            Side::Source => &self.source,
            Side::Target => &self.target,
        }
    }

    pub fn feed_mut(&mut self, side: Side) -> &mut ClusterFeed {
        match side {
            Side::Source => &mut self.source,
            Side::Target => &mut self.target,
        }
    }
}

/// "3s", "4m12s", "2h05m": an age or a duration, short enough for a table cell.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits read in any order are kept by topic then partition, the last reading of a
    /// partition winning, and looked up as the map they replace.
    #[test]
    fn commits_are_kept_by_topic_and_partition_whatever_the_order_read() {
        let read = [
            (("payments".to_string(), 1), 7),
            (("orders".to_string(), 2), 30),
            (("orders".to_string(), 0), 10),
            (("payments".to_string(), 1), 8),
            (("orders".to_string(), 1), 20),
        ];
        let commits: Commits = read.iter().cloned().collect();
        let map: BTreeMap<(String, i32), i64> = read.iter().cloned().collect();
        let walked: Vec<((String, i32), i64)> = commits.iter().map(|(t, p, o)| ((t.to_string(), p), o)).collect();
        assert_eq!(walked, map.clone().into_iter().collect::<Vec<_>>());
        assert_eq!(commits.len(), 4);
        assert_eq!(commits.topics().len(), 2);
        for ((t, p), o) in &map {
            assert_eq!(commits.get(t, *p), Some(*o), "{t}/{p}");
        }
        assert_eq!(commits.get("payments", 1), Some(8));
        assert_eq!(commits.get("orders", 3), None);
        assert_eq!(commits.get("refunds", 0), None);
        assert!(Commits::default().is_empty());
    }

    /// The monitor's figure versions decide without comparing; hand-built feeds (version 0)
    /// are compared in full.
    #[test]
    fn same_figures_follows_the_monitors_versions_else_compares() {
        let state = |high: i64, at: u64| {
            Arc::new(ClusterState {
                polled_at: SystemTime::UNIX_EPOCH + Duration::from_secs(at),
                poll_duration: Duration::ZERO,
                brokers: vec![],
                topics: BTreeMap::from([(
                    "orders".to_string(),
                    TopicState {
                        name: "orders".into(),
                        error: None,
                        partitions: vec![PartitionState {
                            id: 0,
                            leader: 1,
                            replicas: 1,
                            isr: 1,
                            low: Ok(0),
                            high: Ok(high),
                            error: None,
                        }],
                    },
                )]),
                configs: Ok(Default::default()),
                groups: Ok(vec![]),
            })
        };
        let snap = |high: i64, at: u64, version: u64| Snapshot {
            target_only: Default::default(),
            source: ClusterFeed {
                name: "a".into(),
                last_good: Some(state(high, at)),
                last_error: None,
                figures_version: version,
                ages: Default::default(),
            },
            target: ClusterFeed::new("b"),
            mm2: None,
            seq: at,
            target_before_source: None,
        };
        // By hand: a later poll with the same figures is the same; another figure is not.
        assert!(snap(10, 1, 0).same_figures(&snap(10, 2, 0)));
        assert!(!snap(10, 1, 0).same_figures(&snap(11, 2, 0)));
        // The monitor's versions: equal versions are the same figures, others are not, without
        // looking at the figures.
        assert!(snap(10, 1, 4).same_figures(&snap(10, 2, 4)));
        assert!(!snap(10, 1, 4).same_figures(&snap(10, 2, 5)));
    }

    #[test]
    fn group_states_of_both_protocols_are_known() {
        for (word, rebalancing) in [
            ("Stable", false),
            ("PreparingRebalance", true),
            ("CompletingRebalance", true),
            ("Assigning", true),
            ("Reconciling", true),
            ("Empty", false),
            ("Dead", false),
        ] {
            let s = GroupStatus::parse(word);
            assert_eq!(s.label(), word);
            assert_eq!(s.is_rebalancing(), rebalancing, "{word}");
        }
        assert_eq!(GroupStatus::parse("AwaitingSync"), GroupStatus::CompletingRebalance);
        assert_eq!(GroupStatus::parse("Wobbly").label(), "unknown (Wobbly)");
    }

    #[test]
    fn health_turns_stale_after_two_intervals() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let refresh = Duration::from_secs(2);
        let mut feed = ClusterFeed::new("src");
        assert_eq!(feed.health(t0, refresh), Health::Connecting);
        feed.last_error = Some((t0, "down".into()));
        assert_eq!(feed.health(t0, refresh), Health::Unreachable);
        feed.last_good = Some(Arc::new(ClusterState {
            polled_at: t0,
            poll_duration: Duration::ZERO,
            brokers: vec![],
            topics: BTreeMap::new(),
            configs: Ok(BTreeMap::new()),
            groups: Ok(vec![]),
        }));
        assert_eq!(feed.health(t0 + Duration::from_secs(4), refresh), Health::Live);
        assert_eq!(
            feed.health(t0 + Duration::from_millis(4_001), refresh),
            Health::Stale {
                age: Duration::from_millis(4_001)
            }
        );
    }

    #[test]
    fn short_durations() {
        assert_eq!(short_duration(Duration::from_secs(3)), "3s");
        assert_eq!(short_duration(Duration::from_secs(192)), "3m12s");
        assert_eq!(short_duration(Duration::from_secs(7_500)), "2h05m");
    }
}
