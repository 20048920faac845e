//! The pause clocks a wave imposes: how long its producers have been frozen (writes paused)
//! and its consumers stopped (reads paused), from the journal's step times, and the budget
//! criteria (`max_write_pause`, `max_read_pause`). Pure: the journal's state and a time in.

use std::time::{Duration, SystemTime};

use super::engine::{Action, ActionState, Step, StepStatus, WaveState};
use crate::config::{Hooks, Wave};

/// What is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paused {
    Writes,
    Reads,
}

impl Paused {
    pub fn word(self) -> &'static str {
        match self {
            Paused::Writes => "writes",
            Paused::Reads => "reads",
        }
    }
}

/// One pause: when it began and, once over, when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub what: Paused,
    pub began: SystemTime,
    pub ended: Option<SystemTime>,
    /// The wave's budget for it, if it has one.
    pub budget: Option<Duration>,
}

impl Pause {
    pub fn elapsed(&self, now: SystemTime) -> Duration {
        self.ended.unwrap_or(now).duration_since(self.began).unwrap_or_default()
    }

    pub fn running(&self) -> bool {
        self.ended.is_none()
    }

    /// Past its budget (and still running, or it ended past it).
    pub fn over_budget(&self, now: SystemTime) -> bool {
        self.budget.is_some_and(|b| self.elapsed(now) > b)
    }

    /// "writes paused 12.4s of 30.0s", "reads paused 3.1s" (no budget), "writes were paused
    /// 8.0s" once over.
    pub fn label(&self, now: SystemTime) -> String {
        let secs = |d: Duration| format!("{:.1}s", d.as_secs_f64());
        let verb = if self.running() { "paused" } else { "were paused" };
        let mut s = format!("{} {verb} {}", self.what.word(), secs(self.elapsed(now)));
        if let Some(b) = self.budget {
            s += &format!(" of {}", secs(b));
        }
        s
    }
}

/// The steps that begin a pause and those that end it, forward and in a rollback: producers
/// are frozen from `freeze producers` until `flip producers` (or the rollback lets them write
/// on the source again); a rollback after the flip freezes them on the target first.
fn spans(what: Paused) -> [(Step, &'static [Step]); 2] {
    use Step::*;
    match what {
        Paused::Writes => [
            (FreezeProducers, &[FlipProducers, UndoFreezeProducers]),
            (UndoFlipProducers, &[UndoFreezeProducers]),
        ],
        Paused::Reads => [
            (StopConsumers, &[FlipConsumers, UndoStopConsumers]),
            (UndoFlipConsumers, &[UndoStopConsumers]),
        ],
    }
}

/// When a step began: its first action's time (the hook done, the producers frozen; or its
/// intent while it runs), or (a step with no hook, done at once) the first time of a later
/// step.
fn began(state: &WaveState, step: Step, hooks: &Hooks) -> Option<SystemTime> {
    if let (Some(at), _) = state.step_times(step, hooks) {
        return Some(at);
    }
    if state.status(step, hooks) != StepStatus::Done {
        return None;
    }
    let at = state.steps.iter().position(|s| *s == step)?;
    state.steps[at + 1..].iter().find_map(|s| state.step_times(*s, hooks).0)
}

/// When a step that ends a pause did so: when its hook was done (the clients run again; the
/// step's wait only watches them), or, without a hook, when the step was done.
fn ended(state: &WaveState, step: Step, hooks: &Hooks) -> Option<SystemTime> {
    let hook = step.actions().into_iter().find(|a| matches!(a, Action::Hook(_)));
    if let Some(Some(ActionState::Done { at, .. })) = hook.map(|h| state.actions.get(&(step, h))) {
        return Some(*at);
    }
    match state.status(step, hooks) {
        StepStatus::Done => state.step_times(step, hooks).1.or_else(|| began(state, step, hooks)),
        _ => None,
    }
}

/// The wave's newest pause of `what`, if one began (in this run of the wave).
pub fn pause(state: &WaveState, wave: &Wave, what: Paused) -> Option<Pause> {
    let budget = match what {
        Paused::Writes => wave.criteria.max_write_pause,
        Paused::Reads => wave.criteria.max_read_pause,
    };
    spans(what)
        .iter()
        .filter_map(|(start, ends)| {
            let began = began(state, *start, &wave.hooks)?;
            let ended = ends
                .iter()
                .filter_map(|e| ended(state, *e, &wave.hooks))
                .filter(|t| *t >= began)
                .min();
            Some(Pause {
                what,
                began,
                ended,
                budget,
            })
        })
        .max_by_key(|p| p.began)
}

/// Both pause clocks of a wave, the running ones first.
pub fn pauses(state: &WaveState, wave: &Wave) -> Vec<Pause> {
    let mut v: Vec<Pause> = [Paused::Writes, Paused::Reads]
        .into_iter()
        .filter_map(|w| pause(state, wave, w))
        .collect();
    v.sort_by_key(|p| !p.running());
    v
}

/// A running pause past its budget: the alarm's text. `rolls_back`: whether it is one the
/// wave should roll back for (`auto_rollback`, and no rollback begun yet).
pub fn pause_breach(state: &WaveState, wave: &Wave, now: SystemTime) -> Option<(String, bool)> {
    let p = pauses(state, wave)
        .into_iter()
        .find(|p| p.running() && p.over_budget(now))?;
    let forward = state.rollback_from.is_none();
    let text = format!(
        "PAUSE BUDGET: wave {}: {} (max_{}_pause){}",
        wave.name,
        p.label(now),
        match p.what {
            Paused::Writes => "write",
            Paused::Reads => "read",
        },
        if forward { "" } else { "; the rollback is running" }
    );
    Some((text, forward && wave.criteria.auto_rollback))
}

/// A wave's write pause as `cutover plan` estimates it before the start: the source must
/// stand still for `settle`, then the copy must drain (about as long as the oldest record
/// waiting to be copied is old: the replicator is that far behind); the time people take to
/// answer, hooks and the final parity come on top.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub settle: Duration,
    /// None: the lag in seconds of some wave topic is not known.
    pub drain: Option<crate::model::lag_time::Age>,
}

impl Estimate {
    pub fn at_least(&self) -> Option<Duration> {
        Some(self.settle + self.drain?.age)
    }

    /// "writes paused at least 7.2s (settle 6.0s + drain 1.2s behind now; answers, hooks and
    /// the final parity not counted), within max_write_pause 30.0s".
    pub fn line(&self, budget: Option<Duration>) -> String {
        let secs = |d: Duration| format!("{:.1}s", d.as_secs_f64());
        let Some(total) = self.at_least() else {
            return format!(
                "writes paused at least {} (settle) plus the drain, whose lag in seconds is not known now",
                secs(self.settle)
            );
        };
        let drain = self.drain.map(|a| a.label()).unwrap_or_default();
        let mut s = format!(
            "writes paused at least {} (settle {} + drain {drain} behind now; answers, hooks and the final parity not counted)",
            secs(total),
            secs(self.settle)
        );
        match budget {
            Some(b) if total > b => s += &format!(", OVER max_write_pause {}", secs(b)),
            Some(b) => s += &format!(", within max_write_pause {}", secs(b)),
            None => {}
        }
        s
    }
}

impl Estimate {
    /// The estimate in a line of a narrow screen: "writes paused ≥ 7.2s (settle 6.0s + drain
    /// 1.2s), OVER the 5.0s max" (max_write_pause).
    pub fn short(&self, budget: Option<Duration>) -> String {
        let secs = |d: Duration| format!("{:.1}s", d.as_secs_f64());
        let drain = self.drain.map_or("?".into(), |a| a.label());
        let total = self.at_least().map_or("?".into(), secs);
        let mut s = format!("writes paused ≥ {total} (settle {} + drain {drain})", secs(self.settle));
        match (budget, self.at_least()) {
            (Some(b), Some(t)) if t > b => s += &format!(", OVER the {} max", secs(b)),
            (Some(b), _) => s += &format!(", max {}", secs(b)),
            _ => {}
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cutover::engine::{Event, Hook};

    fn wave(extra: &str) -> Wave {
        let text = format!(
            "[source]\nname = \"a\"\nbootstrap = \"a:9092\"\n[target]\nname = \"b\"\nbootstrap = \"b:9092\"\n\
             [[wave]]\nname = \"w1\"\ntopics = [\"orders\"]\n\
             [wave.hooks]\nfreeze_producers = \"true\"\nflip_producers = \"true\"\nstop_consumers = \"true\"\n\
             flip_consumers = \"true\"\nrollback_freeze_producers = \"true\"\n\
             [wave.criteria]\nmax_write_pause = \"30s\"\n{extra}"
        );
        crate::config::parse(std::path::Path::new("t.toml"), &text, &|_| None)
            .unwrap()
            .waves
            .remove(0)
    }

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
    }

    fn hook(state: &mut WaveState, at: u64, step: Step, hook: Hook, done: bool) {
        let action = Action::Hook(hook);
        let detail = String::new();
        state.apply(
            t(at),
            &Event::ActionStarted {
                step,
                action,
                detail: detail.clone(),
            },
        );
        if done {
            state.apply(
                t(at),
                &Event::ActionDone {
                    step,
                    action,
                    detail,
                    output: vec![],
                },
            );
        }
    }

    #[test]
    fn the_write_pause_runs_from_the_freeze_to_the_flip_and_breaches_its_budget() {
        let w = wave("auto_rollback = true\n");
        let mut s = WaveState::new(&w);
        assert_eq!(pause(&s, &w, Paused::Writes), None);
        hook(&mut s, 10, Step::FreezeProducers, Hook::FreezeProducers, true);
        let p = pause(&s, &w, Paused::Writes).unwrap();
        assert_eq!((p.began, p.ended), (t(10), None));
        assert_eq!(p.label(t(22)), "writes paused 12.0s of 30.0s");
        assert_eq!(pause_breach(&s, &w, t(40)), None, "at 30 s, not past it");
        let (text, rolls_back) = pause_breach(&s, &w, t(41)).unwrap();
        assert!(
            text.contains("writes paused 31.0s of 30.0s (max_write_pause)"),
            "{text}"
        );
        assert!(rolls_back);
        // No budget for reads: no breach however long.
        hook(&mut s, 12, Step::StopConsumers, Hook::StopConsumers, true);
        assert_eq!(
            pause(&s, &w, Paused::Reads).unwrap().label(t(100)),
            "reads paused 88.0s"
        );
        // The flip ends the write pause: its clock stops.
        hook(&mut s, 20, Step::FlipProducers, Hook::FlipProducers, true);
        let p = pause(&s, &w, Paused::Writes).unwrap();
        assert_eq!(p.ended, Some(t(20)));
        assert_eq!(p.label(t(100)), "writes were paused 10.0s of 30.0s");
        assert_eq!(pause_breach(&s, &w, t(100)), None);
    }

    #[test]
    fn the_plan_estimates_settle_plus_drain_against_the_budget() {
        use crate::model::lag_time::{Age, AgeHow};
        let drain = Age {
            age: Duration::from_millis(1_200),
            how: AgeHow::Exact,
        };
        let e = Estimate {
            settle: Duration::from_secs(6),
            drain: Some(drain),
        };
        assert_eq!(e.at_least(), Some(Duration::from_millis(7_200)));
        assert!(e
            .line(Some(Duration::from_secs(30)))
            .ends_with("within max_write_pause 30.0s"));
        assert!(e
            .line(Some(Duration::from_secs(5)))
            .contains("OVER max_write_pause 5.0s"));
        let unknown = Estimate { drain: None, ..e };
        assert_eq!(unknown.at_least(), None);
        assert!(unknown.line(None).contains("not known"));
    }

    #[test]
    fn a_rollback_ends_the_pause_and_never_asks_for_another_rollback() {
        let w = wave("auto_rollback = true\n");
        let mut s = WaveState::new(&w);
        hook(&mut s, 10, Step::FreezeProducers, Hook::FreezeProducers, true);
        s.apply(
            t(45),
            &Event::RollbackStarted {
                steps: vec![Step::UndoFreezeProducers],
            },
        );
        let (text, rolls_back) = pause_breach(&s, &w, t(46)).unwrap();
        assert!(text.ends_with("the rollback is running"), "{text}");
        assert!(!rolls_back);
        hook(
            &mut s,
            47,
            Step::UndoFreezeProducers,
            Hook::RollbackFreezeProducers,
            true,
        );
        assert_eq!(pause(&s, &w, Paused::Writes).unwrap().ended, Some(t(47)));
        assert_eq!(pause_breach(&s, &w, t(60)), None);
        // Without auto_rollback: the alarm only.
        let w = wave("");
        let mut s = WaveState::new(&w);
        hook(&mut s, 10, Step::FreezeProducers, Hook::FreezeProducers, false);
        assert_eq!(pause_breach(&s, &w, t(41)).map(|(_, r)| r), Some(false));
    }
}
