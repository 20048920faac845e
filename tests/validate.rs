//! `cutover validate` against two real tansu brokers with the MM2-compatible replicator
//! between them: clean replication passes; every injected fault fails, and the report names
//! the exact source and target offsets of the first difference.

mod common;

use std::time::Duration;

use common::*;
use cutover::config::{OffsetSyncsLocation, PolicyKind, Replication, ReplicationKind};
use cutover::demo::broker::Storage;
use cutover::demo::clients::TopicSpec;
use cutover::demo::replicator::{Fault, Injection, Replicator, ReplicatorSpec};

const FAULTS: [(&str, Option<Fault>); 7] = [
    ("clean", None),
    ("drop", Some(Fault::Drop)),
    ("duplicate", Some(Fault::Duplicate)),
    ("corrupt", Some(Fault::CorruptValue)),
    ("header", Some(Fault::ChangeHeader)),
    ("timestamp", Some(Fault::ChangeTimestamp)),
    ("reorder", Some(Fault::ReorderWithNext)),
];

#[test]
fn clean_passes_and_each_fault_is_located() {
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    let topics: Vec<&str> = FAULTS.iter().map(|(t, _)| *t).collect();
    create(&src, &topics.iter().map(|t| TopicSpec::new(t, 1)).collect::<Vec<_>>());
    create(
        &tgt,
        &topics
            .iter()
            .map(|t| TopicSpec::new(&format!("src.{t}"), 1))
            .collect::<Vec<_>>(),
    );
    for t in &topics {
        produce(&src, t, 0, 30, false);
    }
    let replication = Replication {
        kind: ReplicationKind::MirrorMaker2,
        source_alias: "src".into(),
        target_alias: "dst".into(),
        policy: PolicyKind::Default,
        separator: ".".into(),
        offset_syncs_location: OffsetSyncsLocation::Source,
    };
    let spec = ReplicatorSpec::new(cluster(&src, "src"), cluster(&tgt, "tgt"), replication, &topics);
    let r = Replicator::start(spec).unwrap();
    for (topic, fault) in FAULTS {
        if let Some(fault) = fault {
            r.inject(Injection {
                topic: topic.into(),
                partition: 0,
                offset: 12,
                fault,
            });
        }
    }
    wait_for(Duration::from_secs(30), "every topic copied", || {
        assert!(r.error().is_none(), "{:?}", r.error());
        topics.iter().all(|t| r.position(t, 0) >= 30).then_some(())
    });

    let file = config_file(
        dir.path(),
        &src,
        &tgt,
        "[replication]\nsource_alias = \"src\"\ntarget_alias = \"dst\"\n[monitor]\nrequest_timeout = \"5s\"\n",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(&file)
        .args(["validate", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a mismatch exits 1\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let row = |topic: &str| {
        doc["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["topic"] == topic)
            .unwrap()["result"]
            .clone()
    };
    let clean = row("clean");
    assert_eq!(clean["verdict"]["result"], "pass", "{clean}");
    assert_eq!(clean["records_compared"], 30);
    assert_eq!(clean["source_range"], serde_json::json!([0, 30]));
    // (topic, kind, detail, source offset, target offset)
    let expected = [
        ("drop", "missing_on_target", None, 12, 12),
        ("duplicate", "extra_on_target", None, 13, 13),
        ("corrupt", "differs", Some("value differs"), 12, 12),
        ("header", "differs", Some("headers differ"), 12, 12),
        (
            "timestamp",
            "differs",
            Some("timestamp differs (1700000000012 vs 1700000000013)"),
            12,
            12,
        ),
        ("reorder", "out_of_order", None, 12, 12),
    ];
    for (topic, kind, detail, source_offset, target_offset) in expected {
        let v = row(topic);
        let m = &v["verdict"]["mismatch"];
        assert_eq!(v["verdict"]["result"], "fail", "{topic}: {v}");
        assert_eq!(m["kind"]["kind"], kind, "{topic}: {m}");
        if let Some(d) = detail {
            assert_eq!(m["kind"]["detail"], d, "{topic}: {m}");
        }
        assert_eq!(
            (m["source_offset"].as_i64(), m["target_offset"].as_i64()),
            (Some(source_offset), Some(target_offset)),
            "{topic}: {m}"
        );
    }

    // One topic alone, as a table.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(&file)
        .args(["validate", "--topic", "clean"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("PASS     clean"));
}

fn write(b: &cutover::demo::broker::TansuBroker, topic: &str, records: &[(&str, Option<&str>, i64)]) {
    use cutover::demo::clients::RecordWriter;
    use cutover::kafka::records::Record;
    let w = RecordWriter::new(&cluster(b, "w"), false).unwrap();
    for (key, value, ts) in records {
        let r = Record {
            key: Some(key.as_bytes().to_vec()),
            value: value.map(|v| v.as_bytes().to_vec()),
            headers: vec![],
            timestamp: Some(*ts),
        };
        w.send(topic, 0, &r).unwrap();
    }
    w.flush(Duration::from_secs(10)).unwrap();
}

fn validate_now(
    config: &cutover::config::Config,
    progress: Option<&mut cutover::validate::report::Progress>,
) -> Vec<cutover::validate::report::Row> {
    let rt = runtime();
    let snap = rt.block_on(cutover::status::snapshot_once(config)).unwrap();
    cutover::validate::report::validate_all(
        config,
        &snap,
        None,
        Duration::from_secs(5),
        progress,
        &Default::default(),
    )
    .unwrap()
}

/// Written directly to both sides (no replicator): the target as compaction would leave it.
#[test]
fn compacted_topics_compare_the_newest_value_of_every_key() {
    let (src, tgt, _dir) = two_brokers(Storage::Sqlite);
    let compact = |t: &str| TopicSpec::new(t, 1).config("cleanup.policy", "compact");
    create(&src, &[compact("same"), compact("wrong"), compact("missing")]);
    create(&tgt, &[compact("same"), compact("wrong"), compact("missing")]);
    // Updates to a, b deleted by a tombstone, c written once.
    let history = [
        ("a", Some("1"), 100),
        ("a", Some("2"), 101),
        ("b", Some("1"), 102),
        ("b", None, 103),
        ("c", Some("1"), 104),
    ];
    for t in ["same", "wrong", "missing"] {
        write(&src, t, &history);
    }
    write(&tgt, "same", &[("a", Some("2"), 101), ("c", Some("1"), 104)]);
    write(&tgt, "wrong", &[("a", Some("1"), 100), ("c", Some("1"), 104)]);
    // The target copied up to c (its newest record) but has no record of a.
    write(&tgt, "missing", &[("b", None, 103), ("c", Some("1"), 104)]);
    let config = config(&src, &tgt, "[replication]\npolicy = \"identity\"\n");
    let mut progress = cutover::validate::report::Progress::default();
    let rows = validate_now(&config, Some(&mut progress));
    let verdict = |t: &str| rows.iter().find(|r| r.topic == t).unwrap().result.verdict.clone();
    let read =
        |rows: &[cutover::validate::report::Row], t: &str| rows.iter().find(|r| r.topic == t).unwrap().records_read;
    assert_eq!(read(&rows, "same"), (5, 2));
    use cutover::validate::{MismatchKind, Verdict};
    assert_eq!(
        verdict("same"),
        Verdict::Pass,
        "older values and the tombstone compacted away on the target"
    );
    let Verdict::Fail { mismatch } = verdict("wrong") else {
        panic!("{:?}", verdict("wrong"))
    };
    assert_eq!(
        (mismatch.kind.clone(), mismatch.key.as_deref()),
        (MismatchKind::KeyValueDiffers, Some("a"))
    );
    assert_eq!((mismatch.source_offset, mismatch.target_offset), (Some(1), Some(0)));
    let Verdict::Fail { mismatch } = verdict("missing") else {
        panic!("{:?}", verdict("missing"))
    };
    assert_eq!(
        (mismatch.kind.clone(), mismatch.key.as_deref()),
        (MismatchKind::KeyMissingOnTarget, Some("a"))
    );
    assert!(mismatch.describe().contains("key `a`"), "{}", mismatch.describe());

    // Incremental: a compacted partition that passed is read again only when a side moved;
    // the failing ones are read again every time.
    let again = validate_now(&config, Some(&mut progress));
    assert_eq!(read(&again, "same"), (0, 0), "nothing new: not read");
    assert_eq!(
        again.iter().find(|r| r.topic == "same").unwrap().result.verdict,
        Verdict::Pass
    );
    assert_eq!(
        read(&again, "wrong"),
        (6, 2),
        "whole again, plus the failing key's record"
    );
    write(&src, "same", &[("d", Some("1"), 105)]);
    write(&tgt, "same", &[("d", Some("1"), 105)]);
    let moved = validate_now(&config, Some(&mut progress));
    assert_eq!(read(&moved, "same"), (6, 3), "both sides moved: read whole again");
    assert_eq!(
        moved.iter().find(|r| r.topic == "same").unwrap().result.verdict,
        Verdict::Pass
    );
}

#[test]
fn incremental_runs_read_only_new_records() {
    let (src, tgt, _dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 1)]);
    create(&tgt, &[TopicSpec::new("orders", 1)]);
    let batch =
        |from: i64, n: i64| -> Vec<(String, i64)> { (from..from + n).map(|i| (format!("k{i}"), 1_000 + i)).collect() };
    let put = |b, recs: &[(String, i64)]| {
        let v: Vec<(&str, Option<&str>, i64)> = recs.iter().map(|(k, ts)| (k.as_str(), Some("v"), *ts)).collect();
        write(b, "orders", &v);
    };
    put(&src, &batch(0, 50));
    put(&tgt, &batch(0, 50));
    let config = config(&src, &tgt, "[replication]\nkind = \"offset-preserving\"\n");
    let mut progress = cutover::validate::report::Progress::default();

    let first = validate_now(&config, Some(&mut progress));
    assert_eq!(first[0].result.verdict, cutover::validate::Verdict::Pass);
    assert_eq!(first[0].records_read, (50, 50));
    assert_eq!(progress.get("orders", 0), Some((50, 50)));

    put(&src, &batch(50, 20));
    put(&tgt, &batch(50, 20));
    let second = validate_now(&config, Some(&mut progress));
    assert_eq!(second[0].result.verdict, cutover::validate::Verdict::Pass);
    assert_eq!(second[0].records_read, (20, 20), "only the 20 new records on each side");
    assert_eq!(second[0].result.source_range, (50, 70));

    put(&src, &batch(70, 5));
    put(&tgt, &batch(71, 5));
    let third = validate_now(&config, Some(&mut progress));
    let cutover::validate::Verdict::Fail { mismatch } = &third[0].result.verdict else {
        panic!("{third:?}")
    };
    assert_eq!((mismatch.source_offset, mismatch.target_offset), (Some(70), Some(70)));
    assert_eq!(
        third[0].records_read.0, 5,
        "only the 5 new source records (the look-ahead found the end)"
    );
    assert_eq!(
        mismatch.kind,
        cutover::validate::MismatchKind::MissingOnTarget,
        "the target starts at k71"
    );

    let full = validate_now(&config, None);
    assert_eq!(
        full[0].records_read.0, 75,
        "without progress: from the start, the whole first chunk (all 75 fit in one)"
    );
    assert!(matches!(
        full[0].result.verdict,
        cutover::validate::Verdict::Fail { .. }
    ));
}

#[test]
fn spot_checks_sample_records_at_mapped_offsets() {
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("clean", 1), TopicSpec::new("lossy", 1)]);
    create(&tgt, &[TopicSpec::new("clean", 1), TopicSpec::new("lossy", 1)]);
    produce(&src, "clean", 0, 200, false);
    produce(&src, "lossy", 0, 200, false);
    let replication = Replication {
        kind: ReplicationKind::OffsetPreserving,
        source_alias: "src".into(),
        target_alias: "dst".into(),
        policy: PolicyKind::Identity,
        separator: ".".into(),
        offset_syncs_location: OffsetSyncsLocation::Source,
    };
    let r = Replicator::start(ReplicatorSpec::new(
        cluster(&src, "s"),
        cluster(&tgt, "t"),
        replication,
        &["clean", "lossy"],
    ))
    .unwrap();
    r.inject(Injection {
        topic: "lossy".into(),
        partition: 0,
        offset: 100,
        fault: Fault::Drop,
    });
    wait_for(Duration::from_secs(30), "both copied", || {
        (r.position("clean", 0) >= 200 && r.position("lossy", 0) >= 200).then_some(())
    });
    let file = config_file(dir.path(), &src, &tgt, "[replication]\nkind = \"offset-preserving\"\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(&file)
        .args(["validate", "--spot-check", "40", "--seed", "7", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |t: &str| {
        doc["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["topic"] == t)
            .unwrap()["result"]
            .clone()
    };
    assert_eq!(row("clean")["verdict"]["result"], "pass");
    assert_eq!(row("clean")["records_compared"], 40, "40 sampled records compared");
    let lossy = row("lossy");
    let m = &lossy["verdict"]["mismatch"];
    assert_eq!(lossy["verdict"]["result"], "fail", "{lossy}");
    let at = m["source_offset"].as_i64().unwrap();
    assert!(at >= 100, "the first sampled offset at or past the drop: {m}");
    assert_eq!(m["target_offset"].as_i64(), Some(at), "identity mapping");
}

/// `cutover validate --state FILE --json`: exit code, JSON and stderr.
fn validate_cli(config: &std::path::Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["validate", "--json", "--config"])
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read(doc: &serde_json::Value) -> (u64, u64) {
    let r = &doc["partitions"][0]["records_read"];
    (r[0].as_u64().unwrap(), r[1].as_u64().unwrap())
}

#[test]
fn a_state_file_makes_headless_runs_incremental() {
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 1)]);
    create(&tgt, &[TopicSpec::new("orders", 1)]);
    produce(&src, "orders", 0, 30, false);
    produce(&tgt, "orders", 0, 30, false);
    let config = config_file(dir.path(), &src, &tgt, "[replication]\nkind = \"offset-preserving\"\n");
    let state = dir.path().join("validated.json");
    let state_arg = state.to_str().unwrap();

    let (code, doc, err) = validate_cli(&config, &["--state", state_arg]);
    assert_eq!(code, 0, "{doc}\n{err}");
    assert_eq!(read(&doc), (30, 30));
    assert!(state.exists(), "the state is saved");

    produce(&src, "orders", 0, 10, false);
    produce(&tgt, "orders", 0, 10, false);
    let (code, doc, _) = validate_cli(&config, &["--state", state_arg]);
    assert_eq!(code, 0);
    assert_eq!(read(&doc), (10, 10), "only the 10 new records on each side");
    assert_eq!(
        doc["partitions"][0]["result"]["source_range"],
        serde_json::json!([30, 40])
    );

    let (code, doc, _) = validate_cli(&config, &["--state", state_arg, "--full"]);
    assert_eq!(code, 0);
    assert_eq!(read(&doc), (40, 40), "--full reads from the start again");

    std::fs::write(&state, "not json").unwrap();
    let (code, _, err) = validate_cli(&config, &["--state", state_arg]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("validated.json:1:") && err.contains("not a cutover validation state file"),
        "{err}"
    );
}
