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

mod crash_and_resume {
    //! A wave driven to its end over fake clusters, its journal then cut at every entry (and
    //! with a torn last line) as a crash would leave it, each cut resumed by a new driver: the
    //! final state is the same, no step is skipped, and each partition's offset is written at
    //! most once per cluster, whether the crash came before or after a write it journaled.

    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::rc::Rc;

    use crate::config::{Config, Strategy};
    use crate::cutover::checks::{Answer, Settle};
    use crate::cutover::clusters::Clusters;
    use crate::cutover::commits::Offsets;
    use crate::cutover::driver::{Driver, Operator, Outcome};
    use crate::cutover::engine::{self, Action, Check, Event, Finish, OffsetMove, PartitionEnd, Resolved, Side, Step};
    use crate::cutover::journal;
    use crate::error::Result;
    use crate::jobs::CancelToken;
    use crate::kafka::write::{CommitError, OffsetChange};
    use crate::model::translation::{GroupPartitionTranslation, Outcome as Translation, Translated};

    const GROUP: &str = "billing";
    /// The fake translation: target offset = source offset + SHIFT (and back).
    const SHIFT: i64 = 5;
    /// Records the group reads on the target once its consumers moved there.
    const READ_ON_TARGET: i64 = 3;

    /// What happened on the clusters, each tagged with how many journal entries there were
    /// when it happened (a crash after that many entries may come before or after it).
    #[derive(Debug, Clone, PartialEq)]
    enum Effect {
        Write { side: Side, changes: Vec<OffsetChange> },
        ReadOnTarget,
    }

    #[derive(Debug, Clone, Default, PartialEq)]
    struct World {
        committed: BTreeMap<Side, Offsets>,
        read_on_target: bool,
    }

    impl World {
        fn start() -> World {
            let source: Offsets = [(("orders".to_string(), 0), 40), (("orders".to_string(), 1), 52)].into();
            World {
                committed: [(Side::Source, source), (Side::Target, Offsets::new())].into(),
                read_on_target: false,
            }
        }

        fn apply(&mut self, effect: &Effect) {
            match effect {
                Effect::Write { side, changes } => {
                    let offsets = self.committed.entry(*side).or_default();
                    for c in changes {
                        offsets.insert((c.topic.clone(), c.partition), c.new);
                    }
                }
                Effect::ReadOnTarget => {
                    self.read_on_target = true;
                    for o in self.committed.entry(Side::Target).or_default().values_mut() {
                        *o += READ_ON_TARGET;
                    }
                }
            }
        }
    }

    struct Shared {
        world: World,
        effects: Vec<(usize, Effect)>,
        journal: std::path::PathBuf,
    }

    /// Every check met at once; the consumers read a few records on the target the first
    /// time their groups are looked at there.
    struct Fake(Rc<RefCell<Shared>>);

    impl Fake {
        fn effect(&self, effect: Effect) {
            let mut s = self.0.borrow_mut();
            let entries = journal::read(&s.journal).unwrap().len();
            s.world.apply(&effect);
            s.effects.push((entries, effect));
        }
    }

    impl Clusters for Fake {
        fn resolve(&mut self, _wave: &crate::config::Wave) -> Result<Resolved> {
            Ok(Resolved {
                topics: vec!["orders".into()],
                groups: vec![GROUP.into()],
                ..Default::default()
            })
        }

        fn check(&mut self, check: Check, _: &engine::WaveState, _: &mut Settle, _: &CancelToken) -> Result<Answer> {
            if check == Check::GroupsStableOnTarget && !self.0.borrow().world.read_on_target {
                self.effect(Effect::ReadOnTarget);
            }
            Ok(Answer::Met(format!("{} met", check.label())))
        }

        fn target_ends(&mut self, _topics: &[String], _fresh: bool) -> Result<Vec<PartitionEnd>> {
            Ok(vec![PartitionEnd {
                topic: "src.orders".into(),
                partition: 0,
                offset: 100,
            }])
        }

        fn source_ends(&mut self, _topics: &[String]) -> Result<Vec<PartitionEnd>> {
            Ok(vec![])
        }

        fn committed(&mut self, on: Side, _group: &str) -> Result<Offsets> {
            Ok(self.0.borrow().world.committed.get(&on).cloned().unwrap_or_default())
        }

        fn translate(
            &mut self,
            _: &str,
            committed: &Offsets,
            _: &CancelToken,
        ) -> Result<Vec<GroupPartitionTranslation>> {
            Ok(committed
                .iter()
                .map(|((topic, partition), c)| GroupPartitionTranslation {
                    source_topic: topic.clone(),
                    target_topic: format!("src.{topic}"),
                    partition: *partition,
                    committed: *c,
                    checkpoint: None,
                    checkpoint_upstream: None,
                    translation: Translated {
                        committed: *c,
                        anchor: None,
                        outcome: Translation::Exact {
                            target_offset: c + SHIFT,
                            verified_next: true,
                        },
                        walked_over: vec![],
                    },
                })
                .collect())
        }

        fn walk_back(&mut self, _: &str, _: &OffsetMove, at: i64, _: &CancelToken) -> Result<i64> {
            Ok(at - SHIFT)
        }

        fn commit(&mut self, on: Side, _: &str, changes: &[OffsetChange]) -> std::result::Result<(), CommitError> {
            let now = self.0.borrow().world.committed.get(&on).cloned().unwrap_or_default();
            let moved: Vec<_> = changes
                .iter()
                .filter(|c| now.get(&(c.topic.clone(), c.partition)).copied() != c.expected)
                .collect();
            assert!(
                moved.is_empty(),
                "a commit expected offsets that are not there: {moved:?}"
            );
            self.effect(Effect::Write {
                side: on,
                changes: changes.to_vec(),
            });
            Ok(())
        }

        fn rollback_breach(&mut self, _: &crate::config::Wave, _: &engine::WaveState) -> Option<String> {
            None
        }
    }

    struct Yes;

    impl Operator for Yes {
        fn typed(&mut self, _: &str, _: &[String], _: &str) -> bool {
            true
        }
        fn yes_no(&mut self, _: &str, _: &[String]) -> bool {
            true
        }
        fn say(&mut self, _: &str) {}
    }

    fn config(dir: &std::path::Path, strategy: Strategy) -> Config {
        let text = format!(
            "[source]\nname = \"a\"\nbootstrap = \"127.0.0.1:1\"\n[target]\nname = \"b\"\nbootstrap = \"127.0.0.1:2\"\n\
             [replication]\nsource_alias = \"src\"\n\
             [cutover]\njournal = \"{}\"\n[[wave]]\nname = \"w1\"\ntopics = [\"orders\"]\ngroups = [\"billing\"]\n\
             strategy = \"{}\"\nconfirm = \"wave\"\n\
             [wave.hooks]\nfreeze_producers = \"true\"\nstop_consumers = \"true\"\nflip_consumers = \"true\"\n\
             flip_producers = \"true\"\nrollback_freeze_producers = \"true\"\nrollback_stop_consumers = \"true\"\n\
             rollback_flip_consumers = \"true\"\nrollback_flip_producers = \"true\"\n",
            dir.join("w.journal").display(),
            strategy.name()
        );
        crate::config::parse(std::path::Path::new("t.toml"), &text, &|_| None).unwrap()
    }

    /// Drives the wave to its end (then, with `rollback`, rolls it back), whatever point its
    /// journal is at.
    fn drive_to_end(config: &Config, shared: &Rc<RefCell<Shared>>, rollback: bool) -> engine::WaveState {
        let wave = &config.waves[0];
        // The previous driver's journal lock can outlive it for a moment: another test of this
        // process forking a hook (`sh -c`) holds a copy of the descriptor until its exec.
        let started = std::time::Instant::now();
        let mut driver = loop {
            match Driver::with_clusters(config, wave, false, Box::new(Fake(shared.clone()))) {
                Err(e) if e.message.contains("drives this cutover") && started.elapsed().as_secs() < 5 => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                other => break other.unwrap(),
            }
        };
        let mut op = Yes;
        // Driving a rolled-back wave starts it again (a new run): a rollback that had finished
        // before the crash is left as it is.
        if rollback && driver.state().rolled_back(wave) {
            return driver.state().clone();
        }
        let mut outcome = driver.drive(&mut op).unwrap();
        if rollback && outcome == Outcome::Finished(Finish::Done) {
            assert!(driver.start_rollback(&mut op).unwrap());
            outcome = driver.drive(&mut op).unwrap();
        }
        let finish = if rollback { Finish::RolledBack } else { Finish::Done };
        assert_eq!(outcome, Outcome::Finished(finish));
        driver.state().clone()
    }

    /// What a run must agree on, without its times.
    fn essence(s: &engine::WaveState) -> impl PartialEq + std::fmt::Debug {
        let actions: Vec<(Step, Action, bool)> = s
            .actions
            .iter()
            .map(|((step, action), a)| (*step, *action, matches!(a, engine::ActionState::Done { .. })))
            .collect();
        (
            s.topics.clone(),
            s.groups.clone(),
            s.steps.clone(),
            s.commits.clone(),
            actions,
            s.target_writes_began.clone(),
            s.target_writes_stopped.clone(),
        )
    }

    /// The (step, action) of each ActionDone, in journal order, each once.
    fn done_order(entries: &[journal::Entry]) -> Vec<(Step, Action)> {
        let mut out = Vec::new();
        for e in entries {
            if let Event::ActionDone { step, action, .. } = &e.event {
                if !out.contains(&(*step, *action)) {
                    out.push((*step, *action));
                }
            }
        }
        out
    }

    fn writes_per_partition(effects: &[Effect]) -> BTreeMap<(Side, String, i32), usize> {
        let mut out = BTreeMap::new();
        for e in effects {
            if let Effect::Write { side, changes } = e {
                for c in changes {
                    *out.entry((*side, c.topic.clone(), c.partition)).or_default() += 1;
                }
            }
        }
        out
    }

    fn crash_everywhere(strategy: Strategy, rollback: bool) {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), strategy);
        let path = dir.path().join("w.journal");
        let full = Rc::new(RefCell::new(Shared {
            world: World::start(),
            effects: vec![],
            journal: path.clone(),
        }));
        let final_state = drive_to_end(&config, &full, rollback);
        let (final_world, effects) = {
            let s = full.borrow();
            (s.world.clone(), s.effects.clone())
        };
        let written = writes_per_partition(&effects.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>());
        assert!(written.values().all(|n| *n == 1), "{written:?}");
        let expected_writes = if rollback { 4 } else { 2 };
        assert_eq!(written.len(), expected_writes, "{written:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let full_order = done_order(&journal::read(&path).unwrap());

        let mut resumed = 0;
        for cut in 0..=lines.len() {
            let torn = lines.get(cut).map(|l| &l[..l.len() / 2]);
            // A crash just after entry `cut` was journaled may come before or after an effect
            // that followed it (a write and its `Committed` entry are two things).
            let pending: Vec<&Effect> = effects.iter().filter(|(n, _)| *n == cut).map(|(_, e)| e).collect();
            let variants: Vec<bool> = if pending.is_empty() {
                vec![false]
            } else {
                vec![false, true]
            };
            for tear in [None, torn].into_iter().collect::<std::collections::BTreeSet<_>>() {
                for &after_effect in &variants {
                    let mut prefix: String = lines[..cut].iter().map(|l| format!("{l}\n")).collect();
                    prefix.push_str(tear.unwrap_or(""));
                    std::fs::write(&path, &prefix).unwrap();
                    let mut world = World::start();
                    let mut before: Vec<Effect> = Vec::new();
                    for (n, e) in &effects {
                        if *n < cut || (*n == cut && after_effect) {
                            world.apply(e);
                            before.push(e.clone());
                        }
                    }
                    let shared = Rc::new(RefCell::new(Shared {
                        world,
                        effects: vec![],
                        journal: path.clone(),
                    }));
                    let what = format!(
                        "{strategy:?}, cut after {cut} entries, torn {}, after effect {after_effect}",
                        tear.is_some()
                    );
                    let state = drive_to_end(&config, &shared, rollback);
                    assert_eq!(essence(&state), essence(&final_state), "{what}");
                    let s = shared.borrow();
                    assert_eq!(s.world, final_world, "{what}");
                    let all: Vec<Effect> = before
                        .into_iter()
                        .chain(s.effects.iter().map(|(_, e)| e.clone()))
                        .collect();
                    let per = writes_per_partition(&all);
                    assert!(per.values().all(|n| *n <= 1), "{what}: written twice: {per:?}");
                    assert_eq!(
                        done_order(&journal::read(&path).unwrap()),
                        full_order,
                        "{what}: a step skipped or reordered"
                    );
                    resumed += 1;
                }
            }
        }
        assert!(
            resumed > 2 * lines.len(),
            "{resumed} resumes for {} entries",
            lines.len()
        );
    }

    #[test]
    fn stop_the_world_resumed_after_a_crash_at_any_entry_commits_each_offset_once() {
        crash_everywhere(Strategy::StopTheWorld, false);
    }

    #[test]
    fn consumers_first_resumed_after_a_crash_at_any_entry_commits_each_offset_once() {
        crash_everywhere(Strategy::ConsumersFirst, false);
    }

    #[test]
    fn a_rollback_resumed_after_a_crash_at_any_entry_commits_each_offset_back_once() {
        crash_everywhere(Strategy::StopTheWorld, true);
        crash_everywhere(Strategy::ConsumersFirst, true);
    }
}
