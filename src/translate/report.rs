//! `cutover translate`: a group's exact translation, as a table or JSON.

use serde_json::json;

use super::group::{translate_group, GroupPartitionTranslation};
use super::{Anchor, Outcome};
use crate::config::{Config, ReplicationKind};
use crate::model::groups::FlipCost;
use crate::model::translation::walked_summary;

fn anchor_text(a: &Option<Anchor>) -> String {
    match a {
        Some(Anchor::Sync { upstream, downstream }) => format!("sync {upstream}->{downstream}"),
        Some(Anchor::Timestamp {
            timestamp,
            target_offset,
        }) => format!("timestamp {timestamp} at {target_offset}"),
        Some(Anchor::Identity) => "identity".into(),
        Some(Anchor::Translation {
            committed,
            target_offset,
        }) => format!("previous translation {committed}->{target_offset}"),
        None => "-".into(),
    }
}

fn detail(r: &GroupPartitionTranslation) -> String {
    let outcome = outcome_detail(r);
    match walked_summary(&r.translation.walked_over) {
        Some(w) => format!("{outcome}; {w}"),
        None => outcome,
    }
}

fn outcome_detail(r: &GroupPartitionTranslation) -> String {
    match &r.translation.outcome {
        Outcome::Exact {
            verified_next: true, ..
        } => format!("{}, next record verified", anchor_text(&r.translation.anchor)),
        Outcome::Exact {
            verified_next: false, ..
        } => {
            format!("{}, caught up (no next record yet)", anchor_text(&r.translation.anchor))
        }
        Outcome::Diverged {
            source_offset,
            target_offset,
            difference,
        } => format!(
            "NO EXACT TRANSLATION: source {source_offset} vs target {}: {difference}",
            target_offset.map_or("(none)".into(), |t| t.to_string())
        ),
        Outcome::Unavailable { reason } => format!("NO EXACT TRANSLATION: {reason}"),
    }
}

/// Returns the text to print and the exit code: 0 every partition exact and MM2's checkpoint
/// loses nothing, 1 something needs attention, 2 (Err) the group or clusters could not be read.
pub fn run(config: &Config, group: &str, topic: Option<&str>, as_json: bool) -> crate::error::Result<(String, u8)> {
    let timeout = config.monitor.request_timeout;
    let committed = crate::kafka::group_offsets(&config.source, group, timeout)
        .map_err(|e| format!("committed offsets of {group} on {}: {e}", config.source.name))?;
    if committed.is_empty() {
        return Err(format!("group {group} has no committed offsets on {}", config.source.name).into());
    }
    let mm2 = match config.replication.kind {
        ReplicationKind::MirrorMaker2 => Some(crate::kafka::mm2::read_once(
            &config.source,
            &config.target,
            &config.replication,
            timeout,
        )?),
        ReplicationKind::OffsetPreserving => None,
    };
    let target_topics: Vec<String> = committed
        .keys()
        .map(|(t, _)| config.replication.target_topic(t))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let own_timestamps = crate::kafka::own_timestamps(&config.target, &target_topics, timeout)
        .map_err(|e| format!("topic configs on {}: {e}", config.target.name))?;
    let (rows, counts) = translate_group(
        config,
        mm2.as_ref(),
        group,
        &committed,
        topic,
        timeout,
        &[],
        &crate::cutover::journal::target_only_now(config),
        &own_timestamps,
        &Default::default(),
    )?;
    if rows.is_empty() {
        return Err(format!(
            "group {group} has no committed offsets on watched topics{}",
            topic.map(|t| format!(" (topic {t})")).unwrap_or_default()
        )
        .into());
    }
    // Duplicates stepped over lose nothing; a record lost or changed before the committed
    // offset does, even where the resume point is exact.
    let attention = rows.iter().any(|r| {
        r.translation.exact().is_none() || r.translation.lost_records() || matches!(r.flip(), FlipCost::Skips(_))
    });
    let code = u8::from(attention);
    // Said beside the figures: a topic whose target stamps its own times has no timestamp to compare.
    let content_only: Vec<&String> = rows
        .iter()
        .map(|r| &r.target_topic)
        .filter(|t| own_timestamps.contains(*t))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if as_json {
        let doc = json!({
            "group": group,
            "source": config.source.name,
            "target": config.target.name,
            "records_read": counts,
            "compared_without_timestamps": content_only,
            "mm2_errors": mm2.as_ref().map(|m| m.errors.clone()),
            "mm2_skipped_records": mm2.as_ref().map(|m| json!({"undecodable": m.undecodable, "invalid_offset_syncs": m.rejected_syncs})),
            "partitions": rows.iter().map(|r| json!({
                "topic": r.source_topic, "target_topic": r.target_topic, "partition": r.partition,
                "committed": r.committed, "checkpoint": r.checkpoint, "checkpoint_upstream": r.checkpoint_upstream, "exact": r.translation.exact(),
                "flip_on_checkpoint": r.flip().label(), "anchor": r.translation.anchor, "outcome": r.translation.outcome,
                "walked_over": r.translation.walked_over, "walked_over_text": walked_summary(&r.translation.walked_over),
            })).collect::<Vec<_>>(),
        });
        return Ok((serde_json::to_string_pretty(&doc).expect("json"), code));
    }
    let mut out = format!(
        "group {group}: {} -> {} ({:?}); read {} source and {} target records\n",
        config.source.name, config.target.name, config.replication.kind, counts.source, counts.target
    );
    for t in &content_only {
        out += &format!("{t}: {}\n", crate::model::inventory::WITHOUT_TIMESTAMPS);
    }
    if let Some(m) = &mm2 {
        for (what, e) in &m.errors {
            out += &format!("MM2 {what}: {e}\n");
        }
        if m.skipped() > 0 {
            out += &format!(
                "MM2: {} records skipped ({} undecodable, {} invalid offset-syncs; see the log)\n",
                m.skipped(),
                m.undecodable,
                m.rejected_syncs
            );
        }
    }
    out += &format!(
        "\n{:<24} {:>4} {:>12} {:>12} {:>12} {:<18} {}\n",
        "TOPIC", "P", "COMMITTED", "CHECKPOINT", "EXACT", "FLIP ON CHECKPOINT", "DETAIL"
    );
    for r in &rows {
        out += &format!(
            "{:<24} {:>4} {:>12} {:>12} {:>12} {:<18} {}\n",
            r.source_topic,
            r.partition,
            r.committed,
            r.checkpoint.map_or("-".into(), |c| c.to_string()),
            r.translation.exact().map_or("-".into(), |c| c.to_string()),
            r.flip().label(),
            detail(r)
        );
    }
    Ok((out, code))
}
