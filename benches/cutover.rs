//! The cockpit's own time per wave: everything the engine and driver do for a whole
//! stop-the-world wave of 50 partitions (10 topics x 5) and 10 groups, except running hooks and
//! waiting for the clusters: deciding each action, journaling its intent and result (append +
//! fsync, as in production), evaluating every check on a snapshot of that size (the settle
//! check four times, as it polls), the commit records of 10 groups x 50 partitions, and folding
//! the journal back into the wave's state. Baseline in the same run: one journal append+fsync.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use cutover::config::{self, Config};
use cutover::cutover::checks::{self, Settle};
use cutover::cutover::engine::{self, Action, Check, Event, Next, OffsetMove, Side};
use cutover::cutover::journal::{self, Journal};
use cutover::model::verdict::Verdict;
use cutover::model::{ClusterFeed, ClusterState, GroupState, GroupStatus, PartitionState, Snapshot, TopicState};

const TOPICS: usize = 10;
const PARTITIONS: i32 = 5;
const GROUPS: usize = 10;

fn cluster(prefix: &str, now: SystemTime, status: GroupStatus) -> ClusterState {
    let topics = (0..TOPICS)
        .map(|t| {
            let name = format!("{prefix}t{t}");
            let partitions = (0..PARTITIONS)
                .map(|p| PartitionState {
                    id: p,
                    leader: 0,
                    replicas: 1,
                    isr: 1,
                    low: Ok(0),
                    high: Ok(100_000 + p as i64),
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
    let groups = (0..GROUPS)
        .map(|g| GroupState {
            name: format!("g{g}"),
            status: status.clone(),
            protocol_type: "consumer".into(),
            members: vec![],
            offsets: Ok((0..TOPICS)
                .flat_map(|t| (0..PARTITIONS).map(move |p| ((format!("{prefix}t{t}"), p), 99_000)))
                .collect()),
        })
        .collect();
    ClusterState {
        polled_at: now,
        poll_duration: Duration::from_millis(10),
        brokers: vec![],
        topics,
        configs: Ok(Default::default()),
        groups: Ok(groups),
    }
}

fn snapshot(now: SystemTime) -> Snapshot {
    let feed = |name: &str, s| ClusterFeed {
        name: name.into(),
        last_good: Some(Arc::new(s)),
        last_error: None,
        figures_version: 0,
        ages: Default::default(),
    };
    Snapshot {
        target_only: Default::default(),
        source: feed("src", cluster("", now, GroupStatus::Empty)),
        target: feed("tgt", cluster("src.", now, GroupStatus::Stable)),
        seq: 1,
        target_before_source: None,
        mm2: None,
    }
}

fn config(dir: &Path) -> Config {
    let text = format!(
        "[source]\nname = \"a\"\nbootstrap = \"a:9092\"\n[target]\nname = \"b\"\nbootstrap = \"b:9092\"\n\
         [replication]\nsource_alias = \"src\"\n[cutover]\njournal = \"{}\"\n\
         [[wave]]\nname = \"w\"\ntopics = [\"t.*\"]\ngroups = [\"g.*\"]\nconfirm = \"wave\"\n\
         [wave.hooks]\nfreeze_producers = \"true\"\nstop_consumers = \"true\"\nflip_consumers = \"true\"\nflip_producers = \"true\"\n",
        dir.join("bench.journal").display()
    );
    config::parse(Path::new("bench.toml"), &text, &|_| None).unwrap()
}

/// One whole wave, as the driver does it minus hooks and cluster I/O.
fn one_wave(config: &Config, snap: &Snapshot, path: &Path) -> usize {
    let _ = std::fs::remove_file(path);
    let wave = &config.waves[0];
    let mut j = Journal::open(path, false).unwrap();
    let mut state = journal::wave_state(&[], wave);
    let mut record = |state: &mut engine::WaveState, e: Event| {
        let entry = j.append(&wave.name, e).unwrap();
        state.apply(entry.time(), &entry.event);
    };
    let topics = checks::wave_topics(snap, wave);
    let groups = checks::wave_groups(snap, wave);
    record(
        &mut state,
        Event::WaveStarted {
            strategy: wave.strategy,
            topics: topics.clone(),
            groups: groups.clone(),
        },
    );
    let rows: Vec<(String, i32, Verdict, bool)> = topics
        .iter()
        .flat_map(|t| (0..PARTITIONS).map(move |p| (t.clone(), p, Verdict::Pass, false)))
        .collect();
    let now = SystemTime::now();
    loop {
        let (step, action) = match engine::next(&state, wave) {
            Next::Run { step, action, .. } => (step, action),
            Next::Finished(_) => break,
            other => panic!("{other:?}"),
        };
        record(
            &mut state,
            Event::ActionStarted {
                step,
                action,
                detail: action.label(),
            },
        );
        let detail = match action {
            Action::Wait(Check::Preflight) => {
                format!(
                    "{:?}",
                    checks::preflight(snap, config, wave, &topics, &groups, &rows, now)
                )
            }
            Action::Wait(Check::SourceFrozen) => {
                let mut settle = Settle::default();
                let mut last = None;
                for i in 0..4 {
                    let ends = checks::ends(snap, config, &topics, false).unwrap();
                    last = Some(settle.observe(ends, now + Duration::from_secs(3 * i), Duration::from_secs(6)));
                }
                format!("{last:?}")
            }
            Action::Wait(Check::Drained) => {
                format!("{:?}", checks::drained(&checks::lags(snap, config, &topics).unwrap()))
            }
            Action::Wait(Check::FinalParity) => format!("{:?}", checks::parity(&rows)),
            Action::Wait(Check::GroupsEmptyOnSource) => format!("{:?}", checks::groups_empty(snap, &groups, false)),
            Action::Wait(Check::GroupsStableOnTarget) => {
                format!("{:?}", checks::groups_stable_on_target(snap, &groups))
            }
            Action::Wait(Check::WritesOnTarget) => {
                let s = checks::ends(snap, config, &topics, false).unwrap();
                let t = checks::ends(snap, config, &topics, true).unwrap();
                format!("{:?}", checks::writes_on_target(&s, &s, &t, &t))
            }
            Action::Commit => {
                for g in &groups {
                    let offsets: Vec<OffsetMove> = topics
                        .iter()
                        .flat_map(|t| {
                            (0..PARTITIONS).map(move |p| OffsetMove {
                                topic: format!("src.{t}"),
                                partition: p,
                                old: None,
                                new: 99_000,
                                from: 99_000,
                            })
                        })
                        .collect();
                    record(
                        &mut state,
                        Event::Committed {
                            side: Side::Target,
                            group: g.clone(),
                            offsets,
                        },
                    );
                }
                "committed".into()
            }
            _ => String::new(),
        };
        record(
            &mut state,
            Event::ActionDone {
                step,
                action,
                detail,
                output: vec![],
            },
        );
    }
    // A restarted cockpit folds the journal back into the same state.
    let entries = journal::read(path).unwrap();
    let replayed = journal::wave_state(&entries, wave);
    assert_eq!(replayed.actions.len(), state.actions.len());
    entries.len()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let snap = snapshot(SystemTime::now());
    let path = dir.path().join("bench.journal");
    let entries = one_wave(&config, &snap, &path);
    assert_eq!(checks::wave_topics(&snap, &config.waves[0]).len(), TOPICS);
    eprintln!(
        "one wave: {entries} journal entries, {} partitions, {GROUPS} groups",
        TOPICS * PARTITIONS as usize
    );
    let mut g = c.benchmark_group("cutover");
    g.sample_size(20);
    g.bench_function("wave_50_partitions_10_groups", |b| {
        b.iter(|| one_wave(&config, &snap, &path))
    });
    let base = dir.path().join("base.journal");
    let mut j = Journal::open(&base, false).unwrap();
    g.bench_function("baseline_one_journal_append_fsync", |b| {
        b.iter(|| j.append("w", Event::Paused).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
