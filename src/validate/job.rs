//! The cockpit's background validation: on an interval, and when asked, every watched
//! partition's records not yet validated are compared on both sides. It runs on its own
//! thread with its own assign-only consumers (it never joins or commits for a group), several
//! partitions at once, within the configured rate limit, and tells the cockpit what it does
//! through `Update`s.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};

use super::run::{plan, run_planned, Progress, Row, RunEvent};
use super::throttle::Meter;
use crate::config::Config;
use crate::model::Snapshot;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Topic(String),
}

impl Scope {
    fn topic(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Topic(t) => Some(t),
        }
    }
}

/// A run asked for from the cockpit. `full`: from the start again, not only what is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub scope: Scope,
    pub full: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Scheduled,
    OnDemand,
}

#[derive(Debug, Clone)]
pub enum Update {
    /// The job waits; the next scheduled run is at `next_run` (None: only on demand).
    Waiting {
        next_run: Option<SystemTime>,
    },
    RunStarted {
        run: u64,
        trigger: Trigger,
        request: Request,
        at: SystemTime,
        partitions: Vec<(String, i32)>,
        rate_limit: u64,
    },
    PartitionStarted {
        run: u64,
        topic: String,
        partition: i32,
        meter: Arc<Meter>,
        at: SystemTime,
    },
    PartitionDone {
        run: u64,
        row: Row,
        at: SystemTime,
    },
    /// `error`: the run could not start (e.g. a cluster is unreachable).
    RunFinished {
        run: u64,
        at: SystemTime,
        error: Option<String>,
    },
}

/// The handle the cockpit keeps: dropping it stops the job after the run in progress.
pub struct Job {
    requests: Sender<Request>,
}

impl Job {
    pub fn start(
        config: Arc<Config>,
        snapshots: watch::Receiver<Snapshot>,
        updates: mpsc::UnboundedSender<Update>,
    ) -> std::io::Result<Job> {
        let (requests, incoming) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("validation-job".into())
            .spawn(move || job_loop(&config, &snapshots, &incoming, &updates))?;
        Ok(Job { requests })
    }

    pub fn request(&self, request: Request) {
        let _ = self.requests.send(request);
    }
}

/// Queues a request unless the same one is already waiting (a key pressed twice).
fn enqueue(pending: &mut VecDeque<Request>, request: Request) {
    if !pending.contains(&request) {
        pending.push_back(request);
    }
}

fn job_loop(
    config: &Config,
    snapshots: &watch::Receiver<Snapshot>,
    incoming: &Receiver<Request>,
    updates: &mpsc::UnboundedSender<Update>,
) {
    let interval = config.validation.interval;
    let mut progress = Progress::default();
    let mut run = 0u64;
    // The first scheduled run waits for both clusters' first poll (or their timeout).
    let started = Instant::now();
    let first_poll = config.monitor.refresh_interval * 2 + config.monitor.request_timeout;
    let mut next = interval.map(|_| Instant::now());
    let mut pending = VecDeque::new();
    let _ = updates.send(Update::Waiting { next_run: None });
    loop {
        incoming.try_iter().for_each(|r| enqueue(&mut pending, r));
        let wait = next.map_or(Duration::from_secs(3600), |n| {
            n.saturating_duration_since(Instant::now())
        });
        let received = match pending.pop_front() {
            Some(request) => Ok(request),
            None => incoming.recv_timeout(wait),
        };
        let (request, trigger) = match received {
            Ok(request) => (request, Trigger::OnDemand),
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) if next.is_none() => continue,
            Err(RecvTimeoutError::Timeout) => {
                let snap = snapshots.borrow();
                let polled = snap.source.state().is_some() && snap.target.state().is_some();
                if !polled && started.elapsed() < first_poll {
                    next = Some(Instant::now() + Duration::from_millis(200));
                    continue;
                }
                (
                    Request {
                        scope: Scope::All,
                        full: false,
                    },
                    Trigger::Scheduled,
                )
            }
        };
        run += 1;
        if request.full {
            progress.forget(request.scope.topic());
        }
        let snap = snapshots.borrow().clone();
        one_run(config, &snap, run, trigger, request, &mut progress, updates);
        if let (Some(i), Trigger::Scheduled) = (interval, trigger) {
            next = Some(Instant::now() + i);
        }
        let next_run = next.map(|n| SystemTime::now() + n.saturating_duration_since(Instant::now()));
        if updates.send(Update::Waiting { next_run }).is_err() {
            return; // the cockpit is gone
        }
    }
}

fn one_run(
    config: &Config,
    snap: &Snapshot,
    run: u64,
    trigger: Trigger,
    request: Request,
    progress: &mut Progress,
    updates: &mpsc::UnboundedSender<Update>,
) {
    let tasks = match plan(config, snap, request.scope.topic(), Some(progress)) {
        Ok(tasks) => tasks,
        Err(error) => {
            tracing::warn!(run, "validation run not started: {error}");
            let _ = updates.send(Update::RunStarted {
                run,
                trigger,
                request,
                at: SystemTime::now(),
                partitions: vec![],
                rate_limit: config.validation.rate_limit_bytes,
            });
            let _ = updates.send(Update::RunFinished {
                run,
                at: SystemTime::now(),
                error: Some(error),
            });
            return;
        }
    };
    tracing::info!(
        run,
        ?trigger,
        ?request,
        partitions = tasks.len(),
        "validation run started"
    );
    let _ = updates.send(Update::RunStarted {
        run,
        trigger,
        request,
        at: SystemTime::now(),
        partitions: tasks.iter().map(|t| (t.topic.clone(), t.partition)).collect(),
        rate_limit: config.validation.rate_limit_bytes,
    });
    let report = |event: RunEvent| {
        let update = match event {
            RunEvent::Started { task, meter } => Update::PartitionStarted {
                run,
                topic: task.topic.clone(),
                partition: task.partition,
                meter,
                at: SystemTime::now(),
            },
            RunEvent::Done { task, row } => {
                tracing::info!(
                    run,
                    topic = task.topic,
                    partition = task.partition,
                    result = row.result.verdict.word(),
                    read = ?row.records_read,
                    "validated"
                );
                Update::PartitionDone {
                    run,
                    row: row.clone(),
                    at: SystemTime::now(),
                }
            }
        };
        let _ = updates.send(update);
    };
    run_planned(config, &tasks, config.monitor.request_timeout, Some(progress), &report);
    tracing::info!(run, "validation run finished");
    let _ = updates.send(Update::RunFinished {
        run,
        at: SystemTime::now(),
        error: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_already_waiting_is_not_queued_twice() {
        let topic = |t: &str, full| Request {
            scope: Scope::Topic(t.into()),
            full,
        };
        let mut q = VecDeque::new();
        for r in [
            topic("a", false),
            topic("a", false),
            topic("a", true),
            topic("b", false),
        ] {
            enqueue(&mut q, r);
        }
        assert_eq!(
            Vec::from(q),
            vec![topic("a", false), topic("a", true), topic("b", false)]
        );
    }
}
