//! Peak memory of a validation run over large records, on two real tansu brokers (memory
//! engine, records produced one per request as its end offsets need).
//!
//! N records of 1 MiB (CUTOVER_BENCH_RECORDS, default 1,000) in CUTOVER_BENCH_PARTITIONS
//! partitions (default 1), identical on both sides, validated with the default parallelism
//! (4). Prints the process's peak resident memory during the run, and its resident memory
//! before it (the baseline, same run). Run: `cargo bench --bench validate_memory`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cutover::config;
use cutover::demo::broker::{Storage, TansuBroker};
use cutover::demo::clients::{create_topics, RecordWriter, TopicSpec};
use cutover::kafka::records::Record;

const VALUE: usize = 1024 * 1024;

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

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let env = |name: &str| std::env::var(name).ok();
    let n: u64 = env("CUTOVER_BENCH_RECORDS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let partitions: i32 = env("CUTOVER_BENCH_PARTITIONS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = TansuBroker::start(&dir.path().join("src"), "src", Storage::Memory).expect("tansu (make setup)");
    let tgt = TansuBroker::start(&dir.path().join("tgt"), "tgt", Storage::Memory).expect("tansu (make setup)");
    // Records of 1 MiB need producers and consumers allowed more than librdkafka's 1 MB.
    let text = format!(
        "[source]\nname = \"src\"\nbootstrap = \"{}\"\n[source.properties]\n\"message.max.bytes\" = \"4000000\"\n\
         [target]\nname = \"tgt\"\nbootstrap = \"{}\"\n[target.properties]\n\"message.max.bytes\" = \"4000000\"\n\
         [replication]\nkind = \"offset-preserving\"\n[monitor]\nrequest_timeout = \"60s\"\n\
         [validation]\nrate_limit_mb_per_s = 10000\n",
        src.bootstrap(),
        tgt.bootstrap()
    );
    let config = config::parse(Path::new("bench.toml"), &text, &|_| None).unwrap();
    let setup = Instant::now();
    for c in [&config.source, &config.target] {
        rt.block_on(create_topics(
            c,
            &[TopicSpec::new("blobs", partitions)],
            Duration::from_secs(30),
        ))
        .unwrap();
        let w = RecordWriter::new(c, true).unwrap();
        for i in 0..n {
            let r = Record {
                key: Some(format!("blob-{i}").into_bytes()),
                value: Some(vec![b'a' + (i % 26) as u8; VALUE]),
                headers: vec![],
                timestamp: Some(1_700_000_000_000 + i as i64),
            };
            w.send("blobs", (i % partitions as u64) as i32, &r).unwrap();
            if i % 50 == 49 {
                w.flush(Duration::from_secs(600)).unwrap();
            }
        }
        w.flush(Duration::from_secs(600)).unwrap();
    }
    eprintln!("setup: {n} records of 1 MiB on each side in {:?}", setup.elapsed());
    let snap = rt.block_on(cutover::status::snapshot_once(&config)).unwrap();

    let before = rss_kb();
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                peak.fetch_max(rss_kb(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let t = Instant::now();
    let rows = cutover::validate::report::validate_all(
        &config,
        &snap,
        Some("blobs"),
        Duration::from_secs(60),
        None,
        &Default::default(),
    )
    .unwrap();
    let took = t.elapsed();
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    let compared: u64 = rows.iter().map(|r| r.result.records_compared).sum();
    assert_eq!(compared, n, "every record compared: {rows:?}");
    assert!(rows
        .iter()
        .all(|r| r.result.verdict == cutover::validate::Verdict::Pass));
    let peak = peak.load(Ordering::SeqCst);
    println!(
        "\nvalidation of {n} records of 1 MiB x 2 clusters, {partitions} partition(s), parallelism {}:",
        config.validation.parallelism
    );
    println!(
        "  {:.1} s; peak RSS {} MB (before the run {} MB, +{} MB)",
        took.as_secs_f64(),
        peak / 1024,
        before / 1024,
        (peak - before) / 1024
    );
}
