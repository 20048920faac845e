//! What the driver reads and writes on the clusters, as one small trait: `Live` follows the
//! monitor's snapshots and talks to Kafka; tests of the driver give a fake. The decisions stay
//! in the pure modules (`checks`, `commits`, `engine`); this is their I/O.

use std::time::{Duration, Instant, SystemTime};

use super::checks::{self, Answer, Ends, Settle};
use super::commits::Offsets;
use super::engine::{Check, OffsetMove, PartitionEnd, Resolved, Side, WaveState};
use crate::config::{Config, Wave};
use crate::error::{Error, Result};
use crate::jobs::CancelToken;
use crate::kafka::write::{CommitError, OffsetChange, OffsetWriter, WritePermission};
use crate::model::translation::GroupPartitionTranslation;
use crate::model::verdict::Verdict;
use crate::model::Snapshot;

/// The driver's view of the two clusters.
pub trait Clusters {
    /// The wave's topics and groups now.
    fn resolve(&mut self, wave: &Wave) -> Result<Resolved>;
    /// Whether `check` is met now, on the next snapshot (a transient read error is NotYet with
    /// the reason; a cancelled read is Err).
    fn check(&mut self, check: Check, state: &WaveState, settle: &mut Settle, stop: &CancelToken) -> Result<Answer>;
    /// The target's end offsets of the wave's (source) `topics`, by target topic: on the next
    /// snapshot (`fresh`), or on the one the last check looked at.
    fn target_ends(&mut self, topics: &[String], fresh: bool) -> Result<Vec<PartitionEnd>>;
    /// The source's end offsets of `topics`, from the newest poll.
    fn source_ends(&mut self, topics: &[String]) -> Result<Vec<PartitionEnd>>;
    /// A group's committed offsets on one cluster, read now.
    fn committed(&mut self, on: Side, group: &str) -> Result<Offsets>;
    /// Exact translations of a group's committed source offsets (`committed`).
    fn translate(
        &mut self,
        group: &str,
        committed: &Offsets,
        stop: &CancelToken,
    ) -> Result<Vec<GroupPartitionTranslation>>;
    /// The source offset holding what the target holds at `at`, for a group that read the
    /// target on from `forward.new` (source `forward.from`).
    fn walk_back(&mut self, source_topic: &str, forward: &OffsetMove, at: i64, stop: &CancelToken) -> Result<i64>;
    /// Writes a group's offsets on one cluster if they are still what `changes` expects, and
    /// reads them back.
    fn commit(&mut self, on: Side, group: &str, changes: &[OffsetChange]) -> std::result::Result<(), CommitError>;
    /// A breached rollback criterion after the wave is done, on the next snapshot.
    fn rollback_breach(&mut self, wave: &Wave, state: &WaveState) -> Option<String>;
}

/// A snapshot of both clusters newer than the last one returned.
pub type Observe<'a> = dyn FnMut() -> Result<Snapshot> + 'a;

/// Follows the monitor: each call returns the first snapshot in which both clusters were
/// polled after the call began (a check never decides on figures from before its step's
/// action), and, with MM2, its internal topics were read. A wave so adds no poll of its own
/// to the cockpit's. When none comes in time, the current one: its figures say what is missing.
pub fn follow(
    mut snapshots: tokio::sync::watch::Receiver<Snapshot>,
    config: &Config,
    stop: CancelToken,
) -> Box<Observe<'static>> {
    let patience = config.monitor.refresh_interval * 2 + config.monitor.request_timeout;
    let needs_mm2 = config.replication.kind == crate::config::ReplicationKind::MirrorMaker2;
    Box::new(move || {
        let asked = SystemTime::now();
        let deadline = Instant::now() + patience;
        let fresh = |f: &crate::model::ClusterFeed| {
            let polled = f.state().is_some_and(|s| {
                s.polled_at
                    .checked_sub(s.poll_duration)
                    .is_some_and(|began| began >= asked)
            });
            polled || f.last_error.as_ref().is_some_and(|(at, _)| *at >= asked)
        };
        loop {
            if snapshots.has_changed().map_err(|_| "the monitor stopped".to_string())? {
                let s = snapshots.borrow_and_update();
                if fresh(&s.source) && fresh(&s.target) && (!needs_mm2 || s.mm2.is_some()) {
                    break;
                }
            }
            if Instant::now() >= deadline || stop.sleep(Duration::from_millis(20)) {
                break;
            }
        }
        Ok(snapshots.borrow().clone())
    })
}

/// The clusters as the monitor shows them, and Kafka for the reads and writes a step needs.
pub struct Live<'a> {
    config: &'a Config,
    wave: &'a Wave,
    observe: Box<Observe<'a>>,
    last: Option<Snapshot>,
    permission: Option<WritePermission>,
    /// The source ends frozen, and the target ends at the flip (for WritesOnTarget).
    baseline: Option<(Ends, Ends)>,
    /// How far the wave's partitions were validated (preflight, then the final parity's tail).
    validated: crate::validate::run::Progress,
}

impl<'a> Live<'a> {
    pub fn new(config: &'a Config, wave: &'a Wave, may_write: bool, observe: Box<Observe<'a>>) -> Live<'a> {
        Live {
            config,
            wave,
            observe,
            last: None,
            permission: WritePermission::grant(may_write),
            baseline: None,
            validated: Default::default(),
        }
    }

    fn next_snapshot(&mut self) -> Result<&Snapshot> {
        let snap = (self.observe)().map_err(|e| Error::transient(format!("the clusters could not be polled: {e}")))?;
        Ok(self.last.insert(snap))
    }

    fn latest(&mut self) -> Result<&Snapshot> {
        match self.last {
            Some(ref s) => Ok(s),
            None => self.next_snapshot(),
        }
    }

    fn evaluate(
        &mut self,
        check: Check,
        state: &WaveState,
        snap: &Snapshot,
        settle: &mut Settle,
        stop: &CancelToken,
    ) -> Result<Answer> {
        let (config, wave) = (self.config, self.wave);
        let (topics, groups) = (&state.topics, &state.groups);
        Ok(match check {
            Check::Preflight => {
                let rows = validate_rows(config, snap, topics, &mut self.validated, stop)?;
                let results = checks::preflight(snap, config, wave, topics, groups, &rows, SystemTime::now());
                checks::preflight_answer(&results)
            }
            Check::SourceFrozen => {
                let ends = checks::ends(snap, config, topics, false)?;
                let at = snap.source.state().map_or(SystemTime::now(), |s| s.polled_at);
                settle.observe(ends, at, config.cutover.settle)
            }
            Check::Drained => {
                let lags = checks::lags(snap, config, topics)?;
                let target = checks::ends(snap, config, topics, true)?;
                let at = snap.target.state().map_or(SystemTime::now(), |s| s.polled_at);
                checks::drained_or_settled(&lags, target, at, settle, config.cutover.settle)
            }
            Check::FinalParity => {
                // Only what was not validated yet (all of it after a restart).
                checks::parity(&validate_rows(config, snap, topics, &mut self.validated, stop)?)
            }
            Check::GroupsEmptyOnSource => checks::groups_empty(snap, groups, false),
            Check::GroupsEmptyOnTarget => checks::groups_empty(snap, groups, true),
            Check::GroupsStableOnTarget => checks::groups_stable_on_target(snap, groups),
            Check::WritesOnTarget => {
                let source = checks::ends(snap, config, topics, false)?;
                let target = checks::ends(snap, config, topics, true)?;
                let (s0, t0) = self.baseline.get_or_insert_with(|| (source.clone(), target.clone()));
                checks::writes_on_target(s0, &source, t0, &target)
            }
            Check::TargetGroupsCaughtUp => {
                let target = checks::ends(snap, config, topics, true)?;
                checks::caught_up(&target, &checks::target_commits(snap, config, topics, groups)?, config)
            }
        })
    }
}

impl Clusters for Live<'_> {
    fn resolve(&mut self, wave: &Wave) -> Result<Resolved> {
        let config = self.config;
        let snap = self.next_snapshot()?;
        let topics = checks::wave_topics(snap, wave);
        let groups = checks::wave_groups(snap, wave);
        let left_behind = checks::left_behind(snap, wave, &topics, &groups).unwrap_or_default();
        let target_only_ranges = snap
            .target_only
            .all()
            .filter(|r| topics.iter().any(|t| config.replication.target_topic(t) == r.topic))
            .count();
        Ok(Resolved {
            topics,
            groups,
            left_behind,
            target_only_ranges,
        })
    }

    fn check(&mut self, check: Check, state: &WaveState, settle: &mut Settle, stop: &CancelToken) -> Result<Answer> {
        let snap = match self.next_snapshot() {
            Ok(s) => s.clone(),
            Err(e) => return Ok(Answer::NotYet(e.message)),
        };
        // Permanent: waiting cannot bring a deleted topic back (the preflight checks topics
        // on its own).
        if check != Check::Preflight {
            if let Some(gone) = checks::topic_gone(&snap, self.config, &state.topics) {
                return Ok(Answer::Failed(format!("{gone}: the wave cannot go on")));
            }
        }
        match self.evaluate(check, state, &snap, settle, stop) {
            Err(e) if e.is_cancelled() => Err(e),
            // A figure missing from this snapshot (a broker away for a moment): the next poll decides.
            Err(e) => Ok(Answer::NotYet(e.message)),
            Ok(answer) => Ok(answer),
        }
    }

    fn target_ends(&mut self, topics: &[String], fresh: bool) -> Result<Vec<PartitionEnd>> {
        let config = self.config;
        let snap = if fresh { self.next_snapshot()? } else { self.latest()? };
        Ok(checks::ends(snap, config, topics, true)?
            .into_iter()
            .map(|((topic, partition), offset)| PartitionEnd {
                topic: config.replication.target_topic(&topic),
                partition,
                offset,
            })
            .collect())
    }

    fn source_ends(&mut self, topics: &[String]) -> Result<Vec<PartitionEnd>> {
        let config = self.config;
        let snap = self.latest()?;
        Ok(checks::ends(snap, config, topics, false)?
            .into_iter()
            .map(|((topic, partition), offset)| PartitionEnd {
                topic,
                partition,
                offset,
            })
            .collect())
    }

    fn committed(&mut self, on: Side, group: &str) -> Result<Offsets> {
        let cluster = match on {
            Side::Source => &self.config.source,
            Side::Target => &self.config.target,
        };
        crate::kafka::group_offsets(cluster, group, self.config.monitor.request_timeout)
            .map_err(|e| Error::transient(format!("{group}: committed offsets on {}: {e}", cluster.name)))
    }

    fn translate(
        &mut self,
        group: &str,
        committed: &Offsets,
        stop: &CancelToken,
    ) -> Result<Vec<GroupPartitionTranslation>> {
        let config = self.config;
        let mut snap = self.latest()?.clone();
        if config.replication.kind == crate::config::ReplicationKind::MirrorMaker2 && snap.mm2.is_none() {
            // The monitor has not read MM2's internal topics yet (it just started): the next
            // snapshot may have them. Without its offset syncs nothing translates exactly.
            snap = self.next_snapshot()?.clone();
            if snap.mm2.is_none() {
                return Err(Error::transient("MM2's internal topics were not read yet"));
            }
        }
        let (rows, _) = crate::translate::group::translate_group(
            config,
            snap.mm2.as_deref(),
            group,
            committed,
            None,
            config.monitor.request_timeout,
            &[],
            &snap.target_only,
            &crate::model::inventory::own_timestamps(&snap),
            stop,
        )?;
        Ok(rows)
    }

    fn walk_back(&mut self, source_topic: &str, forward: &OffsetMove, at: i64, stop: &CancelToken) -> Result<i64> {
        use crate::kafka::cursor::{ContentOnly, KafkaCursor, Retrying, SkipTargetOnly};
        let config = self.config;
        let timeout = config.monitor.request_timeout;
        let snap = self.latest()?;
        let ranges = snap.target_only.partition(&forward.topic, forward.partition).0.to_vec();
        let content_only = crate::model::inventory::own_timestamps(snap).contains(&forward.topic);
        let (topic, partition) = (&forward.topic, forward.partition);
        let mut target = ContentOnly::new(
            SkipTargetOnly::new(
                Retrying::new(KafkaCursor::new(&config.target, topic, partition, timeout)?).cancelled_by(stop),
                ranges,
            ),
            content_only,
        );
        let mut source = ContentOnly::new(
            Retrying::new(KafkaCursor::new(&config.source, source_topic, partition, timeout)?).cancelled_by(stop),
            content_only,
        );
        let walked = crate::translate::walk_from_sync(&mut target, &mut source, (forward.new, forward.from), &[at])?;
        match walked.first().map(|(o, _)| o) {
            Some(crate::translate::Outcome::Exact { target_offset, .. }) => Ok(*target_offset),
            Some(other) => Err(Error::permanent(format!(
                "{topic}/{partition} at {at}: no exact way back to the source: {}",
                other.describe()
            ))),
            None => Err(Error::permanent("nothing translated")),
        }
    }

    fn commit(&mut self, on: Side, group: &str, changes: &[OffsetChange]) -> std::result::Result<(), CommitError> {
        let cluster = match on {
            Side::Source => &self.config.source,
            Side::Target => &self.config.target,
        };
        let Some(permission) = self.permission.as_ref() else {
            return Err(CommitError::Broker {
                what: "this run may not write".into(),
                retryable: false,
            });
        };
        OffsetWriter::new(permission, cluster, self.config.monitor.request_timeout).commit(group, changes)
    }

    fn rollback_breach(&mut self, wave: &Wave, state: &WaveState) -> Option<String> {
        let config = self.config;
        let snap = self.next_snapshot().ok()?;
        checks::rollback_breach(snap, config, wave, state, SystemTime::now())
    }
}

/// Validates the wave's topics (from `progress` on, and moving it on), as
/// (topic, partition, verdict, records not copied yet).
fn validate_rows(
    config: &Config,
    snap: &Snapshot,
    topics: &[String],
    progress: &mut crate::validate::run::Progress,
    stop: &CancelToken,
) -> Result<Vec<(String, i32, Verdict, bool)>> {
    let mut out = Vec::new();
    for t in topics {
        let rows = crate::validate::report::validate_all(
            config,
            snap,
            Some(t),
            config.monitor.request_timeout,
            Some(progress),
            stop,
        )?;
        out.extend(
            rows.into_iter()
                .map(|r| (r.topic, r.partition, r.result.verdict, r.result.pending)),
        );
    }
    Ok(out)
}
