//! Validation throughput and memory on two real tansu brokers (sqlite):
//! - a topic of N records (4 partitions, 200-byte values) identical on both sides: validation
//!   wall time, records/s and MB/s, against a plain rdkafka consumer reading both sides in the
//!   same run (the ratio is the figure); peak resident memory during the run
//! - a compacted topic of N distinct keys: peak resident memory while validating key by key
//!
//! N = CUTOVER_BENCH_RECORDS (default 10,000); CUTOVER_BENCH_PARTITIONS (4);
//! CUTOVER_BENCH_STORAGE=memory for tansu's memory engine (records produced one per request,
//! as its end offsets need). Run: `cargo bench --bench validate`.
//!
//! The 1,000,000-record figures were taken with CUTOVER_BENCH_STORAGE=memory: tansu's sqlite
//! engine serves a fetching consumer about 1,400 records/s, and with 20,000 records in one
//! partition it did not answer a fetch from offset 0 within 30 s (measured here).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cutover::config;
use cutover::demo::broker::{Storage, TansuBroker};
use cutover::demo::clients::RecordWriter;
use cutover::demo::clients::{create_topics, TopicSpec};
use cutover::kafka::records::{Record, RecordReader};

const VALUE: usize = 200;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `f` while sampling resident memory; returns its result and the peak RSS above the
/// RSS at the start (kB).
fn with_peak<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let start = rss_kb();
    let peak = Arc::new(AtomicU64::new(start));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                peak.fetch_max(rss_kb(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let out = f();
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    (out, peak.load(Ordering::SeqCst).saturating_sub(start))
}

fn fill(
    cluster: &config::ClusterConfig,
    topic: &str,
    n: u64,
    partitions: i32,
    distinct_keys: bool,
    one_per_request: bool,
) {
    let w = RecordWriter::new(cluster, one_per_request).unwrap();
    for i in 0..n {
        let key = if distinct_keys {
            format!("key-{i:010}")
        } else {
            format!("k{}", i % 1000)
        };
        let r = Record {
            key: Some(key.into_bytes()),
            value: Some(vec![b'a' + (i % 26) as u8; VALUE]),
            headers: vec![("h".into(), Some(b"1".to_vec()))],
            timestamp: Some(1_700_000_000_000 + i as i64),
        };
        w.send(topic, (i % partitions as u64) as i32, &r).unwrap();
    }
    w.flush(Duration::from_secs(600)).unwrap();
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: u64 = std::env::var("CUTOVER_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let env = |name: &str| std::env::var(name).ok();
    let partitions: i32 = env("CUTOVER_BENCH_PARTITIONS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    // The memory engine answers fetches faster, but needs one record per produce request for
    // correct end offsets (test-brokers.md).
    let memory = env("CUTOVER_BENCH_STORAGE").as_deref() == Some("memory");
    let storage = if memory { Storage::Memory } else { Storage::Sqlite };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = TansuBroker::start(&dir.path().join("src"), "src", storage).expect("tansu (make setup)");
    let tgt = TansuBroker::start(&dir.path().join("tgt"), "tgt", storage).expect("tansu (make setup)");
    let text = format!(
        "[source]\nname = \"src\"\nbootstrap = \"{}\"\n[target]\nname = \"tgt\"\nbootstrap = \"{}\"\n\
         [replication]\nkind = \"offset-preserving\"\n[monitor]\nrequest_timeout = \"30s\"\n\
         [validation]\nrate_limit_mb_per_s = 10000\nparallelism = 4\n",
        src.bootstrap(),
        tgt.bootstrap()
    );
    let config = config::parse(Path::new("bench.toml"), &text, &|_| None).unwrap();
    let setup = Instant::now();
    for c in [&config.source, &config.target] {
        let topics = [
            TopicSpec::new("events", partitions),
            TopicSpec::new("keys", 1).config("cleanup.policy", "compact"),
        ];
        rt.block_on(create_topics(c, &topics, Duration::from_secs(30))).unwrap();
        fill(c, "events", n, partitions, false, memory);
        fill(c, "keys", n, 1, true, memory);
    }
    eprintln!("setup: {n} records and {n} keys on each side in {:?}", setup.elapsed());
    let snap = rt.block_on(cutover::status::snapshot_once(&config)).unwrap();
    let timeout = Duration::from_secs(30);
    let record_bytes = (13 + VALUE + 2) as f64; // key "k<=999", value, header "h"="1" (approx.)

    let ((rows, took), peak_events) = with_peak(|| {
        let t = Instant::now();
        let rows =
            cutover::validate::report::validate_all(&config, &snap, Some("events"), timeout, None, &Default::default())
                .unwrap();
        (rows, t.elapsed())
    });
    let compared: u64 = rows.iter().map(|r| r.result.records_compared).sum();
    assert_eq!(compared, n, "every record compared");
    assert!(rows
        .iter()
        .all(|r| r.result.verdict == cutover::validate::Verdict::Pass));

    // Like for like with the baseline's one consumer: one partition at a time.
    let serial = config::Config {
        validation: config::ValidationConfig {
            parallelism: 1,
            ..config.validation.clone()
        },
        ..config.clone()
    };
    let t = Instant::now();
    let rows =
        cutover::validate::report::validate_all(&serial, &snap, Some("events"), timeout, None, &Default::default())
            .unwrap();
    let took_serial = t.elapsed();
    assert_eq!(rows.iter().map(|r| r.result.records_compared).sum::<u64>(), n);

    // Baseline: a plain consumer reading the same records on both sides.
    let t = Instant::now();
    let mut read = 0u64;
    for c in [&config.source, &config.target] {
        let reader = RecordReader::new(c).unwrap();
        reader
            .assign(
                &(0..partitions)
                    .map(|p| ("events".to_string(), p, Some(0)))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        let mut got = 0;
        while got < n {
            if let Some(r) = reader.next(Duration::from_secs(30)) {
                r.unwrap();
                got += 1;
            }
        }
        read += got;
    }
    let plain = t.elapsed();

    let ((rows, took_keys), peak_keys) = with_peak(|| {
        let t = Instant::now();
        let rows =
            cutover::validate::report::validate_all(&config, &snap, Some("keys"), timeout, None, &Default::default())
                .unwrap();
        (rows, t.elapsed())
    });
    assert!(
        rows.iter()
            .all(|r| r.result.verdict == cutover::validate::Verdict::Pass),
        "{rows:?}"
    );

    let both = 2.0 * n as f64;
    let rate = |d: Duration| both / d.as_secs_f64();
    println!("\nvalidation of {n} records x 2 clusters ({partitions} partitions, ~{record_bytes} bytes a record):");
    println!(
        "  cutover validate: {:.2} s, {:.0} records/s, {:.1} MB/s; peak RSS +{} MB",
        took.as_secs_f64(),
        rate(took),
        rate(took) * record_bytes / 1e6,
        peak_events / 1024
    );
    println!(
        "  plain rdkafka consumer, same records: {:.2} s, {:.0} records/s ({read} read)",
        plain.as_secs_f64(),
        rate(plain)
    );
    println!(
        "  cutover validate, one partition at a time: {:.2} s, {:.0} records/s",
        took_serial.as_secs_f64(),
        rate(took_serial)
    );
    println!(
        "  ratio validate / plain: {:.0}% (4 partitions at once), {:.0}% (one at a time)",
        100.0 * rate(took) / rate(plain),
        100.0 * rate(took_serial) / rate(plain)
    );
    println!(
        "compacted topic of {n} keys x 2 clusters, key by key: {:.2} s; peak RSS +{} MB",
        took_keys.as_secs_f64(),
        peak_keys / 1024
    );
}
