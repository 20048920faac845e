//! An SSH drop does not strand a wave. When the cockpit driving a wave loses its terminal
//! (SIGHUP), it starts a detached driver (`cutover run --wave W --detached`: the same binary,
//! in a session of its own, logging to the log file) and lets go of the journal's lock. The
//! detached driver takes the lock, runs no step that needs a confirmation, and keeps the pause
//! budget, the rollback criteria and the notify command alive: with `auto_rollback` it rolls
//! the wave back by itself. The next cockpit or `cutover run` takes the wave over from it
//! (SIGTERM: it stops as `p` would, and lets go of the lock) and says so in the journal.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::driver::{Driver, Operator, Outcome};
use super::engine::{self, Finish, Next};
use super::journal::{self, Journal, OpenError};
use crate::config::Config;
use crate::error::Result;
use crate::jobs::CancelToken;

/// What the lock of a journal held by a detached driver says after the pid.
pub const DETACHED: &str = "detached driver";

/// Who holds a journal's lock, read from its text: "user@host (pid 123, detached driver)
/// since 2026-11-30T02:14:00Z".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub host: String,
    pub pid: i32,
    pub detached: bool,
}

/// The holder in a lock's text; None when it is not in the format `Journal::open` writes.
pub fn holder(lock_text: &str) -> Option<Holder> {
    let (by, rest) = lock_text.split_once(" (pid ")?;
    let (inside, _) = rest.split_once(')')?;
    let mut parts = inside.split(", ");
    let pid = parts.next()?.trim().parse().ok()?;
    let detached = parts.any(|p| p == DETACHED);
    let host = by.rsplit_once('@').map_or(by, |(_, h)| h).to_string();
    Some(Holder { host, pid, detached })
}

/// How a driver claims the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Fails at once if another process drives.
    Now,
    /// A detached driver holding it is asked to stop (SIGTERM) and waited for, up to
    /// `patience` (it finishes a running hook first); anyone else holding it is refused.
    TakeOver { patience: Duration },
    /// As the detached driver: waits up to `patience` for the cockpit that handed the wave
    /// over to let go (it finishes a running hook first).
    AsDetached { patience: Duration },
}

/// How long a claim waits for the holder to let go: a running hook finishes first.
pub fn patience(config: &Config) -> Duration {
    config.cutover.hook_timeout + Duration::from_secs(15)
}

/// Opens the journal for driving as `claim` says; with the lock text of the detached driver
/// the wave was taken over from, if it was.
pub fn claim(path: &Path, dry_run: bool, claim: Claim) -> std::result::Result<(Journal, Option<String>), OpenError> {
    let waiting = |patience: Duration, detached: bool| {
        let deadline = Instant::now() + patience;
        loop {
            match Journal::open_as(path, dry_run, detached) {
                Err(OpenError::Driven { by }) if Instant::now() < deadline => {
                    tracing::debug!("waiting for the journal's lock: {by}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(OpenError::Driven { by }) => {
                    return Err(OpenError::Driven {
                        by: format!("{by}; still holding the journal after {patience:?}"),
                    })
                }
                other => return other,
            }
        }
    };
    match claim {
        Claim::Now => Journal::open(path, dry_run).map(|j| (j, None)),
        Claim::AsDetached { patience } => waiting(patience, true).map(|j| (j, None)),
        Claim::TakeOver { patience } => match Journal::open(path, dry_run) {
            Err(OpenError::Driven { by }) => {
                let Some(h) = holder(&by).filter(|h| h.detached) else {
                    return Err(OpenError::Driven { by });
                };
                let here = journal::whoami();
                if here.rsplit_once('@').map(|(_, host)| host) != Some(h.host.as_str()) {
                    return Err(OpenError::Driven {
                        by: format!("{by}, on another host: stop it there (kill -TERM {})", h.pid),
                    });
                }
                tracing::info!("taking the wave over from {by}: SIGTERM to pid {}", h.pid);
                // SAFETY: a signal to the process that wrote its pid into the lock it holds.
                unsafe { libc::kill(h.pid, libc::SIGTERM) };
                waiting(patience, false).map(|j| (j, Some(by)))
            }
            other => other.map(|j| (j, None)),
        },
    }
}

/// How the cockpit starts its detached driver: its own binary, with the global arguments it
/// was started with (config, log file, `--allow-same-cluster`).
#[derive(Debug, Clone)]
pub struct Relaunch {
    pub args: Vec<OsString>,
    /// Where the detached driver's stderr goes (its log file), for what it says before its
    /// logging starts.
    pub log_file: PathBuf,
}

impl Relaunch {
    /// Starts `cutover run --wave W --detached` in a session of its own (no terminal: a
    /// hangup of the cockpit's does not reach it); its pid.
    pub fn spawn(&self, wave: &str) -> std::io::Result<u32> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args(&self.args)
            .args(["run", "--wave", wave, "--detached"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // SAFETY: setsid is async-signal-safe; it runs in the child between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                Ok(())
            })
        };
        Ok(command.spawn()?.id())
    }
}

/// Whether a wave is in flight (started, not finished): only such a wave is handed over.
pub fn in_flight(config: &Config, wave: &str) -> bool {
    let Some(plan) = config.waves.iter().find(|w| w.name == wave) else {
        return false;
    };
    let path = config.cutover.journal_path(&config.source.name, &config.target.name);
    let Ok(entries) = journal::read(&path) else {
        return false;
    };
    let state = journal::wave_state(&entries, plan);
    !matches!(engine::next(&state, plan), Next::Start | Next::Finished(_))
}

/// Nobody is at the wheel: every question is declined (and remembered, to be said), every
/// line goes to the log file.
#[derive(Default)]
struct DetachedOperator {
    declined: Option<String>,
}

impl Operator for DetachedOperator {
    fn typed(&mut self, question: &str, details: &[String], _: &str) -> bool {
        self.yes_no(question, details)
    }

    fn yes_no(&mut self, question: &str, _: &[String]) -> bool {
        tracing::info!("detached: not answered (it needs a confirmation): {question}");
        self.declined = Some(question.to_string());
        false
    }

    fn say(&mut self, line: &str) {
        tracing::info!("cutover (detached): {line}");
    }
}

/// `cutover run --wave W --detached`: drives `wave` as far as it goes without a confirmation,
/// then holds it, watching its pause budget, until it is taken over (`stop`), rolled back by
/// itself, or done (then watched for `rollback_after`, as `cutover run` does).
pub fn drive_detached(
    config: &Config,
    wave: &str,
    observe: Box<super::clusters::Observe<'_>>,
    stop: CancelToken,
) -> Result<Outcome> {
    let plan = config
        .waves
        .iter()
        .find(|w| w.name == wave)
        .ok_or_else(|| format!("no wave named {wave}"))?;
    let live = super::clusters::Live::new(config, plan, true, observe);
    let claim = Claim::AsDetached {
        patience: patience(config),
    };
    let mut driver = Driver::claiming(config, plan, false, Box::new(live), claim)?;
    driver.stop = stop;
    driver.watch_budget = true;
    let mut op = DetachedOperator::default();
    if matches!(engine::next(driver.state(), plan), Next::Start | Next::Finished(_)) {
        tracing::info!("detached: wave {wave} is not in flight: nothing to hold");
        return Ok(Outcome::Paused);
    }
    // With auto_rollback the plan lets a rollback's steps run unasked: one under way when the
    // terminal went goes on, letting the producers write again.
    driver.unattended = plan.criteria.auto_rollback && driver.state().rolling_back();
    driver.note_detached(&mut op)?;
    loop {
        match driver.drive(&mut op)? {
            Outcome::Declined { .. } | Outcome::Stopped { .. } => {
                let why = op.declined.take().unwrap_or_else(|| "a step stopped".into());
                if !driver.hold(&mut op, &why)? {
                    return Ok(Outcome::Paused);
                }
            }
            Outcome::Finished(Finish::Done) => match driver.watch_after_done(&mut op)? {
                Some(breach) if plan.criteria.auto_rollback => driver.start_auto_rollback(&mut op, &breach)?,
                _ => return Ok(Outcome::Finished(Finish::Done)),
            },
            other => return Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_read_from_the_lock() {
        assert_eq!(
            holder("ops@bastion-1 (pid 4242, detached driver) since 2026-11-30T02:14:00Z"),
            Some(Holder {
                host: "bastion-1".into(),
                pid: 4242,
                detached: true
            })
        );
        assert_eq!(
            holder("ops@bastion-1 (pid 17) since 2026-11-30T02:14:00Z"),
            Some(Holder {
                host: "bastion-1".into(),
                pid: 17,
                detached: false
            })
        );
        assert_eq!(holder("someone, somewhere"), None);
        assert_eq!(holder("a@b (pid x) since"), None);
    }

    #[test]
    fn a_take_over_refuses_a_cockpit_and_takes_from_a_detached_driver() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let patience = Duration::from_millis(300);
        // A cockpit (not detached) drives: refused, nothing signalled.
        let cockpit = Journal::open(&path, false).unwrap();
        match claim(&path, false, Claim::TakeOver { patience }) {
            Err(OpenError::Driven { by }) => assert!(by.contains(cockpit.by()), "{by}"),
            other => panic!("{:?}", other.map(|(_, from)| from)),
        }
        drop(cockpit);
        // The detached driver waits for the cockpit to let go.
        let holding = Journal::open(&path, false).unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(holding);
        });
        let (detached, from) = claim(
            &path,
            false,
            Claim::AsDetached {
                patience: Duration::from_secs(5),
            },
        )
        .unwrap();
        t.join().unwrap();
        assert_eq!(from, None);
        let text = journal::driver(&path).unwrap();
        assert!(holder(&text).unwrap().detached, "{text}");
        drop(detached);
    }
}
