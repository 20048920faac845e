//! Cutover (7): the waves of the plan (selectable), the steps of the selected wave with their
//! timers and the figures of the current check, and the newest lines of the driver and journal.

use std::time::SystemTime;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};
use ratatui::Frame;

use super::widgets::*;
use crate::cutover::engine::{self, Next, StepStatus, WaveState};
use crate::model::short_duration;
use crate::tui::app::App;
use crate::tui::theme::Role;

fn elapsed(from: Option<SystemTime>, to: Option<SystemTime>, now: SystemTime) -> String {
    match from {
        Some(f) => short_duration(to.unwrap_or(now).duration_since(f).unwrap_or_default()),
        None => String::new(),
    }
}

/// A wave's state in a word or two, and its role.
fn wave_word(app: &App, state: &WaveState) -> (String, Role) {
    let Some(wave) = app.config.waves.iter().find(|w| w.name == state.name) else {
        return ("?".into(), Role::Muted);
    };
    // This cockpit drives it, or another one does (this one observes: the wave of the
    // journal's newest entry is the one being driven).
    let driving = app.cutover.driving.as_deref() == Some(state.name.as_str())
        || (app.cutover.driver.is_some() && app.cutover.entries.last().is_some_and(|e| e.wave == state.name));
    let go = app.cutover.go.get(&state.name);
    let go_role = |g: &crate::cutover::go::GoNoGo| if g.go() { Role::Ok } else { Role::Crit };
    match engine::next(state, wave) {
        Next::Start if driving => ("starting".into(), Role::Accent),
        Next::Start => match go {
            Some(g) => (format!("not started · {}", g.word()), go_role(g)),
            None => ("not started".into(), Role::Muted),
        },
        Next::Finished(engine::Finish::Done) => ("DONE".into(), Role::Ok),
        Next::Finished(engine::Finish::RolledBack) if !driving => match go {
            Some(g) => (format!("ROLLED BACK · {}", g.word()), go_role(g)),
            None => ("ROLLED BACK".into(), Role::Warn),
        },
        Next::Finished(engine::Finish::RolledBack) => ("ROLLED BACK".into(), Role::Warn),
        Next::Stopped { step, .. } => (format!("STOPPED at {}", step.name()), Role::Crit),
        Next::Paused => ("PAUSED".into(), Role::Warn),
        Next::Run { step, .. } if driving && app.cutover.pause_requested => {
            (format!("pausing after {}", step.name()), Role::Warn)
        }
        Next::Run { step, .. } if driving => (format!("{}…", step.name()), Role::Accent),
        Next::Run { step, .. } => (format!("stopped at {} (resume: s)", step.name()), Role::Warn),
    }
}

pub(super) fn render(frame: &mut Frame, area: Rect, app: &App, waves: &[WaveState]) {
    let t = &app.theme;
    if waves.is_empty() {
        let text = "no [[wave]] in the config: config.example.toml shows how to write the cutover plan";
        frame.render_widget(Paragraph::new(format!(" {text}")).style(t.style(Role::Muted)), area);
        return;
    }
    let wave_rows = (waves.len() as u16 + 1).min(area.height / 3).max(2);
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Length(wave_rows),
        Constraint::Min(4),
        Constraint::Length((area.height / 4).max(2)),
    ])
    .areas(area);

    // The waves.
    let body = waves
        .iter()
        .map(|w| {
            let (word, role) = wave_word(app, w);
            let plan = app.config.waves.iter().find(|p| p.name == w.name);
            // Before the wave starts, the plan's patterns; then the names they matched.
            let patterns = |list: &[regex::Regex]| {
                list.iter()
                    .map(|r| r.as_str().trim_start_matches("^(?:").trim_end_matches(")$").to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let topics = match plan {
                Some(p) if w.topics.is_empty() => patterns(&p.topics),
                _ => w.topics.join(","),
            };
            let groups = match plan {
                Some(p) if w.groups.is_empty() => patterns(&p.groups),
                _ => w.groups.join(","),
            };
            Row::new(vec![
                Cell::from(w.name.clone()),
                Cell::from(plan.map_or("", |p| p.strategy.name())),
                Cell::from(word).style(t.style(role)),
                Cell::from(elapsed(w.started, None, app.now)),
                Cell::from(topics),
                Cell::from(groups),
            ])
        })
        .collect();
    let widths = vec![
        Constraint::Length(14),
        Constraint::Length(15),
        Constraint::Length(24),
        Constraint::Length(7),
        Constraint::Min(10),
        Constraint::Min(8),
    ];
    let head = header(t, vec!["WAVE", "STRATEGY", "STATE", "T+", "TOPICS", "GROUPS"]);
    render_table(frame, top, app, table(t, head, body, widths), waves.len(), 0, "");

    // The steps of the selected wave.
    let sel = app.selected().min(waves.len() - 1);
    let state = &waves[sel];
    if let Some(wave) = app.config.waves.iter().find(|w| w.name == state.name) {
        let current = match engine::next(state, wave) {
            Next::Run { step, .. } | Next::Stopped { step, .. } => Some(step),
            _ => None,
        };
        let mut lines = vec![Line::from(Span::styled(
            format!(
                " {} steps{}",
                state.name,
                if state.rolling_back() { " (rolling back)" } else { "" }
            ),
            t.style(Role::Muted),
        ))];
        // Before `s`: go or no-go now, and why, with the lag and the pause it would impose.
        let may_start = matches!(
            engine::next(state, wave),
            Next::Start | Next::Finished(engine::Finish::RolledBack)
        );
        let go = app
            .cutover
            .go
            .get(&state.name)
            .filter(|_| may_start && app.cutover.driving.is_none());
        if let Some(go) = go {
            let role = if go.go() { Role::Ok } else { Role::Crit };
            let [verdict, figures] = go.lines(wave);
            lines.push(Line::from(Span::styled(format!("  {verdict}"), t.style(role))));
            lines.push(Line::from(Span::styled(format!("  {figures}"), t.style(Role::Text))));
        }
        // The figures of the current check: this cockpit's driver's newest line, or, observing,
        // the one the other driver published.
        // The figures alone, without the check's label (the step says what it waits for): on
        // a narrow terminal they fit.
        let newest = match (&app.cutover.driving, &app.cutover.live) {
            (Some(_), _) => app.cutover.lines.back(),
            (None, Some((said, _))) if app.cutover.driver.is_some() => Some(said),
            _ => None,
        };
        for step in &state.steps {
            let status = state.status(*step, &wave.hooks);
            let (started, finished) = state.step_times(*step, &wave.hooks);
            let (mark, role, what) = match &status {
                StepStatus::Done => (
                    "✓",
                    Role::Ok,
                    format!("done in {}", elapsed(started, finished, app.now)),
                ),
                StepStatus::Skipped => (
                    "-",
                    Role::Muted,
                    format!("skipped: {}", state.skipped.get(step).cloned().unwrap_or_default()),
                ),
                StepStatus::Failed(reason) => ("✗", Role::Crit, format!("FAILED: {reason}")),
                StepStatus::Running if Some(*step) == current => (
                    "▸",
                    Role::Accent,
                    format!(
                        "T+{}  {}",
                        elapsed(started, None, app.now),
                        newest.and_then(|s| s.about(*step)).unwrap_or_default()
                    ),
                ),
                StepStatus::Running => ("▸", Role::Warn, "interrupted".into()),
                StepStatus::Pending => ("·", Role::Muted, String::new()),
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {mark} "), t.style(role)),
                Span::styled(format!("{:<24}", step.name()), t.style(Role::Text)),
                Span::styled(what, t.style(role)),
            ]));
        }
        frame.render_widget(Paragraph::new(lines), middle);
    }

    // The newest lines: the driver's own when this cockpit drives, else the journal's.
    let mut lines = Vec::new();
    let room = bottom.height as usize;
    match (&app.cutover.driving, &app.cutover.driver) {
        (Some(_), _) => {
            lines.extend(
                app.cutover
                    .lines
                    .iter()
                    .rev()
                    .take(room)
                    .rev()
                    .map(|s| Line::from(Span::styled(format!(" {}", s.line()), t.style(Role::Text)))),
            );
        }
        (None, driver) => {
            if let Some(by) = driver {
                let detached = crate::cutover::handover::holder(by).filter(|h| h.detached);
                let text = match detached {
                    Some(h) => format!(
                        " DETACHED: a detached driver (pid {}) holds the wave since its cockpit lost its terminal; s or r takes it over",
                        h.pid
                    ),
                    None => format!(" OBSERVING: driven by {by}; this cockpit follows the journal"),
                };
                lines.push(Line::from(Span::styled(text, t.style(Role::Warn))));
                if let Some((said, at)) = &app.cutover.live {
                    let age = short_duration(app.now.duration_since(*at).unwrap_or_default());
                    lines.push(Line::from(Span::styled(
                        format!(" driver, {age} ago: {}", said.line()),
                        t.style(Role::Text),
                    )));
                }
            }
            let shown = room.saturating_sub(lines.len());
            lines.extend(
                app.cutover
                    .entries
                    .iter()
                    .rev()
                    .take(shown)
                    .rev()
                    .map(|e| Line::from(Span::styled(format!(" {}", e.describe()), t.style(Role::Muted)))),
            );
        }
    }
    frame.render_widget(Paragraph::new(lines), bottom);
}
