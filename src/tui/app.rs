//! The cockpit's state and `update`: one `Msg` in, new state and `Effect`s out. No I/O here:
//! the terminal loop runs the effects and feeds their results back as messages.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keys::{self, Action, Screen, Top};
use super::theme::Theme;
use crate::config::Config;
use crate::model::events::{Event, EventLog, Level, Observer};
use crate::model::groups::{self, GroupPartition, GroupRow};
use crate::model::inventory::{self, TopicDiff};
use crate::model::mapping::MappingRows;
use crate::model::overview::{self, LagHistory, PartitionRows, TopicPair};
use crate::model::translation::{GroupPartitionTranslation, GroupTranslation};
use crate::model::validation::{self, Board, ValidationRow, ValidationRows};
use crate::model::Snapshot;
use crate::validate::job::{Request, Scope, Update};
use crate::validate::Verdict;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Overview,
    /// One topic pair, by its source name.
    Topic(String),
    Groups,
    Group(String),
    Inventory,
    Log,
    Mapping,
    Validation,
    /// One partition's validation: the first mismatch in detail, and its history.
    ValidationPartition(String, i32),
    /// The cutover plan: waves, their steps, the journal.
    Cutover,
}

impl View {
    pub fn title(&self) -> String {
        match self {
            View::Overview => "Overview".into(),
            View::Topic(t) => format!("Topic {t}"),
            View::Groups => "Groups".into(),
            View::Group(g) => format!("Group {g}"),
            View::Inventory => "Inventory diff".into(),
            View::Log => "Log".into(),
            View::Mapping => "Offset mapping".into(),
            View::Validation => "Validation".into(),
            View::ValidationPartition(t, p) => format!("Validation {t}/{p}"),
            View::Cutover => "Cutover".into(),
        }
    }

    /// The view a top-level key or command opens.
    pub fn top(top: Top) -> View {
        match top {
            Top::Overview => View::Overview,
            Top::Groups => View::Groups,
            Top::Inventory => View::Inventory,
            Top::Log => View::Log,
            Top::Mapping => View::Mapping,
            Top::Validation => View::Validation,
            Top::Cutover => View::Cutover,
        }
    }

    pub fn screen(&self) -> Screen {
        match self {
            View::Overview | View::Validation => Screen::TopicList,
            View::Topic(_) | View::ValidationPartition(..) => Screen::Topic,
            View::Groups => Screen::DrillableList,
            View::Group(_) => Screen::Group,
            View::Inventory | View::Log | View::Mapping => Screen::List,
            View::Cutover => Screen::Cutover,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    view: View,
    selected: usize,
}

/// Everything that reaches the cockpit, from the terminal, the clock and the background jobs.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// A new snapshot from the monitor, and when it arrived.
    Snapshot(Snapshot, SystemTime),
    /// Time passed: ages grow, clusters may turn stale.
    Tick(SystemTime),
    /// A group's exact translation finished.
    Translation {
        group: String,
        result: crate::error::Result<Vec<GroupPartitionTranslation>>,
    },
    /// News from the background validation.
    Validation(Update),
    /// The terminal changed size: nothing to update, the next frame fits it.
    Resize,
    /// Text pasted (bracketed paste): literal text for the open prompt, never keystrokes.
    Paste(String),
    /// The cutover journal as it is now, and who drives (another process), if anyone.
    Journal {
        entries: Vec<crate::cutover::journal::Entry>,
        driver: Option<String>,
        /// That driver's newest progress line, and when it was written.
        live: Option<(crate::cutover::engine::Said, SystemTime)>,
    },
    /// News from the cutover this cockpit drives.
    Cutover(CutoverNews),
    /// A demo fault happened (or could not).
    FaultDone(crate::error::Result<crate::demo::FaultDone>),
    /// Alarms the journal could not take (a drive holds it): tried again later.
    AlarmsNotJournaled(Vec<(String, String)>),
}

/// Whether the journal's lock is held by a detached driver, which a drive started here takes
/// the wave over from.
fn holds_detached(lock_text: &str) -> bool {
    crate::cutover::handover::holder(lock_text).is_some_and(|h| h.detached)
}

/// What the cockpit's cutover driver says.
#[derive(Debug, Clone, PartialEq)]
pub enum CutoverNews {
    /// Progress (a check's figures, a hook's output), as data.
    Said(crate::cutover::engine::Said),
    /// A question: the answer goes back as `CutoverOp::Answer`. `typed`: the words to type.
    Ask {
        question: String,
        details: Vec<String>,
        typed: Option<String>,
    },
    /// The drive ended (finished, stopped, paused, declined) or could not start.
    Ended {
        wave: String,
        result: crate::error::Result<crate::cutover::driver::Outcome>,
    },
}

/// The dangerous operations of the cutover engine: the one enum every key goes through, and
/// every one asked about (by the driver) in the one confirmation dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CutoverOp {
    /// Start or resume a wave (the driver asks for the typed name before a start).
    Start { wave: String, dry_run: bool },
    /// Roll a wave back (the driver asks for the typed name). `breach`: the rollback criteria
    /// were breached and the plan says auto_rollback: it rolls back by itself.
    Rollback { wave: String, breach: Option<String> },
    /// No new step starts; waits are interrupted; a running hook finishes first.
    Pause,
    /// The answer to the driver's question.
    Answer(bool),
}

/// What the cockpit asks the terminal loop to do; the loop owns every job and all I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Translate a group's committed offsets exactly (reads both clusters).
    Translate { group: String },
    /// Ask the validation job for a run.
    Validate(Request),
    /// Drive the cutover.
    Cutover(CutoverOp),
    /// Break something in `cutover demo` on purpose (a name from its fault menu).
    Fault(String),
    /// Record alarms in the journal, and tell the notify command: (wave, text).
    JournalAlarms(Vec<(String, String)>),
}

/// What a line of input is being typed into, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    None,
    Command(String),
    Filter(String),
    /// A question that guards an effect.
    Confirm(Confirmation),
}

/// The facts a confirmation was asked on, checked again when it is accepted: if they changed,
/// the effect does not run and the user is asked to look again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// The partitions the effect covers.
    Partitions(Vec<(String, i32)>),
    /// Nothing to check again (the driver checks what it asked about itself).
    Nothing,
}

/// A question that carries the effect it guards. What it shows is computed once, when it is
/// asked, and stays as it was while the user reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub question: String,
    /// Exactly what the effect will do, one line each.
    pub details: Vec<String>,
    pub effect: Effect,
    pub basis: Basis,
    /// Typed acceptance: the words the user must type, then Enter. None: y accepts.
    pub typed: Option<String>,
    /// What has been typed so far (typed acceptance only).
    pub entered: String,
    /// What runs when the question is declined (the driver must hear "no" too).
    pub on_cancel: Option<Effect>,
}

impl Confirmation {
    /// How to answer, for the dialog's last line.
    pub fn answer_hint(&self) -> String {
        match &self.typed {
            Some(words) => format!("type `{words}` and Enter to go on; Esc cancels"),
            None => "y goes on; N, Esc or any other key cancels".into(),
        }
    }
}

/// The rows of the current view, filtered: computed once per frame from the snapshot by the
/// model's functions, so the headless commands and the TUI show the same figures.
pub enum Rows {
    /// The topic pairs, and each topic's latest validation result.
    Topics(Vec<TopicPair>, BTreeMap<String, validation::Status>),
    Partitions(Option<TopicPair>, PartitionRows),
    Groups(crate::error::Result<Vec<GroupRow>>),
    GroupPartitions(Vec<GroupPartition>),
    Inventory(Vec<TopicDiff>),
    Log(Vec<Event>),
    Mapping(MappingRows),
    Validation(ValidationRows),
    /// One partition's results, newest first.
    ValidationResults(ValidationRow, Vec<(u64, SystemTime, crate::validate::run::Row)>),
    /// The waves of the plan, as the journal tells them.
    Waves(Vec<crate::cutover::engine::WaveState>),
}

impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::Topics(v, _) => v.len(),
            Rows::Partitions(_, v) => v.len(),
            Rows::Groups(v) => v.as_ref().map_or(0, Vec::len),
            Rows::GroupPartitions(v) => v.len(),
            Rows::Inventory(v) => v.len(),
            Rows::Log(v) => v.len(),
            Rows::Mapping(v) => v.len(),
            Rows::Validation(v) => v.len(),
            Rows::ValidationResults(_, v) => v.len(),
            Rows::Waves(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct App {
    pub config: Arc<Config>,
    pub theme: Theme,
    pub snapshot: Snapshot,
    pub now: SystemTime,
    stack: Vec<Place>,
    pub input: Input,
    /// The applied filter of the current view ("" = none).
    pub filter: String,
    pub show_help: bool,
    pub events: EventLog,
    observer: Observer,
    pub lag_history: LagHistory,
    /// Body rows that fit on screen, for paging (set by the terminal loop on resize).
    pub page: usize,
    pub quit: bool,
    /// A one-line message under the table (e.g. an unknown command).
    pub flash: Option<String>,
    /// Exact translations of groups, by group: asked for, and the answer when it came.
    pub translations: BTreeMap<String, GroupTranslation>,
    /// What the background validation found so far.
    pub validation: Board,
    /// `--read-only`: the key table has no dangerous binding.
    pub read_only: bool,
    /// The cutover: the journal as last read, and what this cockpit drives.
    pub cutover: CutoverPanel,
    /// Effects asked for while handling the current message.
    effects: Vec<Effect>,
    /// `cutover demo`'s fault menu (name, what it does); empty outside the demo.
    pub faults: Vec<(String, String)>,
    /// `cutover demo`'s applications: what their consumers saw.
    pub demo_status: Option<String>,
    /// Bumped by every message that may change what a view shows; a tick that only moves the
    /// clock does not.
    state_version: u64,
    /// The current view's rows and what they were derived from: a frame drawn for the clock
    /// alone reuses them (at 25,000 partitions deriving them is the costly part of a frame).
    rows_cache: Mutex<Option<(RowsKey, Arc<Rows>)>>,
    /// Bumped by every snapshot whose figures differ from the one before.
    figures_version: u64,
    /// The overview's per-topic figures and what they were derived from (the figures by
    /// version, each cluster's health): derived once per changed poll for the lag trend, the
    /// Overview and the Topic view alike.
    pairs_cache: Mutex<Option<(PairsKey, Arc<Vec<TopicPair>>)>>,
    /// How many times rows were derived (tests count them).
    pub derivations: std::sync::atomic::AtomicU64,
}

/// One alarm a wave raises now: which kind (one of each per wave at a time), what it says,
/// and whether it rolls the wave back by itself.
struct Breach {
    wave: String,
    kind: &'static str,
    text: String,
    auto: bool,
}

impl Breach {
    fn new(wave: &crate::config::Wave, kind: &'static str, text: String, auto: bool) -> Breach {
        Breach {
            wave: wave.name.clone(),
            kind,
            text,
            auto,
        }
    }
}

/// What a view's rows depend on: the state (by version), the view, its filter, and whether
/// each cluster is live (the only thing in them that changes with the clock).
#[derive(Debug, Clone, PartialEq)]
struct RowsKey {
    state_version: u64,
    view: View,
    filter: String,
    health: [std::mem::Discriminant<crate::model::Health>; 2],
}

type PairsKey = (u64, [std::mem::Discriminant<crate::model::Health>; 2]);

/// What the Cutover view shows.
#[derive(Debug, Default)]
pub struct CutoverPanel {
    pub entries: Vec<crate::cutover::journal::Entry>,
    /// Another process drives (this cockpit observes): who, since when.
    pub driver: Option<String>,
    /// That driver's newest progress line (the current check's figures), and its time.
    pub live: Option<(crate::cutover::engine::Said, SystemTime)>,
    /// The wave this cockpit drives now.
    pub driving: Option<String>,
    pub pause_requested: bool,
    /// The driver's progress lines, newest last.
    pub lines: std::collections::VecDeque<crate::cutover::engine::Said>,
    /// Rollback criteria breached now: (wave, what), for the alarm on every view.
    pub alarms: Vec<(String, String)>,
    /// A wave this cockpit drives whose pause budget was breached with auto_rollback: its drive
    /// is being stopped, and the rollback starts when it has (wave, the breach).
    pub rollback_when_stopped: Option<(String, String)>,
    /// When each alarm now raised was first seen, by (wave, kind).
    pub alarm_since: std::collections::HashMap<(String, String), SystemTime>,
    /// Alarms to journal once no drive holds the journal: (wave, text).
    pub unjournaled: Vec<(String, String)>,
    /// Each wave that may start now (not started, or rolled back): its go/no-go on the newest
    /// snapshot.
    pub go: BTreeMap<String, crate::cutover::go::GoNoGo>,
}

impl CutoverPanel {
    /// The pause clocks running now, wave by wave (the header shows them on every view).
    pub fn running_pauses(&self, config: &Config) -> Vec<(String, crate::cutover::pause::Pause)> {
        config
            .waves
            .iter()
            .zip(self.waves(config))
            .flat_map(|(w, s)| {
                crate::cutover::pause::pauses(&s, w)
                    .into_iter()
                    .filter(|p| p.running())
                    .map(move |p| (w.name.clone(), p))
            })
            .collect()
    }

    /// Every wave of the plan, folded from the journal.
    pub fn waves(&self, config: &Config) -> Vec<crate::cutover::engine::WaveState> {
        config
            .waves
            .iter()
            .map(|w| crate::cutover::journal::wave_state(&self.entries, w))
            .collect()
    }
}

impl App {
    /// `snapshot`: the monitor's first one (it names the clusters before any poll ends).
    pub fn new(config: Arc<Config>, theme: Theme, snapshot: Snapshot, now: SystemTime) -> App {
        App {
            config,
            theme,
            snapshot,
            now,
            stack: vec![Place {
                view: View::Overview,
                selected: 0,
            }],
            input: Input::None,
            filter: String::new(),
            show_help: false,
            events: EventLog::new(1_000),
            observer: Observer::default(),
            lag_history: LagHistory::default(),
            page: 10,
            quit: false,
            flash: None,
            translations: BTreeMap::new(),
            validation: Board::default(),
            read_only: false,
            cutover: CutoverPanel::default(),
            effects: Vec::new(),
            faults: Vec::new(),
            demo_status: None,
            state_version: 0,
            rows_cache: Mutex::new(None),
            figures_version: 0,
            pairs_cache: Mutex::new(None),
            derivations: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The one way in: handles a message and returns the effects it asks for.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let events_before = self.events.pushed();
        let changes_state = match &msg {
            Msg::Tick(_) => false,
            // A poll that changed no figure changes no row (a cluster turning live or stale
            // is in the rows' key).
            Msg::Snapshot(snapshot, _) => !self.snapshot.same_figures(snapshot),
            Msg::Journal { entries, driver, live } => {
                entries != &self.cutover.entries || driver != &self.cutover.driver || live != &self.cutover.live
            }
            _ => true,
        };
        if changes_state {
            self.state_version += 1;
            if matches!(msg, Msg::Snapshot(..)) {
                self.figures_version += 1;
            }
        }
        let effects = self.handle(msg);
        if self.events.pushed() != events_before {
            self.state_version += 1;
        }
        effects
    }

    fn handle(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Snapshot(snapshot, now) => self.on_snapshot(snapshot, now),
            Msg::Tick(now) => self.on_tick(now),
            Msg::Translation { group, result } => self.on_translation(&group, result),
            Msg::Validation(update) => self.on_validation(update),
            Msg::Resize => {}
            Msg::Paste(text) => self.on_paste(&text),
            Msg::Journal { entries, driver, live } => {
                // New entries go to the event log too: the journal is the audit log.
                let known = self.cutover.entries.len();
                if entries.len() > known && entries.get(..known) == Some(&self.cutover.entries[..]) {
                    for e in &entries[known..] {
                        let level = match e.event {
                            crate::cutover::engine::Event::ActionFailed { .. } => Level::Error,
                            _ => Level::Info,
                        };
                        self.events.push(Event {
                            at: e.time(),
                            level,
                            text: format!("cutover: {}", e.describe()),
                        });
                    }
                }
                let grew = entries.len() != self.cutover.entries.len();
                self.cutover.entries = entries;
                self.cutover.driver = driver;
                self.cutover.live = live;
                if grew {
                    // A wave started or ended: which waves may start changed.
                    self.evaluate_go_no_go();
                }
            }
            Msg::Cutover(news) => self.on_cutover(news),
            Msg::FaultDone(result) => self.on_fault_done(result),
            Msg::AlarmsNotJournaled(alarms) => self.cutover.unjournaled.extend(alarms),
        }
        std::mem::take(&mut self.effects)
    }

    /// A paste goes into an open `/` or `:` prompt as text (line breaks and tabs become
    /// spaces); anywhere else it is ignored, since it is not keys a person pressed.
    fn on_paste(&mut self, pasted: &str) {
        let clean: String = pasted.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        match std::mem::replace(&mut self.input, Input::None) {
            Input::Command(text) => self.set_input(text + &clean, true),
            Input::Filter(text) => self.set_input(text + &clean, false),
            other => {
                self.input = other;
                self.flash = Some("paste ignored: press / or : first to paste into a prompt".into());
            }
        }
    }

    /// The key bindings of the current view (without the dangerous ones in read-only mode).
    pub fn bindings(&self) -> Vec<keys::Binding> {
        keys::bindings(self.view().screen(), self.read_only)
    }

    pub fn view(&self) -> &View {
        &self.stack.last().expect("stack never empty").view
    }

    pub fn selected(&self) -> usize {
        self.stack.last().expect("stack never empty").selected
    }

    /// The view names from the root to here, for the breadcrumb line.
    pub fn breadcrumbs(&self) -> Vec<String> {
        self.stack.iter().map(|p| p.view.title()).collect()
    }

    /// A new snapshot from the monitor.
    fn on_snapshot(&mut self, snapshot: Snapshot, now: SystemTime) {
        self.snapshot = snapshot;
        self.on_tick(now);
        let pairs = self.topic_pairs();
        if let Some(at) = self.snapshot.source.state().map(|s| s.polled_at) {
            self.lag_history.record(self.snapshot.seq, at, &pairs);
        }
        self.keep_translation_current();
        self.watch_rollback_criteria();
        self.evaluate_go_no_go();
    }

    /// Go/no-go of every wave that may start, on each snapshot (the Cutover view shows it).
    fn evaluate_go_no_go(&mut self) {
        use crate::cutover::engine::{next, Finish, Next};
        let states = self.cutover.waves(&self.config);
        self.cutover.go = self
            .config
            .waves
            .iter()
            .zip(&states)
            .filter(|(w, s)| matches!(next(s, w), Next::Start | Next::Finished(Finish::RolledBack)))
            .map(|(w, _)| {
                let go = crate::cutover::go::go_no_go(&self.snapshot, &self.config, w, &self.validation, self.now);
                (w.name.clone(), go)
            })
            .collect();
    }

    /// Seed 004's rollback trigger, on every snapshot: a breach is an alarm on every view, and
    /// with auto_rollback the wave rolls back by itself (saying so in the log).
    fn watch_rollback_criteria(&mut self) {
        let states = self.cutover.waves(&self.config);
        let breaches: Vec<Breach> = self
            .config
            .waves
            .iter()
            .zip(&states)
            .flat_map(|(w, s)| {
                let lag = crate::cutover::checks::rollback_breach(&self.snapshot, &self.config, w, s, self.now)
                    .map(|text| Breach::new(w, "lag", text, w.criteria.auto_rollback));
                let pause = crate::cutover::pause::pause_breach(s, w, self.now)
                    .map(|(text, rolls_back)| Breach::new(w, "pause", text, rolls_back));
                let strays = crate::cutover::strays::strays(&self.snapshot, &self.config, s, w, self.now)
                    .into_iter()
                    .map(|(kind, text)| Breach::new(w, kind.key(), text, false));
                lag.into_iter().chain(pause).chain(strays).collect::<Vec<_>>()
            })
            .collect();
        let mut since = std::mem::take(&mut self.cutover.alarm_since);
        let mut alarms = Vec::new();
        for b in &breaches {
            let key = (b.wave.clone(), b.kind.to_string());
            let raised_before = since.contains_key(&key);
            let first = *since.entry(key.clone()).or_insert(self.now);
            let text = match b.kind.starts_with("stray") {
                true => format!("{} (since {})", b.text, humantime::format_rfc3339_seconds(first)),
                false => b.text.clone(),
            };
            alarms.push((b.wave.clone(), text.clone()));
            if raised_before {
                continue;
            }
            // Raised now: logged, journaled, and acted on once.
            self.note(Level::Error, text.clone());
            self.cutover.unjournaled.push((b.wave.clone(), text.clone()));
            self.act_on_breach(&b.wave, &text, b.auto);
        }
        since.retain(|key, _| breaches.iter().any(|b| b.wave == key.0 && b.kind == key.1));
        self.cutover.alarm_since = since;
        self.cutover.alarms = alarms;
        // Alarms go into the journal when no drive holds it (a drive journals its own).
        let free = self.cutover.driving.is_none() && self.cutover.driver.is_none();
        if free && !self.read_only && !self.cutover.unjournaled.is_empty() {
            let alarms = std::mem::take(&mut self.cutover.unjournaled);
            self.effects.push(Effect::JournalAlarms(alarms));
        }
    }

    /// A breach that rolls the wave back by itself (auto_rollback): now, or once this cockpit's
    /// drive of it has stopped.
    fn act_on_breach(&mut self, wave: &str, text: &str, auto: bool) {
        if !auto || self.read_only || self.cutover.driver.is_some() {
            return;
        }
        match &self.cutover.driving {
            None => {
                self.note(
                    Level::Warn,
                    format!("wave {wave}: rolling back by itself (auto_rollback = true)"),
                );
                self.cutover.driving = Some(wave.to_string());
                self.effects.push(Effect::Cutover(CutoverOp::Rollback {
                    wave: wave.to_string(),
                    breach: Some(text.to_string()),
                }));
            }
            // Driven here (waiting at a question, or in a step): the drive stops first.
            Some(w) if w == wave && self.cutover.rollback_when_stopped.is_none() => {
                self.note(
                    Level::Warn,
                    format!("wave {wave}: stopping the drive to roll back by itself (auto_rollback = true)"),
                );
                self.cutover.rollback_when_stopped = Some((wave.to_string(), text.to_string()));
                self.cutover.pause_requested = true;
                if matches!(self.input, Input::Confirm(_)) {
                    self.input = Input::None;
                }
                self.effects.push(Effect::Cutover(CutoverOp::Pause));
            }
            Some(_) => {}
        }
    }

    /// The open group's exact translation follows its commits: when the group committed since
    /// the last answer, it is translated again from that answer (only the new records).
    fn keep_translation_current(&mut self) {
        let View::Group(group) = self.view().clone() else {
            return;
        };
        let parts = groups::group_partitions(&self.snapshot, &self.config.replication, &group);
        let committed = |topic: &str, p: i32| {
            parts
                .iter()
                .find(|x| x.source_topic == topic && x.partition == p)
                .and_then(|x| x.source_committed)
        };
        let outdated = self
            .translations
            .get(&group)
            .is_some_and(|t| !t.running && t.outdated(committed));
        if outdated {
            self.request_translation(&group);
        }
    }

    /// Time passed: ages grow, clusters may turn stale.
    fn on_tick(&mut self, now: SystemTime) {
        self.now = now;
        let refresh = self.config.monitor.refresh_interval;
        for e in self.observer.observe(&self.snapshot, now, refresh) {
            tracing::info!(level = e.level.word(), "{}", e.text);
            self.events.push(e);
        }
    }

    /// Asks for a group's exact translation (unless one is already running).
    fn request_translation(&mut self, group: &str) {
        if self.translations.get(group).is_some_and(|t| t.running) {
            return;
        }
        // The previous answer stays shown (and is the next walk's anchor) until the new one.
        let done = self.translations.remove(group).and_then(|t| t.done);
        self.translations.insert(
            group.to_string(),
            GroupTranslation {
                requested_at: self.now,
                running: true,
                done,
            },
        );
        self.effects.push(Effect::Translate {
            group: group.to_string(),
        });
    }

    fn on_translation(&mut self, group: &str, result: crate::error::Result<Vec<GroupPartitionTranslation>>) {
        if let Err(e) = &result {
            self.note(Level::Warn, format!("exact translation of {group} failed: {e}"));
        }
        if let Some(t) = self.translations.get_mut(group) {
            t.done = Some((self.now, result));
            t.running = false;
        }
    }

    /// Asks the background job for a validation run.
    fn request_validation(&mut self, scope: Scope, full: bool) {
        let what = match &scope {
            Scope::All => "every topic".to_string(),
            Scope::Topic(t) => t.clone(),
        };
        let how = if full { "from the start" } else { "new records" };
        self.flash = Some(format!("validation of {what} ({how}) asked for: see 6 Validation"));
        self.effects.push(Effect::Validate(Request { scope, full }));
    }

    /// An update from the background validation; failures also go to the event log.
    fn on_validation(&mut self, update: Update) {
        match &update {
            Update::PartitionDone { row, .. } => match &row.result.verdict {
                Verdict::Fail { mismatch } => self.note(
                    Level::Error,
                    format!(
                        "validation FAIL {}/{}: {}",
                        row.topic,
                        row.partition,
                        mismatch.describe()
                    ),
                ),
                Verdict::Error { reason } => self.note(
                    Level::Warn,
                    format!("validation ERROR {}/{}: {reason}", row.topic, row.partition),
                ),
                _ => {}
            },
            Update::RunFinished {
                run, error: Some(e), ..
            } => self.note(Level::Warn, format!("validation run {run} could not start: {e}")),
            _ => {}
        }
        self.validation.apply(update);
    }

    /// The topic the selected row or the current view is about, if any.
    fn topic_in_view(&self) -> Option<String> {
        match (self.view(), &*self.rows()) {
            (View::Topic(t), _) | (View::ValidationPartition(t, _), _) => Some(t.clone()),
            (_, Rows::Topics(v, _)) => v.get(self.selected()).map(|p| p.source_topic.clone()),
            (_, Rows::Validation(v)) => v.key(self.selected()).map(|(t, _)| t.to_string()),
            _ => None,
        }
    }

    pub fn rebalance_label(&self, side: crate::model::Side, group: &str) -> Option<String> {
        self.observer.rebalances.label(side, group, self.now)
    }

    /// The overview's per-topic figures, derived again only when the figures changed or a
    /// cluster turned live or stale.
    fn topic_pairs(&self) -> Arc<Vec<TopicPair>> {
        let key = (self.figures_version, self.health_discriminants());
        let mut cache = self.pairs_cache.lock().expect("pairs cache");
        if let Some((k, pairs)) = cache.as_ref() {
            if *k == key {
                return pairs.clone();
            }
        }
        let c = &self.config;
        let pairs = Arc::new(overview::topic_pairs(
            &self.snapshot,
            &c.replication,
            &c.topics,
            &c.monitor,
            self.now,
        ));
        *cache = Some((key, pairs.clone()));
        pairs
    }

    /// Whether each cluster is connecting, live, stale or unreachable: the only thing in the
    /// derived figures that changes with the clock.
    fn health_discriminants(&self) -> [std::mem::Discriminant<crate::model::Health>; 2] {
        let (now, refresh) = (self.now, self.config.monitor.refresh_interval);
        [
            std::mem::discriminant(&self.snapshot.source.health(now, refresh)),
            std::mem::discriminant(&self.snapshot.target.health(now, refresh)),
        ]
    }

    /// The current view's rows, derived again only when something they depend on changed.
    pub fn rows(&self) -> Arc<Rows> {
        let key = RowsKey {
            state_version: self.state_version,
            view: self.view().clone(),
            filter: self.filter.clone(),
            health: self.health_discriminants(),
        };
        let mut cache = self.rows_cache.lock().expect("rows cache");
        if let Some((k, rows)) = cache.as_ref() {
            if *k == key {
                return rows.clone();
            }
        }
        self.derivations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rows = Arc::new(self.derive_rows());
        *cache = Some((key, rows.clone()));
        rows
    }

    fn derive_rows(&self) -> Rows {
        let c = &self.config;
        // The `/` filter: a case-insensitive substring, lowered once per derivation.
        let needle = self.filter.to_lowercase();
        let filtering = !needle.is_empty();
        let keep = |name: &str| !filtering || contains_ignoring_case(name, &needle);
        match self.view() {
            View::Overview => Rows::Topics(
                self.topic_pairs()
                    .iter()
                    .filter(|p| keep(&p.source_topic))
                    .cloned()
                    .collect(),
                validation::topic_statuses(&self.snapshot, &self.validation),
            ),
            View::Validation => Rows::Validation(ValidationRows::new(&self.snapshot, &self.validation, |t, s| {
                !filtering || keep(&format!("{t} {}", s.word()))
            })),
            View::ValidationPartition(topic, partition) => {
                let row = validation::row_of(&self.validation, topic, *partition);
                let results = self
                    .validation
                    .partition(topic, *partition)
                    .map(|p| p.results.iter().cloned().collect())
                    .unwrap_or_default();
                Rows::ValidationResults(row, results)
            }
            View::Topic(name) => {
                let pair = self.topic_pairs().iter().find(|p| &p.source_topic == name).cloned();
                let mut digits = String::new();
                let keep_partition = |id: i32| {
                    use std::fmt::Write;
                    !filtering || {
                        digits.clear();
                        let _ = write!(digits, "{id}");
                        keep(&digits)
                    }
                };
                Rows::Partitions(
                    pair,
                    PartitionRows::new(&self.snapshot, &c.replication, name, keep_partition),
                )
            }
            View::Groups => Rows::Groups(
                groups::group_rows(&self.snapshot, &c.groups)
                    .map(|v| v.into_iter().filter(|g| keep(&g.name)).collect()),
            ),
            View::Group(name) => Rows::GroupPartitions(
                groups::group_partitions(&self.snapshot, &c.replication, name)
                    .into_iter()
                    .filter(|p| keep(&p.source_topic))
                    .collect(),
            ),
            View::Inventory => Rows::Inventory(
                inventory::diff(&self.snapshot, &c.replication, &c.topics)
                    .into_iter()
                    .filter(|d| keep(&d.source_topic))
                    .collect(),
            ),
            View::Mapping => Rows::Mapping(MappingRows::new(&self.snapshot, &c.replication, &c.topics, keep)),
            View::Cutover => Rows::Waves(self.cutover.waves(&self.config)),
            View::Log => {
                let mut events: Vec<Event> = self.events.newest_first().filter(|e| keep(&e.text)).cloned().collect();
                // Newest first by the time each thing happened (a poll's time, not its arrival).
                events.sort_by_key(|e| std::cmp::Reverse(e.at));
                Rows::Log(events)
            }
        }
    }

    fn on_key(&mut self, key: KeyEvent) {
        self.flash = None;
        match self.input.clone() {
            Input::Command(text) => return self.on_prompt_key(key, text, true),
            Input::Filter(text) => return self.on_prompt_key(key, text, false),
            Input::Confirm(c) => return self.on_confirm_key(key, c),
            Input::None => {}
        }
        let action = keys::action_for(&self.bindings(), &key);
        if self.show_help {
            // Any key closes help; the help keys themselves too.
            self.show_help = false;
            if action == Some(Action::Quit) {
                self.quit = true;
            }
            return;
        }
        if let Some(action) = action {
            self.apply(action);
        }
    }

    /// Asks before an effect runs (see `Confirmation`).
    fn ask(&mut self, question: String, details: Vec<String>, effect: Effect, basis: Basis, typed: Option<String>) {
        self.input = Input::Confirm(Confirmation {
            question,
            details,
            effect,
            basis,
            typed,
            entered: String::new(),
            on_cancel: None,
        });
    }

    fn on_confirm_key(&mut self, key: KeyEvent, mut c: Confirmation) {
        let accepted = match &c.typed {
            None => matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')),
            Some(words) => match key.code {
                KeyCode::Char(ch) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    c.entered.push(ch);
                    self.input = Input::Confirm(c);
                    return;
                }
                KeyCode::Backspace => {
                    c.entered.pop();
                    self.input = Input::Confirm(c);
                    return;
                }
                KeyCode::Enter if c.entered == *words => true,
                KeyCode::Enter => {
                    self.input = Input::None;
                    self.flash = Some(format!("cancelled: `{}` is not `{words}`", c.entered));
                    self.effects.extend(c.on_cancel);
                    return;
                }
                _ => false,
            },
        };
        self.input = Input::None;
        if !accepted {
            self.flash = Some("cancelled".into());
            self.effects.extend(c.on_cancel);
            return;
        }
        if let Err(changed) = self.recheck(&c.basis) {
            self.flash = Some(format!("not done: {changed} since you were asked; look again"));
            return;
        }
        match c.effect {
            Effect::Validate(Request { scope, full }) => self.request_validation(scope, full),
            Effect::Translate { group } => self.request_translation(&group),
            effect @ (Effect::Cutover(_) | Effect::Fault(_) | Effect::JournalAlarms(_)) => self.effects.push(effect),
        }
    }

    /// The partitions a validation of `scope` covers now.
    fn watched_partitions(&self, scope: &Scope) -> Vec<(String, i32)> {
        let rows = ValidationRows::new(&self.snapshot, &self.validation, |t, _| {
            scope.topic().is_none_or(|s| s == t)
        });
        (0..rows.len())
            .filter_map(|i| rows.key(i))
            .map(|(t, p)| (t.to_string(), p))
            .collect()
    }

    /// Whether what a confirmation was asked on still holds.
    fn recheck(&self, basis: &Basis) -> crate::error::Result<()> {
        match basis {
            Basis::Nothing => Ok(()),
            Basis::Partitions(asked) => {
                let now = self.watched_partitions(&Scope::All);
                if now == *asked {
                    Ok(())
                } else {
                    Err(format!(
                        "the watched partitions changed ({} then, {} now)",
                        asked.len(),
                        now.len()
                    )
                    .into())
                }
            }
        }
    }

    fn on_prompt_key(&mut self, key: KeyEvent, mut text: String, command: bool) {
        let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
        match key.code {
            _ if ctrl_c => self.input = Input::None,
            KeyCode::Esc => {
                self.input = Input::None;
                if !command {
                    self.filter.clear();
                }
            }
            KeyCode::Enter => {
                self.input = Input::None;
                let words: Vec<&str> = text.split_whitespace().collect();
                if command && words.first() == Some(&"fault") {
                    self.fault_command(&words[1..].join(" "));
                } else if command {
                    match keys::command_action(&text, &self.bindings()) {
                        Some(a) => self.apply(a),
                        None if text.trim().is_empty() => {}
                        None => {
                            self.flash = Some(format!(
                                "unknown command `{}`: try {}",
                                text.trim(),
                                keys::commands().iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
                            ))
                        }
                    }
                }
            }
            KeyCode::Tab if command => {
                if let Some(c) = self.complete_command(&text) {
                    text = c;
                }
                self.input = Input::Command(text);
            }
            KeyCode::Backspace => {
                text.pop();
                self.set_input(text, command);
            }
            KeyCode::Char(c) => {
                text.push(c);
                self.set_input(text, command);
            }
            _ => {}
        }
    }

    fn set_input(&mut self, text: String, command: bool) {
        if command {
            self.input = Input::Command(text);
        } else {
            // The filter applies as it is typed.
            self.filter = text.clone();
            self.set_selected(0);
            self.input = Input::Filter(text);
        }
    }

    fn set_selected(&mut self, i: usize) {
        self.stack.last_mut().expect("stack never empty").selected = i;
    }

    /// Opens a detail view on top of the current one (Esc comes back).
    fn drill(&mut self, view: View) {
        self.filter.clear();
        self.stack.push(Place { view, selected: 0 });
    }

    /// Switches to a top-level view: the breadcrumbs are Overview, then that view.
    fn go_top(&mut self, view: View) {
        self.filter.clear();
        self.stack.truncate(1);
        if view != View::Overview {
            self.stack.push(Place { view, selected: 0 });
        }
    }

    pub fn apply(&mut self, action: Action) {
        let len = self.rows().len();
        let sel = self.selected();
        let last = len.saturating_sub(1);
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.show_help = !self.show_help,
            Action::Command => self.input = Input::Command(String::new()),
            Action::Filter => self.input = Input::Filter(self.filter.clone()),
            Action::Back => {
                if !self.filter.is_empty() {
                    self.filter.clear();
                } else if self.stack.len() > 1 {
                    self.stack.pop();
                }
            }
            Action::Up => self.set_selected(sel.saturating_sub(1)),
            Action::Down => self.set_selected((sel + 1).min(last)),
            Action::PageUp => self.set_selected(sel.saturating_sub(self.page.max(1))),
            Action::PageDown => self.set_selected((sel + self.page.max(1)).min(last)),
            Action::Top => self.set_selected(0),
            Action::Bottom => self.set_selected(last),
            Action::Drill => {
                let target = match &*self.rows() {
                    Rows::Topics(v, _) => v.get(sel).map(|p| View::Topic(p.source_topic.clone())),
                    Rows::Groups(Ok(v)) => v.get(sel).map(|g| View::Group(g.name.clone())),
                    Rows::Validation(v) => v.key(sel).map(|(t, p)| View::ValidationPartition(t.to_string(), p)),
                    _ => None,
                };
                if let Some(v) = target {
                    if let View::Group(g) = &v {
                        self.request_translation(&g.clone());
                    }
                    self.drill(v);
                }
            }
            Action::Go(top) => self.go_top(View::top(top)),
            Action::ValidateTopic => match self.topic_in_view() {
                Some(t) => self.request_validation(Scope::Topic(t), false),
                None => self.flash = Some("no topic selected".into()),
            },
            Action::ValidateAll => self.request_validation(Scope::All, false),
            Action::ValidateFull => {
                let partitions = self.watched_partitions(&Scope::All);
                let limit = self.config.validation.rate_limit_bytes as f64 / 1e6;
                let details = vec![
                    format!(
                        "forgets what was validated and reads all {} watched partitions again on both clusters",
                        partitions.len()
                    ),
                    format!("rate-limited to {limit} MB/s; the cockpit keeps running meanwhile"),
                ];
                self.ask(
                    "Validate every partition again from the start?".into(),
                    details,
                    Effect::Validate(Request {
                        scope: Scope::All,
                        full: true,
                    }),
                    Basis::Partitions(partitions),
                    None,
                );
            }
            Action::Translate => {
                if let View::Group(g) = self.view().clone() {
                    self.request_translation(&g);
                }
            }
            Action::CutoverStart | Action::CutoverDryRun | Action::CutoverRollback => {
                let wave = self.config.waves.get(sel).map(|w| w.name.clone());
                // A detached driver (its cockpit lost its terminal) hands the wave over to a drive
                // started here; anyone else driving makes this cockpit an observer.
                let driver = self.cutover.driver.as_ref().filter(|by| !holds_detached(by));
                match (wave, &self.cutover.driving, driver) {
                    (None, ..) => self.flash = Some("no wave in the plan: see config.example.toml".into()),
                    (_, Some(w), _) => self.flash = Some(format!("wave {w} is being driven: p pauses it")),
                    (_, None, Some(by)) => self.flash = Some(format!("observing: {by} drives this cutover")),
                    (Some(wave), None, None) => {
                        if let Some(by) = &self.cutover.driver {
                            self.flash = Some(format!("taking wave {wave} over from the {by} …"));
                        }
                        let op = match action {
                            Action::CutoverRollback => CutoverOp::Rollback {
                                wave: wave.clone(),
                                breach: None,
                            },
                            _ => CutoverOp::Start {
                                wave: wave.clone(),
                                dry_run: action == Action::CutoverDryRun,
                            },
                        };
                        self.cutover.driving = Some(wave);
                        self.cutover.pause_requested = false;
                        self.effects.push(Effect::Cutover(op));
                    }
                }
            }
            Action::CutoverPause => match &self.cutover.driving {
                Some(w) => {
                    self.cutover.pause_requested = true;
                    self.flash = Some(format!("pausing {w} after this step"));
                    self.effects.push(Effect::Cutover(CutoverOp::Pause));
                }
                // `p` again resumes a wave this cockpit paused.
                None => {
                    let waves = self.cutover.waves(&self.config);
                    match waves.get(sel).filter(|w| w.paused) {
                        Some(w) if self.cutover.driver.as_ref().is_none_or(|by| holds_detached(by)) => {
                            self.cutover.driving = Some(w.name.clone());
                            self.effects.push(Effect::Cutover(CutoverOp::Start {
                                wave: w.name.clone(),
                                dry_run: false,
                            }));
                        }
                        _ => {
                            self.flash =
                                Some("no wave is being driven here: s starts or resumes the selected one".into())
                        }
                    }
                }
            },
        }
        // Rows may have shrunk (filter, new snapshot): keep the selection inside them.
        let len = self.rows().len();
        if self.selected() >= len {
            self.set_selected(len.saturating_sub(1));
        }
    }

    /// News from the cutover driver: lines to show, questions to ask, the end of a drive.
    fn on_cutover(&mut self, news: CutoverNews) {
        match news {
            CutoverNews::Said(said) => {
                tracing::info!("cutover: {}", said.line());
                self.cutover.lines.push_back(said);
                while self.cutover.lines.len() > 200 {
                    self.cutover.lines.pop_front();
                }
            }
            CutoverNews::Ask {
                question,
                details,
                typed,
            } => {
                self.input = Input::Confirm(Confirmation {
                    question,
                    details,
                    effect: Effect::Cutover(CutoverOp::Answer(true)),
                    basis: Basis::Nothing,
                    typed,
                    entered: String::new(),
                    on_cancel: Some(Effect::Cutover(CutoverOp::Answer(false))),
                });
            }
            CutoverNews::Ended { wave, result } => {
                self.cutover.driving = None;
                self.cutover.pause_requested = false;
                if matches!(self.input, Input::Confirm(_)) {
                    // The driver's question died with it.
                    self.input = Input::None;
                }
                if let Some((w, breach)) = self.cutover.rollback_when_stopped.take_if(|(w, _)| *w == wave) {
                    self.note(
                        Level::Warn,
                        format!("wave {w}: rolling back by itself (auto_rollback = true)"),
                    );
                    self.cutover.driving = Some(w.clone());
                    self.effects.push(Effect::Cutover(CutoverOp::Rollback {
                        wave: w,
                        breach: Some(breach),
                    }));
                }
                let path = self
                    .config
                    .cutover
                    .journal_path(&self.config.source.name, &self.config.target.name);
                let (text, level) = match &result {
                    Ok(outcome) => {
                        let (m, code) = crate::cutover::plan::outcome_message(&wave, outcome, &path);
                        (
                            m.replace("run `cutover run --wave", "press s on it, or run `cutover run --wave"),
                            if code == 0 { Level::Info } else { Level::Warn },
                        )
                    }
                    Err(e) => (format!("wave {wave}: {e}"), Level::Error),
                };
                self.flash = Some(text.lines().next().unwrap_or("").to_string());
                self.note(level, text);
            }
        }
    }

    /// `:fault NAME`: the demo's fault menu (the fault is an effect the loop runs).
    fn fault_command(&mut self, name: &str) {
        let names: Vec<&str> = self.faults.iter().map(|(n, _)| n.as_str()).collect();
        if names.is_empty() {
            self.flash = Some("faults exist only in `cutover demo`".into());
        } else if self.read_only {
            self.flash = Some("read-only: no fault".into());
        } else if !names.contains(&name) {
            self.flash = Some(format!("fault what? {} (Tab completes)", names.join(", ")));
        } else {
            self.flash = Some(format!("fault {name}: injecting …"));
            self.note(Level::Warn, format!("demo fault: {name} asked"));
            self.effects.push(Effect::Fault(name.to_string()));
        }
    }

    /// Tab on the command line: a command, or after `fault `, a fault's name.
    fn complete_command(&self, text: &str) -> Option<String> {
        let offer_faults = !self.faults.is_empty() && !self.read_only;
        let words: Vec<&str> = text.split_whitespace().collect();
        if offer_faults && words.first() == Some(&"fault") && (words.len() > 1 || text.ends_with(' ')) {
            let names: Vec<&str> = self.faults.iter().map(|(n, _)| n.as_str()).collect();
            let prefix = words.get(1).copied().unwrap_or("");
            return keys::common_prefix(&names, prefix).map(|n| format!("fault {n}"));
        }
        let mut names: Vec<&str> = keys::commands().iter().map(|(c, _)| *c).collect();
        if offer_faults {
            names.push("fault ");
        }
        keys::common_prefix(&names, text)
    }

    /// A fault happened: said where the engineer looks, and the topic it broke validated now.
    fn on_fault_done(&mut self, result: crate::error::Result<crate::demo::FaultDone>) {
        match result {
            Ok(done) => {
                self.flash = Some(format!("fault: {}", done.text));
                self.note(Level::Warn, format!("demo fault: {}", done.text));
                if let Some(topic) = done.validate {
                    self.effects.push(Effect::Validate(Request {
                        scope: Scope::Topic(topic),
                        full: false,
                    }));
                }
            }
            Err(e) => {
                self.flash = Some(format!("fault failed: {e}"));
                self.note(Level::Error, format!("demo fault failed: {e}"));
            }
        }
    }

    /// Adds an event of the cockpit's own (e.g. a terminal resize, a failed theme).
    pub fn note(&mut self, level: Level, text: String) {
        self.events.push(Event {
            at: self.now,
            level,
            text,
        });
    }
}

/// Whether `haystack` contains `lower_needle` (already lowercase), ignoring case; without
/// allocating for ASCII text, as each keystroke of `/` runs it over every row.
fn contains_ignoring_case(haystack: &str, lower_needle: &str) -> bool {
    if haystack.is_ascii() && lower_needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), lower_needle.as_bytes());
        n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    } else {
        haystack.to_lowercase().contains(lower_needle)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ratatui::crossterm::event::KeyEvent;

    use super::*;

    #[test]
    fn the_filter_ignores_case_in_ascii_and_beyond() {
        assert!(contains_ignoring_case("Payments-EU", "ts-e"));
        assert!(contains_ignoring_case("orders", ""));
        assert!(!contains_ignoring_case("orders", "orderss"));
        assert!(contains_ignoring_case("ZÄHLER", "zäh"));
        assert!(!contains_ignoring_case("zähler", "zah"));
    }

    fn app() -> App {
        let text = "[source]\nname = \"a\"\nbootstrap = \"a:9092\"\n[target]\nname = \"b\"\nbootstrap = \"b:9092\"\n";
        let config = crate::config::parse(Path::new("t.toml"), text, &|_| None).unwrap();
        App::new(
            Arc::new(config),
            Theme::load("mono").unwrap(),
            Snapshot::default(),
            SystemTime::UNIX_EPOCH,
        )
    }

    fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
        app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
        text.chars().flat_map(|c| press(app, KeyCode::Char(c))).collect()
    }

    /// A frame drawn for the clock alone, or after a poll that changed no figure, reuses the
    /// rows; a changed figure, a cluster turning stale, or a filter derives them again.
    #[test]
    fn rows_are_derived_again_only_when_what_they_show_may_have_changed() {
        use crate::model::{ClusterFeed, ClusterState};
        use std::sync::atomic::Ordering::Relaxed;
        use std::time::Duration;
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let feed = |name: &str, at: SystemTime| ClusterFeed {
            name: name.into(),
            last_good: Some(Arc::new(ClusterState {
                polled_at: at,
                poll_duration: Duration::ZERO,
                brokers: vec![],
                topics: BTreeMap::new(),
                configs: Ok(Default::default()),
                groups: Ok(vec![]),
            })),
            last_error: None,
            figures_version: 0,
            ages: Default::default(),
        };
        let snapshot = |seq: u64, at: SystemTime| Snapshot {
            target_only: Default::default(),
            source: feed("a", at),
            target: feed("b", at),
            seq,
            target_before_source: None,
            mm2: None,
        };
        let mut a = app();
        a.update(Msg::Snapshot(snapshot(1, t0), t0));
        let derived = |a: &App| {
            a.rows();
            a.derivations.load(Relaxed)
        };
        assert_eq!(derived(&a), 1);
        assert_eq!(derived(&a), 1, "the same frame twice");
        for s in 1..=3 {
            a.update(Msg::Tick(t0 + Duration::from_secs(s)));
            assert_eq!(derived(&a), 1, "a tick {s}s later, both clusters still live");
        }
        a.update(Msg::Snapshot(
            snapshot(2, t0 + Duration::from_secs(2)),
            t0 + Duration::from_secs(2),
        ));
        assert_eq!(derived(&a), 1, "a new poll with the same figures");
        let mut changed = snapshot(3, t0 + Duration::from_secs(4));
        Arc::make_mut(changed.source.last_good.as_mut().unwrap()).brokers = vec![crate::model::Broker {
            id: 1,
            host: "h".into(),
            port: 9092,
        }];
        a.update(Msg::Snapshot(changed, t0 + Duration::from_secs(4)));
        assert_eq!(derived(&a), 2, "a poll that changed a figure");
        a.update(Msg::Tick(t0 + Duration::from_secs(60)));
        assert_eq!(derived(&a), 3, "both clusters turned stale");
        a.update(Msg::Tick(t0 + Duration::from_secs(61)));
        assert_eq!(derived(&a), 3, "still stale, nothing else changed");
        press(&mut a, KeyCode::Char('/'));
        type_text(&mut a, "x");
        press(&mut a, KeyCode::Enter);
        assert!(derived(&a) > 3, "a filter");
    }

    #[test]
    fn typed_acceptance_runs_the_effect_only_after_the_exact_words() {
        let effect = Effect::Validate(Request {
            scope: Scope::Topic("orders".into()),
            full: true,
        });
        let ask = |a: &mut App| {
            a.ask(
                "Go on with analytics?".into(),
                vec!["what it does".into()],
                effect.clone(),
                Basis::Partitions(vec![]),
                Some("analytics".into()),
            )
        };
        let mut a = app();
        ask(&mut a);
        // `y` is just a letter of the answer here, and a wrong word cancels.
        assert!(type_text(&mut a, "y").is_empty());
        assert!(press(&mut a, KeyCode::Backspace).is_empty());
        assert!(type_text(&mut a, "analytix").is_empty());
        assert!(press(&mut a, KeyCode::Enter).is_empty());
        assert_eq!(a.input, Input::None);
        assert!(a.flash.as_deref().unwrap().starts_with("cancelled"), "{:?}", a.flash);

        ask(&mut a);
        assert!(type_text(&mut a, "analytics").is_empty(), "nothing runs before Enter");
        assert_eq!(press(&mut a, KeyCode::Enter), vec![effect.clone()]);

        ask(&mut a);
        assert!(type_text(&mut a, "analytics").is_empty());
        assert!(press(&mut a, KeyCode::Esc).is_empty(), "Esc cancels");
    }

    /// The cockpit's side of a drive: `d` starts a dry run of the selected wave, the driver's
    /// questions become the one confirmation dialog (N by default; a typed one, like the skip
    /// of a failed step, needs the exact words), and every answer goes back to the driver.
    #[test]
    fn the_drivers_questions_go_through_the_confirmation_gate_and_back() {
        let text = "[source]\nname = \"a\"\nbootstrap = \"a:9092\"\n[target]\nname = \"b\"\nbootstrap = \"b:9092\"\n\
                    [[wave]]\nname = \"w1\"\ntopics = [\"orders\"]\ngroups = [\"billing\"]\n";
        let config = crate::config::parse(Path::new("t.toml"), text, &|_| None).unwrap();
        let mut a = App::new(
            Arc::new(config),
            Theme::load("mono").unwrap(),
            Snapshot::default(),
            SystemTime::UNIX_EPOCH,
        );
        press(&mut a, KeyCode::Char('7'));
        assert_eq!(
            press(&mut a, KeyCode::Char('d')),
            vec![Effect::Cutover(CutoverOp::Start {
                wave: "w1".into(),
                dry_run: true
            })]
        );
        // While it drives, s does not start a second drive.
        assert!(press(&mut a, KeyCode::Char('s')).is_empty());
        assert!(a.flash.as_deref().unwrap().contains("being driven"), "{:?}", a.flash);

        let ask = |a: &mut App, typed: Option<&str>| {
            a.update(Msg::Cutover(CutoverNews::Ask {
                question: "final parity failed. Skip it?".into(),
                details: vec!["orders/1: FAIL missing on target: source offset 21".into()],
                typed: typed.map(str::to_string),
            }))
        };
        let no = vec![Effect::Cutover(CutoverOp::Answer(false))];
        let yes = vec![Effect::Cutover(CutoverOp::Answer(true))];
        // y/N: Enter is N, y is yes.
        ask(&mut a, None);
        assert_eq!(press(&mut a, KeyCode::Enter), no);
        ask(&mut a, None);
        assert_eq!(press(&mut a, KeyCode::Char('y')), yes);
        // Typed: a wrong word is a no, Esc is a no, the step's name is a yes.
        ask(&mut a, Some("final parity"));
        type_text(&mut a, "final");
        assert_eq!(press(&mut a, KeyCode::Enter), no);
        ask(&mut a, Some("final parity"));
        assert_eq!(press(&mut a, KeyCode::Esc), no);
        ask(&mut a, Some("final parity"));
        assert!(type_text(&mut a, "final parity").is_empty());
        assert_eq!(press(&mut a, KeyCode::Enter), yes);

        a.update(Msg::Cutover(CutoverNews::Ended {
            wave: "w1".into(),
            result: Ok(crate::cutover::driver::Outcome::DryRunDone),
        }));
        assert_eq!(a.cutover.driving, None);
        assert!(a.flash.is_some());
        // Read-only: s and r do not exist; the dry run does (it runs no hook, commits nothing).
        a.read_only = true;
        assert!(press(&mut a, KeyCode::Char('s')).is_empty());
        assert!(press(&mut a, KeyCode::Char('r')).is_empty());
        assert_eq!(a.input, Input::None, "no question either");
        assert_eq!(
            press(&mut a, KeyCode::Char('d')),
            vec![Effect::Cutover(CutoverOp::Start {
                wave: "w1".into(),
                dry_run: true
            })]
        );
    }

    /// Seed 004 in the cockpit: a done wave whose target group lags past the limit within the
    /// window is an alarm, and with auto_rollback the cockpit asks the driver to roll it back.
    #[test]
    fn a_breached_rollback_criterion_is_an_alarm_and_rolls_back_by_itself() {
        use crate::cutover::engine::{self, Event as E, Next};
        use crate::cutover::journal::Entry;
        use crate::model::{ClusterFeed, ClusterState, GroupState, GroupStatus, PartitionState, TopicState};
        let text = "[source]\nname = \"a\"\nbootstrap = \"a:9092\"\n[target]\nname = \"b\"\nbootstrap = \"b:9092\"\n\
                    [replication]\nsource_alias = \"src\"\n[[wave]]\nname = \"w1\"\ntopics = [\"orders\"]\ngroups = [\"billing\"]\n\
                    [wave.criteria]\nrollback_if_target_group_lag_over = 5\nrollback_after = \"10m\"\nauto_rollback = true\n";
        let config = crate::config::parse(Path::new("t.toml"), text, &|_| None).unwrap();
        let now = SystemTime::now();
        let at_ms = now.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64;
        let entry = |event| Entry {
            at_ms,
            at: String::new(),
            by: "me@here".into(),
            wave: "w1".into(),
            dry_run: false,
            event,
        };
        // A wave done from start to end.
        let wave = &config.waves[0];
        let mut entries = vec![entry(E::WaveStarted {
            strategy: wave.strategy,
            topics: vec!["orders".into()],
            groups: vec!["billing".into()],
        })];
        loop {
            let state = crate::cutover::journal::wave_state(&entries, wave);
            match engine::next(&state, wave) {
                Next::Run { step, action, .. } => entries.push(entry(E::ActionDone {
                    step,
                    action,
                    detail: String::new(),
                    output: vec![],
                })),
                Next::Finished(_) => break,
                other => panic!("{other:?}"),
            }
        }
        let cluster = |topic: &str, committed: i64| ClusterState {
            polled_at: now,
            poll_duration: std::time::Duration::ZERO,
            brokers: vec![],
            topics: [(
                topic.to_string(),
                TopicState {
                    name: topic.into(),
                    partitions: vec![PartitionState {
                        id: 0,
                        leader: 0,
                        replicas: 1,
                        isr: 1,
                        low: Ok(0),
                        high: Ok(100),
                        error: None,
                    }],
                    error: None,
                },
            )]
            .into(),
            configs: Ok(Default::default()),
            groups: Ok(vec![GroupState {
                name: "billing".into(),
                status: GroupStatus::Stable,
                protocol_type: "consumer".into(),
                members: vec![],
                offsets: Ok([((topic.to_string(), 0), committed)].into_iter().collect()),
            }]),
        };
        let snapshot = |target_committed: i64| Snapshot {
            target_only: Default::default(),
            source: ClusterFeed {
                name: "a".into(),
                last_good: Some(Arc::new(cluster("orders", 100))),
                last_error: None,
                figures_version: 0,
                ages: Default::default(),
            },
            target: ClusterFeed {
                name: "b".into(),
                last_good: Some(Arc::new(cluster("src.orders", target_committed))),
                last_error: None,
                figures_version: 0,
                ages: Default::default(),
            },
            seq: 1,
            target_before_source: None,
            mm2: None,
        };
        let mut a = App::new(
            Arc::new(config.clone()),
            Theme::load("mono").unwrap(),
            Snapshot::default(),
            now,
        );
        a.update(Msg::Journal {
            entries: entries.clone(),
            driver: None,
            live: None,
        });
        // Lag 3: under the limit, no alarm.
        assert!(a.update(Msg::Snapshot(snapshot(97), now)).is_empty());
        assert!(a.cutover.alarms.is_empty());
        // Lag 90: the alarm, and the rollback by itself.
        let effects = a.update(Msg::Snapshot(snapshot(10), now));
        assert_eq!(a.cutover.alarms.len(), 1, "{:?}", a.cutover.alarms);
        assert!(a.cutover.alarms[0]
            .1
            .contains("ROLLBACK SUGGESTED: wave w1: group billing lags 90 records"));
        assert!(
            matches!(&effects[..], [Effect::Cutover(CutoverOp::Rollback { wave, breach: Some(_) })] if wave == "w1"),
            "{effects:?}"
        );
        assert!(a
            .events
            .newest_first()
            .any(|e| e.text.contains("rolling back by itself")));
        // Once: the next snapshot with the same breach asks for nothing more.
        assert!(a.update(Msg::Snapshot(snapshot(10), now)).is_empty());
    }

    #[test]
    fn a_yes_no_confirmation_defaults_to_cancel() {
        let mut a = app();
        for other in [KeyCode::Char('n'), KeyCode::Enter, KeyCode::Esc, KeyCode::Char('x')] {
            press(&mut a, KeyCode::Char('R'));
            assert!(matches!(a.input, Input::Confirm(_)));
            assert!(press(&mut a, other).is_empty(), "{other:?} must cancel");
            assert_eq!(a.input, Input::None);
        }
        press(&mut a, KeyCode::Char('R'));
        assert_eq!(
            press(&mut a, KeyCode::Char('y')),
            vec![Effect::Validate(Request {
                scope: Scope::All,
                full: true
            })]
        );
    }
}
