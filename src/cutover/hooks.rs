//! Running a wave's hook: `sh -c COMMAND` with the wave in its environment, a time limit, and
//! its last output lines kept for the screen and the journal. Hooks must be safe to run twice.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Output lines kept from a hook (the newest).
pub const OUTPUT_LINES: usize = 20;

/// What a hook is told about the wave, as environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEnv {
    pub wave: String,
    pub step: String,
    pub topics: Vec<String>,
    pub target_topics: Vec<String>,
    pub groups: Vec<String>,
    pub source_bootstrap: String,
    pub target_bootstrap: String,
}

impl HookEnv {
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CUTOVER_WAVE", self.wave.clone()),
            ("CUTOVER_STEP", self.step.clone()),
            ("CUTOVER_TOPICS", self.topics.join(",")),
            ("CUTOVER_TARGET_TOPICS", self.target_topics.join(",")),
            ("CUTOVER_GROUPS", self.groups.join(",")),
            ("CUTOVER_SOURCE_BOOTSTRAP", self.source_bootstrap.clone()),
            ("CUTOVER_TARGET_BOOTSTRAP", self.target_bootstrap.clone()),
        ]
    }
}

/// How a hook ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRun {
    /// The exit code; None when it was killed (by the timeout or a signal).
    pub code: Option<i32>,
    pub timed_out: bool,
    /// The last `OUTPUT_LINES` lines of stdout and stderr, interleaved as they came.
    pub output: Vec<String>,
    pub took: Duration,
}

impl HookRun {
    pub fn ok(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// Why it failed, for the screen and the journal.
    pub fn failure(&self, timeout: Duration) -> Option<String> {
        if self.timed_out {
            return Some(format!(
                "the hook did not finish within {} and was stopped",
                humantime::format_duration(timeout)
            ));
        }
        match self.code {
            Some(0) => None,
            Some(c) => Some(format!("the hook exited with {c}")),
            None => Some("the hook was killed by a signal".into()),
        }
    }
}

fn keep_lines(
    out: Arc<Mutex<Vec<String>>>,
    stream: impl Read + Send + 'static,
    hook: String,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            tracing::info!(hook = %hook, "{line}");
            let mut lines = out.lock().unwrap_or_else(|e| e.into_inner());
            lines.push(line);
            if lines.len() > OUTPUT_LINES {
                lines.remove(0);
            }
        }
    })
}

/// Runs `command` with `sh -c`, in its own process group (so a timeout stops all it started).
pub fn run(command: &str, env: &HookEnv, timeout: Duration) -> crate::error::Result<HookRun> {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .envs(env.vars())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start sh for the hook {}: {e}", env.step))?;
    let out = Arc::new(Mutex::new(Vec::new()));
    let readers = [
        keep_lines(out.clone(), child.stdout.take().expect("piped"), env.step.clone()),
        keep_lines(out.clone(), child.stderr.take().expect("piped"), env.step.clone()),
    ];
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() >= timeout {
            timed_out = true;
            // SAFETY: signals the hook's own process group, created above.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            break child.wait().map_err(|e| e.to_string())?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !timed_out {
        for r in readers {
            let _ = r.join();
        }
    }
    let output = out.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(HookRun {
        code: status.code(),
        timed_out,
        output,
        took: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> HookEnv {
        HookEnv {
            wave: "analytics".into(),
            step: "freeze_producers".into(),
            topics: vec!["a".into(), "b".into()],
            target_topics: vec!["src.a".into(), "src.b".into()],
            groups: vec!["g".into()],
            source_bootstrap: "s:1".into(),
            target_bootstrap: "t:2".into(),
        }
    }

    #[test]
    fn a_hook_sees_the_wave_and_its_output_is_kept() {
        let r = run(
            "echo \"$CUTOVER_WAVE $CUTOVER_STEP $CUTOVER_TOPICS $CUTOVER_TARGET_TOPICS $CUTOVER_GROUPS\"; \
             echo \"$CUTOVER_SOURCE_BOOTSTRAP $CUTOVER_TARGET_BOOTSTRAP\" >&2",
            &env(),
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(r.ok());
        assert!(
            r.output
                .contains(&"analytics freeze_producers a,b src.a,src.b g".to_string()),
            "{:?}",
            r.output
        );
        assert!(r.output.contains(&"s:1 t:2".to_string()), "{:?}", r.output);
    }

    #[test]
    fn a_failing_hook_and_a_slow_one_say_why() {
        let r = run("seq 1 30; exit 3", &env(), Duration::from_secs(10)).unwrap();
        assert_eq!(r.code, Some(3));
        assert_eq!(r.output.len(), OUTPUT_LINES);
        assert_eq!(r.output.last().map(String::as_str), Some("30"));
        assert_eq!(
            r.failure(Duration::from_secs(10)).as_deref(),
            Some("the hook exited with 3")
        );
        let r = run("sleep 30 & wait", &env(), Duration::from_millis(300)).unwrap();
        assert!(r.timed_out && !r.ok());
        assert!(r.took < Duration::from_secs(5), "{:?}", r.took);
        assert!(r.failure(Duration::from_millis(300)).unwrap().contains("300ms"));
    }
}
