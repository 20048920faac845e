//! The `[notify] command`: run for each of a wave's state changes (every journal entry) and
//! alarms, with the event as one JSON object on its stdin. It runs on a thread of its own, one
//! event after the other in order, so the wave never waits for it; a run that outlives the
//! timeout is killed, and failures are logged.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Sender};
use std::time::{Duration, Instant};

use crate::config::NotifyConfig;

/// How long the end of a drive waits for the notifications still queued.
const DRAIN_AT_EXIT: Duration = Duration::from_secs(5);

pub struct Notifier {
    queue: Option<Sender<String>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl Notifier {
    /// The notifier of `config` (one that does nothing without a command).
    pub fn start(config: &NotifyConfig) -> Notifier {
        let Some(command) = config.command.clone() else {
            return Notifier {
                queue: None,
                worker: None,
            };
        };
        let timeout = config.timeout;
        let (queue, events) = channel::<String>();
        let worker = std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || {
                for event in events {
                    if let Err(e) = run(&command, &event, timeout) {
                        tracing::warn!("notify: {e} (event: {event})");
                    }
                }
            })
            .map_err(|e| tracing::error!("cannot start the notify thread: {e}"))
            .ok();
        Notifier {
            queue: worker.as_ref().map(|_| queue),
            worker,
        }
    }

    /// Queues one event (a JSON object); returns at once.
    pub fn send(&self, event: &serde_json::Value) {
        if let Some(q) = &self.queue {
            let _ = q.send(event.to_string());
        }
    }
}

impl Drop for Notifier {
    /// Gives the queued notifications a moment to go out, never longer.
    fn drop(&mut self) {
        self.queue.take();
        let Some(worker) = self.worker.take() else { return };
        let until = Instant::now() + DRAIN_AT_EXIT;
        while !worker.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !worker.is_finished() {
            tracing::warn!("notify: notifications still queued at exit are not sent");
        }
    }
}

/// Runs `sh -c command` with `event` on stdin, in its own process group; killed past `timeout`.
fn run(command: &str, event: &str, timeout: Duration) -> crate::error::Result<()> {
    use std::os::unix::process::CommandExt;
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start sh: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin is fine.
        let _ = writeln!(stdin, "{event}");
    }
    loop {
        if let Some(status) = child.try_wait()? {
            return match status.success() {
                true => Ok(()),
                false => Err(format!("`{command}` ended with {status}").into()),
            };
        }
        if started.elapsed() >= timeout {
            // SAFETY: signals the command's own process group, created above.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            return Err(format!("`{command}` killed after {timeout:?} (notify timeout)").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_go_out_in_order_and_a_hanging_command_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("got");
        let config = NotifyConfig {
            command: Some(format!("cat >> {}", out.display())),
            timeout: Duration::from_secs(5),
        };
        {
            let n = Notifier::start(&config);
            for i in 0..5 {
                n.send(&serde_json::json!({ "n": i }));
            }
        }
        let got = std::fs::read_to_string(&out).unwrap();
        assert_eq!(got, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
        let err = run("sleep 30", "{}", Duration::from_millis(200)).unwrap_err();
        assert!(err.message.contains("killed after"), "{err}");
    }
}
