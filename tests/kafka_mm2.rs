//! MirrorMaker 2's own records, from the real MM2 (dedicated mode, Kafka 4.x) between real Apache
//! Kafka brokers (source 3.9.x, target 4.x): offset-syncs, checkpoints and heartbeats decoded,
//! the mapping's drift, and exact translation against MM2's checkpoints, with a producer
//! writing and MM2 copying all along. Both replication policies and both offset-syncs
//! locations. One estate is shared by this file's tests.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use common::groups::commit_offsets;
use common::kafka::*;
use common::{latest, runtime, wait_for};
use cutover::config::{ClusterConfig, Config};
use cutover::demo::clients::TopicSpec;
use cutover::kafka::cursor::{Cursor, KafkaCursor};
use cutover::kafka::records::Record;
use cutover::mm2::state::Mm2State;
use cutover::mm2::syncs::mm2_translate;
use cutover::model::groups::FlipCost;
use cutover::model::mapping::{heartbeat_age, mapping_rows};
use cutover::monitor::Monitor;
use cutover::translate::group::translate_group;
use cutover::translate::Outcome;

const TIMEOUT: Duration = Duration::from_secs(10);
const FAST: &str = "[monitor]\nrefresh_interval = \"500ms\"\nrequest_timeout = \"5s\"\n";

fn default_flow(e: &Estate, topics: &str) -> Config {
    e.config(&format!(
        "[replication]\nsource_alias = \"src\"\ntarget_alias = \"dst\"\n{FAST}[topics]\ninclude = [\"{topics}\"]\n"
    ))
}

fn read_mm2(config: &Config) -> Mm2State {
    cutover::kafka::mm2::read_once(&config.source, &config.target, &config.replication, TIMEOUT)
        .expect("read MM2's topics")
}

/// The record at `offset` (None: nothing there, e.g. a transaction marker or a gap).
fn record_at(cluster: &ClusterConfig, topic: &str, partition: i32, offset: i64) -> Option<(i64, Record)> {
    let mut c = KafkaCursor::new(cluster, topic, partition, TIMEOUT).unwrap();
    c.seek(offset).unwrap();
    c.next().unwrap().map(|r| (r.offset, r.record))
}

/// `n` records from `offset` on.
fn records_from(cluster: &ClusterConfig, topic: &str, partition: i32, offset: i64, n: usize) -> Vec<Record> {
    let mut c = KafkaCursor::new(cluster, topic, partition, TIMEOUT).unwrap();
    c.seek(offset).unwrap();
    let mut out = Vec::new();
    while out.len() < n {
        match c.next().unwrap() {
            Some(r) => out.push(r.record),
            None => break,
        }
    }
    out
}

/// Every offset-sync of real MM2 pairs the same record on both sides: MM2's syncs are what
/// the spec says they are.
fn assert_syncs_pair_identical_records(config: &Config, mm2: &Mm2State, topic: &str, partitions: i32) -> usize {
    let target_topic = config.replication.target_topic(topic);
    let mut checked = 0;
    for p in 0..partitions {
        let mut seen = Vec::new();
        let mut from = 0;
        while let Some((up, down)) = mm2.syncs.oldest_from(topic, p, from) {
            seen.push((up, down));
            from = up + 1;
        }
        assert!(!seen.is_empty(), "no offset-sync of {topic}/{p}");
        for (up, down) in seen {
            let (so, s) = record_at(&config.source, topic, p, up).expect("source record of a sync");
            let (to, t) = record_at(&config.target, &target_topic, p, down).expect("target record of a sync");
            assert_eq!((so, to), (up, down), "a sync names a record's own offsets");
            assert_eq!(s, t, "{topic}/{p}: sync {up}->{down} pairs different records");
            checked += 1;
        }
    }
    checked
}

#[test]
fn real_mm2_records_decode_and_syncs_pair_identical_records_and_drift_is_never_a_false_alarm() {
    let e = estate();
    let src = e.source_cluster();
    create(&src, &[TopicSpec::new("mm-orders", 2)]);
    produce(&src, "mm-orders", 2, 450);
    let traffic = Traffic::start(&src, "mm-orders", 2, 100);
    let config = default_flow(e, "mm-orders");
    commit_offsets(
        &src,
        "mm-billing",
        &[("mm-orders".into(), 0, 130), ("mm-orders".into(), 1, 250)],
    )
    .unwrap();

    let mm2 = wait_for(
        Duration::from_secs(120),
        &format!("MM2's syncs, checkpoints and a heartbeat; {}", e.logs()),
        || {
            let m = read_mm2(&config);
            let checkpoints_done = [(0, 130), (1, 250)].iter().all(|(p, c)| {
                m.checkpoint("mm-billing", "src.mm-orders", *p)
                    .is_some_and(|cp| cp.upstream == *c)
            });
            let synced = (0..2).all(|p| m.syncs.newest("mm-orders", p).is_some_and(|(up, _)| up >= 400));
            (checkpoints_done && synced && m.heartbeat_ms.is_some()).then_some(m)
        },
    );
    assert!(mm2.errors.is_empty(), "{:?}", mm2.errors);
    assert_eq!(mm2.undecodable, 0, "every record of MM2's topics decodes");
    assert_eq!(mm2.rejected_syncs, 0);
    let age = heartbeat_age(&mm2, SystemTime::now()).unwrap();
    assert!(age < Duration::from_secs(15), "newest heartbeat {age:?} old");
    let checked = assert_syncs_pair_identical_records(&config, &mm2, "mm-orders", 2);
    // MM2 writes a sync at least every offset.lag.max (100) records: 450 records give several.
    assert!(checked >= 8, "only {checked} syncs");
    for (p, c) in [(0, 130i64), (1, 250)] {
        let cp = mm2.checkpoint("mm-billing", "src.mm-orders", p).unwrap();
        // MM2's rule: anchored at a sync at or below the commit, +1 when past it; never beyond
        // the record the group would read next.
        assert!(
            cp.downstream <= c,
            "checkpoint {} beyond the committed {c}",
            cp.downstream
        );
        let rule = |(up, down): (i64, i64)| mm2_translate(Some((up, down)), c);
        let mut from = 0;
        let mut by_rule = Vec::new();
        while let Some(sync) = mm2.syncs.oldest_from("mm-orders", p, from).filter(|(up, _)| *up <= c) {
            by_rule.push(rule(sync).unwrap());
            from = sync.0 + 1;
        }
        assert!(
            by_rule.contains(&cp.downstream),
            "{p}: checkpoint {} is the +1 rule on none of the syncs at or below {c}: {by_rule:?}",
            cp.downstream
        );
    }

    // Drift while the producer writes and MM2 copies: never positive (a false "extra records"
    // alarm), and 0 once the producer stops and MM2 has caught up.
    let rt = runtime();
    let _enter = rt.enter();
    let monitor = Monitor::start(&config).unwrap();
    let mut seq = 0;
    let mut drifts = Vec::new();
    for _ in 0..20 {
        let snap = wait_for(Duration::from_secs(20), "a snapshot with MM2's state", || {
            let s = latest(&monitor);
            (s.seq > seq && s.mm2.is_some() && s.source.state().is_some() && s.target.state().is_some()).then_some(s)
        });
        seq = snap.seq;
        for row in mapping_rows(&snap, &config.replication, &config.topics) {
            if let Some(d) = row.drift {
                assert!(d <= 0, "positive drift {d} during normal replication: {row:?}");
                drifts.push(d);
            }
        }
    }
    assert!(!drifts.is_empty(), "drift was shown");
    let acked = traffic.stop();
    wait_for(Duration::from_secs(60), "drift 0 once MM2 caught up", || {
        let rows = mapping_rows(&latest(&monitor), &config.replication, &config.topics);
        let ends: i64 = rows.iter().filter_map(|r| r.source_end).sum();
        (rows.len() == 2 && rows.iter().all(|r| r.drift == Some(0)) && ends == acked as i64 + 900).then_some(())
    });
}

/// One group per position relative to MM2's syncs; each must resume on the target exactly,
/// and MM2's checkpoint re-delivers what it says.
#[test]
fn exact_translation_against_real_checkpoints_resumes_a_consumer_exactly() {
    let e = estate();
    let src = e.source_cluster();
    let tgt = e.target_cluster();
    create(&src, &[TopicSpec::new("tr-orders", 1)]);
    produce(&src, "tr-orders", 1, 420);
    let traffic = Traffic::start(&src, "tr-orders", 1, 50);
    let config = default_flow(e, "tr-orders");
    let syncs = wait_for(
        Duration::from_secs(120),
        &format!("MM2's syncs of tr-orders; {}", e.logs()),
        || {
            let m = read_mm2(&config);
            m.syncs
                .newest("tr-orders", 0)
                .filter(|(up, _)| *up >= 300)
                .map(|_| m.syncs.clone())
        },
    );
    // A sync in the middle, and the next one after it.
    let (s_up, _) = syncs.anchor("tr-orders", 0, 250).expect("a sync at or below 250");
    let end_now = {
        let mut c = KafkaCursor::new(&src, "tr-orders", 0, TIMEOUT).unwrap();
        c.end_offset().unwrap()
    };
    let positions: BTreeMap<&str, i64> = BTreeMap::from([
        ("tr-at-sync", s_up),
        ("tr-after-sync", s_up + 1),
        ("tr-between", s_up + 37),
        ("tr-end", end_now),
    ]);
    for (group, c) in &positions {
        commit_offsets(&src, group, &[("tr-orders".into(), 0, *c)]).unwrap();
    }
    let mm2 = wait_for(Duration::from_secs(90), "MM2's checkpoint of every group", || {
        let m = read_mm2(&config);
        positions
            .iter()
            .all(|(g, c)| m.checkpoint(g, "src.tr-orders", 0).is_some_and(|cp| cp.upstream == *c))
            .then_some(m)
    });
    // The end position must be copied before its next record can be compared.
    wait_for(Duration::from_secs(60), "MM2 to copy past the end position", || {
        let mut c = KafkaCursor::new(&tgt, "src.tr-orders", 0, TIMEOUT).ok()?;
        (c.end_offset().ok()? > end_now + 5).then_some(())
    });
    let mut measured = Vec::new();
    for (group, c) in &positions {
        let committed = BTreeMap::from([(("tr-orders".to_string(), 0), *c)]);
        let (rows, _) = translate_group(
            &config,
            Some(&mm2),
            group,
            &committed,
            None,
            TIMEOUT,
            &[],
            &Default::default(),
            &Default::default(),
            &Default::default(),
        )
        .unwrap();
        let row = &rows[0];
        let exact = match &row.translation.outcome {
            Outcome::Exact { target_offset, .. } => *target_offset,
            other => panic!("{group}: no exact translation: {other:?}"),
        };
        let checkpoint = row.checkpoint.expect("MM2's checkpoint");
        // A consumer started at our offset reads exactly the source's next record.
        let next_on_source = records_from(&src, "tr-orders", 0, *c, 3);
        let next_on_target = records_from(&tgt, "src.tr-orders", 0, exact, 3);
        assert_eq!(
            next_on_target, next_on_source,
            "{group}: resuming at {exact} is not exact"
        );
        // MM2's checkpoint re-delivers (exact - checkpoint) records: exactly the ones before.
        let redelivered = exact - checkpoint;
        assert!(
            redelivered >= 0,
            "{group}: MM2's checkpoint {checkpoint} skips past {exact}"
        );
        let reread = records_from(&tgt, "src.tr-orders", 0, checkpoint, redelivered as usize);
        let processed = records_from(&src, "tr-orders", 0, c - redelivered, redelivered as usize);
        assert_eq!(
            reread, processed,
            "{group}: what a consumer re-reads from the checkpoint"
        );
        let expected = if redelivered == 0 {
            FlipCost::Zero
        } else {
            FlipCost::Duplicates(redelivered)
        };
        assert_eq!(row.flip(), expected, "{group}: the flip cost shown");
        measured.push((group.to_string(), *c, exact, checkpoint, redelivered));
    }
    // Between two syncs MM2 cannot be exact. (Even at a sync it may not be: MM2 3.6+ keeps a
    // sparse history of older syncs and may anchor further back; measured and shown above.)
    let between = measured.iter().find(|m| m.0 == "tr-between").unwrap();
    assert!(between.4 > 0, "between syncs MM2 re-delivers: {between:?}");
    eprintln!("(group, committed, exact, checkpoint, re-delivered): {measured:?}");
    traffic.stop();
}

/// The variants users choose: IdentityReplicationPolicy and offset-syncs kept on the target,
/// in a second MM2 flow (aliases left -> right) between the same brokers.
#[test]
fn identity_policy_with_offset_syncs_on_the_target() {
    let e = estate();
    let (src, tgt) = (e.source_cluster(), e.target_cluster());
    let dir = run_dir().join("mm2-identity");
    let _mm2 = start_mm2(
        &dir,
        &e.source,
        &e.target,
        ("left", "right"),
        &[
            (
                "replication.policy.class",
                "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
            ),
            ("offset-syncs.topic.location", "target"),
            ("topics", "idn-.*"),
            ("groups", "idn-.*"),
        ],
    );
    create(&src, &[TopicSpec::new("idn-orders", 1)]);
    produce(&src, "idn-orders", 1, 260);
    let traffic = Traffic::start(&src, "idn-orders", 1, 50);
    commit_offsets(&src, "idn-billing", &[("idn-orders".into(), 0, 217)]).unwrap();
    let config = e.config(&format!(
        "[replication]\nsource_alias = \"left\"\ntarget_alias = \"right\"\npolicy = \"identity\"\n\
         offset_syncs_location = \"target\"\n{FAST}[topics]\ninclude = [\"idn-.*\"]\n"
    ));
    let mm2 = wait_for(
        Duration::from_secs(120),
        "the identity flow's syncs, checkpoint and heartbeat",
        || {
            let m = read_mm2(&config);
            let cp = m
                .checkpoint("idn-billing", "idn-orders", 0)
                .is_some_and(|cp| cp.upstream == 217);
            (cp && m.syncs.newest("idn-orders", 0).is_some() && m.heartbeat_ms.is_some()).then_some(m)
        },
    );
    assert!(mm2.errors.is_empty(), "{:?}", mm2.errors);
    assert_eq!(mm2.undecodable, 0);
    assert_syncs_pair_identical_records(&config, &mm2, "idn-orders", 1);
    let committed = BTreeMap::from([(("idn-orders".to_string(), 0), 217)]);
    let (rows, _) = translate_group(
        &config,
        Some(&mm2),
        "idn-billing",
        &committed,
        None,
        TIMEOUT,
        &[],
        &Default::default(),
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(rows[0].target_topic, "idn-orders");
    let exact = rows[0].translation.exact().expect("exact");
    assert_eq!(
        records_from(&tgt, "idn-orders", 0, exact, 3),
        records_from(&src, "idn-orders", 0, 217, 3)
    );
    traffic.stop();
}

/// `cutover validate --json`: exit code and every partition's row.
fn validate(config: &std::path::Path) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let (code, out, err) = cutover_output(config, &["validate", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, doc["partitions"].as_array().cloned().unwrap_or_default(), out)
}

/// A transactional producer on the source: committed and aborted transactions leave commit
/// and abort markers and aborted records in the log. MM2 configured to copy committed
/// records only (its source consumer `read_committed`, as users of transactions configure
/// it) gives a target that validates, and translation walks the markers. MM2 as it comes
/// (read_uncommitted) copies the aborted records too: validation must say so.
#[test]
fn transactions_validate_and_translate_across_markers() {
    let e = estate();
    let (src, tgt) = (e.source_cluster(), e.target_cluster());
    let _mm2 = start_mm2(
        &run_dir().join("mm2-txn"),
        &e.source,
        &e.target,
        ("txa", "txb"),
        &[
            ("topics", "txn-.*"),
            ("groups", "txn-.*"),
            ("txa.consumer.isolation.level", "read_committed"),
        ],
    );
    create(&src, &[TopicSpec::new("txn-orders", 1)]);
    // 12 transactions of 5 records, every third aborted: 40 committed records, 20 aborted,
    // 12 markers.
    let mut committed = write_transactions(&src, "txn-orders", "txn-writer", 0, 12, 5, 3);
    assert_eq!(committed.len(), 40);
    // More transactions keep coming while the checks run.
    let writer = {
        let src = src.clone();
        std::thread::spawn(move || write_transactions(&src, "txn-orders", "txn-writer", 1_000, 60, 5, 3))
    };
    // The group has processed 23 committed records: its committed offset is the source
    // offset of the 24th (markers and aborted records lie before it).
    let offsets: Vec<i64> = {
        let mut c = KafkaCursor::new(&src, "txn-orders", 0, TIMEOUT).unwrap();
        c.seek(0).unwrap();
        (0..40).map(|_| c.next().unwrap().unwrap().offset).collect()
    };
    let c = offsets[23];
    assert!(c > 23, "markers and aborted records lie before offset {c}");
    commit_offsets(&src, "txn-billing", &[("txn-orders".into(), 0, c)]).unwrap();

    let text = e.config_text(&format!(
        "[replication]\nsource_alias = \"txa\"\ntarget_alias = \"txb\"\n{FAST}[topics]\ninclude = [\"txn-.*\"]\n"
    ));
    let config = e.config(&format!(
        "[replication]\nsource_alias = \"txa\"\ntarget_alias = \"txb\"\n{FAST}[topics]\ninclude = [\"txn-.*\"]\n"
    ));
    let mm2 = wait_for(
        Duration::from_secs(120),
        &format!("MM2's checkpoint of txn-billing; {}", e.logs()),
        || {
            let m = read_mm2(&config);
            m.checkpoint("txn-billing", "txa.txn-orders", 0)
                .is_some_and(|cp| cp.upstream == c)
                .then_some(m)
        },
    );
    let target_committed = records_from(&tgt, "txa.txn-orders", 0, 0, 40);
    let source_committed = records_from(&src, "txn-orders", 0, 0, 40);
    assert_eq!(
        target_committed, source_committed,
        "MM2 read_committed copies the committed records, in order"
    );

    let committed_offsets = BTreeMap::from([(("txn-orders".to_string(), 0), c)]);
    let (rows, _) = translate_group(
        &config,
        Some(&mm2),
        "txn-billing",
        &committed_offsets,
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
        exact, 23,
        "23 committed records before it on the target, which has no markers"
    );
    assert_eq!(
        records_from(&tgt, "txa.txn-orders", 0, exact, 1),
        records_from(&src, "txn-orders", 0, c, 1),
        "the consumer resumes on the next committed record"
    );

    let dir = run_dir().join("txn-config");
    let path = config_file(&dir, &text);
    let (code, rows, out) = validate(&path);
    assert_eq!(
        code,
        Some(0),
        "validation of the read_committed copy passes while transactions go on: {out}"
    );
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r["result"]["verdict"]["result"] == "pass"),
        "{out}"
    );
    committed.extend(writer.join().unwrap());

    // MM2 with its defaults (the shared flow) copied the same topic with its aborted records.
    let default_text = e.config_text(&format!(
        "[replication]\nsource_alias = \"src\"\ntarget_alias = \"dst\"\n{FAST}[topics]\ninclude = [\"txn-.*\"]\n"
    ));
    wait_for(Duration::from_secs(60), "the default flow to copy txn-orders", || {
        let mut c = KafkaCursor::new(&tgt, "src.txn-orders", 0, TIMEOUT).ok()?;
        (c.end_offset().ok()? > 60).then_some(())
    });
    let path = config_file(&run_dir().join("txn-default"), &default_text);
    let (code, _, out) = validate(&path);
    eprintln!("validation of MM2's default (read_uncommitted) copy: {out}");
    assert_eq!(code, Some(1), "aborted records on the target are a mismatch: {out}");
}
