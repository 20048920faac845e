//! Exact translation of 100 groups x 50 partitions, each committed 1 to 100 records past its
//! MM2 anchor, on two real tansu brokers with the MM2-compatible replicator between them:
//! - per group, as `cutover translate --group` does it (fetch commits, one walk per partition)
//! - all groups at once, one walk per partition covering every group's offset
//! - baseline in the same run: a plain rdkafka consumer reading the same spans once
//!
//! Run: `cargo bench --bench translate` (needs tansu: `make setup`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use cutover::config;
use cutover::demo::broker::{Storage, TansuBroker};
use cutover::demo::clients::{create_topics, TopicSpec};
use cutover::demo::replicator::{Replicator, ReplicatorSpec};
#[path = "../tests/common/groups.rs"]
mod groups;
use cutover::demo::clients::RecordWriter;
use cutover::kafka::records::{Record, RecordReader};
use cutover::translate::group::{translate_group, translate_many};
use groups::commit_offsets;

const PARTITIONS: i32 = 50;
const GROUPS: i64 = 100;
const RECORDS: i64 = 250;
/// MM2 (offset.lag.max 100) writes syncs at 0, 101 and 202: groups commit after 101.
const ANCHOR: i64 = 101;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = TansuBroker::start(&dir.path().join("src"), "src", Storage::Sqlite).expect("tansu (make setup)");
    let tgt = TansuBroker::start(&dir.path().join("tgt"), "tgt", Storage::Sqlite).expect("tansu (make setup)");
    let text = format!(
        "[source]\nname = \"src\"\nbootstrap = \"{}\"\n[target]\nname = \"tgt\"\nbootstrap = \"{}\"\n\
         [replication]\nsource_alias = \"src\"\ntarget_alias = \"tgt\"\n",
        src.bootstrap(),
        tgt.bootstrap()
    );
    let config = config::parse(Path::new("bench.toml"), &text, &|_| None).unwrap();
    let setup = Instant::now();
    rt.block_on(create_topics(
        &config.source,
        &[TopicSpec::new("orders", PARTITIONS)],
        Duration::from_secs(30),
    ))
    .unwrap();
    rt.block_on(create_topics(
        &config.target,
        &[TopicSpec::new("src.orders", PARTITIONS)],
        Duration::from_secs(30),
    ))
    .unwrap();
    let w = RecordWriter::new(&config.source, false).unwrap();
    for p in 0..PARTITIONS {
        for i in 0..RECORDS {
            let r = Record {
                key: Some(format!("key-{p}-{i}").into_bytes()),
                value: Some(vec![b'x'; 200]),
                headers: vec![("h".into(), Some(b"v".to_vec()))],
                timestamp: Some(1_700_000_000_000 + i),
            };
            w.send("orders", p, &r).unwrap();
        }
    }
    w.flush(Duration::from_secs(60)).unwrap();
    let replicator = Replicator::start(ReplicatorSpec::new(
        config.source.clone(),
        config.target.clone(),
        config.replication.clone(),
        &["orders"],
    ))
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while (0..PARTITIONS).any(|p| replicator.position("orders", p) < RECORDS) {
        assert!(
            Instant::now() < deadline,
            "replication did not finish: {:?}",
            replicator.error()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let committed_at = |g: i64| ANCHOR + 1 + g % 100; // 1..100 records past the anchor
    for g in 0..GROUPS {
        let offsets: Vec<(String, i32, i64)> = (0..PARTITIONS)
            .map(|p| ("orders".to_string(), p, committed_at(g)))
            .collect();
        commit_offsets(&config.source, &format!("group-{g:03}"), &offsets).unwrap();
    }
    let mm2 = cutover::kafka::mm2::read_once(
        &config.source,
        &config.target,
        &config.replication,
        Duration::from_secs(10),
    )
    .unwrap();
    assert!(mm2.errors.is_empty(), "{:?}", mm2.errors);
    eprintln!(
        "setup: {} records, {GROUPS} groups, {} syncs, in {:?}",
        PARTITIONS as i64 * RECORDS,
        mm2.syncs.len(),
        setup.elapsed()
    );
    let timeout = Duration::from_secs(10);

    // 1. Per group, as `cutover translate --group` does.
    let started = Instant::now();
    let (mut exact, mut total, mut read) = (0, 0, (0, 0));
    for g in 0..GROUPS {
        let group = format!("group-{g:03}");
        let committed = cutover::kafka::group_offsets(&config.source, &group, timeout).unwrap();
        let (rows, counts) = translate_group(
            &config,
            Some(&mm2),
            &group,
            &committed,
            None,
            timeout,
            &[],
            &Default::default(),
            &Default::default(),
            &Default::default(),
        )
        .unwrap();
        total += rows.len();
        exact += rows
            .iter()
            .filter(|r| r.translation.exact() == Some(r.committed))
            .count();
        read = (read.0 + counts.source, read.1 + counts.target);
    }
    let per_group = started.elapsed();
    assert_eq!(
        (exact, total),
        (5_000, 5_000),
        "every offset translates exactly (the copy preserves offsets here)"
    );

    // 2. All groups at once: one walk per partition.
    let started = Instant::now();
    let queries: BTreeMap<(String, i32), Vec<i64>> = (0..PARTITIONS)
        .map(|p| (("orders".to_string(), p), (0..GROUPS).map(committed_at).collect()))
        .collect();
    let (rows, batched_counts) = translate_many(
        &config,
        Some(&mm2),
        &queries,
        timeout,
        &BTreeMap::new(),
        &Default::default(),
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    let batched = started.elapsed();
    assert_eq!(
        rows.iter().filter(|(_, t)| t.exact() == Some(t.committed)).count(),
        5_000
    );

    // Baseline: a plain consumer reading the same spans (anchor to the furthest commit + 1),
    // both sides, all partitions assigned at once.
    let started = Instant::now();
    let span = committed_at(99) - ANCHOR + 1;
    let mut baseline_read = 0;
    for (cluster, topic) in [(&config.source, "orders"), (&config.target, "src.orders")] {
        let reader = RecordReader::new(cluster).unwrap();
        let from: Vec<(String, i32, Option<i64>)> =
            (0..PARTITIONS).map(|p| (topic.to_string(), p, Some(ANCHOR))).collect();
        reader.assign(&from).unwrap();
        let mut per_partition = vec![0i64; PARTITIONS as usize];
        while per_partition.iter().any(|n| *n < span) {
            if let Some(r) = reader.next(Duration::from_secs(10)) {
                let r = r.unwrap();
                per_partition[r.partition as usize] += 1;
                baseline_read += 1;
            }
        }
    }
    let baseline = started.elapsed();

    println!("\nexact translation, {GROUPS} groups x {PARTITIONS} partitions, 1-100 records past the anchor:");
    println!(
        "  per group (cutover translate --group, x{GROUPS}): {:.2} s wall, records read: {} source + {} target",
        per_group.as_secs_f64(),
        read.0,
        read.1
    );
    println!(
        "  all groups, one walk per partition:             {:.2} s wall, records read: {} source + {} target",
        batched.as_secs_f64(),
        batched_counts.source,
        batched_counts.target
    );
    println!(
        "  baseline, plain consumer over the same spans:    {:.2} s wall, records read: {baseline_read}",
        baseline.as_secs_f64()
    );
}
