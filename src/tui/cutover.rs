//! The cockpit's side of the cutover: the driver on a thread of its own, asking its questions
//! through the cockpit's confirmation dialog and telling its progress as messages.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::app::{CutoverNews, Msg};
use crate::config::Config;
use crate::cutover::driver::{Driver, Operator, Outcome};
use crate::cutover::engine::{self, Finish, Next};
use crate::jobs::{CancelToken, JobHandle};

/// Asks through the cockpit: a question is a message, the answer comes back on a channel.
struct CockpitOperator {
    inbox: UnboundedSender<Msg>,
    answers: Receiver<bool>,
    cancel: CancelToken,
}

impl CockpitOperator {
    fn ask(&mut self, question: &str, details: &[String], typed: Option<String>) -> bool {
        let news = CutoverNews::Ask {
            question: question.to_string(),
            details: details.to_vec(),
            typed,
        };
        if self.inbox.send(Msg::Cutover(news)).is_err() {
            return false;
        }
        loop {
            match self.answers.recv_timeout(Duration::from_millis(200)) {
                Ok(answer) => return answer,
                Err(RecvTimeoutError::Timeout) if !self.cancel.is_cancelled() => continue,
                // The cockpit is closing: nothing is done without an answer.
                Err(_) => return false,
            }
        }
    }
}

impl Operator for CockpitOperator {
    fn typed(&mut self, question: &str, details: &[String], expected: &str) -> bool {
        self.ask(question, details, Some(expected.to_string()))
    }

    fn yes_no(&mut self, question: &str, details: &[String]) -> bool {
        self.ask(question, details, None)
    }

    fn say(&mut self, line: &str) {
        tracing::info!("cutover: {line}");
    }

    fn told(&mut self, said: &crate::cutover::engine::Said) {
        let _ = self.inbox.send(Msg::Cutover(CutoverNews::Said(said.clone())));
    }
}

/// The drive in progress: its thread (cancelling it pauses the wave) and where answers go.
pub struct CutoverJob {
    job: JobHandle,
    answers: Sender<bool>,
    pub wave: String,
    pub dry_run: bool,
}

impl CutoverJob {
    /// Starts driving `wave` on a thread of its own; `rollback`: rolling it back (by itself,
    /// with the breached criteria given).
    pub fn start(
        config: Arc<Config>,
        wave: String,
        dry_run: bool,
        rollback: Option<Option<String>>,
        snapshots: tokio::sync::watch::Receiver<crate::model::Snapshot>,
        inbox: UnboundedSender<Msg>,
    ) -> std::io::Result<CutoverJob> {
        let (answers, answer_rx) = std::sync::mpsc::channel();
        let name = wave.clone();
        let job = JobHandle::thread(&format!("cutover {wave}"), move |cancel| {
            let mut op = CockpitOperator {
                inbox: inbox.clone(),
                answers: answer_rx,
                cancel: cancel.clone(),
            };
            let result = drive(&config, &wave, dry_run, rollback, snapshots, cancel, &mut op);
            let _ = inbox.send(Msg::Cutover(CutoverNews::Ended { wave, result }));
        })?;
        Ok(CutoverJob {
            job,
            answers,
            wave: name,
            dry_run,
        })
    }

    pub fn answer(&self, yes: bool) {
        let _ = self.answers.send(yes);
    }

    /// `p`: waits, validation and translation stop within a second; a running hook finishes.
    pub fn pause(&self) {
        self.job.cancel();
    }

    /// Pauses and waits for the drive to end (a running hook finishes): the journal's lock is
    /// free then.
    pub fn stop(self) {
        self.job.stop();
    }
}

fn drive(
    config: &Config,
    wave: &str,
    dry_run: bool,
    rollback: Option<Option<String>>,
    snapshots: tokio::sync::watch::Receiver<crate::model::Snapshot>,
    stop: CancelToken,
    op: &mut CockpitOperator,
) -> crate::error::Result<Outcome> {
    let plan = config
        .waves
        .iter()
        .find(|w| w.name == wave)
        .ok_or_else(|| format!("no wave named {wave}"))?;
    // The checks follow the cockpit's own snapshots: a wave adds no poll.
    let observe = crate::cutover::clusters::follow(snapshots, config, stop.clone());
    let mut driver = Driver::new(config, plan, dry_run, observe)?;
    driver.stop = stop;
    if let Some(breach) = rollback {
        match engine::next(driver.state(), plan) {
            Next::Start => return Err("it has not started: there is nothing to roll back".into()),
            Next::Finished(Finish::RolledBack) => return Ok(Outcome::Finished(Finish::RolledBack)),
            _ if driver.state().rolling_back() => {}
            _ if breach.is_some() => driver.start_auto_rollback(op, breach.as_deref().unwrap_or(""))?,
            _ => {
                if !driver.start_rollback(op)? {
                    return Ok(Outcome::Declined {
                        step: engine::Step::UndoFreezeProducers,
                    });
                }
            }
        }
    }
    driver.drive(op)
}
