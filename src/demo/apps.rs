//! The demo's applications: producers that write a sequence number per partition, and
//! consumer groups (several members each) that check the numbers they process: a number seen
//! twice is a duplicate, a number skipped is a gap. Both are re-pointed between the clusters
//! by the cutover plan's hooks through control files (`<dir>/apps/<wave>-producers` and
//! `-consumers`, holding "source", "target" or "stopped"), as real deployments are re-pointed
//! by their own tooling.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::Message;

use super::clients::RecordWriter;
use crate::config::ClusterConfig;
use crate::kafka::records::Record;

/// Where a wave's producers write, or its groups read, now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Source,
    Target,
    Stopped,
}

impl Place {
    pub fn word(self) -> &'static str {
        match self {
            Place::Source => "source",
            Place::Target => "target",
            Place::Stopped => "stopped",
        }
    }
}

/// What a control file says; a missing or unreadable file means stopped.
pub fn read_place(path: &Path) -> Place {
    match std::fs::read_to_string(path).unwrap_or_default().trim() {
        "source" => Place::Source,
        "target" => Place::Target,
        _ => Place::Stopped,
    }
}

/// The control file of a wave's producers (`producers`) or consumers (`consumers`).
pub fn control_file(dir: &Path, wave: &str, role: &str) -> PathBuf {
    dir.join("apps").join(format!("{wave}-{role}"))
}

/// How many records a second a producer writes, `t` seconds after it started: uneven and
/// changing, like real traffic.
#[derive(Debug, Clone, Copy)]
pub enum Rate {
    Steady(f64),
    /// Rises and falls around `base` by `swing` over `period` seconds.
    Swell {
        base: f64,
        swing: f64,
        period: f64,
    },
    /// `base`, with `burst` records a second for `length` seconds every `every` seconds.
    Bursty {
        base: f64,
        burst: f64,
        every: f64,
        length: f64,
    },
}

impl Rate {
    pub fn per_second(self, t: f64) -> f64 {
        match self {
            Rate::Steady(r) => r,
            Rate::Swell { base, swing, period } => (base + swing * (t * std::f64::consts::TAU / period).sin()).max(0.5),
            Rate::Bursty {
                base,
                burst,
                every,
                length,
            } => {
                if t % every < length {
                    burst
                } else {
                    base
                }
            }
        }
    }
}

/// A topic the demo's application writes, on the source as `topic` and on the target as
/// `target_topic` once its wave flipped the producers.
#[derive(Debug, Clone)]
pub struct ProducerSpec {
    pub topic: String,
    pub target_topic: String,
    pub partitions: i32,
    pub rate: Rate,
    pub control: PathBuf,
}

/// A consumer group of the demo's application.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub name: String,
    pub topic: String,
    pub target_topic: String,
    pub members: usize,
    pub control: PathBuf,
    /// The last member leaves and rejoins this often (a rebalance to watch).
    pub churn: Option<Duration>,
}

/// What the consumers saw, all groups together.
#[derive(Debug, Default)]
pub struct Tally {
    pub processed: AtomicU64,
    pub duplicates: AtomicU64,
    pub gaps: AtomicU64,
    /// Per (group, source topic, partition): the next sequence number expected.
    next: Mutex<BTreeMap<(String, String, i32), u64>>,
}

impl Tally {
    /// Counts one processed record: in order, a duplicate (seen before) or after a gap.
    pub fn record(&self, group: &str, topic: &str, partition: i32, seq: u64) -> Verdict {
        let mut next = self.next.lock().expect("tally lock");
        let expected = next.entry((group.into(), topic.into(), partition)).or_insert(0);
        self.processed.fetch_add(1, Ordering::Relaxed);
        let verdict = if seq < *expected {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            Verdict::Duplicate { expected: *expected }
        } else if seq > *expected {
            self.gaps.fetch_add(seq - *expected, Ordering::Relaxed);
            Verdict::Gap { expected: *expected }
        } else {
            Verdict::InOrder
        };
        *expected = (*expected).max(seq + 1);
        verdict
    }

    /// One line for the cockpit's header.
    pub fn line(&self) -> String {
        format!(
            "demo apps: {} processed, {} duplicates, {} gaps",
            self.processed.load(Ordering::Relaxed),
            self.duplicates.load(Ordering::Relaxed),
            self.gaps.load(Ordering::Relaxed)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    InOrder,
    Duplicate { expected: u64 },
    Gap { expected: u64 },
}

/// A record's value: its sequence number in its partition.
pub fn value(seq: u64) -> Vec<u8> {
    format!("{{\"seq\":{seq}}}").into_bytes()
}

/// The sequence number in a record's value, if it is one of ours.
pub fn parse_seq(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    text.strip_prefix("{\"seq\":")?.strip_suffix('}')?.parse().ok()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Writes sequence numbers round-robin over the partitions at the spec's rate, each record
/// acknowledged before the next (so a record is either acknowledged or not sent), to wherever
/// the control file says.
pub fn produce(
    spec: &ProducerSpec,
    source: &ClusterConfig,
    target: &ClusterConfig,
    stop: &AtomicBool,
) -> crate::error::Result<()> {
    let on_source = RecordWriter::new(source, true)?;
    let on_target = RecordWriter::new(target, true)?;
    let mut next: BTreeMap<i32, u64> = BTreeMap::new();
    let started = Instant::now();
    let mut i: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        let rate = spec.rate.per_second(started.elapsed().as_secs_f64());
        let pause = Duration::from_secs_f64(1.0 / rate.max(0.1));
        let (writer, topic) = match read_place(&spec.control) {
            Place::Stopped => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Place::Source => (&on_source, &spec.topic),
            Place::Target => (&on_target, &spec.target_topic),
        };
        let partition = (i % spec.partitions as u64) as i32;
        let seq = *next.get(&partition).unwrap_or(&0);
        let record = Record {
            key: Some(format!("{}-{partition}-{}", spec.topic, seq % 100).into_bytes()),
            value: Some(value(seq)),
            headers: vec![("origin".into(), Some(b"demo".to_vec()))],
            timestamp: Some(now_ms()),
        };
        let sent = Instant::now();
        let acked = writer.send(topic, partition, &record).and_then(|_| {
            // Wait for this record's report however long the broker is away: sending the
            // number again while the first is in flight would write it twice.
            loop {
                let _ = writer.flush(Duration::from_secs(1));
                match writer.landed().pop() {
                    Some((_, Ok(_))) => return Ok(()),
                    Some((_, Err(e))) => return Err(e),
                    None if stop.load(Ordering::SeqCst) => return Err("stopped".into()),
                    None => {}
                }
            }
        });
        match acked {
            Ok(()) => {
                next.insert(partition, seq + 1);
                i += 1;
            }
            // Not acknowledged: the same number is sent again (the broker may be away).
            Err(e) => tracing::warn!("demo producer {topic}/{partition}: {e}"),
        }
        std::thread::sleep(pause.saturating_sub(sent.elapsed()));
    }
    Ok(())
}

/// One member of a group: joins where the control file says, processes (counts) each record
/// and commits it before the next poll, so a rebalance never hands a processed record to
/// another member uncommitted; leaves cleanly when the control file changes.
pub fn consume(
    spec: &GroupSpec,
    member: usize,
    source: &ClusterConfig,
    target: &ClusterConfig,
    tally: &Tally,
    rejoin: &AtomicBool,
    stop: &AtomicBool,
) -> crate::error::Result<()> {
    let mut joined: Option<(Place, BaseConsumer)> = None;
    let churn_every = spec.churn.filter(|_| member + 1 == spec.members);
    let mut churn_at = churn_every.map(|d| Instant::now() + d);
    while !stop.load(Ordering::SeqCst) {
        let place = read_place(&spec.control);
        let churn_now = churn_at.is_some_and(|at| Instant::now() >= at);
        let asked = rejoin.swap(false, Ordering::SeqCst);
        if joined.as_ref().map(|(p, _)| *p) != Some(place) || churn_now || asked {
            if let Some((_, c)) = joined.take() {
                leave(c);
            }
            if churn_now || asked {
                // Out for a moment, then back: the group rebalances twice.
                std::thread::sleep(Duration::from_secs(3));
                churn_at = churn_every.map(|d| Instant::now() + d);
            }
            let (cluster, topic) = match read_place(&spec.control) {
                Place::Stopped => {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                Place::Source => (source, &spec.topic),
                Place::Target => (target, &spec.target_topic),
            };
            joined = Some((read_place(&spec.control), join(cluster, &spec.name, topic)?));
        }
        let Some((_, consumer)) = &joined else { continue };
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(e)) => tracing::debug!("demo group {}: {e}", spec.name),
            Some(Ok(m)) => {
                if let Some(seq) = m.payload().and_then(parse_seq) {
                    let verdict = tally.record(&spec.name, &spec.topic, m.partition(), seq);
                    if verdict != Verdict::InOrder {
                        tracing::warn!(
                            "demo group {} {}/{} offset {}: sequence {seq}: {verdict:?}",
                            spec.name,
                            m.topic(),
                            m.partition(),
                            m.offset()
                        );
                    }
                }
                if let Err(e) = consumer.commit_message(&m, CommitMode::Sync) {
                    tracing::warn!("demo group {}: commit: {e}", spec.name);
                }
            }
        }
    }
    if let Some((_, c)) = joined {
        leave(c);
    }
    Ok(())
}

fn join(cluster: &ClusterConfig, group: &str, topic: &str) -> crate::error::Result<BaseConsumer> {
    let mut c = crate::kafka::consumer_config(cluster);
    c.set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500");
    let consumer: BaseConsumer = c.create().map_err(|e| format!("{}: consumer: {e}", cluster.name))?;
    consumer
        .subscribe(&[topic])
        .map_err(|e| format!("subscribe {topic}: {e}"))?;
    Ok(consumer)
}

/// Leaves the group at once (LeaveGroup), so it turns Empty without waiting for the session.
fn leave(consumer: BaseConsumer) {
    consumer.unsubscribe();
    let _ = consumer.poll(Duration::from_millis(100));
    drop(consumer);
}

/// The running applications and what their consumers saw.
pub struct Apps {
    pub tally: Arc<Tally>,
    /// Per group, one flag per member: set to make it leave and rejoin.
    rejoin: BTreeMap<String, Vec<Arc<AtomicBool>>>,
}

impl Apps {
    /// Starts every producer and every member (threads that end when `stop` is set).
    pub fn start(
        producers: &[ProducerSpec],
        groups: &[GroupSpec],
        source: &ClusterConfig,
        target: &ClusterConfig,
        stop: &Arc<AtomicBool>,
        threads: &mut Vec<std::thread::JoinHandle<()>>,
    ) -> Apps {
        let tally = Arc::new(Tally::default());
        for p in producers {
            let (p, source, target, stop) = (p.clone(), source.clone(), target.clone(), stop.clone());
            threads.push(super::spawn(&format!("demo-producer-{}", p.topic), move || {
                produce(&p, &source, &target, &stop)
            }));
        }
        let mut rejoin = BTreeMap::new();
        for g in groups {
            let flags: Vec<Arc<AtomicBool>> = (0..g.members).map(|_| Arc::default()).collect();
            for (m, flag) in flags.iter().enumerate() {
                let (g, source, target, stop, tally, flag) = (
                    g.clone(),
                    source.clone(),
                    target.clone(),
                    stop.clone(),
                    tally.clone(),
                    flag.clone(),
                );
                threads.push(super::spawn(&format!("demo-{}-{m}", g.name), move || {
                    consume(&g, m, &source, &target, &tally, &flag, &stop)
                }));
            }
            rejoin.insert(g.name.clone(), flags);
        }
        Apps { tally, rejoin }
    }

    /// Makes one member of `group` leave and rejoin: the group rebalances.
    pub fn rebalance(&self, group: &str) -> crate::error::Result<()> {
        let flags = self.rejoin.get(group).ok_or_else(|| format!("no demo group {group}"))?;
        flags
            .first()
            .ok_or_else(|| format!("group {group} has no member"))?
            .store(true, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tally_counts_duplicates_and_gaps_per_group_and_partition() {
        let t = Tally::default();
        assert_eq!(t.record("g", "orders", 0, 0), Verdict::InOrder);
        assert_eq!(t.record("g", "orders", 0, 1), Verdict::InOrder);
        assert_eq!(t.record("g", "orders", 1, 0), Verdict::InOrder);
        assert_eq!(
            t.record("h", "orders", 0, 0),
            Verdict::InOrder,
            "another group counts apart"
        );
        assert_eq!(t.record("g", "orders", 0, 1), Verdict::Duplicate { expected: 2 });
        assert_eq!(t.record("g", "orders", 0, 4), Verdict::Gap { expected: 2 });
        assert_eq!(t.record("g", "orders", 0, 5), Verdict::InOrder);
        assert_eq!(t.line(), "demo apps: 7 processed, 1 duplicates, 2 gaps");
    }

    #[test]
    fn values_carry_their_sequence_number() {
        assert_eq!(parse_seq(&value(42)), Some(42));
        assert_eq!(parse_seq(b"{\"seq\":x}"), None);
        assert_eq!(parse_seq(b"other"), None);
    }

    #[test]
    fn rates_change_over_time() {
        let b = Rate::Bursty {
            base: 5.0,
            burst: 40.0,
            every: 30.0,
            length: 5.0,
        };
        assert_eq!(b.per_second(2.0), 40.0);
        assert_eq!(b.per_second(10.0), 5.0);
        let s = Rate::Swell {
            base: 4.0,
            swing: 2.0,
            period: 60.0,
        };
        assert!(s.per_second(15.0) > 5.9 && s.per_second(45.0) < 2.1);
    }
}
