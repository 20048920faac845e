//! The cockpit's cost as the estate grows: 1,500, 6,000 and 25,000 partitions per cluster with
//! 100, 400 and 1,000 consumer groups (committed on the source), against two tansu brokers
//! (memory engine, one record in every partition, sent one per produce request). Per size:
//! - one poll of each cluster through `ClusterClient`: wall time (median of 5) and the
//!   requests per broker per poll by API (librdkafka's statistics plus `kafka::wire`'s counts);
//! - the running cockpit (the release binary in tmux, 160x48, refresh 2 s, validation off):
//!   CPU over 60 s from /proc (utime + stime, as a share of one core) and its RSS at the end.
//!
//! Run: `cargo bench --bench scale` (needs tansu and tmux: `make setup`).
//! `SCALE_SIZES=1500x100,6000x400` picks sizes; `SCALE_SECONDS=20` shortens the CPU window.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cutover::config::ClusterConfig;
use cutover::demo::broker::{Storage, TansuBroker};
use cutover::demo::clients::{create_topics, RecordWriter, TopicSpec};
#[path = "../tests/common/groups.rs"]
mod groups;
use cutover::kafka::records::Record;
use cutover::kafka::{ClusterClient, RequestCounts};
use cutover::monitor::watches;
use groups::commit_offsets;

const PARTITIONS_PER_TOPIC: i32 = 50;
const ALIAS: &str = "src";
const REFRESH_S: u64 = 2;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn setup(src: &TansuBroker, tgt: &TansuBroker, partitions: usize, group_count: usize, rt: &tokio::runtime::Runtime) {
    let s = ClusterConfig::plaintext("src", &src.bootstrap());
    let t = ClusterConfig::plaintext("tgt", &tgt.bootstrap());
    let topics = partitions / PARTITIONS_PER_TOPIC as usize;
    let names: Vec<String> = (0..topics).map(|i| format!("topic-{i:04}")).collect();
    let started = Instant::now();
    for (cluster, prefix) in [(&s, ""), (&t, "src.")] {
        let specs: Vec<TopicSpec> = names
            .iter()
            .map(|n| TopicSpec::new(&format!("{prefix}{n}"), PARTITIONS_PER_TOPIC))
            .collect();
        for chunk in specs.chunks(100) {
            rt.block_on(create_topics(cluster, chunk, Duration::from_secs(120)))
                .unwrap();
        }
        // A record in every partition, so every end offset is a real one.
        let w = RecordWriter::new(cluster, true).unwrap();
        for n in &names {
            for p in 0..PARTITIONS_PER_TOPIC {
                let r = Record {
                    key: Some(b"k".to_vec()),
                    value: Some(b"v".to_vec()),
                    headers: vec![],
                    timestamp: None,
                };
                w.send(&format!("{prefix}{n}"), p, &r).unwrap();
            }
        }
        w.flush(Duration::from_secs(300)).unwrap();
    }
    for g in 0..group_count {
        let topic = &names[g % topics];
        let offsets: Vec<(String, i32, i64)> = (0..PARTITIONS_PER_TOPIC).map(|p| (topic.clone(), p, 1)).collect();
        commit_offsets(&s, &format!("group-{g:04}"), &offsets).unwrap();
    }
    eprintln!(
        "setup: {partitions} partitions per cluster, {group_count} groups, in {:.1} s",
        started.elapsed().as_secs_f64()
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

/// Median poll time and the requests of one poll, per broker and API.
fn bench_poll(name: &str, broker: &TansuBroker, rt: &tokio::runtime::Runtime) -> (Duration, String) {
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
    let client = ClusterClient::connect(&cluster, Duration::from_secs(30), Some(stats_every)).unwrap();
    let poll = || rt.block_on(client.poll(&watch)).unwrap();
    poll();
    // A steady poll's requests: counters settle before and after (statistics are periodic).
    std::thread::sleep(stats_every * 4);
    let before = client.request_counts();
    poll();
    std::thread::sleep(stats_every * 4);
    let per_poll = delta(&before, &client.request_counts());
    let times: Vec<Duration> = (0..5).map(|_| poll().poll_duration).collect();
    let requests = per_poll
        .values()
        .map(|apis| {
            let total: i64 = apis.values().sum();
            let list: Vec<String> = apis.iter().map(|(a, n)| format!("{a} {n}")).collect();
            format!("{total} ({})", list.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    (median(times), requests)
}

/// CPU share of one core over `window` and RSS in kB of the cockpit watching both brokers.
fn cockpit(label: &str, src: &TansuBroker, tgt: &TansuBroker, dir: &Path, window: Duration) -> (f64, u64) {
    let config = dir.join(format!("{label}.toml"));
    std::fs::write(
        &config,
        format!(
            "[source]\nname = \"src\"\nbootstrap = \"{}\"\n[target]\nname = \"tgt\"\nbootstrap = \"{}\"\n\
             [replication]\nsource_alias = \"{ALIAS}\"\n[monitor]\nrefresh_interval = \"{REFRESH_S}s\"\nrequest_timeout = \"30s\"\n\
             [validation]\ninterval = \"off\"\n[log]\nfile = \"{}\"\n",
            src.bootstrap(),
            tgt.bootstrap(),
            dir.join(format!("{label}.log")).display()
        ),
    )
    .unwrap();
    let socket = format!("cutover-scale-{}-{label}", std::process::id());
    let bin = env!("CARGO_BIN_EXE_cutover");
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .output()
            .expect("tmux")
    };
    tmux(&[
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
    let pid = (0..100)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            let out = Command::new("pgrep")
                .args(["-f", "--", &format!("^{bin} --config {}", config.display())])
                .output()
                .unwrap();
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .next()
                .map(|l| l.trim().to_string())
        })
        .expect("cockpit running");
    // Until both clusters were polled, then one more interval for the first derivations.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let screen = String::from_utf8(tmux(&["capture-pane", "-p"]).stdout).unwrap();
        if screen.matches("LIVE").count() >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cockpit never showed both clusters LIVE:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(REFRESH_S));
    let ticks = || -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // utime and stime: fields 14 and 15 of stat, 12 and 13 after the name and state.
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let hz = 100.0; // USER_HZ on Linux
    let (t0, c0) = (Instant::now(), ticks());
    std::thread::sleep(window);
    let (t1, c1) = (Instant::now(), ticks());
    let cpu = (c1 - c0) as f64 / hz / (t1 - t0).as_secs_f64();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    tmux(&["kill-server"]);
    (cpu, rss)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; this one runs only on `cargo bench`
    }
    let sizes: Vec<(usize, usize)> = std::env::var("SCALE_SIZES")
        .unwrap_or_else(|_| "1500x100,6000x400,25000x1000".into())
        .split(',')
        .map(|s| {
            let (p, g) = s.split_once('x').expect("SCALE_SIZES: PARTITIONSxGROUPS,...");
            (p.parse().unwrap(), g.parse().unwrap())
        })
        .collect();
    let window = Duration::from_secs(std::env::var("SCALE_SECONDS").map_or(60, |s| s.parse().unwrap()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for (partitions, group_count) in sizes {
        let dir = tempfile::tempdir().unwrap();
        // tansu lists and describes groups only on its memory engine, whose end offsets are
        // right when each produce request carries one record (setup does so).
        let src = TansuBroker::start(&dir.path().join("src"), "src", Storage::Memory).expect("tansu (make setup)");
        let tgt = TansuBroker::start(&dir.path().join("tgt"), "tgt", Storage::Memory).expect("tansu (make setup)");
        setup(&src, &tgt, partitions, group_count, &rt);
        let (src_poll, src_requests) = bench_poll("source", &src, &rt);
        let (tgt_poll, tgt_requests) = bench_poll("target", &tgt, &rt);
        let (cpu, rss) = cockpit(&format!("p{partitions}"), &src, &tgt, dir.path(), window);
        println!(
            "{partitions} partitions, {group_count} groups: cockpit CPU {:.1}% of a core over {} s, RSS {:.1} MB; \
             poll source {:.1} ms, target {:.1} ms",
            cpu * 100.0,
            window.as_secs(),
            rss as f64 / 1024.0,
            src_poll.as_secs_f64() * 1000.0,
            tgt_poll.as_secs_f64() * 1000.0
        );
        println!("  requests per poll: source {src_requests}\n                     target {tgt_requests}");
        rows.push((partitions, cpu, rss));
    }
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        if first.0 != last.0 {
            println!(
                "growth {} -> {} partitions ({:.1}x): CPU {:.1}x, RSS {:.1}x",
                first.0,
                last.0,
                last.0 as f64 / first.0 as f64,
                last.1 / first.1.max(1e-9),
                last.2 as f64 / first.2.max(1) as f64
            );
        }
    }
}
