//! The cockpit's state and `update`: keys and snapshots in, new state out. No I/O here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keys::{self, Action, Screen};
use super::theme::Theme;
use crate::config::Config;
use crate::model::events::{Event, EventLog, Level, Observer};
use crate::model::groups::{self, GroupPartition, GroupRow};
use crate::model::inventory::{self, TopicDiff};
use crate::model::mapping::{self, MappingRow};
use crate::model::overview::{self, LagHistory, PartitionPair, TopicPair};
use crate::model::validation::{self, Board, ValidationRow};
use crate::model::Snapshot;
use crate::translate::group::GroupPartitionTranslation;
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
        }
    }

    pub fn screen(&self) -> Screen {
        match self {
            View::Overview | View::Validation => Screen::TopicList,
            View::Topic(_) | View::ValidationPartition(..) => Screen::Topic,
            View::Groups => Screen::DrillableList,
            View::Group(_) => Screen::Group,
            View::Inventory | View::Log | View::Mapping => Screen::List,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    view: View,
    selected: usize,
}

/// What a line of input is being typed into, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    None,
    Command(String),
    Filter(String),
    /// A question answered with y (anything else cancels).
    Confirm(Confirm),
}

/// What a y/N question is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    FullValidation,
}

impl Confirm {
    pub fn question(&self) -> &'static str {
        match self {
            Confirm::FullValidation => {
                "Validate every partition again from the start? It reads everything again (rate-limited). y/N"
            }
        }
    }
}

/// The rows of the current view, filtered: computed once per frame from the snapshot by the
/// model's functions, so the headless commands and the TUI show the same figures.
pub enum Rows {
    /// The topic pairs, and each topic's latest validation result.
    Topics(Vec<TopicPair>, BTreeMap<String, validation::Status>),
    Partitions(Option<TopicPair>, Vec<PartitionPair>),
    Groups(Result<Vec<GroupRow>, String>),
    GroupPartitions(Vec<GroupPartition>),
    Inventory(Vec<TopicDiff>),
    Log(Vec<Event>),
    Mapping(Vec<MappingRow>),
    Validation(Vec<ValidationRow>),
    /// One partition's results, newest first.
    ValidationResults(ValidationRow, Vec<(u64, SystemTime, crate::validate::run::Row)>),
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
    /// Groups whose translation the terminal loop must start (it owns the I/O).
    requests: Vec<String>,
    /// What the background validation found so far.
    pub validation: Board,
    /// Validation runs the terminal loop must ask the job for.
    validation_requests: Vec<Request>,
}

/// A group's exact translation, running or done.
#[derive(Debug, Clone)]
pub struct GroupTranslation {
    pub requested_at: SystemTime,
    pub done: Option<(SystemTime, Result<Vec<GroupPartitionTranslation>, String>)>,
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
            requests: Vec::new(),
            validation: Board::default(),
            validation_requests: Vec::new(),
        }
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
    pub fn on_snapshot(&mut self, snapshot: Snapshot, now: SystemTime) {
        self.snapshot = snapshot;
        self.on_tick(now);
        let pairs = self.topic_pairs();
        self.lag_history.record(self.snapshot.seq, &pairs);
    }

    /// Time passed: ages grow, clusters may turn stale.
    pub fn on_tick(&mut self, now: SystemTime) {
        self.now = now;
        let refresh = self.config.monitor.refresh_interval;
        for e in self.observer.observe(&self.snapshot, now, refresh) {
            tracing::info!(level = e.level.word(), "{}", e.text);
            self.events.push(e);
        }
    }

    /// Asks for a group's exact translation (unless one is already running).
    fn request_translation(&mut self, group: &str) {
        if self.translations.get(group).is_some_and(|t| t.done.is_none()) {
            return;
        }
        self.translations.insert(
            group.to_string(),
            GroupTranslation {
                requested_at: self.now,
                done: None,
            },
        );
        self.requests.push(group.to_string());
    }

    /// The translations the terminal loop should start now.
    pub fn take_requests(&mut self) -> Vec<String> {
        std::mem::take(&mut self.requests)
    }

    pub fn on_translation(&mut self, group: &str, result: Result<Vec<GroupPartitionTranslation>, String>) {
        if let Err(e) = &result {
            self.note(Level::Warn, format!("exact translation of {group} failed: {e}"));
        }
        if let Some(t) = self.translations.get_mut(group) {
            t.done = Some((self.now, result));
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
        self.validation_requests.push(Request { scope, full });
    }

    /// The validation runs the terminal loop should ask the job for now.
    pub fn take_validation_requests(&mut self) -> Vec<Request> {
        std::mem::take(&mut self.validation_requests)
    }

    /// An update from the background validation; failures also go to the event log.
    pub fn on_validation(&mut self, update: Update) {
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
        match (self.view(), self.rows()) {
            (View::Topic(t), _) | (View::ValidationPartition(t, _), _) => Some(t.clone()),
            (_, Rows::Topics(v, _)) => v.get(self.selected()).map(|p| p.source_topic.clone()),
            (_, Rows::Validation(v)) => v.get(self.selected()).map(|r| r.topic.clone()),
            _ => None,
        }
    }

    pub fn rebalance_label(&self, side: crate::model::Side, group: &str) -> Option<String> {
        self.observer.rebalances.label(side, group, self.now)
    }

    fn topic_pairs(&self) -> Vec<TopicPair> {
        let c = &self.config;
        overview::topic_pairs(&self.snapshot, &c.replication, &c.topics, &c.monitor, self.now)
    }

    fn keep(&self, name: &str) -> bool {
        self.filter.is_empty() || name.to_lowercase().contains(&self.filter.to_lowercase())
    }

    pub fn rows(&self) -> Rows {
        let c = &self.config;
        match self.view() {
            View::Overview => Rows::Topics(
                self.topic_pairs()
                    .into_iter()
                    .filter(|p| self.keep(&p.source_topic))
                    .collect(),
                validation::topic_status(&validation::validation_rows(&self.snapshot, &self.validation)),
            ),
            View::Validation => Rows::Validation(
                validation::validation_rows(&self.snapshot, &self.validation)
                    .into_iter()
                    .filter(|r| self.keep(&format!("{} {}", r.topic, r.status.word())))
                    .collect(),
            ),
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
                let pair = self.topic_pairs().into_iter().find(|p| &p.source_topic == name);
                let s = self.snapshot.source.state().and_then(|s| s.topics.get(name));
                let target_name = c.replication.target_topic(name);
                let t = self.snapshot.target.state().and_then(|t| t.topics.get(&target_name));
                let sync = |p| overview::newest_sync(&self.snapshot, &c.replication, name, p);
                let parts = overview::partition_pairs(s, t, &sync)
                    .into_iter()
                    .filter(|p| self.keep(&p.partition.to_string()))
                    .collect();
                Rows::Partitions(pair, parts)
            }
            View::Groups => Rows::Groups(
                groups::group_rows(&self.snapshot, &c.groups)
                    .map(|v| v.into_iter().filter(|g| self.keep(&g.name)).collect()),
            ),
            View::Group(name) => Rows::GroupPartitions(
                groups::group_partitions(&self.snapshot, &c.replication, name)
                    .into_iter()
                    .filter(|p| self.keep(&p.source_topic))
                    .collect(),
            ),
            View::Inventory => Rows::Inventory(
                inventory::diff(&self.snapshot, &c.replication, &c.topics)
                    .into_iter()
                    .filter(|d| self.keep(&d.source_topic))
                    .collect(),
            ),
            View::Mapping => Rows::Mapping(
                mapping::mapping_rows(&self.snapshot, &c.replication, &c.topics)
                    .into_iter()
                    .filter(|r| self.keep(&r.source_topic))
                    .collect(),
            ),
            View::Log => {
                let mut events: Vec<Event> = self
                    .events
                    .newest_first()
                    .filter(|e| self.keep(&e.text))
                    .cloned()
                    .collect();
                // Newest first by the time each thing happened (a poll's time, not its arrival).
                events.sort_by_key(|e| std::cmp::Reverse(e.at));
                Rows::Log(events)
            }
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        self.flash = None;
        match self.input.clone() {
            Input::Command(text) => return self.on_prompt_key(key, text, true),
            Input::Filter(text) => return self.on_prompt_key(key, text, false),
            Input::Confirm(what) => {
                self.input = Input::None;
                let yes = key.code == KeyCode::Char('y') || key.code == KeyCode::Char('Y');
                match (what, yes) {
                    (Confirm::FullValidation, true) => self.request_validation(Scope::All, true),
                    (_, false) => self.flash = Some("cancelled".into()),
                }
                return;
            }
            Input::None => {}
        }
        if self.show_help {
            // Any key closes help; the help keys themselves too.
            self.show_help = false;
            if matches!(keys::action_for(self.view().screen(), &key), Some(Action::Quit)) {
                self.quit = true;
            }
            return;
        }
        if let Some(action) = keys::action_for(self.view().screen(), &key) {
            self.apply(action);
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
                if command {
                    match keys::command_action(&text) {
                        Some(a) => self.apply(a),
                        None if text.trim().is_empty() => {}
                        None => {
                            self.flash = Some(format!(
                                "unknown command `{}`: try {}",
                                text.trim(),
                                keys::COMMANDS.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
                            ))
                        }
                    }
                }
            }
            KeyCode::Tab if command => {
                if let Some(c) = keys::complete(&text) {
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
                let target = match self.rows() {
                    Rows::Topics(v, _) => v.get(sel).map(|p| View::Topic(p.source_topic.clone())),
                    Rows::Groups(Ok(v)) => v.get(sel).map(|g| View::Group(g.name.clone())),
                    Rows::Validation(v) => v
                        .get(sel)
                        .map(|r| View::ValidationPartition(r.topic.clone(), r.partition)),
                    _ => None,
                };
                if let Some(v) = target {
                    if let View::Group(g) = &v {
                        self.request_translation(&g.clone());
                    }
                    self.drill(v);
                }
            }
            Action::GoOverview => self.go_top(View::Overview),
            Action::GoGroups => self.go_top(View::Groups),
            Action::GoInventory => self.go_top(View::Inventory),
            Action::GoLog => self.go_top(View::Log),
            Action::GoMapping => self.go_top(View::Mapping),
            Action::GoValidation => self.go_top(View::Validation),
            Action::ValidateTopic => match self.topic_in_view() {
                Some(t) => self.request_validation(Scope::Topic(t), false),
                None => self.flash = Some("no topic selected".into()),
            },
            Action::ValidateAll => self.request_validation(Scope::All, false),
            Action::ValidateFull => self.input = Input::Confirm(Confirm::FullValidation),
            Action::Translate => {
                if let View::Group(g) = self.view().clone() {
                    self.request_translation(&g);
                }
            }
        }
        // Rows may have shrunk (filter, new snapshot): keep the selection inside them.
        let len = self.rows().len();
        if self.selected() >= len {
            self.set_selected(len.saturating_sub(1));
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
