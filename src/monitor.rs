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
use crate::lag_clock::LagClock;
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
    pub fn start(config: &Config) -> crate::error::Result<Monitor> {
        let timeout = config.monitor.request_timeout;
        let source = ClusterClient::connect(&config.source, timeout, None)?;
        let target = ClusterClient::connect(&config.target, timeout, None)?;
        let (ws, wt) = watches(&config.replication, &config.topics, &config.groups);
        let journal = config.cutover.journal_path(&config.source.name, &config.target.name);
        let refresh = config.monitor.refresh_interval;
        let clocks = lag_clocks(config);
        let mut monitor = Self::with_clients(source, target, ws, wt, refresh, Some(journal), Some(clocks));
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
        journal: Option<std::path::PathBuf>,
        clocks: Option<(LagClock, LagClock)>,
    ) -> Monitor {
        let mut clocks = clocks.map(|(s, t)| (Some(s), Some(t)));
        let mut initial = Snapshot::default();
        initial.source.name = source.name().to_string();
        initial.target.name = target.name().to_string();
        let (tx, rx) = watch::channel(initial);
        let tx = Arc::new(tx);
        // The source is polled right after each target poll: every record on the target was
        // then on the source when the source was read, so lag is never negative and drift
        // never positive because of when the two were read (MM2 copies within milliseconds).
        let (target_polled, after_target) = watch::channel(0u64);
        let jobs = vec![
            poll_job(
                Side::Target,
                target,
                wt,
                Pace::every(refresh),
                Some(target_polled),
                journal.map(crate::cutover::journal::TargetOnlyFollower::new),
                clocks.as_mut().and_then(|c| c.1.take()),
                tx.clone(),
            ),
            poll_job(
                Side::Source,
                source,
                ws,
                Pace::after_target(refresh, after_target),
                None,
                None,
                clocks.as_mut().and_then(|c| c.0.take()),
                tx.clone(),
            ),
        ];
        Monitor {
            snapshots: rx,
            jobs,
            sender: tx,
        }
    }
}

/// Both clusters' lag clocks; one poll's timestamp reads take at most half a refresh interval
/// (or the request timeout, if shorter).
pub fn lag_clocks(config: &Config) -> (LagClock, LagClock) {
    let budget = (config.monitor.refresh_interval / 2).min(config.monitor.request_timeout);
    let reads = config.monitor.timestamp_reads;
    (
        LagClock::new(Side::Source, &config.source, &config.replication, budget, reads),
        LagClock::new(Side::Target, &config.target, &config.replication, budget, reads),
    )
}

/// When a poll loop polls.
enum Pace {
    /// At the refresh interval (its ticker made in the poll task, inside the runtime).
    Every {
        refresh: Duration,
        ticker: Option<tokio::time::Interval>,
    },
    /// As soon as the target's poll has finished; on its own when the target's poll is `late`
    /// (a cluster that is down or slow must not turn the other one stale).
    AfterTarget {
        late: Duration,
        target_polled: watch::Receiver<u64>,
    },
}

impl Pace {
    fn every(refresh: Duration) -> Pace {
        Pace::Every { refresh, ticker: None }
    }

    fn after_target(refresh: Duration, target_polled: watch::Receiver<u64>) -> Pace {
        Pace::AfterTarget {
            late: refresh * 3 / 2,
            target_polled,
        }
    }

    async fn wait(&mut self) {
        match self {
            Pace::Every { refresh, ticker } => {
                let ticker = ticker.get_or_insert_with(|| {
                    let mut t = tokio::time::interval(*refresh);
                    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    t
                });
                ticker.tick().await;
            }
            Pace::AfterTarget { late, target_polled } => {
                let started = tokio::time::Instant::now();
                if let Ok(Err(_)) = tokio::time::timeout(*late, target_polled.changed()).await {
                    // The target's loop has ended: keep the pace on our own.
                    tokio::time::sleep_until(started + *late).await;
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn poll_job(
    side: Side,
    client: ClusterClient,
    watch: Watch,
    pace: Pace,
    polled: Option<watch::Sender<u64>>,
    journal: Option<crate::cutover::journal::TargetOnlyFollower>,
    clock: Option<LagClock>,
    tx: Arc<watch::Sender<Snapshot>>,
) -> JobHandle {
    let name = format!("poll-{}", client.name());
    JobHandle::task(&name, move |cancel| async move {
        tokio::select! {
            _ = poll_loop(side, client, watch, pace, polled, journal, clock, tx) => {}
            _ = cancel.cancelled() => {}
        }
    })
}

/// Polls at `pace`; `polled` (the target's loop) counts the polls done, for the source's.
/// `journal` (the target's loop): the target-only ranges are read from it before each poll,
/// so every target-only record a poll sees was journaled before it was read.
#[allow(clippy::too_many_arguments)]
async fn poll_loop(
    side: Side,
    client: ClusterClient,
    watch: Watch,
    mut pace: Pace,
    polled: Option<watch::Sender<u64>>,
    mut journal: Option<crate::cutover::journal::TargetOnlyFollower>,
    mut clock: Option<LagClock>,
    tx: Arc<watch::Sender<Snapshot>>,
) {
    let mut polls = 0u64;
    loop {
        pace.wait().await;
        polls += 1;
        // The source's figures are compared with the target as it was before this poll began.
        let target_before = match side {
            Side::Source => tx.borrow().target.last_good.clone(),
            Side::Target => None,
        };
        let target_only = journal.as_mut().map(|j| j.current());
        let result = client.poll(&watch).await.map(Arc::new);
        match &result {
            Ok(s) => tracing::debug!(
                cluster = client.name(),
                took_ms = s.poll_duration.as_millis() as u64,
                "poll ok"
            ),
            Err(e) => tracing::warn!(cluster = client.name(), "poll failed: {e}"),
        }
        // Lag in seconds from this very poll (and, for the source, the target it is compared with).
        let ages = match (&mut clock, &result) {
            (Some(clock), Ok(state)) => {
                let mut view = tx.borrow().clone();
                view.feed_mut(side).last_good = Some(state.clone());
                if side == Side::Source {
                    view.target_before_source = target_before.clone();
                }
                Some(Arc::new(clock.ages(&view).await))
            }
            _ => None,
        };
        // Whether the figures changed, compared here rather than by the UI on every frame.
        let changed = match &result {
            Ok(state) => {
                let snap = tx.borrow();
                let previous = snap.feed(side).last_good.clone();
                let same_pair = match (&snap.target_before_source, &target_before) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    (a, b) => a.is_none() == b.is_none(),
                };
                let older_ages = ages.as_ref().is_some_and(|a| {
                    let before = &snap.feed(side).ages;
                    a.replication != before.replication || a.consumer != before.consumer
                });
                previous.is_none_or(|p| !p.same_figures(state)) || (side == Side::Source && !same_pair) || older_ages
            }
            Err(_) => false,
        };
        tx.send_modify(|snap| {
            match result {
                Ok(state) => {
                    if side == Side::Source {
                        snap.target_before_source = target_before;
                    }
                    // New ranges change what the figures mean: counted as new figures.
                    let explained_anew = target_only
                        .filter(|t| !Arc::ptr_eq(t, &snap.target_only))
                        .map(|t| snap.target_only = t)
                        .is_some();
                    let feed = snap.feed_mut(side);
                    feed.last_good = Some(state);
                    if let Some(ages) = ages {
                        feed.ages = ages;
                    }
                    feed.last_error = None;
                    if changed || explained_anew || feed.figures_version == 0 {
                        feed.figures_version += 1;
                    }
                }
                Err(e) => snap.feed_mut(side).last_error = Some((SystemTime::now(), e.to_string())),
            }
            snap.seq += 1;
        });
        if let Some(p) = &polled {
            p.send_replace(polls);
        }
        if tx.is_closed() {
            return;
        }
    }
}
