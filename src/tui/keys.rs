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
    /// Switch to a top-level view.
    Go(Top),
    Translate,
    /// Validate the topic in view (or selected) now: its new records.
    ValidateTopic,
    /// Validate every topic now: their new records.
    ValidateAll,
    /// Validate everything again from the start (asks first).
    ValidateFull,
    /// Start or resume the selected wave.
    CutoverStart,
    /// Dry-run the selected wave: every check and step shown, nothing done.
    CutoverDryRun,
    /// Pause the wave being driven (and `s` resumes it).
    CutoverPause,
    /// Roll the selected wave back.
    CutoverRollback,
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
    /// Changes something on a cluster: it asks first, and `--read-only` removes it.
    pub dangerous: bool,
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
    /// The cutover plan: waves can be started, paused, rolled back.
    Cutover,
}

const GLOBAL: [Binding; 10] = [
    Binding {
        keys: &[Key::Char('?')],
        label: "?",
        action: Action::Help,
        help: "show or hide this help",
        hint: Some("help"),
        dangerous: false,
    },
    Binding {
        keys: &[Key::Char(':')],
        label: ":",
        action: Action::Command,
        help: "command: a view by its name (Tab completes), help, quit",
        hint: Some("command"),
        dangerous: false,
    },
    Binding {
        keys: &[Key::Char('/')],
        label: "/",
        action: Action::Filter,
        help: "filter the rows of this view",
        hint: Some("filter"),
        dangerous: false,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Esc)],
        label: "Esc",
        action: Action::Back,
        help: "close, clear the filter, or go back",
        hint: Some("back"),
        dangerous: false,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Up), Key::Char('k')],
        label: "↑/k",
        action: Action::Up,
        help: "move up",
        hint: None,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Down), Key::Char('j')],
        label: "↓/j",
        action: Action::Down,
        help: "move down",
        hint: None,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Code(KeyCode::PageUp)],
        label: "PgUp",
        action: Action::PageUp,
        help: "page up",
        hint: None,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Code(KeyCode::PageDown)],
        label: "PgDn",
        action: Action::PageDown,
        help: "page down",
        hint: None,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Char('g'), Key::Code(KeyCode::Home)],
        label: "g",
        action: Action::Top,
        help: "first row",
        hint: None,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Char('G'), Key::Code(KeyCode::End)],
        label: "G",
        action: Action::Bottom,
        help: "last row",
        hint: None,
        dangerous: false,
    },
];

/// After the top-level views in help.
const GLOBAL_AFTER: [Binding; 2] = [
    Binding {
        keys: &[Key::Char('V')],
        label: "V",
        action: Action::ValidateAll,
        help: "validate every topic now (records not validated yet)",
        hint: None,
        dangerous: false,
    },
    Binding {
        keys: &[Key::Char('R')],
        label: "R",
        action: Action::ValidateFull,
        help: "validate everything again from the start (asks first)",
        hint: None,
        dangerous: false,
    },
];

/// The top-level views: one row each gives the view its number key, its `:` commands and its
/// line in help. Adding a top-level view adds a `Top` variant and a row here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Top {
    Overview,
    Groups,
    Inventory,
    Log,
    Mapping,
    Validation,
    Cutover,
}

pub struct TopView {
    pub top: Top,
    pub keys: &'static [Key],
    pub label: &'static str,
    /// The `:` commands that open it, the first being its name.
    pub commands: &'static [&'static str],
    pub help: &'static str,
}

pub const TOP_VIEWS: [TopView; 7] = [
    TopView {
        top: Top::Overview,
        keys: &[Key::Char('1')],
        label: "1",
        commands: &["overview", "topics"],
        help: "overview: replicated topics",
    },
    TopView {
        top: Top::Groups,
        keys: &[Key::Char('2')],
        label: "2",
        commands: &["groups"],
        help: "consumer groups on both sides",
    },
    TopView {
        top: Top::Inventory,
        keys: &[Key::Char('3')],
        label: "3",
        commands: &["inventory", "diff"],
        help: "inventory diff: missing topics, partitions, configs",
    },
    TopView {
        top: Top::Log,
        keys: &[Key::Char('4')],
        label: "4",
        commands: &["log"],
        help: "event log",
    },
    TopView {
        top: Top::Mapping,
        keys: &[Key::Char('5')],
        label: "5",
        commands: &["mapping"],
        help: "MM2 offset mapping and drift",
    },
    TopView {
        top: Top::Validation,
        keys: &[Key::Char('6')],
        label: "6",
        commands: &["validation"],
        help: "validation: records compared on both sides, per partition",
    },
    TopView {
        top: Top::Cutover,
        keys: &[Key::Char('7')],
        label: "7",
        commands: &["cutover", "waves"],
        help: "cutover: waves, their steps and checks, the journal",
    },
];

const QUIT: Binding = Binding {
    keys: &[Key::Char('q'), Key::Ctrl('c')],
    label: "q",
    action: Action::Quit,
    help: "quit (the terminal is restored)",
    hint: Some("quit"),
    dangerous: false,
};

const DRILL: Binding = Binding {
    keys: &[Key::Code(KeyCode::Enter)],
    label: "Enter",
    action: Action::Drill,
    help: "open the selected row",
    hint: Some("open"),
    dangerous: false,
};

const TRANSLATE: Binding = Binding {
    keys: &[Key::Char('t')],
    label: "t",
    action: Action::Translate,
    help: "translate exactly again (reads records on both clusters)",
    hint: Some("translate"),
    dangerous: false,
};

const VALIDATE: Binding = Binding {
    keys: &[Key::Char('v')],
    label: "v",
    action: Action::ValidateTopic,
    help: "validate this topic now (records not validated yet)",
    hint: Some("validate"),
    dangerous: false,
};

const CUTOVER: [Binding; 4] = [
    Binding {
        keys: &[Key::Char('s')],
        label: "s",
        action: Action::CutoverStart,
        help: "start the selected wave (type its name), resume it where it stopped, or run a rolled-back one again",
        hint: Some("start"),
        dangerous: true,
    },
    Binding {
        keys: &[Key::Char('p')],
        label: "p",
        action: Action::CutoverPause,
        help: "pause the wave: no new step starts, waits stop; a running hook finishes first",
        hint: Some("pause"),
        dangerous: true,
    },
    Binding {
        keys: &[Key::Char('r')],
        label: "r",
        action: Action::CutoverRollback,
        help: "roll the selected wave back (type its name)",
        hint: Some("rollback"),
        dangerous: true,
    },
    Binding {
        keys: &[Key::Char('d')],
        label: "d",
        action: Action::CutoverDryRun,
        help: "dry run of the selected wave: every check and step shown, no hook, no commit",
        hint: Some("dry run"),
        dangerous: false,
    },
];

/// Every binding available on a screen, in the order help shows them; in read-only mode,
/// none that is dangerous.
pub fn bindings(screen: Screen, read_only: bool) -> Vec<Binding> {
    allowed(all_bindings(screen), read_only)
}

/// The bindings a run may offer: read-only mode is a filter over the table, not a convention.
pub fn allowed(bindings: Vec<Binding>, read_only: bool) -> Vec<Binding> {
    bindings.into_iter().filter(|b| !(read_only && b.dangerous)).collect()
}

fn all_bindings(screen: Screen) -> Vec<Binding> {
    let mut v = Vec::with_capacity(GLOBAL.len() + TOP_VIEWS.len() + GLOBAL_AFTER.len() + 3);
    match screen {
        Screen::DrillableList => v.push(DRILL),
        Screen::TopicList => v.extend([DRILL, VALIDATE]),
        Screen::Topic => v.push(VALIDATE),
        Screen::Group => v.push(TRANSLATE),
        Screen::Cutover => v.extend(CUTOVER),
        Screen::List => {}
    }
    v.extend(GLOBAL);
    v.extend(TOP_VIEWS.iter().map(|t| Binding {
        keys: t.keys,
        label: t.label,
        action: Action::Go(t.top),
        help: t.help,
        hint: None,
        dangerous: false,
    }));
    v.extend(GLOBAL_AFTER);
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

/// The action a key press means among these bindings, if any.
pub fn action_for(bindings: &[Binding], ev: &KeyEvent) -> Option<Action> {
    bindings
        .iter()
        .find(|b| b.keys.iter().any(|k| matches(k, ev)))
        .map(|b| b.action)
}

/// The `:` commands, with the view or action each one means.
pub fn commands() -> Vec<(&'static str, Action)> {
    let views = TOP_VIEWS
        .iter()
        .flat_map(|t| t.commands.iter().map(move |c| (*c, Action::Go(t.top))));
    views.chain([("help", Action::Help), ("quit", Action::Quit)]).collect()
}

/// Completes a command prefix: the longest common prefix of every command that starts with it.
pub fn complete(prefix: &str) -> Option<String> {
    let names: Vec<&str> = commands().iter().map(|(c, _)| *c).collect();
    common_prefix(&names, prefix)
}

/// The longest common prefix of the names that start with `prefix`, if any does.
pub fn common_prefix(names: &[&str], prefix: &str) -> Option<String> {
    let hits: Vec<&str> = names.iter().copied().filter(|c| c.starts_with(prefix)).collect();
    let first = hits.first()?;
    let common = hits.iter().fold(first.len(), |n, h| {
        first.chars().zip(h.chars()).take(n).take_while(|(a, b)| a == b).count()
    });
    Some(first[..common].to_string())
}

/// The action a typed command means ("q" and unique prefixes work too), if one of these
/// bindings offers it: a command can do nothing a key could not.
pub fn command_action(input: &str, bindings: &[Binding]) -> Option<Action> {
    let offered = |a: Action| bindings.iter().any(|b| b.action == a);
    command(input).filter(|a| offered(*a))
}

fn command(input: &str) -> Option<Action> {
    let input = input.trim();
    if input == "q" || input == "q!" {
        return Some(Action::Quit);
    }
    let commands = commands();
    if let Some((_, a)) = commands.iter().find(|(c, _)| *c == input) {
        return Some(*a);
    }
    let hits: Vec<Action> = commands
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
        let list = bindings(Screen::List, false);
        assert_eq!(command_action("inv", &list), Some(Action::Go(Top::Inventory)));
        assert_eq!(command_action("q", &list), Some(Action::Quit));
        assert_eq!(command_action("zzz", &list), None);
    }

    #[test]
    fn drill_only_where_offered() {
        let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(
            action_for(&bindings(Screen::DrillableList, false), &enter),
            Some(Action::Drill)
        );
        assert_eq!(action_for(&bindings(Screen::List, false), &enter), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(&bindings(Screen::List, false), &ctrl_c), Some(Action::Quit));
    }

    const SCREENS: [Screen; 6] = [
        Screen::Cutover,
        Screen::DrillableList,
        Screen::TopicList,
        Screen::Topic,
        Screen::List,
        Screen::Group,
    ];

    #[test]
    fn read_only_leaves_no_dangerous_binding_in_the_key_table() {
        for screen in SCREENS {
            let table = bindings(screen, true);
            assert!(table.iter().all(|b| !b.dangerous), "{screen:?}");
            // Everything that is not dangerous is still there.
            let safe = all_bindings(screen).into_iter().filter(|b| !b.dangerous).count();
            assert_eq!(table.len(), safe, "{screen:?}");
        }
        // The filter itself, on a table that has a dangerous binding (the cutover engine's
        // keys will be such bindings): read-only removes it, keys and commands alike.
        let commit = Binding {
            keys: &[Key::Ctrl('k')],
            label: "^k",
            action: Action::ValidateFull,
            help: "a binding that writes",
            hint: Some("write"),
            dangerous: true,
        };
        let mut table = all_bindings(Screen::List);
        table.retain(|b| b.action != Action::ValidateFull);
        table.push(commit);
        let key = KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL);
        assert_eq!(
            action_for(&allowed(table.clone(), false), &key),
            Some(Action::ValidateFull)
        );
        let read_only = allowed(table, true);
        assert!(read_only.iter().all(|b| !b.dangerous));
        assert_eq!(action_for(&read_only, &key), None);
    }
}
