//! Poll cost and memory against two real tansu brokers, each with 1,500 partitions, and 100
//! consumer groups on the source:
//! - one full poll of each cluster: wall time (median of 15), and requests per broker per poll
//!   by API, from librdkafka's own statistics; baseline in the same run: one bare Metadata call
//! - resident memory of the running cockpit (the release binary in tmux), against a baseline
//!   of the same cockpit watching two empty clusters.
//!
//! Run: `cargo bench --bench live` (needs tansu and tmux: `make setup`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cutover::config::ClusterConfig;
use cutover::demo::broker::{Storage, TansuBroker};
use cutover::demo::clients::{create_topics, TopicSpec};
#[path = "../tests/common/groups.rs"]
mod groups;
use cutover::demo::clients::RecordWriter;
use cutover::kafka::records::Record;
use cutover::kafka::{ClusterClient, RequestCounts};
use cutover::monitor::watches;
use groups::commit_offsets;
use rdkafka::consumer::{BaseConsumer, Consumer};

const TOPICS: usize = 30;
const PARTITIONS: i32 = 50;
const GROUPS: usize = 100;
const POLLS: usize = 15;
const ALIAS: &str = "src";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn setup(src: &TansuBroker, tgt: &TansuBroker, rt: &tokio::runtime::Runtime) {
    let s = ClusterConfig::plaintext("src", &src.bootstrap());
    let t = ClusterConfig::plaintext("tgt", &tgt.bootstrap());
    let names: Vec<String> = (0..TOPICS).map(|i| format!("topic-{i:02}")).collect();
    let started = Instant::now();
    let specs: Vec<TopicSpec> = names.iter().map(|n| TopicSpec::new(n, PARTITIONS)).collect();
    rt.block_on(create_topics(&s, &specs, Duration::from_secs(60))).unwrap();
    let specs: Vec<TopicSpec> = names
        .iter()
        .map(|n| TopicSpec::new(&format!("{ALIAS}.{n}"), PARTITIONS))
        .collect();
    rt.block_on(create_topics(&t, &specs, Duration::from_secs(60))).unwrap();
    // A record in every partition on both sides, so every end offset is a real one.
    for (cluster, prefix) in [(&s, ""), (&t, "src.")] {
        let w = RecordWriter::new(cluster, true).unwrap();
        for n in &names {
            for p in 0..PARTITIONS {
                let r = Record {
                    key: Some(b"k".to_vec()),
                    value: Some(b"v".to_vec()),
                    headers: vec![],
                    timestamp: None,
                };
                w.send(&format!("{prefix}{n}"), p, &r).unwrap();
            }
        }
        w.flush(Duration::from_secs(60)).unwrap();
    }
    for g in 0..GROUPS {
        let topic = &names[g % TOPICS];
        let offsets: Vec<(String, i32, i64)> = (0..PARTITIONS).map(|p| (topic.clone(), p, 1)).collect();
        commit_offsets(&s, &format!("group-{g:03}"), &offsets).unwrap();
    }
    eprintln!(
        "setup: {} partitions per cluster, {GROUPS} groups, in {:?}",
        TOPICS as i32 * PARTITIONS,
        started.elapsed()
    );
}

fn delta(before: &RequestCounts, after: &RequestCounts) -> BTreeMap<String, BTreeMap<String, i64>> {
    after
        .iter()
        .map(|(broker, apis)| {
            let d = apis
                .iter()
                .map(|(api, n)| {
                    (
                        api.clone(),
                        n - before.get(broker).and_then(|b| b.get(api)).copied().unwrap_or(0),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .collect();
            (broker.clone(), d)
        })
        .collect()
}

fn bench_poll(name: &str, broker: &TansuBroker, rt: &tokio::runtime::Runtime) {
    let cluster = ClusterConfig::plaintext(name, &broker.bootstrap());
    let repl = cutover::config::Replication {
        source_alias: ALIAS.into(),
        ..Default::default()
    };
    let (ws, wt) = watches(
        &repl,
        &cutover::config::NameFilter::topics_default(),
        &cutover::config::NameFilter::groups_default(),
    );
    let watch = if name == "source" { ws } else { wt };
    let stats_every = Duration::from_millis(100);
    let client = ClusterClient::connect(&cluster, Duration::from_secs(10), Some(stats_every)).unwrap();
    let poll = || rt.block_on(client.poll(&watch)).unwrap();
    let warm = poll();
    let partitions: usize = warm.topics.values().map(|t| t.partitions.len()).sum();
    let groups = warm.groups.as_ref().map_or(0, Vec::len);

    // Requests of exactly one poll: counters settle before and after (statistics are periodic).
    std::thread::sleep(stats_every * 4);
    let before = client.request_counts();
    poll();
    std::thread::sleep(stats_every * 4);
    let per_poll = delta(&before, &client.request_counts());

    let times: Vec<Duration> = (0..POLLS).map(|_| poll().poll_duration).collect();

    // Baseline: the least any poll must do, one Metadata round trip, on a plain consumer.
    let plain: BaseConsumer = cutover::kafka::consumer_config(&cluster).create().unwrap();
    let meta: Vec<Duration> = (0..POLLS)
        .map(|_| {
            let t = Instant::now();
            plain.fetch_metadata(None, Duration::from_secs(10)).unwrap();
            t.elapsed()
        })
        .collect();

    // Second baseline: the broker's own time to answer one ListOffsets(latest) for them all.
    let mut tpl = rdkafka::TopicPartitionList::new();
    for t in warm.topics.values() {
        for p in &t.partitions {
            tpl.add_partition_offset(&t.name, p.id, rdkafka::Offset::End).unwrap();
        }
    }
    let latest: Vec<Duration> = (0..POLLS)
        .map(|_| {
            let t = Instant::now();
            plain.offsets_for_times(tpl.clone(), Duration::from_secs(10)).unwrap();
            t.elapsed()
        })
        .collect();

    println!(
        "\n{name} ({}): {partitions} partitions, {groups} groups watched",
        broker.dir.display()
    );
    println!(
        "  full poll: median {} (min {}, max {}) over {POLLS}",
        ms(median(times.clone())),
        ms(*times.iter().min().unwrap()),
        ms(*times.iter().max().unwrap()),
    );
    println!(
        "  baselines, plain rdkafka consumer: one Metadata median {}; one ListOffsets(latest) of all {partitions} partitions median {}",
        ms(median(meta)),
        ms(median(latest))
    );
    for (broker, apis) in &per_poll {
        let total: i64 = apis.values().sum();
        let list: Vec<String> = apis.iter().map(|(a, n)| format!("{a} {n}")).collect();
        println!("  requests per poll, {broker}: {total} ({})", list.join(", "));
    }
}

fn rss_of_cockpit(label: &str, src: &TansuBroker, tgt: &TansuBroker, dir: &Path) -> (u64, u64) {
    let config = dir.join(format!("{label}.toml"));
    std::fs::write(
        &config,
        format!(
            "[source]\nname = \"src\"\nbootstrap = \"{}\"\n[target]\nname = \"tgt\"\nbootstrap = \"{}\"\n\
             [replication]\nsource_alias = \"{ALIAS}\"\n[monitor]\nrefresh_interval = \"1s\"\n[log]\nfile = \"{}\"\n",
            src.bootstrap(),
            tgt.bootstrap(),
            dir.join(format!("{label}.log")).display()
        ),
    )
    .unwrap();
    let socket = format!("cutover-bench-{}-{label}", std::process::id());
    let bin = env!("CARGO_BIN_EXE_cutover");
    let run = |args: &[&str]| {
        Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .output()
            .expect("tmux")
    };
    run(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-x",
        "160",
        "-y",
        "48",
        &format!("{bin} --config {}", config.display()),
    ]);
    std::thread::sleep(Duration::from_secs(12));
    let pid = String::from_utf8(
        Command::new("pgrep")
            .args(["-f", "--", &format!("^{bin} --config {}", config.display())])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let pid = pid.lines().next().expect("cockpit running").trim().to_string();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = |key: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let screen = String::from_utf8(run(&["capture-pane", "-p"]).stdout).unwrap();
    assert!(screen.contains("LIVE"), "the cockpit is live:\n{screen}");
    run(&["kill-server"]);
    (kb("VmRSS:"), kb("VmHWM:"))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; this one runs only on `cargo bench`
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The source holds the groups: tansu lists and describes groups only on its memory engine,
    // whose end offsets are right when each produce request carries one record (setup does so).
    let src = TansuBroker::start(&dir.path().join("src"), "src", Storage::Memory).expect("tansu (make setup)");
    eprintln!("source: tansu memory engine; target: tansu sqlite engine");
    let tgt = TansuBroker::start(&dir.path().join("tgt"), "tgt", Storage::Sqlite).expect("tansu (make setup)");
    setup(&src, &tgt, &rt);
    bench_poll("source", &src, &rt);
    bench_poll("target", &tgt, &rt);

    let empty_src = TansuBroker::start(&dir.path().join("esrc"), "esrc", Storage::Sqlite).unwrap();
    let empty_tgt = TansuBroker::start(&dir.path().join("etgt"), "etgt", Storage::Sqlite).unwrap();
    let (base_rss, base_hwm) = rss_of_cockpit("empty", &empty_src, &empty_tgt, dir.path());
    let (rss, hwm) = rss_of_cockpit("full", &src, &tgt, dir.path());
    println!("\ncockpit resident memory (release binary, 160x48, after 12 s of 1 s polls):");
    println!("  baseline, two empty clusters:            VmRSS {base_rss} kB, peak {base_hwm} kB");
    println!("  1,500 partitions x 2 clusters, {GROUPS} groups: VmRSS {rss} kB, peak {hwm} kB");
}
