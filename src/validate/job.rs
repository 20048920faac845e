//! The cockpit's background validation: on an interval, and when asked, every watched
//! partition's records not yet validated are compared on both sides. It runs on its own
//! thread with its own assign-only consumers (it never joins or commits for a group), several
//! partitions at once, within the configured rate limit, and tells the cockpit what it does
//! through `Update`s.

use std::collections::{BTreeSet, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use super::run::{plan, run_planned, Progress, Row, RunEvent};
use super::Verdict;
use crate::config::Config;
use crate::jobs::{CancelToken, JobHandle};
pub use crate::model::validation::{Request, Scope, Trigger, Update};
use crate::model::Snapshot;

/// Where the job tells what it does; false when nobody listens any more (the job then ends).
pub type Report = Box<dyn Fn(Update) -> bool + Send + Sync>;

/// The handle the cockpit keeps: dropping it stops the job after the run in progress.
pub struct Job {
    requests: Sender<Request>,
    _job: JobHandle,
}

impl Job {
    pub fn start(
        config: Arc<Config>,
        snapshots: watch::Receiver<Snapshot>,
        report: impl Fn(Update) -> bool + Send + Sync + 'static,
    ) -> std::io::Result<Job> {
        let (requests, incoming) = std::sync::mpsc::channel();
        let report: Report = Box::new(report);
        let job = JobHandle::thread("validation-job", move |cancel| {
            job_loop(&config, &snapshots, &incoming, &report, &cancel)
        })?;
        Ok(Job { requests, _job: job })
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

/// How often a waiting job looks at its cancel token.
const CANCEL_CHECK: Duration = Duration::from_millis(250);
/// Partitions waiting for an alignment are tried again at once when MM2's first offset-sync
/// for one of them arrives, and otherwise (alignment by timestamp) at most this often.
const PENDING_RETRY: Duration = Duration::from_secs(30);

/// Whether a partition that waited for an alignment may now have one: an offset-sync for it.
fn alignment_arrived(snap: &Snapshot, waiting: &BTreeSet<(String, i32)>) -> bool {
    snap.mm2
        .as_ref()
        .is_some_and(|m| waiting.iter().any(|(t, p)| m.syncs.oldest(t, *p).is_some()))
}

fn job_loop(
    config: &Config,
    snapshots: &watch::Receiver<Snapshot>,
    incoming: &Receiver<Request>,
    report: &Report,
    cancel: &CancelToken,
) {
    let interval = config.validation.interval;
    let mut progress = Progress::default();
    let mut run = 0u64;
    // The first scheduled run waits for both clusters' first poll (or their timeout).
    let started = Instant::now();
    let first_poll = config.monitor.refresh_interval * 2 + config.monitor.request_timeout;
    let mut next = interval.map(|_| Instant::now());
    let mut pending = VecDeque::new();
    // Partitions whose last result was PENDING (no alignment yet), and when they were tried.
    let mut waiting: BTreeSet<(String, i32)> = BTreeSet::new();
    let mut waiting_since = Instant::now();
    report(Update::Waiting { next_run: None });
    while !cancel.is_cancelled() {
        incoming.try_iter().for_each(|r| enqueue(&mut pending, r));
        let wait = next.map_or(CANCEL_CHECK, |n| {
            n.saturating_duration_since(Instant::now()).min(CANCEL_CHECK)
        });
        let received = match pending.pop_front() {
            Some(request) => Ok(request),
            None => incoming.recv_timeout(wait),
        };
        let due = next.is_some_and(|n| Instant::now() >= n);
        let aligned = !waiting.is_empty()
            && (alignment_arrived(&snapshots.borrow(), &waiting) || waiting_since.elapsed() >= PENDING_RETRY);
        let (request, trigger) = match received {
            Ok(request) => (request, Trigger::OnDemand),
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) if aligned && !due => (
                Request {
                    scope: Scope::All,
                    full: false,
                },
                Trigger::Aligned,
            ),
            Err(RecvTimeoutError::Timeout) if !due => continue,
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
        let rows = one_run(config, &snap, run, trigger, request, &mut progress, report, cancel);
        // What still waits for an alignment (a run of one topic leaves the others as they were).
        for row in rows {
            let key = (row.topic.clone(), row.partition);
            if matches!(row.result.verdict, Verdict::Pending { .. }) {
                waiting.insert(key);
            } else {
                waiting.remove(&key);
            }
        }
        waiting_since = Instant::now();
        if let (Some(i), Trigger::Scheduled) = (interval, trigger) {
            next = Some(Instant::now() + i);
        }
        let next_run = next.map(|n| SystemTime::now() + n.saturating_duration_since(Instant::now()));
        if !report(Update::Waiting { next_run }) {
            return; // the cockpit is gone
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn one_run(
    config: &Config,
    snap: &Snapshot,
    run: u64,
    trigger: Trigger,
    request: Request,
    progress: &mut Progress,
    report: &Report,
    cancel: &CancelToken,
) -> Vec<Row> {
    let tasks = match plan(config, snap, request.scope.topic(), Some(progress)) {
        Ok(tasks) => tasks,
        Err(error) => {
            tracing::warn!(run, "validation run not started: {error}");
            report(Update::RunStarted {
                run,
                trigger,
                request,
                at: SystemTime::now(),
                partitions: vec![],
                rate_limit: config.validation.rate_limit_bytes,
            });
            report(Update::RunFinished {
                run,
                at: SystemTime::now(),
                error: Some(error.to_string()),
            });
            return Vec::new();
        }
    };
    tracing::info!(
        run,
        ?trigger,
        ?request,
        partitions = tasks.len(),
        "validation run started"
    );
    report(Update::RunStarted {
        run,
        trigger,
        request,
        at: SystemTime::now(),
        partitions: tasks.iter().map(|t| (t.topic.clone(), t.partition)).collect(),
        rate_limit: config.validation.rate_limit_bytes,
    });
    let on_event = |event: RunEvent| {
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
        report(update);
    };
    let rows = run_planned(
        config,
        &tasks,
        config.monitor.request_timeout,
        Some(progress),
        cancel,
        &on_event,
    );
    tracing::info!(run, "validation run finished");
    report(Update::RunFinished {
        run,
        at: SystemTime::now(),
        error: None,
    });
    rows
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
