//! Tokio tasks that poll both clusters at the refresh interval and publish a `Snapshot`.
//!
//! The UI only ever reads the newest published snapshot; it never waits on Kafka.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::config::{Config, NameFilter, Replication, ReplicationKind};
use crate::jobs::JobHandle;
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

/// The running monitor: a receiver of snapshots and its jobs (one poll loop per cluster, and
/// the MM2 reader). Dropping it cancels them.
pub struct Monitor {
    pub snapshots: watch::Receiver<Snapshot>,
    jobs: Vec<JobHandle>,
    sender: Arc<watch::Sender<Snapshot>>,
}

impl Monitor {
    /// Starts polling both clusters. Creating the clients does not touch the network, so this
    /// only fails on a client configuration librdkafka rejects.
    pub fn start(config: &Config) -> Result<Monitor, String> {
        let timeout = config.monitor.request_timeout;
        let source = ClusterClient::connect(&config.source, timeout, None)?;
        let target = ClusterClient::connect(&config.target, timeout, None)?;
        let (ws, wt) = watches(&config.replication, &config.topics, &config.groups);
        let mut monitor = Self::with_clients(source, target, ws, wt, config.monitor.refresh_interval);
        if config.replication.kind == ReplicationKind::MirrorMaker2 {
            monitor.follow_mm2(config);
        }
        Ok(monitor)
    }

    /// Follows MM2's internal topics in a thread of its own (its reads block).
    fn follow_mm2(&mut self, config: &Config) {
        let (source, target, replication) = (config.source.clone(), config.target.clone(), config.replication.clone());
        let refresh = config.monitor.refresh_interval;
        let tx = self.sender.clone();
        let job = JobHandle::thread("mm2-reader", move |cancel| {
            let publish = |state| {
                tx.send_modify(|snap: &mut Snapshot| {
                    snap.mm2 = Some(Arc::new(state));
                    snap.seq += 1;
                })
            };
            if let Err(e) = crate::kafka::mm2::follow(&source, &target, &replication, refresh, &cancel, publish) {
                tracing::error!("mm2 reader stopped: {e}");
            }
        });
        match job {
            Ok(job) => self.jobs.push(job),
            Err(e) => tracing::error!("cannot start the mm2 reader: {e}"),
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
        let jobs = vec![
            poll_job(Side::Source, source, ws, refresh, tx.clone()),
            poll_job(Side::Target, target, wt, refresh, tx.clone()),
        ];
        Monitor {
            snapshots: rx,
            jobs,
            sender: tx,
        }
    }
}

fn poll_job(
    side: Side,
    client: ClusterClient,
    watch: Watch,
    refresh: Duration,
    tx: Arc<watch::Sender<Snapshot>>,
) -> JobHandle {
    let name = format!("poll-{}", client.name());
    JobHandle::task(&name, move |cancel| async move {
        tokio::select! {
            _ = poll_loop(side, client, watch, refresh, tx) => {}
            _ = cancel.cancelled() => {}
        }
    })
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
        // Whether the figures changed, compared here rather than by the UI on every frame.
        let changed = match &result {
            Ok(state) => {
                let previous = tx.borrow().feed(side).last_good.clone();
                previous.is_none_or(|p| !p.same_figures(state))
            }
            Err(_) => false,
        };
        tx.send_modify(|snap| {
            let feed = match side {
                Side::Source => &mut snap.source,
                Side::Target => &mut snap.target,
            };
            match result {
                Ok(state) => {
                    feed.last_good = Some(Arc::new(state));
                    feed.last_error = None;
                    if changed || feed.figures_version == 0 {
                        feed.figures_version += 1;
                    }
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
