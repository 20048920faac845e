//! Lag in seconds against records whose timestamps are known: a producer that writes record i
//! of a one-partition topic with timestamp t0 + i * every, on that schedule, and the samples
//! the cockpit's figures are checked with.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cutover::config::{ClusterConfig, Config};
use cutover::demo::clients::RecordWriter;
use cutover::kafka::records::Record;
use cutover::model::groups::group_partitions;
use cutover::model::lag_time::Age;
use cutover::model::overview::topic_pairs;
use cutover::monitor::Monitor;

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Writes record i (from offset 0 of a new topic's partition 0) every `every`, each with the
/// time it is sent as its timestamp and acknowledged before the next: the timestamp of each
/// offset is known.
pub struct ClockedProducer {
    pub written: Arc<AtomicI64>,
    timestamps: Arc<std::sync::Mutex<Vec<i64>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ClockedProducer {
    pub fn start(cluster: &ClusterConfig, topic: &str, every: Duration) -> ClockedProducer {
        let (stop, written) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicI64::new(0)));
        let timestamps = Arc::new(std::sync::Mutex::new(Vec::new()));
        let w = RecordWriter::new(cluster, false).expect("writer");
        let (s, n, topic, times) = (stop.clone(), written.clone(), topic.to_string(), timestamps.clone());
        let thread = std::thread::spawn(move || {
            let mut i = 0i64;
            while !s.load(Ordering::SeqCst) {
                std::thread::sleep(every);
                let ts = now_ms();
                times.lock().unwrap().push(ts);
                let r = Record {
                    key: Some(format!("k{i}").into_bytes()),
                    value: Some(format!("v{i}").into_bytes()),
                    headers: vec![],
                    timestamp: Some(ts),
                };
                w.send(&topic, 0, &r).expect("send");
                w.flush(Duration::from_secs(10)).expect("flush");
                i += 1;
                n.store(i, Ordering::SeqCst);
            }
        });
        ClockedProducer {
            timestamps,
            written,
            stop,
            thread: Some(thread),
        }
    }

    /// The timestamp of the record at `offset`.
    pub fn timestamp(&self, offset: i64) -> SystemTime {
        let ms = self.timestamps.lock().unwrap()[offset as usize];
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    }

    pub fn stop(mut self) -> i64 {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("producer thread");
        }
        self.written.load(Ordering::SeqCst)
    }
}

impl Drop for ClockedProducer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// One source poll's figures for the topic and a group's commit on it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: SystemTime,
    pub end: i64,
    /// Records waiting to be copied, and their age as the cockpit shows it.
    pub lag: i64,
    pub age: Option<Age>,
    /// The group's committed offset on the source, and the age of its lag.
    pub committed: Option<i64>,
    pub group_age: Option<Age>,
}

impl Sample {
    /// How old the oldest waiting record truly is at the poll: from its known timestamp.
    pub fn truth(&self, p: &ClockedProducer) -> Duration {
        match self.lag {
            0 => Duration::ZERO,
            lag => self.at.duration_since(p.timestamp(self.end - lag)).unwrap_or_default(),
        }
    }

    pub fn group_truth(&self, p: &ClockedProducer) -> Option<Duration> {
        let c = self.committed?;
        Some(match c >= self.end {
            true => Duration::ZERO,
            false => self.at.duration_since(p.timestamp(c)).unwrap_or_default(),
        })
    }
}

/// One sample per source poll for `duration`, from the monitor's snapshots.
pub fn samples(m: &Monitor, config: &Config, topic: &str, group: &str, duration: Duration) -> Vec<Sample> {
    let deadline = std::time::Instant::now() + duration;
    let mut out: Vec<Sample> = Vec::new();
    while std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let snap = m.snapshots.borrow().clone();
        let Some(src) = snap.source.state() else { continue };
        if out.last().is_some_and(|s| s.at == src.polled_at) {
            continue;
        }
        let pairs = topic_pairs(
            &snap,
            &config.replication,
            &config.topics,
            &config.monitor,
            SystemTime::now(),
        );
        let Some(pair) = pairs.into_iter().find(|p| p.source_topic == topic) else {
            continue;
        };
        let (Some(lag), Some(end)) = (pair.lag, pair.source_end) else {
            continue;
        };
        let group_row = group_partitions(&snap, &config.replication, group)
            .into_iter()
            .find(|g| g.source_topic == topic && g.partition == 0);
        out.push(Sample {
            at: src.polled_at,
            end,
            lag,
            age: pair.lag_age,
            committed: group_row.as_ref().and_then(|g| g.source_committed),
            group_age: group_row.and_then(|g| g.source_age),
        });
    }
    out
}

/// |a - b|
pub fn off_by(a: Duration, b: Duration) -> Duration {
    a.abs_diff(b)
}
