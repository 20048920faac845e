//! Tokio tasks that poll both clusters at the refresh interval and publish a `Snapshot`.
//!
//! The UI only ever reads the newest published snapshot; it never waits on Kafka.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::config::{Config, NameFilter, Replication, ReplicationKind};
use crate::kafka::{ClusterClient, Watch};
use crate::model::{Side, Snapshot};

/// What the cockpit reads on each side: the filtered source topics, their target
/// counterparts per the replication policy, and the filtered groups.
pub fn watches(replication: &Replication, topics: &NameFilter, groups: &NameFilter) -> (Watch, Watch) {
    let group = {
        let g = groups.clone();
        Arc::new(move |name: &str| g.matches(name)) as Arc<dyn Fn(&str) -> bool + Send + Sync>
    };
    let source_topics = topics.clone();
    let target_topics = topics.clone();
    let repl = replication.clone();
    let source = Watch {
        topic: Arc::new(move |t| source_topics.matches(t)),
        group: group.clone(),
    };
    let target = Watch {
        topic: Arc::new(move |t| repl.source_topic(t).is_some_and(|s| target_topics.matches(&s))),
        group,
    };
    (source, target)
}

/// The running monitor: a receiver of snapshots, the polling tasks, and the thread that
/// follows MM2's internal topics.
pub struct Monitor {
    pub snapshots: watch::Receiver<Snapshot>,
    tasks: Vec<JoinHandle<()>>,
    stop_mm2: Arc<AtomicBool>,
    sender: Arc<watch::Sender<Snapshot>>,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop_mm2.store(true, Ordering::SeqCst);
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Monitor {
    /// Starts polling both clusters. Creating the clients does not touch the network, so this
    /// only fails on a client configuration librdkafka rejects.
    pub fn start(config: &Config) -> Result<Monitor, String> {
        let timeout = config.monitor.request_timeout;
        let source = ClusterClient::connect(&config.source, timeout, None)?;
        let target = ClusterClient::connect(&config.target, timeout, None)?;
        let (ws, wt) = watches(&config.replication, &config.topics, &config.groups);
        let monitor = Self::with_clients(source, target, ws, wt, config.monitor.refresh_interval);
        if config.replication.kind == ReplicationKind::MirrorMaker2 {
            monitor.follow_mm2(config);
        }
        Ok(monitor)
    }

    /// Follows MM2's internal topics in a thread of its own (its reads block).
    fn follow_mm2(&self, config: &Config) {
        let (source, target, replication) = (config.source.clone(), config.target.clone(), config.replication.clone());
        let refresh = config.monitor.refresh_interval;
        let stop = self.stop_mm2.clone();
        let tx = self.sender.clone();
        let spawned = std::thread::Builder::new().name("mm2-reader".into()).spawn(move || {
            let publish = |state| {
                tx.send_modify(|snap: &mut Snapshot| {
                    snap.mm2 = Some(Arc::new(state));
                    snap.seq += 1;
                })
            };
            if let Err(e) = crate::mm2::reader::follow(&source, &target, &replication, refresh, stop, publish) {
                tracing::error!("mm2 reader stopped: {e}");
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start the mm2 reader: {e}");
        }
    }

    pub fn with_clients(
        source: ClusterClient,
        target: ClusterClient,
        ws: Watch,
        wt: Watch,
        refresh: Duration,
    ) -> Monitor {
        let mut initial = Snapshot::default();
        initial.source.name = source.name().to_string();
        initial.target.name = target.name().to_string();
        let (tx, rx) = watch::channel(initial);
        let tx = Arc::new(tx);
        let tasks = vec![
            tokio::spawn(poll_loop(Side::Source, source, ws, refresh, tx.clone())),
            tokio::spawn(poll_loop(Side::Target, target, wt, refresh, tx.clone())),
        ];
        Monitor {
            snapshots: rx,
            tasks,
            stop_mm2: Arc::new(AtomicBool::new(false)),
            sender: tx,
        }
    }
}

async fn poll_loop(
    side: Side,
    client: ClusterClient,
    watch: Watch,
    refresh: Duration,
    tx: Arc<watch::Sender<Snapshot>>,
) {
    let mut ticker = tokio::time::interval(refresh);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let result = client.poll(&watch).await;
        match &result {
            Ok(s) => tracing::debug!(
                cluster = client.name(),
                took_ms = s.poll_duration.as_millis() as u64,
                "poll ok"
            ),
            Err(e) => tracing::warn!(cluster = client.name(), "poll failed: {e}"),
        }
        tx.send_modify(|snap| {
            let feed = match side {
                Side::Source => &mut snap.source,
                Side::Target => &mut snap.target,
            };
            match result {
                Ok(state) => {
                    feed.last_good = Some(Arc::new(state));
                    feed.last_error = None;
                }
                Err(e) => feed.last_error = Some((SystemTime::now(), e)),
            }
            snap.seq += 1;
        });
        if tx.is_closed() {
            return;
        }
    }
}
