//! A migrating application for the cutover tests: a producer writing sequence numbers and a
//! consumer group member processing them, committing what it processed, both re-pointed by the
//! wave's hooks through control files (`producer`, `consumer`: "source", "target" or
//! "stopped"). Afterwards the test compares what was acknowledged with what was processed.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cutover::config::ClusterConfig;
use cutover::cutover::engine::{Event, OffsetMove, Side};
use cutover::demo::clients::RecordWriter;
use cutover::kafka::consumer_config;
use cutover::kafka::records::Record;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;

/// Where each client writes or reads now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Source,
    Target,
    Stopped,
}

fn read_place(path: &Path) -> Place {
    match std::fs::read_to_string(path).unwrap_or_default().trim() {
        "source" => Place::Source,
        "target" => Place::Target,
        _ => Place::Stopped,
    }
}

pub fn set_place(path: &Path, place: Place) {
    let text = match place {
        Place::Source => "source",
        Place::Target => "target",
        Place::Stopped => "stopped",
    };
    std::fs::write(path, text).unwrap();
}

/// One processed record: where it was read, its partition and sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub on_target: bool,
    pub partition: i32,
    pub seq: u64,
}

pub struct App {
    pub dir: PathBuf,
    stop: Arc<AtomicBool>,
    /// Acknowledged (partition, seq), in the order acknowledged.
    pub acked: Arc<Mutex<Vec<(i32, u64)>>>,
    /// How many of those were acknowledged by the target.
    pub acked_on_target: Arc<AtomicUsize>,
    pub processed: Arc<Mutex<Vec<Processed>>>,
    pub consumer_errors: Arc<Mutex<Vec<String>>>,
    threads: Vec<JoinHandle<()>>,
}

pub struct AppSpec {
    pub source: ClusterConfig,
    pub target: ClusterConfig,
    pub topic: String,
    pub target_topic: String,
    pub partitions: i32,
    pub group: String,
    /// Between two records.
    pub pause: Duration,
    /// Some(n): every record is written in a transaction of its own, and every n-th
    /// transaction is aborted (then written again in the next one, as an application retries):
    /// aborted records must never be processed. None: plain writes.
    pub abort_every: Option<u64>,
}

impl App {
    /// Starts both clients on the source; the control files live in `dir`.
    pub fn start(dir: &Path, spec: AppSpec) -> App {
        let dir = dir.to_path_buf();
        set_place(&dir.join("producer"), Place::Source);
        set_place(&dir.join("consumer"), Place::Source);
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let acked_on_target = Arc::new(AtomicUsize::new(0));
        let processed = Arc::new(Mutex::new(Vec::new()));
        let consumer_errors = Arc::new(Mutex::new(Vec::new()));
        let spec = Arc::new(spec);
        let producer = {
            let (dir, stop, acked, on_target, spec) = (
                dir.clone(),
                stop.clone(),
                acked.clone(),
                acked_on_target.clone(),
                spec.clone(),
            );
            std::thread::spawn(move || produce(&dir.join("producer"), &stop, &acked, &on_target, &spec))
        };
        let consumer = {
            let (dir, stop, processed, errors, spec) = (
                dir.clone(),
                stop.clone(),
                processed.clone(),
                consumer_errors.clone(),
                spec.clone(),
            );
            std::thread::spawn(move || consume(&dir.join("consumer"), &stop, &processed, &errors, &spec))
        };
        App {
            dir,
            stop,
            acked,
            acked_on_target,
            processed,
            consumer_errors,
            threads: vec![producer, consumer],
        }
    }

    pub fn producer_file(&self) -> PathBuf {
        self.dir.join("producer")
    }

    pub fn consumer_file(&self) -> PathBuf {
        self.dir.join("consumer")
    }

    /// Hooks for the wave that re-point this application. Each fails (exit 7, saying so on
    /// stderr) while a file `fail-<hook>` exists in the app's directory, and writes a line to
    /// `hooks.log` when it runs.
    pub fn hooks_toml(&self) -> String {
        let dir = self.dir.display().to_string();
        let hook = |key: &str, file: &str, place: &str| {
            format!(
                "{key} = \"echo {key} >> {dir}/hooks.log; if [ -e {dir}/fail-{key} ]; then echo {key}: injected failure >&2; exit 7; fi; echo {place} > {dir}/{file}\"\n"
            )
        };
        [
            "[wave.hooks]\n".to_string(),
            hook("freeze_producers", "producer", "stopped"),
            hook("stop_consumers", "consumer", "stopped"),
            hook("flip_consumers", "consumer", "target"),
            hook("flip_producers", "producer", "target"),
            hook("rollback_flip_producers", "producer", "stopped"),
            hook("rollback_flip_consumers", "consumer", "stopped"),
            hook("rollback_stop_consumers", "consumer", "source"),
            hook("rollback_freeze_producers", "producer", "source"),
        ]
        .concat()
    }

    /// Makes a hook fail (true) or work again (false).
    pub fn fail_hook(&self, key: &str, fail: bool) {
        let path = self.dir.join(format!("fail-{key}"));
        if fail {
            std::fs::write(path, "").unwrap();
        } else {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The hooks that ran, in order.
    pub fn hooks_ran(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("hooks.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Stops the producer, waits until the consumer processed every acknowledged record (or
    /// `limit`), and stops both.
    pub fn finish(mut self, limit: Duration) -> (Vec<(i32, u64)>, Vec<Processed>, Vec<String>) {
        set_place(&self.producer_file(), Place::Stopped);
        std::thread::sleep(Duration::from_millis(300));
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let acked = self.acked.lock().unwrap().len();
            if self.processed.lock().unwrap().len() >= acked {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let acked = self.acked.lock().unwrap().clone();
        let processed = self.processed.lock().unwrap().clone();
        let errors = self.consumer_errors.lock().unwrap().clone();
        (acked, processed, errors)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn produce(
    control: &Path,
    stop: &AtomicBool,
    acked: &Mutex<Vec<(i32, u64)>>,
    acked_on_target: &AtomicUsize,
    spec: &AppSpec,
) {
    // One record per produce request: tansu's memory engine reports wrong end offsets
    // otherwise (test-brokers.md); the memory engine is needed for group states.
    let source = Writer::new(&spec.source, spec.abort_every, "source");
    let target = Writer::new(&spec.target, spec.abort_every, "target");
    let mut next: BTreeMap<i32, u64> = BTreeMap::new();
    let mut i: i64 = 0;
    while !stop.load(Ordering::SeqCst) {
        let place = read_place(control);
        let (writer, topic) = match place {
            Place::Stopped => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Place::Source => (&source, &spec.topic),
            Place::Target => (&target, &spec.target_topic),
        };
        let partition = (i % spec.partitions as i64) as i32;
        let seq = *next.get(&partition).unwrap_or(&0);
        let record = Record {
            key: Some(format!("k{partition}-{seq}").into_bytes()),
            value: Some(format!("{partition}:{seq}").into_bytes()),
            headers: vec![],
            timestamp: None,
        };
        // Sent and acknowledged one at a time, so a record is either acknowledged or not sent.
        i += 1;
        if !writer.write(topic, partition, &record, i as u64) {
            // Aborted: the same record goes again in the next transaction.
            continue;
        }
        acked.lock().unwrap().push((partition, seq));
        if place == Place::Target {
            acked_on_target.fetch_add(1, Ordering::SeqCst);
        }
        next.insert(partition, seq + 1);
        std::thread::sleep(spec.pause);
    }
}

/// The application's producer on one cluster: plain writes, or a transaction per record.
enum Writer {
    Plain(RecordWriter),
    Transactional { producer: BaseProducer, abort_every: u64 },
}

impl Writer {
    fn new(cluster: &ClusterConfig, abort_every: Option<u64>, side: &str) -> Writer {
        match abort_every {
            None => Writer::Plain(RecordWriter::new(cluster, true).expect("producer")),
            Some(n) => {
                let producer: BaseProducer = cutover::kafka::client_config(cluster)
                    .set("transactional.id", format!("app-{side}-{}", std::process::id()))
                    .set("linger.ms", "0")
                    .create()
                    .expect("transactional producer");
                producer
                    .init_transactions(Duration::from_secs(30))
                    .expect("init transactions");
                Writer::Transactional {
                    producer,
                    abort_every: n,
                }
            }
        }
    }

    /// Writes the `n`-th record; true when it was acknowledged (committed), false when its
    /// transaction was aborted.
    fn write(&self, topic: &str, partition: i32, r: &Record, n: u64) -> bool {
        match self {
            Writer::Plain(w) => {
                w.send(topic, partition, r).expect("send");
                w.flush(Duration::from_secs(30)).expect("acknowledged");
                true
            }
            Writer::Transactional { producer, abort_every } => {
                let t = Duration::from_secs(30);
                producer.begin_transaction().expect("begin");
                let (key, value) = (
                    r.key.as_deref().unwrap_or_default(),
                    r.value.as_deref().unwrap_or_default(),
                );
                producer
                    .send(BaseRecord::to(topic).partition(partition).key(key).payload(value))
                    .map_err(|(e, _)| e)
                    .expect("send");
                producer.flush(t).expect("flush");
                if n.is_multiple_of(*abort_every) {
                    producer.abort_transaction(t).expect("abort");
                    false
                } else {
                    producer.commit_transaction(t).expect("commit");
                    true
                }
            }
        }
    }
}

fn join(cluster: &ClusterConfig, group: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = consumer_config(cluster)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    consumer
}

/// Commits what was processed, then leaves the group (it turns Empty at once).
fn leave(consumer: BaseConsumer, errors: &Mutex<Vec<String>>) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => {}
        // Nothing stored since the last commit.
        Err(rdkafka::error::KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => errors.lock().unwrap().push(format!("final commit: {e}")),
    }
    consumer.unsubscribe();
    let _ = consumer.poll(Duration::from_millis(100));
    drop(consumer);
}

fn consume(
    control: &Path,
    stop: &AtomicBool,
    processed: &Mutex<Vec<Processed>>,
    errors: &Mutex<Vec<String>>,
    spec: &AppSpec,
) {
    let mut current: Option<(Place, BaseConsumer)> = None;
    let mut last_commit = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let want = read_place(control);
        if current.as_ref().is_some_and(|(p, _)| *p != want) {
            let (_, c) = current.take().unwrap();
            leave(c, errors);
        }
        if current.is_none() {
            match want {
                Place::Stopped => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Place::Source => current = Some((want, join(&spec.source, &spec.group, &spec.topic))),
                Place::Target => current = Some((want, join(&spec.target, &spec.group, &spec.target_topic))),
            }
        }
        let (place, consumer) = current.as_ref().unwrap();
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(e)) => errors.lock().unwrap().push(e.to_string()),
            Some(Ok(m)) => {
                let text = String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string();
                let (p, seq) = text.split_once(':').expect("partition:seq");
                processed.lock().unwrap().push(Processed {
                    on_target: *place == Place::Target,
                    partition: p.parse().unwrap(),
                    seq: seq.parse().unwrap(),
                });
                consumer.store_offset_from_message(&m).expect("store offset");
            }
        }
        // Committing as it goes, as applications do.
        if last_commit.elapsed() > Duration::from_millis(500) {
            let _ = consumer.commit_consumer_state(CommitMode::Async);
            last_commit = Instant::now();
        }
    }
    if let Some((_, c)) = current.take() {
        leave(c, errors);
    }
}

impl App {
    /// Lets the application run on (the group processes `more` records within `limit`),
    /// stops it, and checks that every acknowledged record was processed exactly once, in
    /// order per partition, without consumer errors. Returns how many were processed on the
    /// target.
    pub fn run_on_then_check_exactly_once(self, more: usize, limit: Duration, what: &str) -> usize {
        let before = self.processed.lock().unwrap().len();
        let deadline = Instant::now() + limit;
        while self.processed.lock().unwrap().len() <= before + more {
            assert!(
                Instant::now() < deadline,
                "{what}: the application did not process on within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (acked, processed, errors) = self.finish(Duration::from_secs(60));
        let violations = exactly_once_violations(&acked, &processed);
        let on_target = processed.iter().filter(|p| p.on_target).count();
        eprintln!(
            "{what}: {} acknowledged, {} processed ({on_target} on the target)",
            acked.len(),
            processed.len()
        );
        assert!(violations.is_empty(), "{what}: {violations:#?}");
        assert!(errors.is_empty(), "{what}: consumer errors: {errors:?}");
        on_target
    }
}

/// The offset moves a wave's journal records as committed: (side, group, moves).
/// Rewrites one hook of the wave config at `path` to `command` (e.g. `true`: a
/// `flip_consumers` that "forgets" to start the consumers on the target).
pub fn set_hook(path: &Path, key: &str, command: &str) {
    let text: String = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{key} = ")) {
                format!("{key} = \"{command}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(path, text + "\n").unwrap();
}

pub fn journaled_commits(journal: &Path) -> Vec<(Side, String, Vec<OffsetMove>)> {
    cutover::cutover::journal::read(journal)
        .unwrap()
        .iter()
        .filter_map(|e| match &e.event {
            Event::Committed { side, group, offsets } => Some((*side, group.clone(), offsets.clone())),
            _ => None,
        })
        .collect()
}

/// Every acknowledged record processed exactly once, in order per partition: the differences.
pub fn exactly_once_violations(acked: &[(i32, u64)], processed: &[Processed]) -> Vec<String> {
    let mut want: BTreeMap<i32, Vec<u64>> = BTreeMap::new();
    for (p, s) in acked {
        want.entry(*p).or_default().push(*s);
    }
    let mut got: BTreeMap<i32, Vec<u64>> = BTreeMap::new();
    for r in processed {
        got.entry(r.partition).or_default().push(r.seq);
    }
    let mut out = Vec::new();
    for (p, w) in &want {
        let g = got.get(p).cloned().unwrap_or_default();
        if &g != w {
            let first = w
                .iter()
                .zip(g.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(w.len().min(g.len()));
            out.push(format!(
                "partition {p}: acknowledged {} records, processed {}; first difference at index {first}: acked {:?}, processed {:?}",
                w.len(),
                g.len(),
                w.get(first),
                g.get(first)
            ));
        }
    }
    out
}
