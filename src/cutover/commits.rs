//! Commit plans as values: what a commit (or a commit back) writes, computed from what was read,
//! shown to the engineer, journaled as confirmed, re-checked against its basis and written.
//! Pure: the driver reads and writes, these functions decide.

use std::collections::{BTreeMap, BTreeSet};

use super::engine::{OffsetMove, Side, WaveState};
use crate::error::{Error, Result};
use crate::kafka::write::OffsetChange;
use crate::model::translation::GroupPartitionTranslation;

/// Committed offsets by (topic, partition).
pub type Offsets = BTreeMap<(String, i32), i64>;

/// One group's commit: the offsets to write on one cluster. It is what the engineer is shown
/// and confirms, and exactly what is written, unless its basis moved (then they are asked
/// again).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCommit {
    pub group: String,
    pub moves: Vec<OffsetMove>,
    /// Per move: what flipping on MM2's checkpoint instead would cost ("+3 duplicates").
    pub checkpoint_costs: Vec<String>,
    /// What the moves were computed from: the group's committed offsets on the cluster read
    /// (the source for the forward commit, the target for the commit back).
    pub basis: Offsets,
}

/// The forward commit of one group: every committed source offset must translate exactly (a
/// partition that does not stops the plan, naming it). `target_now`: the group's offsets on
/// the target now (what the commit expects to find there).
pub fn commit_plan(
    group: &str,
    basis: Offsets,
    target_now: &Offsets,
    rows: Vec<GroupPartitionTranslation>,
) -> Result<GroupCommit> {
    let mut moves = Vec::new();
    let mut checkpoint_costs = Vec::new();
    for r in rows {
        let Some(new) = r.translation.exact() else {
            return Err(Error::permanent(format!(
                "{group} {}/{}: no exact translation of {}: {}",
                r.source_topic,
                r.partition,
                r.committed,
                r.translation.outcome.describe()
            )));
        };
        checkpoint_costs.push(
            crate::model::groups::flip_cost_of(r.checkpoint_upstream.zip(r.checkpoint), r.committed, Some(new)).label(),
        );
        moves.push(OffsetMove {
            old: target_now.get(&(r.target_topic.clone(), r.partition)).copied(),
            topic: r.target_topic,
            partition: r.partition,
            new,
            from: r.committed,
        });
    }
    Ok(GroupCommit {
        group: group.to_string(),
        moves,
        checkpoint_costs,
        basis,
    })
}

/// Where a partition's commit back starts from: the forward commit wrote `forward.new` on the
/// target for source offset `forward.from`; the group is at `target_at` on the target now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Back {
    /// The group read nothing on the target: it goes back to where it was on the source.
    Unmoved(i64),
    /// It read on: the target is walked from (down, up) to `at` to find the source offset.
    Walk { down: i64, up: i64, at: i64 },
}

/// The commit-back rule for one partition of the forward commit.
pub fn back_from(forward: &OffsetMove, target_at: Option<i64>) -> Back {
    let at = target_at.unwrap_or(forward.new);
    if at == forward.new {
        Back::Unmoved(forward.from)
    } else {
        Back::Walk {
            down: forward.new,
            up: forward.from,
            at,
        }
    }
}

/// The forward commits journaled in this run, per group: what a rollback commits back.
pub fn forward_commits(state: &WaveState) -> Vec<(String, Vec<OffsetMove>)> {
    state
        .commits
        .iter()
        .filter(|(side, _, _)| *side == Side::Target)
        .map(|(_, g, m)| (g.clone(), m.clone()))
        .collect()
}

/// Whether this run already journaled the group's commit on `side` (before a crash): it is
/// never written twice.
pub fn already_committed(state: &WaveState, side: Side, group: &str) -> bool {
    state.commits.iter().any(|(s, g, _)| *s == side && g == group)
}

/// The writes a group's commit needs: partitions already at their offset are left alone
/// (after a crash between the write and its journal entry, all of them are).
pub fn changes(c: &GroupCommit) -> Vec<OffsetChange> {
    c.moves
        .iter()
        .filter(|m| m.old != Some(m.new))
        .map(|m| OffsetChange {
            topic: m.topic.clone(),
            partition: m.partition,
            expected: m.old,
            new: m.new,
        })
        .collect()
}

/// A group's moves as journaled written: where a partition was already at its planned offset
/// because the planned write landed before a crash (`planned`, journaled just before it),
/// `old` is what was there before that write, not the offset it wrote.
pub fn as_written(c: &GroupCommit, planned: Option<&[OffsetMove]>) -> Vec<OffsetMove> {
    c.moves
        .iter()
        .map(|m| {
            let landed = planned.and_then(|p| {
                p.iter()
                    .find(|b| b.topic == m.topic && b.partition == m.partition && b.new == m.new)
            });
            match landed {
                Some(before) if m.old == Some(m.new) => OffsetMove {
                    old: before.old,
                    ..m.clone()
                },
                _ => m.clone(),
            }
        })
        .collect()
}

/// The commit journaled as planned for `group` on `side` in this run, if any.
pub fn planned<'s>(state: &'s WaveState, side: Side, group: &str) -> Option<&'s [OffsetMove]> {
    state
        .planned
        .iter()
        .find(|(s, g, _)| *s == side && g == group)
        .map(|(_, _, m)| m.as_slice())
}

/// What moved between the basis a plan was computed from and the offsets now, one line each.
pub fn basis_moved(group: &str, then: &Offsets, now: &Offsets) -> Vec<String> {
    let keys: BTreeSet<&(String, i32)> = then.keys().chain(now.keys()).collect();
    keys.into_iter()
        .filter(|k| then.get(*k) != now.get(*k))
        .map(|(t, p)| {
            let show = |v: Option<&i64>| v.map_or("none".to_string(), |o| o.to_string());
            format!(
                "{group} {t}/{p}: {} -> {}",
                show(then.get(&(t.clone(), *p))),
                show(now.get(&(t.clone(), *p)))
            )
        })
        .collect()
}

/// A group's moves as shown: "orders/0 none -> 57 (source 52; on MM2's checkpoint: +3 duplicates)".
pub fn group_lines(c: &GroupCommit, side: Side) -> Vec<String> {
    c.moves
        .iter()
        .zip(&c.checkpoint_costs)
        .map(|(m, cost)| {
            let from = match side {
                Side::Target => format!("source offset {}; on MM2's checkpoint: {cost}", m.from),
                Side::Source => format!("target offset {}", m.from),
            };
            format!(
                "{}/{} {} -> {} ({from})",
                m.topic,
                m.partition,
                m.old.map_or("none".into(), |o| o.to_string()),
                m.new
            )
        })
        .collect()
}

/// A plan as the question shows it: a summary line, then every partition (the prompt scrolls).
pub fn plan_lines(plan: &[GroupCommit], side: Side) -> Vec<String> {
    let partitions: usize = plan.iter().map(|c| c.moves.len()).sum();
    let unchanged: usize = plan
        .iter()
        .flat_map(|c| &c.moves)
        .filter(|m| m.old == Some(m.new))
        .count();
    let mut lines = vec![format!(
        "{} group(s), {partitions} partition(s), {unchanged} already at their offset",
        plan.len()
    )];
    for c in plan {
        lines.extend(group_lines(c, side).into_iter().map(|l| format!("{} {l}", c.group)));
    }
    lines
}

/// The rollback dialog's arithmetic: records written on the target only since the flip
/// (`began`) up to `now`, per target topic.
pub fn target_only_lines(
    wave: &str,
    began: &[super::engine::PartitionEnd],
    now: &[super::engine::PartitionEnd],
) -> Vec<String> {
    let mut per_topic: BTreeMap<String, i64> = BTreeMap::new();
    for range in super::engine::target_only_ranges(wave, began, Some(now), 0, None) {
        *per_topic.entry(range.topic.clone()).or_default() += range.records().unwrap_or(0);
    }
    if per_topic.is_empty() {
        return vec!["no record was written to the target only".into()];
    }
    per_topic
        .iter()
        .map(|(t, n)| {
            format!(
                "{n} record(s) on {t} exist only on the target: the target groups process them before they move back"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(topic: &str, p: i32, old: Option<i64>, new: i64, from: i64) -> OffsetMove {
        OffsetMove {
            topic: topic.into(),
            partition: p,
            old,
            new,
            from,
        }
    }

    #[test]
    fn only_partitions_not_at_their_offset_are_written() {
        let c = GroupCommit {
            group: "g".into(),
            moves: vec![
                mv("t", 0, Some(7), 7, 2),
                mv("t", 1, None, 9, 4),
                mv("t", 2, Some(3), 5, 1),
            ],
            checkpoint_costs: vec![String::new(); 3],
            basis: Offsets::new(),
        };
        let ch = changes(&c);
        assert_eq!(ch.len(), 2);
        assert_eq!((ch[0].partition, ch[0].expected, ch[0].new), (1, None, 9));
        assert_eq!((ch[1].partition, ch[1].expected, ch[1].new), (2, Some(3), 5));
        assert_eq!(
            plan_lines(&[c], Side::Target)[0],
            "1 group(s), 3 partition(s), 1 already at their offset"
        );
    }

    #[test]
    fn a_group_that_read_nothing_goes_back_where_it_was() {
        let forward = mv("src.t", 0, None, 57, 52);
        assert_eq!(back_from(&forward, Some(57)), Back::Unmoved(52));
        assert_eq!(back_from(&forward, None), Back::Unmoved(52));
        assert_eq!(
            back_from(&forward, Some(60)),
            Back::Walk {
                down: 57,
                up: 52,
                at: 60
            }
        );
    }

    #[test]
    fn basis_moved_names_each_partition_that_changed() {
        let then: Offsets = [(("t".to_string(), 0), 5), (("t".to_string(), 1), 6)].into();
        let now: Offsets = [
            (("t".to_string(), 0), 5),
            (("t".to_string(), 1), 3),
            (("t".to_string(), 2), 1),
        ]
        .into();
        assert_eq!(basis_moved("g", &then, &now), vec!["g t/1: 6 -> 3", "g t/2: none -> 1"]);
        assert!(basis_moved("g", &then, &then).is_empty());
    }

    #[test]
    fn rollback_counts_records_written_on_the_target_only_per_topic() {
        let end = |t: &str, p, o| super::super::engine::PartitionEnd {
            topic: t.into(),
            partition: p,
            offset: o,
        };
        let began = [end("src.a", 0, 10), end("src.a", 1, 4), end("src.b", 0, 0)];
        let now = [end("src.a", 0, 14), end("src.a", 1, 6), end("src.b", 0, 0)];
        assert_eq!(
            target_only_lines("w", &began, &now),
            vec!["6 record(s) on src.a exist only on the target: the target groups process them before they move back"]
        );
        assert_eq!(
            target_only_lines("w", &began, &began),
            vec!["no record was written to the target only"]
        );
    }

    #[test]
    fn a_write_that_landed_before_a_crash_is_journaled_with_what_was_there_before_it() {
        let planned = [mv("t", 0, None, 45, 40), mv("t", 1, Some(50), 57, 52)];
        // Resumed: partition 0 landed (now at 45), partition 1 did not.
        let c = GroupCommit {
            group: "g".into(),
            moves: vec![mv("t", 0, Some(45), 45, 40), mv("t", 1, Some(50), 57, 52)],
            checkpoint_costs: vec![String::new(); 2],
            basis: Offsets::new(),
        };
        assert_eq!(as_written(&c, Some(&planned)), planned.to_vec());
        assert_eq!(changes(&c).len(), 1, "only what did not land is written");
        assert_eq!(as_written(&c, None), c.moves);
    }
}
