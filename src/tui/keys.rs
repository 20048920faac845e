//! The one list of key bindings. The key handler, the hint bar and the help overlay all read
//! `bindings()`, so what is shown is always what works.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    Command,
    Filter,
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Drill,
    GoOverview,
    GoGroups,
    GoInventory,
    GoLog,
    GoMapping,
    GoValidation,
    Translate,
    /// Validate the topic in view (or selected) now: its new records.
    ValidateTopic,
    /// Validate every topic now: their new records.
    ValidateAll,
    /// Validate everything again from the start (asks first).
    ValidateFull,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Code(KeyCode),
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    /// How the keys are written in hints and help.
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
    /// The word shown in the one-line hint bar; None: only in `?` help.
    pub hint: Option<&'static str>,
}

/// Which bindings a screen offers beyond the global ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// A list whose rows open a detail view.
    DrillableList,
    /// Topics (or their partitions) that open a detail view and can be validated.
    TopicList,
    /// One topic (or one of its partitions): it can be validated.
    Topic,
    /// A list or detail with nothing under it.
    List,
    /// One group: its offsets can be translated exactly.
    Group,
}

const GLOBAL: [Binding; 18] = [
    Binding {
        keys: &[Key::Char('?')],
        label: "?",
        action: Action::Help,
        help: "show or hide this help",
        hint: Some("help"),
    },
    Binding {
        keys: &[Key::Char(':')],
        label: ":",
        action: Action::Command,
        help: "command: overview groups inventory log mapping validation quit (Tab completes)",
        hint: Some("command"),
    },
    Binding {
        keys: &[Key::Char('/')],
        label: "/",
        action: Action::Filter,
        help: "filter the rows of this view",
        hint: Some("filter"),
    },
    Binding {
        keys: &[Key::Code(KeyCode::Esc)],
        label: "Esc",
        action: Action::Back,
        help: "close, clear the filter, or go back",
        hint: Some("back"),
    },
    Binding {
        keys: &[Key::Code(KeyCode::Up), Key::Char('k')],
        label: "↑/k",
        action: Action::Up,
        help: "move up",
        hint: None,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Down), Key::Char('j')],
        label: "↓/j",
        action: Action::Down,
        help: "move down",
        hint: None,
    },
    Binding {
        keys: &[Key::Code(KeyCode::PageUp)],
        label: "PgUp",
        action: Action::PageUp,
        help: "page up",
        hint: None,
    },
    Binding {
        keys: &[Key::Code(KeyCode::PageDown)],
        label: "PgDn",
        action: Action::PageDown,
        help: "page down",
        hint: None,
    },
    Binding {
        keys: &[Key::Char('g'), Key::Code(KeyCode::Home)],
        label: "g",
        action: Action::Top,
        help: "first row",
        hint: None,
    },
    Binding {
        keys: &[Key::Char('G'), Key::Code(KeyCode::End)],
        label: "G",
        action: Action::Bottom,
        help: "last row",
        hint: None,
    },
    Binding {
        keys: &[Key::Char('1')],
        label: "1",
        action: Action::GoOverview,
        help: "overview: replicated topics",
        hint: None,
    },
    Binding {
        keys: &[Key::Char('2')],
        label: "2",
        action: Action::GoGroups,
        help: "consumer groups on both sides",
        hint: None,
    },
    Binding {
        keys: &[Key::Char('3')],
        label: "3",
        action: Action::GoInventory,
        help: "inventory diff: missing topics, partitions, configs",
        hint: None,
    },
    Binding {
        keys: &[Key::Char('4')],
        label: "4",
        action: Action::GoLog,
        help: "event log",
        hint: None,
    },
    Binding {
        keys: &[Key::Char('5')],
        label: "5",
        action: Action::GoMapping,
        help: "MM2 offset mapping and drift",
        hint: None,
    },
    Binding {
        keys: &[Key::Char('6')],
        label: "6",
        action: Action::GoValidation,
        help: "validation: records compared on both sides, per partition",
        hint: None,
    },
    Binding {
        keys: &[Key::Char('V')],
        label: "V",
        action: Action::ValidateAll,
        help: "validate every topic now (records not validated yet)",
        hint: None,
    },
    Binding {
        keys: &[Key::Char('R')],
        label: "R",
        action: Action::ValidateFull,
        help: "validate everything again from the start (asks first)",
        hint: None,
    },
];

const QUIT: Binding = Binding {
    keys: &[Key::Char('q'), Key::Ctrl('c')],
    label: "q",
    action: Action::Quit,
    help: "quit (the terminal is restored)",
    hint: Some("quit"),
};

const DRILL: Binding = Binding {
    keys: &[Key::Code(KeyCode::Enter)],
    label: "Enter",
    action: Action::Drill,
    help: "open the selected row",
    hint: Some("open"),
};

const TRANSLATE: Binding = Binding {
    keys: &[Key::Char('t')],
    label: "t",
    action: Action::Translate,
    help: "translate exactly again (reads records on both clusters)",
    hint: Some("translate"),
};

const VALIDATE: Binding = Binding {
    keys: &[Key::Char('v')],
    label: "v",
    action: Action::ValidateTopic,
    help: "validate this topic now (records not validated yet)",
    hint: Some("validate"),
};

/// Every binding available on a screen, in the order help shows them.
pub fn bindings(screen: Screen) -> Vec<Binding> {
    let mut v = Vec::with_capacity(GLOBAL.len() + 3);
    match screen {
        Screen::DrillableList => v.push(DRILL),
        Screen::TopicList => v.extend([DRILL, VALIDATE]),
        Screen::Topic => v.push(VALIDATE),
        Screen::Group => v.push(TRANSLATE),
        Screen::List => {}
    }
    v.extend(GLOBAL);
    v.push(QUIT);
    v
}

fn matches(key: &Key, ev: &KeyEvent) -> bool {
    match key {
        Key::Ctrl(c) => ev.modifiers.contains(KeyModifiers::CONTROL) && ev.code == KeyCode::Char(*c),
        Key::Char(c) => !ev.modifiers.contains(KeyModifiers::CONTROL) && ev.code == KeyCode::Char(*c),
        Key::Code(code) => ev.code == *code,
    }
}

/// The action a key press means on this screen, if any.
pub fn action_for(screen: Screen, ev: &KeyEvent) -> Option<Action> {
    bindings(screen)
        .into_iter()
        .find(|b| b.keys.iter().any(|k| matches(k, ev)))
        .map(|b| b.action)
}

/// The `:` commands, with the view or action each one means.
pub const COMMANDS: [(&str, Action); 10] = [
    ("overview", Action::GoOverview),
    ("topics", Action::GoOverview),
    ("groups", Action::GoGroups),
    ("inventory", Action::GoInventory),
    ("diff", Action::GoInventory),
    ("log", Action::GoLog),
    ("mapping", Action::GoMapping),
    ("validation", Action::GoValidation),
    ("help", Action::Help),
    ("quit", Action::Quit),
];

/// Completes a command prefix: the longest common prefix of every command that starts with it.
pub fn complete(prefix: &str) -> Option<String> {
    let hits: Vec<&str> = COMMANDS
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| c.starts_with(prefix))
        .collect();
    let first = hits.first()?;
    let common = hits.iter().fold(first.len(), |n, h| {
        first.chars().zip(h.chars()).take(n).take_while(|(a, b)| a == b).count()
    });
    Some(first[..common].to_string())
}

/// The action a typed command means ("q" and unique prefixes work too).
pub fn command_action(input: &str) -> Option<Action> {
    let input = input.trim();
    if input == "q" || input == "q!" {
        return Some(Action::Quit);
    }
    if let Some((_, a)) = COMMANDS.iter().find(|(c, _)| *c == input) {
        return Some(*a);
    }
    let hits: Vec<Action> = COMMANDS
        .iter()
        .filter(|(c, _)| c.starts_with(input))
        .map(|(_, a)| *a)
        .collect();
    match hits.as_slice() {
        [a] if !input.is_empty() => Some(*a),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_and_commands() {
        assert_eq!(complete("gr").as_deref(), Some("groups"));
        assert_eq!(complete("x"), None);
        assert_eq!(complete("").as_deref(), Some(""));
        assert_eq!(command_action("inv"), Some(Action::GoInventory));
        assert_eq!(command_action("q"), Some(Action::Quit));
        assert_eq!(command_action("zzz"), None);
    }

    #[test]
    fn drill_only_where_offered() {
        let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(action_for(Screen::DrillableList, &enter), Some(Action::Drill));
        assert_eq!(action_for(Screen::List, &enter), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(Screen::List, &ctrl_c), Some(Action::Quit));
    }
}
