//! Consumer groups on both clusters side by side, consumer lag, and rebalance tracking.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use super::lag_time::{Age, Ages};
use super::{short_duration, ClusterState, Commits, GroupState, GroupStatus, Side, Snapshot};
use crate::config::{NameFilter, Replication};

/// One side of a group row.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSide {
    pub status: GroupStatus,
    pub members: usize,
    /// Sum over committed partitions of (end offset - committed offset).
    pub lag: super::Figure<i64>,
    /// The age of the oldest unread record over its partitions (None: not known yet).
    pub lag_age: Option<Age>,
    pub partitions: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub name: String,
    pub source: Option<GroupSide>,
    pub target: Option<GroupSide>,
}

/// One partition a group has committed on, both sides side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPartition {
    pub source_topic: String,
    pub target_topic: String,
    pub partition: i32,
    pub source_committed: Option<i64>,
    pub source_end: Option<i64>,
    pub target_committed: Option<i64>,
    pub target_end: Option<i64>,
    /// The age of the oldest unread record on each side.
    pub source_age: Option<Age>,
    pub target_age: Option<Age>,
}

impl GroupPartition {
    pub fn source_lag(&self) -> Option<i64> {
        Some(self.source_end? - self.source_committed?)
    }
    pub fn target_lag(&self) -> Option<i64> {
        Some(self.target_end? - self.target_committed?)
    }
}

fn end_offset(cluster: &ClusterState, topic: &str, partition: i32) -> Option<i64> {
    cluster.topics.get(topic)?.partition(partition)?.high.clone().ok()
}

fn group_side(cluster: &ClusterState, ages: &Ages, g: &GroupState) -> GroupSide {
    // One topic lookup per topic, not per partition: 1,000 groups' commits are summed on
    // every changed poll.
    let mut lag_age = Some(Age::ZERO);
    let lag = g.offsets.as_ref().map_err(Clone::clone).and_then(|offsets| {
        let mut lag = 0;
        for t in offsets.topics() {
            let state = cluster.topics.get(&t.topic);
            for &(p, committed) in t.offsets.iter().filter(|(_, c)| *c >= 0) {
                let end = state.and_then(|s| s.partition(p)).and_then(|p| p.high.as_ref().ok());
                let Some(end) = end else {
                    return Err(format!("end offset of {}/{p} unknown", t.topic));
                };
                lag += (end - committed).max(0);
                let age = ages.consumer(&g.name, &t.topic, p, end - committed);
                lag_age = lag_age.and_then(|worst| age.map(|a| Age::worst(Some(worst), a)));
            }
        }
        Ok(lag)
    });
    GroupSide {
        status: g.status.clone(),
        members: g.members.len(),
        lag_age: lag_age.filter(|_| lag.is_ok()),
        lag,
        partitions: g.offsets.as_ref().map(|o| o.len()).unwrap_or(0),
    }
}

/// Every partition of one cluster where a group has records to read: from its committed
/// offset to the end.
pub fn waiting_consumers(cluster: &ClusterState) -> Vec<super::lag_time::Waiting> {
    let Ok(groups) = &cluster.groups else {
        return Vec::new();
    };
    let mut waiting = Vec::new();
    for g in groups {
        let Ok(offsets) = &g.offsets else { continue };
        for t in offsets.topics() {
            let Some(state) = cluster.topics.get(&t.topic) else {
                continue;
            };
            for &(p, committed) in &t.offsets {
                let Some(Ok(end)) = state.partition(p).map(|p| &p.high) else {
                    continue;
                };
                if committed >= 0 && committed < *end {
                    waiting.push(super::lag_time::Waiting {
                        group: Some(g.name.clone()),
                        topic: t.topic.clone(),
                        partition: p,
                        offset: committed,
                        end: *end,
                    });
                }
            }
        }
    }
    waiting
}

/// Every filtered group of either cluster, one row each. An error when neither side could
/// list its groups (the reason is shown in place of the table).
pub fn group_rows(snapshot: &Snapshot, filter: &NameFilter) -> crate::error::Result<Vec<GroupRow>> {
    let mut rows: BTreeMap<String, GroupRow> = BTreeMap::new();
    let mut errors = Vec::new();
    for side in [Side::Source, Side::Target] {
        let feed = snapshot.feed(side);
        let Some(cluster) = feed.state() else { continue };
        match &cluster.groups {
            Err(e) => errors.push(format!("{}: {e}", feed.name)),
            Ok(groups) => {
                for g in groups.iter().filter(|g| filter.matches(&g.name)) {
                    let row = rows.entry(g.name.clone()).or_insert_with(|| GroupRow {
                        name: g.name.clone(),
                        source: None,
                        target: None,
                    });
                    let s = Some(group_side(cluster, &feed.ages, g));
                    match side {
                        Side::Source => row.source = s,
                        Side::Target => row.target = s,
                    }
                }
            }
        }
    }
    if rows.is_empty() && !errors.is_empty() {
        return Err(errors.join("; ").into());
    }
    Ok(rows.into_values().collect())
}

/// Why a side's group list is missing, if it is ("unavailable: ..."), for the view header.
pub fn group_list_error(snapshot: &Snapshot, side: Side) -> Option<String> {
    snapshot.feed(side).state()?.groups.as_ref().err().cloned()
}

/// Per-partition committed offsets of one group on both sides, paired by the replication policy.
pub fn group_partitions(snapshot: &Snapshot, replication: &Replication, group: &str) -> Vec<GroupPartition> {
    let find = |side: Side| -> Option<(&ClusterState, &GroupState)> {
        let c = snapshot.feed(side).state()?;
        let g = c.groups.as_ref().ok()?.iter().find(|g| g.name == group)?;
        Some((c, g))
    };
    let src = find(Side::Source);
    let tgt = find(Side::Target);
    let no_commits = Commits::default();
    let src_offsets = src.and_then(|(_, g)| g.offsets.as_ref().ok()).unwrap_or(&no_commits);
    let tgt_offsets = tgt.and_then(|(_, g)| g.offsets.as_ref().ok()).unwrap_or(&no_commits);

    // Key every row by the source topic; target-only commits keep their own name.
    let source_name_of: BTreeMap<String, String> = src
        .map(|(c, _)| {
            c.topics
                .keys()
                .map(|t| (replication.target_topic(t), t.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut keys: BTreeSet<(String, i32)> = src_offsets.iter().map(|(t, p, _)| (t.to_string(), p)).collect();
    for (t, p, _) in tgt_offsets.iter() {
        keys.insert((source_name_of.get(t).cloned().unwrap_or_else(|| t.to_string()), p));
    }
    keys.into_iter()
        .map(|(source_topic, partition)| {
            let target_topic = replication.target_topic(&source_topic);
            let target_topic = if tgt_offsets.get(&source_topic, partition).is_some()
                && tgt_offsets.get(&target_topic, partition).is_none()
            {
                source_topic.clone()
            } else {
                target_topic
            };
            let source_committed = src_offsets.get(&source_topic, partition);
            let source_end = src.and_then(|(c, _)| end_offset(c, &source_topic, partition));
            let target_committed = tgt_offsets.get(&target_topic, partition);
            let target_end = tgt.and_then(|(c, _)| end_offset(c, &target_topic, partition));
            let age = |side: Side, topic: &str, committed: Option<i64>, end: Option<i64>| {
                let unread = end? - committed?;
                snapshot.feed(side).ages.consumer(group, topic, partition, unread)
            };
            GroupPartition {
                source_age: age(Side::Source, &source_topic, source_committed, source_end),
                target_age: age(Side::Target, &target_topic, target_committed, target_end),
                source_committed,
                source_end,
                target_committed,
                target_end,
                source_topic,
                target_topic,
                partition,
            }
        })
        .collect()
}

/// The members of a group on each side, with their assignments ("orders[0,2] payments[1]").
pub fn group_members(snapshot: &Snapshot, group: &str) -> Vec<(Side, super::Member)> {
    [Side::Source, Side::Target]
        .into_iter()
        .flat_map(|side| {
            let members = snapshot
                .feed(side)
                .state()
                .and_then(|c| c.groups.as_ref().ok())
                .and_then(|gs| gs.iter().find(|g| g.name == group))
                .map(|g| g.members.clone())
                .unwrap_or_default();
            members.into_iter().map(move |m| (side, m))
        })
        .collect()
}

/// "orders[0,2] payments[1]", "no partitions" before the first assignment, or why the
/// assignment is unknown.
pub fn assignment_label(m: &super::Member) -> String {
    let assignment = match &m.assignment {
        Err(e) => return format!("assignment {e}"),
        Ok(a) if a.is_empty() => return "no partitions".into(),
        Ok(a) => a,
    };
    assignment
        .iter()
        .map(|(t, ps)| {
            format!(
                "{t}[{}]",
                ps.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(",")
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What flipping a group to the target on MM2's checkpoint would cost, against the exact
/// translation: records read twice, or records skipped (lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlipCost {
    Duplicates(i64),
    Zero,
    Skips(i64),
    NoCheckpoint,
    NoExact,
    /// MM2's checkpoint is of a newer commit than the one read (the group committed between
    /// the two reads): it says nothing about this one.
    NewerCommit {
        upstream: i64,
    },
}

impl FlipCost {
    /// "+37 duplicates", "0", "SKIPS 5".
    pub fn label(&self) -> String {
        match self {
            FlipCost::Duplicates(n) => format!("+{n} duplicates"),
            FlipCost::Zero => "0".into(),
            FlipCost::Skips(n) => format!("SKIPS {n}"),
            FlipCost::NoCheckpoint => "no checkpoint".into(),
            FlipCost::NoExact => "NO EXACT".into(),
            FlipCost::NewerCommit { upstream } => format!("checkpoint of commit {upstream}"),
        }
    }
}

/// A checkpoint below the exact offset re-reads the records between; above it, skips them.
pub fn flip_cost(checkpoint: Option<i64>, exact: Option<i64>) -> FlipCost {
    match (checkpoint, exact) {
        (None, _) => FlipCost::NoCheckpoint,
        (_, None) => FlipCost::NoExact,
        (Some(c), Some(e)) if c < e => FlipCost::Duplicates(e - c),
        (Some(c), Some(e)) if c > e => FlipCost::Skips(c - e),
        _ => FlipCost::Zero,
    }
}

/// The flip cost of one commit: MM2's checkpoint (upstream, downstream) against the exact
/// translation of `committed`, compared only when the checkpoint is not of a newer commit
/// (a live group commits between the two reads).
pub fn flip_cost_of(checkpoint: Option<(i64, i64)>, committed: i64, exact: Option<i64>) -> FlipCost {
    match checkpoint {
        Some((upstream, _)) if upstream > committed => FlipCost::NewerCommit { upstream },
        _ => flip_cost(checkpoint.map(|(_, downstream)| downstream), exact),
    }
}

/// Follows each group's state from poll to poll to time its rebalances.
#[derive(Debug, Clone, Default)]
pub struct RebalanceTracker {
    tracks: BTreeMap<(Side, String), Track>,
}

#[derive(Debug, Clone, PartialEq)]
struct Track {
    status: GroupStatus,
    /// Member ids at the last poll.
    members: BTreeSet<String>,
    /// First poll that saw the group rebalancing, while it still is.
    rebalancing_since: Option<SystemTime>,
    /// The newest finished rebalance.
    last: Option<Rebalance>,
}

/// A rebalance the tracker knows has finished.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rebalance {
    /// Seen rebalancing by a poll: when it was first seen and how long it lasted.
    Timed { start: SystemTime, took: Duration },
    /// Begun and finished between two polls (the group was not rebalancing at either, but
    /// its members changed): only the member counts and the poll that noticed are known.
    BetweenPolls { seen: SystemTime, from: usize, to: usize },
}

/// A state change seen between two polls.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupChange {
    pub side: Side,
    pub group: String,
    pub from: Option<GroupStatus>,
    pub to: GroupStatus,
    pub at: SystemTime,
    /// Set when this change ended a rebalance.
    pub rebalance_took: Option<Duration>,
    /// Set when the group rebalanced between two polls: member counts before and after.
    pub rebalanced_between_polls: Option<(usize, usize)>,
}

impl RebalanceTracker {
    /// Feeds one poll's group states (taken at `at`); returns the changes. A group whose
    /// members changed while it was not rebalancing at either poll rebalanced in between
    /// (a broker can finish a rebalance well within one refresh): that is a change too.
    pub fn observe(&mut self, side: Side, groups: &[GroupState], at: SystemTime) -> Vec<GroupChange> {
        let mut changes = Vec::new();
        for g in groups {
            let key = (side, g.name.clone());
            let members: BTreeSet<String> = g.members.iter().map(|m| m.id.clone()).collect();
            let prev = self.tracks.get(&key).cloned();
            let mut track = prev.clone().unwrap_or(Track {
                status: g.status.clone(),
                members: members.clone(),
                rebalancing_since: None,
                last: None,
            });
            let mut took = None;
            let mut between = None;
            if g.status.is_rebalancing() {
                track.rebalancing_since.get_or_insert(at);
            } else if let Some(start) = track.rebalancing_since.take() {
                let d = at.duration_since(start).unwrap_or_default();
                track.last = Some(Rebalance::Timed { start, took: d });
                took = Some(d);
            } else if prev.is_some() && track.members != members {
                let (from, to) = (track.members.len(), members.len());
                track.last = Some(Rebalance::BetweenPolls { seen: at, from, to });
                between = Some((from, to));
            }
            let from = prev.as_ref().map(|t| t.status.clone());
            if from.as_ref() != Some(&g.status) || between.is_some() {
                changes.push(GroupChange {
                    side,
                    group: g.name.clone(),
                    from,
                    to: g.status.clone(),
                    at,
                    rebalance_took: took,
                    rebalanced_between_polls: between,
                });
            }
            track.status = g.status.clone();
            track.members = members;
            self.tracks.insert(key, track);
        }
        changes
    }

    /// "rebalancing 3m12s" while it lasts, "last rebalance took 14s" after, or
    /// "rebalanced 2 -> 1 members (02:46:42Z)" when it happened between two polls.
    pub fn label(&self, side: Side, group: &str, now: SystemTime) -> Option<String> {
        let t = self.tracks.get(&(side, group.to_string()))?;
        if let Some(start) = t.rebalancing_since {
            let d = now.duration_since(start).unwrap_or_default();
            return Some(format!("rebalancing {} (since {})", short_duration(d), clock(start)));
        }
        t.last.map(|last| match last {
            Rebalance::Timed { start, took } => {
                format!("last rebalance took {} (at {})", short_duration(took), clock(start))
            }
            Rebalance::BetweenPolls { seen, from, to } => {
                format!("rebalanced {from} -> {to} members ({})", clock(seen))
            }
        })
    }
}

/// "02:31:07Z": a time of day in UTC, as on-call people compare across hosts.
pub fn clock(t: SystemTime) -> String {
    let s = humantime::format_rfc3339_seconds(t).to_string();
    format!("{}Z", &s[11..19])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(name: &str, status: GroupStatus) -> GroupState {
        with_members(name, status, &[])
    }

    fn with_members(name: &str, status: GroupStatus, ids: &[&str]) -> GroupState {
        GroupState {
            name: name.into(),
            status,
            protocol_type: "consumer".into(),
            members: ids
                .iter()
                .map(|id| crate::model::Member {
                    id: id.to_string(),
                    client_id: "c".into(),
                    host: "h".into(),
                    assignment: Ok(BTreeMap::new()),
                })
                .collect(),
            offsets: Ok(Commits::default()),
        }
    }

    #[test]
    fn flip_costs() {
        assert_eq!(flip_cost(Some(102), Some(137)).label(), "+35 duplicates");
        assert_eq!(flip_cost(Some(140), Some(137)).label(), "SKIPS 3");
        assert_eq!(flip_cost(Some(137), Some(137)), FlipCost::Zero);
        assert_eq!(flip_cost(None, Some(1)), FlipCost::NoCheckpoint);
        assert_eq!(flip_cost(Some(1), None), FlipCost::NoExact);
        // A checkpoint of the commit read, or an older one, compares; of a newer one, not.
        assert_eq!(flip_cost_of(Some((86, 106)), 86, Some(106)), FlipCost::Zero);
        assert_eq!(flip_cost_of(Some((80, 100)), 86, Some(106)), FlipCost::Duplicates(6));
        assert_eq!(
            flip_cost_of(Some((87, 107)), 86, Some(106)).label(),
            "checkpoint of commit 87"
        );
    }

    #[test]
    fn rebalance_is_timed_from_state_changes() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        let mut tr = RebalanceTracker::default();
        assert_eq!(tr.observe(Side::Source, &[g("a", GroupStatus::Stable)], t0).len(), 1);
        let c = tr.observe(
            Side::Source,
            &[g("a", GroupStatus::PreparingRebalance)],
            t0 + Duration::from_secs(2),
        );
        assert_eq!(c[0].to, GroupStatus::PreparingRebalance);
        assert!(tr
            .observe(
                Side::Source,
                &[g("a", GroupStatus::PreparingRebalance)],
                t0 + Duration::from_secs(4)
            )
            .is_empty());
        assert_eq!(
            tr.label(Side::Source, "a", t0 + Duration::from_secs(194)).as_deref(),
            Some("rebalancing 3m12s (since 02:46:42Z)")
        );
        let c = tr.observe(
            Side::Source,
            &[g("a", GroupStatus::Stable)],
            t0 + Duration::from_secs(16),
        );
        assert_eq!(c[0].rebalance_took, Some(Duration::from_secs(14)));
        assert_eq!(
            tr.label(Side::Source, "a", t0 + Duration::from_secs(60)).as_deref(),
            Some("last rebalance took 14s (at 02:46:42Z)")
        );
    }

    #[test]
    fn a_rebalance_between_two_polls_is_seen_from_its_members() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        let at = |s| t0 + Duration::from_secs(s);
        let mut tr = RebalanceTracker::default();
        tr.observe(
            Side::Source,
            &[with_members("a", GroupStatus::Stable, &["m1", "m2"])],
            at(0),
        );
        // The same members: nothing happened.
        assert!(tr
            .observe(
                Side::Source,
                &[with_members("a", GroupStatus::Stable, &["m2", "m1"])],
                at(1)
            )
            .is_empty());
        assert_eq!(tr.label(Side::Source, "a", at(1)), None);
        // One left and the group settled before the next poll.
        let c = tr.observe(Side::Source, &[with_members("a", GroupStatus::Stable, &["m1"])], at(2));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].rebalanced_between_polls, Some((2, 1)));
        assert_eq!(c[0].rebalance_took, None);
        assert_eq!(
            tr.label(Side::Source, "a", at(30)).as_deref(),
            Some("rebalanced 2 -> 1 members (02:46:42Z)")
        );
        // It came back under a new member id: two members again, a rebalance again.
        let c = tr.observe(
            Side::Source,
            &[with_members("a", GroupStatus::Stable, &["m1", "m3"])],
            at(3),
        );
        assert_eq!(c[0].rebalanced_between_polls, Some((1, 2)));
        // A rebalance a poll caught is timed, not counted twice when it ends with new members.
        tr.observe(
            Side::Source,
            &[with_members("a", GroupStatus::PreparingRebalance, &["m1"])],
            at(4),
        );
        let c = tr.observe(
            Side::Source,
            &[with_members("a", GroupStatus::Stable, &["m1", "m4"])],
            at(7),
        );
        assert_eq!(c[0].rebalanced_between_polls, None);
        assert_eq!(c[0].rebalance_took, Some(Duration::from_secs(3)));
        // The other side's group of the same name is tracked apart.
        assert_eq!(tr.label(Side::Target, "a", at(7)), None);
    }
}
