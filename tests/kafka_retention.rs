//! Validation and translation where Apache Kafka itself deletes records: DeleteRecords and
//! `retention.ms` on the source, and the real log cleaner compacting a topic (small segments,
//! a low dirty ratio), with a producer writing and the real MirrorMaker 2 copying (source
//! Kafka 3.9.x, target 4.x). The tansu suite emulates retention by editing tansu's storage;
//! these tests are the proof on Kafka.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::groups::commit_offsets;
use common::kafka::*;
use common::{customer, wait_for};
use cutover::config::Config;
use cutover::demo::clients::{RecordWriter, TopicSpec};
use cutover::kafka::cursor::{Cursor, KafkaCursor};
use cutover::kafka::records::Record;
use cutover::translate::group::translate_group;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(10);
const FAST: &str = "[monitor]\nrefresh_interval = \"500ms\"\nrequest_timeout = \"5s\"\n";

fn flow(e: &Estate, topics: &str) -> (Config, String) {
    let extra = format!(
        "[replication]\nsource_alias = \"src\"\ntarget_alias = \"dst\"\n{FAST}[topics]\ninclude = [\"{topics}\"]\n"
    );
    (e.config(&extra), e.config_text(&extra))
}

fn validate(config: &std::path::Path) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let (code, out, err) = cutover_output(config, &["validate", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, doc["partitions"].as_array().cloned().unwrap_or_default(), out)
}

fn end_offset(cluster: &cutover::config::ClusterConfig, topic: &str) -> i64 {
    let mut c = KafkaCursor::new(cluster, topic, 0, TIMEOUT).unwrap();
    c.end_offset().unwrap()
}

fn start_offset(cluster: &cutover::config::ClusterConfig, topic: &str) -> i64 {
    let mut c = KafkaCursor::new(cluster, topic, 0, TIMEOUT).unwrap();
    c.start_offset().unwrap()
}

fn records_from(cluster: &cutover::config::ClusterConfig, topic: &str, offset: i64, n: usize) -> Vec<Record> {
    let mut c = KafkaCursor::new(cluster, topic, 0, TIMEOUT).unwrap();
    c.seek(offset).unwrap();
    (0..n).map_while(|_| c.next().unwrap().map(|r| r.record)).collect()
}

/// DeleteRecords on the source while the producer writes: validation starts at the oldest
/// sync whose source record survives and passes; a group committed past the new log start
/// translates exactly; one committed before it is told it has lost records.
#[test]
fn delete_records_on_the_source_validation_passes_and_translation_is_exact() {
    let e = estate();
    let (src, tgt) = (e.source_cluster(), e.target_cluster());
    create(&src, &[TopicSpec::new("ret-orders", 1)]);
    produce(&src, "ret-orders", 1, 500);
    let traffic = Traffic::start(&src, "ret-orders", 1, 50);
    let (config, text) = flow(e, "ret-orders");
    wait_for(
        Duration::from_secs(120),
        &format!("MM2 to copy ret-orders; {}", e.logs()),
        || {
            let mut c = KafkaCursor::new(&tgt, "src.ret-orders", 0, TIMEOUT).ok()?;
            (c.end_offset().ok()? >= 500).then_some(())
        },
    );
    let admin: AdminClient<DefaultClientContext> = cutover::kafka::client_config(&src).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("ret-orders", 0, Offset::Offset(250)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let deleted = rt
        .block_on(admin.delete_records(&tpl, &AdminOptions::new().request_timeout(Some(TIMEOUT))))
        .expect("DeleteRecords");
    assert_eq!(deleted.elements()[0].offset(), Offset::Offset(250));
    assert_eq!(start_offset(&src, "ret-orders"), 250);

    let path = config_file(&run_dir().join("ret-orders"), &text);
    for run in 0..3 {
        let (code, rows, out) = validate(&path);
        assert_eq!(code, Some(0), "run {run}: {out}");
        let row = &rows[0]["result"];
        assert_eq!(row["verdict"]["result"], "pass", "run {run}: {out}");
        assert!(
            row["source_range"][0].as_i64().unwrap() >= 250,
            "validated from the new log start: {out}"
        );
        assert!(row["records_compared"].as_i64().unwrap() > 0, "{out}");
    }

    commit_offsets(&src, "ret-after", &[("ret-orders".into(), 0, 320)]).unwrap();
    commit_offsets(&src, "ret-before", &[("ret-orders".into(), 0, 120)]).unwrap();
    let mm2 = cutover::kafka::mm2::read_once(&config.source, &config.target, &config.replication, TIMEOUT).unwrap();
    let after = BTreeMap::from([(("ret-orders".to_string(), 0), 320)]);
    let (rows, _) = translate_group(
        &config,
        Some(&mm2),
        "ret-after",
        &after,
        None,
        TIMEOUT,
        &[],
        &Default::default(),
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    let exact = rows[0].translation.exact().unwrap_or_else(|| panic!("{:?}", rows[0]));
    assert_eq!(
        records_from(&tgt, "src.ret-orders", exact, 3),
        records_from(&src, "ret-orders", 320, 3)
    );
    let before = BTreeMap::from([(("ret-orders".to_string(), 0), 120)]);
    let (rows, _) = translate_group(
        &config,
        Some(&mm2),
        "ret-before",
        &before,
        None,
        TIMEOUT,
        &[],
        &Default::default(),
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(rows[0].translation.exact(), None, "{:?}", rows[0]);
    let said = rows[0].translation.outcome.describe();
    assert!(
        said.contains("250") || said.contains("retention") || said.contains("deleted"),
        "{said}"
    );
    traffic.stop();
}

/// `retention.ms` on the source (MM2 copies the config, so the target deletes too, as in a
/// real migration): records age out on both sides while the producer writes; every
/// validation run passes or skips, never fails.
#[test]
fn time_retention_on_both_sides_while_writing_never_fails_validation() {
    let e = estate();
    let src = e.source_cluster();
    create(
        &src,
        &[TopicSpec::new("ret-timed", 1)
            .config("retention.ms", "3000")
            .config("segment.ms", "1000")
            .config("file.delete.delay.ms", "0")],
    );
    let traffic = Traffic::start(&src, "ret-timed", 1, 40);
    let (_, text) = flow(e, "ret-timed");
    let path = config_file(&run_dir().join("ret-timed"), &text);
    // Until the source's log start has moved (retention deleted segments) and then some.
    let mut runs = Vec::new();
    let mut moved_at = None;
    for run in 0..40 {
        let (code, rows, out) = validate(&path);
        let verdict = rows
            .first()
            .map(|r| r["result"]["verdict"]["result"].as_str().unwrap_or("?").to_string());
        assert!(code != Some(1), "run {run}: retention made validation fail: {out}");
        assert!(code == Some(0), "run {run}: {out}");
        runs.push(verdict.unwrap_or_default());
        let start = start_offset(&src, "ret-timed");
        if start > 0 && moved_at.is_none() {
            moved_at = Some(run);
        }
        if moved_at.is_some_and(|m| run >= m + 3) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(moved_at.is_some(), "retention never deleted a segment: {runs:?}");
    assert!(runs.iter().any(|r| r == "pass"), "{runs:?}");
    traffic.stop();
}

/// The real log cleaner compacts the source (and the target, whose topic MM2 created with
/// the same configs) while updates and tombstones go on: every validation run passes; then a
/// wrong value written on the target fails, naming its key.
#[test]
fn log_cleaner_compacting_during_updates_passes_and_a_wrong_value_fails_by_key() {
    let e = estate();
    let (src, tgt) = (e.source_cluster(), e.target_cluster());
    create(
        &src,
        &[TopicSpec::new("cmp-profiles", 1)
            .config("cleanup.policy", "compact")
            .config("segment.ms", "500")
            .config("min.cleanable.dirty.ratio", "0.01")
            .config("delete.retention.ms", "1000")
            .config("min.compaction.lag.ms", "0")],
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (src, stop) = (src.clone(), stop.clone());
        std::thread::spawn(move || {
            let w = RecordWriter::new(&src, false).unwrap();
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                w.send("cmp-profiles", 0, &customer(i)).unwrap();
                i += 1;
                if i.is_multiple_of(10) {
                    w.flush(TIMEOUT).unwrap();
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            w.flush(TIMEOUT).unwrap();
            i
        })
    };
    let (_, text) = flow(e, "cmp-profiles");
    let path = config_file(&run_dir().join("cmp-profiles"), &text);
    wait_for(
        Duration::from_secs(120),
        &format!("MM2 to copy cmp-profiles; {}", e.logs()),
        || {
            let mut c = KafkaCursor::new(&tgt, "src.cmp-profiles", 0, TIMEOUT).ok()?;
            (c.end_offset().ok()? >= 200).then_some(())
        },
    );
    // The cleaner has run once fewer records remain than were written.
    wait_for(
        Duration::from_secs(120),
        "the log cleaner to compact the source",
        || {
            let end = end_offset(&src, "cmp-profiles");
            let left = records_from(&src, "cmp-profiles", 0, end as usize).len() as i64;
            (left < end / 2).then_some(())
        },
    );
    for run in 0..5 {
        let (code, rows, out) = validate(&path);
        assert_eq!(code, Some(0), "run {run}: {out}");
        assert_eq!(rows[0]["result"]["verdict"]["result"], "pass", "run {run}: {out}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 200);

    // A wrong value on the target for one key.
    let w = RecordWriter::new(&tgt, false).unwrap();
    let wrong = Record {
        key: Some(b"customer-3".to_vec()),
        value: Some(b"not what the source says".to_vec()),
        headers: vec![],
        timestamp: Some(now_ms()),
    };
    w.send("src.cmp-profiles", 0, &wrong).unwrap();
    w.flush(TIMEOUT).unwrap();
    let out = wait_for(Duration::from_secs(30), "validation to fail on customer-3", || {
        let (code, _, out) = validate(&path);
        (code == Some(1)).then_some(out)
    });
    assert!(out.contains("customer-3"), "the failing key is named: {out}");
}
