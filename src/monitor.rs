//! Tokio tasks that poll both clusters at the refresh interval and publish a `Snapshot`.
//!
//! The UI only ever reads the newest published snapshot; it never waits on Kafka.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::config::{Config, NameFilter, Replication};
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

/// The running monitor: a receiver of snapshots, and the polling tasks.
pub struct Monitor {
    pub snapshots: watch::Receiver<Snapshot>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Monitor {
    fn drop(&mut self) {
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
        Ok(Self::with_clients(
            source,
            target,
            ws,
            wt,
            config.monitor.refresh_interval,
        ))
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
            tokio::spawn(poll_loop(Side::Target, target, wt, refresh, tx)),
        ];
        Monitor { snapshots: rx, tasks }
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
