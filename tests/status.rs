//! `cutover status` against two real tansu brokers: the table, the JSON and the exit codes.

mod common;

use std::process::Command;

use common::*;
use cutover::demo::broker::Storage;
use cutover::demo::clients::TopicSpec;

fn status(config: &std::path::Path, json: bool) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cutover"));
    c.arg("status").arg("--config").arg(config);
    if json {
        c.arg("--json");
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_config(dir: &std::path::Path, source: &str, target: &str) -> std::path::PathBuf {
    let path = dir.join("status.toml");
    std::fs::write(
        &path,
        format!(
            "[source]\nname = \"east\"\nbootstrap = \"{source}\"\n[target]\nname = \"west\"\nbootstrap = \"{target}\"\n\
             [replication]\npolicy = \"identity\"\n[monitor]\nrequest_timeout = \"2s\"\nlag_warn = 5\n[log]\nfile = \"{}\"\n",
            dir.join("status.log").display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn status_reports_lag_and_exits_by_what_it_found() {
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 2)]);
    create(&tgt, &[TopicSpec::new("orders", 2)]);
    produce(&src, "orders", 1, 4, false);
    produce(&tgt, "orders", 1, 4, false);
    let config = write_config(dir.path(), &src.bootstrap(), &tgt.bootstrap());

    let (code, out, err) = status(&config, false);
    assert_eq!(code, 0, "all in sync:\n{out}{err}");
    let row = out.lines().find(|l| l.contains("orders")).unwrap();
    assert!(row.starts_with("OK"), "{row}");

    produce(&src, "orders", 0, 9, false);
    let (code, out, _) = status(&config, true);
    assert_eq!(code, 1, "lag 9 is over lag_warn 5:\n{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let topic = &doc["topics"][0];
    assert_eq!(topic["topic"], "orders");
    assert_eq!(topic["lag"], 9);
    assert_eq!(topic["source_end"], 13);
    assert_eq!(topic["target_end"], 4);
    assert_eq!(topic["status"], "LAG");
    assert_eq!(doc["source"]["reachable"], true);
    // The same MM2 state the cockpit reads: here MM2's topics do not exist, and it says so.
    let missing = doc["mm2"]["errors"]["offset-syncs"].as_str().unwrap_or_default();
    assert!(missing.contains("not found on east"), "{}", doc["mm2"]);
}

#[test]
fn status_exits_2_when_a_cluster_cannot_be_reached() {
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    let config = write_config(dir.path(), &src.bootstrap(), &tgt.bootstrap());
    drop(tgt);
    let (code, out, err) = status(&config, false);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("target west: UNREACHABLE"), "{out}");
}
