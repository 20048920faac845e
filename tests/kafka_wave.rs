//! Staged cutovers on real Apache Kafka (source 3.9.x, target 4.x) with the real MirrorMaker 2
//! copying: an application (a producer writing sequence numbers, a consumer group committing
//! what it processed) is moved by `cutover run` through the wave's hooks; every acknowledged
//! record is processed exactly once, in order per partition. Both strategies, a `kill -9` of
//! the driver at each step, and a rollback after `flip_producers`. One estate is shared.
//!
//! The target topic is created before MM2 copies into it, with 5 records of its own on
//! partition 0: source and target offsets differ there, so a commit copied as is would skip.

mod common;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::app::{journaled_commits, set_hook, App, AppSpec};
use common::cli::{cutover, cutover_watching};
use common::kafka::*;
use common::wait_for;
use cutover::cutover::engine::{OffsetMove, Side};
use cutover::demo::clients::{RecordWriter, TopicSpec};

const PARTITIONS: i32 = 3;

struct Wave {
    dir: PathBuf,
    app: App,
    topic: String,
    group: String,
    /// The MM2 flow's aliases.
    flow: (String, String),
}

/// Topics, the application processing on the source, MM2 copying (the shared flow).
fn setup(name: &str) -> Wave {
    setup_with(name, (SOURCE_ALIAS, TARGET_ALIAS), None)
}

/// As `setup`, copied by the MM2 flow `flow`, the application writing transactions with every
/// `abort_every`-th aborted when Some.
fn setup_with(name: &str, flow: (&str, &str), abort_every: Option<u64>) -> Wave {
    let e = estate();
    let (src, tgt) = (e.source_cluster(), e.target_cluster());
    let topic = format!("{name}-orders");
    let group = format!("{name}-billing");
    let target_topic = format!("{}.{topic}", flow.0);
    create(&tgt, &[TopicSpec::new(&target_topic, PARTITIONS)]);
    let w = RecordWriter::new(&tgt, false).unwrap();
    for seq in 0..5 {
        w.send(&target_topic, 0, &numbered(0, 1_000_000 + seq)).unwrap();
    }
    w.flush(Duration::from_secs(10)).unwrap();
    create(&src, &[TopicSpec::new(&topic, PARTITIONS)]);
    let dir = run_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let app = App::start(
        &dir,
        AppSpec {
            source: src,
            target: tgt,
            topic: topic.clone(),
            target_topic,
            partitions: PARTITIONS,
            group: group.clone(),
            pause: Duration::from_millis(20),
            abort_every,
        },
    );
    wait_for(Duration::from_secs(60), "the group processing on the source", || {
        (app.processed.lock().unwrap().len() > 60).then_some(())
    });
    // MM2 found the topic, copies it and beats (a preflight refuses a wave before that).
    let replication = cutover::config::Replication {
        source_alias: flow.0.into(),
        target_alias: flow.1.into(),
        ..Default::default()
    };
    wait_for(
        Duration::from_secs(120),
        &format!("MM2 copying {topic}; {}", e.logs()),
        || {
            let m = cutover::kafka::mm2::read_once(
                &e.source_cluster(),
                &e.target_cluster(),
                &replication,
                Duration::from_secs(10),
            )
            .ok()?;
            let synced = (0..PARTITIONS).all(|p| m.syncs.newest(&topic, p).is_some());
            (synced && m.heartbeat_ms.is_some()).then_some(())
        },
    );
    Wave {
        dir,
        app,
        topic,
        group,
        flow: (flow.0.to_string(), flow.1.to_string()),
    }
}

fn wave_config(e: &Estate, w: &Wave, strategy: &str) -> PathBuf {
    let journal = w.dir.join("cutover.journal");
    config_file(
        &w.dir,
        &e.config_text(&format!(
            "[replication]\nsource_alias = \"{}\"\ntarget_alias = \"{}\"\n\
             [monitor]\nrefresh_interval = \"500ms\"\nrequest_timeout = \"5s\"\n\
             [topics]\ninclude = [\"{topic}\"]\n[groups]\ninclude = [\"{group}\"]\n\
             [cutover]\njournal = \"{}\"\nsettle = \"3s\"\nhook_timeout = \"20s\"\n\
             [[wave]]\nname = \"w1\"\ntopics = [\"{topic}\"]\ngroups = [\"{group}\"]\nstrategy = \"{strategy}\"\nconfirm = \"wave\"\n\
             {}",
            w.flow.0,
            w.flow.1,
            journal.display(),
            w.app.hooks_toml(),
            topic = w.topic,
            group = w.group,
        )),
    )
}

fn commits(w: &Wave) -> Vec<(Side, String, Vec<OffsetMove>)> {
    journaled_commits(&w.dir.join("cutover.journal"))
}

/// Lets the application run on, stops it, and checks every acknowledged record was processed
/// exactly once, in order per partition. Returns how many were processed on the target.
fn exactly_once(w: Wave, more: usize, what: &str) -> usize {
    w.app
        .run_on_then_check_exactly_once(more, Duration::from_secs(90), what)
}

fn whole_wave(name: &str, strategy: &str) {
    let e = estate();
    let w = setup(name);
    let config = wave_config(e, &w, strategy);
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(0), "{}\n{}", out.text, e.logs());
    assert!(out.text.contains("wave w1 done"), "{}", out.text);
    let c = commits(&w);
    assert_eq!(c.len(), 1, "one commit for the group: {c:?}");
    assert_eq!(c[0].0, Side::Target);
    assert_eq!(c[0].2.len(), PARTITIONS as usize, "{c:?}");
    let p0 = c[0].2.iter().find(|m| m.partition == 0).unwrap();
    assert_eq!(
        p0.new,
        p0.from + 5,
        "partition 0 is shifted by the target's own 5 records: {p0:?}"
    );
    assert_eq!(std::fs::read_to_string(w.app.consumer_file()).unwrap().trim(), "target");
    let on_target = exactly_once(w, 40, strategy);
    assert!(on_target > 30, "{on_target} processed on the target");
}

#[test]
fn stop_the_world_moves_the_application_exactly_once() {
    whole_wave("wstw", "stop-the-world");
}

#[test]
fn consumers_first_moves_the_application_exactly_once() {
    whole_wave("wcf", "consumers-first");
}

/// `kill -9` of the driver as each step begins, then `cutover run` again: it resumes at the
/// right step and completes, with one commit for the group, exactly once.
#[test]
fn kill_9_at_each_step_then_run_again_completes_exactly_once() {
    let e = estate();
    let w = setup("wkill");
    let config = wave_config(e, &w, "stop-the-world");
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
            Some(0) => break,
            Some(c) => panic!("exit {c} before {step}:\n{}", out.text),
        }
    }
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert!(kills >= 6, "killed {kills} times");
    assert_eq!(commits(&w).len(), 1, "one commit for the group");
    let on_target = exactly_once(w, 40, &format!("killed {kills} times"));
    assert!(on_target > 30);
}

/// A rollback after `flip_producers` (the wave done, records written on the target only): the
/// application is back on the source, every forward commit undone once, exactly once.
#[test]
fn rollback_after_flip_producers_returns_the_application_exactly_once() {
    let e = estate();
    let w = setup("wrb");
    let config = wave_config(e, &w, "stop-the-world");
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    assert_eq!(out.code, Some(0), "{}", out.text);
    let before = w.app.processed.lock().unwrap().len();
    wait_for(Duration::from_secs(60), "records processed on the target", || {
        (w.app.processed.lock().unwrap().len() > before + 20).then_some(())
    });
    let acked_on_target_before = w.app.acked_on_target.load(Ordering::SeqCst);
    let mut shown = Vec::new();
    let out = cutover_watching(&config, &["rollback", "--wave", "w1", "--yes"], None, &mut |line| {
        if let Some(n) = line
            .trim()
            .strip_suffix("exist only on the target: the target groups process them before they move back")
        {
            shown.push(n.split(' ').next().unwrap().parse::<usize>().unwrap());
        }
    });
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert!(out.text.contains("wave w1 rolled back"), "{}", out.text);
    assert_eq!(shown.len(), 1, "{}", out.text);
    assert!(
        shown[0] >= acked_on_target_before && acked_on_target_before > 0,
        "{shown:?} vs {acked_on_target_before}"
    );
    assert_eq!(std::fs::read_to_string(w.app.consumer_file()).unwrap().trim(), "source");
    assert_eq!(std::fs::read_to_string(w.app.producer_file()).unwrap().trim(), "source");
    let c = commits(&w);
    let forward = c.iter().filter(|c| c.0 == Side::Target).count();
    let back = c.iter().filter(|c| c.0 == Side::Source).count();
    assert_eq!((forward, back), (1, 1), "the forward commit undone once: {c:?}");
    exactly_once(w, 40, "rolled back after flip_producers");
}

/// A transactional application (every 4th transaction aborted) and a `read_committed` group,
/// copied by an MM2 flow whose source consumer reads committed records only (as users of
/// transactions configure it): the wave walks the transaction markers, and every committed
/// record is processed exactly once, no aborted one ever.
#[test]
fn a_transactional_application_and_read_committed_group_cut_over_exactly_once() {
    let e = estate();
    let _mm2 = start_mm2(
        &run_dir().join("mm2-txn"),
        &e.source,
        &e.target,
        ("txa", "txb"),
        &[
            ("topics", "wtx-.*"),
            ("groups", "wtx-.*"),
            ("txa.consumer.isolation.level", "read_committed"),
        ],
    );
    let w = setup_with("wtx", ("txa", "txb"), Some(4));
    let config = wave_config(e, &w, "stop-the-world");
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(0), "{}\n{}", out.text, e.logs());
    let c = commits(&w);
    assert_eq!(c.len(), 1, "{c:?}");
    // Markers and aborted records make source offsets run ahead of the target's.
    let p1 = c[0].2.iter().find(|m| m.partition == 1).unwrap();
    assert!(
        p1.new < p1.from,
        "the target has no markers nor aborted records: {p1:?}"
    );
    let on_target = exactly_once(w, 40, "transactions");
    assert!(on_target > 30);
}

/// While the application writes on the source again and MM2 copies, after a rollback that left
/// records on the target only: the cockpit's lag for the wave's topic is never negative nor
/// MISMATCH, and (when `explained`) the overview names the records written on the target.
fn lag_never_negative_while_copying(config: &std::path::Path, topic: &str, explained: bool) {
    let config = cutover::config::load(config).expect("the wave's config loads");
    let rt = common::runtime();
    let _enter = rt.enter();
    let monitor = cutover::monitor::Monitor::start(&config).unwrap();
    let (mut seen, mut seq, mut noted) = (0, 0, false);
    let until = std::time::Instant::now() + Duration::from_secs(12);
    while std::time::Instant::now() < until {
        let snap = common::latest(&monitor);
        if snap.seq != seq && snap.source.state().is_some() && snap.target.state().is_some() {
            seq = snap.seq;
            let pairs = cutover::model::overview::topic_pairs(
                &snap,
                &config.replication,
                &config.topics,
                &config.monitor,
                std::time::SystemTime::now(),
            );
            if let Some(p) = pairs.iter().find(|p| p.source_topic == topic) {
                if p.status == cutover::model::overview::PairStatus::Stale {
                    continue;
                }
                if p.lag.is_some_and(|l| l < 0) {
                    let rows =
                        cutover::model::overview::PartitionRows::new(&snap, &config.replication, topic, |_| true);
                    let parts: Vec<_> = (0..rows.len()).filter_map(|i| rows.row(i)).collect();
                    let mm2 = snap.mm2.as_ref().map(|m| m.syncs.newest_of_topic(topic));
                    panic!(
                        "negative lag after the rollback: {p:?}\npartitions: {parts:?}\nsyncs: {mm2:?}\nranges: {:?}",
                        snap.target_only
                    );
                }
                assert_ne!(p.status, cutover::model::overview::PairStatus::Mismatch, "{p:?}");
                noted |= p
                    .note
                    .as_deref()
                    .is_some_and(|n| n.contains("written on the target during wave w1"));
                seen += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(seen >= 10, "only {seen} snapshots of {topic}");
    assert_eq!(
        noted, explained,
        "the overview's note on the records written on the target"
    );
}

/// `cutover validate --topic T --json`: exit code, rows.
fn validate_topic(config: &std::path::Path, topic: &str) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let (code, out, err) = cutover_output(config, &["validate", "--topic", topic, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (
        code,
        doc["partitions"].as_array().cloned().unwrap_or_default(),
        format!("{out}{err}"),
    )
}

/// Cut over, roll back at `rollback_at` (`flip_producers`: after the wave is done; else the
/// step at which the driver is stopped and the wave rolled back), then with the application
/// writing on the source again and MM2 copying: validation PASS (the target-only records
/// shown as explained), lag never negative, `translate` exact for the group; then the wave
/// runs again and every acknowledged record is processed exactly once across the cut over,
/// the rollback and the second cut over.
fn rollback_then_run_again(name: &str, strategy: &str, after_flip_producers: bool) {
    let e = estate();
    let w = setup(name);
    let config = wave_config(e, &w, strategy);
    if after_flip_producers {
        let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
        assert_eq!(out.code, Some(0), "{}", out.text);
        let before = w.app.processed.lock().unwrap().len();
        wait_for(
            Duration::from_secs(60),
            "records written and processed on the target",
            || {
                (w.app.processed.lock().unwrap().len() > before + 20
                    && w.app.acked_on_target.load(Ordering::SeqCst) > 20)
                    .then_some(())
            },
        );
    } else {
        // Stopped (kill -9) once the groups read on the target, before the producers move.
        let out = cutover(
            &config,
            &["run", "--wave", "w1", "--yes"],
            Some("flip consumers: groups Stable on the target"),
        );
        assert_ne!(out.code, Some(0), "killed at flip_consumers: {}", out.text);
    }
    let (code, report, text) = cutover_output(&config, &["rollback", "--wave", "w1", "--yes", "--json"]);
    eprintln!("{text}");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("wave w1 rolled back"), "{text}");
    // The rollback's report, on screen and as JSON: per partition, what exists on the target
    // only, which is every record the application had acknowledged there.
    let report: serde_json::Value = serde_json::from_str(&report).unwrap_or_else(|e| panic!("{e}: {report}"));
    assert_eq!(report["rollback"], "rolled back", "{report}");
    let ranges = report["target_only"].as_array().unwrap();
    let on_screen = text
        .lines()
        .filter(|l| l.contains("exist on the target only (never on the source)"))
        .count();
    assert_eq!(on_screen, ranges.len(), "{text}");
    if after_flip_producers {
        assert!(!ranges.is_empty(), "{report}");
        let written: i64 = ranges.iter().map(|r| r["records"].as_i64().unwrap()).sum();
        assert_eq!(
            written as usize,
            w.app.acked_on_target.load(Ordering::SeqCst),
            "the ranges hold every record acknowledged on the target: {report}"
        );
    } else {
        assert!(ranges.is_empty(), "{report}");
        assert!(text.contains("no record was written on the target only"), "{text}");
    }
    // The application writes on the source again and MM2 copies after the target-only records.
    let acked = w.app.acked.lock().unwrap().len();
    wait_for(
        Duration::from_secs(60),
        "the application writing on the source again",
        || (w.app.acked.lock().unwrap().len() > acked + 60).then_some(()),
    );
    lag_never_negative_while_copying(&config, &w.topic, after_flip_producers);
    let (code, rows, out) = validate_topic(&config, &w.topic);
    assert_eq!(code, Some(0), "validation after the rollback: {out}");
    assert_eq!(rows.len(), PARTITIONS as usize, "{out}");
    for r in &rows {
        assert_eq!(r["result"]["verdict"]["result"], "pass", "{r}");
    }
    let explained = rows
        .iter()
        .filter(|r| r["target_only"].as_array().is_some_and(|a| !a.is_empty()))
        .count();
    assert_eq!(
        explained > 0,
        after_flip_producers,
        "explained ranges in the rows: {out}"
    );
    let (code, out, err) = cutover_output(&config, &["translate", "--group", &w.group, "--json"]);
    assert_eq!(code, Some(0), "translate exact after the rollback: {out}{err}");
    // The second run: preflight passes, the application moves exactly once.
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(0), "the wave runs again: {}", out.text);
    assert!(out.text.contains("wave w1 done"), "{}", out.text);
    assert_eq!(std::fs::read_to_string(w.app.consumer_file()).unwrap().trim(), "target");
    exactly_once(w, 40, &format!("{strategy}, rolled back, run again"));
}

#[test]
fn rollback_after_flip_producers_then_the_wave_runs_again_exactly_once() {
    rollback_then_run_again("wagn", "stop-the-world", true);
}

#[test]
fn consumers_first_rollback_after_flip_producers_then_runs_again_exactly_once() {
    rollback_then_run_again("wcfa", "consumers-first", true);
}

#[test]
fn rollback_at_flip_consumers_leaves_no_target_only_range_and_runs_again() {
    rollback_then_run_again("wfca", "stop-the-world", false);
}

/// A group that reads the wave's topic on the source and is not in the wave stops the
/// preflight, named; acknowledged in `leave_groups`, the preflight passes and the start's
/// confirmation says what the group will miss.
#[test]
fn a_group_left_behind_stops_the_preflight_unless_acknowledged() {
    let e = estate();
    let w = setup("wlb");
    // An auditing reader of the same topic, outside the wave.
    let auditor = format!("{}-auditor", w.topic);
    let offsets: Vec<(String, i32, i64)> = (0..PARTITIONS).map(|p| (w.topic.clone(), p, 1)).collect();
    common::groups::commit_offsets(&e.source_cluster(), &auditor, &offsets).unwrap();
    let config = wave_config(e, &w, "stop-the-world");
    // The config watches every group (the default filter) so the auditor is seen.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&format!("[groups]\ninclude = [\"{}\"]\n", w.group), "");
    std::fs::write(&config, &text).unwrap();
    let out = cutover(&config, &["run", "--wave", "w1", "--dry-run"], None);
    assert!(
        out.text
            .contains(&format!("no group left behind: NO, {auditor} reads {}", w.topic))
            || out
                .text
                .contains(&format!("{auditor} reads {} but is not in the wave", w.topic)),
        "{}",
        out.text
    );
    let left = text.replace(
        "confirm = \"wave\"\n",
        &format!("confirm = \"wave\"\nleave_groups = [\"{auditor}\"]\n"),
    );
    std::fs::write(&config, &left).unwrap();
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], None);
    eprintln!("{}", out.text);
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert!(
        out.text.contains(&format!(
            "{auditor} (reads {}) stays on the source: it will receive no new records after flip_producers",
            w.topic
        )),
        "the confirmation says what the group will miss: {}",
        out.text
    );
    assert!(out.text.contains("no group left behind: ok"), "{}", out.text);
    exactly_once(w, 20, "a group left behind knowingly");
}

/// The wave's source topic deleted while the wave waits (the groups never turn Stable on the
/// target: its flip_consumers hook starts nothing): a permanent condition, which stops the
/// wave at once with the reason, long before the wait's deadline.
#[test]
fn a_topic_deleted_mid_wave_stops_it_at_once() {
    use rdkafka::admin::{AdminClient, AdminOptions};
    let e = estate();
    let w = setup("wdel");
    let path = wave_config(e, &w, "stop-the-world");
    set_hook(&path, "flip_consumers", "true");
    let text = std::fs::read_to_string(&path).unwrap() + "[wave.wait_timeout]\ngroups_stable_on_target = \"10m\"\n";
    std::fs::write(&path, text).unwrap();
    let source = e.source_cluster();
    let topic = w.topic.clone();
    let mut deleted_at = None;
    let out = cutover_watching(&path, &["run", "--wave", "w1", "--yes"], None, &mut |line| {
        if deleted_at.is_none() && line.contains("flip consumers: groups Stable on the target: ") {
            let admin: AdminClient<rdkafka::client::DefaultClientContext> =
                cutover::kafka::client_config(&source).create().unwrap();
            let rt = common::runtime();
            let r = rt.block_on(admin.delete_topics(&[&topic], &AdminOptions::new()));
            assert!(r.is_ok_and(|v| v.iter().all(|x| x.is_ok())), "topic deleted");
            deleted_at = Some(std::time::Instant::now());
        }
    });
    eprintln!("{}", out.text);
    let deleted_at = deleted_at.expect("the wave reached flip_consumers' wait");
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(
        out.text.contains(&format!(
            "topic {topic} no longer exists on src-cluster: the wave cannot go on"
        )),
        "{}",
        out.text
    );
    let took = deleted_at.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "stopped {took:?} after the deletion, not at a deadline"
    );
    drop(w);
}
