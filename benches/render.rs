//! Rendering cost of the overview with 1,500 partitions (100 topics x 15), at 80x24 and
//! 160x48, against the model derivation alone (the part of a frame that is not drawing); and
//! at 25,000 partitions (500 topics x 50) and 1,000 groups, every list view at 160x48: the
//! frame after a poll (the message handled, the rows derived, drawn), the frame a tick draws
//! (the clock only: rows reused), the Topic view of one topic of 25,000 partitions, and one
//! keystroke of a `/` filter there.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use cutover::config;
use cutover::model::overview::topic_pairs;
use cutover::model::{ClusterFeed, ClusterState, GroupState, GroupStatus, PartitionState, Snapshot, TopicState};
use cutover::tui::app::{App, Msg};
use cutover::tui::theme::Theme;
use cutover::tui::views;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

const TOPICS: usize = 100;
const PARTITIONS: usize = 15;

fn cluster(prefix: &str, now: SystemTime, shift: i64) -> ClusterState {
    sized_cluster(prefix, now, shift, TOPICS, PARTITIONS, 0)
}

fn sized_cluster(
    prefix: &str,
    now: SystemTime,
    shift: i64,
    topics: usize,
    partitions: usize,
    groups: usize,
) -> ClusterState {
    let group_states = (0..groups)
        .map(|g| GroupState {
            name: format!("group-{g:04}"),
            status: GroupStatus::Stable,
            protocol_type: "consumer".into(),
            members: vec![],
            offsets: Ok((0..partitions.min(50))
                .map(|p| ((format!("{prefix}topic-{:03}", g % topics.max(1)), p as i32), 900_000))
                .collect()),
        })
        .collect();
    let topics = (0..topics)
        .map(|t| {
            let name = format!("{prefix}topic-{t:03}");
            let partitions = (0..partitions)
                .map(|p| PartitionState {
                    id: p as i32,
                    leader: (p % 3) as i32,
                    replicas: 3,
                    isr: 3,
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
        groups: Ok(group_states),
    }
}

fn snapshot(now: SystemTime, seq: u64) -> Snapshot {
    let feed = |name: &str, s| ClusterFeed {
        name: name.into(),
        last_good: Some(Arc::new(s)),
        last_error: None,
        figures_version: 0,
        ages: Default::default(),
    };
    Snapshot {
        target_only: Default::default(),
        source: feed("src", cluster("", now, 0)),
        target: feed("tgt", cluster("src.", now, seq as i64 * 7)),
        target_before_source: None,
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

fn big_snapshot(now: SystemTime, seq: u64, topics: usize, partitions: usize) -> Snapshot {
    let feed = |name: &str, s| ClusterFeed {
        name: name.into(),
        last_good: Some(Arc::new(s)),
        last_error: None,
        // As the monitor publishes: each poll's figures changed.
        figures_version: seq,
        ages: Default::default(),
    };
    Snapshot {
        target_only: Default::default(),
        source: feed("src", sized_cluster("", now, 0, topics, partitions, 1_000)),
        target: feed("tgt", sized_cluster("src.", now, seq as i64 * 7, topics, partitions, 0)),
        target_before_source: None,
        seq,
        mm2: None,
    }
}

fn key(app: &mut App, c: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)));
}

fn bench_25000(c: &mut Criterion) {
    let text = "[source]\nname = \"src\"\nbootstrap = \"a:1\"\n[target]\nname = \"tgt\"\nbootstrap = \"b:1\"\n\
                [replication]\nsource_alias = \"src\"\n";
    let config = Arc::new(config::parse(Path::new("bench.toml"), text, &|_| None).unwrap());
    let now = SystemTime::now();
    let mut g = c.benchmark_group("views_25000_partitions");
    g.sample_size(20);
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    // 500 topics x 50 partitions, 1,000 groups: each list view.
    let snaps = [big_snapshot(now, 1, 500, 50), big_snapshot(now, 2, 500, 50)];
    for (view, name) in [
        ('1', "overview"),
        ('2', "groups"),
        ('3', "inventory"),
        ('5', "mapping"),
        ('6', "validation"),
    ] {
        let mut app = App::new(config.clone(), Theme::load("dark").unwrap(), Snapshot::default(), now);
        app.update(Msg::Snapshot(snaps[0].clone(), now));
        key(&mut app, KeyCode::Char(view));
        let mut i = 0;
        g.bench_function(format!("{name}_frame_after_a_poll"), |b| {
            b.iter(|| {
                i += 1;
                app.update(Msg::Snapshot(snaps[i % 2].clone(), now));
                term.draw(|f| views::render(f, &app)).unwrap();
            })
        });
        g.bench_function(format!("{name}_frame_for_the_clock"), |b| {
            b.iter(|| {
                app.update(Msg::Tick(now));
                term.draw(|f| views::render(f, &app)).unwrap();
            })
        });
    }
    // One topic of 25,000 partitions: the Topic view has 25,000 rows.
    let one = [big_snapshot(now, 1, 1, 25_000), big_snapshot(now, 2, 1, 25_000)];
    let mut app = App::new(config.clone(), Theme::load("dark").unwrap(), Snapshot::default(), now);
    app.update(Msg::Snapshot(one[0].clone(), now));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.rows().len(), 25_000, "the Topic view of topic-000");
    let mut i = 0;
    g.bench_function("topic_view_25000_rows_frame_after_a_poll", |b| {
        b.iter(|| {
            i += 1;
            app.update(Msg::Snapshot(one[i % 2].clone(), now));
            term.draw(|f| views::render(f, &app)).unwrap();
        })
    });
    g.bench_function("topic_view_25000_rows_frame_for_the_clock", |b| {
        b.iter(|| {
            app.update(Msg::Tick(now));
            term.draw(|f| views::render(f, &app)).unwrap();
        })
    });
    // `/` then "1" typed: each keystroke filters the 25,000 rows and draws.
    key(&mut app, KeyCode::Char('/'));
    g.bench_function("topic_view_25000_rows_filter_keystroke", |b| {
        b.iter(|| {
            key(&mut app, KeyCode::Char('1'));
            term.draw(|f| views::render(f, &app)).unwrap();
            key(&mut app, KeyCode::Backspace);
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_25000);
criterion_main!(benches);
