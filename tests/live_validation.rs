//! Validation while the migration moves: a producer keeps writing to the source and the
//! MM2-compatible replicator keeps copying, a little behind. Every run must be PASS or "not
//! copied yet"; a real fault must still FAIL, at the right place.

mod common;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use cutover::config::{OffsetSyncsLocation, PolicyKind, Replication, ReplicationKind};
use cutover::demo::broker::{Storage, TansuBroker};
use cutover::demo::clients::{RecordWriter, TopicSpec};
use cutover::demo::replicator::{Fault, Injection, Replicator, ReplicatorSpec};
use cutover::kafka::records::Record;

fn mm2() -> Replication {
    Replication {
        kind: ReplicationKind::MirrorMaker2,
        source_alias: "src".into(),
        target_alias: "dst".into(),
        policy: PolicyKind::Default,
        separator: ".".into(),
        offset_syncs_location: OffsetSyncsLocation::Source,
    }
}

const MM2_CONFIG: &str =
    "[replication]\nsource_alias = \"src\"\ntarget_alias = \"dst\"\n[monitor]\nrequest_timeout = \"5s\"\n";

/// The outage test times a broker's absence against the product's retry budget (about 8 s);
/// on a 2-core CI machine, tansu restarting while two other live tests load the CPU can take
/// longer than that. The tests of this file run one at a time so that budget measures the
/// product, not the machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A producer writing one record at a time until stopped; `written` counts acknowledged ones.
struct Producer {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicI64>,
    thread: Option<JoinHandle<()>>,
}

impl Producer {
    /// `make(i)` is the i-th record (from `from` on); `pause` between records.
    fn start(
        b: &TansuBroker,
        topic: &str,
        from: i64,
        pause: Duration,
        make: impl Fn(i64) -> Record + Send + 'static,
    ) -> Producer {
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicI64::new(0));
        let w = RecordWriter::new(&cluster(b, "producer"), false).expect("writer");
        let (s, n, topic) = (stop.clone(), written.clone(), topic.to_string());
        let thread = std::thread::spawn(move || {
            let mut i = from;
            while !s.load(Ordering::SeqCst) {
                w.send(&topic, 0, &make(i)).expect("send");
                w.flush(Duration::from_secs(10)).expect("flush");
                n.fetch_add(1, Ordering::SeqCst);
                i += 1;
                std::thread::sleep(pause);
            }
        });
        Producer {
            stop,
            written,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> i64 {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("producer thread");
        }
        self.written.load(Ordering::SeqCst)
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// `cutover validate --json` (more args appended): exit code and the topic's first row.
fn validate(config: &std::path::Path, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(config)
        .args(["validate", "--json"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let doc: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), doc["partitions"][0].clone(), text)
}

/// Acceptance: a compacted topic with continuous updates and tombstones, the replicator 1 to
/// 50 records behind: every run for 60 s is PASS (with "not copied yet" when behind); then a
/// wrong value copied to the target fails, naming its key, in the next run.
#[test]
fn compacted_topic_under_live_updates_passes_and_a_wrong_value_fails_by_key() {
    let _serial = one_at_a_time();
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    let compact = |t: &str| TopicSpec::new(t, 1).config("cleanup.policy", "compact");
    create(&src, &[compact("customers")]);
    create(&tgt, &[compact("src.customers")]);
    let r = Replicator::start(ReplicatorSpec::new(
        cluster(&src, "src"),
        cluster(&tgt, "tgt"),
        mm2(),
        &["customers"],
    ))
    .unwrap();
    // Each copy round waits this long first: the target trails by a few to tens of records.
    r.set_lag(Duration::from_millis(400));
    let producer = Producer::start(&src, "customers", 0, Duration::from_millis(20), |i| customer(i as u64));
    let file = config_file(dir.path(), &src, &tgt, MM2_CONFIG);

    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut runs, mut behind) = (0, 0);
    while Instant::now() < deadline {
        let (code, row, text) = validate(&file, &["--topic", "customers"]);
        assert!(r.error().is_none(), "{:?}", r.error());
        assert_eq!(row["result"]["verdict"]["result"], "pass", "run {runs}: {text}");
        assert_eq!(code, Some(0), "{text}");
        runs += 1;
        if row["result"]["pending"] == true {
            behind += 1;
        }
    }
    eprintln!("{runs} runs in 60 s, {behind} with records not copied yet, all PASS");
    assert!(runs >= 5, "only {runs} runs in 60 s");
    assert!(
        behind > 0,
        "the replicator never trailed during a run: the test did not test the lag"
    );

    // A wrong value: the replicator corrupts the next record (customer-3's update), then copies
    // a few more faithfully, so the target's newest record is a true copy.
    let written = producer.stop();
    let corrupt_at = written;
    r.set_lag(Duration::ZERO);
    r.inject(Injection {
        topic: "customers".into(),
        partition: 0,
        offset: corrupt_at,
        fault: Fault::CorruptValue,
    });
    let w = RecordWriter::new(&cluster(&src, "producer"), false).unwrap();
    let key = |k: &str, v: &str| Record {
        key: Some(k.as_bytes().to_vec()),
        value: Some(v.as_bytes().to_vec()),
        headers: vec![],
        timestamp: Some(now_ms()),
    };
    w.send("customers", 0, &key("customer-3", "moved to Lisbon")).unwrap();
    for k in ["customer-100", "customer-101"] {
        w.send("customers", 0, &key(k, "new")).unwrap();
    }
    w.flush(Duration::from_secs(10)).unwrap();
    wait_for(Duration::from_secs(30), "the last records copied", || {
        (r.position("customers", 0) >= corrupt_at + 3).then_some(())
    });
    let (code, row, text) = validate(&file, &["--topic", "customers"]);
    assert_eq!(code, Some(1), "{text}");
    let m = &row["result"]["verdict"]["mismatch"];
    assert_eq!(row["result"]["verdict"]["result"], "fail", "{text}");
    assert_eq!(m["kind"]["kind"], "key_value_differs", "{text}");
    assert_eq!(m["key"], "customer-3", "{text}");
    assert_eq!(m["source_offset"], corrupt_at, "{text}");
}

/// Item 4: a partition of tens of MB, validated while the producer and the replicator keep
/// writing. Both sides are read to bounds fixed before either is read, so records copied
/// during the run are neither extra nor missing: PASS run after run.
#[test]
fn a_large_partition_passes_while_producer_and_replicator_write() {
    let _serial = one_at_a_time();
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("events", 1)]);
    create(&tgt, &[TopicSpec::new("src.events", 1)]);
    let payload = |i: i64| Record {
        key: Some(format!("e{i}").into_bytes()),
        value: Some(format!("{i:>1024}").into_bytes()),
        headers: vec![],
        timestamp: Some(1_700_000_000_000 + i),
    };
    // 24,000 records of 1 KiB: about 25 MB.
    const BULK: i64 = 24_000;
    let w = RecordWriter::new(&cluster(&src, "bulk"), false).unwrap();
    for i in 0..BULK {
        w.send("events", 0, &payload(i)).unwrap();
    }
    w.flush(Duration::from_secs(60)).unwrap();
    let r = Replicator::start(ReplicatorSpec::new(
        cluster(&src, "src"),
        cluster(&tgt, "tgt"),
        mm2(),
        &["events"],
    ))
    .unwrap();
    wait_for(Duration::from_secs(120), "the bulk copied", || {
        assert!(r.error().is_none(), "{:?}", r.error());
        (r.position("events", 0) >= BULK).then_some(())
    });
    let producer = Producer::start(&src, "events", BULK, Duration::from_millis(20), payload);
    // A lower rate limit than the default widens the window in which the replicator copies
    // records while the run reads (the default's window is the same, only shorter).
    let file = config_file(
        dir.path(),
        &src,
        &tgt,
        &format!("{MM2_CONFIG}[validation]\nrate_limit_mb_per_s = 2\n"),
    );
    for run in 0..3 {
        let (code, row, text) = validate(&file, &[]);
        assert_eq!(row["result"]["verdict"]["result"], "pass", "run {run}: {text}");
        assert_eq!(code, Some(0), "run {run}: {text}");
        assert!(
            row["result"]["records_compared"].as_i64().unwrap() >= BULK,
            "run {run}: {text}"
        );
    }
    let written = producer.stop();
    assert!(written > 100, "the producer kept writing during the runs ({written})");
    assert!(r.error().is_none(), "{:?}", r.error());
}

/// Item 9: a target broker away for a moment during a run is retried with backoff (re-reading
/// from where the run was), not an ERROR. The partition is larger than a cursor's prefetch
/// (8 MB), so the run must fetch from the target while it is down.
#[test]
fn a_target_away_for_a_moment_is_retried_not_an_error() {
    let _serial = one_at_a_time();
    const RECORDS: i64 = 12_000;
    let (src, mut tgt, dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 1)]);
    create(&tgt, &[TopicSpec::new("orders", 1)]);
    let record = |i: i64| Record {
        key: Some(format!("o{i}").into_bytes()),
        value: Some(format!("{i:>1024}").into_bytes()),
        headers: vec![],
        timestamp: Some(1_700_000_000_000 + i),
    };
    for b in [&src, &tgt] {
        let w = RecordWriter::new(&cluster(b, "setup"), false).unwrap();
        for i in 0..RECORDS {
            w.send("orders", 0, &record(i)).unwrap();
        }
        w.flush(Duration::from_secs(60)).unwrap();
    }
    // The target goes away once the run has compared its first chunk (the log says so at
    // debug level), for 2.5 s, longer than the request timeout: more than the cursor's prefetch
    // (8 MB) of the target is still unread then, so a read must fail while it is away.
    let file = config_file(
        dir.path(),
        &src,
        &tgt,
        "[replication]\nkind = \"offset-preserving\"\npolicy = \"identity\"\n\
         [monitor]\nrequest_timeout = \"1s\"\n",
    );
    let log_path = dir.path().join("cutover.log");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(&file)
        .args(["validate", "--json"])
        .env("CUTOVER_LOG", "info,cutover::validate=debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(60), "the run's first compared chunk", || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.contains("chunk equal").then_some(())
    });
    tgt.kill();
    std::thread::sleep(Duration::from_millis(2_500));
    tgt.restart().expect("target back");
    let out = run.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    let row = &doc["partitions"][0]["result"];
    assert_eq!(row["verdict"]["result"], "pass", "{text}");
    assert_eq!(row["records_compared"], RECORDS, "{text}");
    assert_eq!(out.status.code(), Some(0), "{text}");
    let log = std::fs::read_to_string(dir.path().join("cutover.log")).unwrap_or_default();
    assert!(
        log.contains("retrying in"),
        "the outage was met and retried (see the log):\n{log}"
    );
}
