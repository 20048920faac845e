//! Lag in seconds at 25,000 partitions: what each poll adds (the end-offset history recorded,
//! and every partition's age estimated when none was read), against a baseline in the same
//! run: the Overview's derivation of the same poll (`topic_pairs`), which runs on every changed
//! poll already. Pure work, no broker. Run: `cargo bench --bench lag_time`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use cutover::config;
use cutover::model::lag_time::{Ages, EndHistory, RecordTimes, Waiting};
use cutover::model::overview::topic_pairs;
use cutover::model::{ClusterFeed, ClusterState, PartitionState, Snapshot, TopicState};

const TOPICS: usize = 500;
const PARTITIONS: i32 = 50;

/// The estate at poll `n`: every partition's end grown by 10 since the poll before.
fn state(prefix: &str, n: u64, behind: i64) -> ClusterState {
    let topics = (0..TOPICS)
        .map(|t| {
            let name = format!("{prefix}topic-{t:04}");
            let partitions = (0..PARTITIONS)
                .map(|p| PartitionState {
                    id: p,
                    leader: 0,
                    replicas: 3,
                    isr: 3,
                    low: Ok(0),
                    high: Ok(1_000 + 10 * n as i64 - behind),
                    error: None,
                })
                .collect();
            (
                name.clone(),
                TopicState {
                    name,
                    partitions,
                    error: None,
                },
            )
        })
        .collect();
    ClusterState {
        polled_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 2 * n),
        poll_duration: Duration::from_millis(10),
        brokers: vec![],
        topics,
        configs: Ok(BTreeMap::new()),
        groups: Ok(vec![]),
    }
}

fn bench(c: &mut Criterion) {
    let text = "[source]\nname = \"a\"\nbootstrap = \"a:9092\"\n[target]\nname = \"b\"\nbootstrap = \"b:9092\"\n\
                [replication]\nkind = \"offset-preserving\"\n";
    let config = config::parse(Path::new("bench.toml"), text, &|_| None).unwrap();
    // 30 polls of history; every partition 25 records behind.
    let mut history = EndHistory::default();
    for n in 0..30 {
        history.record(&state("", n, 0));
    }
    let source = state("", 30, 0);
    let feed = |name: &str, s: ClusterState| ClusterFeed {
        name: name.into(),
        last_good: Some(Arc::new(s)),
        last_error: None,
        figures_version: 1,
        ages: Default::default(),
    };
    let snap = Snapshot {
        target_only: Default::default(),
        source: feed("a", source.clone()),
        target: feed("b", state("", 30, 25)),
        seq: 1,
        target_before_source: None,
        mm2: None,
    };
    let waiting = cutover::model::overview::waiting_replication(&snap, &config.replication);
    assert_eq!(waiting.len(), TOPICS * PARTITIONS as usize);
    let times = RecordTimes::default();
    let ages = Ages::of(&waiting, source.polled_at, &history, &times);
    assert_eq!(ages.replication.len(), waiting.len(), "every partition estimated");
    let mut g = c.benchmark_group("lag_time_25000_partitions");
    g.sample_size(20);
    g.bench_function("baseline_topic_pairs", |b| {
        b.iter(|| {
            topic_pairs(
                &snap,
                &config.replication,
                &config.topics,
                &config.monitor,
                SystemTime::now(),
            )
        })
    });
    let mut n = 31;
    g.bench_function("history_record_one_poll", |b| {
        b.iter_batched(
            || {
                n += 1;
                state("", n, 0)
            },
            |s| history.record(&s),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("waiting_and_estimated_ages_all_lagging", |b| {
        b.iter(|| {
            let w: Vec<Waiting> = cutover::model::overview::waiting_replication(&snap, &config.replication);
            Ages::of(&w, source.polled_at, &history, &times)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
