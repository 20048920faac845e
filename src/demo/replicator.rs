//! A MirrorMaker-2-compatible replicator for the demo and the tests. Not for production data.
//!
//! Copies records partition by partition, keeping key, value, headers and timestamp (reading
//! only committed records, as MM2 does); writes offset-syncs by MM2's rules, checkpoints for
//! source groups with MM2's +1 rule, and heartbeats. On command it injects faults the cockpit
//! must detect: a dropped, duplicated, corrupted, re-headered, re-timestamped or reordered
//! record, a stall, or lag.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::Consumer;

use super::clients::{create_topics, RecordWriter, TopicSpec};
use crate::config::{ClusterConfig, Replication, ReplicationKind};
use crate::kafka::ffi::list_group_offsets;
use crate::kafka::records::{Located, Record, RecordReader};
use crate::mm2::codec::{Checkpoint, Heartbeat, OffsetSync};
use crate::mm2::syncs::{Mm2SyncMemory, SyncEmitter};
use crate::mm2::topics::{self, Cluster};

#[derive(Debug, Clone)]
pub struct ReplicatorSpec {
    pub source: ClusterConfig,
    pub target: ClusterConfig,
    pub replication: Replication,
    /// Source topics to copy (each to its target name per the policy).
    pub topics: Vec<String>,
    /// Source groups to write checkpoints for.
    pub groups: Vec<String>,
    /// MM2's `offset.lag.max`.
    pub offset_lag_max: i64,
    pub checkpoint_interval: Duration,
    pub heartbeat_interval: Duration,
    /// Send every record in its own produce request (tansu's memory engine needs it).
    pub one_record_per_request: bool,
}

impl ReplicatorSpec {
    pub fn new(source: ClusterConfig, target: ClusterConfig, replication: Replication, topics: &[&str]) -> Self {
        ReplicatorSpec {
            source,
            target,
            replication,
            topics: topics.iter().map(|t| t.to_string()).collect(),
            groups: Vec::new(),
            offset_lag_max: 100,
            checkpoint_interval: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(1),
            one_record_per_request: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Never written, and the replicator does not know (no offset-sync marks the gap).
    Drop,
    Duplicate,
    CorruptValue,
    ChangeHeader,
    ChangeTimestamp,
    /// Written after the record that follows it.
    ReorderWithNext,
}

/// A fault for the record at one source offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub fault: Fault,
}

#[derive(Default)]
struct Shared {
    injections: Vec<Injection>,
    /// Next source offset to copy, per (topic, partition).
    positions: BTreeMap<(String, i32), i64>,
    syncs: Vec<OffsetSync>,
    checkpoints: Vec<Checkpoint>,
    error: Option<String>,
}

/// The running replicator; dropping it stops it.
pub struct Replicator {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
    delay: Arc<Mutex<Duration>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Replicator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Creates the internal topics MM2 would have (compacted, one partition); existing ones stay.
fn create_internal_topics(spec: &ReplicatorSpec) -> crate::error::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let compacted = |name: &str| TopicSpec::new(name, 1).config("cleanup.policy", "compact");
    let (where_syncs, syncs) = topics::offset_syncs(&spec.replication);
    let syncs_cluster = match where_syncs {
        Cluster::Source => &spec.source,
        Cluster::Target => &spec.target,
    };
    let wanted = [
        (syncs_cluster, compacted(&syncs)),
        (&spec.target, compacted(&topics::checkpoints(&spec.replication))),
        (&spec.target, TopicSpec::new(topics::HEARTBEATS, 1)),
    ];
    for (cluster, topic) in wanted {
        if let Err(e) = rt.block_on(create_topics(cluster, &[topic], Duration::from_secs(10))) {
            if !e.message.contains("already exists") {
                return Err(e);
            }
        }
    }
    Ok(())
}

impl Replicator {
    pub fn start(spec: ReplicatorSpec) -> crate::error::Result<Replicator> {
        let mm2 = spec.replication.kind == ReplicationKind::MirrorMaker2;
        if mm2 {
            // Its own thread: creating topics blocks on a runtime, and the caller may be async.
            std::thread::scope(|scope| scope.spawn(|| create_internal_topics(&spec)).join())
                .map_err(|_| "creating MM2's internal topics panicked".to_string())??;
        }
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let stalled = Arc::new(AtomicBool::new(false));
        let delay = Arc::new(Mutex::new(Duration::ZERO));
        let mut worker = Worker::new(spec, mm2, shared.clone())?;
        let thread = {
            let (stop, stalled, delay, shared) = (stop.clone(), stalled.clone(), delay.clone(), shared.clone());
            std::thread::Builder::new()
                .name("replicator".into())
                .spawn(move || {
                    if let Err(e) = worker.run(&stop, &stalled, &delay) {
                        tracing::error!("replicator: {e}");
                        shared.lock().expect("replicator lock").error = Some(e.to_string());
                    }
                })
                .map_err(|e| e.to_string())?
        };
        Ok(Replicator {
            shared,
            stop,
            stalled,
            delay,
            thread: Some(thread),
        })
    }

    pub fn inject(&self, injection: Injection) {
        self.shared.lock().expect("replicator lock").injections.push(injection);
    }

    /// Stops copying (true) or resumes (false); syncs, checkpoints and heartbeats stop too.
    pub fn stall(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }

    /// Waits this long before copying each batch, so the target falls behind.
    pub fn set_lag(&self, lag: Duration) {
        *self.delay.lock().expect("replicator lock") = lag;
    }

    /// The next source offset to copy in a partition (0 before the first record).
    pub fn position(&self, topic: &str, partition: i32) -> i64 {
        let s = self.shared.lock().expect("replicator lock");
        s.positions.get(&(topic.to_string(), partition)).copied().unwrap_or(0)
    }

    pub fn syncs_written(&self) -> Vec<OffsetSync> {
        self.shared.lock().expect("replicator lock").syncs.clone()
    }

    pub fn checkpoints_written(&self) -> Vec<Checkpoint> {
        self.shared.lock().expect("replicator lock").checkpoints.clone()
    }

    /// Why the replicator stopped, if it failed.
    pub fn error(&self) -> Option<String> {
        self.shared.lock().expect("replicator lock").error.clone()
    }
}

struct Worker {
    spec: ReplicatorSpec,
    mm2: bool,
    shared: Arc<Mutex<Shared>>,
    reader: RecordReader,
    writer: RecordWriter,
    syncs_writer: Option<(RecordWriter, String)>,
    internal_writer: Option<RecordWriter>,
    group_client: rdkafka::consumer::BaseConsumer,
    emitters: BTreeMap<(String, i32), SyncEmitter>,
    /// The syncs MM2's checkpoint task would remember, for the checkpoints.
    remembered: Mm2SyncMemory,
    /// A record held back by ReorderWithNext, per partition.
    held: BTreeMap<(String, i32), Located>,
    /// Records read but not written because a stall began while they were read.
    unwritten: Vec<Located>,
    last_checkpoint: BTreeMap<(String, String, i32), i64>,
}

impl Worker {
    fn new(spec: ReplicatorSpec, mm2: bool, shared: Arc<Mutex<Shared>>) -> crate::error::Result<Worker> {
        // As MM2 reads (its Java consumer's default, read_uncommitted: aborted transactional
        // records are copied too) unless the source's properties say otherwise.
        let mut source = spec.source.clone();
        if !source.properties.iter().any(|(k, _)| k == "isolation.level") {
            source
                .properties
                .push(("isolation.level".into(), "read_uncommitted".into()));
        }
        let reader = RecordReader::new(&source)?;
        let metadata_client: rdkafka::consumer::BaseConsumer = crate::kafka::consumer_config(&spec.source)
            .create()
            .map_err(|e| e.to_string())?;
        let mut from = Vec::new();
        for t in &spec.topics {
            let md = metadata_client
                .fetch_metadata(Some(t), Duration::from_secs(10))
                .map_err(|e| format!("metadata of {t}: {e}"))?;
            let topic = md
                .topics()
                .first()
                .ok_or_else(|| format!("no topic {t} on the source"))?;
            from.extend(topic.partitions().iter().map(|p| (t.clone(), p.id(), None)));
        }
        reader.assign(&from)?;
        let writer = RecordWriter::new(&spec.target, spec.one_record_per_request)?;
        let (syncs_writer, internal_writer) = if mm2 {
            let (where_syncs, topic) = topics::offset_syncs(&spec.replication);
            let cluster = match where_syncs {
                Cluster::Source => &spec.source,
                Cluster::Target => &spec.target,
            };
            (
                Some((RecordWriter::new(cluster, spec.one_record_per_request)?, topic)),
                Some(RecordWriter::new(&spec.target, spec.one_record_per_request)?),
            )
        } else {
            (None, None)
        };
        Ok(Worker {
            spec,
            mm2,
            shared,
            reader,
            writer,
            syncs_writer,
            internal_writer,
            group_client: metadata_client,
            emitters: BTreeMap::new(),
            remembered: Mm2SyncMemory::default(),
            held: BTreeMap::new(),
            unwritten: Vec::new(),
            last_checkpoint: BTreeMap::new(),
        })
    }

    fn run(&mut self, stop: &AtomicBool, stalled: &AtomicBool, delay: &Mutex<Duration>) -> crate::error::Result<()> {
        let mut last_checkpoint = Instant::now();
        let mut last_heartbeat: Option<Instant> = None;
        while !stop.load(Ordering::SeqCst) {
            if stalled.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let lag = *delay.lock().expect("replicator lock");
            if !lag.is_zero() {
                std::thread::sleep(lag);
            }
            self.copy_batch(stalled)?;
            if self.mm2 && last_heartbeat.is_none_or(|t| t.elapsed() >= self.spec.heartbeat_interval) {
                self.heartbeat()?;
                last_heartbeat = Some(Instant::now());
            }
            if self.mm2 && last_checkpoint.elapsed() >= self.spec.checkpoint_interval {
                self.checkpoints()?;
                last_checkpoint = Instant::now();
            }
        }
        Ok(())
    }

    fn take_fault(&self, r: &Located) -> Option<Fault> {
        let mut s = self.shared.lock().expect("replicator lock");
        let i = s
            .injections
            .iter()
            .position(|j| j.topic == r.topic && j.partition == r.partition && j.offset == r.offset)?;
        Some(s.injections.remove(i).fault)
    }

    /// Reads what is there (up to a batch), writes it with its faults, then the offset-syncs.
    fn copy_batch(&mut self, stalled: &AtomicBool) -> crate::error::Result<()> {
        let mut batch: Vec<Located> = std::mem::take(&mut self.unwritten);
        while batch.len() < 2_000 {
            match self
                .reader
                .next(Duration::from_millis(if batch.is_empty() { 50 } else { 5 }))
            {
                None => break,
                Some(r) => batch.push(r?),
            }
        }
        // A stall that began while the batch was read holds it: nothing produced after the
        // stall began is copied until it ends.
        if batch.is_empty() || stalled.load(Ordering::SeqCst) {
            self.unwritten = batch;
            return Ok(());
        }
        // What gets written, in order: (source record, record to write, counts for syncs).
        let mut writes: Vec<(Located, Record, bool)> = Vec::new();
        let mut lost: Vec<(String, i32, i64)> = Vec::new();
        let mut order: VecDeque<Located> = batch.into();
        while let Some(r) = order.pop_front() {
            let key = (r.topic.clone(), r.partition);
            let fault = self.take_fault(&r);
            let mut record = r.record.clone();
            match fault {
                Some(Fault::Drop) => {
                    lost.push((r.topic.clone(), r.partition, r.offset));
                    continue;
                }
                Some(Fault::ReorderWithNext) => {
                    self.held.insert(key, r);
                    continue;
                }
                Some(Fault::Duplicate) => writes.push((r.clone(), record.clone(), false)),
                Some(Fault::CorruptValue) => {
                    let mut v = record.value.take().unwrap_or_default();
                    v.push(b'!');
                    record.value = Some(v);
                }
                Some(Fault::ChangeHeader) => record.headers.push(("cutover-fault".into(), Some(b"changed".to_vec()))),
                Some(Fault::ChangeTimestamp) => record.timestamp = record.timestamp.map(|t| t + 1),
                None => {}
            }
            writes.push((r.clone(), record, true));
            if let Some(held) = self.held.remove(&key) {
                let rec = held.record.clone();
                writes.push((held, rec, true));
            }
        }
        for (i, (src, rec, _)) in writes.iter().enumerate() {
            let target = self.spec.replication.target_topic(&src.topic);
            self.writer.send_tagged(&target, src.partition, rec, i as u64)?;
        }
        self.writer.flush(Duration::from_secs(30))?;
        let mut landed: Vec<Option<i64>> = vec![None; writes.len()];
        for (tag, outcome) in self.writer.landed() {
            landed[tag as usize] = Some(outcome?);
        }
        // Feed MM2's rules in the order things happened to each partition.
        let mut new_syncs = Vec::new();
        let mut lost = lost.into_iter().peekable();
        for (i, (src, _, counts)) in writes.iter().enumerate() {
            let key = (src.topic.clone(), src.partition);
            let emitter = self.emitters.entry(key.clone()).or_default();
            while let Some((t, p, o)) = lost.peek() {
                if *t == src.topic && *p == src.partition && *o < src.offset {
                    emitter.lose(*o);
                    lost.next();
                } else {
                    break;
                }
            }
            let down = landed[i].ok_or("a record was not acknowledged")?;
            // Offset-preserving replicators keep no offset-syncs.
            if self.mm2 && *counts && emitter.update(src.offset, down, self.spec.offset_lag_max) {
                new_syncs.push(OffsetSync {
                    topic: src.topic.clone(),
                    partition: src.partition,
                    upstream: src.offset,
                    downstream: down,
                });
            }
        }
        for (t, p, o) in lost {
            self.emitters.entry((t, p)).or_default().lose(o);
        }
        if let Some((w, topic)) = &self.syncs_writer {
            for s in &new_syncs {
                let (k, v) = s.encode().map_err(|e| e.to_string())?;
                w.send(topic, 0, &raw(k, v))?;
                self.remembered.record(&s.topic, s.partition, s.upstream, s.downstream);
            }
            w.flush(Duration::from_secs(30))?;
        }
        let mut shared = self.shared.lock().expect("replicator lock");
        for (src, _, _) in &writes {
            let pos = shared.positions.entry((src.topic.clone(), src.partition)).or_insert(0);
            *pos = (*pos).max(src.offset + 1);
        }
        shared.syncs.extend(new_syncs);
        Ok(())
    }

    fn heartbeat(&self) -> crate::error::Result<()> {
        let Some(w) = &self.internal_writer else { return Ok(()) };
        let hb = Heartbeat {
            source_alias: self.spec.replication.source_alias.clone(),
            target_alias: self.spec.replication.target_alias.clone(),
            timestamp: now_ms(),
        };
        let (k, v) = hb.encode().map_err(|e| e.to_string())?;
        w.send(topics::HEARTBEATS, 0, &raw(k, v))?;
        w.flush(Duration::from_secs(10))
    }

    /// MM2's checkpoints: each group's committed source offsets, translated with the +1 rule
    /// from the syncs MM2 remembers (not every sync: see `Mm2SyncMemory`).
    fn checkpoints(&mut self) -> crate::error::Result<()> {
        let Some(w) = &self.internal_writer else { return Ok(()) };
        let topic = topics::checkpoints(&self.spec.replication);
        let mut written = Vec::new();
        for (group, offsets) in
            list_group_offsets(self.group_client.client(), &self.spec.groups, Duration::from_secs(5))
        {
            let Ok(offsets) = offsets else { continue };
            for ((t, p), committed) in offsets {
                if !self.spec.topics.contains(&t) {
                    continue;
                }
                let Some(down) = self.remembered.checkpoint(&t, p, committed) else {
                    continue;
                };
                let target_topic = self.spec.replication.target_topic(&t);
                let key = (group.clone(), target_topic.clone(), p);
                // MM2 only moves checkpoints forward.
                if self.last_checkpoint.get(&key).is_some_and(|prev| *prev >= down) {
                    continue;
                }
                self.last_checkpoint.insert(key, down);
                let cp = Checkpoint {
                    group: group.clone(),
                    topic: target_topic,
                    partition: p,
                    upstream: committed,
                    downstream: down,
                    metadata: String::new(),
                };
                let (k, v) = cp.encode().map_err(|e| e.to_string())?;
                w.send(&topic, 0, &raw(k, v))?;
                written.push(cp);
            }
        }
        w.flush(Duration::from_secs(10))?;
        self.shared.lock().expect("replicator lock").checkpoints.extend(written);
        Ok(())
    }
}

fn raw(key: Vec<u8>, value: Vec<u8>) -> Record {
    Record {
        key: Some(key),
        value: Some(value),
        headers: Vec::new(),
        timestamp: Some(now_ms()),
    }
}
