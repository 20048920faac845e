//! `cutover validate`: every watched partition's aligned range, compared record by record, and
//! compacted topics key by key.

use std::time::Duration;

use serde_json::json;

use super::run::{plan, run_planned};
use super::{PartitionResult, Verdict};
use crate::config::{Config, ReplicationKind};
use crate::jobs::CancelToken;
use crate::kafka::cursor::{ContentOnly, Cursor, KafkaCursor};
use crate::model::Snapshot;

pub use super::run::{Progress, Row};

/// Validates every watched topic (or one) of a freshly polled snapshot, as the config's
/// `[validation]` says (partitions at once, rate limit). With `progress`, partitions start
/// where the last passing run ended and `progress` moves on; a compacted partition is read whole
/// (its latest state needs every key) unless it passed with the same end offsets.
pub fn validate_all(
    config: &Config,
    snap: &Snapshot,
    only_topic: Option<&str>,
    timeout: Duration,
    progress: Option<&mut Progress>,
    cancel: &CancelToken,
) -> crate::error::Result<Vec<Row>> {
    let tasks = plan(config, snap, only_topic, progress.as_deref())?;
    let rows = run_planned(config, &tasks, timeout, progress, cancel, &|_| {});
    if cancel.is_cancelled() {
        // Rows cut short are no result; what passed before the cancel moved `progress` on.
        return Err(crate::error::Error::cancelled().context("validation"));
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
) -> crate::error::Result<Vec<Row>> {
    let src = snap
        .source
        .state()
        .ok_or_else(|| format!("{} could not be reached", config.source.name))?;
    let identity = config.replication.kind == ReplicationKind::OffsetPreserving;
    let own_timestamps = crate::model::inventory::own_timestamps(snap);
    let mut rows = Vec::new();
    for s in src.topics.values().filter(|t| only_topic.is_none_or(|o| o == t.name)) {
        let target_topic = config.replication.target_topic(&s.name);
        for p in &s.partitions {
            let (low, high) = match (&p.low, &p.high) {
                (Ok(l), Ok(h)) => (*l, *h),
                _ => return Err(format!("{}/{}: offsets unavailable", s.name, p.id).into()),
            };
            let content_only = own_timestamps.contains(&target_topic);
            let mut sc = ContentOnly::new(KafkaCursor::new(&config.source, &s.name, p.id, timeout)?, content_only);
            let mut tc = ContentOnly::new(
                KafkaCursor::new(&config.target, &target_topic, p.id, timeout)?,
                content_only,
            );
            let offsets = super::spot::sample_offsets(low, high, samples, seed ^ p.id as u64);
            let syncs = snap.mm2.as_ref().map(|m| &m.syncs);
            let target_only = snap.target_only.partition(&target_topic, p.id);
            let map = |o| {
                super::spot::mapped_offset(o, syncs.and_then(|h| h.anchor(&s.name, p.id, o)), identity, target_only)
            };
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
                bytes_read: 0,
                target_only: target_only.0.to_vec(),
                content_only,
            });
        }
    }
    if rows.is_empty() {
        return Err(only_topic.map_or("no watched topics to check".into(), |t| {
            format!("no topic {t} on the source").into()
        }));
    }
    Ok(rows)
}

/// The text (or JSON) and the exit code: 0 every validated partition passed, 1 a mismatch,
/// 2 a partition could not be validated (a broker error; mismatches found are listed too).
pub fn render(rows: &[Row], as_json: bool) -> (String, u8) {
    let failed = rows.iter().any(|r| matches!(r.result.verdict, Verdict::Fail { .. }));
    let errors = rows.iter().any(|r| matches!(r.result.verdict, Verdict::Error { .. }));
    let code = if errors { 2 } else { u8::from(failed) };
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
        let detail = crate::model::validation::result_detail(r);
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
    let pending = rows
        .iter()
        .filter(|r| matches!(r.result.verdict, Verdict::Pending { .. }))
        .count();
    if pending > 0 {
        out += &format!("\n{pending} partition(s) PENDING: not validated yet (no alignment yet), see DETAIL\n");
    }
    let errors = rows
        .iter()
        .filter(|r| matches!(r.result.verdict, Verdict::Error { .. }))
        .count();
    if errors > 0 {
        out += &format!("\n{errors} partition(s) ERROR: could not be validated, see DETAIL\n");
    }
    (out, code)
}
