//! The cockpit's background validation job against two real tansu brokers: scheduled runs
//! read only what is new, `v`-style requests run at once (and `full` from the start again),
//! partitions run in parallel, the rate limit holds, and no group is ever joined or committed.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use cutover::demo::broker::{Storage, TansuBroker};
use cutover::demo::clients::RecordWriter;
use cutover::demo::clients::TopicSpec;
use cutover::kafka::records::Record;
use cutover::model::validation::{Board, Status};
use cutover::validate::job::{Job, Request, Scope, Trigger, Update};
use cutover::validate::Verdict;
use tokio::sync::mpsc;

/// Writes records `from..from+n` (key k{i}, value of `size` bytes) to one partition.
fn put(b: &TansuBroker, topic: &str, partition: i32, from: usize, n: usize, size: usize) {
    let w = RecordWriter::new(&cluster(b, "w"), false).unwrap();
    for i in from..from + n {
        let mut value = format!("v{i}-").into_bytes();
        value.resize(size.max(value.len()), b'x');
        let r = Record {
            key: Some(format!("k{i}").into_bytes()),
            value: Some(value),
            headers: vec![],
            timestamp: Some(1_700_000_000_000 + i as i64),
        };
        w.send(topic, partition, &r).unwrap();
    }
    w.flush(Duration::from_secs(10)).unwrap();
}

/// Collects the job's updates until run `run` finishes; applies them to `board` too.
fn until_finished(updates: &mut mpsc::UnboundedReceiver<Update>, board: &mut Board, run: u64) -> Vec<Update> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let update = wait_for(left, &format!("validation run {run} to finish"), || {
            updates.try_recv().ok()
        });
        board.apply(update.clone());
        let finished = matches!(update, Update::RunFinished { run: r, .. } if r == run);
        seen.push(update);
        if finished {
            return seen;
        }
    }
}

/// The next on-demand run's updates. A scheduled run may come first (the interval is short);
/// it is applied to the board and passed over.
fn until_on_demand(updates: &mut mpsc::UnboundedReceiver<Update>, board: &mut Board) -> Vec<Update> {
    loop {
        let run = board.runs.front().map_or(0, |r| r.id) + 1;
        let seen = until_finished(updates, board, run);
        if trigger(&seen) == Trigger::OnDemand {
            return seen;
        }
    }
}

fn rows(updates: &[Update]) -> Vec<cutover::validate::run::Row> {
    let mut rows: Vec<_> = updates
        .iter()
        .filter_map(|u| match u {
            Update::PartitionDone { row, .. } => Some(row.clone()),
            _ => None,
        })
        .collect();
    rows.sort_by_key(|r| r.partition);
    rows
}

fn trigger(updates: &[Update]) -> Trigger {
    updates
        .iter()
        .find_map(|u| match u {
            Update::RunStarted { trigger, .. } => Some(*trigger),
            _ => None,
        })
        .expect("a RunStarted")
}

/// The most partitions running at the same time, from the order of start and done updates.
fn most_at_once(updates: &[Update]) -> usize {
    let (mut now, mut most) = (0usize, 0usize);
    for u in updates {
        match u {
            Update::PartitionStarted { .. } => {
                now += 1;
                most = most.max(now);
            }
            Update::PartitionDone { .. } => now -= 1,
            _ => {}
        }
    }
    most
}

#[test]
fn scheduled_and_on_demand_runs_read_only_what_is_new() {
    let (src, tgt, _dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 4)]);
    create(&tgt, &[TopicSpec::new("orders", 4)]);
    for p in 0..4 {
        put(&src, "orders", p, 0, 40, 20);
        put(&tgt, "orders", p, 0, 40, 20);
    }
    let config = Arc::new(config(
        &src,
        &tgt,
        "[replication]\nkind = \"offset-preserving\"\n[monitor]\nrefresh_interval = \"500ms\"\n\
         [validation]\ninterval = \"4s\"\nparallelism = 2\n",
    ));
    let rt = runtime();
    let _enter = rt.enter();
    let monitor = cutover::monitor::Monitor::start(&config).unwrap();
    let (tx, mut updates) = mpsc::unbounded_channel();
    let job = Job::start(config.clone(), monitor.snapshots.clone(), move |u| tx.send(u).is_ok()).unwrap();
    let mut board = Board::default();

    // Run 1, scheduled as soon as both clusters were polled: everything, two at a time.
    let first = until_finished(&mut updates, &mut board, 1);
    assert_eq!(trigger(&first), Trigger::Scheduled);
    let r = rows(&first);
    assert_eq!(r.len(), 4);
    for row in &r {
        assert_eq!(row.result.verdict, Verdict::Pass, "{row:?}");
        assert_eq!(row.records_read, (40, 40));
        assert_eq!(row.result.source_range, (0, 40));
    }
    assert_eq!(most_at_once(&first), 2, "parallelism = 2");

    // Run 2, scheduled 4 s later: only the 10 new records of partition 0.
    put(&src, "orders", 0, 40, 10, 20);
    put(&tgt, "orders", 0, 40, 10, 20);
    let second = until_finished(&mut updates, &mut board, 2);
    assert_eq!(trigger(&second), Trigger::Scheduled);
    let reads: Vec<(u64, u64)> = rows(&second).iter().map(|r| r.records_read).collect();
    assert_eq!(reads, vec![(10, 10), (0, 0), (0, 0), (0, 0)]);
    assert_eq!(rows(&second)[0].result.source_range, (40, 50));
    let span = board.partition("orders", 0).unwrap().validated.unwrap();
    assert_eq!((span.source, span.target, span.compared), ((0, 50), (0, 50), 50));

    // On demand (`v`), before the next scheduled run: a difference in partition 1's new records.
    put(&src, "orders", 1, 40, 5, 20);
    put(&tgt, "orders", 1, 40, 2, 20);
    put(&tgt, "orders", 1, 43, 3, 21); // offset 42 on: values one byte longer
    job.request(Request {
        scope: Scope::Topic("orders".into()),
        full: false,
    });
    let third = until_on_demand(&mut updates, &mut board);
    let r = rows(&third);
    let Verdict::Fail { mismatch } = &r[1].result.verdict else {
        panic!("{:?}", r[1])
    };
    assert_eq!((mismatch.source_offset, mismatch.target_offset), (Some(42), Some(42)));
    assert_eq!(r[1].records_read.0, 5, "only the 5 new source records of partition 1");
    let status = cutover::model::validation::topic_status(&cutover::model::validation::validation_rows(
        &latest(&monitor),
        &board,
    ));
    assert_eq!(status.get("orders"), Some(&Status::Fail));

    // Full re-validation: every partition from the start again.
    job.request(Request {
        scope: Scope::All,
        full: true,
    });
    let fourth = until_on_demand(&mut updates, &mut board);
    let reads: Vec<u64> = rows(&fourth).iter().map(|r| r.records_read.0).collect();
    assert_eq!(reads, vec![50, 45, 40, 40]);

    // The job's consumers are assign-only: no group appears on either cluster.
    for (name, b) in [("source", &src), ("target", &tgt)] {
        let offsets =
            cutover::kafka::group_offsets(&cluster(b, name), "cutover-reader-never-joins", Duration::from_secs(5));
        assert!(
            offsets.as_ref().is_ok_and(|o| o.is_empty()),
            "{name}: committed {offsets:?}"
        );
    }
    let snap = latest(&monitor);
    for side in [&snap.source, &snap.target] {
        let groups = side.state().unwrap().groups.clone().unwrap();
        assert!(groups.is_empty(), "{groups:?}");
    }
}

#[test]
fn the_rate_limit_holds_for_both_clusters_together() {
    let (src, tgt, _dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("big", 2)]);
    create(&tgt, &[TopicSpec::new("big", 2)]);
    for p in 0..2 {
        put(&src, "big", p, 0, 20, 1_000);
        put(&tgt, "big", p, 0, 20, 1_000);
    }
    // 10,000 B/s; the run reads about 80,000 B (2 partitions x 20 records x 2 sides).
    let config = Arc::new(config(
        &src,
        &tgt,
        "[replication]\nkind = \"offset-preserving\"\n[monitor]\nrefresh_interval = \"500ms\"\n\
         [validation]\ninterval = \"off\"\nrate_limit_mb_per_s = 0.01\nparallelism = 2\n",
    ));
    let rt = runtime();
    let _enter = rt.enter();
    let monitor = cutover::monitor::Monitor::start(&config).unwrap();
    wait_for(Duration::from_secs(10), "both clusters polled", || {
        let s = latest(&monitor);
        (s.source.state().is_some() && s.target.state().is_some()).then_some(())
    });
    let (tx, mut updates) = mpsc::unbounded_channel();
    let job = Job::start(config.clone(), monitor.snapshots.clone(), move |u| tx.send(u).is_ok()).unwrap();
    let mut board = Board::default();
    let started = Instant::now();
    job.request(Request {
        scope: Scope::All,
        full: false,
    });
    let run = until_finished(&mut updates, &mut board, 1);
    let elapsed = started.elapsed().as_secs_f64();
    let r = rows(&run);
    assert!(r.iter().all(|r| r.result.verdict == Verdict::Pass), "{r:?}");
    let bytes: u64 = r.iter().map(|r| r.bytes_read).sum();
    assert!(bytes >= 80_000, "read {bytes} B");
    // The bucket starts with a tenth of a second's worth (1,000 B) and allows no more.
    let floor = (bytes - 1_000) as f64 / 10_000.0;
    assert!(
        elapsed >= floor,
        "{bytes} B in {elapsed:.2} s: faster than 10,000 B/s (at least {floor:.2} s expected)"
    );
    assert_eq!(board.runs[0].bytes, bytes);
    assert_eq!(board.runs[0].rate_limit, 10_000);
}

/// Item 3 of "no false alarms": the first run, before MM2's first offset-sync, shows every
/// partition PENDING with a sentence (no debug text), and they are validated as soon as the
/// syncs arrive, not at the next scheduled run (five minutes later here).
#[test]
fn partitions_waiting_for_the_first_sync_are_pending_then_validated_when_it_arrives() {
    use cutover::config::{OffsetSyncsLocation, PolicyKind, Replication, ReplicationKind};
    use cutover::demo::replicator::{Replicator, ReplicatorSpec};
    let (src, tgt, _dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 2)]);
    create(&tgt, &[TopicSpec::new("src.orders", 2)]);
    for p in 0..2 {
        put(&src, "orders", p, 0, 30, 20);
    }
    let config = Arc::new(config(
        &src,
        &tgt,
        "[replication]\nsource_alias = \"src\"\ntarget_alias = \"dst\"\n\
         [monitor]\nrefresh_interval = \"500ms\"\nrequest_timeout = \"2s\"\n[validation]\ninterval = \"5m\"\n",
    ));
    let rt = runtime();
    let _enter = rt.enter();
    let monitor = cutover::monitor::Monitor::start(&config).unwrap();
    let (tx, mut updates) = mpsc::unbounded_channel();
    let _job = Job::start(config.clone(), monitor.snapshots.clone(), move |u| tx.send(u).is_ok()).unwrap();
    let mut board = Board::default();

    let first = until_finished(&mut updates, &mut board, 1);
    assert_eq!(trigger(&first), Trigger::Scheduled);
    for row in rows(&first) {
        let Verdict::Pending { reason } = &row.result.verdict else {
            panic!("{row:?}")
        };
        assert!(reason.starts_with("waiting for MM2's first offset-sync"), "{reason}");
        assert!(
            !reason.contains('{') && !reason.contains("Diverged"),
            "a sentence, not debug text: {reason}"
        );
    }
    assert_eq!(
        board
            .partition("orders", 0)
            .map(|p| p.results.front().map(|r| Status::of(&r.2.result.verdict))),
        Some(Some(Status::Pending))
    );

    let started = Instant::now();
    let replication = Replication {
        kind: ReplicationKind::MirrorMaker2,
        source_alias: "src".into(),
        target_alias: "dst".into(),
        policy: PolicyKind::Default,
        separator: ".".into(),
        offset_syncs_location: OffsetSyncsLocation::Source,
    };
    let _r = Replicator::start(ReplicatorSpec::new(
        cluster(&src, "src"),
        cluster(&tgt, "tgt"),
        replication,
        &["orders"],
    ))
    .unwrap();
    let mut run = 2;
    loop {
        let seen = until_finished(&mut updates, &mut board, run);
        assert_eq!(trigger(&seen), Trigger::Aligned, "not the scheduled run");
        let r = rows(&seen);
        if r.len() == 2 && r.iter().all(|row| row.result.verdict == Verdict::Pass) {
            assert_eq!(r[0].result.records_compared + r[1].result.records_compared, 60);
            break;
        }
        run += 1;
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "validated {:?} after the replicator started",
        started.elapsed()
    );
}
