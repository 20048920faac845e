//! Staged cutovers on real brokers: an application (a producer writing sequence numbers and a
//! consumer group committing what it processed) is moved from source to target by `cutover
//! run`, through the wave's hooks, while the MM2-compatible replicator copies. Afterwards every
//! acknowledged record was processed exactly once, in order per partition, and the group reads
//! on the target.
//!
//! The brokers use tansu's memory engine, because its sqlite engine breaks DescribeGroups (the
//! wave waits on group states); every producer sends one record per request, because the memory
//! engine's end offsets are wrong otherwise (test-brokers.md).

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::app::{journaled_commits, set_hook, set_place, App, AppSpec, Place};
use common::cli::{cutover, cutover_watching};
use common::*;
use cutover::config::{OffsetSyncsLocation, PolicyKind, Replication, ReplicationKind};
use cutover::cutover::engine::{Event, Side};
use cutover::demo::broker::{Storage, TansuBroker};
use cutover::demo::clients::TopicSpec;
use cutover::demo::replicator::{Fault, Injection, Replicator, ReplicatorSpec};

const PARTITIONS: i32 = 3;

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

/// These tests each run two brokers, a replicator, an application and the cockpit: three at
/// a time keep a 2-core machine responsive (what they assert does not depend on timing).
static SLOTS: (std::sync::Mutex<usize>, std::sync::Condvar) = (std::sync::Mutex::new(0), std::sync::Condvar::new());

/// Holds `.0` of the three slots.
struct Slot(usize);

fn slot() -> Slot {
    slots(1)
}

/// All three: a test whose timing is the point (a 1.5 s request timeout) runs alone.
fn slots(n: usize) -> Slot {
    let (lock, cv) = &SLOTS;
    let mut busy = lock.lock().unwrap_or_else(|e| e.into_inner());
    while *busy + n > 3 {
        busy = cv.wait(busy).unwrap_or_else(|e| e.into_inner());
    }
    *busy += n;
    Slot(n)
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (lock, cv) = &SLOTS;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) -= self.0;
        cv.notify_all();
    }
}

struct Setup {
    src: TansuBroker,
    tgt: TansuBroker,
    dir: TempDir,
    replicator: Replicator,
    app: App,
    _slot: Slot,
}

/// Brokers, the replicator and the application, processing on the source. The target
/// partition 0 holds 5 records of its own before replication starts, so source and target
/// offsets differ there (a commit copied as is would skip 5 records).
fn setup() -> Setup {
    setup_in(slot())
}

fn setup_in(slot: Slot) -> Setup {
    let (src, tgt, dir) = two_brokers(Storage::Memory);
    create(&src, &[TopicSpec::new("orders", PARTITIONS)]);
    create(&tgt, &[TopicSpec::new("src.orders", PARTITIONS)]);
    produce(&tgt, "src.orders", 0, 5, true);
    let mut spec = ReplicatorSpec::new(cluster(&src, "source"), cluster(&tgt, "target"), mm2(), &["orders"]);
    spec.groups = vec!["billing".into()];
    spec.one_record_per_request = true;
    spec.offset_lag_max = 10;
    let replicator = Replicator::start(spec).expect("replicator");
    let app = App::start(
        dir.path(),
        AppSpec {
            source: cluster(&src, "source"),
            target: cluster(&tgt, "target"),
            topic: "orders".into(),
            target_topic: "src.orders".into(),
            partitions: PARTITIONS,
            group: "billing".into(),
            pause: Duration::from_millis(20),
            abort_every: None,
        },
    );
    wait_for(Duration::from_secs(30), "the group processing on the source", || {
        (app.processed.lock().unwrap().len() > 60).then_some(())
    });
    Setup {
        src,
        tgt,
        dir,
        replicator,
        app,
        _slot: slot,
    }
}

fn wave_config(s: &Setup, strategy: &str) -> std::path::PathBuf {
    wave_config_with(s, strategy, "")
}

fn wave_config_with(s: &Setup, strategy: &str, criteria: &str) -> std::path::PathBuf {
    let journal = s.dir.path().join("cutover.journal");
    config_file(
        s.dir.path(),
        &s.src,
        &s.tgt,
        &format!(
            "[replication]\nsource_alias = \"src\"\ntarget_alias = \"dst\"\n\
             [monitor]\nrefresh_interval = \"500ms\"\nrequest_timeout = \"5s\"\n\
             [cutover]\njournal = \"{}\"\nsettle = \"2s\"\nhook_timeout = \"20s\"\n\
             [[wave]]\nname = \"w1\"\ntopics = [\"orders\"]\ngroups = [\"billing\"]\nstrategy = \"{strategy}\"\nconfirm = \"wave\"\n\
             {}{criteria}",
            journal.display(),
            s.app.hooks_toml()
        ),
    )
}

fn journal(s: &Setup) -> Vec<cutover::cutover::journal::Entry> {
    cutover::cutover::journal::read(&s.dir.path().join("cutover.journal")).unwrap()
}

fn commits(s: &Setup) -> Vec<(Side, String, Vec<cutover::cutover::engine::OffsetMove>)> {
    journaled_commits(&s.dir.path().join("cutover.journal"))
}

/// Lets the application run on (the group processes `more` records), stops it, and checks
/// that every acknowledged record was processed exactly once, in order per partition.
/// Returns how many records were processed on the target.
fn exactly_once(s: Setup, more: usize, what: &str) -> usize {
    let Setup { app, replicator, .. } = s;
    assert_eq!(replicator.error(), None);
    app.run_on_then_check_exactly_once(more, Duration::from_secs(60), what)
}

/// A whole wave with `strategy`: exit 0, one commit per group, exactly once, reading on the target.
fn wave_moves_the_application_exactly_once(strategy: &str) {
    let s = setup();
    let config = wave_config(&s, strategy);
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(0), "{}", out.text);
    for step in [
        "preflight",
        "freeze producers",
        "drain",
        "final parity",
        "commit offsets",
        "flip producers",
    ] {
        assert!(out.text.contains(step), "{step} not shown:\n{}", out.text);
    }
    assert!(out.text.contains("wave w1 done"), "{}", out.text);
    // The log's ERROR lines are errors: reaching a partition's end is not one (a wave's
    // validations and translations reach dozens).
    let log = std::fs::read_to_string(s.dir.path().join("cutover.log")).unwrap();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
    eprintln!("ERROR lines: {errors:#?}");
    assert!(
        !errors
            .iter()
            .any(|l| l.contains("PartitionEOF") || l.contains("end of partition")),
        "{errors:#?}"
    );
    let c = commits(&s);
    assert_eq!(c.len(), 1, "one commit for the group: {c:?}");
    assert_eq!(c[0].0, Side::Target);
    assert_eq!(c[0].2.len(), PARTITIONS as usize, "{c:?}");
    let p0 = c[0].2.iter().find(|m| m.partition == 0).unwrap();
    assert_eq!(
        p0.new,
        p0.from + 5,
        "partition 0 is shifted by the target's own 5 records: {p0:?}"
    );
    assert_eq!(std::fs::read_to_string(s.app.consumer_file()).unwrap().trim(), "target");
    let on_target = exactly_once(s, 40, strategy);
    assert!(on_target > 30, "{on_target} processed on the target");
}

#[test]
fn stop_the_world_moves_the_application_exactly_once() {
    wave_moves_the_application_exactly_once("stop-the-world");
}

#[test]
fn consumers_first_moves_the_application_exactly_once() {
    wave_moves_the_application_exactly_once("consumers-first");
}

/// Committed offsets of the group on both clusters, as the brokers answer them.
fn offsets(s: &Setup) -> (String, String) {
    let t = Duration::from_secs(5);
    (
        format!(
            "{:?}",
            cutover::kafka::group_offsets(&cluster(&s.src, "s"), "billing", t)
        ),
        format!(
            "{:?}",
            cutover::kafka::group_offsets(&cluster(&s.tgt, "t"), "billing", t)
        ),
    )
}

#[test]
fn a_dry_run_runs_every_step_and_changes_nothing() {
    let s = setup();
    let config = wave_config(&s, "stop-the-world");
    // The group is stopped for the comparison: a live group commits as it goes.
    set_place(&s.app.consumer_file(), Place::Stopped);
    std::thread::sleep(Duration::from_secs(2));
    let before = offsets(&s);
    let out = cutover(&config, &["run", "--wave", "w1", "--dry-run"], None);
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert_eq!(offsets(&s), before, "committed offsets on both clusters unchanged");
    assert!(s.app.hooks_ran().is_empty(), "no hook ran: {:?}", s.app.hooks_ran());
    for would in [
        "would run the hook freeze_producers",
        "would run the hook flip_producers",
        "would commit billing on the target: src.orders/0",
        "on MM2's checkpoint: ",
        "dry run of wave w1 done",
    ] {
        assert!(out.text.contains(would), "{would}:\n{}", out.text);
    }
    // The wave itself has not started: a real run would ask to start it.
    let entries = journal(&s);
    assert!(entries.iter().all(|e| e.dry_run), "only dry-run entries");
    set_place(&s.app.consumer_file(), Place::Source);
    exactly_once(s, 20, "dry run");
}

#[test]
fn a_failing_hook_stops_the_wave_with_its_output_then_a_retry_goes_on() {
    let s = setup();
    let config = wave_config(&s, "stop-the-world");
    s.app.fail_hook("stop_consumers", true);
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(out.text.contains("stop_consumers: injected failure"), "{}", out.text);
    assert!(out.text.contains("exited with 7"), "{}", out.text);
    assert!(out.text.contains("STOPPED at stop consumers"), "{}", out.text);
    let failed = journal(&s).into_iter().find_map(|e| match e.event {
        Event::ActionFailed { reason, output, .. } => Some((reason, output)),
        _ => None,
    });
    let (reason, output) = failed.expect("the failure is journaled");
    assert!(reason.contains("exited with 7"), "{reason}");
    assert!(output.iter().any(|l| l.contains("injected failure")), "{output:?}");
    assert!(commits(&s).is_empty(), "nothing committed");
    // Still failing: a new run retries once and stops again (no loop with --yes).
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    assert_eq!(out.code, Some(1), "{}", out.text);
    s.app.fail_hook("stop_consumers", false);
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    assert_eq!(out.code, Some(0), "{}", out.text);
    let ran = s.app.hooks_ran();
    assert_eq!(ran.iter().filter(|h| *h == "stop_consumers").count(), 3, "{ran:?}");
    assert_eq!(ran.iter().filter(|h| *h == "freeze_producers").count(), 1, "{ran:?}");
    exactly_once(s, 20, "after a retry");
}

#[test]
fn a_record_dropped_in_the_tail_fails_final_parity_and_the_wave_rolls_back() {
    let s = setup();
    let config = wave_config(&s, "stop-the-world");
    // The replicator stalls, a record already on the source but not copied yet is dropped when
    // it resumes, and it resumes once the producers are frozen: the record is in the tail that
    // only the final parity reads (the preflight's validation saw it as not copied yet).
    s.replicator.stall(true);
    let at = s.replicator.position("orders", 1) + 1;
    s.replicator.inject(Injection {
        topic: "orders".into(),
        partition: 1,
        offset: at,
        fault: Fault::Drop,
    });
    let replicator = &s.replicator;
    let out = cutover_watching(&config, &["run", "--wave", "w1", "--yes"], None, &mut |line| {
        if line.contains("w1: drain:") || line.contains("end offsets unchanged for 2s") {
            replicator.stall(false);
        }
    });
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(out.text.contains("STOPPED at final parity"), "{}", out.text);
    assert!(
        out.text.contains("orders/1: FAIL") && out.text.contains(&format!("source offset {at}")),
        "the FAIL names the partition and offset {at}:\n{}",
        out.text
    );
    assert!(
        !s.app.hooks_ran().contains(&"stop_consumers".to_string()),
        "the wave went no further"
    );
    let out = cutover(&config, &["rollback", "--wave", "w1", "--yes"], None);
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert_eq!(
        s.app.hooks_ran(),
        ["freeze_producers", "rollback_freeze_producers"],
        "only the freeze is undone"
    );
    assert_eq!(exactly_once(s, 20, "rolled back at final parity"), 0);
}

/// Stops the wave at `failing` (its hook fails), rolls it back, and checks that the
/// application ends up on the source, exactly once.
fn rollback_from(strategy: &str, failing: Option<&str>) {
    let s = setup();
    let config = wave_config(&s, strategy);
    if let Some(h) = failing {
        s.app.fail_hook(h, true);
    }
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(if failing.is_some() { 1 } else { 0 }), "{}", out.text);
    if failing.is_none() {
        // Done: the group reads on the target; records written there only are processed
        // there before the group moves back.
        let before = s.app.processed.lock().unwrap().len();
        wait_for(Duration::from_secs(30), "records processed on the target", || {
            (s.app.processed.lock().unwrap().len() > before + 20).then_some(())
        });
    }
    // The dialog counts the records that exist only on the target (written there since the
    // flip). The producer still writes, so the figure lies between the target's acks before
    // the rollback began and those when the line was read (plus the one in flight).
    let acked_on_target_before = s.app.acked_on_target.load(Ordering::SeqCst);
    let mut shown: Vec<(usize, usize)> = vec![];
    let out = cutover_watching(&config, &["rollback", "--wave", "w1", "--yes"], None, &mut |line| {
        if let Some(n) = line
            .trim()
            .strip_suffix("exist only on the target: the target groups process them before they move back")
        {
            let n: usize = n.split(' ').next().unwrap().parse().unwrap();
            shown.push((n, s.app.acked_on_target.load(Ordering::SeqCst)));
        }
    });
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert!(out.text.contains("wave w1 rolled back"), "{}", out.text);
    if failing.is_none() {
        assert_eq!(shown.len(), 1, "one topic, one count in the dialog:\n{}", out.text);
        let (n, acked_then) = shown[0];
        eprintln!("dialog: {n} record(s) only on the target; acked there {acked_on_target_before} before, {acked_then} when read");
        assert!(
            acked_on_target_before > 0 && (acked_on_target_before..=acked_then + 1).contains(&n),
            "dialog says {n}, the target acknowledged {acked_on_target_before} before and {acked_then} after"
        );
    } else {
        assert!(
            !out.text.contains("exist only on the target"),
            "no record exists only on the target before flip_producers ran:\n{}",
            out.text
        );
    }
    assert_eq!(std::fs::read_to_string(s.app.consumer_file()).unwrap().trim(), "source");
    assert_eq!(std::fs::read_to_string(s.app.producer_file()).unwrap().trim(), "source");
    let c = commits(&s);
    let forward = c.iter().filter(|c| c.0 == Side::Target).count();
    let back = c.iter().filter(|c| c.0 == Side::Source).count();
    assert_eq!(forward, back, "every forward commit is undone once: {c:?}");
    let what = format!(
        "{strategy}, rolled back {}",
        failing.map_or("after done".into(), |h| format!("at {h}"))
    );
    exactly_once(s, 40, &what);
}

#[test]
fn rollback_at_stop_consumers() {
    rollback_from("stop-the-world", Some("stop_consumers"));
}

#[test]
fn rollback_at_flip_consumers() {
    rollback_from("stop-the-world", Some("flip_consumers"));
}

#[test]
fn rollback_at_flip_producers() {
    rollback_from("stop-the-world", Some("flip_producers"));
}

#[test]
fn rollback_after_the_wave_is_done() {
    rollback_from("stop-the-world", None);
}

/// consumers-first: the group read on the target while producers still wrote to the source;
/// going back, its target position is walked back to the source record by record.
#[test]
fn rollback_of_consumers_first_at_freeze_producers_walks_the_group_back() {
    rollback_from("consumers-first", Some("freeze_producers"));
}

/// `kill -9` of the cockpit as each step begins, then `cutover run` again: the wave resumes at
/// the right step and completes; exactly once holds; one commit per group.
#[test]
fn kill_9_at_each_step_then_run_again_completes_exactly_once() {
    let s = setup();
    let config = wave_config(&s, "stop-the-world");
    let steps = [
        "preflight:",
        "freeze producers:",
        "drain:",
        "final parity:",
        "stop consumers:",
        "commit offsets:",
        "flip consumers:",
        "flip producers:",
    ];
    let mut kills = 0;
    for step in steps {
        let out = cutover(&config, &["run", "--wave", "w1", "--yes"], Some(&format!("w1: {step}")));
        match out.code {
            None => kills += 1,
            Some(0) => break, // the step finished before the kill landed: nothing left to kill
            Some(c) => panic!("exit {c} before {step}:\n{}", out.text),
        }
    }
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert!(kills >= 6, "killed {kills} times");
    let c = commits(&s);
    assert_eq!(c.len(), 1, "one commit per group: {c:?}");
    let on_target = exactly_once(s, 40, &format!("killed {kills} times"));
    assert!(on_target > 30);
}

/// Seed 004: the rollback criteria are watched after the flip; a target group falling behind
/// past the limit is a ROLLBACK SUGGESTED, and with auto_rollback the wave rolls back by itself
/// (the target-only records are processed on the target first), exactly once.
#[test]
fn a_breached_rollback_criterion_rolls_the_wave_back_by_itself() {
    let s = setup();
    let config = wave_config_with(
        &s,
        "stop-the-world",
        "[wave.criteria]\nrollback_if_target_group_lag_over = 5\nrollback_after = \"60s\"\nauto_rollback = true\n",
    );
    let consumer = s.app.consumer_file();
    let out = cutover_watching(&config, &["run", "--wave", "w1", "--yes"], None, &mut |line| {
        // The target consumers stall right after the flip, and recover once the rollback began.
        if line.contains("watching the rollback criteria") {
            set_place(&consumer, Place::Stopped);
        }
        if line.contains("rolling back by itself") {
            set_place(&consumer, Place::Target);
        }
    });
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(1), "rolled back is not done: {}", out.text);
    assert!(
        out.text.contains("ROLLBACK SUGGESTED: wave w1: group billing lags"),
        "{}",
        out.text
    );
    assert!(out.text.contains("wave w1 rolled back"), "{}", out.text);
    assert!(
        journal(&s)
            .iter()
            .any(|e| matches!(&e.event, Event::Confirmed { what, .. } if what.starts_with("automatic rollback"))),
        "the journal says it rolled back by itself"
    );
    assert_eq!(std::fs::read_to_string(s.app.producer_file()).unwrap().trim(), "source");
    exactly_once(s, 30, "rolled back by the criteria");
}

/// `cutover run` watches the pause budget too (nobody else does for a wave driven from a
/// terminal): the replicator stalls once the producers are frozen, so the drain never ends,
/// the write pause passes its 5 s budget, and with auto_rollback the run rolls the wave back
/// by itself, unasked: the producers write on the source again, every record once.
#[test]
fn cutover_run_rolls_back_by_itself_past_the_write_pause_budget() {
    let s = setup();
    let config = wave_config_with(
        &s,
        "stop-the-world",
        "[wave.criteria]\nmax_write_pause = \"5s\"\nauto_rollback = true\n",
    );
    let started = std::time::Instant::now();
    let replicator = &s.replicator;
    let out = cutover_watching(&config, &["run", "--wave", "w1", "--yes"], None, &mut |line| {
        if line.contains("hook freeze_producers done") {
            replicator.stall(true);
        }
        if line.contains("rolling back by itself") {
            replicator.stall(false);
        }
    });
    let took = started.elapsed();
    eprintln!("{}\ntook {took:?}", out.text);
    assert_eq!(out.code, Some(1), "rolled back is not done: {}", out.text);
    assert!(
        out.text.contains("PAUSE BUDGET: wave w1: writes paused"),
        "{}",
        out.text
    );
    assert!(out.text.contains("(max_write_pause)"), "{}", out.text);
    assert!(out.text.contains("wave w1 rolled back"), "{}", out.text);
    let entries = journal(&s);
    assert!(
        entries.iter().any(|e| matches!(&e.event, Event::Confirmed { what, .. }
            if what.starts_with("automatic rollback (auto_rollback = true): PAUSE BUDGET"))),
        "the journal says why it rolled back by itself"
    );
    assert!(s.app.hooks_ran().contains(&"rollback_freeze_producers".to_string()));
    assert_eq!(std::fs::read_to_string(s.app.producer_file()).unwrap().trim(), "source");
    exactly_once(s, 30, "rolled back past the pause budget");
}

/// Kills a process when dropped, so a test failing midway leaves none running.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &self.0.to_string()])
            .status();
    }
}

/// Acceptance (issue 23): `cutover run` takes a wave over from a detached driver and says
/// so. The wave stops at a failing hook (producers frozen); a detached driver
/// (`cutover run --detached`, what a cockpit starts when it loses its terminal) holds it,
/// answering no question; `cutover run --yes` asks it to let go (SIGTERM), journals the
/// take-over, retries the step and finishes the wave: exactly once.
#[test]
fn cutover_run_takes_the_wave_over_from_a_detached_driver() {
    let s = setup();
    let config = wave_config(&s, "stop-the-world");
    // The notify command is told of every entry, the detached driver's included.
    let notified = s.dir.path().join("notified.jsonl");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("\n[notify]\ncommand = \"cat >> {}\"\n", notified.display()));
    std::fs::write(&config, text).unwrap();
    s.app.fail_hook("stop_consumers", true);
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(out.text.contains("STOPPED at stop consumers"), "{}", out.text);
    let mut detached = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(&config)
        .args(["run", "--wave", "w1", "--detached"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let reap = KillOnDrop(detached.id());
    let lock = s.dir.path().join("cutover.journal.lock");
    let log = s.dir.path().join("cutover.log");
    wait_for(Duration::from_secs(20), "the detached driver holding the wave", || {
        let held = std::fs::read_to_string(&lock).unwrap_or_default();
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        (held.contains(&format!("(pid {}, detached driver)", detached.id())) && said.contains("held at: "))
            .then_some(())
    });
    // `status` says who holds the cutover, and how to take it over.
    let status = cutover(&config, &["status", "--json"], None);
    let doc: serde_json::Value = serde_json::from_str(&status.text).unwrap_or_else(|e| panic!("{e}: {}", status.text));
    assert_eq!(doc["driver"]["detached"], true, "{doc}");
    assert_eq!(doc["driver"]["pid"], detached.id(), "{doc}");
    let status = cutover(&config, &["status"], None);
    assert!(
        status.text.contains("DETACHED: a detached driver holds the cutover"),
        "{}",
        status.text
    );
    // Nobody at the wheel: no retry, no skip, nothing run.
    let ran = s.app.hooks_ran();
    assert_eq!(ran.iter().filter(|h| *h == "stop_consumers").count(), 1, "{ran:?}");
    assert_eq!(
        std::fs::read_to_string(s.app.producer_file()).unwrap().trim(),
        "stopped"
    );

    s.app.fail_hook("stop_consumers", false);
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert!(
        out.text.contains(&format!(
            "took the wave over from the {}",
            cutover::cutover::journal::whoami()
        )) && out.text.contains(&format!("(pid {}, detached driver)", detached.id())),
        "{}",
        out.text
    );
    let status = detached.wait().unwrap();
    std::mem::forget(reap);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut detached.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "the detached driver let go and ended: {stderr}");
    assert!(stderr.is_empty(), "it logs to the log file only: {stderr}");
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("detached: SIGTERM: stopping, as `p` would"), "{said}");
    let handed: Vec<String> = journal(&s)
        .into_iter()
        .filter_map(|e| match e.event {
            Event::HandedOver { text } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(handed.len(), 2, "held, then taken over: {handed:#?}");
    assert!(handed[0].contains(&format!("a detached driver (pid {}) holds the wave", detached.id())));
    assert!(handed[1].contains("took the wave over from the"));
    let ran = s.app.hooks_ran();
    assert_eq!(ran.iter().filter(|h| *h == "stop_consumers").count(), 2, "{ran:?}");
    let entries: Vec<serde_json::Value> = std::fs::read_to_string(&notified)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["entry"].clone())
        .collect();
    let journaled: Vec<serde_json::Value> = journal(&s).iter().map(|e| serde_json::to_value(e).unwrap()).collect();
    assert_eq!(entries, journaled, "each journal entry notified once, in order");
    exactly_once(s, 20, "taken over from a detached driver");
}

/// Answers from a script, in order, and keeps what was asked and said.
struct Script {
    answers: std::collections::VecDeque<bool>,
    asked: Vec<String>,
    said: Vec<String>,
}

impl cutover::cutover::driver::Operator for Script {
    fn typed(&mut self, question: &str, _: &[String], expected: &str) -> bool {
        self.asked.push(format!("{question} [{expected}]"));
        self.answers.pop_front().unwrap_or(false)
    }
    fn yes_no(&mut self, question: &str, _: &[String]) -> bool {
        self.asked.push(question.to_string());
        self.answers.pop_front().unwrap_or(false)
    }
    fn say(&mut self, line: &str) {
        self.said.push(line.to_string());
    }
}

/// A failed step offers a retry, then a typed skip: the operator stopped the consumers by
/// hand, skips the failed stop_consumers step, and the wave goes on to done, exactly once.
#[test]
fn a_failed_step_can_be_skipped_with_its_name_typed() {
    use cutover::cutover::driver::{Driver, Outcome};
    let s = setup();
    let path = wave_config(&s, "stop-the-world");
    let config = cutover::config::load(&path).unwrap();
    let rt = runtime();
    let drive = |answers: &[bool]| {
        let observe = Box::new(|| rt.block_on(cutover::status::snapshot_once(&config)));
        let mut driver = Driver::new(&config, &config.waves[0], false, observe).unwrap();
        let mut op = Script {
            answers: answers.iter().copied().collect(),
            asked: vec![],
            said: vec![],
        };
        let outcome = driver.drive(&mut op).unwrap();
        (outcome, op)
    };
    s.app.fail_hook("stop_consumers", true);
    let (outcome, op) = drive(&[true]);
    assert!(
        matches!(
            &outcome,
            Outcome::Stopped {
                step: cutover::cutover::engine::Step::StopConsumers,
                ..
            }
        ),
        "{outcome:?} {:?}",
        op.said
    );
    // By hand: the consumers stop (and commit what they processed).
    set_place(&s.app.consumer_file(), Place::Stopped);
    std::thread::sleep(Duration::from_secs(2));
    // No to the retry, `skip` typed to the skip.
    let (outcome, op) = drive(&[false, true]);
    assert_eq!(
        outcome,
        Outcome::Finished(cutover::cutover::engine::Finish::Done),
        "{:?}\n{:?}",
        op.asked,
        op.said
    );
    assert!(op.asked[0].contains("stop consumers failed"), "{:?}", op.asked);
    assert!(
        op.asked[1].contains("Skip stop consumers") && op.asked[1].ends_with("[skip]"),
        "{:?}",
        op.asked
    );
    assert!(
        journal(&s).iter().any(|e| matches!(
            &e.event,
            Event::Skipped {
                step: cutover::cutover::engine::Step::StopConsumers,
                ..
            }
        )),
        "the skip is journaled"
    );
    exactly_once(s, 30, "a step skipped");
}

/// Answers every question yes, and before answering the first commit question moves the
/// group's committed source offset of partition 0 back by 3 (someone reset it meanwhile).
struct MovingOperator {
    source: cutover::config::ClusterConfig,
    asked: Vec<(String, Vec<String>)>,
    moved_to: Option<i64>,
}

impl cutover::cutover::driver::Operator for MovingOperator {
    fn typed(&mut self, question: &str, details: &[String], _: &str) -> bool {
        self.asked.push((question.into(), details.to_vec()));
        true
    }
    fn yes_no(&mut self, question: &str, details: &[String]) -> bool {
        self.asked.push((question.into(), details.to_vec()));
        if question.contains("commit these offsets on the target") && self.moved_to.is_none() {
            let now = cutover::kafka::group_offsets(&self.source, "billing", Duration::from_secs(5)).unwrap();
            let at = now[&("orders".to_string(), 0)] - 3;
            common::groups::commit_offsets(&self.source, "billing", &[("orders".into(), 0, at)]).unwrap();
            self.moved_to = Some(at);
        }
        true
    }
    fn say(&mut self, line: &str) {
        eprintln!("{line}");
    }
}

/// confirm = "each-step": the commit question shows the offsets to write; when the group's
/// committed source offsets move between the question and the answer, the engineer is asked
/// again with the difference, and what is written is what the second answer confirmed (the
/// journal keeps both as confirmed). The commit back of a rollback shows its offsets too.
#[test]
fn offsets_that_move_after_the_question_are_asked_again_never_written_unseen() {
    let s = setup();
    let path = wave_config(&s, "stop-the-world");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("confirm = \"wave\"", "confirm = \"each-step\"");
    std::fs::write(&path, text).unwrap();
    let config = cutover::config::load(&path).unwrap();
    let rt = runtime();
    let observe = Box::new(|| rt.block_on(cutover::status::snapshot_once(&config)));
    let mut driver = cutover::cutover::driver::Driver::new(&config, &config.waves[0], false, observe).unwrap();
    let mut op = MovingOperator {
        source: cluster(&s.src, "source"),
        asked: vec![],
        moved_to: None,
    };
    let outcome = driver.drive(&mut op).unwrap();
    assert_eq!(
        outcome,
        cutover::cutover::driver::Outcome::Finished(cutover::cutover::engine::Finish::Done)
    );
    let moved_to = op.moved_to.expect("the commit question was asked");
    let first = op
        .asked
        .iter()
        .position(|(q, _)| q.contains("commit these offsets on the target"))
        .unwrap();
    let (again, details) = &op.asked[first + 1];
    assert!(
        again.contains("the committed offsets moved since you confirmed"),
        "{again}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("moved: billing orders/0: ") && d.ends_with(&format!("-> {moved_to}"))),
        "{details:?}"
    );
    // Written: the plan the second answer confirmed, from the moved offset.
    let c = commits(&s);
    assert_eq!(c.len(), 1, "{c:?}");
    let p0 = c[0].2.iter().find(|m| m.partition == 0).unwrap();
    assert_eq!(p0.from, moved_to, "{p0:?}");
    assert!(
        details
            .iter()
            .any(|d| d.contains("src.orders/0 ") && d.contains(&format!("(source offset {moved_to};"))),
        "the second question shows the offsets written: {details:?}"
    );
    let confirmed: Vec<Vec<String>> = journal(&s)
        .into_iter()
        .filter_map(|e| match e.event {
            Event::Confirmed { what, details } if what.starts_with("commit offsets: ") => Some(details),
            _ => None,
        })
        .collect();
    assert_eq!(
        confirmed.len(),
        2,
        "both answers journaled with what they saw: {confirmed:?}"
    );
    // The commit back of a rollback shows its offsets.
    assert!(driver.start_rollback(&mut op).unwrap());
    let outcome = driver.drive(&mut op).unwrap();
    assert_eq!(
        outcome,
        cutover::cutover::driver::Outcome::Finished(cutover::cutover::engine::Finish::RolledBack)
    );
    let (_, back) = op
        .asked
        .iter()
        .find(|(q, _)| q.contains("commit these offsets back on the source"))
        .expect("the commit back was asked");
    assert!(back.iter().any(|l| l.starts_with("billing orders/0 ")), "{back:?}");
}

/// A wait that cannot end (the flip_consumers hook "forgets" to start the consumers on the
/// target, so the group never turns Stable there) stops the wave at its deadline as FAILED,
/// saying what it waited for, instead of waiting silently; then it rolls back.
#[test]
fn a_wait_past_its_deadline_stops_the_wave_with_the_reason() {
    let s = setup();
    let path = wave_config_with(
        &s,
        "stop-the-world",
        "[wave.wait_timeout]\ngroups_stable_on_target = \"4s\"\n",
    );
    set_hook(&path, "flip_consumers", "true");
    let started = std::time::Instant::now();
    let out = cutover(&path, &["run", "--wave", "w1", "--yes"], None);
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(
        out.text
            .contains("flip consumers: FAILED: waited 4s for: groups Stable on the target (wait_timeout); last: "),
        "{}",
        out.text
    );
    assert!(started.elapsed() < Duration::from_secs(120), "{:?}", started.elapsed());
    let failed = journal(&s).into_iter().any(|e| {
        matches!(&e.event, Event::ActionFailed { reason, .. } if reason.starts_with("waited 4s for: groups Stable on the target"))
    });
    assert!(failed, "the deadline is journaled as the step's failure");
    let out = cutover(&path, &["rollback", "--wave", "w1", "--yes"], None);
    assert_eq!(out.code, Some(0), "{}", out.text);
    exactly_once(s, 20, "rolled back after a wait's deadline");
}

/// `p` (the job's token) while the preflight validates a topic held to a slow rate limit: the
/// validation stops within a second, the wave is journaled paused with its preflight not done,
/// and driving it again runs the preflight anew.
#[test]
fn p_during_a_validation_stops_it_within_a_second() {
    let _slot = slot();
    // sqlite: many records in one produce request (tansu's memory engine miscounts them).
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 1)]);
    create(&tgt, &[TopicSpec::new("src.orders", 1)]);
    produce(&src, "orders", 0, 1000, false);
    let replicator = Replicator::start(ReplicatorSpec::new(
        cluster(&src, "source"),
        cluster(&tgt, "target"),
        mm2(),
        &["orders"],
    ))
    .expect("replicator");
    wait_for(Duration::from_secs(60), "1000 records copied", || {
        (replicator.position("orders", 0) >= 1000).then_some(())
    });
    // 1,000 bytes a second for both clusters: about 16 s to compare the 1,000 records.
    let journal_path = dir.path().join("cutover.journal");
    let path = config_file(
        dir.path(),
        &src,
        &tgt,
        &format!(
            "[replication]\nsource_alias = \"src\"\ntarget_alias = \"dst\"\n\
             [monitor]\nrefresh_interval = \"500ms\"\nrequest_timeout = \"5s\"\n\
             [validation]\nrate_limit_mb_per_s = 0.001\n\
             [cutover]\njournal = \"{}\"\n\
             [[wave]]\nname = \"w1\"\ntopics = [\"orders\"]\nconfirm = \"wave\"\n",
            journal_path.display()
        ),
    );
    let config = cutover::config::load(&path).unwrap();
    let rt = runtime();
    let stop = cutover::jobs::CancelToken::default();
    let (outcome, stopped_in) = std::thread::scope(|scope| {
        let drive = scope.spawn(|| {
            let observe = Box::new(|| rt.block_on(cutover::status::snapshot_once(&config)));
            let mut driver = cutover::cutover::driver::Driver::new(&config, &config.waves[0], false, observe).unwrap();
            driver.stop = stop.clone();
            let outcome = driver.drive(&mut Yes).unwrap();
            (outcome, std::time::Instant::now())
        });
        wait_for(Duration::from_secs(30), "the preflight to start", || {
            let j = cutover::cutover::journal::read(&journal_path).unwrap();
            j.iter()
                .any(|e| {
                    matches!(
                        e.event,
                        Event::ActionStarted {
                            step: cutover::cutover::engine::Step::Preflight,
                            ..
                        }
                    )
                })
                .then_some(())
        });
        // Well into the validation, which has ~15 s to go.
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            !drive.is_finished(),
            "the validation ended before `p`: the test proves nothing"
        );
        let pressed = std::time::Instant::now();
        stop.cancel();
        let (outcome, ended) = drive.join().unwrap();
        (outcome, ended - pressed)
    });
    assert_eq!(outcome, cutover::cutover::driver::Outcome::Paused);
    eprintln!("the validation stopped {stopped_in:?} after `p`");
    assert!(stopped_in < Duration::from_secs(1), "stopped {stopped_in:?} after `p`");
    let entries = cutover::cutover::journal::read(&journal_path).unwrap();
    assert_eq!(entries.last().map(|e| &e.event), Some(&Event::Paused));
    assert!(
        !entries.iter().any(|e| matches!(e.event, Event::ActionDone { .. })),
        "nothing was done: {entries:?}"
    );
    drop(replicator);
}

/// Says yes to everything.
struct Yes;

impl cutover::cutover::driver::Operator for Yes {
    fn typed(&mut self, _: &str, _: &[String], _: &str) -> bool {
        true
    }
    fn yes_no(&mut self, _: &str, _: &[String]) -> bool {
        true
    }
    fn say(&mut self, line: &str) {
        eprintln!("{line}");
    }
}

/// A member of `group` on `bootstrap` reading `topic` until `stop` (client id "app", so the
/// request counts can leave it out): the wave's groups-Empty wait never ends while it is there.
fn member(
    bootstrap: &str,
    group: &str,
    topic: &str,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("client.id", "app")
        // tansu lists a group once it has committed offsets.
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "200")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    std::thread::spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = consumer.poll(Duration::from_millis(100));
        }
    })
}

/// The checks of a wave follow the monitor's snapshots: while a wave waits (here for its group
/// to leave the source, which it never does), the cockpit's clients send the source as many
/// requests per poll as the idle cockpit's. Counted by a proxy before the source broker; the
/// same wait with checks that poll on their own (the driver before) is shown to be counted.
#[test]
fn a_waiting_wave_adds_no_request_to_the_monitors_polls() {
    use common::proxy::{requests_between, CountingProxy};
    let _slot = slot();
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = CountingProxy::bind();
    // memory://: tansu's sqlite engine breaks DescribeGroups (test-brokers.md), so its members
    // would not show; records go one per request (its end-offset deviation).
    let src = TansuBroker::start_advertising(&dir.path().join("source"), "src", Storage::Memory, Some(proxy.port))
        .expect("source broker");
    proxy.forward_to(src.port);
    let tgt = TansuBroker::start(&dir.path().join("target"), "tgt", Storage::Memory).expect("target broker");
    create(&src, &[TopicSpec::new("orders", 1)]);
    create(&tgt, &[TopicSpec::new("orders", 1)]);
    // The same records on both sides, at the same offsets: an offset-preserving copy.
    produce(&src, "orders", 0, 20, true);
    produce(&tgt, "orders", 0, 20, true);
    let stop_member = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let member = member(&proxy.bootstrap(), "billing", "orders", stop_member.clone());
    let journal_path = dir.path().join("cutover.journal");
    let text = format!(
        "[source]\nname = \"src-cluster\"\nbootstrap = \"{}\"\n[target]\nname = \"tgt-cluster\"\nbootstrap = \"{}\"\n\
         [replication]\nkind = \"offset-preserving\"\npolicy = \"identity\"\n\
         [monitor]\nrefresh_interval = \"500ms\"\nrequest_timeout = \"5s\"\n\
         [cutover]\njournal = \"{}\"\n\
         [[wave]]\nname = \"w1\"\ntopics = [\"orders\"]\ngroups = [\"billing\"]\nstrategy = \"consumers-first\"\nconfirm = \"wave\"\n",
        proxy.bootstrap(),
        tgt.bootstrap(),
        journal_path.display()
    );
    let config = cutover::config::parse(std::path::Path::new("test.toml"), &text, &|_| None).unwrap();
    let rt = runtime();
    let _entered = rt.enter();
    let monitor = cutover::monitor::Monitor::start(&config).unwrap();
    // tansu's memory engine may list no member: the group's state says it has one.
    wait_for(Duration::from_secs(30), "the group Stable on the source", || {
        let s = latest(&monitor);
        let groups = s.source.state()?.groups.clone().ok()?;
        groups
            .iter()
            .any(|g| g.name == "billing" && g.status == cutover::model::GroupStatus::Stable)
            .then_some(())
    });
    let window = Duration::from_secs(6);
    let count = |what: &str| {
        let before = proxy.counts();
        std::thread::sleep(window);
        let n = requests_between(&before, &proxy.counts(), "app");
        eprintln!("{what}: {n} requests to the source in {window:?}");
        n
    };
    let idle = count("idle cockpit");
    assert!(idle >= 10, "the monitor polled the source through the proxy: {idle}");
    let following = wait_and_count(&config, &journal_path, &count, &|| {
        cutover::cutover::clusters::follow(monitor.snapshots.clone(), &config, Default::default())
    });
    assert!(
        following as f64 <= idle as f64 * 1.25 + 4.0,
        "a waiting wave added requests: {following} against {idle} idle"
    );
    // The measure tells: checks polling on their own (the driver before) are counted.
    let own = wait_and_count(&config, &journal_path, &count, &|| {
        Box::new(|| rt.block_on(cutover::status::snapshot_once(&config)))
    });
    assert!(
        own as f64 > idle as f64 * 1.5,
        "polls of its own should show: {own} against {idle} idle"
    );
    stop_member.store(true, std::sync::atomic::Ordering::SeqCst);
    member.join().unwrap();
}

/// Drives the wave until it waits for its groups to leave the source, counts the requests of
/// a window there (`count`), then pauses it. `observe` is made on the driving thread (a driver
/// stays on the thread that made it).
fn wait_and_count<'a>(
    config: &'a cutover::config::Config,
    journal_path: &std::path::Path,
    count: &dyn Fn(&str) -> u64,
    observe: &(dyn Fn() -> Box<cutover::cutover::clusters::Observe<'a>> + Sync),
) -> u64 {
    use cutover::cutover::engine::{Action, Check};
    let stop = cutover::jobs::CancelToken::default();
    std::thread::scope(|scope| {
        let driving = scope.spawn(|| {
            let mut driver = cutover::cutover::driver::Driver::new(config, &config.waves[0], false, observe()).unwrap();
            driver.stop = stop.clone();
            driver.drive(&mut Yes).unwrap()
        });
        wait_for(
            Duration::from_secs(60),
            "the wave waiting for its group to leave the source",
            || {
                let j = cutover::cutover::journal::read(journal_path).unwrap();
                let waiting = Action::Wait(Check::GroupsEmptyOnSource);
                matches!(j.last()?.event, Event::ActionStarted { action, .. } if action == waiting).then_some(())
            },
        );
        std::thread::sleep(Duration::from_secs(1));
        let n = count("wave waiting");
        stop.cancel();
        assert_eq!(driving.join().unwrap(), cutover::cutover::driver::Outcome::Paused);
        n
    })
}

/// Answers yes; at the commit question it freezes the target broker (SIGSTOP: it answers
/// nothing, as a hung broker) and notes when.
struct FreezingOperator<'a> {
    target: &'a TansuBroker,
    frozen_at: &'a std::sync::Mutex<Option<std::time::Instant>>,
    lines: Vec<String>,
}

impl cutover::cutover::driver::Operator for FreezingOperator<'_> {
    fn typed(&mut self, _: &str, _: &[String], _: &str) -> bool {
        true
    }
    fn yes_no(&mut self, question: &str, _: &[String]) -> bool {
        let mut frozen_at = self.frozen_at.lock().unwrap();
        if question.contains("commit these offsets on the target") && frozen_at.is_none() {
            self.target.freeze(true).unwrap();
            *frozen_at = Some(std::time::Instant::now());
        }
        true
    }
    fn say(&mut self, line: &str) {
        eprintln!("{line}");
        self.lines.push(line.to_string());
    }
}

/// A transient error goes by: the target broker hangs for 2 s (longer than the 1.5 s request
/// timeout) just as the offsets are committed there; the commit is retried with backoff, each
/// try said, and the wave goes on to its end, exactly once. (The permanent counterpart, a
/// topic deleted mid-wave, is in kafka_wave.rs.)
#[test]
fn a_broker_away_for_2_s_at_the_commit_is_retried_and_the_wave_goes_on() {
    // Alone: with other tests' brokers busy, a fresh client's first answer can take longer
    // than the short timeout that makes a 2 s absence an error (CI saw every try time out).
    let s = setup_in(slots(3));
    let path = wave_config(&s, "stop-the-world");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("confirm = \"wave\"", "confirm = \"each-step\"")
        .replace("request_timeout = \"5s\"", "request_timeout = \"1500ms\"");
    std::fs::write(&path, text).unwrap();
    let config = cutover::config::load(&path).unwrap();
    let rt = runtime();
    let frozen_at = std::sync::Mutex::new(None);
    let (outcome, lines) = std::thread::scope(|scope| {
        scope.spawn(|| {
            // The target comes back 2 s after it hung.
            let at: std::time::Instant = wait_for(Duration::from_secs(300), "the commit question", || {
                *frozen_at.lock().unwrap()
            });
            std::thread::sleep(Duration::from_secs(2).saturating_sub(at.elapsed()));
            s.tgt.freeze(false).unwrap();
        });
        let observe = Box::new(|| rt.block_on(cutover::status::snapshot_once(&config)));
        let mut driver = cutover::cutover::driver::Driver::new(&config, &config.waves[0], false, observe).unwrap();
        let mut op = FreezingOperator {
            target: &s.tgt,
            frozen_at: &frozen_at,
            lines: vec![],
        };
        let outcome = driver.drive(&mut op).unwrap();
        (outcome, op.lines)
    });
    assert_eq!(
        outcome,
        cutover::cutover::driver::Outcome::Finished(cutover::cutover::engine::Finish::Done)
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("commit for billing on the target: ") && l.contains("try 2 of 5")),
        "the retry is said with its count: {lines:#?}"
    );
    let failed: Vec<_> = journal(&s)
        .into_iter()
        .filter(|e| matches!(e.event, Event::ActionFailed { .. }))
        .collect();
    assert!(failed.is_empty(), "nothing failed: {failed:?}");
    assert_eq!(commits(&s).len(), 1, "one commit: {:?}", commits(&s));
    exactly_once(s, 20, "a broker away for 2 s at the commit");
}

/// `[notify] command` gets every state change of a wave (each journal entry), once and in
/// order, as JSON on its stdin.
#[test]
fn the_notify_command_gets_each_state_change_once_in_order() {
    let s = setup();
    let got = s.dir.path().join("notified.jsonl");
    let path = wave_config(&s, "stop-the-world");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!("\n[notify]\ncommand = \"cat >> {}\"\n", got.display()));
    std::fs::write(&path, text).unwrap();
    let out = cutover(&path, &["run", "--wave", "w1", "--yes"], None);
    assert_eq!(out.code, Some(0), "{}", out.text);
    let notified: Vec<serde_json::Value> = std::fs::read_to_string(&got)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let journaled: Vec<serde_json::Value> = journal(&s)
        .into_iter()
        .map(|e| serde_json::to_value(&e).unwrap())
        .collect();
    assert!(journaled.len() > 20, "{journaled:?}");
    let entries: Vec<&serde_json::Value> = notified.iter().map(|n| &n["entry"]).collect();
    assert_eq!(
        entries,
        journaled.iter().collect::<Vec<_>>(),
        "each journal entry once, in order"
    );
    assert!(notified.iter().all(|n| n["kind"] == "journal"));
    exactly_once(s, 20, "with notifications");
}

/// A notify command that hangs never delays the wave: it is killed at its timeout and the
/// wave goes on; at the end the drive waits at most 5 s for what is still queued.
#[test]
fn a_hanging_notify_command_does_not_delay_the_wave() {
    let s = setup();
    let path = wave_config(&s, "stop-the-world");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[notify]\ncommand = \"sleep 600\"\ntimeout = \"30s\"\n");
    std::fs::write(&path, text).unwrap();
    let started = std::time::Instant::now();
    let out = cutover(&path, &["run", "--wave", "w1", "--yes"], None);
    let took = started.elapsed();
    assert_eq!(out.code, Some(0), "{}", out.text);
    let entries = journal(&s);
    let first = entries.first().unwrap().time();
    let last = entries.last().unwrap().time();
    let wave = last.duration_since(first).unwrap();
    eprintln!(
        "the wave took {wave:?}, the run {took:?}, with {} entries to notify",
        entries.len()
    );
    // Waiting for each notification would have taken 30 s per entry.
    assert!(wave < Duration::from_secs(60), "the wave took {wave:?}");
    assert!(
        took < wave + Duration::from_secs(20),
        "the run took {took:?} for a wave of {wave:?}"
    );
    let log = std::fs::read_to_string(s.dir.path().join("cutover.log")).unwrap();
    assert!(
        log.contains("notifications still queued at exit are not sent"),
        "said in the log"
    );
    exactly_once(s, 20, "with a hanging notify command");
}

/// `cutover status --json`'s alarms (one poll of both clusters and the journal).
fn status_alarms(config: &std::path::Path) -> (Option<i32>, Vec<serde_json::Value>) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(config)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (out.status.code(), doc["alarms"].as_array().cloned().unwrap_or_default())
}

/// Acceptance (issue 23, stray clients): after a wave is done, a producer left writing to the
/// source and a consumer left in the wave's group there: each an alarm within two polls in the
/// cockpit (its header), in its journal (nobody drives: the cockpit records it), in its
/// metrics (`cutover_alarm`) and in `status --json`; nothing while nothing is left behind, with the application running on the
/// target.
#[test]
fn a_producer_and_a_consumer_left_on_the_source_are_alarms_within_two_polls() {
    use common::tmux::Tmux;
    let s = setup();
    // The cockpit serves its metrics too: the alarms are there as well.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics = format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n");
    let config = wave_config_with(&s, "stop-the-world", &metrics);
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    assert_eq!(out.code, Some(0), "{}", out.text);
    let (_, alarms) = status_alarms(&config);
    assert!(alarms.is_empty(), "nothing is left behind yet: {alarms:?}");
    let alarm_metric = |kind: &str| {
        let (_, body) = common::http::get(port, "/metrics")?;
        let line = format!("cutover_alarm{{wave=\"w1\",kind=\"{kind}\"}} 1");
        body.contains(&line).then_some(())
    };

    let t = Tmux::open("strays", &config, "");
    t.wait_screen("both clusters polled", |s| s.matches("LIVE").count() == 2);
    std::thread::sleep(Duration::from_secs(1));
    assert!(!t.screen().contains("STRAY"), "{}", t.screen());

    // A producer left behind: three records to orders/1 on the source, in the application's
    // format (the replicator copies them on, and the application on the target reads them).
    let w = cutover::demo::clients::RecordWriter::new(&cluster(&s.src, "stray"), true).unwrap();
    for seq in 0..3 {
        let value = format!("1:{}", 1_000_000 + seq).into_bytes();
        let r = cutover::kafka::records::Record {
            key: None,
            value: Some(value),
            headers: vec![],
            timestamp: None,
        };
        w.send("orders", 1, &r).unwrap();
    }
    w.flush(Duration::from_secs(10)).unwrap();
    let written = std::time::Instant::now();
    let screen = t.wait_screen("the stray producer alarm", |s| s.contains("STRAY CLIENTS: w1"));
    let producer_after = written.elapsed();
    let (code, alarms) = status_alarms(&config);
    assert_eq!(code, Some(1), "an alarm needs attention");
    let texts: Vec<String> = alarms
        .iter()
        .map(|a| a["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        alarms.iter().any(|a| a["kind"] == "stray-producer")
            && texts
                .iter()
                .any(|t| t.contains("3 record(s) written to the source after flip_producers (orders/1 +3)")),
        "{alarms:#?}"
    );

    assert!(
        alarm_metric("stray-producer").is_some(),
        "the cockpit's metrics carry the alarm"
    );

    // A consumer left behind: a member of billing on the source.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let m = member(&s.src.bootstrap(), "billing", "orders", stop.clone());
    let seen_by_status = wait_for(Duration::from_secs(30), "the member seen by a poll", || {
        let (_, alarms) = status_alarms(&config);
        alarms
            .iter()
            .any(|a| a["kind"] == "stray-consumer")
            .then(|| (std::time::Instant::now(), alarms))
    });
    t.keys(&["7"]);
    let screen2 = t.wait_screen("the stray consumer alarm", |s| {
        s.contains("STRAY CONSUMER") || s.contains("stray")
    });
    let consumer_after = seen_by_status.0.elapsed();
    let consumer_text = seen_by_status.1.iter().find(|a| a["kind"] == "stray-consumer").unwrap()["text"].clone();
    assert!(
        consumer_text
            .as_str()
            .unwrap()
            .contains("group billing has 1 member(s) on the source"),
        "{consumer_text}"
    );
    assert!(
        alarm_metric("stray-consumer").is_some(),
        "the cockpit's metrics carry the alarm"
    );
    stop.store(true, Ordering::SeqCst);
    m.join().unwrap();

    // Both in the journal, recorded by the cockpit.
    let entries = journal(&s);
    let journaled: Vec<String> = entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::Alarm { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    eprintln!("{screen}\n{screen2}\nproducer alarm after {producer_after:?}, consumer alarm {consumer_after:?} after status saw it\n{journaled:#?}");
    // Each once: raised, journaled and told once while it lasts.
    let count = |prefix: &str| journaled.iter().filter(|t| t.starts_with(prefix)).count();
    assert_eq!(count("STRAY PRODUCER: wave w1"), 1, "{journaled:#?}");
    assert_eq!(count("STRAY CONSUMER: wave w1"), 1, "{journaled:#?}");
    // Two polls of 500 ms, and the test's reading of the screen.
    assert!(
        producer_after < Duration::from_millis(2 * 500 + 600),
        "{producer_after:?}"
    );
    assert!(
        consumer_after < Duration::from_millis(2 * 500 + 600),
        "{consumer_after:?}"
    );
    t.keys(&["q"]);
    t.assert_exited_sane(0);
}
