//! `cutover serve` with `[metrics] listen`: scraped over HTTP and parsed by a Prometheus
//! text-format parser (the prometheus-parse crate), against tansu and the MM2-compatible
//! replicator: every name the README documents is present, and the figures equal
//! `cutover status --json`'s. SIGTERM stops it cleanly.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, SystemTime};

use common::groups::commit_offsets;
use common::*;
use cutover::config::Strategy;
use cutover::cutover::engine::{Action, Event, Hook, Step};
use cutover::cutover::journal::Entry;
use cutover::demo::broker::Storage;
use cutover::demo::clients::TopicSpec;
use cutover::demo::replicator::{Replicator, ReplicatorSpec};

/// The names the README's metrics table lists.
const DOCUMENTED: &[&str] = &[
    "cutover_replication_lag_records",
    "cutover_replication_lag_seconds",
    "cutover_topic_replication_lag_records",
    "cutover_topic_replication_lag_seconds",
    "cutover_offset_drift_records",
    "cutover_mm2_heartbeat_age_seconds",
    "cutover_validation_result",
    "cutover_validation_age_seconds",
    "cutover_group_state",
    "cutover_group_members",
    "cutover_group_lag_records",
    "cutover_group_lag_seconds",
    "cutover_wave_state",
    "cutover_wave_step",
    "cutover_pause_seconds",
    "cutover_pause_running",
    "cutover_pause_budget_seconds",
    "cutover_alarm",
    "cutover_poll_duration_seconds",
    "cutover_poll_age_seconds",
    "cutover_poll_failing",
];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scrape(port: u16) -> Option<(String, String)> {
    common::http::get(port, "/metrics")
}

/// (name, labels) -> value, from a parse of the scrape.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

fn parse(body: &str) -> Samples {
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("a Prometheus text the parser reads");
    scrape
        .samples
        .into_iter()
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                other => panic!("{}: a gauge, not {other:?}", s.metric),
            };
            let labels: BTreeMap<String, String> = s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            ((s.metric, labels), value)
        })
        .collect()
}

fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples.get(&(name.to_string(), want)).copied()
}

/// Acceptance (issue 23, metrics): see the file's head. The replicator copied the first 40
/// records and stalls; 25 more wait on the source (constant lag, growing seconds); a group
/// read 10 records; wave `w1` froze its producers 5 s before the scrape against a 1 s
/// max_write_pause (a running pause and its alarm).
#[test]
fn serve_scraped_over_http_has_every_documented_name_and_status_jsons_figures() {
    let (src, tgt, dir) = two_brokers(Storage::Memory);
    create(&src, &[TopicSpec::new("clock", 1)]);
    create(&tgt, &[TopicSpec::new("src.clock", 1)]);
    let mut spec = ReplicatorSpec::new(cluster(&src, "src"), cluster(&tgt, "tgt"), mm2(), &["clock"]);
    spec.one_record_per_request = true;
    spec.offset_lag_max = 10;
    let r = Replicator::start(spec).unwrap();
    produce(&src, "clock", 0, 40, true);
    wait_for(Duration::from_secs(30), "40 records copied", || {
        (r.position("clock", 0) >= 40).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500)); // a heartbeat and the syncs written
    r.stall(true);
    produce(&src, "clock", 0, 25, true);
    commit_offsets(&cluster(&src, "app"), "app", &[("clock".into(), 0, 10)]).unwrap();

    let journal = dir.path().join("cutover.journal");
    let frozen = SystemTime::now() - Duration::from_secs(5);
    let entry = |at: SystemTime, event: Event| Entry {
        at_ms: at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64,
        at: humantime::format_rfc3339_millis(at).to_string(),
        by: "test@host".into(),
        wave: "w1".into(),
        dry_run: false,
        event,
    };
    let hook = Action::Hook(Hook::FreezeProducers);
    let lines: Vec<String> = [
        entry(
            frozen,
            Event::WaveStarted {
                strategy: Strategy::StopTheWorld,
                topics: vec!["clock".into()],
                groups: vec!["app".into()],
            },
        ),
        entry(
            frozen,
            Event::ActionStarted {
                step: Step::Preflight,
                action: Action::Wait(cutover::cutover::engine::Check::Preflight),
                detail: String::new(),
            },
        ),
        entry(
            frozen,
            Event::ActionDone {
                step: Step::Preflight,
                action: Action::Wait(cutover::cutover::engine::Check::Preflight),
                detail: String::new(),
                output: vec![],
            },
        ),
        entry(
            frozen,
            Event::ActionStarted {
                step: Step::FreezeProducers,
                action: hook,
                detail: String::new(),
            },
        ),
        entry(
            frozen,
            Event::ActionDone {
                step: Step::FreezeProducers,
                action: hook,
                detail: String::new(),
                output: vec![],
            },
        ),
    ]
    .iter()
    .map(|e| serde_json::to_string(e).unwrap())
    .collect();
    std::fs::write(&journal, lines.join("\n") + "\n").unwrap();

    let port = free_port();
    let file = config_file(
        dir.path(),
        &src,
        &tgt,
        &format!(
            "[replication]\nsource_alias = \"src\"\ntarget_alias = \"dst\"\n[monitor]\nrefresh_interval = \"500ms\"\n\
             request_timeout = \"5s\"\n[validation]\ninterval = \"2s\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\
             [cutover]\njournal = \"{}\"\n[[wave]]\nname = \"w1\"\ntopics = [\"clock\"]\ngroups = [\"app\"]\n\
             [wave.hooks]\nfreeze_producers = \"true\"\n[wave.criteria]\nmax_write_pause = \"1s\"\n",
            journal.display(),
        ),
    );
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(&file)
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Every documented name once the polls, MM2's state and a validation run are in.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (status_line, samples) = loop {
        std::thread::sleep(Duration::from_millis(300));
        let scraped = scrape(port);
        let samples = scraped.as_ref().map(|(_, body)| parse(body)).unwrap_or_default();
        let missing: Vec<&&str> = DOCUMENTED
            .iter()
            .filter(|n| !samples.keys().any(|(name, _)| name == **n))
            .collect();
        match scraped {
            Some((line, _)) if missing.is_empty() => break (line, samples),
            _ if std::time::Instant::now() > deadline => {
                let log = std::fs::read_to_string(dir.path().join("cutover.log")).unwrap_or_default();
                let _ = serve.kill();
                let out = serve.wait_with_output().unwrap();
                let err = String::from_utf8_lossy(&out.stderr);
                panic!(
                    "missing after 60 s: {missing:?}\n{samples:#?}\n{log}\nserve: {:?} {err}",
                    out.status
                )
            }
            _ => {}
        }
    };
    assert!(status_line.contains("200"), "{status_line}");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(&file)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let (_, body) = scrape(port).unwrap();
    let after = parse(&body);

    // The figures equal status --json's (records exactly: the copy is stalled and nothing is
    // written; seconds within the time between the two reads).
    let topic = doc["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["topic"] == "clock")
        .unwrap();
    let lag = value(&after, "cutover_topic_replication_lag_records", &[("topic", "clock")]);
    assert_eq!(lag, topic["lag"].as_f64(), "{topic}");
    assert_eq!(lag, Some(25.0));
    assert_eq!(
        value(
            &after,
            "cutover_replication_lag_records",
            &[("topic", "clock"), ("partition", "0")]
        ),
        Some(25.0)
    );
    let seconds = value(&after, "cutover_topic_replication_lag_seconds", &[("topic", "clock")]).unwrap();
    let status_seconds = topic["lag_seconds"].as_f64().unwrap();
    assert!((seconds - status_seconds).abs() < 2.0, "{seconds} vs {status_seconds}");
    let group = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "app")
        .unwrap();
    let labels = [("group", "app"), ("side", "source")];
    assert_eq!(
        value(&after, "cutover_group_lag_records", &labels),
        group["source"]["lag"].as_f64(),
        "{group}"
    );
    assert_eq!(value(&after, "cutover_group_lag_records", &labels), Some(55.0));
    assert_eq!(
        value(&after, "cutover_group_members", &labels),
        group["source"]["members"].as_f64()
    );
    let group_seconds = value(&after, "cutover_group_lag_seconds", &labels).unwrap();
    assert!((group_seconds - group["source"]["lag_seconds"].as_f64().unwrap()).abs() < 2.0);
    let state = group["source"]["state"].as_str().unwrap();
    assert_eq!(
        value(
            &after,
            "cutover_group_state",
            &[("group", "app"), ("side", "source"), ("state", state)]
        ),
        Some(1.0)
    );
    // The wave: running at its freeze step, writes paused past the 1 s budget, the alarm.
    assert_eq!(
        value(&after, "cutover_wave_state", &[("wave", "w1"), ("state", "running")]),
        Some(1.0)
    );
    let paused = [("wave", "w1"), ("paused", "writes")];
    assert!(value(&after, "cutover_pause_seconds", &paused).unwrap() >= 5.0);
    assert_eq!(value(&after, "cutover_pause_budget_seconds", &paused), Some(1.0));
    assert_eq!(value(&after, "cutover_pause_running", &paused), Some(1.0));
    let alarms = doc["alarms"].as_array().unwrap();
    assert!(alarms.iter().any(|a| a["kind"] == "pause"), "{alarms:?}");
    assert_eq!(
        value(&after, "cutover_alarm", &[("wave", "w1"), ("kind", "pause")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &after,
            "cutover_poll_failing",
            &[("side", "source"), ("cluster", "src-cluster")]
        ),
        Some(0.0)
    );
    eprintln!(
        "{} samples, e.g. lag {lag:?} records {seconds}s, group {group}",
        samples.len()
    );

    // Anything else is a 404; SIGTERM stops it cleanly.
    let (not_found, _) = common::http::get(port, "/").unwrap();
    assert!(not_found.starts_with("HTTP/1.1 404"), "{not_found}");
    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    let exit = wait_for(Duration::from_secs(10), "serve to stop on SIGTERM", || {
        serve.try_wait().unwrap()
    });
    let mut err = String::new();
    serve.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(exit.code(), Some(0), "{err}");
    assert!(err.is_empty(), "nothing on the terminal: {err}");
    assert!(scrape(port).is_none(), "the endpoint is closed");
    drop(r);
}
