//! The headless face of the engine: `cutover plan` (what each wave would do, and the preflight
//! now) and the terminal operator of `cutover run`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::SystemTime;

use super::checks;
use super::driver::{Operator, Outcome};
use super::engine::{forward_steps, Action, Finish};
use crate::config::{Config, Wave};
use crate::model::Snapshot;

/// The plan as text, and the exit code: 0 every wave's preflight passes now, 1 not.
pub fn render(config: &Config, waves: &[&Wave], snap: &Snapshot) -> (String, u8) {
    let mut out = String::new();
    let mut code = 0;
    let journal = config.cutover.journal_path(&config.source.name, &config.target.name);
    let entries = super::journal::read(&journal).unwrap_or_default();
    out.push_str(&format!("journal: {}\n", journal.display()));
    for wave in waves {
        let topics = checks::wave_topics(snap, wave);
        let groups = checks::wave_groups(snap, wave);
        let state = super::journal::wave_state(&entries, wave);
        let status = match super::engine::next(&state, wave) {
            super::engine::Next::Start => "not started".to_string(),
            super::engine::Next::Finished(Finish::Done) => "done".into(),
            super::engine::Next::Finished(Finish::RolledBack) => "rolled back".into(),
            super::engine::Next::Stopped { step, reason, .. } => format!("STOPPED at {}: {reason}", step.name()),
            super::engine::Next::Paused => "paused".into(),
            super::engine::Next::Run { step, .. } => format!("in progress at {}", step.name()),
        };
        out.push_str(&format!(
            "\nwave {} ({}, confirm {}): {status}\n  topics: {}\n  groups: {}\n  steps:\n",
            wave.name,
            wave.strategy.name(),
            match wave.confirm {
                crate::config::ConfirmMode::EachStep => "each-step",
                crate::config::ConfirmMode::Wave => "wave",
            },
            if topics.is_empty() {
                "(none match)".into()
            } else {
                topics.join(", ")
            },
            if groups.is_empty() {
                "(none match)".into()
            } else {
                groups.join(", ")
            },
        ));
        for line in checks::left_behind(snap, wave, &topics, &groups).unwrap_or_default() {
            out.push_str(&format!("  left behind: {line}\n"));
        }
        for step in forward_steps(wave.strategy) {
            let what: Vec<String> = step
                .actions()
                .into_iter()
                .map(|a| match a {
                    Action::Hook(h) => match h.command(&wave.hooks) {
                        Some(c) => format!("run {}: sh -c {c}", h.key()),
                        None => format!("({} not configured)", h.key()),
                    },
                    other => other.label(),
                })
                .collect();
            out.push_str(&format!("    {:<16} {}\n", step.name(), what.join("; then ")));
        }
        // The pause it would impose, from the lag in seconds of its topics now.
        let pairs = crate::model::overview::topic_pairs(
            snap,
            &config.replication,
            &config.topics,
            &config.monitor,
            SystemTime::now(),
        );
        let drain = crate::model::lag_time::worst(
            pairs
                .iter()
                .filter(|p| topics.contains(&p.source_topic))
                .map(|p| p.lag_age),
        );
        let estimate = super::pause::Estimate {
            settle: config.cutover.settle,
            drain: drain.filter(|_| !topics.is_empty()),
        };
        out.push_str(&format!(
            "  estimated pause: {}\n",
            estimate.line(wave.criteria.max_write_pause)
        ));
        out.push_str("  preflight now:\n");
        let rows = crate::validate::report::validate_all(
            config,
            snap,
            None,
            config.monitor.request_timeout,
            None,
            &Default::default(),
        )
        .map(|rows| {
            rows.into_iter()
                .filter(|r| topics.contains(&r.topic))
                .map(|r| (r.topic, r.partition, r.result.verdict, r.result.pending))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
        for (name, result) in checks::preflight(snap, config, wave, &topics, &groups, &rows, SystemTime::now()) {
            match result {
                Ok(m) => out.push_str(&format!("    ok  {name}: {m}\n")),
                Err(e) => {
                    code = 1;
                    out.push_str(&format!("    NO  {name}: {e}\n"));
                }
            }
        }
    }
    (out, code)
}

/// What `cutover run` says at the end, and its exit code.
pub fn outcome_message(wave: &str, outcome: &Outcome, journal: &Path) -> (String, u8) {
    match outcome {
        Outcome::Finished(Finish::Done) => (format!("wave {wave} done (journal: {})", journal.display()), 0),
        Outcome::Finished(Finish::RolledBack) => (format!("wave {wave} rolled back (journal: {})", journal.display()), 1),
        Outcome::DryRunDone => (
            format!("dry run of wave {wave} done: no hook ran, nothing was committed"),
            0,
        ),
        Outcome::Stopped { step, reason } => (
            format!(
                "wave {wave} STOPPED at {}: {reason}\n  fix the cause and run `cutover run --wave {wave}` again to retry the step \
                 (journal: {})",
                step.name(),
                journal.display()
            ),
            1,
        ),
        Outcome::Paused => (
            format!("wave {wave} paused; run `cutover run --wave {wave}` to resume"),
            1,
        ),
        Outcome::Declined { step } => (
            format!(
                "wave {wave}: nothing done for {}; run `cutover run --wave {wave}` again to continue from there",
                step.name()
            ),
            1,
        ),
    }
}

/// Asks on the terminal (stderr for questions, stdin for answers); `--yes` answers yes.
pub struct TerminalOperator {
    pub yes: bool,
    /// Progress lines go to stderr (stdout is kept for a JSON report).
    pub say_to_stderr: bool,
}

impl TerminalOperator {
    fn ask(&self, question: &str, details: &[String], prompt: &str) -> Option<String> {
        let mut err = std::io::stderr();
        let _ = writeln!(err, "{question}");
        for d in details {
            let _ = writeln!(err, "    {d}");
        }
        if self.yes {
            let _ = writeln!(err, "  (--yes)");
            return None;
        }
        if !std::io::stdin().is_terminal() {
            return Some(String::new());
        }
        let _ = write!(err, "{prompt}");
        let _ = err.flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).ok()?;
        Some(line.trim().to_string())
    }
}

impl Operator for TerminalOperator {
    fn typed(&mut self, question: &str, details: &[String], expected: &str) -> bool {
        match self.ask(
            question,
            details,
            &format!("type `{expected}` to go on, anything else stops: "),
        ) {
            None => true,
            Some(answer) => answer == expected,
        }
    }

    fn yes_no(&mut self, question: &str, details: &[String]) -> bool {
        match self.ask(question, details, "[y/N] ") {
            None => true,
            Some(answer) => matches!(answer.as_str(), "y" | "Y" | "yes"),
        }
    }

    /// A closed output (the terminal gone, `| head`) never stops a wave: the line is lost,
    /// the journal and the log keep it.
    fn say(&mut self, line: &str) {
        use std::io::Write;
        let _ = if self.say_to_stderr {
            writeln!(std::io::stderr(), "{line}")
        } else {
            writeln!(std::io::stdout(), "{line}")
        };
        tracing::info!("{line}");
    }
}
