//! The checks that decide a step's wait is over: pure functions of a snapshot (and, for the
//! ones that need it, of what was seen before). Each answers Met, NotYet or Failed, with the
//! figures that decided it, so the screen and the journal show why.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::config::{Config, ReplicationKind, Wave};
use crate::model::inventory::diff;
use crate::model::mapping::{heartbeat_age, heartbeat_stale};
use crate::model::overview::{lag_known, newest_syncs, partition_pairs, WAITING_FOR_SYNCS};
use crate::model::verdict::Verdict;
use crate::model::{GroupStatus, Snapshot};

/// A check's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Met(String),
    NotYet(String),
    Failed(String),
}

/// What a wait does after one look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitNext {
    Met(String),
    Failed(String),
    /// Look again at the next snapshot.
    Again,
}

/// A wait's decision after one look: met, failed, past its deadline (a failure that says what
/// it waited for and the last figures, never a silent wait), or look again.
pub fn after_look(check: super::engine::Check, answer: &Answer, waited: Duration, deadline: Duration) -> WaitNext {
    match answer {
        Answer::Met(t) => WaitNext::Met(t.clone()),
        Answer::Failed(t) => WaitNext::Failed(t.clone()),
        Answer::NotYet(t) if waited >= deadline => WaitNext::Failed(format!(
            "waited {} for: {} (wait_timeout); last: {t}",
            humantime::format_duration(deadline),
            check.label()
        )),
        Answer::NotYet(_) => WaitNext::Again,
    }
}

pub fn answer_text(answer: &Answer) -> &str {
    match answer {
        Answer::Met(t) | Answer::NotYet(t) | Answer::Failed(t) => t,
    }
}

/// A dry run's one look, as said and journaled.
pub fn dry_run_words(answer: &Answer) -> (&'static str, &str) {
    let verb = match answer {
        Answer::Met(_) => "met now",
        Answer::NotYet(_) => "would wait; now",
        Answer::Failed(_) => "would FAIL now",
    };
    (verb, answer_text(answer))
}

/// A wave's topic that a cluster that answered no longer has (deleted mid-wave): a permanent
/// condition, which stops the wave at once, where a figure missing for a moment (a broker
/// away) is waited out.
pub fn topic_gone(snapshot: &Snapshot, config: &Config, topics: &[String]) -> Option<String> {
    let on = |feed: &crate::model::ClusterFeed, name: &str| {
        feed.state()
            .filter(|s| !s.topics.contains_key(name))
            .map(|_| format!("topic {name} no longer exists on {}", feed.name))
    };
    topics
        .iter()
        .find_map(|t| on(&snapshot.source, t).or_else(|| on(&snapshot.target, &config.replication.target_topic(t))))
}

/// A (topic, partition) -> end offset map.
pub type Ends = BTreeMap<(String, i32), i64>;

/// The source topics of the wave, as the source cluster has them now.
pub fn wave_topics(snapshot: &Snapshot, wave: &Wave) -> Vec<String> {
    snapshot
        .source
        .state()
        .map(|s| s.topics.keys().filter(|t| wave.has_topic(t)).cloned().collect())
        .unwrap_or_default()
}

/// The wave's groups as either cluster knows them now (a group may exist on one side only).
pub fn wave_groups(snapshot: &Snapshot, wave: &Wave) -> Vec<String> {
    let mut out: Vec<String> = [&snapshot.source, &snapshot.target]
        .iter()
        .filter_map(|f| f.state())
        .filter_map(|s| s.groups.as_ref().ok())
        .flatten()
        .map(|g| g.name.clone())
        .filter(|g| wave.has_group(g))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// End offsets of `topics` on the source (or, with `target`, of their target topics, keyed by
/// source topic); a partition without a figure makes the whole answer an error.
pub fn ends(snapshot: &Snapshot, config: &Config, topics: &[String], target: bool) -> crate::error::Result<Ends> {
    let feed = if target { &snapshot.target } else { &snapshot.source };
    let state = feed.state().ok_or_else(|| format!("{}: no figures yet", feed.name))?;
    let mut out = Ends::new();
    for t in topics {
        let name = if target {
            config.replication.target_topic(t)
        } else {
            t.clone()
        };
        let topic = state
            .topics
            .get(&name)
            .ok_or_else(|| format!("{}: topic {name} not found", feed.name))?;
        for p in &topic.partitions {
            let high = p
                .high
                .as_ref()
                .map_err(|e| format!("{}: {name}/{}: {e}", feed.name, p.id))?;
            out.insert((t.clone(), p.id), *high);
        }
    }
    Ok(out)
}

/// Per-partition replication lag of the wave's topics (records on the source not on the
/// target yet), as the overview computes it.
pub fn lags(
    snapshot: &Snapshot,
    config: &Config,
    topics: &[String],
) -> crate::error::Result<BTreeMap<(String, i32), i64>> {
    let (Some(src), Some(tgt)) = (snapshot.source.state(), snapshot.compared_target()) else {
        return Err("both clusters must have answered".into());
    };
    if !lag_known(snapshot, &config.replication) {
        return Err(WAITING_FOR_SYNCS.into());
    }
    let mut out = BTreeMap::new();
    for t in topics {
        let target_topic = config.replication.target_topic(t);
        let syncs = newest_syncs(snapshot, &config.replication, t);
        let sync = |p: i32| syncs.get(&p).copied();
        for pair in partition_pairs(
            src.topics.get(t),
            tgt.topics.get(&target_topic),
            &sync,
            &snapshot.target_only,
        ) {
            let lag = pair.lag.ok_or_else(|| {
                format!(
                    "{t}/{}: no lag figure (a partition missing or unreadable)",
                    pair.partition
                )
            })?;
            out.insert((t.clone(), pair.partition), lag);
        }
    }
    Ok(out)
}

/// Tells when end offsets have stood still for a while.
#[derive(Debug, Clone, Default)]
pub struct Settle {
    last: Option<(Ends, SystemTime)>,
}

impl Settle {
    /// Feeds one observation; Met once `ends` have been the same for `settle`.
    pub fn observe(&mut self, ends: Ends, at: SystemTime, settle: Duration) -> Answer {
        match &self.last {
            Some((before, since)) if *before == ends => {
                let still = at.duration_since(*since).unwrap_or_default();
                if still >= settle {
                    Answer::Met(format!(
                        "end offsets unchanged for {} ({} partitions, {} records in all)",
                        crate::model::short_duration(still),
                        ends.len(),
                        ends.values().sum::<i64>()
                    ))
                } else {
                    Answer::NotYet(format!(
                        "end offsets unchanged for {} of {}",
                        crate::model::short_duration(still),
                        crate::model::short_duration(settle)
                    ))
                }
            }
            Some((before, _)) => {
                let moved = ends.iter().filter(|(k, v)| before.get(*k) != Some(*v)).count();
                self.last = Some((ends, at));
                Answer::NotYet(format!("{moved} partition(s) still growing"))
            }
            None => {
                self.last = Some((ends, at));
                Answer::NotYet("first look at the end offsets".into())
            }
        }
    }
}

/// Drained: no wave partition has records on the source that the target lacks.
pub fn drained(lags: &BTreeMap<(String, i32), i64>) -> Answer {
    let behind: Vec<String> = lags
        .iter()
        .filter(|(_, l)| **l > 0)
        .map(|((t, p), l)| format!("{t}/{p}: {l}"))
        .collect();
    if behind.is_empty() {
        Answer::Met(format!("{} partitions copied to the end", lags.len()))
    } else {
        let total: i64 = lags.values().filter(|l| **l > 0).sum();
        Answer::NotYet(format!(
            "{total} record(s) not copied yet ({})",
            behind.into_iter().take(5).collect::<Vec<_>>().join(", ")
        ))
    }
}

/// Drained, or as good as: records the mapping still misses while the target stands still for
/// `settle` mean the replicator has nothing more to copy, and the final parity decides.
pub fn drained_or_settled(
    lags: &BTreeMap<(String, i32), i64>,
    target_ends: Ends,
    at: SystemTime,
    settle: &mut Settle,
    settle_for: Duration,
) -> Answer {
    match drained(lags) {
        Answer::NotYet(behind) => match settle.observe(target_ends, at, settle_for) {
            Answer::Met(still) => Answer::Met(format!(
                "{behind}, but the target {still}: nothing more is being copied; the final parity decides"
            )),
            _ => Answer::NotYet(behind),
        },
        other => other,
    }
}

/// The preflight's answer from its checks: Met with every figure, or Failed with each NO.
pub fn preflight_answer(results: &[(&'static str, crate::error::Result<String>)]) -> Answer {
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect();
    if !failed.is_empty() {
        return Answer::Failed(failed.join("; "));
    }
    Answer::Met(
        results
            .iter()
            .map(|(name, r)| format!("{name}: ok, {}", r.as_deref().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// The committed offsets of `groups` on the target topics of `topics`, as the snapshot's
/// target shows them (a group the target does not know has none).
pub fn target_commits(
    snapshot: &Snapshot,
    config: &Config,
    topics: &[String],
    groups: &[String],
) -> crate::error::Result<BTreeMap<String, Ends>> {
    let feed = &snapshot.target;
    let state = feed.state().ok_or_else(|| format!("{}: no figures yet", feed.name))?;
    let known = state
        .groups
        .as_ref()
        .map_err(|e| format!("{}: groups unavailable: {e}", feed.name))?;
    let wanted: Vec<String> = topics.iter().map(|t| config.replication.target_topic(t)).collect();
    let mut out = BTreeMap::new();
    for g in groups {
        let offsets = match known.iter().find(|k| &k.name == g) {
            None => BTreeMap::new(),
            Some(k) => k
                .offsets
                .as_ref()
                .map_err(|e| format!("{}: offsets of {g} unavailable: {e}", feed.name))?
                .iter()
                .filter(|(t, _, _)| wanted.iter().any(|w| w == t))
                .map(|(t, p, o)| ((t.to_string(), p), o))
                .collect(),
        };
        out.insert(g.clone(), offsets);
    }
    Ok(out)
}

/// Final parity from the validation rows of the wave's partitions.
pub fn parity(rows: &[(String, i32, Verdict, bool)]) -> Answer {
    let mut waiting = Vec::new();
    for (topic, partition, verdict, pending) in rows {
        match verdict {
            Verdict::Fail { mismatch } => {
                return Answer::Failed(format!("{topic}/{partition}: FAIL {}", mismatch.describe()));
            }
            Verdict::Error { reason } => return Answer::NotYet(format!("{topic}/{partition}: ERROR {reason}")),
            Verdict::Pending { reason } => waiting.push(format!("{topic}/{partition}: {reason}")),
            Verdict::Skipped { reason } => {
                return Answer::Failed(format!("{topic}/{partition}: not validated: {reason}"));
            }
            Verdict::Pass if *pending => waiting.push(format!("{topic}/{partition}: records not copied yet")),
            Verdict::Pass => {}
        }
    }
    if waiting.is_empty() {
        Answer::Met(format!("{} partitions PASS", rows.len()))
    } else {
        Answer::NotYet(waiting.join("; "))
    }
}

/// The status of a group on one side (None: the cluster does not know it).
fn group_status(snapshot: &Snapshot, target: bool, group: &str) -> crate::error::Result<Option<(GroupStatus, usize)>> {
    let feed = if target { &snapshot.target } else { &snapshot.source };
    let state = feed.state().ok_or_else(|| format!("{}: no figures yet", feed.name))?;
    let groups = state
        .groups
        .as_ref()
        .map_err(|e| format!("{}: groups: {e}", feed.name))?;
    Ok(groups
        .iter()
        .find(|g| g.name == group)
        .map(|g| (g.status.clone(), g.members.len())))
}

/// Every group Empty, Dead or unknown on that side.
pub fn groups_empty(snapshot: &Snapshot, groups: &[String], target: bool) -> Answer {
    let side = if target { "target" } else { "source" };
    let mut busy = Vec::new();
    for g in groups {
        match group_status(snapshot, target, g) {
            Err(e) => return Answer::NotYet(e.to_string()),
            Ok(Some((status, members))) if !matches!(status, GroupStatus::Empty | GroupStatus::Dead) || members > 0 => {
                busy.push(format!("{g} {} with {members} member(s)", status.label()))
            }
            Ok(_) => {}
        }
    }
    if busy.is_empty() {
        Answer::Met(format!("{} group(s) Empty on the {side}", groups.len()))
    } else {
        Answer::NotYet(busy.join(", "))
    }
}

/// Every group Stable (with members) on the target.
pub fn groups_stable_on_target(snapshot: &Snapshot, groups: &[String]) -> Answer {
    let mut waiting = Vec::new();
    for g in groups {
        match group_status(snapshot, true, g) {
            Err(e) => return Answer::NotYet(e.to_string()),
            // Stable is the broker saying members consume; the member list is not needed.
            Ok(Some((GroupStatus::Stable, _))) => {}
            Ok(Some((status, members))) => waiting.push(format!("{g} {} with {members} member(s)", status.label())),
            Ok(None) => waiting.push(format!("{g} not on the target yet")),
        }
    }
    if waiting.is_empty() {
        Answer::Met(format!("{} group(s) Stable on the target", groups.len()))
    } else {
        Answer::NotYet(waiting.join(", "))
    }
}

/// Writes reach the target and not the source: `source_now` equals the frozen `source_before`,
/// and some target partition grew past `target_before`.
pub fn writes_on_target(source_before: &Ends, source_now: &Ends, target_before: &Ends, target_now: &Ends) -> Answer {
    if let Some(((t, p), now)) = source_now
        .iter()
        .find(|(k, v)| source_before.get(*k).is_some_and(|b| b != *v))
    {
        let before = source_before[&(t.clone(), *p)];
        return Answer::Failed(format!(
            "writes still reach the source: {t}/{p} went from {before} to {now}"
        ));
    }
    let grown: i64 = target_now
        .iter()
        .map(|(k, v)| v - target_before.get(k).copied().unwrap_or(*v))
        .filter(|d| *d > 0)
        .sum();
    if grown > 0 {
        Answer::Met(format!(
            "{grown} record(s) written to the target since the flip; the source stands still"
        ))
    } else {
        Answer::NotYet("no record written to the target yet".into())
    }
}

/// The target groups committed every target record of the wave's topics.
pub fn caught_up(
    target_ends: &Ends,
    committed: &BTreeMap<String, BTreeMap<(String, i32), i64>>,
    config: &Config,
) -> Answer {
    let mut behind = Vec::new();
    for (group, offsets) in committed {
        for ((topic, p), end) in target_ends {
            let target_topic = config.replication.target_topic(topic);
            let at = offsets.get(&(target_topic.clone(), *p)).copied();
            if at.is_none_or(|o| o < *end) && *end > 0 {
                behind.push(format!(
                    "{group} {target_topic}/{p} at {} of {end}",
                    at.map_or("none".into(), |o| o.to_string())
                ));
            }
        }
    }
    if behind.is_empty() {
        Answer::Met("every target record processed".into())
    } else {
        Answer::NotYet(behind.into_iter().take(5).collect::<Vec<_>>().join(", "))
    }
}

/// The go/no-go checks before a wave starts, each with its figure. `validation`: the wave's
/// validation rows just run.
pub fn preflight(
    snapshot: &Snapshot,
    config: &Config,
    wave: &Wave,
    topics: &[String],
    groups: &[String],
    validation: &[(String, i32, Verdict, bool)],
    now: SystemTime,
) -> Vec<(&'static str, crate::error::Result<String>)> {
    let mut out: Vec<(&'static str, crate::error::Result<String>)> = Vec::new();
    out.push((
        "topics",
        if topics.is_empty() {
            Err("no source topic matches the wave's patterns".into())
        } else {
            Ok(format!("{} topic(s): {}", topics.len(), topics.join(", ")))
        },
    ));
    let wanted: std::collections::BTreeSet<&String> = topics.iter().collect();
    let diffs: Vec<String> = diff(snapshot, &config.replication, &config.topics)
        .into_iter()
        .filter(|d| wanted.contains(&d.source_topic))
        .map(|d| format!("{} -> {}: {}", d.source_topic, d.target_topic, d.difference.describe()))
        .collect();
    out.push((
        "target topics",
        if snapshot.target.state().is_none() {
            Err("the target has not answered".into())
        } else if diffs.is_empty() {
            Ok("exist with the same partitions and configs".into())
        } else {
            Err(diffs.join("; ").into())
        },
    ));
    out.push(("replication", replication_alive(snapshot, config, now)));
    out.push((
        "lag",
        match lags(snapshot, config, topics) {
            Err(e) => Err(e),
            Ok(l) => {
                let total: i64 = l.values().filter(|v| **v > 0).sum();
                if total <= wave.criteria.max_lag_to_start {
                    Ok(format!("{total} record(s), limit {}", wave.criteria.max_lag_to_start))
                } else {
                    Err(format!("{total} record(s) over the limit {}", wave.criteria.max_lag_to_start).into())
                }
            }
        },
    ));
    out.push((
        "validation",
        match validation.iter().find(|v| !matches!(v.2, Verdict::Pass)) {
            None => Ok(format!("{} partition(s) PASS", validation.len())),
            Some((t, p, v, _)) => Err(format!("{t}/{p}: {} {}", v.word(), v.describe_reason()).into()),
        },
    ));
    out.push((
        "groups on the target",
        match groups_empty(snapshot, groups, true) {
            Answer::Met(m) => Ok(m),
            Answer::NotYet(m) | Answer::Failed(m) => Err(format!("must be Empty or absent: {m}").into()),
        },
    ));
    out.push(("groups read only wave topics", groups_in_wave(snapshot, wave, groups)));
    out.push((
        "no group left behind",
        groups_left_behind(snapshot, wave, topics, groups),
    ));
    out
}

/// The groups on the source that read `topics` (members assigned to them, or offsets committed
/// on them), by group name, with the wave topics each reads.
pub fn readers_of(snapshot: &Snapshot, topics: &[String]) -> crate::error::Result<BTreeMap<String, Vec<String>>> {
    let groups = snapshot
        .source
        .state()
        .ok_or("the source has not answered")?
        .groups
        .as_ref()
        .map_err(|e| format!("the source's groups could not be read: {e}"))?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for g in groups {
        let committed = g
            .offsets
            .as_ref()
            .map(|o| o.topics().iter().map(|t| t.topic.clone()).collect::<Vec<_>>());
        let assigned = g
            .members
            .iter()
            .filter_map(|m| m.assignment.as_ref().ok())
            .flat_map(|a| a.keys().cloned());
        let mut read: Vec<String> = committed
            .unwrap_or_default()
            .into_iter()
            .chain(assigned)
            .filter(|t| topics.contains(t))
            .collect();
        read.sort();
        read.dedup();
        if !read.is_empty() {
            out.insert(g.name.clone(), read);
        }
    }
    Ok(out)
}

/// The groups that read the wave's topics on the source and stay there by the plan
/// (`leave_groups`): after `flip_producers` they receive no new record. One line each.
pub fn left_behind(
    snapshot: &Snapshot,
    wave: &Wave,
    topics: &[String],
    groups: &[String],
) -> crate::error::Result<Vec<String>> {
    Ok(readers_of(snapshot, topics)?
        .into_iter()
        .filter(|(g, _)| !groups.contains(g) && wave.leaves_group(g))
        .map(|(g, t)| {
            format!(
                "{g} (reads {}) stays on the source: it will receive no new records after flip_producers",
                t.join(", ")
            )
        })
        .collect())
}

/// Every group that reads a wave topic on the source moves with the wave, or is left on the
/// source knowingly (`leave_groups`): one that is neither would starve in silence once the
/// producers write to the target.
fn groups_left_behind(
    snapshot: &Snapshot,
    wave: &Wave,
    topics: &[String],
    groups: &[String],
) -> crate::error::Result<String> {
    let readers = readers_of(snapshot, topics)?;
    let behind: Vec<String> = readers
        .iter()
        .filter(|(g, _)| !groups.contains(g) && !wave.leaves_group(g))
        .map(|(g, t)| format!("{g} reads {}", t.join(", ")))
        .collect();
    let left = readers
        .keys()
        .filter(|g| !groups.contains(g) && wave.leaves_group(g))
        .count();
    if !behind.is_empty() {
        return Err(format!(
            "{} but is not in the wave: after flip_producers it would receive no new record. Add it to the wave's groups, or to leave_groups to leave it on the source knowingly",
            behind.join("; ")
        ).into());
    }
    Ok(match left {
        0 => "every group reading the wave's topics moves with it".into(),
        n => {
            format!("{n} group(s) left on the source by leave_groups: they receive no new records after flip_producers")
        }
    })
}

fn replication_alive(snapshot: &Snapshot, config: &Config, now: SystemTime) -> crate::error::Result<String> {
    if config.replication.kind == ReplicationKind::OffsetPreserving {
        return Ok("offset-preserving replicator: alive is judged by lag alone".into());
    }
    let mm2 = snapshot
        .mm2
        .as_ref()
        .ok_or("MM2's internal topics have not been read")?;
    match heartbeat_age(mm2, now) {
        Some(age) if !heartbeat_stale(age, config.monitor.refresh_interval) => {
            Ok(format!("MM2 heartbeat {} old", crate::model::short_duration(age)))
        }
        Some(age) => Err(format!(
            "MM2 heartbeat {} old: is MM2 running?",
            crate::model::short_duration(age)
        )
        .into()),
        None => Err("no MM2 heartbeat from this flow".into()),
    }
}

/// A group that also reads topics outside the wave cannot move with it.
fn groups_in_wave(snapshot: &Snapshot, wave: &Wave, groups: &[String]) -> crate::error::Result<String> {
    let Some(groups_now) = snapshot.source.state().and_then(|s| s.groups.as_ref().ok()) else {
        return Err("the source's groups could not be read".into());
    };
    let mut outside = Vec::new();
    for g in groups_now.iter().filter(|g| groups.contains(&g.name)) {
        if let Ok(offsets) = &g.offsets {
            for t in offsets.topics().iter().map(|t| &t.topic) {
                if !wave.has_topic(t) && !outside.contains(&format!("{} reads {t}", g.name)) {
                    outside.push(format!("{} reads {t}", g.name));
                }
            }
        }
    }
    if outside.is_empty() {
        Ok(format!("{} group(s)", groups.len()))
    } else {
        Err(format!(
            "{}: add the topics to the wave or the groups to another",
            outside.join(", ")
        )
        .into())
    }
}

/// Seed 004's automated rollback trigger: within `rollback_after` of the wave's end, a wave
/// group whose lag on the target (records of the wave's target topics not yet committed) is
/// over the limit. Returns what is breached, for the alarm.
pub fn rollback_breach(
    snapshot: &Snapshot,
    config: &Config,
    wave: &Wave,
    state: &super::engine::WaveState,
    now: SystemTime,
) -> Option<String> {
    let limit = wave.criteria.rollback_if_target_group_lag_over?;
    if super::engine::next(state, wave) != super::engine::Next::Finished(super::engine::Finish::Done) {
        return None;
    }
    let (_, done_at) = state.step_times(super::engine::Step::FlipProducers, &wave.hooks);
    let since = now.duration_since(done_at?).unwrap_or_default();
    if since > wave.criteria.rollback_after {
        return None;
    }
    let target = snapshot.target.state()?;
    let ends = ends(snapshot, config, &state.topics, true).ok()?;
    let groups = target.groups.as_ref().ok()?;
    for g in groups.iter().filter(|g| state.groups.contains(&g.name)) {
        let Ok(offsets) = &g.offsets else { continue };
        let lag: i64 = ends
            .iter()
            .map(|((topic, p), end)| {
                let at = offsets.get(&config.replication.target_topic(topic), *p).unwrap_or(0);
                (end - at).max(0)
            })
            .sum();
        if lag > limit {
            return Some(format!(
                "ROLLBACK SUGGESTED: wave {}: group {} lags {lag} records on the target (limit {limit}), {} after the flip",
                wave.name,
                g.name,
                crate::model::short_duration(since)
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(v: &[(&str, i32, i64)]) -> Ends {
        v.iter().map(|(t, p, o)| ((t.to_string(), *p), *o)).collect()
    }

    #[test]
    fn settle_needs_the_same_ends_for_the_whole_time() {
        let t0 = SystemTime::UNIX_EPOCH;
        let s = Duration::from_secs(6);
        let mut settle = Settle::default();
        assert!(matches!(settle.observe(ends(&[("a", 0, 5)]), t0, s), Answer::NotYet(_)));
        assert!(matches!(
            settle.observe(ends(&[("a", 0, 5)]), t0 + Duration::from_secs(5), s),
            Answer::NotYet(_)
        ));
        // It moved: the clock starts again.
        assert!(matches!(
            settle.observe(ends(&[("a", 0, 6)]), t0 + Duration::from_secs(7), s),
            Answer::NotYet(_)
        ));
        assert!(matches!(
            settle.observe(ends(&[("a", 0, 6)]), t0 + Duration::from_secs(12), s),
            Answer::NotYet(_)
        ));
        assert!(matches!(
            settle.observe(ends(&[("a", 0, 6)]), t0 + Duration::from_secs(13), s),
            Answer::Met(_)
        ));
    }

    #[test]
    fn drained_and_writes_on_target() {
        let lag = |v: &[i64]| {
            v.iter()
                .enumerate()
                .map(|(i, l)| (("a".to_string(), i as i32), *l))
                .collect()
        };
        assert!(matches!(drained(&lag(&[0, 0, -1])), Answer::Met(_)));
        assert_eq!(
            drained(&lag(&[0, 3])),
            Answer::NotYet("3 record(s) not copied yet (a/1: 3)".into())
        );
        let frozen = ends(&[("a", 0, 10)]);
        let t0 = ends(&[("a", 0, 10)]);
        assert!(matches!(
            writes_on_target(&frozen, &frozen, &t0, &t0),
            Answer::NotYet(_)
        ));
        assert!(matches!(
            writes_on_target(&frozen, &frozen, &t0, &ends(&[("a", 0, 12)])),
            Answer::Met(_)
        ));
        assert!(matches!(
            writes_on_target(&frozen, &ends(&[("a", 0, 11)]), &t0, &ends(&[("a", 0, 12)])),
            Answer::Failed(_)
        ));
    }

    #[test]
    fn lag_left_while_the_target_stands_still_is_drained_after_the_settle() {
        let lags: BTreeMap<(String, i32), i64> = [(("a".to_string(), 0), 2)].into();
        let t = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let settle_for = Duration::from_secs(2);
        let mut settle = Settle::default();
        let target = ends(&[("a", 0, 8)]);
        let first = drained_or_settled(&lags, target.clone(), t(0), &mut settle, settle_for);
        assert_eq!(first, Answer::NotYet("2 record(s) not copied yet (a/0: 2)".into()));
        assert!(matches!(
            drained_or_settled(&lags, target.clone(), t(1), &mut settle, settle_for),
            Answer::NotYet(_)
        ));
        // The target moved: the settle starts again.
        assert!(matches!(
            drained_or_settled(&lags, ends(&[("a", 0, 9)]), t(2), &mut settle, settle_for),
            Answer::NotYet(_)
        ));
        let met = drained_or_settled(&lags, ends(&[("a", 0, 9)]), t(4), &mut settle, settle_for);
        assert!(
            matches!(&met, Answer::Met(m) if m.starts_with("2 record(s) not copied yet (a/0: 2), but the target end offsets unchanged for 2s")),
            "{met:?}"
        );
        let none: BTreeMap<(String, i32), i64> = [(("a".to_string(), 0), 0)].into();
        assert!(matches!(
            drained_or_settled(&none, target, t(5), &mut Settle::default(), settle_for),
            Answer::Met(_)
        ));
    }

    #[test]
    fn preflight_fails_on_any_no_and_lists_every_figure_when_met() {
        let ok = [
            ("topics", Ok("1 topic(s): a".to_string())),
            ("lag", Ok("0".to_string())),
        ];
        assert_eq!(
            preflight_answer(&ok),
            Answer::Met("topics: ok, 1 topic(s): a; lag: ok, 0".into())
        );
        let no = [
            ("topics", Ok("1".to_string())),
            ("lag", Err(crate::error::Error::permanent("3 behind"))),
        ];
        assert_eq!(preflight_answer(&no), Answer::Failed("lag: 3 behind".into()));
    }
}
