//! MirrorMaker 2 awareness against two real tansu brokers, with the MM2-compatible replicator
//! copying between them: the mapping, its drift, and exact translation.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::groups::commit_offsets;
use common::*;
use cutover::config::{ClusterConfig, Config, OffsetSyncsLocation, PolicyKind, Replication, ReplicationKind};
use cutover::demo::broker::{Storage, TansuBroker};
use cutover::demo::clients::TopicSpec;
use cutover::demo::replicator::{Fault, Injection, Replicator, ReplicatorSpec};
use cutover::kafka::cursor::{Cursor, KafkaCursor};
use cutover::mm2::syncs::SyncHistory;
use cutover::model::mapping::mapping_rows;
use cutover::monitor::Monitor;
use cutover::translate::{translate_partition, Outcome, Translated, WalkedOver};

fn mm2(policy: PolicyKind) -> Replication {
    Replication {
        kind: ReplicationKind::MirrorMaker2,
        source_alias: "src".into(),
        target_alias: "dst".into(),
        policy,
        separator: ".".into(),
        offset_syncs_location: OffsetSyncsLocation::Source,
    }
}

fn config_toml(policy: &str, kind: &str) -> String {
    format!(
        "[replication]\nkind = \"{kind}\"\nsource_alias = \"src\"\ntarget_alias = \"dst\"\npolicy = \"{policy}\"\n\
         [monitor]\nrefresh_interval = \"300ms\"\nrequest_timeout = \"2s\"\n"
    )
}

fn start_replicator(
    src: &TansuBroker,
    tgt: &TansuBroker,
    replication: Replication,
    topics: &[&str],
    groups: &[&str],
) -> Replicator {
    let mut spec = ReplicatorSpec::new(cluster(src, "src"), cluster(tgt, "tgt"), replication, topics);
    spec.groups = groups.iter().map(|g| g.to_string()).collect();
    spec.checkpoint_interval = Duration::from_millis(200);
    spec.heartbeat_interval = Duration::from_millis(200);
    Replicator::start(spec).expect("replicator starts")
}

fn wait_copied(r: &Replicator, topic: &str, partition: i32, upto: i64) {
    wait_for(
        Duration::from_secs(30),
        &format!("{topic}/{partition} copied to {upto}"),
        || {
            if let Some(e) = r.error() {
                panic!("replicator failed: {e}");
            }
            (r.position(topic, partition) >= upto).then_some(())
        },
    );
}

/// The newest sync the replicator wrote, per (topic, partition).
fn newest_written(r: &Replicator) -> BTreeMap<(String, i32), (i64, i64)> {
    r.syncs_written()
        .into_iter()
        .map(|s| ((s.topic, s.partition), (s.upstream, s.downstream)))
        .collect()
}

/// Translates through real cursors on both clusters; returns the outcomes and records read.
fn translate(
    src: &ClusterConfig,
    tgt: &ClusterConfig,
    replication: &Replication,
    syncs: &SyncHistory,
    topic: &str,
    partition: i32,
    committed: &[i64],
) -> (Vec<Translated>, u64) {
    let target_topic = replication.target_topic(topic);
    let mut s = KafkaCursor::new(src, topic, partition, Duration::from_secs(10)).unwrap();
    let mut t = KafkaCursor::new(tgt, &target_topic, partition, Duration::from_secs(10)).unwrap();
    let out = translate_partition(
        &mut s,
        &mut t,
        replication,
        syncs,
        topic,
        partition,
        committed,
        None,
        Default::default(),
    )
    .unwrap();
    (out, s.records_read() + t.records_read())
}

/// Reading the target from `exact` gives the same records as reading the source from `c`.
fn assert_same_from(src: &ClusterConfig, tgt: &ClusterConfig, topic: &str, target_topic: &str, c: i64, exact: i64) {
    let mut s = KafkaCursor::new(src, topic, 0, Duration::from_secs(10)).unwrap();
    let mut t = KafkaCursor::new(tgt, target_topic, 0, Duration::from_secs(10)).unwrap();
    s.seek(c).unwrap();
    t.seek(exact).unwrap();
    let mut compared = 0;
    loop {
        match (s.next().unwrap(), t.next().unwrap()) {
            (None, None) => break,
            (Some(a), Some(b)) => {
                assert_eq!(a.record, b.record, "source {} vs target {}", a.offset, b.offset);
                compared += 1;
            }
            (a, b) => panic!("one side ended first: {a:?} {b:?}"),
        }
    }
    assert!(compared > 0, "something was compared");
}

#[test]
fn mapping_checkpoints_exact_translation_and_an_injected_drop() {
    let (src, tgt, _dir) = two_brokers(Storage::Sqlite);
    // (_dir also holds the config file for the binary)
    create(&src, &[TopicSpec::new("orders", 2)]);
    create(&tgt, &[TopicSpec::new("src.orders", 2)]);
    produce(&src, "orders", 0, 250, false);
    produce(&src, "orders", 1, 40, false);
    let replication = mm2(PolicyKind::Default);
    let r = start_replicator(&src, &tgt, replication.clone(), &["orders"], &["billing"]);
    wait_copied(&r, "orders", 0, 250);
    wait_copied(&r, "orders", 1, 40);

    // The mapping view's pairs are the syncs written (MM2's rule: first record, then every
    // offset.lag.max records).
    let config: Config = config(&src, &tgt, &config_toml("default", "mirrormaker2"));
    let rt = runtime();
    let _enter = rt.enter();
    let monitor = Monitor::start(&config).unwrap();
    let written = newest_written(&r);
    assert_eq!(written[&("orders".to_string(), 0)], (202, 202));
    assert_eq!(written[&("orders".to_string(), 1)], (0, 0));
    let rows = wait_for(Duration::from_secs(20), "the mapping to show the syncs written", || {
        let snap = latest(&monitor);
        let rows = mapping_rows(&snap, &config.replication, &config.topics);
        let shown: BTreeMap<(String, i32), (i64, i64)> = rows
            .iter()
            .filter_map(|r| Some(((r.source_topic.to_string(), r.partition), r.sync?)))
            .collect();
        let caught_up = rows.iter().all(|r| r.target_end.is_some());
        let heartbeat = snap.mm2.as_ref().is_some_and(|m| m.heartbeat_ms.is_some());
        (shown == written && caught_up && heartbeat).then_some(rows)
    });
    assert!(rows.iter().all(|r| r.drift == Some(0)), "clean copy: no drift {rows:?}");
    let snap = latest(&monitor);
    let mm2 = snap.mm2.clone().unwrap();
    assert_eq!(mm2.syncs.len(), r.syncs_written().len(), "every sync written was read");
    assert!(mm2.heartbeat_ms.is_some(), "heartbeats are read: {mm2:?}");

    // A group committed at 137 translates exactly; MM2's checkpoint lags: the +1 rule on the
    // newest sync it still remembers at or below 137 (MM2 keeps fewer syncs the older they are).
    commit_offsets(&cluster(&src, "src"), "billing", &[("orders".into(), 0, 137)]).unwrap();
    let (out, _) = translate(
        &cluster(&src, "s"),
        &cluster(&tgt, "t"),
        &replication,
        &mm2.syncs,
        "orders",
        0,
        &[137],
    );
    assert_eq!(out[0].exact(), Some(137), "{out:?}");
    assert_same_from(
        &cluster(&src, "s"),
        &cluster(&tgt, "t"),
        "orders",
        "src.orders",
        137,
        137,
    );
    let checkpoint = wait_for(Duration::from_secs(20), "MM2's checkpoint for billing", || {
        let snap = latest(&monitor);
        let m = snap.mm2.as_ref()?;
        m.checkpoint("billing", "src.orders", 0)
            .filter(|c| c.upstream == 137)
            .cloned()
    });
    let mut remembered = cutover::mm2::syncs::Mm2SyncMemory::default();
    for s in r
        .syncs_written()
        .iter()
        .filter(|s| s.topic == "orders" && s.partition == 0)
    {
        remembered.record(&s.topic, s.partition, s.upstream, s.downstream);
    }
    let expected = remembered
        .checkpoint("orders", 0, 137)
        .expect("a remembered sync below 137");
    assert_eq!(
        checkpoint.downstream, expected,
        "MM2's checkpoint from the syncs it remembers"
    );
    let newest_rule = cutover::mm2::syncs::mm2_translate(mm2.syncs.anchor("orders", 0, 137), 137).unwrap();
    assert!(expected <= newest_rule, "never later than the newest sync's +1 rule");
    let cost = cutover::model::groups::flip_cost(Some(checkpoint.downstream), out[0].exact());
    let redelivered = format!("+{} duplicates", 137 - expected);
    assert_eq!(
        cost.label(),
        redelivered,
        "the records a consumer at the checkpoint re-reads"
    );

    // The same figures from `cutover translate`.
    let file = config_file(_dir.path(), &src, &tgt, &config_toml("default", "mirrormaker2"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
            .arg("--config")
            .arg(&file)
            .arg("translate")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["--group", "billing", "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let p0 = &doc["partitions"][0];
    assert_eq!(
        (
            p0["committed"].as_i64(),
            p0["checkpoint"].as_i64(),
            p0["exact"].as_i64()
        ),
        (Some(137), Some(expected), Some(137))
    );
    assert_eq!(p0["flip_on_checkpoint"], redelivered.as_str());
    assert!(doc["records_read"]["source"].as_u64().unwrap() > 0);

    // A record lost silently: drift goes negative and translation past it says where.
    r.inject(Injection {
        topic: "orders".into(),
        partition: 0,
        offset: 260,
        fault: Fault::Drop,
    });
    produce(&src, "orders", 0, 20, false);
    wait_copied(&r, "orders", 0, 270);
    let drift = wait_for(Duration::from_secs(20), "drift after the drop", || {
        let snap = latest(&monitor);
        let row = mapping_rows(&snap, &config.replication, &config.topics)
            .into_iter()
            .find(|r| r.partition == 0 && r.source_end == Some(270) && r.target_end == Some(269))?;
        row.drift
    });
    assert_eq!(drift, -1);
    let syncs = latest(&monitor).mm2.unwrap().syncs.clone();
    let (out, _) = translate(
        &cluster(&src, "s"),
        &cluster(&tgt, "t"),
        &replication,
        &syncs,
        "orders",
        0,
        &[255, 265],
    );
    assert_eq!(out[0].exact(), Some(255), "before the drop all is exact");
    assert_eq!(
        (out[1].exact(), out[1].walked_over.clone()),
        (Some(264), vec![WalkedOver::Missing { source_offset: 260 }]),
        "the group already read 260 on the source: it resumes exactly, and the loss is named"
    );

    commit_offsets(&cluster(&src, "src"), "billing", &[("orders".into(), 0, 265)]).unwrap();
    let (code, out, _) = run(&["--group", "billing"]);
    assert_eq!(code, Some(1), "a lost record needs attention:\n{out}");
    let row = out.lines().find(|l| l.starts_with("orders")).unwrap();
    assert!(
        row.contains("walked over source 260 missing on the target: data loss"),
        "{row}"
    );

    // Lost at the committed offset itself: the group has not read it, no exact translation.
    let (out, _) = translate(
        &cluster(&src, "s"),
        &cluster(&tgt, "t"),
        &replication,
        &syncs,
        "orders",
        0,
        &[260],
    );
    assert_eq!(
        out[0].outcome,
        Outcome::Diverged {
            source_offset: 260,
            target_offset: Some(260),
            difference: "key differs, value differs, timestamp differs (1700000000010 vs 1700000000011)".into()
        }
    );
}

#[test]
fn exact_when_only_the_newest_sync_survived_compaction() {
    let (src, tgt, _dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 1)]);
    create(&tgt, &[TopicSpec::new("orders", 1)]);
    // Records already on the target from an earlier run shift the target's offsets by 7; they
    // are the same records as source 0-6, so the timestamp search must not stop at them.
    produce(&tgt, "orders", 0, 7, false);
    produce(&src, "orders", 0, 300, false);
    let replication = mm2(PolicyKind::Identity);
    let r = start_replicator(&src, &tgt, replication.clone(), &["orders"], &[]);
    wait_copied(&r, "orders", 0, 300);
    assert!(r.syncs_written().len() >= 3);

    // What a compacted offset-syncs topic keeps: the newest sync per partition only.
    let newest = r.syncs_written().last().cloned().unwrap();
    assert_eq!((newest.upstream, newest.downstream), (202, 209));
    let mut compacted = SyncHistory::new(10);
    compacted.record(&newest).unwrap();
    let c = [3, 150, 202, 250, 300];
    let (out, _) = translate(
        &cluster(&src, "s"),
        &cluster(&tgt, "t"),
        &replication,
        &compacted,
        "orders",
        0,
        &c,
    );
    let exact: Vec<Option<i64>> = out.iter().map(Translated::exact).collect();
    assert_eq!(
        exact,
        vec![Some(10), Some(157), Some(209), Some(257), Some(307)],
        "{out:?}"
    );
    assert!(
        matches!(out[0].anchor, Some(cutover::translate::Anchor::Timestamp { .. })),
        "older offsets are found by timestamp"
    );
    for (c, t) in [(3, 10), (150, 157)] {
        assert_same_from(&cluster(&src, "s"), &cluster(&tgt, "t"), "orders", "orders", c, t);
    }
}

#[test]
fn offset_preserving_mode_is_the_identity_checked_by_content() {
    let (src, tgt, _dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 1)]);
    create(&tgt, &[TopicSpec::new("orders", 1)]);
    produce(&src, "orders", 0, 60, false);
    let replication = Replication {
        kind: ReplicationKind::OffsetPreserving,
        ..mm2(PolicyKind::Identity)
    };
    let r = start_replicator(&src, &tgt, replication.clone(), &["orders"], &[]);
    r.inject(Injection {
        topic: "orders".into(),
        partition: 0,
        offset: 70,
        fault: Fault::CorruptValue,
    });
    wait_copied(&r, "orders", 0, 60);
    assert!(
        r.syncs_written().is_empty(),
        "offset-preserving replicators write no offset-syncs"
    );
    let none = SyncHistory::new(1);
    let (out, _) = translate(
        &cluster(&src, "s"),
        &cluster(&tgt, "t"),
        &replication,
        &none,
        "orders",
        0,
        &[0, 42, 60],
    );
    let exact: Vec<Option<i64>> = out.iter().map(Translated::exact).collect();
    assert_eq!(exact, vec![Some(0), Some(42), Some(60)]);

    produce(&src, "orders", 0, 15, false);
    wait_copied(&r, "orders", 0, 75);
    let (out, _) = translate(
        &cluster(&src, "s"),
        &cluster(&tgt, "t"),
        &replication,
        &none,
        "orders",
        0,
        &[74],
    );
    assert_eq!(
        out[0].outcome,
        Outcome::Diverged {
            source_offset: 70,
            target_offset: Some(70),
            difference: "value differs".into()
        }
    );

    // The cockpit reads no MM2 topics in this mode, and says the mapping is the identity.
    let config = config(&src, &tgt, &config_toml("identity", "offset-preserving"));
    let rt = runtime();
    let _enter = rt.enter();
    let monitor = Monitor::start(&config).unwrap();
    let rows = wait_for(Duration::from_secs(20), "identity rows", || {
        let rows = mapping_rows(&latest(&monitor), &config.replication, &config.topics);
        (!rows.is_empty() && rows.iter().all(|r| r.target_end.is_some())).then_some(rows)
    });
    assert_eq!(rows[0].sync, None);
    assert_eq!(rows[0].drift, Some(0));
    assert!(latest(&monitor).mm2.is_none());
}

#[test]
fn default_policy_with_offset_syncs_on_the_target() {
    let (src, tgt, _dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("payments", 1)]);
    create(&tgt, &[TopicSpec::new("src.payments", 1)]);
    produce(&src, "payments", 0, 30, false);
    let replication = Replication {
        offset_syncs_location: OffsetSyncsLocation::Target,
        ..mm2(PolicyKind::Default)
    };
    let r = start_replicator(&src, &tgt, replication, &["payments"], &[]);
    wait_copied(&r, "payments", 0, 30);
    let toml = config_toml("default", "mirrormaker2").replace(
        "policy = \"default\"\n",
        "policy = \"default\"\noffset_syncs_location = \"target\"\n",
    );
    let config = config(&src, &tgt, &toml);
    assert_eq!(config.replication.offset_syncs_location, OffsetSyncsLocation::Target);
    let rt = runtime();
    let _enter = rt.enter();
    let monitor = Monitor::start(&config).unwrap();
    let row = wait_for(Duration::from_secs(20), "the mapping from syncs on the target", || {
        let rows = mapping_rows(&latest(&monitor), &config.replication, &config.topics);
        rows.into_iter().find(|r| r.sync.is_some() && r.target_end == Some(30))
    });
    assert_eq!(&*row.target_topic, "src.payments");
    assert_eq!(row.sync, Some((0, 0)));
    assert_eq!(row.drift, Some(0));
}

/// librdkafka 2.16's mock cluster with five transactions on orders/0 (data at 0-4, 6-10,
/// 12-16, 18-22, 24-28; markers at 5, 11, 17, 23, 29), and its address. The cluster lives
/// as long as the returned child process.
fn transactional_source() -> (std::process::Child, ClusterConfig) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let venv = std::env::var("CUTOVER_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/cutover/venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make setup` (it creates the venv with confluent-kafka)",
        python.display()
    );
    let mut helper = Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/helpers/txn_mock.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut address = String::new();
    BufReader::new(helper.stdout.take().unwrap())
        .read_line(&mut address)
        .unwrap();
    let source = ClusterConfig::plaintext("mock", address.trim());
    assert!(!address.trim().is_empty(), "the mock cluster did not start");
    (helper, source)
}

/// The source is librdkafka 2.16's mock cluster in a Python helper (tansu rejects
/// transactions; rdkafka 0.39's own mock writes no transaction markers). The 2.16 mock writes
/// control markers but still serves aborted records to read_committed consumers, so this
/// covers the offset gaps of markers; filtering aborted records is the broker's job and
/// cannot be exercised here. offset-syncs live on the target (tansu).
#[test]
fn exact_across_transaction_markers() {
    let (mut helper, source) = transactional_source();
    let dir = tempfile::tempdir().unwrap();
    let tgt = TansuBroker::start(&dir.path().join("tgt"), "tgt", Storage::Sqlite).unwrap();
    create(&tgt, &[TopicSpec::new("orders", 1)]);
    let replication = Replication {
        offset_syncs_location: OffsetSyncsLocation::Target,
        ..mm2(PolicyKind::Identity)
    };
    let r = Replicator::start(ReplicatorSpec::new(
        source.clone(),
        cluster(&tgt, "tgt"),
        replication.clone(),
        &["orders"],
    ))
    .unwrap();
    // Data at 0-4, 6-10, 12-16, 18-22, 24-28; markers at 5, 11, 17, 23, 29.
    wait_copied(&r, "orders", 0, 29);
    let written: Vec<(i64, i64)> = r.syncs_written().iter().map(|s| (s.upstream, s.downstream)).collect();
    assert_eq!(
        written,
        vec![(0, 0), (6, 5), (12, 10), (18, 15), (24, 20)],
        "a sync after each marker's gap"
    );

    let mut syncs = SyncHistory::new(10);
    for s in r.syncs_written() {
        syncs.record(&s).unwrap();
    }
    let committed = [3, 5, 6, 11, 14, 23, 29, 30];
    let (out, _) = translate(
        &source,
        &cluster(&tgt, "t"),
        &replication,
        &syncs,
        "orders",
        0,
        &committed,
    );
    let exact: Vec<(i64, Option<i64>)> = out.iter().map(|t| (t.committed, t.exact())).collect();
    assert_eq!(
        exact,
        vec![
            (3, Some(3)),
            (5, Some(5)),
            (6, Some(5)),
            (11, Some(10)),
            (14, Some(12)),
            (23, Some(20)),
            (29, Some(25)),
            (30, Some(25))
        ],
        "at a marker the group resumes at the next record: {out:?}"
    );
    for (c, t) in [(5, 5), (14, 12), (23, 20)] {
        assert_same_from(&source, &cluster(&tgt, "t"), "orders", "orders", c, t);
    }
    drop(helper.stdin.take());
    let _ = helper.wait();
}

#[test]
fn a_duplicate_drifts_plus_one_and_a_stall_shows_as_lag_until_it_clears() {
    let (src, tgt, _dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 1)]);
    create(&tgt, &[TopicSpec::new("src.orders", 1)]);
    produce(&src, "orders", 0, 20, false);
    let replication = mm2(PolicyKind::Default);
    let r = start_replicator(&src, &tgt, replication.clone(), &["orders"], &[]);
    r.inject(Injection {
        topic: "orders".into(),
        partition: 0,
        offset: 5,
        fault: Fault::Duplicate,
    });
    wait_copied(&r, "orders", 0, 20);
    let config = config(&src, &tgt, &config_toml("default", "mirrormaker2"));
    let rt = runtime();
    let _enter = rt.enter();
    let monitor = Monitor::start(&config).unwrap();
    let row = |end: i64| {
        let monitor = &monitor;
        let config = &config;
        move || {
            mapping_rows(&latest(monitor), &config.replication, &config.topics)
                .into_iter()
                .find(|r| r.sync.is_some() && r.source_end == Some(end))
        }
    };
    let dup = wait_for(Duration::from_secs(20), "the duplicate's drift", row(20));
    assert_eq!(dup.target_end, Some(21));
    assert_eq!(dup.drift, Some(1), "one extra record on the target");
    let (out, _) = translate(
        &cluster(&src, "s"),
        &cluster(&tgt, "t"),
        &replication,
        &latest(&monitor).mm2.unwrap().syncs,
        "orders",
        0,
        &[10],
    );
    assert_eq!(
        (out[0].exact(), out[0].walked_over.clone()),
        (
            Some(11),
            vec![WalkedOver::Duplicate {
                target_offset: 6,
                of_source: 5
            }]
        ),
        "the second copy of 5 at target 6 is stepped over: {out:?}"
    );

    r.stall(true);
    produce(&src, "orders", 0, 10, false);
    let stalled = wait_for(Duration::from_secs(20), "lag while stalled", row(30));
    assert_eq!(stalled.drift, Some(1 - 10), "10 records behind (and the duplicate)");
    let lag: Vec<Option<i64>> = cutover::model::overview::topic_pairs(
        &latest(&monitor),
        &config.replication,
        &config.topics,
        &config.monitor,
        std::time::SystemTime::now(),
    )
    .iter()
    .map(|p| p.lag)
    .collect();
    assert_eq!(lag, vec![Some(9)], "overview lag from the newest sync");
    r.stall(false);
    wait_copied(&r, "orders", 0, 30);
    let resumed = wait_for(Duration::from_secs(20), "caught up again", || {
        row(30)().filter(|r| r.target_end == Some(31))
    });
    assert_eq!(resumed.drift, Some(1));
}

/// Item 7 and 8 of "no false alarms": one malformed offset-sync is skipped alone (the history
/// before it stays, and the count is in the JSON); heartbeats of another replication flow
/// into the same target are not this flow's sign of life.
#[test]
fn a_malformed_sync_is_skipped_alone_and_other_flows_heartbeats_are_not_ours() {
    use cutover::kafka::records::Record;
    use cutover::mm2::codec::{Heartbeat, OffsetSync};
    use cutover::mm2::topics;
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    let replication = mm2(PolicyKind::Default);
    let compacted = |name: &str| TopicSpec::new(name, 1).config("cleanup.policy", "compact");
    let (_, syncs_topic) = topics::offset_syncs(&replication);
    create(&src, &[compacted(&syncs_topic), TopicSpec::new("orders", 1)]);
    create(
        &tgt,
        &[
            compacted(&topics::checkpoints(&replication)),
            TopicSpec::new(topics::HEARTBEATS, 1),
            TopicSpec::new("src.orders", 1),
        ],
    );
    let raw = |(k, v): (Vec<u8>, Vec<u8>)| Record {
        key: Some(k),
        value: Some(v),
        headers: vec![],
        timestamp: Some(1),
    };
    let sync = |up, down| OffsetSync {
        topic: "orders".into(),
        partition: 0,
        upstream: up,
        downstream: down,
    };
    let sw = cutover::demo::clients::RecordWriter::new(&cluster(&src, "s"), false).unwrap();
    for s in [sync(0, 0), sync(100, 100), sync(-1, -1)] {
        sw.send(&syncs_topic, 0, &raw(s.encode().unwrap())).unwrap();
    }
    sw.flush(Duration::from_secs(10)).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let ours_an_hour_ago = now - 3_600_000;
    let tw = cutover::demo::clients::RecordWriter::new(&cluster(&tgt, "t"), false).unwrap();
    for (from, at) in [("src", ours_an_hour_ago), ("other", now)] {
        let hb = Heartbeat {
            source_alias: from.into(),
            target_alias: "dst".into(),
            timestamp: at,
        };
        tw.send(topics::HEARTBEATS, 0, &raw(hb.encode().unwrap())).unwrap();
    }
    tw.flush(Duration::from_secs(10)).unwrap();

    let state = cutover::kafka::mm2::read_once(
        &cluster(&src, "s"),
        &cluster(&tgt, "t"),
        &replication,
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(state.syncs.anchor("orders", 0, 150), Some((100, 100)), "history kept");
    assert_eq!(state.syncs.len(), 2);
    assert_eq!(state.rejected_syncs, 1);
    assert_eq!(
        state.heartbeat_ms,
        Some(ours_an_hour_ago),
        "this flow's newest heartbeat"
    );
    assert_eq!(state.other_flows_heartbeats, 1);

    let file = config_file(dir.path(), &src, &tgt, &config_toml("default", "mirrormaker2"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(&file)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["mm2"]["skipped_records"]["invalid_offset_syncs"], 1, "{doc}");
    assert_eq!(doc["mm2"]["heartbeat_ms"], ours_an_hour_ago, "{doc}");
}

/// Item 6 of "no false alarms": an offset-preserving replicator promises the same offsets on
/// both sides. A source with offset gaps (transaction markers) copied densely shifts every
/// offset after the first gap: validation fails there, though every record's content matches.
#[test]
fn offset_preserving_validation_fails_where_offsets_shift() {
    let (mut helper, source) = transactional_source();
    let dir = tempfile::tempdir().unwrap();
    let tgt = TansuBroker::start(&dir.path().join("tgt"), "tgt", Storage::Sqlite).unwrap();
    create(&tgt, &[TopicSpec::new("orders", 1)]);
    let replication = Replication {
        kind: ReplicationKind::OffsetPreserving,
        ..mm2(PolicyKind::Identity)
    };
    let r = Replicator::start(ReplicatorSpec::new(
        source.clone(),
        cluster(&tgt, "tgt"),
        replication,
        &["orders"],
    ))
    .unwrap();
    wait_copied(&r, "orders", 0, 29);
    let text = format!(
        "[source]\nname = \"mock\"\nbootstrap = \"{}\"\n[target]\nname = \"tgt\"\nbootstrap = \"{}\"\n\
         [replication]\nkind = \"offset-preserving\"\npolicy = \"identity\"\n[monitor]\nrequest_timeout = \"5s\"\n",
        source.bootstrap,
        tgt.bootstrap()
    );
    let config = cutover::config::parse(std::path::Path::new("t.toml"), &text, &|_| None).unwrap();
    let rt = runtime();
    let snap = rt.block_on(cutover::status::snapshot_once(&config)).unwrap();
    let rows = cutover::validate::report::validate_all(
        &config,
        &snap,
        Some("orders"),
        Duration::from_secs(5),
        None,
        &Default::default(),
    )
    .unwrap();
    let cutover::validate::Verdict::Fail { mismatch } = &rows[0].result.verdict else {
        panic!("{rows:?}")
    };
    assert_eq!((mismatch.source_offset, mismatch.target_offset), (Some(6), Some(5)));
    assert!(
        mismatch.describe().contains("offsets differ"),
        "{}",
        mismatch.describe()
    );
    drop(helper.stdin.take());
    let _ = helper.wait();
}
