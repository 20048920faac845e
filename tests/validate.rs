//! `cutover validate` against two real tansu brokers with the MM2-compatible replicator
//! between them: clean replication passes; every injected fault fails, and the report names
//! the exact source and target offsets of the first difference.

mod common;

use std::time::Duration;

use common::*;
use cutover::config::{OffsetSyncsLocation, PolicyKind, Replication, ReplicationKind};
use cutover::demo::broker::Storage;
use cutover::demo::replicator::{Fault, Injection, Replicator, ReplicatorSpec};
use cutover::kafka::admin::TopicSpec;

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
