//! Exact translation's answers as plain data, and the rule for showing them beside a live
//! group: what `translate` found, and whether it is still current. No I/O here.

use std::time::SystemTime;

use serde::Serialize;

use super::groups::{flip_cost_of, FlipCost, GroupPartition};
use crate::mm2::state::Mm2State;

/// Where a translation started from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Anchor {
    Sync {
        upstream: i64,
        downstream: i64,
    },
    /// The previous exact translation of the group (`committed` is at `target_offset`): a
    /// live group is translated again walking only the records since.
    Translation {
        committed: i64,
        target_offset: i64,
    },
    Timestamp {
        timestamp: i64,
        target_offset: i64,
    },
    Identity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Resuming the group on the target at `target_offset` reads exactly what it would have
    /// read next on the source. `verified_next`: the record there was compared too (false
    /// when the group has read everything and there is no next record yet).
    Exact {
        target_offset: i64,
        verified_next: bool,
    },
    /// No exact translation: the first place the two sides differ.
    Diverged {
        source_offset: i64,
        target_offset: Option<i64>,
        difference: String,
    },
    Unavailable {
        reason: String,
    },
}

impl Outcome {
    /// The outcome as a sentence, for screens and reports.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Exact {
                target_offset,
                verified_next: true,
            } => format!("exact at target offset {target_offset}, next record verified"),
            Outcome::Exact { target_offset, .. } => {
                format!("exact at target offset {target_offset} (no next record yet)")
            }
            Outcome::Diverged {
                source_offset,
                target_offset,
                difference,
            } => format!(
                "source {source_offset} vs target {}: {difference}",
                target_offset.map_or("(none)".into(), |t| t.to_string())
            ),
            Outcome::Unavailable { reason } => reason.clone(),
        }
    }
}

/// A difference between the two sides that the walk from the anchor stepped over before the
/// committed offset, where the streams agreed again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WalkedOver {
    /// A second copy of a source record already matched (MM2 is at-least-once).
    Duplicate { target_offset: i64, of_source: i64 },
    /// A source record the group already processed that is not on the target: data loss.
    Missing { source_offset: i64 },
    /// A target record that is not on the source (a corrupted or foreign copy).
    NotOnSource { target_offset: i64 },
}

impl WalkedOver {
    pub fn describe(&self) -> String {
        match self {
            WalkedOver::Duplicate {
                target_offset,
                of_source,
            } => format!("duplicate at target {target_offset} (of source {of_source})"),
            WalkedOver::Missing { source_offset } => {
                format!("source {source_offset} missing on the target: data loss, see validation")
            }
            WalkedOver::NotOnSource { target_offset } => {
                format!("target {target_offset} holds a record that is not on the source, see validation")
            }
        }
    }

    /// A record lost or changed, not merely repeated.
    pub fn is_loss(&self) -> bool {
        !matches!(self, WalkedOver::Duplicate { .. })
    }
}

/// "walked over 1 duplicate at target 11; source 57 missing on the target: ..."
pub fn walked_summary(walked: &[WalkedOver]) -> Option<String> {
    if walked.is_empty() {
        return None;
    }
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = walked.iter().take(SHOWN).map(WalkedOver::describe).collect();
    if walked.len() > SHOWN {
        parts.push(format!("{} more", walked.len() - SHOWN));
    }
    Some(format!("walked over {}", parts.join("; ")))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Translated {
    pub committed: i64,
    pub anchor: Option<Anchor>,
    pub outcome: Outcome,
    /// What the walk from the anchor stepped over before the committed offset.
    pub walked_over: Vec<WalkedOver>,
}

impl Translated {
    pub fn exact(&self) -> Option<i64> {
        match self.outcome {
            Outcome::Exact { target_offset, .. } => Some(target_offset),
            _ => None,
        }
    }

    /// Exact, but a record before the committed offset was lost or changed on the target.
    pub fn lost_records(&self) -> bool {
        self.walked_over.iter().any(WalkedOver::is_loss)
    }
}

/// One partition of a group: committed on the source, MM2's checkpoint, the exact offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupPartitionTranslation {
    pub source_topic: String,
    pub target_topic: String,
    pub partition: i32,
    pub committed: i64,
    /// MM2's newest checkpoint (downstream offset) for the group here, if it wrote one.
    pub checkpoint: Option<i64>,
    /// The source offset that checkpoint translated (newer than `committed` when the group
    /// committed between the two reads).
    pub checkpoint_upstream: Option<i64>,
    pub translation: Translated,
}

impl GroupPartitionTranslation {
    /// What flipping the group to the target on MM2's checkpoint would cost here.
    pub fn flip(&self) -> FlipCost {
        flip_cost_of(
            self.checkpoint_upstream.zip(self.checkpoint),
            self.committed,
            self.translation.exact(),
        )
    }
}

/// A group's exact translation: the newest answer, and whether a newer one is being read.
#[derive(Debug, Clone)]
pub struct GroupTranslation {
    pub requested_at: SystemTime,
    /// A translation is reading both clusters (the previous answer stays shown meanwhile).
    pub running: bool,
    pub done: Option<(SystemTime, crate::error::Result<Vec<GroupPartitionTranslation>>)>,
}

impl GroupTranslation {
    /// The previous answer's rows, as anchors for the next translation.
    pub fn previous(&self) -> Vec<GroupPartitionTranslation> {
        match &self.done {
            Some((_, Ok(rows))) => rows.clone(),
            _ => Vec::new(),
        }
    }

    /// True when the answer is for other committed offsets than `committed` gives now.
    pub fn outdated(&self, committed: impl Fn(&str, i32) -> Option<i64>) -> bool {
        match &self.done {
            Some((_, Ok(rows))) => rows
                .iter()
                .any(|r| committed(&r.source_topic, r.partition).is_some_and(|c| c != r.committed)),
            _ => false,
        }
    }
}

/// The exact offset of one partition, as the group view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exact {
    /// The translation is still reading both clusters.
    Translating,
    /// Not translated (none asked, it failed, or this partition was not in it).
    NotTranslated,
    /// The group committed again since: the translation was of `translated`, not of now.
    Stale {
        translated: i64,
    },
    Offset(i64),
    /// No exact translation, and why.
    NoExact {
        reason: String,
    },
}

/// One partition's MM2 checkpoint, exact offset and flip cost, for the group view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionExact {
    pub checkpoint: Option<i64>,
    pub exact: Exact,
    /// What flipping on MM2's checkpoint would cost; None until an exact answer is current.
    pub flip: Option<FlipCost>,
    /// What the current translation stepped over before the committed offset.
    pub walked_over: Vec<WalkedOver>,
}

/// A translation is current only for the committed offset it translated: once the group
/// commits again it is stale, and its flip cost is not shown.
pub fn partition_exact(
    mm2: Option<&Mm2State>,
    translation: Option<&GroupTranslation>,
    group: &str,
    p: &GroupPartition,
) -> PartitionExact {
    let checkpoint_at = mm2
        .and_then(|m| m.checkpoint(group, &p.target_topic, p.partition))
        .map(|c| (c.upstream, c.downstream));
    let checkpoint = checkpoint_at.map(|(_, downstream)| downstream);
    let done = translation.and_then(|t| t.done.as_ref());
    let row = done.and_then(|(_, r)| r.as_ref().ok()).and_then(|rows| {
        rows.iter()
            .find(|r| r.source_topic == p.source_topic && r.partition == p.partition)
    });
    let (exact, flip, walked_over) = match row {
        None if done.is_some() => (Exact::NotTranslated, None, vec![]),
        None => (Exact::Translating, None, vec![]),
        Some(row) if Some(row.committed) != p.source_committed => (
            Exact::Stale {
                translated: row.committed,
            },
            None,
            vec![],
        ),
        Some(row) => {
            let exact = match &row.translation.outcome {
                Outcome::Exact { target_offset, .. } => Exact::Offset(*target_offset),
                other => Exact::NoExact {
                    reason: other.describe(),
                },
            };
            (
                exact,
                Some(flip_cost_of(checkpoint_at, row.committed, row.translation.exact())),
                row.translation.walked_over.clone(),
            )
        }
    };
    PartitionExact {
        checkpoint,
        exact,
        flip,
        walked_over,
    }
}
