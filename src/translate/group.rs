//! Translating every committed offset of one consumer group, with MM2's checkpoint beside it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use super::{translate_partition, Outcome, Translated};
use crate::config::Config;
use crate::jobs::CancelToken;
use crate::kafka::cursor::{ContentOnly, Cursor, KafkaCursor, Retrying, SkipTargetOnly};
use crate::mm2::state::Mm2State;
use crate::mm2::syncs::SyncHistory;
use crate::model::target_only::TargetOnly;
pub use crate::model::translation::GroupPartitionTranslation;

/// Records read on each side while translating, for the benchmark and the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReadCounts {
    pub source: u64,
    pub target: u64,
}

/// Translates one group's committed source offsets (`committed`), optionally one topic only.
/// `previous`: the group's last translation (may be empty); where it is exact, a partition is
/// walked from it, so a live group costs only the records since. `target_only`: the journal's
/// records written on the target only, stepped over. `own_timestamps`: target topics whose
/// broker stamps its own times, whose records are compared without timestamps.
#[allow(clippy::too_many_arguments)]
pub fn translate_group(
    config: &Config,
    mm2: Option<&Mm2State>,
    group: &str,
    committed: &BTreeMap<(String, i32), i64>,
    only_topic: Option<&str>,
    timeout: Duration,
    previous: &[GroupPartitionTranslation],
    target_only: &TargetOnly,
    own_timestamps: &BTreeSet<String>,
    cancel: &CancelToken,
) -> crate::error::Result<(Vec<GroupPartitionTranslation>, ReadCounts)> {
    let queries: BTreeMap<(String, i32), Vec<i64>> = committed
        .iter()
        .filter(|((t, _), _)| only_topic.is_none_or(|o| o == t) && config.topics.matches(t))
        .map(|(k, c)| (k.clone(), vec![*c]))
        .collect();
    let previous: BTreeMap<(String, i32), Translated> = previous
        .iter()
        .map(|r| ((r.source_topic.clone(), r.partition), r.translation.clone()))
        .collect();
    let (rows, counts) = translate_many(
        config,
        mm2,
        &queries,
        timeout,
        &previous,
        target_only,
        own_timestamps,
        cancel,
    )?;
    let out = rows
        .into_iter()
        .map(|((topic, partition), translated)| {
            let target_topic = config.replication.target_topic(&topic);
            // The newest checkpoint is what MM2 would give the group now, even an older one.
            let checkpoint = mm2.and_then(|m| m.checkpoint(group, &target_topic, partition));
            GroupPartitionTranslation {
                source_topic: topic,
                target_topic,
                partition,
                committed: translated.committed,
                checkpoint: checkpoint.map(|c| c.downstream),
                checkpoint_upstream: checkpoint.map(|c| c.upstream),
                translation: translated,
            }
        })
        .collect();
    Ok((out, counts))
}

/// A translated offset and its (source topic, partition).
pub type PartitionTranslated = ((String, i32), Translated);

/// Translates many committed offsets per partition, one pass per partition and anchor (so
/// a hundred groups on the same partition cost one walk).
#[allow(clippy::too_many_arguments)]
pub fn translate_many(
    config: &Config,
    mm2: Option<&Mm2State>,
    queries: &BTreeMap<(String, i32), Vec<i64>>,
    timeout: Duration,
    previous: &BTreeMap<(String, i32), Translated>,
    target_only: &TargetOnly,
    own_timestamps: &BTreeSet<String>,
    cancel: &CancelToken,
) -> crate::error::Result<(Vec<PartitionTranslated>, ReadCounts)> {
    let empty = SyncHistory::new(1);
    let syncs = mm2.map_or(&empty, |m| &m.syncs);
    let mut source: Option<KafkaCursor> = None;
    let mut target: Option<KafkaCursor> = None;
    let mut out = Vec::new();
    for ((topic, partition), committed) in queries {
        if cancel.is_cancelled() {
            break;
        }
        let target_topic = config.replication.target_topic(topic);
        let s = match &mut source {
            Some(c) => {
                c.switch(topic, *partition);
                c
            }
            None => source.insert(KafkaCursor::new(&config.source, topic, *partition, timeout)?),
        };
        let t = match &mut target {
            Some(c) => {
                c.switch(&target_topic, *partition);
                c
            }
            None => target.insert(KafkaCursor::new(&config.target, &target_topic, *partition, timeout)?),
        };
        let ranges = target_only.partition(&target_topic, *partition);
        let content_only = own_timestamps.contains(&target_topic);
        let (mut s, mut t) = (
            ContentOnly::new(Retrying::new(s).cancelled_by(cancel), content_only),
            ContentOnly::new(
                SkipTargetOnly::new(Retrying::new(t).cancelled_by(cancel), ranges.0.to_vec()),
                content_only,
            ),
        );
        let before = previous.get(&(topic.clone(), *partition));
        let translated = translate_partition(
            &mut s,
            &mut t,
            &config.replication,
            syncs,
            topic,
            *partition,
            committed,
            before,
            ranges,
        )
        .unwrap_or_else(|e| {
            committed
                .iter()
                .map(|c| Translated {
                    committed: *c,
                    anchor: None,
                    outcome: Outcome::Unavailable { reason: e.to_string() },
                    walked_over: Vec::new(),
                })
                .collect()
        });
        out.extend(translated.into_iter().map(|t| ((topic.clone(), *partition), t)));
    }
    if cancel.is_cancelled() {
        // Partitions cut short read as unavailable: no answer rather than a wrong one.
        return Err(crate::error::Error::cancelled().context("translation"));
    }
    let counts = ReadCounts {
        source: source.as_ref().map_or(0, |c| c.records_read()),
        target: target.as_ref().map_or(0, |c| c.records_read()),
    };
    Ok((out, counts))
}
