//! The real-Kafka harness: Apache Kafka brokers (source 3.9.x, target 4.x, single-node KRaft)
//! and MirrorMaker 2 in dedicated mode, from the jars `make setup` fetched through Maven.
//!
//! A test binary shares one estate (two brokers and one MM2 flow) among its tests: a JVM broker
//! takes seconds to start. Tests use their own topic and group names. The processes live under
//! `$TMPDIR/cutover-kafka-tests/<binary>-<pid>/` (configs, data, one log file each); the
//! directory is kept after the run, so a failing test's logs can be read, and removed by the
//! next run of the same binary.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cutover::config::{self, ClusterConfig, Config};
use cutover::demo::clients::{create_topics, RecordWriter, TopicSpec};
use cutover::demo::kafka::{kafka_jars, mm2_properties, KafkaBroker, MirrorMaker, SOURCE_VERSION, TARGET_VERSION};
use cutover::kafka::records::Record;

/// The source cluster's MM2 alias in the shared flow: target topics are `src.<topic>`.
pub const SOURCE_ALIAS: &str = "src";
pub const TARGET_ALIAS: &str = "dst";

/// Two brokers and the MM2 flow between them.
pub struct Estate {
    pub source: KafkaBroker,
    pub target: KafkaBroker,
    pub mm2: Mutex<MirrorMaker>,
    pub dir: PathBuf,
}

impl Estate {
    pub fn source_cluster(&self) -> ClusterConfig {
        ClusterConfig::plaintext("src-cluster", &self.source.bootstrap())
    }

    pub fn target_cluster(&self) -> ClusterConfig {
        ClusterConfig::plaintext("tgt-cluster", &self.target.bootstrap())
    }

    /// A config for this estate through the parser users go through; `extra` adds sections.
    pub fn config(&self, extra: &str) -> Config {
        config::parse(Path::new("test.toml"), &self.config_text(extra), &|_| None).expect("test config parses")
    }

    pub fn config_text(&self, extra: &str) -> String {
        format!(
            "[source]\nname = \"src-cluster\"\nbootstrap = \"{}\"\n[target]\nname = \"tgt-cluster\"\nbootstrap = \"{}\"\n{extra}",
            self.source.bootstrap(),
            self.target.bootstrap()
        )
    }

    /// Where to look when a test fails.
    pub fn logs(&self) -> String {
        format!(
            "logs: {}, {}, {}",
            self.source.log_file().display(),
            self.target.log_file().display(),
            self.mm2.lock().unwrap().log_file().display()
        )
    }
}

/// The directory of this run's processes; earlier runs' directories of the same binary go.
pub fn run_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let binary = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().to_string()))
            .map(|s| s.split('-').next().unwrap_or("test").to_string())
            .unwrap_or_else(|| "test".into());
        let base = std::env::temp_dir().join("cutover-kafka-tests");
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let old_pid = name
                    .strip_prefix(&format!("{binary}-"))
                    .and_then(|p| p.parse::<u32>().ok());
                if old_pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = base.join(format!("{binary}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the run directory");
        dir
    })
    .clone()
}

/// Fails (never skips) when the jars are missing, saying how to get them.
pub fn require_kafka() {
    for v in [SOURCE_VERSION, TARGET_VERSION] {
        if let Err(e) = kafka_jars(v) {
            panic!("the real-Kafka suite needs Apache Kafka and MirrorMaker 2: {e}");
        }
    }
}

/// Starts a source (3.9.x) and a target (4.x) broker under `dir`.
pub fn start_brokers(dir: &Path, overrides: &[(&str, &str)]) -> (KafkaBroker, KafkaBroker) {
    require_kafka();
    let s = KafkaBroker::start(&dir.join("source"), SOURCE_VERSION, overrides)
        .unwrap_or_else(|e| panic!("source broker: {e}"));
    let t = KafkaBroker::start(&dir.join("target"), TARGET_VERSION, overrides)
        .unwrap_or_else(|e| panic!("target broker: {e}"));
    (s, t)
}

/// MM2 (of the target's version) between the two brokers, with `extra` properties.
pub fn start_mm2(
    dir: &Path,
    source: &KafkaBroker,
    target: &KafkaBroker,
    aliases: (&str, &str),
    extra: &[(&str, &str)],
) -> MirrorMaker {
    let mut props = mm2_properties(aliases.0, &source.bootstrap(), aliases.1, &target.bootstrap());
    props.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    MirrorMaker::start(dir, TARGET_VERSION, &props).unwrap_or_else(|e| panic!("MirrorMaker 2: {e}"))
}

/// The binary's shared estate: started by the first test that asks, for all of them.
/// `mm2_extra`: the flow's properties beyond `mm2_properties` (the first caller's count).
pub fn estate() -> &'static Estate {
    static ESTATE: OnceLock<Estate> = OnceLock::new();
    ESTATE.get_or_init(|| {
        let dir = run_dir();
        let (source, target) = start_brokers(&dir, &[]);
        let mm2 = start_mm2(&dir.join("mm2"), &source, &target, (SOURCE_ALIAS, TARGET_ALIAS), &[]);
        eprintln!("real Kafka estate under {}", dir.display());
        Estate {
            source,
            target,
            mm2: Mutex::new(mm2),
            dir,
        }
    })
}

pub fn create(cluster: &ClusterConfig, topics: &[TopicSpec]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(create_topics(cluster, topics, Duration::from_secs(30)))
        .expect("create topics");
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The record with sequence number `seq` of partition `partition` (key and value say both).
pub fn numbered(partition: i32, seq: u64) -> Record {
    Record {
        key: Some(format!("k{partition}-{seq}").into_bytes()),
        value: Some(format!("v{partition}-{seq}").into_bytes()),
        headers: vec![],
        timestamp: Some(now_ms()),
    }
}

/// Writes `n` numbered records to each partition and waits until all are acknowledged.
pub fn produce(cluster: &ClusterConfig, topic: &str, partitions: i32, n: u64) {
    let w = RecordWriter::new(cluster, false).expect("writer");
    for seq in 0..n {
        for p in 0..partitions {
            w.send(topic, p, &numbered(p, seq)).expect("send");
        }
    }
    w.flush(Duration::from_secs(30)).expect("flush");
}

/// A producer writing numbered records round the partitions of a topic until stopped: the
/// traffic every figure is checked under.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    /// Records acknowledged so far.
    pub acked: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Traffic {
    /// About `per_second` records a second, spread over the partitions.
    pub fn start(cluster: &ClusterConfig, topic: &str, partitions: i32, per_second: u64) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU64::new(0));
        let (cluster, topic) = (cluster.clone(), topic.to_string());
        let (s, a) = (stop.clone(), acked.clone());
        let thread = std::thread::spawn(move || -> Result<(), String> {
            let w = RecordWriter::new(&cluster, false)?;
            let pause = Duration::from_micros(1_000_000 / per_second.max(1));
            let mut seq = 0u64;
            while !s.load(Ordering::Relaxed) {
                for p in 0..partitions {
                    w.send(&topic, p, &numbered(p, seq))?;
                }
                seq += 1;
                if seq.is_multiple_of(10) {
                    w.flush(Duration::from_secs(30))?;
                    a.store(seq * partitions as u64, Ordering::Relaxed);
                }
                std::thread::sleep(pause * partitions as u32);
            }
            w.flush(Duration::from_secs(30))?;
            a.store(seq * partitions as u64, Ordering::Relaxed);
            Ok(())
        });
        Traffic {
            stop,
            acked,
            thread: Some(thread),
        }
    }

    /// Stops writing; returns how many records were acknowledged in all.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("traffic thread").expect("traffic");
        }
        self.acked.load(Ordering::Relaxed)
    }

    pub fn running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Transactions on the source: `transactions` of `size` numbered records each to partition 0,
/// every `abort_every`-th aborted (0: none). Returns the sequence numbers committed, in order.
pub fn write_transactions(
    cluster: &ClusterConfig,
    topic: &str,
    transactional_id: &str,
    first_seq: u64,
    transactions: u64,
    size: u64,
    abort_every: u64,
) -> Vec<u64> {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &cluster.bootstrap)
        .set("transactional.id", transactional_id)
        .set("linger.ms", "0")
        .create()
        .expect("transactional producer");
    producer
        .init_transactions(Duration::from_secs(30))
        .expect("init transactions");
    let mut committed = Vec::new();
    let mut seq = first_seq;
    for t in 0..transactions {
        producer.begin_transaction().expect("begin");
        let mut these = Vec::new();
        for _ in 0..size {
            let r = numbered(0, seq);
            let (key, value) = (r.key.unwrap(), r.value.unwrap());
            producer
                .send(
                    BaseRecord::to(topic)
                        .partition(0)
                        .key(&key)
                        .payload(&value)
                        .timestamp(now_ms()),
                )
                .map_err(|(e, _)| e)
                .expect("send");
            these.push(seq);
            seq += 1;
        }
        // Delivery reports are served by polling: flush before ending the transaction.
        producer.flush(Duration::from_secs(30)).expect("flush");
        if abort_every > 0 && (t + 1) % abort_every == 0 {
            producer.abort_transaction(Duration::from_secs(30)).expect("abort");
        } else {
            producer.commit_transaction(Duration::from_secs(30)).expect("commit");
            committed.extend(these);
        }
    }
    committed
}

/// Writes a config file for the binary (its log beside it) and returns its path.
pub fn config_file(dir: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("config dir");
    let path = dir.join("cutover.toml");
    let text = format!("{text}\n[log]\nfile = \"{}\"\n", dir.join("cutover.log").display());
    std::fs::write(&path, text).expect("write config");
    path
}

/// Runs the binary with `--config` and `args`; (exit code, stdout, stderr).
pub fn cutover_output(config: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run cutover");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}
