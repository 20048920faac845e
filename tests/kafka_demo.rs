//! `cutover demo --brokers kafka`: the demo's estate on Apache Kafka (3.9 -> 4.x) with the real
//! MirrorMaker 2, run as a user would (`--no-ui`, then the headless commands on its config):
//! every wave's topic replicated with lag known, MM2's heartbeat fresh, validation PASS, the
//! faults that need the demo's own replicator refused with the reason; SIGTERM stops every
//! process it started.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::kafka::{cutover_output, require_kafka, run_dir};
use common::wait_for;

fn java_processes_under(dir: &std::path::Path) -> Vec<String> {
    let out = Command::new("ps").args(["-eo", "pid,args"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("java") && l.contains(&*dir.to_string_lossy()))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_demo_runs_on_kafka_and_mirrormaker_2_and_stops_everything() {
    require_kafka();
    let dir = run_dir().join("demo");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["demo", "--brokers", "kafka", "--no-ui", "--dir"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line").unwrap();
    assert!(first.starts_with("demo running"), "{first}");
    let config = dir.join("cutover.toml");
    assert!(!java_processes_under(&dir).is_empty(), "the brokers and MM2 run");

    // The headless status as an engineer would ask: every wave topic replicated, lag known,
    // `audit` missing on the target (on purpose), MM2's heartbeat fresh.
    let status = wait_for(Duration::from_secs(120), "every demo topic copied by MM2", || {
        let (_, out, _) = cutover_output(&config, &["status", "--json"]);
        let doc: serde_json::Value = serde_json::from_str(&out).ok()?;
        let topics = doc["topics"].as_array()?.clone();
        let copied = ["payments", "orders", "notifications", "clickstream"].iter().all(|t| {
            topics
                .iter()
                .any(|x| x["topic"] == *t && x["target_end"].as_i64().is_some_and(|e| e > 0) && x["lag"].is_i64())
        });
        // Every other topic's lag known too (unknown, and shown so, until MM2 has copied it).
        let known = topics
            .iter()
            .filter(|t| t["topic"] != "audit")
            .all(|t| t["lag"].is_i64());
        (copied && known).then_some(doc)
    });
    let topics = status["topics"].as_array().unwrap();
    let audit = topics.iter().find(|t| t["topic"] == "audit").expect("audit listed");
    assert_eq!(audit["status"], "MISSING", "{audit}");
    for t in topics.iter().filter(|t| t["topic"] != "audit") {
        assert!(t["lag"].as_i64().is_some_and(|l| l >= 0), "{t}");
    }

    let (code, out, err) = cutover_output(&config, &["validate", "--topic", "orders", "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = doc["partitions"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["result"]["verdict"]["result"] == "pass"), "{out}");

    // SIGTERM: the demo stops its brokers, MM2 and applications.
    unsafe { libc::kill(demo.id() as libc::pid_t, libc::SIGTERM) };
    let status = demo.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    let left = wait_for(Duration::from_secs(20), "every JVM of the demo gone", || {
        let left = java_processes_under(&dir);
        left.is_empty().then_some(left)
    });
    assert!(left.is_empty());
}
