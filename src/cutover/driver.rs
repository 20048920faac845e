//! The driver: performs what the engine says a wave needs, against the clusters, and journals
//! every intent before and every result after. `cutover run` drives it from a terminal; the
//! cockpit will drive the same one. Everything it asks a person goes through `Operator`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use super::checks::{self, Answer, Ends, Settle};
use super::engine::{self, Action, Check, Event, Finish, Next, OffsetMove, Side, Step, WaveState};
use super::hooks::{self, HookEnv};
use super::journal::{self, Journal};
use crate::config::{Config, Wave};
use crate::kafka::write::{OffsetChange, OffsetWriter, WritePermission};
use crate::model::verdict::Verdict;
use crate::model::Snapshot;

/// The person (or `--yes`) the driver asks.
pub trait Operator {
    /// A typed confirmation: true only if the person typed `expected`.
    fn typed(&mut self, question: &str, details: &[String], expected: &str) -> bool;
    /// A y/N question; No is the default.
    fn yes_no(&mut self, question: &str, details: &[String]) -> bool;
    /// A line of progress.
    fn say(&mut self, line: &str);
}

/// How a drive ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Finished(Finish),
    /// A step failed; the wave waits (retry, rollback or skip).
    Stopped {
        step: Step,
        reason: String,
    },
    /// The person said no (nothing was done for that step).
    Declined {
        step: Step,
    },
    /// A dry run went through every step.
    DryRunDone,
    /// Paused on request: no new step starts until it is resumed.
    Paused,
}

/// A fresh look at both clusters, polled after the call began.
pub type Observe<'a> = dyn FnMut() -> Result<Snapshot, String> + 'a;

/// One group's commit: the offsets to write on one cluster. It is what the engineer is shown
/// and confirms, and exactly what is written, unless its basis moved (then they are asked
/// again).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCommit {
    pub group: String,
    pub moves: Vec<OffsetMove>,
    /// Per move: what flipping on MM2's checkpoint instead would cost ("+3 duplicates").
    pub checkpoint_costs: Vec<String>,
    /// What the moves were computed from: the group's committed offsets on the cluster read
    /// (the source for the forward commit, the target for the commit back).
    pub basis: BTreeMap<(String, i32), i64>,
}

/// What moved between the basis a plan was computed from and the offsets now, one line each.
fn basis_moved(group: &str, then: &BTreeMap<(String, i32), i64>, now: &BTreeMap<(String, i32), i64>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&(String, i32)> = then.keys().chain(now.keys()).collect();
    keys.into_iter()
        .filter(|k| then.get(*k) != now.get(*k))
        .map(|(t, p)| {
            let show = |v: Option<&i64>| v.map_or("none".to_string(), |o| o.to_string());
            format!(
                "{group} {t}/{p}: {} -> {}",
                show(then.get(&(t.clone(), *p))),
                show(now.get(&(t.clone(), *p)))
            )
        })
        .collect()
}

/// A group's moves as shown: "orders/0 none -> 57 (source 52; on MM2's checkpoint: +3 duplicates)".
fn group_lines(c: &GroupCommit, side: Side) -> Vec<String> {
    c.moves
        .iter()
        .zip(&c.checkpoint_costs)
        .map(|(m, cost)| {
            let from = match side {
                Side::Target => format!("source offset {}; on MM2's checkpoint: {cost}", m.from),
                Side::Source => format!("target offset {}", m.from),
            };
            format!(
                "{}/{} {} -> {} ({from})",
                m.topic,
                m.partition,
                m.old.map_or("none".into(), |o| o.to_string()),
                m.new
            )
        })
        .collect()
}

/// A plan as the question shows it: a summary line, then every partition (the prompt scrolls).
fn plan_lines(plan: &[GroupCommit], side: Side) -> Vec<String> {
    let partitions: usize = plan.iter().map(|c| c.moves.len()).sum();
    let unchanged: usize = plan
        .iter()
        .flat_map(|c| &c.moves)
        .filter(|m| m.old == Some(m.new))
        .count();
    let mut lines = vec![format!(
        "{} group(s), {partitions} partition(s), {unchanged} already at their offset",
        plan.len()
    )];
    for c in plan {
        lines.extend(group_lines(c, side).into_iter().map(|l| format!("{} {l}", c.group)));
    }
    lines
}

pub struct Driver<'a> {
    pub config: &'a Config,
    pub wave: &'a Wave,
    journal: Journal,
    state: WaveState,
    dry_run: bool,
    permission: Option<WritePermission>,
    observe: Box<Observe<'a>>,
    /// Between polls of a wait.
    pub poll_every: Duration,
    wave_started: Instant,
    /// The source ends frozen, and the target ends at the flip (for WritesOnTarget).
    baseline: Option<(Ends, Ends)>,
    /// How far the wave's partitions were validated (preflight, then the final parity's tail).
    validated: crate::validate::run::Progress,
    /// Set by the cockpit's `p`: the drive pauses before the next action and interrupts waits.
    pub pause: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The commit plan the engineer was shown, until it is written.
    confirmed: Option<Vec<GroupCommit>>,
}

fn dry(entries: &[journal::Entry], wave: &Wave) -> WaveState {
    journal::wave_state(entries, wave)
}

impl<'a> Driver<'a> {
    /// Opens the wave's journal as its one driver (Err: someone else drives, or I/O).
    pub fn new(
        config: &'a Config,
        wave: &'a Wave,
        dry_run: bool,
        observe: Box<Observe<'a>>,
    ) -> Result<Driver<'a>, String> {
        let path = config.cutover.journal_path(&config.source.name, &config.target.name);
        let journal = Journal::open(&path, dry_run).map_err(|e| e.to_string())?;
        let entries = journal::read(&path)?;
        let state = if dry_run {
            // A dry run walks the whole wave from its start, whatever the journal says.
            WaveState::new(wave)
        } else {
            dry(&entries, wave)
        };
        Ok(Driver {
            config,
            wave,
            journal,
            state,
            dry_run,
            permission: WritePermission::grant(!dry_run),
            observe,
            poll_every: Duration::from_millis(500).min(config.monitor.refresh_interval),
            wave_started: Instant::now(),
            baseline: None,
            validated: Default::default(),
            pause: Default::default(),
            confirmed: None,
        })
    }

    pub fn state(&self) -> &WaveState {
        &self.state
    }

    pub fn journal_path(&self) -> &std::path::Path {
        self.journal.path()
    }

    fn pause_requested(&self) -> bool {
        self.pause.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn record(&mut self, event: Event) -> Result<(), String> {
        let entry = self.journal.append(&self.wave.name, event)?;
        self.state.apply(entry.time(), &entry.event);
        Ok(())
    }

    /// The action failed: said, and journaled as the step's failure (the wave stops there).
    fn fail(&mut self, op: &mut dyn Operator, step: Step, action: Action, reason: String) -> Result<(), String> {
        self.say(op, Some(step), &format!("FAILED: {reason}"));
        self.record(Event::ActionFailed {
            step,
            action,
            reason,
            output: vec![],
        })
    }

    fn say(&self, op: &mut dyn Operator, step: Option<Step>, text: &str) {
        let t = crate::model::short_duration(self.wave_started.elapsed());
        let clock = crate::model::groups::clock(SystemTime::now());
        let step = step.map_or(String::new(), |s| format!("{}: ", s.name()));
        let line = format!("{clock} T+{t} {}: {step}{text}", self.wave.name);
        self.journal.say_live(&line);
        op.say(&line);
    }

    /// Drives the wave until it finishes, stops, or the person declines.
    pub fn drive(&mut self, op: &mut dyn Operator) -> Result<Outcome, String> {
        // A failure found when the drive begins is offered a retry; one that happens during
        // this drive stops it (so `--yes` never loops on a failing step).
        let failed_before = matches!(engine::next(&self.state, self.wave), Next::Stopped { .. });
        let mut offered_retry = false;
        // A wave that was rolled back runs again from its start, as a new run (confirmed as a
        // start is).
        if !self.dry_run && self.state.rolled_back(self.wave) && !self.start(op)? {
            return Ok(Outcome::Declined { step: Step::Preflight });
        }
        if self.state.paused && !self.dry_run {
            self.say(op, None, "resumed");
            self.record(Event::Resumed)?;
        }
        loop {
            let next = engine::next(&self.state, self.wave);
            if self.pause_requested() && matches!(next, Next::Run { .. }) {
                if !self.dry_run {
                    self.record(Event::Paused)?;
                }
                self.say(op, None, "paused: no new step starts until it is resumed");
                return Ok(Outcome::Paused);
            }
            match next {
                Next::Start => {
                    if !self.start(op)? {
                        return Ok(Outcome::Declined { step: Step::Preflight });
                    }
                }
                Next::Paused => {
                    self.say(op, None, "resumed");
                    self.record(Event::Resumed)?;
                }
                Next::Stopped { step, reason, .. } => {
                    let question = format!("{} failed: {reason}. Retry it?", step.name());
                    let may_offer = failed_before && !offered_retry && !self.dry_run;
                    offered_retry = true;
                    if may_offer && op.yes_no(&question, &self.failure_details(step)) {
                        self.record(Event::Confirmed {
                            what: format!("retry {}", step.name()),
                            details: vec![],
                        })?;
                        self.record(Event::Retry { step })?;
                        continue;
                    }
                    let skip = format!(
                        "Skip {} instead? What it has not done stays undone: only if you did it by hand. \
                         Type `skip` to skip it",
                        step.name()
                    );
                    if may_offer && op.typed(&skip, std::slice::from_ref(&reason), "skip") {
                        self.record(Event::Confirmed {
                            what: format!("skip {} ({reason})", step.name()),
                            details: vec![],
                        })?;
                        self.record(Event::Skipped {
                            step,
                            reason: format!("skipped by {} after: {reason}", self.journal.by()),
                        })?;
                        continue;
                    }
                    return Ok(Outcome::Stopped { step, reason });
                }
                Next::Finished(f) => {
                    if self.dry_run {
                        return Ok(Outcome::DryRunDone);
                    }
                    if f == Finish::RolledBack {
                        self.report_target_only(op);
                    }
                    self.say(
                        op,
                        None,
                        if f == Finish::Done {
                            "wave done"
                        } else {
                            "wave rolled back"
                        },
                    );
                    return Ok(Outcome::Finished(f));
                }
                Next::Run { step, action, again } => {
                    if !self.dry_run && engine::needs_confirmation(self.wave, action, again) {
                        let (question, details) = self.describe(step, action, again)?;
                        if !op.yes_no(&question, &details) {
                            return Ok(Outcome::Declined { step });
                        }
                        self.record(Event::Confirmed {
                            what: question,
                            details,
                        })?;
                    }
                    self.perform(op, step, action)?;
                }
            }
        }
    }

    fn failure_details(&self, step: Step) -> Vec<String> {
        self.state
            .actions
            .iter()
            .filter(|((s, _), _)| *s == step)
            .flat_map(|(_, a)| match a {
                engine::ActionState::Failed { output, .. } => output.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// Starts the wave: resolves its topics and groups now, and takes the typed confirmation.
    fn start(&mut self, op: &mut dyn Operator) -> Result<bool, String> {
        let snap = (self.observe)()?;
        let topics = checks::wave_topics(&snap, self.wave);
        let groups = checks::wave_groups(&snap, self.wave);
        let mut details = vec![
            format!("strategy {}", self.wave.strategy.name()),
            format!(
                "topics: {}",
                if topics.is_empty() {
                    "(none)".into()
                } else {
                    topics.join(", ")
                }
            ),
            format!(
                "groups: {}",
                if groups.is_empty() {
                    "(none)".into()
                } else {
                    groups.join(", ")
                }
            ),
        ];
        // Readers of the wave's topics that stay on the source by the plan, and what they miss.
        details.extend(checks::left_behind(&snap, self.wave, &topics, &groups).unwrap_or_default());
        details.extend(
            engine::forward_steps(self.wave.strategy)
                .iter()
                .map(|s| format!("  {}", s.name())),
        );
        let again = self.state.rolled_back(self.wave);
        if again {
            details.push(format!(
                "it was rolled back{}: it runs again from its start",
                self.state
                    .rolled_back_at(&self.wave.hooks)
                    .map_or(String::new(), |at| format!(" at {}", crate::model::groups::clock(at)))
            ));
            let explained = snap
                .target_only
                .all()
                .filter(|r| {
                    self.state
                        .topics
                        .iter()
                        .any(|t| self.config.replication.target_topic(t) == r.topic)
                })
                .count();
            if explained > 0 {
                details.push(format!(
                    "{explained} partition range(s) written on the target only during earlier runs are explained: validation, lag and translation step over them"
                ));
            }
        }
        if self.dry_run {
            details.push("DRY RUN: no hook runs, nothing is committed".into());
        } else {
            let question = if again {
                format!("Start wave {} again? Type its name to confirm", self.wave.name)
            } else {
                format!("Start wave {}? Type its name to confirm", self.wave.name)
            };
            if !op.typed(&question, &details, &self.wave.name) {
                return Ok(false);
            }
            self.record(Event::Confirmed {
                what: format!("start wave {}", self.wave.name),
                details: vec![],
            })?;
        }
        for d in &details {
            self.say(op, None, d);
        }
        self.wave_started = Instant::now();
        self.record(Event::WaveStarted {
            strategy: self.wave.strategy,
            topics,
            groups,
        })?;
        Ok(true)
    }

    fn hook_env(&self, step: &str) -> HookEnv {
        HookEnv {
            wave: self.wave.name.clone(),
            step: step.to_string(),
            topics: self.state.topics.clone(),
            target_topics: self
                .state
                .topics
                .iter()
                .map(|t| self.config.replication.target_topic(t))
                .collect(),
            groups: self.state.groups.clone(),
            source_bootstrap: self.config.source.bootstrap.clone(),
            target_bootstrap: self.config.target.bootstrap.clone(),
        }
    }

    /// The question and what exactly will be done, for a confirmation.
    fn describe(&mut self, step: Step, action: Action, again: bool) -> Result<(String, Vec<String>), String> {
        let again_note = if again {
            " (it was started before the cockpit stopped; hooks are safe to run twice)"
        } else {
            ""
        };
        Ok(match action {
            Action::Hook(h) => (
                format!("{}: run the hook {}{again_note}?", step.name(), h.key()),
                vec![format!(
                    "sh -c {}",
                    engine::hook_command(self.wave, action).unwrap_or("")
                )],
            ),
            Action::Commit | Action::CommitBack => {
                // The plan shown is the plan written (re-checked against its basis then).
                let (side, question) = match action {
                    Action::Commit => (Side::Target, "commit these offsets on the target"),
                    _ => (Side::Source, "commit these offsets back on the source"),
                };
                let plan = self.plan_for(side)?;
                let lines = plan_lines(&plan, side);
                self.confirmed = Some(plan);
                (format!("{}: {question}{again_note}?", step.name()), lines)
            }
            Action::Wait(c) => (c.label().to_string(), vec![]),
        })
    }

    fn perform(&mut self, op: &mut dyn Operator, step: Step, action: Action) -> Result<(), String> {
        // Before the producers may write to the target: where its records stop being copies.
        if step == Step::FlipProducers && self.state.target_writes_began.is_none() && !self.dry_run {
            match self.target_ends() {
                Ok(ends) => self.record(Event::TargetWritesBegan { ends })?,
                Err(e) => {
                    let reason = format!("the target's end offsets could not be read before the flip: {e}");
                    self.record(Event::ActionStarted {
                        step,
                        action,
                        detail: action.label(),
                    })?;
                    return self.fail(op, step, action, reason);
                }
            }
        }
        let detail = match action {
            Action::Hook(_) => engine::hook_command(self.wave, action).unwrap_or("").to_string(),
            _ => action.label(),
        };
        self.record(Event::ActionStarted { step, action, detail })?;
        match action {
            Action::Hook(h) => self.run_hook(op, step, action, h),
            Action::Wait(check) => self.wait(op, step, action, check),
            Action::Commit => self.commit(op, step, action, Side::Target),
            Action::CommitBack => self.commit(op, step, action, Side::Source),
        }
    }

    /// After the wave is done: watches the rollback criteria for `rollback_after` (seed 004).
    /// Returns the breach, if one happens; None when the window passed or nothing is set.
    pub fn watch_after_done(&mut self, op: &mut dyn Operator) -> Result<Option<String>, String> {
        if self.wave.criteria.rollback_if_target_group_lag_over.is_none() || self.dry_run {
            return Ok(None);
        }
        self.say(
            op,
            None,
            &format!(
                "watching the rollback criteria for {}",
                humantime::format_duration(self.wave.criteria.rollback_after)
            ),
        );
        let (_, done_at) = self.state.step_times(Step::FlipProducers, &self.wave.hooks);
        let until = done_at.unwrap_or_else(SystemTime::now) + self.wave.criteria.rollback_after;
        while SystemTime::now() < until {
            if let Ok(snap) = (self.observe)() {
                if let Some(breach) =
                    checks::rollback_breach(&snap, self.config, self.wave, &self.state, SystemTime::now())
                {
                    self.say(op, None, &breach);
                    return Ok(Some(breach));
                }
            }
            std::thread::sleep(self.poll_every);
        }
        self.say(op, None, "rollback criteria held for the whole window");
        Ok(None)
    }

    /// Starts rolling the wave back by itself: the criteria decided in advance were breached
    /// and the plan says `auto_rollback = true`.
    pub fn start_auto_rollback(&mut self, op: &mut dyn Operator, breach: &str) -> Result<(), String> {
        self.record(Event::Confirmed {
            what: format!("automatic rollback (auto_rollback = true): {breach}"),
            details: vec![],
        })?;
        self.say(op, None, &format!("rolling back by itself: {breach}"));
        let plan = self.state.rollback_plan();
        self.record(Event::RollbackStarted { steps: plan })
    }

    /// Starts rolling the wave back: undoes the steps that began, newest first.
    pub fn start_rollback(&mut self, op: &mut dyn Operator) -> Result<bool, String> {
        let plan = self.state.rollback_plan();
        let mut details: Vec<String> = plan.iter().map(|s| format!("  {}", s.name())).collect();
        if self.state.touched(Step::FlipProducers) {
            details.extend(self.written_on_target_only()?);
        }
        let question = format!("Roll wave {} back? Type its name to confirm", self.wave.name);
        if !op.typed(&question, &details, &self.wave.name) {
            return Ok(false);
        }
        self.record(Event::Confirmed {
            what: format!("roll back wave {}", self.wave.name),
            details: vec![],
        })?;
        self.say(op, None, "rolling back");
        self.record(Event::RollbackStarted { steps: plan })?;
        Ok(true)
    }

    /// Records written to the target only (after flip_producers), per topic, for the rollback
    /// dialog: they are processed on the target before the groups go back.
    fn written_on_target_only(&mut self) -> Result<Vec<String>, String> {
        let Some(began) = self.state.target_writes_began.clone() else {
            return Ok(vec!["no record was written to the target only".into()]);
        };
        let now = self.target_ends()?;
        let mut per_topic: BTreeMap<String, i64> = BTreeMap::new();
        for range in engine::target_only_ranges(&self.wave.name, &began, Some(&now), 0, None) {
            *per_topic.entry(range.topic.clone()).or_default() += range.records().unwrap_or(0);
        }
        Ok(if per_topic.is_empty() {
            vec!["no record was written to the target only".into()]
        } else {
            per_topic
                .iter()
                .map(|(t, n)| {
                    format!("{n} record(s) on {t} exist only on the target: the target groups process them before they move back")
                })
                .collect()
        })
    }

    /// The target's end offsets of the wave's topics, polled now, as journaled.
    fn target_ends(&mut self) -> Result<Vec<engine::PartitionEnd>, String> {
        let snap = (self.observe)()?;
        target_ends_of(&snap, self.config, &self.state.topics)
    }

    /// The rollback's report: each partition's records written on the target only, which the
    /// source never had (for the application's owners and the readers of the source).
    fn report_target_only(&self, op: &mut dyn Operator) {
        let ranges = self.state.target_only_ranges();
        if ranges.is_empty() {
            self.say(op, None, "no record was written on the target only");
            return;
        }
        for r in ranges {
            let line = match r.to {
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
            };
            self.say(op, None, &line);
        }
    }

    fn run_hook(
        &mut self,
        op: &mut dyn Operator,
        step: Step,
        action: Action,
        hook: engine::Hook,
    ) -> Result<(), String> {
        let command = hook.command(&self.wave.hooks).unwrap_or("").to_string();
        if self.dry_run {
            self.say(
                op,
                Some(step),
                &format!("would run the hook {}: sh -c {command}", hook.key()),
            );
            return self.record(Event::ActionDone {
                step,
                action,
                detail: "dry run: not run".into(),
                output: vec![],
            });
        }
        self.say(op, Some(step), &format!("running the hook {}: {command}", hook.key()));
        let timeout = self.config.cutover.hook_timeout;
        let run = hooks::run(&command, &self.hook_env(hook.key()), timeout)?;
        for line in &run.output {
            self.say(op, Some(step), &format!("  | {line}"));
        }
        match run.failure(timeout) {
            None => {
                self.say(op, Some(step), &format!("hook {} done in {:.1?}", hook.key(), run.took));
                self.record(Event::ActionDone {
                    step,
                    action,
                    detail: format!("exit 0 in {:.1?}", run.took),
                    output: run.output,
                })
            }
            Some(reason) => {
                self.say(op, Some(step), &format!("hook {} FAILED: {reason}", hook.key()));
                self.record(Event::ActionFailed {
                    step,
                    action,
                    reason: format!("hook {}: {reason}", hook.key()),
                    output: run.output,
                })
            }
        }
    }

    /// Polls until the check is met (or fails). A dry run looks once and goes on.
    fn wait(&mut self, op: &mut dyn Operator, step: Step, action: Action, check: Check) -> Result<(), String> {
        let mut settle = Settle::default();
        let mut last_said = String::new();
        let deadline = check.deadline(self.wave, self.config.cutover.wait_timeout);
        let began = Instant::now();
        loop {
            let (answer, snap) = match (self.observe)() {
                Ok(snap) => (self.evaluate(check, &snap, &mut settle), Some(snap)),
                Err(e) => (Answer::NotYet(format!("the clusters could not be polled: {e}")), None),
            };
            let (done, text) = match &answer {
                Answer::Met(t) => (true, t.clone()),
                Answer::NotYet(t) => (false, t.clone()),
                Answer::Failed(t) => (true, t.clone()),
            };
            if self.dry_run {
                let verb = match answer {
                    Answer::Met(_) => "met now",
                    Answer::NotYet(_) => "would wait; now",
                    Answer::Failed(_) => "would FAIL now",
                };
                self.say(op, Some(step), &format!("{}: {verb}: {text}", check.label()));
                return self.record(Event::ActionDone {
                    step,
                    action,
                    detail: format!("dry run: {verb}: {text}"),
                    output: vec![],
                });
            }
            if text != last_said {
                self.say(op, Some(step), &format!("{}: {text}", check.label()));
                last_said = text.clone();
            }
            if !done && began.elapsed() >= deadline {
                // Never a silent wait: past its deadline the wave stops, with what it waited
                // for and the last figures, and offers a retry or a rollback.
                let reason = format!(
                    "waited {} for: {} (wait_timeout); last: {text}",
                    humantime::format_duration(deadline),
                    check.label()
                );
                return self.fail(op, step, action, reason);
            }
            if !done && self.pause_requested() {
                // A wait is interrupted: its intent stays journaled, and it is checked again
                // when the wave resumes.
                return Ok(());
            }
            // Writes to the target stopped and the groups processed them: the target's ends
            // now close the target-only ranges.
            if let (Answer::Met(_), Check::TargetGroupsCaughtUp, Some(snap)) = (&answer, check, &snap) {
                if self.state.target_writes_began.is_some() && self.state.target_writes_stopped.is_none() {
                    let ends = target_ends_of(snap, self.config, &self.state.topics)?;
                    self.record(Event::TargetWritesStopped { ends })?;
                }
            }
            if done {
                return self.record(match answer {
                    Answer::Met(detail) => Event::ActionDone {
                        step,
                        action,
                        detail,
                        output: vec![],
                    },
                    _ => Event::ActionFailed {
                        step,
                        action,
                        reason: text,
                        output: vec![],
                    },
                });
            }
            std::thread::sleep(self.poll_every);
        }
    }

    fn evaluate(&mut self, check: Check, snap: &Snapshot, settle: &mut Settle) -> Answer {
        let topics = self.state.topics.clone();
        // Permanent: waiting cannot bring a deleted topic back (the preflight checks topics
        // on its own). Anything else that fails to be read is retried at the next poll.
        if check != Check::Preflight {
            if let Some(gone) = checks::topic_gone(snap, self.config, &topics) {
                return Answer::Failed(format!("{gone}: the wave cannot go on"));
            }
        }
        let groups = self.state.groups.clone();
        let config = self.config;
        let mut attempt = || -> Result<Answer, String> {
            Ok(match check {
                Check::Preflight => {
                    let rows = validate_rows(config, snap, &topics, Some(&mut self.validated))?;
                    let results =
                        checks::preflight(snap, config, self.wave, &topics, &groups, &rows, SystemTime::now());
                    let failed: Vec<String> = results
                        .iter()
                        .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
                        .collect();
                    let all: Vec<String> = results
                        .iter()
                        .map(|(name, r)| match r {
                            Ok(m) => format!("{name}: ok, {m}"),
                            Err(e) => format!("{name}: NO, {e}"),
                        })
                        .collect();
                    if failed.is_empty() {
                        Answer::Met(all.join("; "))
                    } else {
                        Answer::Failed(failed.join("; "))
                    }
                }
                Check::SourceFrozen => {
                    let ends = checks::ends(snap, config, &topics, false)?;
                    let at = snap.source.state().map_or(SystemTime::now(), |s| s.polled_at);
                    settle.observe(ends, at, config.cutover.settle)
                }
                Check::Drained => match checks::drained(&checks::lags(snap, config, &topics)?) {
                    // Records the mapping still misses, while the target stands still: the
                    // replicator has nothing more to copy, and the final parity decides.
                    Answer::NotYet(behind) => {
                        let ends = checks::ends(snap, config, &topics, true)?;
                        let at = snap.target.state().map_or(SystemTime::now(), |s| s.polled_at);
                        match settle.observe(ends, at, config.cutover.settle) {
                            Answer::Met(still) => Answer::Met(format!(
                                "{behind}, but the target {still}: nothing more is being copied; the final parity decides"
                            )),
                            _ => Answer::NotYet(behind),
                        }
                    }
                    other => other,
                },
                Check::FinalParity => {
                    // Only what was not validated yet (all of it after a restart).
                    let rows = validate_rows(config, snap, &topics, Some(&mut self.validated))?;
                    checks::parity(&rows)
                }
                Check::GroupsEmptyOnSource => checks::groups_empty(snap, &groups, false),
                Check::GroupsEmptyOnTarget => checks::groups_empty(snap, &groups, true),
                Check::GroupsStableOnTarget => checks::groups_stable_on_target(snap, &groups),
                Check::WritesOnTarget => {
                    let source = checks::ends(snap, config, &topics, false)?;
                    let target = checks::ends(snap, config, &topics, true)?;
                    let (s0, t0) = self.baseline.get_or_insert_with(|| (source.clone(), target.clone()));
                    checks::writes_on_target(s0, &source, t0, &target)
                }
                Check::TargetGroupsCaughtUp => {
                    let target = checks::ends(snap, config, &topics, true)?;
                    let committed = groups
                        .iter()
                        .map(|g| {
                            crate::kafka::group_offsets(&config.target, g, config.monitor.request_timeout)
                                .map(|o| (g.clone(), o))
                        })
                        .collect::<Result<BTreeMap<_, _>, _>>()?;
                    checks::caught_up(&target, &committed, config)
                }
            })
        };
        attempt().unwrap_or_else(Answer::NotYet)
    }

    /// Translates every wave group's committed source offsets exactly, for the target.
    pub fn plan_commits(&mut self) -> Result<Vec<GroupCommit>, String> {
        let snap = (self.observe)()?;
        let timeout = self.config.monitor.request_timeout;
        let mut plan = Vec::new();
        for group in &self.state.groups {
            let committed = self.basis(Side::Target, group)?;
            let target_now = crate::kafka::group_offsets(&self.config.target, group, timeout)
                .map_err(|e| format!("{group}: target offsets: {e}"))?;
            let (rows, _) = crate::translate::group::translate_group(
                self.config,
                snap.mm2.as_deref(),
                group,
                &committed,
                None,
                timeout,
                &[],
                &snap.target_only,
            )?;
            let mut moves = Vec::new();
            let mut checkpoint_costs = Vec::new();
            for r in rows {
                let Some(new) = r.translation.exact() else {
                    return Err(format!(
                        "{group} {}/{}: no exact translation of {}: {}",
                        r.source_topic,
                        r.partition,
                        r.committed,
                        r.translation.outcome.describe()
                    ));
                };
                checkpoint_costs.push(crate::model::groups::flip_cost(r.checkpoint, Some(new)).label());
                moves.push(OffsetMove {
                    old: target_now.get(&(r.target_topic.clone(), r.partition)).copied(),
                    topic: r.target_topic,
                    partition: r.partition,
                    new,
                    from: r.committed,
                });
            }
            plan.push(GroupCommit {
                group: group.clone(),
                moves,
                checkpoint_costs,
                basis: committed,
            });
        }
        Ok(plan)
    }

    /// The commits back on the source: from the journaled forward commit (source S0 was target
    /// T0), a group that read on to T is walked back record by record to the source offset
    /// that holds what the target holds at T, stepping over the records written on the target
    /// only after flip_producers (the groups processed them there; the undo of the flip waited
    /// for it). With consumers-first the producers are back on the source before the groups
    /// leave the target, so a group may have read some of their new records there: the walk
    /// finds where it stopped (the source's end would skip what it has not read).
    pub fn plan_commit_back(&mut self) -> Result<Vec<GroupCommit>, String> {
        let timeout = self.config.monitor.request_timeout;
        let snap = (self.observe)()?;
        let forward: Vec<(String, Vec<OffsetMove>)> = self
            .state
            .commits
            .iter()
            .filter(|(side, _, _)| *side == Side::Target)
            .map(|(_, g, m)| (g.clone(), m.clone()))
            .collect();
        let mut plan = Vec::new();
        for (group, moves) in forward {
            let target_now = self.basis(Side::Source, &group)?;
            let source_now = crate::kafka::group_offsets(&self.config.source, &group, timeout)
                .map_err(|e| format!("{group}: source offsets: {e}"))?;
            let mut back = Vec::new();
            for m in &moves {
                let source_topic = self
                    .config
                    .replication
                    .source_topic(&m.topic)
                    .ok_or_else(|| format!("{} is not a replicated topic", m.topic))?;
                let t = target_now
                    .get(&(m.topic.clone(), m.partition))
                    .copied()
                    .unwrap_or(m.new);
                let s = if t == m.new {
                    m.from
                } else {
                    walk_back(
                        self.config,
                        &source_topic,
                        &m.topic,
                        m.partition,
                        (m.new, m.from),
                        t,
                        timeout,
                        snap.target_only.partition(&m.topic, m.partition),
                    )
                    .map_err(|e| format!("{group}: {e}"))?
                };
                back.push(OffsetMove {
                    topic: source_topic.clone(),
                    partition: m.partition,
                    old: source_now.get(&(source_topic, m.partition)).copied(),
                    new: s,
                    from: t,
                });
            }
            plan.push(GroupCommit {
                group,
                checkpoint_costs: vec![String::new(); back.len()],
                moves: back,
                basis: target_now,
            });
        }
        Ok(plan)
    }

    /// What a commit to `side` is computed from, read now: for the forward commit the group's
    /// committed source offsets on the wave's topics, for the commit back its target ones.
    fn basis(&self, side: Side, group: &str) -> Result<BTreeMap<(String, i32), i64>, String> {
        let timeout = self.config.monitor.request_timeout;
        let (cluster, topics): (_, Vec<String>) = match side {
            Side::Target => (&self.config.source, self.state.topics.clone()),
            Side::Source => (
                &self.config.target,
                self.state
                    .topics
                    .iter()
                    .map(|t| self.config.replication.target_topic(t))
                    .collect(),
            ),
        };
        Ok(crate::kafka::group_offsets(cluster, group, timeout)
            .map_err(|e| format!("{group}: committed offsets on {}: {e}", cluster.name))?
            .into_iter()
            .filter(|((t, _), _)| topics.contains(t))
            .collect())
    }

    fn plan_for(&mut self, side: Side) -> Result<Vec<GroupCommit>, String> {
        match side {
            Side::Target => self.plan_commits(),
            Side::Source => self.plan_commit_back(),
        }
    }

    /// The plan to write: the one the engineer confirmed, when what it was computed from has
    /// not moved since; else the engineer is asked again, with the difference shown (Err:
    /// the reason not to write). Without a question (confirm = "wave"), the plan of now.
    fn settled_plan(
        &mut self,
        op: &mut dyn Operator,
        step: Step,
        side: Side,
    ) -> Result<Result<Vec<GroupCommit>, String>, String> {
        let Some(confirmed) = self.confirmed.take() else {
            return Ok(self.plan_for(side));
        };
        let mut moved = Vec::new();
        for c in &confirmed {
            let now = match self.basis(side, &c.group) {
                Ok(b) => b,
                Err(e) => return Ok(Err(e)),
            };
            moved.extend(basis_moved(&c.group, &c.basis, &now));
        }
        if moved.is_empty() {
            return Ok(Ok(confirmed));
        }
        let plan = match self.plan_for(side) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let question = format!(
            "{}: the committed offsets moved since you confirmed: commit these instead?",
            step.name()
        );
        let mut details: Vec<String> = moved.iter().map(|m| format!("moved: {m}")).collect();
        details.extend(plan_lines(&plan, side));
        if !op.yes_no(&question, &details) {
            return Ok(Err(format!(
                "not confirmed again after the committed offsets moved ({}); nothing written",
                moved.join("; ")
            )));
        }
        self.record(Event::Confirmed {
            what: question,
            details,
        })?;
        Ok(Ok(plan))
    }

    /// Writes a commit plan to `side`, one group at a time: each group's offsets written,
    /// read back and journaled as written. A group already journaled in this run (before a
    /// crash) is left alone, and partitions already at their offset are not written again.
    fn commit(&mut self, op: &mut dyn Operator, step: Step, action: Action, side: Side) -> Result<(), String> {
        let plan = match self.settled_plan(op, step, side)? {
            Ok(p) => p,
            Err(reason) => {
                return self.fail(op, step, action, reason);
            }
        };
        let (cluster, where_) = match side {
            Side::Target => (&self.config.target, "the target"),
            Side::Source => (&self.config.source, "the source"),
        };
        let timeout = self.config.monitor.request_timeout;
        let mut written = 0;
        for c in plan {
            let lines = group_lines(&c, side).join(", ");
            if self.dry_run {
                self.say(
                    op,
                    Some(step),
                    &format!("would commit {} on {where_}: {lines}", c.group),
                );
                continue;
            }
            if self.state.commits.iter().any(|(s, g, _)| *s == side && *g == c.group) {
                continue;
            }
            let changes: Vec<OffsetChange> = c
                .moves
                .iter()
                .filter(|m| m.old != Some(m.new))
                .map(|m| OffsetChange {
                    topic: m.topic.clone(),
                    partition: m.partition,
                    expected: m.old,
                    new: m.new,
                })
                .collect();
            if !changes.is_empty() {
                let writer = OffsetWriter::new(
                    self.permission.as_ref().ok_or("this run may not write")?,
                    cluster,
                    timeout,
                );
                if let Err(e) = writer.commit(&c.group, &changes) {
                    let reason = format!("commit for {} on {where_}: {e}", c.group);
                    return self.fail(op, step, action, reason);
                }
            }
            written += 1;
            self.say(op, Some(step), &format!("committed {} on {where_}: {lines}", c.group));
            self.record(Event::Committed {
                side,
                group: c.group.clone(),
                offsets: c.moves.clone(),
            })?;
        }
        self.record(Event::ActionDone {
            step,
            action,
            detail: if self.dry_run {
                "dry run: nothing committed".into()
            } else {
                format!("{written} group(s) committed on {where_}, read back and equal")
            },
            output: vec![],
        })
    }
}

/// The target's end offsets of the wave's (source) `topics`, by target topic.
fn target_ends_of(snap: &Snapshot, config: &Config, topics: &[String]) -> Result<Vec<engine::PartitionEnd>, String> {
    Ok(checks::ends(snap, config, topics, true)?
        .into_iter()
        .map(|((topic, partition), offset)| engine::PartitionEnd {
            topic: config.replication.target_topic(&topic),
            partition,
            offset,
        })
        .collect())
}

/// Validates the wave's topics (from `progress` on, and moving it on), as
/// (topic, partition, verdict, records not copied yet).
fn validate_rows(
    config: &Config,
    snap: &Snapshot,
    topics: &[String],
    mut progress: Option<&mut crate::validate::run::Progress>,
) -> Result<Vec<(String, i32, Verdict, bool)>, String> {
    let mut out = Vec::new();
    for t in topics {
        let rows = crate::validate::report::validate_all(
            config,
            snap,
            Some(t),
            config.monitor.request_timeout,
            progress.as_deref_mut(),
        )?;
        out.extend(
            rows.into_iter()
                .map(|r| (r.topic, r.partition, r.result.verdict, r.result.pending)),
        );
    }
    Ok(out)
}

/// The source offset where a group that read the target from `down` (source `up`) to `at`
/// resumes on the source: the target is walked as if it were the source, and compared record by
/// record (the forward translation's walk, downstream to upstream), its records written there
/// only (`target_only`) stepped over.
#[allow(clippy::too_many_arguments)]
fn walk_back(
    config: &Config,
    source_topic: &str,
    target_topic: &str,
    partition: i32,
    (down, up): (i64, i64),
    at: i64,
    timeout: Duration,
    target_only: crate::model::target_only::PartitionRanges,
) -> Result<i64, String> {
    use crate::kafka::cursor::{KafkaCursor, Retrying, SkipTargetOnly};
    let mut target = SkipTargetOnly::new(
        Retrying::new(KafkaCursor::new(&config.target, target_topic, partition, timeout)?),
        target_only.0.to_vec(),
    );
    let mut source = Retrying::new(KafkaCursor::new(&config.source, source_topic, partition, timeout)?);
    let walked = crate::translate::walk_from_sync(&mut target, &mut source, (down, up), &[at])?;
    match walked.first().map(|(o, _)| o) {
        Some(crate::translate::Outcome::Exact { target_offset, .. }) => Ok(*target_offset),
        Some(other) => Err(format!(
            "{target_topic}/{partition} at {at}: no exact way back to the source: {}",
            other.describe()
        )),
        None => Err("nothing translated".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Strategy;

    /// Records the questions asked and answers no to every one.
    #[derive(Default)]
    struct Declining {
        asked: Vec<(String, Vec<String>)>,
    }

    impl Operator for Declining {
        fn typed(&mut self, question: &str, details: &[String], _expected: &str) -> bool {
            self.asked.push((question.into(), details.to_vec()));
            false
        }
        fn yes_no(&mut self, question: &str, details: &[String]) -> bool {
            self.asked.push((question.into(), details.to_vec()));
            false
        }
        fn say(&mut self, _line: &str) {}
    }

    /// A wave whose journal says it was rolled back is started again as a new run when driven:
    /// the start's typed confirmation says so (before, `s` on it did nothing, silently).
    #[test]
    fn a_rolled_back_wave_is_offered_a_new_run() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("w.journal");
        let text = format!(
            "[source]\nname = \"a\"\nbootstrap = \"127.0.0.1:1\"\n[target]\nname = \"b\"\nbootstrap = \"127.0.0.1:2\"\n\
             [cutover]\njournal = \"{}\"\n[[wave]]\nname = \"w1\"\ntopics = [\"orders\"]\nconfirm = \"wave\"\n\
             [wave.hooks]\nfreeze_producers = \"true\"\nrollback_freeze_producers = \"true\"\n",
            journal.display()
        );
        let config = crate::config::parse(std::path::Path::new("t.toml"), &text, &|_| None).unwrap();
        let wave = &config.waves[0];
        {
            // Started, producers frozen, then rolled back: the journal of a finished rollback.
            let mut j = Journal::open(&journal, false).unwrap();
            let events = [
                Event::WaveStarted {
                    strategy: Strategy::StopTheWorld,
                    topics: vec!["orders".into()],
                    groups: vec![],
                },
                Event::ActionStarted {
                    step: Step::Preflight,
                    action: Action::Wait(Check::Preflight),
                    detail: String::new(),
                },
                Event::ActionDone {
                    step: Step::Preflight,
                    action: Action::Wait(Check::Preflight),
                    detail: String::new(),
                    output: vec![],
                },
                Event::ActionStarted {
                    step: Step::FreezeProducers,
                    action: Action::Hook(engine::Hook::FreezeProducers),
                    detail: String::new(),
                },
                Event::ActionDone {
                    step: Step::FreezeProducers,
                    action: Action::Hook(engine::Hook::FreezeProducers),
                    detail: String::new(),
                    output: vec![],
                },
                Event::RollbackStarted {
                    steps: vec![Step::UndoFreezeProducers],
                },
                Event::ActionStarted {
                    step: Step::UndoFreezeProducers,
                    action: Action::Hook(engine::Hook::RollbackFreezeProducers),
                    detail: String::new(),
                },
                Event::ActionDone {
                    step: Step::UndoFreezeProducers,
                    action: Action::Hook(engine::Hook::RollbackFreezeProducers),
                    detail: String::new(),
                    output: vec![],
                },
            ];
            for e in events {
                j.append("w1", e).unwrap();
            }
        }
        let mut driver = Driver::new(&config, wave, false, Box::new(|| Ok(Snapshot::default()))).unwrap();
        assert!(driver.state().rolled_back(wave));
        let mut op = Declining::default();
        let outcome = driver.drive(&mut op).unwrap();
        assert_eq!(outcome, Outcome::Declined { step: Step::Preflight });
        let (question, details) = &op.asked[0];
        assert_eq!(question, "Start wave w1 again? Type its name to confirm");
        assert!(
            details.iter().any(|d| d.starts_with("it was rolled back at ")),
            "{details:?}"
        );
        // Declined: nothing journaled, the wave stays rolled back.
        assert!(driver.state().rolled_back(wave));
    }
}
