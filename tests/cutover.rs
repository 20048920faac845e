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

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::app::{exactly_once_violations, App, AppSpec};
use common::*;
use cutover::config::{OffsetSyncsLocation, PolicyKind, Replication, ReplicationKind};
use cutover::cutover::engine::{Event, Side};
use cutover::demo::broker::{Storage, TansuBroker};
use cutover::demo::clients::TopicSpec;
use cutover::demo::replicator::{Replicator, ReplicatorSpec};

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

struct Setup {
    src: TansuBroker,
    tgt: TansuBroker,
    dir: TempDir,
    _replicator: Replicator,
    app: App,
}

fn setup() -> Setup {
    let (src, tgt, dir) = two_brokers(Storage::Memory);
    create(&src, &[TopicSpec::new("orders", PARTITIONS)]);
    create(&tgt, &[TopicSpec::new("src.orders", PARTITIONS)]);
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
        },
    );
    Setup {
        src,
        tgt,
        dir,
        _replicator: replicator,
        app,
    }
}

fn wave_config(s: &Setup, strategy: &str, extra: &str) -> std::path::PathBuf {
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
             {}{extra}",
            journal.display(),
            s.app.hooks_toml()
        ),
    )
}

fn cutover(config: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "cutover {args:?} did not finish within {limit:?}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn journal(s: &Setup) -> Vec<cutover::cutover::journal::Entry> {
    cutover::cutover::journal::read(&s.dir.path().join("cutover.journal")).unwrap()
}

/// Runs a whole wave with `strategy` and checks exactly once.
fn wave_moves_the_application_exactly_once(strategy: &str) {
    let s = setup();
    // Traffic flows and the group processes on the source before the wave starts.
    wait_for(Duration::from_secs(30), "the group processing on the source", || {
        (s.app.processed.lock().unwrap().len() > 100).then_some(())
    });
    let config = wave_config(&s, strategy, "");
    let out = cutover(&config, &["run", "--wave", "w1", "--yes"], Duration::from_secs(240));
    let shown = text(&out);
    eprintln!("{shown}");
    assert_eq!(out.status.code(), Some(0), "{shown}");
    for step in [
        "preflight",
        "freeze producers",
        "drain",
        "final parity",
        "commit offsets",
        "flip producers",
    ] {
        assert!(shown.contains(step), "{step} not shown:\n{shown}");
    }
    assert!(shown.contains("wave w1 done"), "{shown}");
    // The producer now writes to the target; the group reads there.
    let before = s.app.processed.lock().unwrap().len();
    wait_for(
        Duration::from_secs(30),
        "records processed on the target after the wave",
        || {
            let p = s.app.processed.lock().unwrap();
            (p.len() > before + 30 && p.last().is_some_and(|r| r.on_target)).then_some(())
        },
    );
    let entries = journal(&s);
    let commits: Vec<_> = entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::Committed { side, group, offsets } => Some((*side, group.clone(), offsets.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(commits.len(), 1, "one commit for the group: {commits:?}");
    assert_eq!(commits[0].0, Side::Target);
    assert_eq!(commits[0].2.len(), PARTITIONS as usize, "{commits:?}");
    let Setup { app, .. } = s;
    let (acked, processed, errors) = app.finish(Duration::from_secs(30));
    let violations = exactly_once_violations(&acked, &processed);
    let on_target = processed.iter().filter(|p| p.on_target).count();
    eprintln!(
        "{strategy}: {} acknowledged, {} processed ({on_target} on the target), commits {:?}",
        acked.len(),
        processed.len(),
        commits[0].2
    );
    assert!(violations.is_empty(), "{violations:#?}\n{shown}");
    assert!(on_target > 30, "{on_target} processed on the target");
    assert!(errors.is_empty(), "consumer errors: {errors:?}");
}

#[test]
fn stop_the_world_moves_the_application_exactly_once() {
    wave_moves_the_application_exactly_once("stop-the-world");
}
