//! Rendering cost of the overview with 1,500 partitions (100 topics x 15), at 80x24 and
//! 160x48, against the model derivation alone (the part of a frame that is not drawing).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use cutover::config;
use cutover::model::overview::topic_pairs;
use cutover::model::{ClusterFeed, ClusterState, PartitionState, Snapshot, TopicState};
use cutover::tui::app::{App, Msg};
use cutover::tui::theme::Theme;
use cutover::tui::views;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const TOPICS: usize = 100;
const PARTITIONS: usize = 15;

fn cluster(prefix: &str, now: SystemTime, shift: i64) -> ClusterState {
    let topics = (0..TOPICS)
        .map(|t| {
            let name = format!("{prefix}topic-{t:03}");
            let partitions = (0..PARTITIONS)
                .map(|p| PartitionState {
                    id: p as i32,
                    leader: (p % 3) as i32,
                    replicas: vec![0, 1, 2],
                    isr: vec![0, 1, 2],
                    low: Ok(1_000),
                    high: Ok(1_000_000 + (t * p) as i64 - shift),
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
        polled_at: now,
        poll_duration: Duration::from_millis(40),
        brokers: vec![],
        topics,
        configs: Ok(Default::default()),
        groups: Ok(vec![]),
    }
}

fn snapshot(now: SystemTime, seq: u64) -> Snapshot {
    let feed = |name: &str, s| ClusterFeed {
        name: name.into(),
        last_good: Some(Arc::new(s)),
        last_error: None,
    };
    Snapshot {
        source: feed("src", cluster("", now, 0)),
        target: feed("tgt", cluster("src.", now, seq as i64 * 7)),
        seq,
        mm2: None,
    }
}

fn bench(c: &mut Criterion) {
    let text = "[source]\nname = \"src\"\nbootstrap = \"a:1\"\n[target]\nname = \"tgt\"\nbootstrap = \"b:1\"\n\
                [replication]\nsource_alias = \"src\"\n";
    let config = Arc::new(config::parse(Path::new("bench.toml"), text, &|_| None).unwrap());
    let now = SystemTime::now();
    let mut app = App::new(config.clone(), Theme::load("dark").unwrap(), Snapshot::default(), now);
    for seq in 1..=12 {
        app.update(Msg::Snapshot(snapshot(now, seq), now));
    }
    let snap = snapshot(now, 12);
    let mut g = c.benchmark_group("overview_1500_partitions");
    g.bench_function("model_only_topic_pairs", |b| {
        b.iter(|| topic_pairs(&snap, &config.replication, &config.topics, &config.monitor, now))
    });
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        g.bench_function(format!("render_{w}x{h}"), |b| {
            b.iter(|| {
                term.draw(|f| views::render(f, &app)).unwrap();
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
