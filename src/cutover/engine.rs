//! The cutover engine: pure. A wave's state is the fold of its journal's events; `next` says
//! what the wave needs now. The driver (headless or the cockpit) performs that action, journals
//! its intent before and its result after, and asks again. A crash between the two leaves an
//! intent without a result, which `next` reports as `again`, so the driver checks it instead of
//! silently repeating or skipping it.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::config::{ConfirmMode, Hooks, Strategy, Wave};

/// A step of a wave, forward or undoing a forward step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Preflight,
    FreezeProducers,
    Drain,
    FinalParity,
    StopConsumers,
    CommitOffsets,
    FlipConsumers,
    FlipProducers,
    UndoFlipProducers,
    UndoFlipConsumers,
    UndoCommitOffsets,
    UndoStopConsumers,
    UndoFreezeProducers,
}

/// The shell hooks, by their config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    FreezeProducers,
    StopConsumers,
    FlipConsumers,
    FlipProducers,
    RollbackFreezeProducers,
    RollbackStopConsumers,
    RollbackFlipConsumers,
    RollbackFlipProducers,
}

impl Hook {
    pub fn key(self) -> &'static str {
        match self {
            Hook::FreezeProducers => "freeze_producers",
            Hook::StopConsumers => "stop_consumers",
            Hook::FlipConsumers => "flip_consumers",
            Hook::FlipProducers => "flip_producers",
            Hook::RollbackFreezeProducers => "rollback_freeze_producers",
            Hook::RollbackStopConsumers => "rollback_stop_consumers",
            Hook::RollbackFlipConsumers => "rollback_flip_consumers",
            Hook::RollbackFlipProducers => "rollback_flip_producers",
        }
    }

    pub fn command(self, hooks: &Hooks) -> Option<&str> {
        match self {
            Hook::FreezeProducers => hooks.freeze_producers.as_deref(),
            Hook::StopConsumers => hooks.stop_consumers.as_deref(),
            Hook::FlipConsumers => hooks.flip_consumers.as_deref(),
            Hook::FlipProducers => hooks.flip_producers.as_deref(),
            Hook::RollbackFreezeProducers => hooks.rollback_freeze_producers.as_deref(),
            Hook::RollbackStopConsumers => hooks.rollback_stop_consumers.as_deref(),
            Hook::RollbackFlipConsumers => hooks.rollback_flip_consumers.as_deref(),
            Hook::RollbackFlipProducers => hooks.rollback_flip_producers.as_deref(),
        }
    }
}

/// What the driver measures to decide that a step's wait is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Target topics and partitions exist, configs match, replication alive, lag under the
    /// limit, validation PASS, the wave's groups Empty or absent on the target.
    Preflight,
    /// The source end offsets of the wave's topics stand still for `settle`.
    SourceFrozen,
    /// The target holds every source record of the wave's partitions.
    Drained,
    /// The records not validated yet, validated: PASS.
    FinalParity,
    /// Every wave group Empty (or gone) on the source.
    GroupsEmptyOnSource,
    /// Every wave group Stable on the target.
    GroupsStableOnTarget,
    /// The target's end offsets advance while the source's stand still.
    WritesOnTarget,
    /// The target groups processed every record of the wave's target topics.
    TargetGroupsCaughtUp,
    /// Every wave group Empty (or gone) on the target.
    GroupsEmptyOnTarget,
}

/// One unit of work inside a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Action {
    Hook(Hook),
    Wait(Check),
    /// Translate the groups' source commits exactly and commit them on the target.
    Commit,
    /// Translate the groups' target commits back and commit them on the source.
    CommitBack,
}

impl Action {
    /// Whether it changes something outside the cockpit (asks first with confirm = each-step).
    pub fn has_side_effects(self) -> bool {
        !matches!(self, Action::Wait(_))
    }

    pub fn label(self) -> String {
        match self {
            Action::Hook(h) => format!("hook {}", h.key()),
            Action::Wait(c) => format!("wait: {}", c.label()),
            Action::Commit => "commit translated offsets on the target".into(),
            Action::CommitBack => "commit translated-back offsets on the source".into(),
        }
    }
}

impl Check {
    pub const ALL: [Check; 9] = [
        Check::Preflight,
        Check::SourceFrozen,
        Check::Drained,
        Check::FinalParity,
        Check::GroupsEmptyOnSource,
        Check::GroupsStableOnTarget,
        Check::WritesOnTarget,
        Check::TargetGroupsCaughtUp,
        Check::GroupsEmptyOnTarget,
    ];

    /// Its key in `[wave.wait_timeout]` (config::WAIT_KEYS).
    pub fn key(self) -> &'static str {
        match self {
            Check::Preflight => "preflight",
            Check::SourceFrozen => "source_frozen",
            Check::Drained => "drained",
            Check::FinalParity => "final_parity",
            Check::GroupsEmptyOnSource => "groups_empty_on_source",
            Check::GroupsStableOnTarget => "groups_stable_on_target",
            Check::WritesOnTarget => "writes_on_target",
            Check::TargetGroupsCaughtUp => "target_groups_caught_up",
            Check::GroupsEmptyOnTarget => "groups_empty_on_target",
        }
    }

    /// How long this wait may last in `wave` before the wave stops.
    pub fn deadline(self, wave: &Wave, default: std::time::Duration) -> std::time::Duration {
        wave.wait_timeouts.get(self.key()).copied().unwrap_or(default)
    }

    pub fn label(self) -> &'static str {
        match self {
            Check::Preflight => "preflight checks",
            Check::SourceFrozen => "source end offsets stand still",
            Check::Drained => "target holds every source record",
            Check::FinalParity => "final parity of the tail",
            Check::GroupsEmptyOnSource => "groups Empty on the source",
            Check::GroupsStableOnTarget => "groups Stable on the target",
            Check::WritesOnTarget => "writes reach the target, not the source",
            Check::TargetGroupsCaughtUp => "target groups processed every target record",
            Check::GroupsEmptyOnTarget => "groups Empty on the target",
        }
    }
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Preflight => "preflight",
            Step::FreezeProducers => "freeze producers",
            Step::Drain => "drain",
            Step::FinalParity => "final parity",
            Step::StopConsumers => "stop consumers",
            Step::CommitOffsets => "commit offsets",
            Step::FlipConsumers => "flip consumers",
            Step::FlipProducers => "flip producers",
            Step::UndoFlipProducers => "undo: flip producers",
            Step::UndoFlipConsumers => "undo: flip consumers",
            Step::UndoCommitOffsets => "undo: commit offsets",
            Step::UndoStopConsumers => "undo: stop consumers",
            Step::UndoFreezeProducers => "undo: freeze producers",
        }
    }

    /// The actions of the step, in order.
    pub fn actions(self) -> Vec<Action> {
        use Action::*;
        match self {
            Step::Preflight => vec![Wait(Check::Preflight)],
            Step::FreezeProducers => vec![Hook(self::Hook::FreezeProducers), Wait(Check::SourceFrozen)],
            Step::Drain => vec![Wait(Check::Drained)],
            Step::FinalParity => vec![Wait(Check::FinalParity)],
            Step::StopConsumers => vec![Hook(self::Hook::StopConsumers), Wait(Check::GroupsEmptyOnSource)],
            Step::CommitOffsets => vec![Commit],
            Step::FlipConsumers => vec![Hook(self::Hook::FlipConsumers), Wait(Check::GroupsStableOnTarget)],
            Step::FlipProducers => vec![Hook(self::Hook::FlipProducers), Wait(Check::WritesOnTarget)],
            // Writes stop on the target; the target groups then process what was written
            // there only, before they are moved back.
            Step::UndoFlipProducers => vec![
                Hook(self::Hook::RollbackFlipProducers),
                Wait(Check::TargetGroupsCaughtUp),
            ],
            Step::UndoFlipConsumers => vec![
                Hook(self::Hook::RollbackFlipConsumers),
                Wait(Check::GroupsEmptyOnTarget),
            ],
            Step::UndoCommitOffsets => vec![CommitBack],
            Step::UndoStopConsumers => vec![Hook(self::Hook::RollbackStopConsumers)],
            Step::UndoFreezeProducers => vec![Hook(self::Hook::RollbackFreezeProducers)],
        }
    }

    /// The step that undoes this one, if it changed anything.
    pub fn undo(self) -> Option<Step> {
        match self {
            Step::FreezeProducers => Some(Step::UndoFreezeProducers),
            Step::StopConsumers => Some(Step::UndoStopConsumers),
            Step::CommitOffsets => Some(Step::UndoCommitOffsets),
            Step::FlipConsumers => Some(Step::UndoFlipConsumers),
            Step::FlipProducers => Some(Step::UndoFlipProducers),
            _ => None,
        }
    }
}

/// The forward steps of a strategy.
pub fn forward_steps(strategy: Strategy) -> Vec<Step> {
    use Step::*;
    match strategy {
        Strategy::StopTheWorld => vec![
            Preflight,
            FreezeProducers,
            Drain,
            FinalParity,
            StopConsumers,
            CommitOffsets,
            FlipConsumers,
            FlipProducers,
        ],
        // Producers keep writing to the source while the groups read the target (MM2 carries
        // their records); then producers are frozen, drained and checked, and flipped.
        Strategy::ConsumersFirst => vec![
            Preflight,
            StopConsumers,
            CommitOffsets,
            FlipConsumers,
            FreezeProducers,
            Drain,
            FinalParity,
            FlipProducers,
        ],
    }
}

/// One partition's commit, as journaled: what the group had (None: nothing) and what was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetMove {
    /// The topic as the cluster written to names it.
    pub topic: String,
    pub partition: i32,
    pub old: Option<i64>,
    pub new: i64,
    /// The offset on the other cluster that `new` was translated from.
    pub from: i64,
}

/// One partition's end offset, as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEnd {
    /// The topic as the target names it.
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// Which cluster a commit went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Source,
    Target,
}

/// What happens to a wave, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The wave starts on these source topics and groups (resolved from the patterns then).
    WaveStarted {
        strategy: Strategy,
        topics: Vec<String>,
        groups: Vec<String>,
    },
    /// Someone said yes to something (the text says to what; `details`: exactly what was
    /// shown, e.g. every offset of a commit).
    Confirmed {
        what: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        details: Vec<String>,
    },
    /// Intent: the action begins (`detail`: the command line, or the offsets to commit).
    ActionStarted {
        step: Step,
        action: Action,
        #[serde(default)]
        detail: String,
    },
    ActionDone {
        step: Step,
        action: Action,
        #[serde(default)]
        detail: String,
        #[serde(default)]
        output: Vec<String>,
    },
    ActionFailed {
        step: Step,
        action: Action,
        reason: String,
        #[serde(default)]
        output: Vec<String>,
    },
    /// Intent: exactly these offsets are written for one group next (`old`: what was there).
    /// After a crash between the write and `Committed`, it still says what was there before.
    CommitPlanned {
        side: Side,
        group: String,
        offsets: Vec<OffsetMove>,
    },
    /// Offsets written for one group, read back and equal.
    Committed {
        side: Side,
        group: String,
        offsets: Vec<OffsetMove>,
    },
    /// The operator retries a failed step.
    Retry {
        step: Step,
    },
    /// The operator skips a step (typed confirmation).
    Skipped {
        step: Step,
        reason: String,
    },
    Paused,
    Resumed,
    /// The rollback begins, undoing these steps in this order.
    RollbackStarted {
        steps: Vec<Step>,
    },
    /// The target's end offsets of the wave's topics just before its producers were flipped:
    /// what is written there from these offsets on exists on the target only.
    TargetWritesBegan {
        ends: Vec<PartitionEnd>,
    },
    /// The target's end offsets once a rollback had stopped the writes to the target: with
    /// `TargetWritesBegan`, each partition's target-only range.
    TargetWritesStopped {
        ends: Vec<PartitionEnd>,
    },
    /// The source's end offsets of the wave's topics when its producers were flipped: a
    /// record past them, written while the wave stands, comes from a producer left behind.
    SourceWritesStopped {
        ends: Vec<PartitionEnd>,
    },
    /// An alarm raised while the wave stood (a stray client, a breached criterion): recorded,
    /// changing nothing.
    Alarm {
        text: String,
    },
    /// The wave changed hands, changing nothing else: a cockpit that lost its terminal left it
    /// to a detached driver, or someone took it over from one.
    HandedOver {
        text: String,
    },
}

/// Where one action stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionState {
    Started {
        at: SystemTime,
        detail: String,
    },
    Done {
        at: SystemTime,
        detail: String,
        output: Vec<String>,
    },
    Failed {
        at: SystemTime,
        reason: String,
        output: Vec<String>,
    },
}

/// A wave as its journal tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveState {
    pub name: String,
    pub started: Option<SystemTime>,
    pub strategy: Strategy,
    pub topics: Vec<String>,
    pub groups: Vec<String>,
    /// Forward steps, then the undo steps once a rollback started.
    pub steps: Vec<Step>,
    /// Index in `steps` where the rollback begins.
    pub rollback_from: Option<usize>,
    pub actions: BTreeMap<(Step, Action), ActionState>,
    pub skipped: BTreeMap<Step, String>,
    pub paused: bool,
    pub commits: Vec<(Side, String, Vec<OffsetMove>)>,
    /// The commits journaled as about to be written (this run of the wave).
    pub planned: Vec<(Side, String, Vec<OffsetMove>)>,
    /// The target's end offsets at the flip of producers and when a rollback stopped the
    /// writes there (this run of the wave).
    pub target_writes_began: Option<Vec<PartitionEnd>>,
    pub target_writes_stopped: Option<Vec<PartitionEnd>>,
    /// The source's ends at the flip of producers (this run of the wave).
    pub source_writes_stopped: Option<Vec<PartitionEnd>>,
}

impl WaveState {
    pub fn new(wave: &Wave) -> WaveState {
        WaveState {
            name: wave.name.clone(),
            started: None,
            strategy: wave.strategy,
            topics: Vec::new(),
            groups: Vec::new(),
            steps: forward_steps(wave.strategy),
            rollback_from: None,
            actions: BTreeMap::new(),
            skipped: BTreeMap::new(),
            paused: false,
            commits: Vec::new(),
            planned: Vec::new(),
            target_writes_began: None,
            target_writes_stopped: None,
            source_writes_stopped: None,
        }
    }

    /// Folds one journaled event in.
    pub fn apply(&mut self, at: SystemTime, event: &Event) {
        match event {
            Event::WaveStarted {
                strategy,
                topics,
                groups,
            } => {
                // A wave started again (after a rollback) begins afresh.
                *self = WaveState {
                    name: self.name.clone(),
                    started: Some(at),
                    strategy: *strategy,
                    topics: topics.clone(),
                    groups: groups.clone(),
                    steps: forward_steps(*strategy),
                    rollback_from: None,
                    actions: BTreeMap::new(),
                    skipped: BTreeMap::new(),
                    paused: false,
                    commits: Vec::new(),
                    planned: Vec::new(),
                    target_writes_began: None,
                    target_writes_stopped: None,
                    source_writes_stopped: None,
                };
            }
            Event::Confirmed { .. } => {}
            Event::ActionStarted { step, action, detail } => {
                self.actions.insert(
                    (*step, *action),
                    ActionState::Started {
                        at,
                        detail: detail.clone(),
                    },
                );
            }
            Event::ActionDone {
                step,
                action,
                detail,
                output,
            } => {
                self.actions.insert(
                    (*step, *action),
                    ActionState::Done {
                        at,
                        detail: detail.clone(),
                        output: output.clone(),
                    },
                );
            }
            Event::ActionFailed {
                step,
                action,
                reason,
                output,
            } => {
                self.actions.insert(
                    (*step, *action),
                    ActionState::Failed {
                        at,
                        reason: reason.clone(),
                        output: output.clone(),
                    },
                );
            }
            Event::CommitPlanned { side, group, offsets } => {
                self.planned.retain(|(s, g, _)| !(s == side && g == group));
                self.planned.push((*side, group.clone(), offsets.clone()));
            }
            Event::Committed { side, group, offsets } => self.commits.push((*side, group.clone(), offsets.clone())),
            Event::Retry { step } => {
                // The failed actions of the step run again; what was done stays done.
                self.actions
                    .retain(|(s, _), a| *s != *step || !matches!(a, ActionState::Failed { .. }));
            }
            Event::Skipped { step, reason } => {
                self.skipped.insert(*step, reason.clone());
            }
            Event::Paused => self.paused = true,
            Event::Resumed => self.paused = false,
            Event::RollbackStarted { steps } => {
                let forward = forward_steps(self.strategy).len();
                self.steps.truncate(forward);
                self.rollback_from = Some(self.steps.len());
                self.steps.extend(steps.iter().copied());
                self.paused = false;
            }
            Event::TargetWritesBegan { ends } => self.target_writes_began = Some(ends.clone()),
            Event::TargetWritesStopped { ends } => self.target_writes_stopped = Some(ends.clone()),
            Event::SourceWritesStopped { ends } => self.source_writes_stopped = Some(ends.clone()),
            Event::Alarm { .. } | Event::HandedOver { .. } => {}
        }
    }

    /// Whether the wave is over, rolled back: starting it again begins a new run.
    pub fn rolled_back(&self, wave: &Wave) -> bool {
        next(self, wave) == Next::Finished(Finish::RolledBack)
    }

    /// When the rollback's last step finished, once it has.
    pub fn rolled_back_at(&self, hooks: &Hooks) -> Option<SystemTime> {
        self.rollback_from?;
        self.step_times(*self.steps.last()?, hooks).1
    }

    /// Per partition, the records written on the target only during this run of the wave
    /// (closed once a rollback stopped the writes), from the journaled end offsets (the
    /// journal's entries carry the times: `journal::target_only`).
    pub fn target_only_ranges(&self) -> Vec<crate::model::target_only::TargetOnlyRange> {
        let Some(began) = &self.target_writes_began else {
            return Vec::new();
        };
        target_only_ranges(&self.name, began, self.target_writes_stopped.as_deref(), 0, None)
    }

    /// Records go to the target only now: the producers flipped, and no rollback closed the
    /// ranges yet.
    pub fn target_only_open(&self) -> bool {
        self.target_writes_began.is_some() && self.target_writes_stopped.is_none()
    }

    /// The output of a step's failed actions (a hook's last lines), for the retry question.
    pub fn failure_output(&self, step: Step) -> Vec<String> {
        self.actions
            .iter()
            .filter(|((s, _), _)| *s == step)
            .flat_map(|(_, a)| match a {
                ActionState::Failed { output, .. } => output.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    pub fn rolling_back(&self) -> bool {
        self.rollback_from.is_some()
    }

    /// Whether any action of `step` began (so it may have changed something).
    pub fn touched(&self, step: Step) -> bool {
        self.actions.keys().any(|(s, _)| *s == step)
    }

    /// The steps a rollback must undo now, in order: the forward steps that began, newest first.
    pub fn rollback_plan(&self) -> Vec<Step> {
        let forward = forward_steps(self.strategy);
        forward
            .iter()
            .rev()
            // A skipped step that began is undone too: its hook may have done part of its work.
            .filter(|s| self.touched(**s))
            .filter_map(|s| s.undo())
            .collect()
    }

    /// The steps of the current direction (forward, or the undo steps of a rollback).
    fn current_steps(&self) -> &[Step] {
        match self.rollback_from {
            Some(i) => &self.steps[i..],
            None => &self.steps,
        }
    }

    /// When a step started and, once it is done, finished.
    pub fn step_times(&self, step: Step, hooks: &Hooks) -> (Option<SystemTime>, Option<SystemTime>) {
        let times: Vec<SystemTime> = self
            .actions
            .iter()
            .filter(|((s, _), _)| *s == step)
            .map(|(_, a)| match a {
                ActionState::Started { at, .. } | ActionState::Done { at, .. } | ActionState::Failed { at, .. } => *at,
            })
            .collect();
        let started = times.iter().min().copied();
        let finished = (self.status(step, hooks) == StepStatus::Done)
            .then(|| times.iter().max().copied())
            .flatten();
        (started, finished)
    }

    /// Where a step stands (`hooks` decides which hook actions exist).
    pub fn status(&self, step: Step, hooks: &Hooks) -> StepStatus {
        if self.skipped.contains_key(&step) {
            return StepStatus::Skipped;
        }
        let mut any = false;
        for action in step.actions() {
            if is_absent(action, hooks) {
                continue;
            }
            match self.actions.get(&(step, action)) {
                None if any => return StepStatus::Running,
                None => return StepStatus::Pending,
                Some(ActionState::Started { .. }) => return StepStatus::Running,
                Some(ActionState::Failed { reason, .. }) => return StepStatus::Failed(reason.clone()),
                Some(ActionState::Done { .. }) => any = true,
            }
        }
        if any {
            StepStatus::Done
        } else {
            StepStatus::Pending
        }
    }
}

/// Per partition, the range between the target's end offsets at the flip and when writes
/// stopped (open while they have not); partitions where nothing was written are left out.
pub fn target_only_ranges(
    wave: &str,
    began: &[PartitionEnd],
    stopped: Option<&[PartitionEnd]>,
    began_ms: i64,
    stopped_ms: Option<i64>,
) -> Vec<crate::model::target_only::TargetOnlyRange> {
    began
        .iter()
        .filter_map(|b| {
            let to = stopped.map(|ends| {
                ends.iter()
                    .find(|e| e.topic == b.topic && e.partition == b.partition)
                    .map_or(b.offset, |e| e.offset)
            });
            (to.is_none_or(|to| to > b.offset)).then(|| crate::model::target_only::TargetOnlyRange {
                wave: wave.to_string(),
                topic: b.topic.clone(),
                partition: b.partition,
                from: b.offset,
                to,
                flipped_at_ms: began_ms,
                stopped_at_ms: to.and(stopped_ms),
            })
        })
        .collect()
}

/// A hook the plan does not configure: its action is left out (the wait after it still runs).
fn is_absent(action: Action, hooks: &Hooks) -> bool {
    matches!(action, Action::Hook(h) if h.command(hooks).is_none())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    Pending,
    Running,
    Done,
    Failed(String),
    Skipped,
}

/// How a wave ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Done,
    RolledBack,
}

/// What the wave needs now.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Not started: starting takes the wave's name, typed.
    Start,
    /// Paused by the operator: nothing new starts.
    Paused,
    /// Perform this action. `again`: its intent was journaled without a result (the cockpit
    /// stopped mid-action), so it must be checked or offered again, never silently repeated.
    Run {
        step: Step,
        action: Action,
        again: bool,
    },
    /// A failure waits for the operator: retry, roll back, or skip (typed).
    Stopped {
        step: Step,
        action: Action,
        reason: String,
    },
    Finished(Finish),
}

/// What the wave needs now, from its state and its plan.
pub fn next(state: &WaveState, wave: &Wave) -> Next {
    if state.started.is_none() {
        return Next::Start;
    }
    for &step in state.current_steps() {
        if state.skipped.contains_key(&step) {
            continue;
        }
        for action in step.actions() {
            if is_absent(action, &wave.hooks) {
                continue;
            }
            match state.actions.get(&(step, action)) {
                Some(ActionState::Done { .. }) => continue,
                Some(ActionState::Failed { reason, .. }) => {
                    return Next::Stopped {
                        step,
                        action,
                        reason: reason.clone(),
                    }
                }
                Some(ActionState::Started { .. }) if state.paused => return Next::Paused,
                Some(ActionState::Started { .. }) => {
                    return Next::Run {
                        step,
                        action,
                        again: true,
                    }
                }
                None if state.paused => return Next::Paused,
                None => {
                    return Next::Run {
                        step,
                        action,
                        again: false,
                    }
                }
            }
        }
    }
    Next::Finished(if state.rolling_back() {
        Finish::RolledBack
    } else {
        Finish::Done
    })
}

/// Whether the driver must ask before performing `next`'s action: with confirm = each-step,
/// every action with side effects; in any mode, a hook or commit interrupted mid-way (a hook is
/// idempotent by contract, but a person decides whether to run it again).
pub fn needs_confirmation(wave: &Wave, action: Action, again: bool) -> bool {
    action.has_side_effects() && (wave.confirm == ConfirmMode::EachStep || again)
}

/// One thing the driver tells, as data: the cockpit puts a check's figures beside its step
/// from these fields (never by reading the text), and observers read it from the journal's
/// live file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    /// When, in ms since the epoch, and how long after the drive began.
    pub at_ms: i64,
    pub elapsed_ms: u64,
    pub wave: String,
    pub step: Option<Step>,
    /// The check whose figures `text` is (a wait's look).
    #[serde(default)]
    pub check: Option<Check>,
    pub text: String,
}

impl Said {
    pub fn new(
        wave: &str,
        at: SystemTime,
        elapsed: std::time::Duration,
        step: Option<Step>,
        check: Option<Check>,
        text: &str,
    ) -> Said {
        let at_ms = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Said {
            at_ms,
            elapsed_ms: elapsed.as_millis() as u64,
            wave: wave.to_string(),
            step,
            check,
            text: text.to_string(),
        }
    }

    pub fn at(&self) -> SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.at_ms.max(0) as u64)
    }

    /// As a terminal shows it: "02:53:30Z T+11s w1: drain: <check>: <figures>".
    pub fn line(&self) -> String {
        let clock = crate::model::groups::clock(self.at());
        let t = crate::model::short_duration(std::time::Duration::from_millis(self.elapsed_ms));
        let step = self.step.map_or(String::new(), |s| format!("{}: ", s.name()));
        let check = self.check.map_or(String::new(), |c| format!("{}: ", c.label()));
        format!("{clock} T+{t} {}: {step}{check}{}", self.wave, self.text)
    }

    /// What this says about `step` (a check's figures, a hook's output line), if it is about it.
    pub fn about(&self, step: Step) -> Option<&str> {
        (self.step == Some(step)).then_some(self.text.as_str())
    }
}

/// A failed step is offered a retry (or a skip) once per drive, and only when it had failed
/// before the drive began: one that fails during the drive stops it, so `--yes` never loops.
pub fn may_offer_retry(failed_before: bool, offered_already: bool, dry_run: bool) -> bool {
    failed_before && !offered_already && !dry_run
}

/// How many times a transient error is tried in all, and the first wait (doubled each time).
pub const TRIES: u32 = 5;
const FIRST_BACKOFF: std::time::Duration = std::time::Duration::from_millis(500);

/// After a failed try `attempt` (0: the first): how long to wait before trying again, or None
/// to stop (a permanent error, or the tries are used up).
pub fn backoff(retryable: bool, attempt: u32) -> Option<std::time::Duration> {
    (retryable && attempt + 1 < TRIES).then(|| FIRST_BACKOFF * 2u32.pow(attempt))
}

/// The cluster a commit action writes to.
pub fn commit_side(action: Action) -> Side {
    match action {
        Action::CommitBack => Side::Source,
        _ => Side::Target,
    }
}

pub fn side_name(side: Side) -> &'static str {
    match side {
        Side::Source => "the source",
        Side::Target => "the target",
    }
}

/// The commit question, without its step.
pub fn commit_question(side: Side) -> &'static str {
    match side {
        Side::Target => "commit these offsets on the target",
        Side::Source => "commit these offsets back on the source",
    }
}

/// The wave's topics and groups as the clusters show them when it starts, and what the
/// start's confirmation says about them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    pub topics: Vec<String>,
    pub groups: Vec<String>,
    /// Readers of the wave's topics that stay on the source by the plan, and what they miss.
    pub left_behind: Vec<String>,
    /// Partition ranges written on the target only during earlier runs of the wave's topics.
    pub target_only_ranges: usize,
}

/// What the start's confirmation shows. `again`: the wave was rolled back (when, if known)
/// and runs again from its start.
pub fn start_details(wave: &Wave, found: &Resolved, again: Option<Option<SystemTime>>, dry_run: bool) -> Vec<String> {
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(", ")
        }
    };
    let mut details = vec![
        format!("strategy {}", wave.strategy.name()),
        format!("topics: {}", list(&found.topics)),
        format!("groups: {}", list(&found.groups)),
    ];
    details.extend(found.left_behind.iter().cloned());
    details.extend(forward_steps(wave.strategy).iter().map(|s| format!("  {}", s.name())));
    if let Some(at) = again {
        let at = at.map_or(String::new(), |at| format!(" at {}", crate::model::groups::clock(at)));
        details.push(format!("it was rolled back{at}: it runs again from its start"));
        if found.target_only_ranges > 0 {
            details.push(format!(
                "{} partition range(s) written on the target only during earlier runs are explained: validation, lag and translation step over them",
                found.target_only_ranges
            ));
        }
    }
    if dry_run {
        details.push("DRY RUN: no hook runs, nothing is committed".into());
    }
    details
}

/// The rollback's report: each partition's records written on the target only.
pub fn target_only_report(ranges: &[crate::model::target_only::TargetOnlyRange]) -> Vec<String> {
    if ranges.is_empty() {
        return vec!["no record was written on the target only".into()];
    }
    ranges
        .iter()
        .map(|r| match r.to {
            Some(to) => format!(
                "{}/{}: {} record(s) at target offsets {}..{to} exist on the target only (never on the source)",
                r.topic,
                r.partition,
                to - r.from,
                r.from
            ),
            None => format!(
                "{}/{}: records from target offset {} on exist on the target only",
                r.topic, r.partition, r.from
            ),
        })
        .collect()
}

/// The hook's command line for an action, if it is a configured hook.
pub fn hook_command(wave: &Wave, action: Action) -> Option<&str> {
    match action {
        Action::Hook(h) => h.command(&wave.hooks),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::config::Criteria;

    fn wave(strategy: Strategy, confirm: ConfirmMode) -> Wave {
        Wave {
            name: "w1".into(),
            topics: vec![regex::Regex::new("^orders$").unwrap()],
            groups: vec![],
            leave_groups: vec![],
            wait_timeouts: Default::default(),
            strategy,
            confirm,
            hooks: Hooks {
                freeze_producers: Some("f".into()),
                stop_consumers: Some("s".into()),
                flip_consumers: Some("fc".into()),
                flip_producers: Some("fp".into()),
                rollback_freeze_producers: Some("rf".into()),
                rollback_stop_consumers: Some("rs".into()),
                rollback_flip_consumers: Some("rfc".into()),
                rollback_flip_producers: Some("rfp".into()),
            },
            criteria: Criteria::default(),
        }
    }

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
    }

    fn started(w: &Wave) -> WaveState {
        let mut s = WaveState::new(w);
        s.apply(
            t(0),
            &Event::WaveStarted {
                strategy: w.strategy,
                topics: vec!["orders".into()],
                groups: vec!["billing".into()],
            },
        );
        s
    }

    /// Drives the wave to its end, each action succeeding; returns the actions in order.
    fn run_all(w: &Wave, s: &mut WaveState) -> Vec<(Step, Action)> {
        let mut done = Vec::new();
        for i in 0..100 {
            match next(s, w) {
                Next::Run { step, action, again } => {
                    assert!(!again);
                    s.apply(
                        t(i),
                        &Event::ActionStarted {
                            step,
                            action,
                            detail: String::new(),
                        },
                    );
                    s.apply(
                        t(i),
                        &Event::ActionDone {
                            step,
                            action,
                            detail: String::new(),
                            output: vec![],
                        },
                    );
                    done.push((step, action));
                }
                Next::Finished(_) => return done,
                other => panic!("unexpected {other:?}"),
            }
        }
        panic!("did not finish")
    }

    #[test]
    fn stop_the_world_runs_in_the_seeds_order() {
        let w = wave(Strategy::StopTheWorld, ConfirmMode::EachStep);
        let mut s = WaveState::new(&w);
        assert_eq!(next(&s, &w), Next::Start);
        s = started(&w);
        let order = run_all(&w, &mut s);
        use Action::*;
        assert_eq!(
            order,
            vec![
                (Step::Preflight, Wait(Check::Preflight)),
                (Step::FreezeProducers, Hook(super::Hook::FreezeProducers)),
                (Step::FreezeProducers, Wait(Check::SourceFrozen)),
                (Step::Drain, Wait(Check::Drained)),
                (Step::FinalParity, Wait(Check::FinalParity)),
                (Step::StopConsumers, Hook(super::Hook::StopConsumers)),
                (Step::StopConsumers, Wait(Check::GroupsEmptyOnSource)),
                (Step::CommitOffsets, Commit),
                (Step::FlipConsumers, Hook(super::Hook::FlipConsumers)),
                (Step::FlipConsumers, Wait(Check::GroupsStableOnTarget)),
                (Step::FlipProducers, Hook(super::Hook::FlipProducers)),
                (Step::FlipProducers, Wait(Check::WritesOnTarget)),
            ]
        );
        assert_eq!(next(&s, &w), Next::Finished(Finish::Done));
        assert!(forward_steps(w.strategy)
            .iter()
            .all(|st| s.status(*st, &w.hooks) == StepStatus::Done));
    }

    #[test]
    fn consumers_first_moves_consumers_before_producers() {
        let w = wave(Strategy::ConsumersFirst, ConfirmMode::Wave);
        let mut s = started(&w);
        let steps: Vec<Step> = run_all(&w, &mut s).into_iter().map(|(s, _)| s).collect();
        let pos = |x: Step| steps.iter().position(|s| *s == x).unwrap();
        assert!(pos(Step::FlipConsumers) < pos(Step::FreezeProducers));
        assert!(pos(Step::Drain) < pos(Step::FinalParity));
        assert!(pos(Step::FinalParity) < pos(Step::FlipProducers));
        assert!(pos(Step::CommitOffsets) < pos(Step::FlipConsumers));
    }

    #[test]
    fn an_absent_hook_is_left_out_but_its_wait_runs() {
        let mut w = wave(Strategy::StopTheWorld, ConfirmMode::EachStep);
        w.hooks.freeze_producers = None;
        let mut s = started(&w);
        let order = run_all(&w, &mut s);
        assert!(!order.contains(&(Step::FreezeProducers, Action::Hook(Hook::FreezeProducers))));
        assert!(order.contains(&(Step::FreezeProducers, Action::Wait(Check::SourceFrozen))));
    }

    #[test]
    fn an_intent_without_result_is_run_again_only_knowingly() {
        let w = wave(Strategy::StopTheWorld, ConfirmMode::Wave);
        let mut s = started(&w);
        s.apply(
            t(1),
            &Event::ActionDone {
                step: Step::Preflight,
                action: Action::Wait(Check::Preflight),
                detail: String::new(),
                output: vec![],
            },
        );
        let hook = Action::Hook(Hook::FreezeProducers);
        s.apply(
            t(2),
            &Event::ActionStarted {
                step: Step::FreezeProducers,
                action: hook,
                detail: "f".into(),
            },
        );
        // A crash here: replaying the journal gives the same state, and the hook is "again".
        assert_eq!(
            next(&s, &w),
            Next::Run {
                step: Step::FreezeProducers,
                action: hook,
                again: true
            }
        );
        assert!(needs_confirmation(&w, hook, true));
        assert!(
            !needs_confirmation(&w, hook, false),
            "confirm = wave asks once, at the start"
        );
        assert!(!needs_confirmation(&w, Action::Wait(Check::Drained), true));
    }

    #[test]
    fn failure_stops_until_retry_or_skip_and_pause_holds() {
        let w = wave(Strategy::StopTheWorld, ConfirmMode::EachStep);
        let mut s = started(&w);
        let pre = Action::Wait(Check::Preflight);
        s.apply(
            t(1),
            &Event::ActionFailed {
                step: Step::Preflight,
                action: pre,
                reason: "lag 5000 over 1000".into(),
                output: vec![],
            },
        );
        assert!(matches!(
            next(&s, &w),
            Next::Stopped {
                step: Step::Preflight,
                ..
            }
        ));
        assert_eq!(
            s.status(Step::Preflight, &w.hooks),
            StepStatus::Failed("lag 5000 over 1000".into())
        );
        s.apply(t(2), &Event::Retry { step: Step::Preflight });
        assert_eq!(
            next(&s, &w),
            Next::Run {
                step: Step::Preflight,
                action: pre,
                again: false
            }
        );
        s.apply(t(3), &Event::Paused);
        assert_eq!(next(&s, &w), Next::Paused);
        s.apply(t(4), &Event::Resumed);
        s.apply(
            t(5),
            &Event::Skipped {
                step: Step::Preflight,
                reason: "typed".into(),
            },
        );
        assert!(matches!(
            next(&s, &w),
            Next::Run {
                step: Step::FreezeProducers,
                ..
            }
        ));
    }

    #[test]
    fn rollback_undoes_the_steps_that_began_newest_first() {
        let w = wave(Strategy::StopTheWorld, ConfirmMode::EachStep);
        let mut s = started(&w);
        // Done up to the commit; flip_consumers' hook started and failed.
        for i in 0..20 {
            let Next::Run { step, action, .. } = next(&s, &w) else {
                panic!()
            };
            s.apply(
                t(i),
                &Event::ActionStarted {
                    step,
                    action,
                    detail: String::new(),
                },
            );
            if step == Step::FlipConsumers {
                s.apply(
                    t(i),
                    &Event::ActionFailed {
                        step,
                        action,
                        reason: "exit 1".into(),
                        output: vec!["boom".into()],
                    },
                );
                break;
            }
            s.apply(
                t(i),
                &Event::ActionDone {
                    step,
                    action,
                    detail: String::new(),
                    output: vec![],
                },
            );
        }
        let plan = s.rollback_plan();
        assert_eq!(
            plan,
            vec![
                Step::UndoFlipConsumers,
                Step::UndoCommitOffsets,
                Step::UndoStopConsumers,
                Step::UndoFreezeProducers
            ]
        );
        s.apply(t(30), &Event::RollbackStarted { steps: plan });
        let order: Vec<(Step, Action)> = run_all(&w, &mut s);
        assert_eq!(
            order[0],
            (Step::UndoFlipConsumers, Action::Hook(Hook::RollbackFlipConsumers))
        );
        assert_eq!(order[2], (Step::UndoCommitOffsets, Action::CommitBack));
        assert_eq!(
            *order.last().unwrap(),
            (Step::UndoFreezeProducers, Action::Hook(Hook::RollbackFreezeProducers))
        );
        assert_eq!(next(&s, &w), Next::Finished(Finish::RolledBack));
    }

    #[test]
    fn every_wait_has_a_config_key() {
        let keys: Vec<&str> = Check::ALL.iter().map(|c| c.key()).collect();
        assert_eq!(keys, crate::config::WAIT_KEYS.to_vec());
    }

    #[test]
    fn events_survive_json() {
        let e = Event::ActionStarted {
            step: Step::FlipConsumers,
            action: Action::Hook(Hook::FlipConsumers),
            detail: "systemctl start x".into(),
        };
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.contains("\"event\":\"action_started\""), "{text}");
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), e);
    }
}
