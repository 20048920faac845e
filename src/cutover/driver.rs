//! The driver: performs what the engine says a wave needs, and journals every intent before
//! and every result after. It only reads, asks, writes and journals: the decisions are the
//! pure engine's (`engine`, `checks`, `commits`), the clusters are behind `Clusters`, and
//! everything it asks a person goes through `Operator`. `cutover run` and the cockpit drive
//! the same one.

use std::time::{Duration, Instant, SystemTime};

use super::clusters::{Clusters, Live, Observe};
use super::commits::{self, GroupCommit};
use super::engine::{self, Action, Check, Event, Finish, Next, Said, Step, WaveState};
use super::handover::{self, Claim};
use super::hooks::{self, HookEnv};
use super::journal::{self, Journal};

mod commit;
mod hold;
mod rollback;
mod wait;
use crate::config::{Config, Wave};
use crate::error::{Error, Result};
use crate::jobs::CancelToken;

/// The person (or `--yes`) the driver asks.
pub trait Operator {
    /// A typed confirmation: true only if the person typed `expected`.
    fn typed(&mut self, question: &str, details: &[String], expected: &str) -> bool;
    /// A y/N question; No is the default.
    fn yes_no(&mut self, question: &str, details: &[String]) -> bool;
    /// A line of progress.
    fn say(&mut self, line: &str);
    /// Progress as data (the cockpit's view reads its fields); by default its line.
    fn told(&mut self, said: &Said) {
        self.say(&said.line());
    }
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

pub struct Driver<'a> {
    pub config: &'a Config,
    pub wave: &'a Wave,
    journal: Journal,
    state: WaveState,
    dry_run: bool,
    clusters: Box<dyn Clusters + 'a>,
    /// Between looks of a wait when answers come at once (a fake); the monitor paces live ones.
    pub poll_every: Duration,
    wave_started: Instant,
    /// The job's token: `p`, quit or cancel. Waits, validation and translation stop within a
    /// second of it; a running hook finishes.
    pub stop: CancelToken,
    /// The commit plan the engineer was shown, until it is written.
    confirmed: Option<Vec<GroupCommit>>,
    /// `[notify] command`: told each journal entry and alarm, never waited for.
    notifier: super::notify::Notifier,
    /// A rollback auto_rollback started: its steps run unasked (nobody may be at the wheel).
    pub(super) unattended: bool,
    /// Waits watch the pause budget (`cutover run`; the cockpit watches it itself), said once.
    pub watch_budget: bool,
    pub(super) budget_said: bool,
    /// The lock of the detached driver this one took the wave over from, until said.
    took_over: Option<String>,
}

impl<'a> Driver<'a> {
    /// Opens the wave's journal as its one driver (Err: someone else drives, or I/O), on the
    /// live clusters seen through `observe` (the monitor's snapshots, or polls of its own).
    pub fn new(config: &'a Config, wave: &'a Wave, dry_run: bool, observe: Box<Observe<'a>>) -> Result<Driver<'a>> {
        let live = Live::new(config, wave, !dry_run, observe);
        Self::with_clusters(config, wave, dry_run, Box::new(live))
    }

    pub fn with_clusters(
        config: &'a Config,
        wave: &'a Wave,
        dry_run: bool,
        clusters: Box<dyn Clusters + 'a>,
    ) -> Result<Driver<'a>> {
        // A dry run changes nothing: it takes no wave over from a detached driver.
        let claim = if dry_run {
            Claim::Now
        } else {
            Claim::TakeOver {
                patience: handover::patience(config),
            }
        };
        Self::claiming(config, wave, dry_run, clusters, claim)
    }

    /// Opens the journal as `claim` says (`handover`).
    pub fn claiming(
        config: &'a Config,
        wave: &'a Wave,
        dry_run: bool,
        clusters: Box<dyn Clusters + 'a>,
        claim: Claim,
    ) -> Result<Driver<'a>> {
        let path = config.cutover.journal_path(&config.source.name, &config.target.name);
        let (journal, took_over) =
            handover::claim(&path, dry_run, claim).map_err(|e| Error::permanent(e.to_string()))?;
        // A dry run walks the whole wave from its start, whatever the journal says.
        let state = if dry_run {
            WaveState::new(wave)
        } else {
            journal::wave_state(&journal::read(&path)?, wave)
        };
        Ok(Driver {
            config,
            wave,
            journal,
            state,
            dry_run,
            clusters,
            poll_every: Duration::from_millis(500).min(config.monitor.refresh_interval),
            wave_started: Instant::now(),
            stop: CancelToken::default(),
            confirmed: None,
            notifier: super::notify::Notifier::start(&config.notify),
            unattended: false,
            watch_budget: false,
            budget_said: false,
            took_over,
        })
    }

    pub fn state(&self) -> &WaveState {
        &self.state
    }

    pub fn journal_path(&self) -> &std::path::Path {
        self.journal.path()
    }

    fn record(&mut self, event: Event) -> Result<()> {
        let entry = self.journal.append(&self.wave.name, event)?;
        self.state.apply(entry.time(), &entry.event);
        self.notifier
            .send(&serde_json::json!({ "kind": "journal", "entry": entry }));
        Ok(())
    }

    /// An alarm (a breached rollback criterion), for the notify command.
    fn alarm(&self, text: &str) {
        let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        self.notifier
            .send(&serde_json::json!({ "kind": "alarm", "wave": self.wave.name, "at": at, "alarm": text }));
    }

    /// The action failed: said, and journaled as the step's failure (the wave stops there).
    fn fail(&mut self, op: &mut dyn Operator, step: Step, action: Action, reason: String) -> Result<()> {
        self.say(op, Some(step), &format!("FAILED: {reason}"));
        let output = vec![];
        self.record(Event::ActionFailed {
            step,
            action,
            reason,
            output,
        })
    }

    fn say(&self, op: &mut dyn Operator, step: Option<Step>, text: &str) {
        self.tell(op, step, None, text);
    }

    /// Tells the operator and the journal's observers, as data.
    fn tell(&self, op: &mut dyn Operator, step: Option<Step>, check: Option<Check>, text: &str) {
        let elapsed = self.wave_started.elapsed();
        let said = Said::new(&self.wave.name, SystemTime::now(), elapsed, step, check, text);
        self.journal.say_live(&said);
        op.told(&said);
    }

    /// `f` until it succeeds, fails permanently, or its tries are used up: a transient error
    /// (a broker away, a timeout) is said with its try and tried again after a backoff, which
    /// `p` ends at once.
    fn retrying<T>(
        &mut self,
        op: &mut dyn Operator,
        step: Step,
        what: &str,
        mut f: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 0;
        loop {
            let e = match f(self) {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let Some(wait) = engine::backoff(e.retryable(), attempt) else {
                return Err(e);
            };
            attempt += 1;
            let retry = format!("{what}: {e}; try {} of {} in {wait:?}", attempt + 1, engine::TRIES);
            self.say(op, Some(step), &retry);
            if self.stop.sleep(wait) {
                return Err(Error::cancelled());
            }
        }
    }

    fn paused(&mut self, op: &mut dyn Operator) -> Result<Outcome> {
        if !self.dry_run {
            self.record(Event::Paused)?;
        }
        self.say(op, None, "paused: no new step starts until it is resumed");
        Ok(Outcome::Paused)
    }

    /// Drives the wave until it finishes, stops, or the person declines.
    pub fn drive(&mut self, op: &mut dyn Operator) -> Result<Outcome> {
        match self.drive_steps(op) {
            // Stopped mid-step (a validation, a translation, a wait): the step's intent stays
            // journaled and it is run again, knowingly, when the wave resumes.
            Err(e) if e.is_cancelled() => self.paused(op),
            other => other,
        }
    }

    fn drive_steps(&mut self, op: &mut dyn Operator) -> Result<Outcome> {
        self.note_took_over(op)?;
        // A failure found when the drive begins is offered a retry; one that happens during
        // this drive stops it (so `--yes` never loops on a failing step).
        let failed_before = matches!(engine::next(&self.state, self.wave), Next::Stopped { .. });
        let mut offered = false;
        // A wave that was rolled back runs again from its start, as a new run.
        if !self.dry_run && self.state.rolled_back(self.wave) && !self.start(op)? {
            return Ok(Outcome::Declined { step: Step::Preflight });
        }
        if self.state.paused && !self.dry_run {
            self.say(op, None, "resumed");
            self.record(Event::Resumed)?;
        }
        loop {
            let next = engine::next(&self.state, self.wave);
            if self.stop.is_cancelled() && matches!(next, Next::Run { .. }) {
                return self.paused(op);
            }
            match next {
                Next::Start if !self.start(op)? => return Ok(Outcome::Declined { step: Step::Preflight }),
                Next::Start => {}
                Next::Paused => {
                    self.say(op, None, "resumed");
                    self.record(Event::Resumed)?;
                }
                Next::Stopped { step, reason, .. } => {
                    let may_offer = engine::may_offer_retry(failed_before, offered, self.dry_run);
                    offered = true;
                    if !(may_offer && self.retry_or_skip(op, step, &reason)?) {
                        return Ok(Outcome::Stopped { step, reason });
                    }
                }
                Next::Finished(f) => return self.finished(op, f),
                Next::Run { step, action, again } => {
                    let ask = engine::needs_confirmation(self.wave, action, again)
                        && !(self.unattended && !again && self.state.rolling_back());
                    if !self.dry_run && ask {
                        let (question, details) = self.describe(op, step, action, again)?;
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

    fn finished(&mut self, op: &mut dyn Operator, f: Finish) -> Result<Outcome> {
        if self.dry_run {
            return Ok(Outcome::DryRunDone);
        }
        if f == Finish::RolledBack {
            self.report_target_only(op);
        }
        let done = if f == Finish::Done {
            "wave done"
        } else {
            "wave rolled back"
        };
        self.say(op, None, done);
        Ok(Outcome::Finished(f))
    }

    /// A failed step: retry it, or skip it with its name typed. True when one was chosen.
    fn retry_or_skip(&mut self, op: &mut dyn Operator, step: Step, reason: &str) -> Result<bool> {
        let question = format!("{} failed: {reason}. Retry it?", step.name());
        if op.yes_no(&question, &self.state.failure_output(step)) {
            let what = format!("retry {}", step.name());
            self.record(Event::Confirmed { what, details: vec![] })?;
            self.record(Event::Retry { step })?;
            return Ok(true);
        }
        let skip = format!(
            "Skip {} instead? What it has not done stays undone: only if you did it by hand. Type `skip` to skip it",
            step.name()
        );
        if !op.typed(&skip, &[reason.to_string()], "skip") {
            return Ok(false);
        }
        let what = format!("skip {} ({reason})", step.name());
        self.record(Event::Confirmed { what, details: vec![] })?;
        let reason = format!("skipped by {} after: {reason}", self.journal.by());
        self.record(Event::Skipped { step, reason })?;
        Ok(true)
    }

    /// Starts the wave: resolves its topics and groups now, and takes the typed confirmation.
    fn start(&mut self, op: &mut dyn Operator) -> Result<bool> {
        let found = self.clusters.resolve(self.wave)?;
        let again = self.state.rolled_back(self.wave);
        let rolled_back_at = self.state.rolled_back_at(&self.wave.hooks);
        let details = engine::start_details(self.wave, &found, again.then_some(rolled_back_at), self.dry_run);
        if !self.dry_run {
            let question = format!(
                "Start wave {}{}? Type its name to confirm",
                self.wave.name,
                if again { " again" } else { "" }
            );
            if !op.typed(&question, &details, &self.wave.name) {
                return Ok(false);
            }
            let what = format!("start wave {}", self.wave.name);
            self.record(Event::Confirmed { what, details: vec![] })?;
        }
        for d in &details {
            self.say(op, None, d);
        }
        self.wave_started = Instant::now();
        let (strategy, topics, groups) = (self.wave.strategy, found.topics, found.groups);
        self.record(Event::WaveStarted {
            strategy,
            topics,
            groups,
        })?;
        Ok(true)
    }

    fn hook_env(&self, step: &str) -> HookEnv {
        let replication = &self.config.replication;
        HookEnv {
            wave: self.wave.name.clone(),
            step: step.to_string(),
            topics: self.state.topics.clone(),
            target_topics: self.state.topics.iter().map(|t| replication.target_topic(t)).collect(),
            groups: self.state.groups.clone(),
            source_bootstrap: self.config.source.bootstrap.clone(),
            target_bootstrap: self.config.target.bootstrap.clone(),
        }
    }

    /// The question and what exactly will be done, for a confirmation.
    fn describe(
        &mut self,
        op: &mut dyn Operator,
        step: Step,
        action: Action,
        again: bool,
    ) -> Result<(String, Vec<String>)> {
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
                let side = engine::commit_side(action);
                let plan = self.plan_for(op, step, side)?;
                let lines = commits::plan_lines(&plan, side);
                self.confirmed = Some(plan);
                (
                    format!("{}: {}{again_note}?", step.name(), engine::commit_question(side)),
                    lines,
                )
            }
            Action::Wait(c) => (c.label().to_string(), vec![]),
        })
    }

    fn perform(&mut self, op: &mut dyn Operator, step: Step, action: Action) -> Result<()> {
        if step == Step::FlipProducers && self.state.target_writes_began.is_none() && !self.dry_run {
            if let Some(reason) = self.note_ends_before_flip()? {
                let detail = action.label();
                self.record(Event::ActionStarted { step, action, detail })?;
                return self.fail(op, step, action, reason);
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
            Action::Commit | Action::CommitBack => self.commit(op, step, action, engine::commit_side(action)),
        }
    }

    fn run_hook(&mut self, op: &mut dyn Operator, step: Step, action: Action, hook: engine::Hook) -> Result<()> {
        let command = hook.command(&self.wave.hooks).unwrap_or("").to_string();
        if self.dry_run {
            self.say(
                op,
                Some(step),
                &format!("would run the hook {}: sh -c {command}", hook.key()),
            );
            let detail = "dry run: not run".into();
            return self.record(Event::ActionDone {
                step,
                action,
                detail,
                output: vec![],
            });
        }
        self.say(op, Some(step), &format!("running the hook {}: {command}", hook.key()));
        let timeout = self.config.cutover.hook_timeout;
        let run = hooks::run(&command, &self.hook_env(hook.key()), timeout)?;
        for line in &run.output {
            self.say(op, Some(step), &format!("  | {line}"));
        }
        let output = run.output.clone();
        match run.failure(timeout) {
            None => {
                self.say(op, Some(step), &format!("hook {} done in {:.1?}", hook.key(), run.took));
                let detail = format!("exit 0 in {:.1?}", run.took);
                self.record(Event::ActionDone {
                    step,
                    action,
                    detail,
                    output,
                })
            }
            Some(reason) => {
                self.say(op, Some(step), &format!("hook {} FAILED: {reason}", hook.key()));
                let reason = format!("hook {}: {reason}", hook.key());
                self.record(Event::ActionFailed {
                    step,
                    action,
                    reason,
                    output,
                })
            }
        }
    }
}
