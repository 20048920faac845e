//! Shared test harness: real tansu brokers on loopback, configs, producing, waiting.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::path::Path;
use std::time::{Duration, Instant};

use cutover::config::{self, ClusterConfig, Config};
use cutover::demo::broker::{tansu_binary, Storage, TansuBroker};
use cutover::demo::clients::RecordWriter;
use cutover::demo::clients::{create_topics, TopicSpec};
use cutover::kafka::records::Record;

use cutover::model::Snapshot;
use cutover::monitor::Monitor;

pub mod app;
pub mod cli;
pub mod groups;
pub mod http;
pub mod kafka;
pub mod lag;
pub mod proxy;
pub mod tls;
pub mod tmux;

pub use tempfile::TempDir;

/// A runtime for the monitor's tasks (tests stay synchronous and `enter` it).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The newest snapshot the monitor published.
pub fn latest(m: &Monitor) -> Snapshot {
    m.snapshots.borrow().clone()
}

/// Two brokers, source and target, each with its own storage under one temporary directory.
/// Fails (never skips) when tansu is not installed, saying how to install it.
pub fn two_brokers(storage: Storage) -> (TansuBroker, TansuBroker, TempDir) {
    if let Err(e) = tansu_binary() {
        panic!("these tests need real tansu brokers: {e}");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let source = TansuBroker::start(&dir.path().join("source"), "src", storage).expect("start source broker");
    let target = TansuBroker::start(&dir.path().join("target"), "tgt", storage).expect("start target broker");
    (source, target, dir)
}

/// The replication of the MM2-compatible replicator in the tests: aliases src and dst, the
/// default policy (target topics `src.<topic>`), offset-syncs on the source.
pub fn mm2() -> config::Replication {
    config::Replication {
        kind: config::ReplicationKind::MirrorMaker2,
        source_alias: "src".into(),
        target_alias: "dst".into(),
        policy: config::PolicyKind::Default,
        separator: ".".into(),
        offset_syncs_location: config::OffsetSyncsLocation::Source,
    }
}

/// A config for the two brokers, through the same parser users go through.
pub fn config(source: &TansuBroker, target: &TansuBroker, extra: &str) -> Config {
    let text = format!(
        "[source]\nname = \"src-cluster\"\nbootstrap = \"{}\"\n[target]\nname = \"tgt-cluster\"\nbootstrap = \"{}\"\n{extra}",
        source.bootstrap(),
        target.bootstrap()
    );
    config::parse(Path::new("test.toml"), &text, &|_| None).expect("test config parses")
}

/// The same config as `config`, written to `dir/cutover.toml` for the binary.
pub fn config_file(dir: &Path, source: &TansuBroker, target: &TansuBroker, extra: &str) -> std::path::PathBuf {
    let path = dir.join("cutover.toml");
    let text = format!(
        "[source]\nname = \"src-cluster\"\nbootstrap = \"{}\"\n[target]\nname = \"tgt-cluster\"\nbootstrap = \"{}\"\n{extra}\n[log]\nfile = \"{}\"\n",
        source.bootstrap(),
        target.bootstrap(),
        dir.join("cutover.log").display()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

pub fn cluster(b: &TansuBroker, name: &str) -> ClusterConfig {
    ClusterConfig::plaintext(name, &b.bootstrap())
}

pub fn create(b: &TansuBroker, topics: &[TopicSpec]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(create_topics(&cluster(b, "setup"), topics, Duration::from_secs(10)))
        .expect("create topics");
}

/// Produces `n` records to one partition and waits until all are acknowledged.
/// `one_per_request` avoids tansu's memory-engine end-offset deviation (test-brokers.md).
pub fn produce(b: &TansuBroker, topic: &str, partition: i32, n: usize, one_per_request: bool) {
    let w = RecordWriter::new(&cluster(b, "setup"), one_per_request).expect("writer");
    for i in 0..n {
        let r = Record {
            key: Some(format!("k{i}").into_bytes()),
            value: Some(format!("v{i}").into_bytes()),
            headers: vec![],
            timestamp: Some(1_700_000_000_000 + i as i64),
        };
        w.send(topic, partition, &r).expect("send");
    }
    w.flush(Duration::from_secs(10)).expect("flush");
}

/// Polls `f` until it returns Some, or panics after `limit` with `what`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A SASL SCRAM user on a tansu broker. Quirks of the test broker: tansu 0.6 keeps SCRAM users
/// only from AlterUserScramCredentials, which it answers only while it runs without
/// `--authentication` (with it, a connection must log in first), so the harness creates users
/// on a broker with sqlite storage before restarting it with `--authentication`; and librdkafka
/// in rdkafka 0.39 has no safe call for it, so Python's confluent-kafka from the test venv
/// (`make setup`) sends it.
pub fn scram_user(bootstrap: &str, mechanism: &str, username: &str, password: &str) {
    let python = venv_python();
    let script = r#"
import sys
from confluent_kafka.admin import AdminClient, UserScramCredentialUpsertion, ScramCredentialInfo, ScramMechanism
bootstrap, mechanism, user, password = sys.argv[1:5]
m = {"SCRAM-SHA-256": ScramMechanism.SCRAM_SHA_256, "SCRAM-SHA-512": ScramMechanism.SCRAM_SHA_512}[mechanism]
admin = AdminClient({"bootstrap.servers": bootstrap})
for f in admin.alter_user_scram_credentials(
        [UserScramCredentialUpsertion(user, ScramCredentialInfo(m, 4096), password.encode())]).values():
    f.result(timeout=20)
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script, bootstrap, mechanism, username, password])
        .output()
        .expect("run python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn venv_python() -> std::path::PathBuf {
    let venv = std::env::var("CUTOVER_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/cutover/venv"));
    let python = venv.join("bin/python");
    assert!(python.exists(), "{} is missing: run `make setup`", python.display());
    python
}

/// Retention on a source partition: records before `before` deleted, the log start moved up.
/// Quirk of the test broker: tansu 0.6 implements neither DeleteRecords (it closes the
/// connection) nor time or size retention, so the harness deletes the rows from the broker's
/// sqlite storage and raises the partition's low watermark there, with Python's sqlite3 from
/// the test venv (`make setup`). Clients then see exactly what retention leaves: ListOffsets
/// earliest answers `before`, and fetches start there.
pub fn delete_records_before(dir: &Path, cluster_id: &str, topic: &str, partition: i32, before: i64) {
    let db = dir.join(format!("{cluster_id}.db"));
    assert!(db.exists(), "no sqlite storage at {}", db.display());
    let python = venv_python();
    let script = r#"
import sqlite3, sys
db, topic, partition, before = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = sqlite3.connect(db, timeout=10)
(tp,) = c.execute(
    "select topition.id from topition join topic on topic.id = topition.topic "
    "where topic.name = ? and topition.partition = ?", (topic, partition)).fetchone()
c.execute("delete from header where topition = ? and offset_id < ?", (tp, before))
c.execute("delete from record where topition = ? and offset_id < ?", (tp, before))
c.execute("update watermark set low = ? where topition = ?", (before, tp))
c.commit()
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(&db)
        .args([topic, &partition.to_string(), &before.to_string()])
        .output()
        .expect("run python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The `i`-th write of a compacted "customer-profiles" stream: 20 customers; every 7th write
/// deletes one (a tombstone).
pub fn customer(i: u64) -> Record {
    Record {
        key: Some(format!("customer-{}", i % 20).into_bytes()),
        value: (i % 7 != 6).then(|| format!("profile v{i}").into_bytes()),
        headers: vec![],
        timestamp: Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64,
        ),
    }
}

/// Serves each connection `listener` accepts with `serve`, on a runtime of its own (one
/// worker) that the caller keeps: the harness's proxies in front of tansu (TLS, counting).
pub fn accept_loop<F, Fut>(listener: std::net::TcpListener, serve: F) -> tokio::runtime::Runtime
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    listener.set_nonblocking(true).unwrap();
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        loop {
            if let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client));
            }
        }
    });
    runtime
}
