//! One validation run: the plan (which partitions, from where; pure, from a snapshot), then
//! every partition read and compared, several at once, within a rate limit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::throttle::{Meter, Metered, RateLimit};
use super::{align, compacted, validate_range, PartitionResult, Start, Verdict};
use crate::config::{ClusterConfig, Config, ReplicationKind};
use crate::jobs::CancelToken;
use crate::kafka::cursor::{Bounded, ContentOnly, Cursor, KafkaCursor, Retrying, SkipTargetOnly};
use crate::model::target_only::{PartitionRanges, TargetOnlyRange};
pub use crate::model::verdict::Row;
use crate::model::Snapshot;

/// Where each partition was validated up to (source, target offsets after the last record
/// that passed), so the next run reads only what came since.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    validated_to: BTreeMap<(String, i32), (i64, i64)>,
    /// Compacted partitions: the end offsets on both sides when they last passed. Their
    /// latest state needs every key, so they are read whole again only when either side moved.
    compacted_passed_at: BTreeMap<(String, i32), (i64, i64)>,
}

impl Progress {
    pub fn get(&self, topic: &str, partition: i32) -> Option<(i64, i64)> {
        self.validated_to.get(&(topic.to_string(), partition)).copied()
    }

    /// Moves a partition on after a passing run of its range (compacted topics and failures
    /// do not move: a failure is found again until it is fixed).
    pub fn advance(&mut self, task: &Task, row: &Row) {
        let key = (task.topic.clone(), task.partition);
        match (&task.work, &row.result.verdict) {
            (Work::Range { .. } | Work::Empty { .. }, Verdict::Pass) => {
                let ends = (row.result.source_range.1, row.result.target_range.1);
                self.validated_to.insert(key, ends);
            }
            // With records not copied yet, the next run must look again even if nothing moves.
            (Work::Compacted { source, target, .. }, Verdict::Pass) if !row.result.pending => {
                self.compacted_passed_at.insert(key, (source.1, target.1));
            }
            (Work::Compacted { .. }, _) => {
                self.compacted_passed_at.remove(&key);
            }
            _ => {}
        }
    }

    pub fn set(&mut self, topic: &str, partition: i32, to: (i64, i64)) {
        self.validated_to.insert((topic.to_string(), partition), to);
    }

    pub fn entries(&self) -> impl Iterator<Item = (&(String, i32), &(i64, i64))> {
        self.validated_to.iter()
    }

    /// Forgets a topic (or, with None, everything): its next run starts from the beginning.
    pub fn forget(&mut self, topic: Option<&str>) {
        self.validated_to.retain(|(t, _), _| topic.is_some_and(|o| o != t));
        self.compacted_passed_at
            .retain(|(t, _), _| topic.is_some_and(|o| o != t));
    }
}

/// What validating one partition takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// Record by record, from where the last run ended, or aligned from the source's start.
    Range {
        resume: Option<(i64, i64)>,
        source_low: i64,
        oldest_sync: Option<(i64, i64)>,
        identity: bool,
    },
    /// Key by key: the target read whole, the source as far as the target has copied.
    Compacted {
        source: (i64, i64),
        target: (i64, i64),
        identity: bool,
    },
    /// A compacted partition that passed with these same end offsets: nothing to read.
    Unchanged {
        source: (i64, i64),
        target: (i64, i64),
    },
    /// Nothing on the source to compare (never written, or all deleted): passes when the
    /// target has nothing either. `at`: the end offsets on both sides.
    Empty {
        at: (i64, i64),
        target_records: i64,
    },
    Skip(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub topic: String,
    pub target_topic: String,
    pub partition: i32,
    pub work: Work,
    /// The partition's records written on the target only (stepped over, explained).
    pub target_only: Vec<TargetOnlyRange>,
    /// The target topic stamps its own times: records are compared without timestamps.
    pub content_only: bool,
}

/// The partitions of every watched topic (or one), and what each needs, from a snapshot.
pub fn plan(
    config: &Config,
    snap: &Snapshot,
    only_topic: Option<&str>,
    progress: Option<&Progress>,
) -> crate::error::Result<Vec<Task>> {
    let src = snap
        .source
        .state()
        .ok_or_else(|| format!("{} could not be reached", config.source.name))?;
    let tgt = snap
        .target
        .state()
        .ok_or_else(|| format!("{} could not be reached", config.target.name))?;
    let identity = config.replication.kind == ReplicationKind::OffsetPreserving;
    let mut tasks = Vec::new();
    for s in src.topics.values().filter(|t| only_topic.is_none_or(|o| o == t.name)) {
        let target_topic = config.replication.target_topic(&s.name);
        let compacted = src
            .configs
            .as_ref()
            .ok()
            .and_then(|c| c.get(&s.name))
            .and_then(|c| c.get("cleanup.policy"))
            .is_some_and(|p| p.value.contains("compact"));
        let content_only = tgt
            .configs
            .as_ref()
            .ok()
            .and_then(|c| c.get(&target_topic))
            .is_some_and(crate::model::inventory::stamps_own_time);
        for p in &s.partitions {
            let target_partition = tgt.topics.get(&target_topic).and_then(|t| t.partition(p.id));
            let work = match (target_partition, &p.low) {
                (None, _) => Work::Skip(format!("{target_topic}/{} is missing on the target", p.id)),
                (_, Err(e)) => Work::Skip(format!("start offset unknown: {e}")),
                (Some(t), Ok(low)) if compacted => {
                    let target_low = t.low.clone().unwrap_or(0);
                    let source = (*low, p.high.clone().unwrap_or(*low));
                    let target = (target_low, t.high.clone().unwrap_or(target_low));
                    let passed_at = progress.and_then(|pr| pr.compacted_passed_at.get(&(s.name.clone(), p.id)));
                    if passed_at == Some(&(source.1, target.1)) && p.high.is_ok() && t.high.is_ok() {
                        Work::Unchanged { source, target }
                    } else {
                        Work::Compacted {
                            source,
                            target,
                            identity,
                        }
                    }
                }
                (Some(t), Ok(low))
                    if progress.and_then(|pr| pr.get(&s.name, p.id)).is_none()
                        && p.high.as_ref().is_ok_and(|h| h == low) =>
                {
                    let (t_low, t_high) = (t.low.clone().unwrap_or(0), t.high.clone().unwrap_or(0));
                    Work::Empty {
                        at: (*low, t_high),
                        target_records: t_high - t_low,
                    }
                }
                (Some(_), Ok(low)) => Work::Range {
                    // Retention may have deleted what was validated up to: align again then.
                    resume: progress
                        .and_then(|pr| pr.get(&s.name, p.id))
                        .filter(|(from, _)| from >= low),
                    source_low: *low,
                    oldest_sync: snap.mm2.as_ref().and_then(|m| m.syncs.oldest_from(&s.name, p.id, *low)),
                    identity,
                },
            };
            tasks.push(Task {
                topic: s.name.clone(),
                target_topic: target_topic.clone(),
                partition: p.id,
                work,
                target_only: snap.target_only.partition(&target_topic, p.id).0.to_vec(),
                content_only,
            });
        }
    }
    if tasks.is_empty() {
        return Err(only_topic.map_or("no watched topics to validate".into(), |t| {
            format!("no topic {t} on the source").into()
        }));
    }
    Ok(tasks)
}

fn result(source_range: (i64, i64), target_range: (i64, i64), verdict: Verdict) -> PartitionResult {
    PartitionResult {
        source_range,
        target_range,
        records_compared: 0,
        pending: false,
        verdict,
    }
}

/// Both sides bounded by their end offsets, the target's taken first: every target record
/// below its bound is then a copy of a source record below the source's bound, so records the
/// replicator copies while the run reads are neither extras nor missing.
fn fixed_bounds<S: Cursor, T: Cursor>(mut source: S, mut target: T) -> crate::error::Result<(Bounded<S>, Bounded<T>)> {
    let target_end = target.end_offset()?;
    let source_end = source.end_offset()?;
    Ok((Bounded::new(source, source_end), Bounded::new(target, target_end)))
}

/// How often a partition's run starts again when retention deleted what it was reading.
const RETENTION_RETRIES: u32 = 3;

/// Where a partition's comparison starts: where the last run stopped, else MM2's oldest sync
/// at or after the source's log start, else by timestamp from the log start.
struct Alignment {
    resume: Option<(i64, i64)>,
    source_low: i64,
    oldest_sync: Option<(i64, i64)>,
}

impl Alignment {
    /// After retention moved the log starts to `starts` (source, target): what was deleted on
    /// either side cannot be a starting point any more.
    fn after_retention(&self, starts: (i64, i64)) -> Alignment {
        let kept = |(s, t): (i64, i64)| s >= starts.0 && t >= starts.1;
        Alignment {
            resume: self.resume.filter(|r| kept(*r)),
            source_low: self.source_low.max(starts.0),
            oldest_sync: self.oldest_sync.filter(|s| kept(*s)),
        }
    }
}

fn validate_from<S: Cursor, T: Cursor>(
    sc: S,
    tc: T,
    from: &Alignment,
    identity: Option<PartitionRanges>,
) -> crate::error::Result<PartitionResult> {
    let (mut sc, mut tc) = fixed_bounds(sc, tc)?;
    let start = match from.resume {
        Some((s, t)) => Start::At(s, t),
        None => align(&mut sc, &mut tc, from.oldest_sync, identity, from.source_low)?,
    };
    match start {
        Start::At(s, t) => validate_range(&mut sc, &mut tc, (s, t), identity),
        Start::Waiting(reason) => Ok(result((0, 0), (0, 0), Verdict::Pending { reason })),
    }
}

/// Validates one partition. Errors (a broker that stops answering) are the row's verdict.
pub fn run_task(
    source: &ClusterConfig,
    target: &ClusterConfig,
    task: &Task,
    timeout: Duration,
    meter: &Meter,
    limit: Option<&RateLimit>,
    cancel: &CancelToken,
) -> Row {
    let cursors = || -> crate::error::Result<_> {
        Ok((
            Metered::source(
                ContentOnly::new(
                    Retrying::new(KafkaCursor::new(source, &task.topic, task.partition, timeout)?).cancelled_by(cancel),
                    task.content_only,
                ),
                meter,
                limit,
            ),
            Metered::target(
                ContentOnly::new(
                    SkipTargetOnly::new(
                        Retrying::new(KafkaCursor::new(target, &task.target_topic, task.partition, timeout)?)
                            .cancelled_by(cancel),
                        task.target_only.clone(),
                    ),
                    task.content_only,
                ),
                meter,
                limit,
            ),
        ))
    };
    let outcome = match &task.work {
        Work::Skip(reason) => Ok(result((0, 0), (0, 0), Verdict::Skipped { reason: reason.clone() })),
        Work::Unchanged { source, target } => Ok(result(*source, *target, Verdict::Pass)),
        Work::Empty { at, target_records: 0 } => Ok(result((at.0, at.0), (at.1, at.1), Verdict::Pass)),
        Work::Empty { target_records, .. } => Ok(result(
            (0, 0),
            (0, 0),
            Verdict::Skipped {
                reason: format!(
                    "the source partition holds no records, so the target's {target_records} cannot be compared"
                ),
            },
        )),
        Work::Compacted {
            source,
            target,
            identity,
        } => cursors().and_then(|(mut sc, mut tc)| {
            let c = compacted::validate(&mut sc, &mut tc, source.0, target.0, *identity)?;
            Ok(PartitionResult {
                source_range: c.source_range,
                target_range: c.target_range,
                records_compared: c.records_read.0.min(c.records_read.1),
                pending: c.pending,
                verdict: c.mismatch.map_or(Verdict::Pass, |mismatch| Verdict::Fail { mismatch }),
            })
        }),
        Work::Range {
            resume,
            source_low,
            oldest_sync,
            identity,
        } => {
            let mut from = Alignment {
                resume: *resume,
                source_low: *source_low,
                oldest_sync: *oldest_sync,
            };
            let mut attempt = 0;
            loop {
                let run = cursors().and_then(|(mut sc, mut tc)| {
                    // The log starts now, not as the plan's poll saw them: retention may have
                    // deleted records since.
                    let starts = (sc.start_offset()?, tc.start_offset()?);
                    from = from.after_retention(starts);
                    let identity = identity.then_some(PartitionRanges(&task.target_only));
                    Ok((starts, validate_from(sc, tc, &from, identity)))
                });
                match run {
                    Ok((starts, Err(e))) if attempt < RETENTION_RETRIES => {
                        // Retention (time, size or DeleteRecords) may have deleted records
                        // the run was reading: a log start that moved since the run began is
                        // that, and the run starts again from the new log starts.
                        let now = cursors().and_then(|(mut sc, mut tc)| Ok((sc.start_offset()?, tc.start_offset()?)));
                        match now {
                            Ok(now) if now.0 > starts.0 || now.1 > starts.1 => {
                                tracing::info!(
                                    "{}/{}: retention deleted records during validation (log starts {starts:?} -> {now:?}); starting again: {e}",
                                    task.topic,
                                    task.partition
                                );
                                attempt += 1;
                            }
                            _ => break Err(e),
                        }
                    }
                    Ok((_, Err(e))) if attempt > 0 => {
                        break Ok(result(
                            (0, 0),
                            (0, 0),
                            Verdict::Skipped {
                                reason: format!(
                                    "retention deleted records faster than validation read them ({RETENTION_RETRIES} tries; last: {e})"
                                ),
                            },
                        ))
                    }
                    Ok((_, outcome)) => break outcome,
                    Err(e) => break Err(e),
                }
            }
        }
    };
    let result = outcome.unwrap_or_else(|reason| {
        result(
            (0, 0),
            (0, 0),
            Verdict::Error {
                reason: reason.to_string(),
            },
        )
    });
    Row {
        topic: task.topic.clone(),
        target_topic: task.target_topic.clone(),
        partition: task.partition,
        result,
        records_read: meter.records(),
        bytes_read: meter.bytes(),
        target_only: task.target_only.clone(),
        content_only: task.content_only,
    }
}

/// Runs planned tasks as the config's `[validation]` says (partitions at once, rate limit) and
/// moves `progress` on past what passed.
pub fn run_planned(
    config: &Config,
    tasks: &[Task],
    timeout: Duration,
    progress: Option<&mut Progress>,
    cancel: &CancelToken,
    report: &(dyn Fn(RunEvent) + Sync),
) -> Vec<Row> {
    let limit = RateLimit::new(config.validation.rate_limit_bytes);
    let rows = run_all(
        config,
        tasks,
        config.validation.parallelism,
        timeout,
        Some(&limit),
        cancel,
        report,
    );
    if let Some(progress) = progress {
        for (task, row) in tasks.iter().zip(&rows) {
            progress.advance(task, row);
        }
    }
    rows
}

/// What a run tells as it goes.
pub enum RunEvent<'a> {
    Started { task: &'a Task, meter: Arc<Meter> },
    Done { task: &'a Task, row: &'a Row },
}

/// Validates every task, `parallelism` partitions at once, within `limit`. The rows come back
/// in the tasks' order.
fn run_all(
    config: &Config,
    tasks: &[Task],
    parallelism: usize,
    timeout: Duration,
    limit: Option<&RateLimit>,
    cancel: &CancelToken,
    report: &(dyn Fn(RunEvent) + Sync),
) -> Vec<Row> {
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<Option<Row>>> = Mutex::new(vec![None; tasks.len()]);
    std::thread::scope(|scope| {
        for worker in 0..parallelism.clamp(1, tasks.len().max(1)) {
            let (next, rows) = (&next, &rows);
            std::thread::Builder::new()
                .name(format!("validate-{worker}"))
                .spawn_scoped(scope, move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(task) = tasks.get(i) else { break };
                    let meter = Arc::new(Meter::default());
                    report(RunEvent::Started {
                        task,
                        meter: meter.clone(),
                    });
                    let row = run_task(&config.source, &config.target, task, timeout, &meter, limit, cancel);
                    report(RunEvent::Done { task, row: &row });
                    rows.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(row);
                })
                .expect("spawn a validation thread");
        }
    });
    rows.into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every task ran"))
        .collect()
}

#[cfg(test)]
mod retention_tests {
    use super::*;

    #[test]
    fn after_retention_no_starting_point_lies_in_what_was_deleted() {
        let from = Alignment {
            resume: Some((120, 118)),
            source_low: 100,
            oldest_sync: Some((105, 103)),
        };
        let same = from.after_retention((100, 90));
        assert_eq!(
            (same.resume, same.source_low, same.oldest_sync),
            (Some((120, 118)), 100, Some((105, 103)))
        );
        let moved = from.after_retention((110, 90));
        assert_eq!(
            (moved.resume, moved.source_low, moved.oldest_sync),
            (Some((120, 118)), 110, None)
        );
        let target_moved = from.after_retention((100, 119));
        assert_eq!((target_moved.resume, target_moved.oldest_sync), (None, None));
    }
}
