//! A self-contained demo: two local tansu brokers, topics with traffic on the source, the
//! MM2-compatible replicator copying to the target (with a little lag, offset-syncs,
//! checkpoints and heartbeats), and a consumer group committing.
//! The inventory has a missing topic and a config difference on purpose, so every view shows
//! something. Not for production data.

pub mod broker;
pub mod clients;
pub mod replicator;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{ClusterConfig, Replication, ReplicationKind};
use crate::kafka::records::Record;
use broker::{Storage, TansuBroker};
use clients::{create_topics, GroupMember, RecordWriter, TopicSpec};
use replicator::{Replicator, ReplicatorSpec};

/// The demo's MirrorMaker 2 alias of the source cluster (`<alias>.<topic>` on the target).
pub const SOURCE_ALIAS: &str = "dc1";

/// The running demo; dropping it stops the traffic and the brokers.
pub struct Demo {
    pub source: TansuBroker,
    pub target: TansuBroker,
    pub config_path: PathBuf,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub replicator: Replicator,
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn source_topics() -> Vec<TopicSpec> {
    vec![
        TopicSpec::new("orders", 3).config("retention.ms", "604800000"),
        TopicSpec::new("payments", 6).config("min.insync.replicas", "1"),
        TopicSpec::new("customers", 2).config("cleanup.policy", "compact"),
        TopicSpec::new("audit", 1),
    ]
}

fn target_topics() -> Vec<TopicSpec> {
    let name = |t: &str| format!("{SOURCE_ALIAS}.{t}");
    vec![
        TopicSpec::new(&name("orders"), 3).config("retention.ms", "604800000"),
        TopicSpec::new(&name("payments"), 6).config("min.insync.replicas", "1"),
        // Drift on purpose: the compacted topic was created without compaction.
        TopicSpec::new(&name("customers"), 2).config("cleanup.policy", "delete"),
        // `audit` is missing on the target on purpose.
    ]
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Demo {
    /// Starts everything under `dir` and writes `dir/cutover.toml` for the cockpit.
    pub async fn start(dir: &Path) -> Result<Demo, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        // The memory engine reports group states (the sqlite one breaks DescribeGroups); its end
        // offsets are right as long as every produce request carries one record, so the demo's
        // writers send one record per request.
        let source = TansuBroker::start(&dir.join("source"), "dc1", Storage::Memory)?;
        let target = TansuBroker::start(&dir.join("target"), "cloud", Storage::Memory)?;
        let src = ClusterConfig::plaintext("dc1", &source.bootstrap());
        let tgt = ClusterConfig::plaintext("cloud", &target.bootstrap());
        let timeout = Duration::from_secs(10);
        create_topics(&src, &source_topics(), timeout).await?;
        create_topics(&tgt, &target_topics(), timeout).await?;

        let config_path = dir.join("cutover.toml");
        let log = dir.join("cutover.log");
        let config = format!(
            "# Written by `cutover demo`.\n[source]\nname = \"dc1\"\nbootstrap = \"{}\"\n\n[target]\nname = \"cloud\"\nbootstrap = \"{}\"\n\n\
             [replication]\nkind = \"mirrormaker2\"\nsource_alias = \"{SOURCE_ALIAS}\"\ntarget_alias = \"cloud\"\npolicy = \"default\"\n\n\
             [monitor]\nrefresh_interval = \"1s\"\nlag_warn = 20\nlag_crit = 500\n\n[log]\nfile = \"{}\"\n",
            source.bootstrap(),
            target.bootstrap(),
            log.display()
        );
        std::fs::write(&config_path, config).map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;

        let stop = Arc::new(AtomicBool::new(false));
        let threads = vec![
            spawn("demo-traffic", stop.clone(), {
                let src = src.clone();
                move |stop| traffic(&src, &stop)
            }),
            spawn("demo-consumer", stop.clone(), {
                let src = src.clone();
                move |stop| consume(&src, &stop)
            }),
        ];
        let replication = Replication {
            kind: ReplicationKind::MirrorMaker2,
            source_alias: SOURCE_ALIAS.into(),
            target_alias: "cloud".into(),
            ..Default::default()
        };
        // Only the topics that exist on the target are copied (audit is missing there).
        let copied: Vec<&str> = vec!["orders", "payments", "customers"];
        let mut spec = ReplicatorSpec::new(src.clone(), tgt.clone(), replication, &copied);
        spec.groups = vec!["billing".into()];
        spec.one_record_per_request = true;
        spec.checkpoint_interval = Duration::from_secs(2);
        let replicator = Replicator::start(spec)?;
        // A little behind, so the cockpit has lag and checkpoint slack to show.
        replicator.set_lag(Duration::from_millis(700));
        Ok(Demo {
            source,
            target,
            config_path,
            stop,
            threads,
            replicator,
        })
    }
}

fn spawn(
    name: &str,
    stop: Arc<AtomicBool>,
    f: impl FnOnce(Arc<AtomicBool>) -> Result<(), String> + Send + 'static,
) -> JoinHandle<()> {
    let name = name.to_string();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            if let Err(e) = f(stop) {
                tracing::error!("{name}: {e}");
            }
        })
        .expect("spawn a demo thread")
}

/// Produces a few records a second to every source topic, in bursts now and then.
fn traffic(src: &ClusterConfig, stop: &AtomicBool) -> Result<(), String> {
    let writer = RecordWriter::new(src, true)?;
    let topics = source_topics();
    let mut n: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        let burst = if n % 200 < 20 { 10 } else { 1 };
        for _ in 0..burst {
            for t in &topics {
                let partition = (n % t.partitions as u64) as i32;
                let key = format!("{}-{}", t.name, n % 50);
                let rec = Record {
                    key: Some(key.into_bytes()),
                    value: Some(format!("{{\"seq\":{n},\"topic\":\"{}\"}}", t.name).into_bytes()),
                    headers: vec![("origin".into(), Some(b"demo".to_vec()))],
                    timestamp: Some(now_ms()),
                };
                writer.send(&t.name, partition, &rec)?;
            }
            n += 1;
        }
        writer.flush(Duration::from_secs(5))?;
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

/// The `billing` group reads `orders` on the source and commits every second (auto-commit).
fn consume(src: &ClusterConfig, stop: &AtomicBool) -> Result<(), String> {
    let member = GroupMember::join(src, "billing", &["orders"])?;
    while !stop.load(Ordering::SeqCst) {
        if let Some(Err(e)) = member.poll(Duration::from_millis(200)) {
            tracing::warn!("demo consumer: {e}");
        }
    }
    member.leave();
    Ok(())
}
