//! What the background validation has found so far: the job's updates folded into a board,
//! and the rows the Validation view and the overview show. No I/O here.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::verdict::{Row, Verdict};
use super::Snapshot;

/// What the validation job is asked for, and what it tells the cockpit.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Topic(String),
}

impl Scope {
    pub fn topic(&self) -> Option<&str> {
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
    /// Partitions that waited for an alignment (MM2's first offset-sync) can now be validated.
    Aligned,
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

/// Records and bytes read so far by one partition's validation, on both sides; read by the
/// cockpit while it runs.
#[derive(Debug, Default)]
pub struct Meter {
    pub source_records: AtomicU64,
    pub target_records: AtomicU64,
    pub bytes: AtomicU64,
}

impl Meter {
    pub fn records(&self) -> (u64, u64) {
        (
            self.source_records.load(Ordering::Relaxed),
            self.target_records.load(Ordering::Relaxed),
        )
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Runs kept for the history, and results kept per partition.
const RUNS_KEPT: usize = 50;
const RESULTS_KEPT: usize = 20;

/// The result word of a partition or a topic. Shown as text, never by colour alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    // In the order a topic shows the worst of its partitions.
    Fail,
    Error,
    Running,
    Pending,
    Skipped,
    Pass,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Running => "RUNNING",
            Status::Pending => "PENDING",
            Status::Skipped => "SKIPPED",
            Status::Error => "ERROR",
        }
    }

    pub fn of(verdict: &Verdict) -> Status {
        match verdict {
            Verdict::Pass => Status::Pass,
            Verdict::Fail { .. } => Status::Fail,
            Verdict::Skipped { .. } => Status::Skipped,
            Verdict::Pending { .. } => Status::Pending,
            Verdict::Error { .. } => Status::Error,
        }
    }
}

/// Source and target ranges proven equal, over consecutive passing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub source: (i64, i64),
    pub target: (i64, i64),
    pub compared: u64,
}

#[derive(Debug, Clone)]
pub enum Activity {
    Idle,
    Pending,
    Running { since: SystemTime, meter: Arc<Meter> },
}

/// One partition's validation so far.
#[derive(Debug, Clone)]
pub struct PartitionBoard {
    pub activity: Activity,
    /// Finished results, newest first, with when they finished and their run.
    pub results: VecDeque<(u64, SystemTime, Row)>,
    pub validated: Option<Span>,
}

/// One run, as the history shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub id: u64,
    pub trigger: Trigger,
    pub request: Request,
    pub started: SystemTime,
    pub finished: Option<SystemTime>,
    pub partitions: usize,
    /// Finished partitions by result.
    pub counts: BTreeMap<Status, usize>,
    pub records: (u64, u64),
    pub bytes: u64,
    pub rate_limit: u64,
    pub error: Option<String>,
}

impl RunSummary {
    pub fn done(&self) -> usize {
        self.counts.values().sum()
    }

    pub fn duration(&self, now: SystemTime) -> Duration {
        self.finished
            .unwrap_or(now)
            .duration_since(self.started)
            .unwrap_or_default()
    }

    /// "all", "orders", "all, full".
    pub fn scope_label(&self) -> String {
        let scope = match &self.request.scope {
            Scope::All => "all".to_string(),
            Scope::Topic(t) => t.clone(),
        };
        if self.request.full {
            format!("{scope}, full")
        } else {
            scope
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Board {
    partitions: BTreeMap<(String, i32), PartitionBoard>,
    /// Newest first.
    pub runs: VecDeque<RunSummary>,
    /// When the next scheduled run starts (None: on demand only, or not known yet).
    pub next_run: Option<SystemTime>,
}

/// Extends the proven span by a passing run that continues it; anything else starts over.
fn extend(span: Option<Span>, row: &Row) -> Span {
    let r = &row.result;
    let new = Span {
        source: r.source_range,
        target: r.target_range,
        compared: r.records_compared,
    };
    match span {
        // The same ranges again (a compacted partition with no new records): still proven.
        Some(s) if s.source == r.source_range && s.target == r.target_range => s,
        Some(s) if s.source.1 == r.source_range.0 && s.target.1 == r.target_range.0 => Span {
            source: (s.source.0, r.source_range.1),
            target: (s.target.0, r.target_range.1),
            compared: s.compared + r.records_compared,
        },
        _ => new,
    }
}

impl Board {
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionBoard> {
        self.partitions.get(&(topic.to_string(), partition))
    }

    pub fn running(&self) -> Option<&RunSummary> {
        self.runs.front().filter(|r| r.finished.is_none())
    }

    /// The meters of the partitions being read now.
    pub fn running_meters(&self) -> impl Iterator<Item = &Arc<Meter>> {
        self.partitions.values().filter_map(|p| match &p.activity {
            Activity::Running { meter, .. } => Some(meter),
            _ => None,
        })
    }

    fn entry(&mut self, topic: &str, partition: i32) -> &mut PartitionBoard {
        self.partitions
            .entry((topic.to_string(), partition))
            .or_insert_with(|| PartitionBoard {
                activity: Activity::Idle,
                results: VecDeque::new(),
                validated: None,
            })
    }

    pub fn apply(&mut self, update: Update) {
        match update {
            Update::Waiting { next_run } => self.next_run = next_run,
            Update::RunStarted {
                run,
                trigger,
                request,
                at,
                partitions,
                rate_limit,
            } => {
                for (t, p) in &partitions {
                    self.entry(t, *p).activity = Activity::Pending;
                }
                self.runs.push_front(RunSummary {
                    id: run,
                    trigger,
                    request,
                    started: at,
                    finished: None,
                    partitions: partitions.len(),
                    counts: BTreeMap::new(),
                    records: (0, 0),
                    bytes: 0,
                    rate_limit,
                    error: None,
                });
                self.runs.truncate(RUNS_KEPT);
            }
            Update::PartitionStarted {
                topic,
                partition,
                meter,
                at,
                ..
            } => self.entry(&topic, partition).activity = Activity::Running { since: at, meter },
            Update::PartitionDone { run, row, at } => {
                let mut full = false;
                if let Some(summary) = self.runs.iter_mut().find(|r| r.id == run) {
                    *summary.counts.entry(Status::of(&row.result.verdict)).or_default() += 1;
                    summary.records.0 += row.records_read.0;
                    summary.records.1 += row.records_read.1;
                    summary.bytes += row.bytes_read;
                    full = summary.request.full;
                }
                let p = self.entry(&row.topic, row.partition);
                p.activity = Activity::Idle;
                if row.result.verdict == Verdict::Pass {
                    p.validated = Some(extend(if full { None } else { p.validated }, &row));
                }
                p.results.push_front((run, at, row));
                p.results.truncate(RESULTS_KEPT);
            }
            Update::RunFinished { run, at, error } => {
                if let Some(summary) = self.runs.iter_mut().find(|r| r.id == run) {
                    summary.finished = Some(at);
                    summary.error = error;
                }
                // Anything still pending was not reached (the run could not start).
                for p in self.partitions.values_mut() {
                    if matches!(p.activity, Activity::Pending) {
                        p.activity = Activity::Idle;
                    }
                }
            }
        }
    }
}

/// One row of the Validation view.
#[derive(Debug, Clone)]
pub struct ValidationRow {
    /// Shared by the rows of one topic (25,000 rows are derived on every changed poll).
    pub topic: Arc<str>,
    pub partition: i32,
    pub status: Status,
    /// Ranges proven equal so far, and records compared in them.
    pub validated: Option<Span>,
    /// When the newest result came.
    pub last: Option<SystemTime>,
    /// Records read so far (source, target) while running.
    pub reading: Option<(u64, u64)>,
    /// The first mismatch, a skip or error reason, or a note.
    pub detail: Cow<'static, str>,
}

/// What a result needs said: the first mismatch, why it was skipped, or a note.
pub fn result_detail(row: &Row) -> String {
    let detail = match &row.result.verdict {
        Verdict::Pass if row.result.pending => "later source records not copied yet".into(),
        Verdict::Pass => String::new(),
        Verdict::Fail { mismatch } => mismatch.describe(),
        Verdict::Skipped { reason } | Verdict::Pending { reason } | Verdict::Error { reason } => reason.clone(),
    };
    let notes = [
        crate::model::target_only::PartitionRanges(&row.target_only).note(),
        row.content_only
            .then(|| crate::model::inventory::WITHOUT_TIMESTAMPS.to_string()),
    ];
    std::iter::once(detail)
        .chain(notes.into_iter().flatten())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A partition's row (PENDING "not validated yet" when the board has nothing of it).
pub fn row_of(board: &Board, topic: &str, partition: i32) -> ValidationRow {
    row_for(board.partition(topic, partition), topic.into(), partition)
}

/// A partition's status: what the board knows of it, else PENDING.
fn status_of(p: Option<&PartitionBoard>) -> Status {
    match (p.map(|p| &p.activity), p.and_then(|p| p.results.front())) {
        (Some(Activity::Running { .. }), _) => Status::Running,
        (Some(Activity::Pending), _) => Status::Pending,
        (_, Some((_, _, row))) => Status::of(&row.result.verdict),
        _ => Status::Pending,
    }
}

fn row_for(p: Option<&PartitionBoard>, topic: Arc<str>, partition: i32) -> ValidationRow {
    let newest = p.and_then(|p| p.results.front());
    let detail = match (p.map(|p| &p.activity), newest) {
        (Some(Activity::Running { meter, .. }), _) => {
            let (s, t) = meter.records();
            format!("reading: {s} source + {t} target records").into()
        }
        (Some(Activity::Pending), _) => "waiting for its turn in this run".into(),
        (_, Some((_, _, row))) => result_detail(row).into(),
        _ => "not validated yet".into(),
    };
    ValidationRow {
        topic,
        partition,
        status: status_of(p),
        validated: p.and_then(|p| p.validated),
        last: newest.map(|(_, at, _)| *at),
        reading: match p.map(|p| &p.activity) {
            Some(Activity::Running { meter, .. }) => Some(meter.records()),
            _ => None,
        },
        detail,
    }
}

/// Every watched source partition (from the snapshot, else what the board knows), with its
/// validation so far.
pub fn validation_rows(snap: &Snapshot, board: &Board) -> Vec<ValidationRow> {
    let rows = ValidationRows::new(snap, board, |_, _| true);
    rows.page(board, 0..rows.len())
}

/// The Validation view's rows: every watched source partition (from the snapshot, else what
/// the board knows) that `keep` keeps, by (topic, partition). A row's figures are read from
/// the board when it is on screen; the board must be the one the rows were made from (the
/// TUI makes them again whenever the board changes).
#[derive(Debug, Clone, Default)]
pub struct ValidationRows {
    keys: Vec<(Arc<str>, i32)>,
}

impl ValidationRows {
    /// `keep`: given a partition's topic and status, whether the view's filter keeps it.
    pub fn new(snap: &Snapshot, board: &Board, mut keep: impl FnMut(&str, Status) -> bool) -> ValidationRows {
        let mut keys: Vec<(&str, i32)> = match snap.source.state() {
            Some(s) => s
                .topics
                .values()
                .flat_map(|t| t.partitions.iter().map(|p| (t.name.as_str(), p.id)))
                .collect(),
            None => vec![],
        };
        keys.extend(board.partitions.keys().map(|(t, p)| (t.as_str(), *p)));
        // Two sorted runs: the stable sort merges them in one pass.
        keys.sort();
        keys.dedup();
        // The board is walked alongside, not searched per partition.
        let mut known = board.partitions.iter().peekable();
        let mut shared: Arc<str> = Arc::from("");
        let mut rows = ValidationRows::default();
        for (topic, partition) in keys {
            while known
                .next_if(|((t, p), _)| (t.as_str(), *p) < (topic, partition))
                .is_some()
            {}
            let p = known
                .peek()
                .filter(|((t, p), _)| t == topic && *p == partition)
                .map(|(_, b)| *b);
            if keep(topic, status_of(p)) {
                if *shared != *topic {
                    shared = topic.into();
                }
                rows.keys.push((shared.clone(), partition));
            }
        }
        rows
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Row `i`'s (topic, partition).
    pub fn key(&self, i: usize) -> Option<(&str, i32)> {
        self.keys.get(i).map(|(t, p)| (&**t, *p))
    }

    /// The rows in `range` (clipped to the rows there are), as `board` tells them.
    pub fn page(&self, board: &Board, range: std::ops::Range<usize>) -> Vec<ValidationRow> {
        let range = range.start.min(self.keys.len())..range.end.min(self.keys.len());
        self.keys[range]
            .iter()
            .map(|(t, p)| row_for(board.partition(t, *p), t.clone(), *p))
            .collect()
    }
}

/// Each topic's latest result (the worst of its partitions'), as `topic_status` of
/// `validation_rows` says, without making the rows: a partition the board does not know is
/// PENDING, and every partition the board knows counts with its own status.
pub fn topic_statuses(snap: &Snapshot, board: &Board) -> BTreeMap<String, Status> {
    let mut out: BTreeMap<String, Status> = BTreeMap::new();
    let mut worst = |topic: &str, status: Status| match out.get_mut(topic) {
        Some(s) => *s = (*s).min(status),
        None => {
            out.insert(topic.to_string(), status);
        }
    };
    if let Some(s) = snap.source.state() {
        for t in s.topics.values() {
            let (from, to) = ((t.name.clone(), i32::MIN), (t.name.clone(), i32::MAX));
            let known: std::collections::BTreeSet<i32> =
                board.partitions.range(from..=to).map(|((_, p), _)| *p).collect();
            if t.partitions.iter().any(|p| !known.contains(&p.id)) {
                worst(&t.name, Status::Pending);
            }
        }
    }
    for ((topic, _), p) in &board.partitions {
        worst(topic, status_of(Some(p)));
    }
    out
}

/// Each topic's latest result: the worst of its partitions'.
pub fn topic_status(rows: &[ValidationRow]) -> BTreeMap<String, Status> {
    let mut out: BTreeMap<String, Status> = BTreeMap::new();
    for r in rows {
        let s = out.entry(r.topic.to_string()).or_insert(r.status);
        *s = (*s).min(r.status);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::verdict::{Mismatch, MismatchKind, PartitionResult};

    fn row(topic: &str, p: i32, s: (i64, i64), verdict: Verdict) -> Row {
        Row {
            target_only: vec![],
            content_only: false,
            topic: topic.into(),
            target_topic: topic.into(),
            partition: p,
            result: PartitionResult {
                source_range: s,
                target_range: s,
                records_compared: (s.1 - s.0) as u64,
                pending: false,
                verdict,
            },
            records_read: ((s.1 - s.0) as u64, (s.1 - s.0) as u64),
            bytes_read: 10,
        }
    }

    fn start(board: &mut Board, run: u64, full: bool, partitions: &[(&str, i32)]) {
        board.apply(Update::RunStarted {
            run,
            trigger: Trigger::OnDemand,
            request: Request {
                scope: Scope::All,
                full,
            },
            at: SystemTime::UNIX_EPOCH,
            partitions: partitions.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
            rate_limit: 1,
        });
    }

    fn done(board: &mut Board, run: u64, row: Row) {
        board.apply(Update::PartitionDone {
            run,
            row,
            at: SystemTime::UNIX_EPOCH,
        });
    }

    #[test]
    fn passing_runs_extend_the_validated_span_and_a_full_run_restarts_it() {
        let mut b = Board::default();
        start(&mut b, 1, false, &[("a", 0)]);
        assert_eq!(
            b.partition("a", 0).map(|p| matches!(p.activity, Activity::Pending)),
            Some(true)
        );
        done(&mut b, 1, row("a", 0, (0, 50), Verdict::Pass));
        start(&mut b, 2, false, &[("a", 0)]);
        done(&mut b, 2, row("a", 0, (50, 70), Verdict::Pass));
        let span = b.partition("a", 0).unwrap().validated.unwrap();
        assert_eq!((span.source, span.compared), ((0, 70), 70));
        start(&mut b, 3, true, &[("a", 0)]);
        done(&mut b, 3, row("a", 0, (0, 80), Verdict::Pass));
        assert_eq!(b.partition("a", 0).unwrap().validated.unwrap().compared, 80);
        assert_eq!(b.runs.len(), 3);
        assert_eq!(b.runs[0].counts.get(&Status::Pass), Some(&1));
    }

    #[test]
    fn a_topic_shows_the_worst_of_its_partitions() {
        let mut b = Board::default();
        start(&mut b, 1, false, &[("a", 0), ("a", 1), ("b", 0)]);
        done(&mut b, 1, row("a", 0, (0, 5), Verdict::Pass));
        let mismatch = Mismatch {
            kind: MismatchKind::MissingOnTarget,
            source_offset: Some(3),
            target_offset: Some(3),
            key: None,
        };
        done(&mut b, 1, row("a", 1, (0, 3), Verdict::Fail { mismatch }));
        let rows = validation_rows(&Snapshot::default(), &b);
        let status = topic_status(&rows);
        assert_eq!(topic_statuses(&Snapshot::default(), &b), status);
        assert_eq!(status.get("a"), Some(&Status::Fail));
        assert_eq!(status.get("b"), Some(&Status::Pending));
        assert!(rows[1].detail.contains("source offset 3"), "{}", rows[1].detail);
        b.apply(Update::RunFinished {
            run: 1,
            at: SystemTime::UNIX_EPOCH,
            error: None,
        });
        let rows = validation_rows(&Snapshot::default(), &b);
        assert_eq!(rows[2].detail, "not validated yet");
    }

    /// With the snapshot's partitions as well (a topic the board knows part of, one it does not
    /// know, one only the board knows): the rows merge both lists in order, and the statuses
    /// made without rows are the rows' statuses.
    #[test]
    fn rows_and_statuses_merge_the_snapshot_and_the_board() {
        use crate::model::{ClusterFeed, ClusterState, PartitionState, TopicState};
        let topic = |name: &str, n: i32| TopicState {
            name: name.into(),
            error: None,
            partitions: (0..n)
                .map(|id| PartitionState {
                    id,
                    leader: 1,
                    replicas: 1,
                    isr: 1,
                    low: Ok(0),
                    high: Ok(10),
                    error: None,
                })
                .collect(),
        };
        let snap = Snapshot {
            source: ClusterFeed {
                name: "s".into(),
                last_good: Some(std::sync::Arc::new(ClusterState {
                    polled_at: SystemTime::UNIX_EPOCH,
                    poll_duration: std::time::Duration::ZERO,
                    brokers: vec![],
                    topics: [topic("a", 3), topic("c", 2)]
                        .into_iter()
                        .map(|t| (t.name.clone(), t))
                        .collect(),
                    configs: Ok(Default::default()),
                    groups: Ok(vec![]),
                })),
                last_error: None,
                figures_version: 0,
                ages: Default::default(),
            },
            ..Default::default()
        };
        let mut b = Board::default();
        start(&mut b, 1, false, &[("a", 0), ("a", 1), ("b", 0)]);
        done(&mut b, 1, row("a", 0, (0, 5), Verdict::Pass));
        done(&mut b, 1, row("a", 1, (0, 5), Verdict::Pass));
        done(&mut b, 1, row("b", 0, (0, 5), Verdict::Pass));
        let rows = validation_rows(&snap, &b);
        let keys: Vec<(&str, i32, Status)> = rows.iter().map(|r| (&*r.topic, r.partition, r.status)).collect();
        assert_eq!(
            keys,
            [
                ("a", 0, Status::Pass),
                ("a", 1, Status::Pass),
                ("a", 2, Status::Pending),
                ("b", 0, Status::Pass),
                ("c", 0, Status::Pending),
                ("c", 1, Status::Pending),
            ]
        );
        assert_eq!(topic_statuses(&snap, &b), topic_status(&rows));
        assert_eq!(
            topic_statuses(&snap, &b).get("a"),
            Some(&Status::Pending),
            "a/2 not validated yet"
        );
        // The view's rows: kept by topic and status, each page read from the board.
        let pending = ValidationRows::new(&snap, &b, |_, s| s == Status::Pending);
        let keys: Vec<(&str, i32)> = (0..pending.len()).filter_map(|i| pending.key(i)).collect();
        assert_eq!(keys, [("a", 2), ("c", 0), ("c", 1)]);
        let all = ValidationRows::new(&snap, &b, |_, _| true);
        let seen = |v: &[ValidationRow]| -> Vec<String> {
            v.iter()
                .map(|r| format!("{}/{} {:?} {}", r.topic, r.partition, r.status, r.detail))
                .collect()
        };
        assert_eq!(seen(&all.page(&b, 1..4)), seen(&rows[1..4]));
        assert_eq!(seen(&all.page(&b, 4..99)), seen(&rows[4..]));
        assert!(all.page(&b, 7..9).is_empty());
    }
}
