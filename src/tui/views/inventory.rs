//! Inventory diff (3): topics missing on the target, partition counts and configs that differ.

use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row};
use ratatui::Frame;

use super::widgets::*;
use crate::model::inventory::{Difference, TopicDiff};
use crate::tui::app::App;
use crate::tui::theme::Role;

pub(super) fn render(frame: &mut Frame, area: Rect, app: &App, diffs: &[TopicDiff]) {
    let t = &app.theme;
    let _wide = area.width >= WIDE;
    let head = vec!["KIND", "TOPIC", "DIFFERENCE (SOURCE → TARGET)"];
    let widths = vec![Constraint::Length(10), Constraint::Max(30), Constraint::Min(30)];
    let shown = visible_rows(area, app, diffs.len());
    let body = diffs[shown.clone()]
        .iter()
        .map(|d| {
            let role = match d.difference {
                Difference::MissingOnTarget | Difference::PartitionCount { .. } => Role::Crit,
                Difference::Config { .. }
                | Difference::ConfigsUnavailable { .. }
                | Difference::OwnTimestamps { .. } => Role::Warn,
            };
            Row::new(vec![
                Cell::from(d.difference.kind()).style(t.style(role)),
                Cell::from(d.source_topic.clone()),
                Cell::from(d.difference.describe()),
            ])
        })
        .collect();
    let empty = if app.snapshot.source.state().is_none() || app.snapshot.target.state().is_none() {
        "waiting for both clusters to answer…"
    } else {
        "no differences: every topic exists on the target with the same partitions and configs"
    };
    render_table(
        frame,
        area,
        app,
        table(t, header(t, head), body, widths),
        diffs.len(),
        shown.start,
        empty,
    );
}
