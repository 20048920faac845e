//! `cutover validate`: every watched partition's aligned range, compared record by record, and
//! compacted topics key by key.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::{align, compacted, validate_range, PartitionResult, Verdict};
use crate::config::{Config, ReplicationKind};
use crate::model::Snapshot;
use crate::translate::{Cursor, KafkaCursor};

/// One partition's line of the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub topic: String,
    pub target_topic: String,
    pub partition: i32,
    pub result: PartitionResult,
    /// Records read from (source, target) for this partition.
    pub records_read: (u64, u64),
}

/// Where each partition was validated up to (source, target offsets after the last record
/// that passed), so the next run reads only what came since.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    validated_to: BTreeMap<(String, i32), (i64, i64)>,
}

impl Progress {
    pub fn get(&self, topic: &str, partition: i32) -> Option<(i64, i64)> {
        self.validated_to.get(&(topic.to_string(), partition)).copied()
    }
}

fn skipped(reason: String) -> PartitionResult {
    PartitionResult {
        source_range: (0, 0),
        target_range: (0, 0),
        records_compared: 0,
        pending: false,
        verdict: Verdict::Skipped { reason },
    }
}

/// Validates every watched topic (or one) of a freshly polled snapshot. With `progress`,
/// partitions start where the last passing run ended and `progress` moves on; compacted
/// topics are always read whole (their latest state needs every key).
pub fn validate_all(
    config: &Config,
    snap: &Snapshot,
    only_topic: Option<&str>,
    timeout: Duration,
    mut progress: Option<&mut Progress>,
) -> Result<Vec<Row>, String> {
    let src = snap
        .source
        .state()
        .ok_or_else(|| format!("{} could not be reached", config.source.name))?;
    let tgt = snap
        .target
        .state()
        .ok_or_else(|| format!("{} could not be reached", config.target.name))?;
    let identity = config.replication.kind == ReplicationKind::OffsetPreserving;
    let mut rows = Vec::new();
    for s in src.topics.values().filter(|t| only_topic.is_none_or(|o| o == t.name)) {
        let target_topic = config.replication.target_topic(&s.name);
        let compacted = src
            .configs
            .as_ref()
            .ok()
            .and_then(|c| c.get(&s.name))
            .and_then(|c| c.get("cleanup.policy"))
            .is_some_and(|p| p.contains("compact"));
        for p in &s.partitions {
            let row = |result, records_read| Row {
                topic: s.name.clone(),
                target_topic: target_topic.clone(),
                partition: p.id,
                result,
                records_read,
            };
            let Some(target_partition) = tgt.topics.get(&target_topic).and_then(|t| t.partition(p.id)) else {
                rows.push(row(
                    skipped(format!("{target_topic}/{} is missing on the target", p.id)),
                    (0, 0),
                ));
                continue;
            };
            let low = p
                .low
                .clone()
                .map_err(|e| format!("{}/{}: start offset {e}", s.name, p.id))?;
            let mut sc = KafkaCursor::new(&config.source, &s.name, p.id, timeout)?;
            let mut tc = KafkaCursor::new(&config.target, &target_topic, p.id, timeout)?;
            let result = if compacted {
                let target_low = target_partition.low.clone().unwrap_or(0);
                let (mismatch, read_s, read_t) = compacted::validate(&mut sc, &mut tc, low, target_low)?;
                PartitionResult {
                    source_range: (low, p.high.clone().unwrap_or(low)),
                    target_range: (target_low, target_partition.high.clone().unwrap_or(target_low)),
                    records_compared: read_s.min(read_t),
                    pending: false,
                    verdict: mismatch.map_or(Verdict::Pass, |mismatch| Verdict::Fail { mismatch }),
                }
            } else {
                let resume = progress.as_deref().and_then(|pr| pr.get(&s.name, p.id));
                let start = match resume {
                    Some(start) => Ok(start),
                    None => {
                        let oldest = snap.mm2.as_ref().and_then(|m| m.syncs.oldest(&s.name, p.id));
                        align(&mut sc, &mut tc, oldest, identity, low)?
                    }
                };
                let result = match start {
                    Ok(start) => validate_range(&mut sc, &mut tc, start)?,
                    Err(reason) => skipped(reason),
                };
                if let (Some(pr), Verdict::Pass) = (progress.as_deref_mut(), &result.verdict) {
                    let ends = (result.source_range.1, result.target_range.1);
                    pr.validated_to.insert((s.name.clone(), p.id), ends);
                }
                result
            };
            rows.push(row(result, (sc.records_read(), tc.records_read())));
        }
    }
    if rows.is_empty() {
        return Err(only_topic.map_or("no watched topics to validate".into(), |t| {
            format!("no topic {t} on the source")
        }));
    }
    Ok(rows)
}

/// Spot checks: `samples` random records per partition (drawn with `seed`), each compared
/// with the record at its mapped offset on the target.
pub fn spot_check_all(
    config: &Config,
    snap: &Snapshot,
    only_topic: Option<&str>,
    timeout: Duration,
    samples: usize,
    seed: u64,
) -> Result<Vec<Row>, String> {
    let src = snap
        .source
        .state()
        .ok_or_else(|| format!("{} could not be reached", config.source.name))?;
    let identity = config.replication.kind == ReplicationKind::OffsetPreserving;
    let mut rows = Vec::new();
    for s in src.topics.values().filter(|t| only_topic.is_none_or(|o| o == t.name)) {
        let target_topic = config.replication.target_topic(&s.name);
        for p in &s.partitions {
            let (low, high) = match (&p.low, &p.high) {
                (Ok(l), Ok(h)) => (*l, *h),
                _ => return Err(format!("{}/{}: offsets unavailable", s.name, p.id)),
            };
            let mut sc = KafkaCursor::new(&config.source, &s.name, p.id, timeout)?;
            let mut tc = KafkaCursor::new(&config.target, &target_topic, p.id, timeout)?;
            let offsets = super::spot::sample_offsets(low, high, samples, seed ^ p.id as u64);
            let syncs = snap.mm2.as_ref().map(|m| &m.syncs);
            let map = |o| super::spot::mapped_offset(o, syncs.and_then(|h| h.anchor(&s.name, p.id, o)), identity);
            let spot = super::spot::spot_check(&mut sc, &mut tc, &offsets, &map)?;
            rows.push(Row {
                topic: s.name.clone(),
                target_topic: target_topic.clone(),
                partition: p.id,
                result: PartitionResult {
                    source_range: (low, high),
                    target_range: (0, 0),
                    records_compared: spot.checked,
                    pending: false,
                    verdict: spot.verdict,
                },
                records_read: (sc.records_read(), tc.records_read()),
            });
        }
    }
    if rows.is_empty() {
        return Err(only_topic.map_or("no watched topics to check".into(), |t| {
            format!("no topic {t} on the source")
        }));
    }
    Ok(rows)
}

/// The text (or JSON) and the exit code: 0 every validated partition passed, 1 a mismatch.
pub fn render(rows: &[Row], as_json: bool) -> (String, u8) {
    let failed = rows.iter().any(|r| matches!(r.result.verdict, Verdict::Fail { .. }));
    let code = u8::from(failed);
    if as_json {
        return (
            serde_json::to_string_pretty(&json!({ "partitions": rows })).expect("json"),
            code,
        );
    }
    let mut out = format!(
        "{:<8} {:<24} {:>4} {:>17} {:>17} {:>9}  {}\n",
        "RESULT", "TOPIC", "P", "SOURCE RANGE", "TARGET RANGE", "COMPARED", "DETAIL"
    );
    for r in rows {
        let range = |(a, b): (i64, i64)| format!("{a}..{b}");
        let detail = match &r.result.verdict {
            Verdict::Pass if r.result.pending => "later source records not copied yet".to_string(),
            Verdict::Pass => String::new(),
            Verdict::Fail { mismatch } => mismatch.describe(),
            Verdict::Skipped { reason } => reason.clone(),
        };
        out += &format!(
            "{:<8} {:<24} {:>4} {:>17} {:>17} {:>9}  {}\n",
            r.result.verdict.word(),
            r.topic,
            r.partition,
            range(r.result.source_range),
            range(r.result.target_range),
            r.result.records_compared,
            detail
        );
    }
    let skipped = rows
        .iter()
        .filter(|r| matches!(r.result.verdict, Verdict::Skipped { .. }))
        .count();
    if skipped > 0 {
        out += &format!("\n{skipped} partition(s) SKIPPED: not validated, see DETAIL\n");
    }
    (out, code)
}
