//! `cutover status`: poll both clusters once and print what the overview would show.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::json;

use crate::config::Config;
use crate::kafka::ClusterClient;
use crate::model::groups::group_rows;
use crate::model::inventory::diff;
use crate::model::overview::{topic_pairs, PairStatus, TopicPair};
use crate::model::{ClusterFeed, Snapshot};
use crate::monitor::watches;

/// Polls both clusters once, concurrently.
pub async fn snapshot_once(config: &Config) -> crate::error::Result<Snapshot> {
    let timeout = config.monitor.request_timeout;
    let source = ClusterClient::connect(&config.source, timeout, None)?;
    let target = ClusterClient::connect(&config.target, timeout, None)?;
    let (ws, wt) = watches(&config.replication, &config.topics, &config.groups);
    // The journal's target-only ranges before the target is read (see `monitor`).
    let target_only = crate::cutover::journal::target_only_now(config);
    // The target first, then the source: what the target holds was then on the source when
    // the source was read, so lag is never negative because of when they were read.
    let t = target.poll(&wt).await;
    let s = source.poll(&ws).await;
    let feed = |name: &str, r: crate::error::Result<crate::model::ClusterState>| {
        let mut f = ClusterFeed::new(name);
        match r {
            Ok(state) => f.last_good = Some(Arc::new(state)),
            Err(e) => f.last_error = Some((SystemTime::now(), e.message)),
        }
        f
    };
    // The same MM2 state the cockpit reads, so lag is computed the same way in both.
    let mm2 = match config.replication.kind {
        crate::config::ReplicationKind::MirrorMaker2 => {
            let (source, target, replication) =
                (config.source.clone(), config.target.clone(), config.replication.clone());
            tokio::task::spawn_blocking(move || crate::kafka::mm2::read_once(&source, &target, &replication, timeout))
                .await
                .map_err(|e| e.to_string())?
                .map(Arc::new)
                .map_err(|e| tracing::warn!("MM2 internal topics: {e}"))
                .ok()
        }
        crate::config::ReplicationKind::OffsetPreserving => None,
    };
    let target = feed(&config.target.name, t);
    let mut snap = Snapshot {
        source: feed(&config.source.name, Ok(s?)),
        target_before_source: target.last_good.clone(),
        target,
        seq: 1,
        mm2,
        target_only,
    };
    // Lag in seconds as the cockpit derives it: one poll, so from the records' own timestamps.
    let (mut source_clock, mut target_clock) = crate::monitor::lag_clocks(config);
    snap.source.ages = Arc::new(source_clock.ages(&snap).await);
    snap.target.ages = Arc::new(target_clock.ages(&snap).await);
    Ok(snap)
}

/// Exit code: 0 all OK, 1 something needs attention (lag, missing, mismatch, drift),
/// 2 a cluster could not be reached.
pub fn report(config: &Config, snap: &Snapshot, as_json: bool) -> (String, i32) {
    let now = SystemTime::now();
    let pairs = topic_pairs(snap, &config.replication, &config.topics, &config.monitor, now);
    let diffs = diff(snap, &config.replication, &config.topics);
    let groups = group_rows(snap, &config.groups);
    let alarms = alarms_now(config, snap, now);
    // Who drives the cutover now (a cockpit, `cutover run`, or a detached driver holding a wave).
    let driver =
        crate::cutover::journal::driver(&config.cutover.journal_path(&config.source.name, &config.target.name));
    let holder = driver.as_deref().and_then(crate::cutover::handover::holder);
    let unreachable = [&snap.source, &snap.target].iter().any(|f| f.state().is_none());
    // A filter that matches nothing watches nothing: never "all OK".
    let nothing_watched = pairs.is_empty();
    let attention =
        nothing_watched || pairs.iter().any(|p| p.status != PairStatus::Ok) || !diffs.is_empty() || !alarms.is_empty();
    let code = if unreachable {
        2
    } else if attention {
        1
    } else {
        0
    };
    let cluster_json = |f: &ClusterFeed| match (f.state(), &f.last_error) {
        (Some(s), _) => json!({"name": f.name, "reachable": true, "brokers": s.brokers.len(),
            "poll_ms": s.poll_duration.as_millis() as u64}),
        (None, e) => json!({"name": f.name, "reachable": false,
            "error": e.as_ref().map(|(_, e)| e.clone())}),
    };
    if as_json {
        let topics: Vec<_> = pairs.iter().map(pair_json).collect();
        let inventory: Vec<_> = diffs
            .iter()
            .map(|d| json!({"topic": d.source_topic, "target_topic": d.target_topic, "kind": d.difference.kind(), "detail": d.difference.describe()}))
            .collect();
        let groups = match &groups {
            Ok(rows) => json!(rows
                .iter()
                .map(|g| json!({
                    "group": g.name,
                    "source": g.source.as_ref().map(group_side_json),
                    "target": g.target.as_ref().map(group_side_json),
                }))
                .collect::<Vec<_>>()),
            Err(e) => json!({"unavailable": e.message}),
        };
        let mm2 = snap.mm2.as_ref().map(|m| {
            json!({"offset_syncs": m.syncs.len(), "heartbeat_ms": m.heartbeat_ms, "errors": m.errors,
                "skipped_records": {"undecodable": m.undecodable, "invalid_offset_syncs": m.rejected_syncs},
                "other_flows_heartbeats": m.other_flows_heartbeats})
        });
        let alarms: Vec<_> = alarms
            .iter()
            .map(|(wave, kind, text)| json!({"wave": wave, "kind": kind, "text": text}))
            .collect();
        let driver = driver.as_ref().map(|text| {
            json!({"lock": text, "pid": holder.as_ref().map(|h| h.pid),
                "detached": holder.as_ref().is_some_and(|h| h.detached)})
        });
        let doc = json!({"source": cluster_json(&snap.source), "target": cluster_json(&snap.target),
            "mm2": mm2, "topics": topics, "inventory": inventory, "groups": groups, "alarms": alarms,
            "driver": driver});
        return (serde_json::to_string_pretty(&doc).expect("json"), code);
    }
    let mut out = String::new();
    for (label, f) in [("source", &snap.source), ("target", &snap.target)] {
        match (f.state(), &f.last_error) {
            (Some(s), _) => {
                out += &format!(
                    "{label} {}: {} broker(s), polled in {}ms\n",
                    f.name,
                    s.brokers.len(),
                    s.poll_duration.as_millis()
                )
            }
            (None, e) => {
                out += &format!(
                    "{label} {}: UNREACHABLE: {}\n",
                    f.name,
                    e.as_ref().map_or("no answer", |(_, e)| e.as_str())
                )
            }
        }
    }
    if let Some(m) = &snap.mm2 {
        out += &format!("MM2: {} offset-syncs read\n", m.syncs.len());
        for (what, e) in &m.errors {
            out += &format!("MM2 {what}: {e}\n");
        }
    }
    if nothing_watched && !unreachable {
        out += "no source topic matches the [topics] include/exclude filters of the config: nothing is watched\n";
    }
    out += &format!(
        "\n{:<9} {:<30} {:<30} {:>9} {:>12} {:>12} {:>10} {:>7}\n",
        "STATUS", "TOPIC", "TARGET TOPIC", "P SRC/TGT", "SRC END", "TGT END", "LAG", "LAG S"
    );
    let n = |v: Option<i64>| v.map_or("?".to_string(), |x| x.to_string());
    for p in &pairs {
        let parts = format!(
            "{}/{}",
            n(p.source_partitions.map(|x| x as i64)),
            p.target_partitions.map_or("-".into(), |x| x.to_string())
        );
        out += &format!(
            "{:<9} {:<30} {:<30} {:>9} {:>12} {:>12} {:>10} {:>7}{}\n",
            p.status.word(),
            p.source_topic,
            p.target_topic,
            parts,
            n(p.source_end),
            n(p.target_end),
            n(p.lag),
            p.lag_age.map_or("?".into(), |a| a.label()),
            p.note.as_ref().map(|x| format!("  ({x})")).unwrap_or_default()
        );
    }
    match (&driver, &holder) {
        (Some(text), Some(h)) if h.detached => {
            out += &format!(
                "\nDETACHED: a detached driver holds the cutover ({text}): `cutover` (s on the wave) or `cutover run --wave W` takes it over\n"
            )
        }
        (Some(text), _) => out += &format!("\ndriven by {text}\n"),
        (None, _) => {}
    }
    if !alarms.is_empty() {
        out += "\nALARMS\n";
        for (_, _, text) in &alarms {
            out += &format!("{text}\n");
        }
    }
    if !diffs.is_empty() {
        out += "\nINVENTORY DIFFERENCES\n";
        for d in &diffs {
            out += &format!(
                "{:<10} {:<30} {}\n",
                d.difference.kind(),
                d.source_topic,
                d.difference.describe()
            );
        }
    }
    (out, code)
}

/// The alarms the cockpit would raise now, from the journal and this poll: (wave, kind, text),
/// kind one of lag (the rollback criterion), pause, stray-producer, stray-consumer.
pub fn alarms_now(config: &Config, snap: &Snapshot, now: SystemTime) -> Vec<(String, String, String)> {
    let path = config.cutover.journal_path(&config.source.name, &config.target.name);
    let entries = crate::cutover::journal::read(&path).unwrap_or_default();
    let mut alarms = Vec::new();
    for wave in &config.waves {
        let state = crate::cutover::journal::wave_state(&entries, wave);
        let mut add = |kind: &str, text: String| alarms.push((wave.name.clone(), kind.to_string(), text));
        if let Some(text) = crate::cutover::checks::rollback_breach(snap, config, wave, &state, now) {
            add("lag", text);
        }
        if let Some((text, _)) = crate::cutover::pause::pause_breach(&state, wave, now) {
            add("pause", text);
        }
        for (kind, text) in crate::cutover::strays::strays(snap, config, &state, wave, now) {
            add(kind.key(), text);
        }
    }
    alarms
}

fn pair_json(p: &TopicPair) -> serde_json::Value {
    json!({
        "topic": p.source_topic, "target_topic": p.target_topic, "status": p.status.word(),
        "source_partitions": p.source_partitions, "target_partitions": p.target_partitions,
        "source_end": p.source_end, "target_end": p.target_end, "lag": p.lag,
        "lag_seconds": p.lag_age.map(|a| a.seconds()), "lag_seconds_how": p.lag_age.map(|a| a.how),
        "note": p.note,
    })
}

/// Lag in records and in seconds ("how": exact, estimated or at_least; null when not known).
fn group_side_json(s: &crate::model::groups::GroupSide) -> serde_json::Value {
    json!({"state": s.status.label(), "members": s.members, "lag": s.lag.as_ref().ok(),
        "lag_seconds": s.lag_age.map(|a| a.seconds()), "lag_seconds_how": s.lag_age.map(|a| a.how)})
}
