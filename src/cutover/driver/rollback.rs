//! The driver's rollback: the criteria watched after a wave is done, the rollback started by
//! the engineer or by itself, and its report of what exists on the target only.

use std::time::SystemTime;

use super::{Driver, Operator};
use crate::cutover::commits;
use crate::cutover::engine::{self, Event, Step};
use crate::error::{Error, Result};

impl Driver<'_> {
    /// After the wave is done: watches the rollback criteria for `rollback_after` (seed 004).
    /// Returns the breach, if one happens; None when the window passed or nothing is set.
    pub fn watch_after_done(&mut self, op: &mut dyn Operator) -> Result<Option<String>> {
        let window = self.wave.criteria.rollback_after;
        if self.wave.criteria.rollback_if_target_group_lag_over.is_none() || self.dry_run {
            return Ok(None);
        }
        let watching = format!(
            "watching the rollback criteria for {}",
            humantime::format_duration(window)
        );
        self.say(op, None, &watching);
        let (_, done_at) = self.state.step_times(Step::FlipProducers, &self.wave.hooks);
        let until = done_at.unwrap_or_else(SystemTime::now) + window;
        while SystemTime::now() < until {
            if let Some(breach) = self.clusters.rollback_breach(self.wave, &self.state) {
                self.say(op, None, &breach);
                self.alarm(&breach);
                return Ok(Some(breach));
            }
            if self.stop.sleep(self.poll_every) {
                return Err(Error::cancelled());
            }
        }
        self.say(op, None, "rollback criteria held for the whole window");
        Ok(None)
    }

    /// With `watch_budget`: a running pause past its budget is said and alarmed once, and with
    /// auto_rollback starts the rollback (true).
    pub(super) fn over_budget(&mut self, op: &mut dyn Operator) -> Result<bool> {
        if !self.watch_budget || self.dry_run {
            return Ok(false);
        }
        let Some((text, rolls_back)) = crate::cutover::pause::pause_breach(&self.state, self.wave, SystemTime::now())
        else {
            return Ok(false);
        };
        if !self.budget_said {
            self.budget_said = true;
            self.say(op, None, &text);
            self.alarm(&text);
        }
        if rolls_back {
            self.start_auto_rollback(op, &text)?;
        }
        Ok(rolls_back)
    }

    /// Starts rolling the wave back by itself: the criteria decided in advance were breached
    /// and the plan says `auto_rollback = true`.
    pub fn start_auto_rollback(&mut self, op: &mut dyn Operator, breach: &str) -> Result<()> {
        let what = format!("automatic rollback (auto_rollback = true): {breach}");
        self.record(Event::Confirmed { what, details: vec![] })?;
        self.say(op, None, &format!("rolling back by itself: {breach}"));
        self.unattended = true;
        let steps = self.state.rollback_plan();
        self.record(Event::RollbackStarted { steps })
    }

    /// Starts rolling the wave back: undoes the steps that began, newest first.
    pub fn start_rollback(&mut self, op: &mut dyn Operator) -> Result<bool> {
        let steps = self.state.rollback_plan();
        let mut details: Vec<String> = steps.iter().map(|s| format!("  {}", s.name())).collect();
        if self.state.touched(Step::FlipProducers) {
            // Records written to the target only after flip_producers: processed there before
            // the groups move back.
            details.extend(match self.state.target_writes_began.clone() {
                None => vec!["no record was written to the target only".into()],
                Some(began) => {
                    let now = self.clusters.target_ends(&self.state.topics, true)?;
                    commits::target_only_lines(&self.wave.name, &began, &now)
                }
            });
        }
        let question = format!("Roll wave {} back? Type its name to confirm", self.wave.name);
        if !op.typed(&question, &details, &self.wave.name) {
            return Ok(false);
        }
        let what = format!("roll back wave {}", self.wave.name);
        self.record(Event::Confirmed { what, details: vec![] })?;
        self.say(op, None, "rolling back");
        self.record(Event::RollbackStarted { steps })?;
        Ok(true)
    }

    /// The rollback's report: each partition's records written on the target only, which the
    /// source never had (for the application's owners and the readers of the source).
    pub(super) fn report_target_only(&self, op: &mut dyn Operator) {
        for line in engine::target_only_report(&self.state.target_only_ranges()) {
            self.say(op, None, &line);
        }
    }
}
