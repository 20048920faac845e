//! Event log (4): what the cockpit saw happen, newest first.

use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row};
use ratatui::Frame;

use super::widgets::*;
use crate::model::events::{Event, Level};
use crate::model::groups::clock;
use crate::tui::app::App;
use crate::tui::theme::Role;

pub(super) fn render(frame: &mut Frame, area: Rect, app: &App, events: &[Event]) {
    let t = &app.theme;
    let _wide = area.width >= WIDE;
    let head = vec!["TIME", "LEVEL", "EVENT"];
    let widths = vec![Constraint::Length(9), Constraint::Length(5), Constraint::Min(20)];
    let shown = visible_rows(area, app, events.len());
    let body = events[shown.clone()]
        .iter()
        .map(|e| {
            let role = match e.level {
                Level::Info => Role::Text,
                Level::Warn => Role::Warn,
                Level::Error => Role::Crit,
            };
            Row::new(vec![
                Cell::from(clock(e.at)).style(t.style(Role::Muted)),
                Cell::from(e.level.word()).style(t.style(role)),
                Cell::from(e.text.clone()),
            ])
        })
        .collect();
    render_table(
        frame,
        area,
        app,
        table(t, header(t, head), body, widths),
        events.len(),
        shown.start,
        "no events yet",
    );
}
