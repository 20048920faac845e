//! Item 5 of "no false alarms": the source's retention deleted the records of every surviving
//! offset-sync (its log start moved past the newest one). Translation and validation must
//! still be right, anchored by timestamp and content at what is left, on real tansu brokers
//! with the MM2-compatible replicator.

mod common;

use std::time::Duration;

use common::*;
use cutover::config::{OffsetSyncsLocation, PolicyKind, Replication, ReplicationKind};
use cutover::demo::broker::Storage;
use cutover::demo::clients::TopicSpec;
use cutover::demo::replicator::{Replicator, ReplicatorSpec};

#[test]
fn retention_past_every_sync_leaves_translation_exact_and_validation_passing() {
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 1)]);
    create(&tgt, &[TopicSpec::new("src.orders", 1)]);
    produce(&src, "orders", 0, 400, false);
    let replication = Replication {
        kind: ReplicationKind::MirrorMaker2,
        source_alias: "src".into(),
        target_alias: "dst".into(),
        policy: PolicyKind::Default,
        separator: ".".into(),
        offset_syncs_location: OffsetSyncsLocation::Source,
    };
    let r = Replicator::start(ReplicatorSpec::new(
        cluster(&src, "src"),
        cluster(&tgt, "tgt"),
        replication,
        &["orders"],
    ))
    .unwrap();
    wait_for(Duration::from_secs(60), "all 400 copied", || {
        (r.position("orders", 0) >= 400).then_some(())
    });
    let newest = r.syncs_written().iter().map(|s| s.upstream).max().unwrap();
    assert!(newest < 350, "the newest sync ({newest}) is below the new log start");
    drop(r);
    delete_records_before(&src.dir, "src", "orders", 0, 350);
    groups::commit_offsets(&cluster(&src, "s"), "billing", &[("orders".into(), 0, 380)]).unwrap();
    let file = config_file(
        dir.path(),
        &src,
        &tgt,
        "[replication]\nsource_alias = \"src\"\ntarget_alias = \"dst\"\n[monitor]\nrequest_timeout = \"5s\"\n",
    );
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
            .arg("--config")
            .arg(&file)
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
        (out.status.code(), doc, text)
    };

    let (code, doc, text) = run(&["translate", "--group", "billing", "--json"]);
    let p = &doc["partitions"][0];
    assert_eq!(p["exact"], 380, "{text}");
    assert_eq!(p["anchor"]["kind"], "timestamp", "{text}");
    assert_eq!(p["walked_over"], serde_json::json!([]), "{text}");
    assert_eq!(code, Some(0), "{text}");

    let (code, doc, text) = run(&["validate", "--json"]);
    let v = &doc["partitions"][0]["result"];
    assert_eq!(v["verdict"]["result"], "pass", "{text}");
    assert_eq!(v["source_range"], serde_json::json!([350, 400]), "{text}");
    assert_eq!(v["target_range"], serde_json::json!([350, 400]), "{text}");
    assert_eq!(code, Some(0), "{text}");
}
