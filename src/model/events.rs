//! The events the cockpit saw: reachability, group state changes, topics coming and going.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, SystemTime};

use super::groups::RebalanceTracker;
use super::{short_duration, Health, Side, Snapshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: SystemTime,
    pub level: Level,
    pub text: String,
}

/// A bounded list of events, newest last.
#[derive(Debug, Clone)]
pub struct EventLog {
    events: VecDeque<Event>,
    capacity: usize,
    /// Events pushed since the start (the log may have dropped the oldest).
    pushed: u64,
}

impl EventLog {
    pub fn new(capacity: usize) -> Self {
        EventLog {
            events: VecDeque::new(),
            capacity,
            pushed: 0,
        }
    }

    pub fn push(&mut self, e: Event) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(e);
        self.pushed += 1;
    }

    /// How many events were ever pushed: changes whenever one is, even when the log is full.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    pub fn newest_first(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().rev()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HealthKind {
    Connecting,
    Live,
    Stale,
    Unreachable,
}

#[derive(Debug, Default, Clone)]
struct SideMemory {
    health: Option<HealthKind>,
    polled_at: Option<SystemTime>,
    error: Option<String>,
    topics: Option<BTreeSet<String>>,
}

/// Turns successive snapshots into events. Also owns the rebalance tracker, which must see
/// every poll exactly once.
#[derive(Debug, Default, Clone)]
pub struct Observer {
    pub rebalances: RebalanceTracker,
    memory: [SideMemory; 2],
}

impl Observer {
    pub fn observe(&mut self, snap: &Snapshot, now: SystemTime, refresh: Duration) -> Vec<Event> {
        let mut out = Vec::new();
        for (i, side) in [Side::Source, Side::Target].into_iter().enumerate() {
            let feed = snap.feed(side);
            let mem = &mut self.memory[i];
            let name = &feed.name;
            let health = match feed.health(now, refresh) {
                Health::Connecting => HealthKind::Connecting,
                Health::Live => HealthKind::Live,
                Health::Stale { .. } => HealthKind::Stale,
                Health::Unreachable => HealthKind::Unreachable,
            };
            // "Connecting" is the start, not news.
            if mem.health != Some(health) && health != HealthKind::Connecting {
                let (level, text) = match health {
                    HealthKind::Connecting => (Level::Info, format!("{name}: connecting")),
                    HealthKind::Live if mem.health.is_some_and(|h| h != HealthKind::Connecting) => {
                        (Level::Info, format!("{name}: answering again"))
                    }
                    HealthKind::Live => (Level::Info, format!("{name}: connected")),
                    HealthKind::Stale => (
                        Level::Error,
                        format!(
                            "{name}: STALE, no answer for {}",
                            feed.age(now).map(short_duration).unwrap_or_default()
                        ),
                    ),
                    HealthKind::Unreachable => (Level::Error, format!("{name}: unreachable")),
                };
                out.push(Event { at: now, level, text });
                mem.health = Some(health);
            }
            let error = feed.last_error.as_ref().map(|(_, e)| e.clone());
            if error != mem.error {
                if let Some((at, e)) = &feed.last_error {
                    out.push(Event {
                        at: *at,
                        level: Level::Warn,
                        text: format!("{name}: poll failed: {e}"),
                    });
                }
                mem.error = error;
            }
            let Some(state) = feed.state() else { continue };
            if mem.polled_at == Some(state.polled_at) {
                continue;
            }
            mem.polled_at = Some(state.polled_at);
            let topics: BTreeSet<String> = state.topics.keys().cloned().collect();
            if let Some(before) = &mem.topics {
                for t in topics.difference(before) {
                    out.push(Event {
                        at: state.polled_at,
                        level: Level::Info,
                        text: format!("{name}: topic {t} appeared"),
                    });
                }
                for t in before.difference(&topics) {
                    out.push(Event {
                        at: state.polled_at,
                        level: Level::Warn,
                        text: format!("{name}: topic {t} disappeared"),
                    });
                }
            }
            mem.topics = Some(topics);
            if let Ok(groups) = &state.groups {
                for c in self.rebalances.observe(side, groups, state.polled_at) {
                    let from = c.from.clone().map(|f| f.label()).unwrap_or_else(|| "new".into());
                    let state = if c.from.as_ref() == Some(&c.to) {
                        c.to.label()
                    } else {
                        format!("{from} -> {}", c.to.label())
                    };
                    let (level, text) = match (c.rebalanced_between_polls, c.rebalance_took) {
                        (Some((before, after)), _) => (
                            Level::Warn,
                            format!(
                                "group {} rebalanced between polls: {before} -> {after} members, {state}",
                                c.group
                            ),
                        ),
                        (None, Some(d)) => (
                            Level::Info,
                            format!("group {} {state} (rebalance took {})", c.group, short_duration(d)),
                        ),
                        (None, None) if c.to.is_rebalancing() => (Level::Warn, format!("group {} {state}", c.group)),
                        (None, None) => (Level::Info, format!("group {} {state}", c.group)),
                    };
                    out.push(Event {
                        at: c.at,
                        level,
                        text: format!("{name}: {text}"),
                    });
                }
            }
        }
        out
    }
}
