//! The driver without brokers: its questions, and journals cut at every entry then resumed
//! (never a commit twice), over a fake of `Clusters`.

use super::driver::*;
use super::engine::{self, Action, Check, Event, Step};
use super::journal::Journal;
use crate::config::Strategy;
use crate::model::Snapshot;

/// Records the questions asked and answers no to every one.
#[derive(Default)]
struct Declining {
    asked: Vec<(String, Vec<String>)>,
}

impl Operator for Declining {
    fn typed(&mut self, question: &str, details: &[String], _expected: &str) -> bool {
        self.asked.push((question.into(), details.to_vec()));
        false
    }
    fn yes_no(&mut self, question: &str, details: &[String]) -> bool {
        self.asked.push((question.into(), details.to_vec()));
        false
    }
    fn say(&mut self, _line: &str) {}
}

/// A wave whose journal says it was rolled back is started again as a new run when driven:
/// the start's typed confirmation says so (before, `s` on it did nothing, silently).
#[test]
fn a_rolled_back_wave_is_offered_a_new_run() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("w.journal");
    let text = format!(
        "[source]\nname = \"a\"\nbootstrap = \"127.0.0.1:1\"\n[target]\nname = \"b\"\nbootstrap = \"127.0.0.1:2\"\n\
         [cutover]\njournal = \"{}\"\n[[wave]]\nname = \"w1\"\ntopics = [\"orders\"]\nconfirm = \"wave\"\n\
         [wave.hooks]\nfreeze_producers = \"true\"\nrollback_freeze_producers = \"true\"\n",
        journal.display()
    );
    let config = crate::config::parse(std::path::Path::new("t.toml"), &text, &|_| None).unwrap();
    let wave = &config.waves[0];
    {
        // Started, producers frozen, then rolled back: the journal of a finished rollback.
        let mut j = Journal::open(&journal, false).unwrap();
        let events = [
            Event::WaveStarted {
                strategy: Strategy::StopTheWorld,
                topics: vec!["orders".into()],
                groups: vec![],
            },
            Event::ActionStarted {
                step: Step::Preflight,
                action: Action::Wait(Check::Preflight),
                detail: String::new(),
            },
            Event::ActionDone {
                step: Step::Preflight,
                action: Action::Wait(Check::Preflight),
                detail: String::new(),
                output: vec![],
            },
            Event::ActionStarted {
                step: Step::FreezeProducers,
                action: Action::Hook(engine::Hook::FreezeProducers),
                detail: String::new(),
            },
            Event::ActionDone {
                step: Step::FreezeProducers,
                action: Action::Hook(engine::Hook::FreezeProducers),
                detail: String::new(),
                output: vec![],
            },
            Event::RollbackStarted {
                steps: vec![Step::UndoFreezeProducers],
            },
            Event::ActionStarted {
                step: Step::UndoFreezeProducers,
                action: Action::Hook(engine::Hook::RollbackFreezeProducers),
                detail: String::new(),
            },
            Event::ActionDone {
                step: Step::UndoFreezeProducers,
                action: Action::Hook(engine::Hook::RollbackFreezeProducers),
                detail: String::new(),
                output: vec![],
            },
        ];
        for e in events {
            j.append("w1", e).unwrap();
        }
    }
    let mut driver = Driver::new(&config, wave, false, Box::new(|| Ok(Snapshot::default()))).unwrap();
    assert!(driver.state().rolled_back(wave));
    let mut op = Declining::default();
    let outcome = driver.drive(&mut op).unwrap();
    assert_eq!(outcome, Outcome::Declined { step: Step::Preflight });
    let (question, details) = &op.asked[0];
    assert_eq!(question, "Start wave w1 again? Type its name to confirm");
    assert!(
        details.iter().any(|d| d.starts_with("it was rolled back at ")),
        "{details:?}"
    );
    // Declined: nothing journaled, the wave stays rolled back.
    assert!(driver.state().rolled_back(wave));
}
