//! The driver's waits: a check looked at until it is met, fails, or passes its deadline.

use std::time::Instant;

use super::{Driver, Operator};
use crate::cutover::checks::{self, Settle, WaitNext};
use crate::cutover::engine::{Action, Check, Event, Step};
use crate::error::{Error, Result};

impl Driver<'_> {
    /// Looks until the check is met, fails, or passes its deadline. A dry run looks once.
    pub(super) fn wait(&mut self, op: &mut dyn Operator, step: Step, action: Action, check: Check) -> Result<()> {
        let mut settle = Settle::default();
        let mut last_said = String::new();
        let deadline = check.deadline(self.wave, self.config.cutover.wait_timeout);
        let began = Instant::now();
        loop {
            let answer = self.clusters.check(check, &self.state, &mut settle, &self.stop)?;
            if self.dry_run {
                let (verb, text) = checks::dry_run_words(&answer);
                self.say(op, Some(step), &format!("{}: {verb}: {text}", check.label()));
                let detail = format!("dry run: {verb}: {text}");
                return self.record(Event::ActionDone {
                    step,
                    action,
                    detail,
                    output: vec![],
                });
            }
            let text = checks::answer_text(&answer);
            if text != last_said {
                self.tell(op, Some(step), Some(check), text);
                last_said = text.to_string();
            }
            if self.over_budget(op)? {
                // The rollback begins where this wait was: its steps come next.
                return Ok(());
            }
            match checks::after_look(check, &answer, began.elapsed(), deadline) {
                WaitNext::Met(detail) => {
                    // Writes to the target stopped and the groups processed them: the ends
                    // the check just saw close the target-only ranges.
                    if check == Check::TargetGroupsCaughtUp && self.state.target_only_open() {
                        let ends = self.clusters.target_ends(&self.state.topics, false)?;
                        self.record(Event::TargetWritesStopped { ends })?;
                    }
                    return self.record(Event::ActionDone {
                        step,
                        action,
                        detail,
                        output: vec![],
                    });
                }
                WaitNext::Failed(reason) => return self.fail(op, step, action, reason),
                WaitNext::Again if self.stop.sleep(self.poll_every) => return Err(Error::cancelled()),
                WaitNext::Again => {}
            }
        }
    }
}
