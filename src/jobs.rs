//! One handle for every background job: the monitor's polls, the MM2 reader, translations,
//! validation, and next the cutover engine.
//!
//! A job is started with a name and a body; the body gets a `CancelToken` and reports its
//! progress and its result however its caller wants (the cockpit maps them into its one
//! `Msg` type). The handle cancels, tells whether the job is done, and cancels on drop, so a
//! job never outlives what started it. Cancellation is cooperative: the body checks the token
//! between steps, and its waits (`CancelToken::sleep`, `CancelToken::cancelled`) end at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Shared {
    cancelled: AtomicBool,
    // Wakes sleeping threads on cancel.
    lock: Mutex<()>,
    wake: Condvar,
    // Wakes waiting tasks on cancel.
    notify: tokio::sync::Notify,
}

/// Shared between a job and its handle: cancelling is seen by both.
#[derive(Clone, Default)]
pub struct CancelToken(Arc<Shared>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        let _guard = self.0.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.0.wake.notify_all();
        self.0.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Sleeps for `d` or until cancelled; true when cancelled.
    pub fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut guard = self.0.lock.lock().unwrap_or_else(|e| e.into_inner());
        while !self.is_cancelled() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = self
                .0
                .wake
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Completes when the token is cancelled (for async jobs, in a `select!`).
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

enum Runner {
    Thread(Option<std::thread::JoinHandle<()>>),
    Task(tokio::task::JoinHandle<()>),
}

/// A running background job. Dropping it cancels the job.
pub struct JobHandle {
    name: String,
    token: CancelToken,
    runner: Runner,
}

impl JobHandle {
    /// Runs `body` on a thread of its own: for jobs whose calls block (librdkafka reads).
    pub fn thread(name: &str, body: impl FnOnce(CancelToken) + Send + 'static) -> std::io::Result<JobHandle> {
        let token = CancelToken::default();
        let t = token.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || body(t))?;
        Ok(JobHandle {
            name: name.to_string(),
            token,
            runner: Runner::Thread(Some(thread)),
        })
    }

    /// Runs an async body on the current tokio runtime.
    pub fn task<F>(name: &str, body: impl FnOnce(CancelToken) -> F) -> JobHandle
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let token = CancelToken::default();
        let fut = body(token.clone());
        JobHandle {
            name: name.to_string(),
            token,
            runner: Runner::Task(tokio::spawn(fut)),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Asks the job to stop; it does at its next check.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    pub fn is_finished(&self) -> bool {
        match &self.runner {
            Runner::Thread(t) => t.as_ref().is_none_or(|t| t.is_finished()),
            Runner::Task(t) => t.is_finished(),
        }
    }

    /// Cancels the job and waits for a thread job to end (a task job is aborted).
    pub fn stop(mut self) {
        self.cancel();
        match &mut self.runner {
            Runner::Thread(t) => {
                if let Some(t) = t.take() {
                    let _ = t.join();
                }
            }
            Runner::Task(t) => t.abort(),
        }
    }
}

impl Drop for JobHandle {
    fn drop(&mut self) {
        self.token.cancel();
        if let Runner::Task(t) = &self.runner {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_ends_a_sleeping_thread_job_at_once() {
        let (tx, rx) = std::sync::mpsc::channel();
        let job = JobHandle::thread("sleeper", move |token| {
            let cancelled = token.sleep(Duration::from_secs(60));
            tx.send(cancelled).unwrap();
        })
        .unwrap();
        assert!(!job.is_finished());
        let started = Instant::now();
        job.cancel();
        assert!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            "the sleep saw the cancel"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        job.stop();
    }

    #[test]
    fn a_sleep_that_is_not_cancelled_runs_its_time() {
        let token = CancelToken::default();
        assert!(!token.sleep(Duration::from_millis(20)));
    }

    #[test]
    fn cancel_wakes_a_task_job() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let job = JobHandle::task("waiter", move |token| async move {
                token.cancelled().await;
                let _ = tx.send("cancelled");
            });
            tokio::task::yield_now().await;
            // Cancel (not drop) first so the body runs to its send; drop then aborts nothing left.
            job.cancel();
            assert_eq!(rx.recv().await, Some("cancelled"));
            drop(job);
        });
    }
}
