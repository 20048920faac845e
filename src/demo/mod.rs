//! `cutover demo`: a live migration to watch and to drive, on one machine. Two local tansu
//! brokers and the MM2-compatible replicator (`--brokers kafka`: Apache Kafka 3.9 -> 4.x and the
//! real MirrorMaker 2, where the faults on records are not available); an estate shaped like seed 000's (payments, orders, notifications, a bursty
//! clickstream, a compacted customer-profiles with updates and tombstones, an audit topic
//! missing on the target and a config difference on purpose); applications that write
//! sequence numbers and consumer groups (several members, one that leaves and rejoins now and
//! then) that check them; the MM2-compatible replicator a little behind; and a three-wave
//! cutover plan whose hooks re-point the applications. A fault menu breaks things on purpose.
//! Not for production data.

pub mod apps;
pub mod broker;
pub mod clients;
pub mod kafka;
pub mod replicator;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::{ClusterConfig, Replication, ReplicationKind};
use crate::kafka::records::Record;
use apps::{control_file, Apps, GroupSpec, Place, ProducerSpec, Rate};
use broker::{Storage, TansuBroker};
use clients::{create_topics, RecordWriter, TopicSpec};
use kafka::{KafkaBroker, MirrorMaker};
use replicator::{Fault, Injection, Replicator, ReplicatorSpec};

/// The demo's MirrorMaker 2 alias of the source cluster (`<alias>.<topic>` on the target).
pub const SOURCE_ALIAS: &str = "dc1";

/// The fault menu: `:fault <name>` in the cockpit.
pub const FAULTS: &[(&str, &str)] = &[
    (
        "drop",
        "the replicator drops the next record of a topic still written on the source",
    ),
    (
        "duplicate",
        "the replicator writes the next record of such a topic twice",
    ),
    ("corrupt", "the replicator changes the next record's value"),
    (
        "stall",
        "replication stops (lag grows, MM2's heartbeat ages) until `fault resume`",
    ),
    ("resume", "replication goes on after a stall"),
    (
        "stop-target",
        "the target broker stops answering (SIGSTOP) until `fault start-target`",
    ),
    ("start-target", "the target broker answers again (SIGCONT)"),
    (
        "rebalance",
        "a member of the billing group leaves and rejoins: the group rebalances",
    ),
];

/// A wave of the demo's plan: its topics (with their partitions and traffic) and groups.
struct DemoWave {
    name: &'static str,
    topics: &'static [(&'static str, i32, Rate)],
    /// (group, topic, members)
    groups: &'static [(&'static str, &'static str, usize)],
}

/// Seed 000's order: analytics first, then notifications and orders, payments last.
const WAVES: &[DemoWave] = &[
    DemoWave {
        name: "analytics",
        topics: &[(
            "clickstream",
            12,
            Rate::Bursty {
                base: 8.0,
                burst: 40.0,
                every: 45.0,
                length: 6.0,
            },
        )],
        groups: &[("analytics-sessions", "clickstream", 2)],
    },
    DemoWave {
        name: "operations",
        topics: &[
            (
                "orders",
                3,
                Rate::Swell {
                    base: 4.0,
                    swing: 3.0,
                    period: 90.0,
                },
            ),
            (
                "notifications",
                4,
                Rate::Swell {
                    base: 3.0,
                    swing: 2.0,
                    period: 40.0,
                },
            ),
        ],
        groups: &[("billing", "orders", 2), ("notifier", "notifications", 1)],
    },
    DemoWave {
        name: "payments",
        topics: &[("payments", 6, Rate::Steady(5.0))],
        groups: &[("ledger", "payments", 2)],
    },
];

/// The group whose last member leaves and rejoins now and then.
const CHURNING_GROUP: &str = "analytics-sessions";
const CHURN_EVERY: Duration = Duration::from_secs(75);

fn target_name(topic: &str) -> String {
    format!("{SOURCE_ALIAS}.{topic}")
}

fn source_topics() -> Vec<TopicSpec> {
    let mut topics: Vec<TopicSpec> = WAVES
        .iter()
        .flat_map(|w| w.topics.iter().map(|(t, p, _)| TopicSpec::new(t, *p)))
        .collect();
    topics.push(TopicSpec::new("customer-profiles", 2).config("cleanup.policy", "compact"));
    topics.push(TopicSpec::new("audit", 1));
    topics
}

fn target_topics() -> Vec<TopicSpec> {
    let mut topics: Vec<TopicSpec> = WAVES
        .iter()
        .flat_map(|w| w.topics.iter().map(|(t, p, _)| TopicSpec::new(&target_name(t), *p)))
        .collect();
    // Drift on purpose: the compacted topic was created without compaction.
    topics.push(TopicSpec::new(&target_name("customer-profiles"), 2).config("cleanup.policy", "delete"));
    // `audit` is missing on the target on purpose.
    topics
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A shell word: single-quoted.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// The plan's `[[wave]]` tables: hooks that write the apps' control files.
fn plan(dir: &Path) -> String {
    let mut out = String::new();
    for w in WAVES {
        let topics: Vec<String> = w.topics.iter().map(|(t, ..)| format!("\"{t}\"")).collect();
        let groups: Vec<String> = w.groups.iter().map(|(g, ..)| format!("\"{g}\"")).collect();
        let producers = quoted(&control_file(dir, w.name, "producers"));
        let consumers = quoted(&control_file(dir, w.name, "consumers"));
        out += &format!(
            "[[wave]]\nname = \"{}\"\ntopics = [{}]\ngroups = [{}]\nstrategy = \"stop-the-world\"\nconfirm = \"each-step\"\n\
             [wave.hooks]\n\
             freeze_producers = \"echo stopped > {producers}\"\n\
             stop_consumers = \"echo stopped > {consumers}\"\n\
             flip_consumers = \"echo target > {consumers}\"\n\
             flip_producers = \"echo target > {producers}\"\n\
             rollback_flip_producers = \"echo stopped > {producers}\"\n\
             rollback_flip_consumers = \"echo stopped > {consumers}\"\n\
             rollback_stop_consumers = \"echo source > {consumers}\"\n\
             rollback_freeze_producers = \"echo source > {producers}\"\n\
             [wave.criteria]\nmax_lag_to_start = 2000\nrollback_if_target_group_lag_over = 5000\nrollback_after = \"2m\"\n\n",
            w.name,
            topics.join(", "),
            groups.join(", "),
        );
    }
    out
}

/// Which brokers and replicator the demo runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brokers {
    /// Two tansu brokers (they start in a second) and the MM2-compatible replicator.
    Tansu,
    /// Apache Kafka (source 3.9, target 4.x) and the real MirrorMaker 2, from `make setup`.
    Kafka,
}

/// The two clusters and what copies between them.
enum Estate {
    // The source brokers are held so that they run as long as the demo (dropped: stopped).
    Tansu {
        _source: TansuBroker,
        target: TansuBroker,
        replicator: Replicator,
    },
    Kafka {
        _source: KafkaBroker,
        target: KafkaBroker,
        mm2: Mutex<MirrorMaker>,
    },
}

impl Estate {
    fn freeze_target(&self, frozen: bool) -> crate::error::Result<()> {
        match self {
            Estate::Tansu { target, .. } => target.freeze(frozen),
            Estate::Kafka { target, .. } => target.freeze(frozen),
        }
    }

    /// Stops (true) or resumes (false) the copying.
    fn stall(&self, stalled: bool) -> crate::error::Result<()> {
        match self {
            Estate::Tansu { replicator, .. } => {
                replicator.stall(stalled);
                Ok(())
            }
            Estate::Kafka { mm2, .. } => {
                let mut mm2 = mm2.lock().expect("demo lock");
                match stalled {
                    true => {
                        mm2.stop();
                        Ok(())
                    }
                    false => mm2.running().or_else(|_| mm2.restart()),
                }
            }
        }
    }
}

/// The running demo; dropping it stops the applications, the replicator and the brokers, and
/// removes its directory unless `--dir` named one.
pub struct Demo {
    pub source_bootstrap: String,
    pub target_bootstrap: String,
    pub config_path: PathBuf,
    pub dir: PathBuf,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    estate: Estate,
    pub apps: Apps,
    /// Stalled by `fault stall` (so `start-target` does not resume it).
    stalled_by_hand: Mutex<bool>,
    /// Last: removed after everything else stopped.
    _tmp: Option<tempfile::TempDir>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A stopped broker would hold the clients' goodbyes.
        let _ = self.estate.freeze_target(false);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// What a fault did, and which topic to validate now to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultDone {
    pub text: String,
    pub validate: Option<String>,
}

impl Demo {
    /// Starts everything under `dir` (a new temporary directory when None) and writes
    /// `cutover.toml` there for the cockpit.
    pub async fn start(dir: Option<&Path>, brokers: Brokers) -> crate::error::Result<Demo> {
        let tmp = match dir {
            Some(_) => None,
            None => Some(
                tempfile::Builder::new()
                    .prefix("cutover-demo-")
                    .tempdir()
                    .map_err(|e| format!("cannot create a temporary directory: {e}"))?,
            ),
        };
        let dir = dir.map_or_else(
            || tmp.as_ref().expect("made above").path().to_path_buf(),
            Path::to_path_buf,
        );
        std::fs::create_dir_all(dir.join("apps")).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        // The memory engine reports group states (the sqlite one breaks DescribeGroups); its end
        // offsets are right as long as every produce request carries one record, so the demo's
        // writers send one record per request.
        let (source_bootstrap, target_bootstrap, brokers) = match brokers {
            Brokers::Tansu => {
                let source = TansuBroker::start(&dir.join("source"), "dc1", Storage::Memory)?;
                let target = TansuBroker::start(&dir.join("target"), "cloud", Storage::Memory)?;
                (source.bootstrap(), target.bootstrap(), (Some((source, target)), None))
            }
            Brokers::Kafka => {
                let source = KafkaBroker::start(&dir.join("source"), kafka::SOURCE_VERSION, &[])?;
                let target = KafkaBroker::start(&dir.join("target"), kafka::TARGET_VERSION, &[])?;
                (source.bootstrap(), target.bootstrap(), (None, Some((source, target))))
            }
        };
        let src = ClusterConfig::plaintext("dc1", &source_bootstrap);
        let tgt = ClusterConfig::plaintext("cloud", &target_bootstrap);
        let timeout = Duration::from_secs(10);
        create_topics(&src, &source_topics(), timeout).await?;
        create_topics(&tgt, &target_topics(), timeout).await?;

        let config_path = dir.join("cutover.toml");
        let config = format!(
            "# Written by `cutover demo`.\n[source]\nname = \"dc1\"\nbootstrap = \"{}\"\n\n[target]\nname = \"cloud\"\nbootstrap = \"{}\"\n\n\
             [replication]\nkind = \"mirrormaker2\"\nsource_alias = \"{SOURCE_ALIAS}\"\ntarget_alias = \"cloud\"\npolicy = \"default\"\n\n\
             [monitor]\nrefresh_interval = \"1s\"\nlag_warn = 50\nlag_crit = 1000\n\n\
             [cutover]\njournal = \"{}\"\nsettle = \"4s\"\nhook_timeout = \"30s\"\n\n{}\
             [log]\nfile = \"{}\"\n",
            source_bootstrap,
            target_bootstrap,
            dir.join("cutover.journal").display(),
            plan(&dir),
            dir.join("cutover.log").display()
        );
        std::fs::write(&config_path, config).map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;

        // Every application starts on the source.
        let mut producers = Vec::new();
        let mut groups = Vec::new();
        for w in WAVES {
            let (p_file, c_file) = (
                control_file(&dir, w.name, "producers"),
                control_file(&dir, w.name, "consumers"),
            );
            for f in [&p_file, &c_file] {
                std::fs::write(f, "source\n").map_err(|e| format!("cannot write {}: {e}", f.display()))?;
            }
            for (topic, partitions, rate) in w.topics {
                producers.push(ProducerSpec {
                    topic: topic.to_string(),
                    target_topic: target_name(topic),
                    partitions: *partitions,
                    rate: *rate,
                    control: p_file.clone(),
                });
            }
            for (group, topic, members) in w.groups {
                groups.push(GroupSpec {
                    name: group.to_string(),
                    topic: topic.to_string(),
                    target_topic: target_name(topic),
                    members: *members,
                    control: c_file.clone(),
                    churn: (*group == CHURNING_GROUP).then_some(CHURN_EVERY),
                });
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let apps = Apps::start(&producers, &groups, &src, &tgt, &stop, &mut threads);
        threads.push(spawn("demo-profiles", {
            let (src, stop) = (src.clone(), stop.clone());
            move || profiles(&src, &stop)
        }));
        threads.push(spawn("demo-audit", {
            let (src, stop) = (src.clone(), stop.clone());
            move || audit(&src, &stop)
        }));

        let replication = Replication {
            kind: ReplicationKind::MirrorMaker2,
            source_alias: SOURCE_ALIAS.into(),
            target_alias: "cloud".into(),
            ..Default::default()
        };
        // Only the topics that exist on the target are copied (audit is missing there).
        let copied: Vec<String> = source_topics()
            .into_iter()
            .map(|t| t.name)
            .filter(|t| t != "audit")
            .collect();
        let copied: Vec<&str> = copied.iter().map(String::as_str).collect();
        let estate = match brokers {
            (Some((source, target)), _) => {
                let mut spec = ReplicatorSpec::new(src.clone(), tgt.clone(), replication, &copied);
                spec.groups = groups.iter().map(|g| g.name.clone()).collect();
                spec.one_record_per_request = true;
                spec.checkpoint_interval = Duration::from_secs(2);
                let replicator = Replicator::start(spec)?;
                // A little behind, so the cockpit has lag and checkpoint slack to show.
                replicator.set_lag(Duration::from_millis(700));
                Estate::Tansu {
                    _source: source,
                    target,
                    replicator,
                }
            }
            (_, Some((source, target))) => {
                let mut props = kafka::mm2_properties(SOURCE_ALIAS, &source_bootstrap, "cloud", &target_bootstrap);
                props.extend([
                    // The copied topics only (audit is missing on the target on purpose) ...
                    ("topics".to_string(), copied.join(",")),
                    // ... and the config drift kept (MM2 would copy the source's configs).
                    ("sync.topic.configs.enabled".to_string(), "false".to_string()),
                    ("emit.checkpoints.interval.seconds".to_string(), "2".to_string()),
                ]);
                let mm2 = MirrorMaker::start(&dir.join("mm2"), kafka::TARGET_VERSION, &props)?;
                Estate::Kafka {
                    _source: source,
                    target,
                    mm2: Mutex::new(mm2),
                }
            }
            (None, None) => unreachable!("one estate was started above"),
        };
        Ok(Demo {
            source_bootstrap,
            target_bootstrap,
            config_path,
            dir,
            stop,
            threads,
            estate,
            apps,
            stalled_by_hand: Mutex::new(false),
            _tmp: tmp,
        })
    }

    /// One line for the cockpit's header: what the applications' consumers saw.
    pub fn status(&self) -> String {
        self.apps.tally.line()
    }

    /// Breaks something on purpose (see `FAULTS`). Blocks until the fault happened (a record
    /// fault: until the replicator copied past it, at most 30 s).
    pub fn inject(&self, name: &str) -> crate::error::Result<FaultDone> {
        let done = |text: String| FaultDone { text, validate: None };
        match name {
            "drop" => self.record_fault(Fault::Drop),
            "duplicate" => self.record_fault(Fault::Duplicate),
            "corrupt" => self.record_fault(Fault::CorruptValue),
            "stall" => {
                *self.stalled_by_hand.lock().expect("demo lock") = true;
                self.estate.stall(true)?;
                Ok(done(
                    "replication stalled: lag grows and MM2's heartbeat ages; `fault resume` ends it".into(),
                ))
            }
            "resume" => {
                *self.stalled_by_hand.lock().expect("demo lock") = false;
                self.estate.stall(false)?;
                Ok(done("replication resumed".into()))
            }
            "stop-target" => {
                // MM2 cannot write to a target that does not answer: its tasks stop too.
                self.estate.stall(true)?;
                std::thread::sleep(Duration::from_millis(1500));
                self.estate.freeze_target(true)?;
                Ok(done(
                    "target broker stopped (SIGSTOP): it does not answer; `fault start-target` wakes it".into(),
                ))
            }
            "start-target" => {
                self.estate.freeze_target(false)?;
                if !*self.stalled_by_hand.lock().expect("demo lock") {
                    self.estate.stall(false)?;
                }
                Ok(done("target broker answers again (SIGCONT)".into()))
            }
            "rebalance" => {
                self.apps.rebalance("billing")?;
                Ok(done(
                    "a billing member leaves and rejoins in 3 s: the group rebalances".into(),
                ))
            }
            other => Err(format!(
                "no fault `{other}`: try {}",
                FAULTS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )
            .into()),
        }
    }

    /// A fault on the next record the replicator copies of a topic whose producers still write
    /// to the source (so the record comes); waits until it was copied.
    fn record_fault(&self, fault: Fault) -> crate::error::Result<FaultDone> {
        let Estate::Tansu { replicator, .. } = &self.estate else {
            return Err(
                "records are broken on purpose by the demo's own replicator; with the real MirrorMaker 2 \
                 (--brokers kafka) the faults are stall, resume, stop-target, start-target and rebalance"
                    .into(),
            );
        };
        let wave = WAVES
            .iter()
            .find(|w| apps::read_place(&control_file(&self.dir, w.name, "producers")) == Place::Source)
            .ok_or("every wave's producers moved off the source: no record will be copied to break")?;
        let topic = wave.topics[0].0;
        let partition = 0;
        let offset = replicator.position(topic, partition) + 1;
        replicator.inject(Injection {
            topic: topic.into(),
            partition,
            offset,
            fault,
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while replicator.position(topic, partition) <= offset {
            if Instant::now() > deadline {
                return Err(format!(
                    "{fault:?} armed at {topic}/{partition} source offset {offset}, not copied within 30 s (stalled?)"
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let what = match fault {
            Fault::Drop => "dropped",
            Fault::Duplicate => "duplicated",
            _ => "corrupted",
        };
        Ok(FaultDone {
            text: format!("the replicator {what} {topic}/{partition} source offset {offset}; validating {topic}"),
            validate: Some(topic.to_string()),
        })
    }
}

pub(crate) fn spawn(name: &str, f: impl FnOnce() -> crate::error::Result<()> + Send + 'static) -> JoinHandle<()> {
    let name = name.to_string();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            if let Err(e) = f() {
                tracing::error!("{name}: {e}");
            }
        })
        .expect("spawn a demo thread")
}

/// customer-profiles: updates of 40 customers' profiles, now and then a tombstone (a customer
/// deleted), on the source only (not part of the plan).
fn profiles(src: &ClusterConfig, stop: &AtomicBool) -> crate::error::Result<()> {
    let writer = RecordWriter::new(src, true)?;
    let mut n: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        let customer = (n * 7) % 40;
        let value =
            (n % 13 != 12).then(|| format!("{{\"customer\":{customer},\"tier\":{},\"v\":{n}}}", n % 3).into_bytes());
        let rec = Record {
            key: Some(format!("customer-{customer}").into_bytes()),
            value,
            headers: vec![],
            timestamp: Some(now_ms()),
        };
        writer.send("customer-profiles", (customer % 2) as i32, &rec)?;
        writer.flush(Duration::from_secs(10))?;
        n += 1;
        std::thread::sleep(Duration::from_millis(700));
    }
    Ok(())
}

/// audit: a record a second, on the source only (the topic is missing on the target).
fn audit(src: &ClusterConfig, stop: &AtomicBool) -> crate::error::Result<()> {
    let writer = RecordWriter::new(src, true)?;
    let mut n: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        let rec = Record {
            key: None,
            value: Some(format!("{{\"event\":{n}}}").into_bytes()),
            headers: vec![],
            timestamp: Some(now_ms()),
        };
        writer.send("audit", 0, &rec)?;
        writer.flush(Duration::from_secs(10))?;
        n += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
    Ok(())
}
