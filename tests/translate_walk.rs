//! `cutover translate` over what real MirrorMaker 2 leaves on a target: it is at-least-once, so
//! records can be there twice (a producer retry, a task restart), and a record can be lost,
//! with no offset-sync marking either. The test writes each target as MM2 would have, with the
//! one offset-sync MM2 emits for it (the first record), on real tansu brokers.

mod common;

use std::time::Duration;

use common::*;
use cutover::config::{OffsetSyncsLocation, PolicyKind, Replication, ReplicationKind};
use cutover::demo::broker::Storage;
use cutover::demo::clients::{RecordWriter, TopicSpec};
use cutover::kafka::cursor::{Cursor, KafkaCursor};
use cutover::kafka::records::Record;
use cutover::mm2::codec::OffsetSync;
use cutover::mm2::topics;

const RECORDS: i64 = 400;
const COMMITTED: i64 = 33;

fn replication() -> Replication {
    Replication {
        kind: ReplicationKind::MirrorMaker2,
        source_alias: "src".into(),
        target_alias: "dst".into(),
        policy: PolicyKind::Default,
        separator: ".".into(),
        offset_syncs_location: OffsetSyncsLocation::Source,
    }
}

fn record(i: i64) -> Record {
    Record {
        key: Some(format!("order-{i}").into_bytes()),
        value: Some(format!("amount {}", i * 7).into_bytes()),
        headers: vec![],
        timestamp: Some(1_700_000_000_000 + i),
    }
}

/// How each topic's target differs from its source (source records in target order).
fn target_order(topic: &str) -> Vec<Record> {
    let all: Vec<i64> = (0..RECORDS).collect();
    let order: Vec<i64> = match topic {
        // Source 10 written twice.
        "dup1" => [&all[..11], &[10], &all[11..]].concat(),
        // A task restart replays source 10-14 after 14.
        "dup5" => [&all[..15], &all[10..15], &all[15..]].concat(),
        // Source 20 never arrived.
        "lost" => [&all[..20], &all[21..]].concat(),
        _ => all,
    };
    let mut records: Vec<Record> = order.into_iter().map(record).collect();
    if topic == "corrupt" {
        records[COMMITTED as usize].value = Some(b"garbled".to_vec());
    }
    records
}

/// `cutover translate --group billing --topic T --json`: exit code and the partition's row.
fn translate(config: &std::path::Path, topic: &str) -> (Option<i32>, serde_json::Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(config)
        .args(["translate", "--group", "billing", "--topic", topic, "--json"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    (out.status.code(), doc["partitions"][0].clone(), text)
}

/// The record at `offset` of a partition, read back.
fn read_at(cluster: &cutover::config::ClusterConfig, topic: &str, offset: i64) -> Record {
    let mut c = KafkaCursor::new(cluster, topic, 0, Duration::from_secs(10)).unwrap();
    c.seek(offset).unwrap();
    let r = c.next().unwrap().expect("a record there");
    assert_eq!(r.offset, offset);
    r.record
}

#[test]
fn duplicates_and_a_lost_record_before_the_committed_offset_are_walked_over() {
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    let rep = replication();
    let names = ["dup1", "dup5", "lost", "corrupt"];
    create(&src, &names.map(|t| TopicSpec::new(t, 1)));
    create(&tgt, &names.map(|t| TopicSpec::new(&rep.target_topic(t), 1)));
    let compacted = |name: &str| TopicSpec::new(name, 1).config("cleanup.policy", "compact");
    let (_, syncs_topic) = topics::offset_syncs(&rep);
    create(&src, &[compacted(&syncs_topic)]);
    create(
        &tgt,
        &[
            compacted(&topics::checkpoints(&rep)),
            TopicSpec::new(topics::HEARTBEATS, 1),
        ],
    );

    let (source, target) = (cluster(&src, "src"), cluster(&tgt, "tgt"));
    let (sw, tw) = (
        RecordWriter::new(&source, false).unwrap(),
        RecordWriter::new(&target, false).unwrap(),
    );
    for topic in names {
        for i in 0..RECORDS {
            sw.send(topic, 0, &record(i)).unwrap();
        }
        for r in target_order(topic) {
            tw.send(&rep.target_topic(topic), 0, &r).unwrap();
        }
        // MM2's first sync: source 0 is target 0. A duplicate or a silent loss emits none.
        let (k, v) = OffsetSync {
            topic: topic.into(),
            partition: 0,
            upstream: 0,
            downstream: 0,
        }
        .encode()
        .unwrap();
        sw.send(
            &syncs_topic,
            0,
            &Record {
                key: Some(k),
                value: Some(v),
                headers: vec![],
                timestamp: Some(1),
            },
        )
        .unwrap();
    }
    sw.flush(Duration::from_secs(30)).unwrap();
    tw.flush(Duration::from_secs(30)).unwrap();
    groups::commit_offsets(&source, "billing", &names.map(|t| (t.to_string(), 0, COMMITTED))).unwrap();
    let file = config_file(
        dir.path(),
        &src,
        &tgt,
        "[replication]\nsource_alias = \"src\"\ntarget_alias = \"dst\"\n[monitor]\nrequest_timeout = \"5s\"\n",
    );

    // (topic, exact target offset, walked over, exit code)
    let expected = [
        ("dup1", 34, vec![("duplicate", 11)], 0),
        ("dup5", 38, (15..20).map(|t| ("duplicate", t)).collect::<Vec<_>>(), 0),
        ("lost", 32, vec![("missing", 20)], 1),
    ];
    for (topic, exact, walked, code) in expected {
        let (status, row, text) = translate(&file, topic);
        assert_eq!(row["exact"], exact, "{topic}: {text}");
        assert_eq!(status, Some(code), "{topic}: {text}");
        let got: Vec<(String, i64)> = row["walked_over"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                let at = w["target_offset"].as_i64().or(w["source_offset"].as_i64()).unwrap();
                (w["kind"].as_str().unwrap().to_string(), at)
            })
            .collect();
        let want: Vec<(String, i64)> = walked.iter().map(|(k, o)| (k.to_string(), *o)).collect();
        assert_eq!(got, want, "{topic}: {text}");
        let said = row["walked_over_text"].as_str().unwrap_or_default();
        assert!(said.starts_with("walked over "), "{topic}: {text}");
        // Verified by reading both sides: the target there holds the source's record at C.
        assert_eq!(
            read_at(&target, &rep.target_topic(topic), exact),
            read_at(&source, topic, COMMITTED),
            "{topic}"
        );
    }
    let (_, lost, _) = translate(&file, "lost");
    assert!(
        lost["walked_over_text"]
            .as_str()
            .unwrap()
            .contains("source 20 missing on the target: data loss"),
        "{lost}"
    );

    // A corrupted record at the committed offset: no exact translation.
    let (status, row, text) = translate(&file, "corrupt");
    assert_eq!(status, Some(1), "{text}");
    assert!(row["exact"].is_null(), "{text}");
    assert_eq!(row["outcome"]["result"], "diverged", "{text}");
    assert_eq!(row["outcome"]["source_offset"], COMMITTED, "{text}");
}
