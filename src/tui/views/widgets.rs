//! What every view draws with: cells, tables, the roles of result words.

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::model::overview::PairStatus;
use crate::model::validation::Status;
use crate::model::GroupStatus;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};

/// Terminals at least this wide get the extra columns.
pub(super) const WIDE: u16 = 120;

pub(super) fn status_role(s: PairStatus) -> Role {
    match s {
        PairStatus::Ok => Role::Ok,
        PairStatus::Lag => Role::Warn,
        PairStatus::LagCrit | PairStatus::Stale | PairStatus::Missing | PairStatus::Mismatch => Role::Crit,
    }
}

pub(super) fn validation_role(s: Status) -> Role {
    match s {
        Status::Pass => Role::Ok,
        Status::Fail | Status::Error => Role::Crit,
        Status::Skipped => Role::Warn,
        Status::Running | Status::Pending => Role::Muted,
    }
}

pub(super) fn group_role(s: &GroupStatus) -> Role {
    match s {
        GroupStatus::Stable => Role::Ok,
        GroupStatus::PreparingRebalance
        | GroupStatus::CompletingRebalance
        | GroupStatus::Assigning
        | GroupStatus::Reconciling => Role::Warn,
        GroupStatus::Dead => Role::Crit,
        GroupStatus::Empty | GroupStatus::Unknown(_) => Role::Text,
    }
}

/// A right-aligned cell: numbers line up. Too wide for `width`, it ends in "…" instead of
/// losing digits (a right-aligned line would be cut from the left: 2000 would read "00").
pub(super) fn right(s: String, width: u16) -> Cell<'static> {
    Cell::from(Line::from(fit(&s, width as usize)).alignment(Alignment::Right))
}

/// `s` if it fits in `width` columns, else its start and "…": never a different figure.
pub(super) fn fit(s: &str, width: usize) -> String {
    // Figures are ASCII, so a character is a column.
    if s.chars().count() <= width {
        return s.to_string();
    }
    match width {
        0 => String::new(),
        _ => s.chars().take(width - 1).chain(std::iter::once('…')).collect(),
    }
}

/// The widths the table will give its columns in `area_width` (as ratatui's Table lays them
/// out: column spacing 1, no selection symbol), so figures can be fitted before rendering.
pub(super) fn column_widths(area_width: u16, widths: &[Constraint]) -> Vec<u16> {
    Layout::horizontal(widths.to_vec())
        .flex(ratatui::layout::Flex::Start)
        .spacing(1)
        .split(Rect::new(0, 0, area_width, 1))
        .iter()
        .map(|r| r.width)
        .collect()
}

pub(super) fn num(v: Option<i64>) -> String {
    v.map_or_else(|| "?".into(), |n| n.to_string())
}

/// A lag in seconds for a cell: "4.2s", "~4.2s" estimated, ">2m05s" at least, "?" unknown.
pub(super) fn age(a: Option<crate::model::lag_time::Age>) -> String {
    a.map_or_else(|| "?".into(), |a| a.label())
}

pub(super) fn fig<E>(v: &Result<i64, E>) -> String {
    v.as_ref().map_or_else(|_| "?".into(), |n| n.to_string())
}

pub(super) fn header<'a>(t: &Theme, cells: Vec<&'a str>) -> Row<'a> {
    Row::new(cells.into_iter().map(|c| Cell::from(c).style(t.style(Role::Header))))
}

pub(super) fn table<'a>(t: &Theme, head: Row<'a>, rows: Vec<Row<'a>>, widths: Vec<Constraint>) -> Table<'a> {
    Table::new(rows, widths)
        .header(head)
        .column_spacing(1)
        .row_highlight_style(t.selected())
        .style(t.style(Role::Text))
}

/// The rows of a table of `len` rows that `area` (a header line, then rows) shows: the page
/// that holds the selected row, placed as ratatui scrolls to it. Views format only these, so
/// a frame costs the page, not the list (25,000 partitions).
pub(super) fn visible_rows(area: Rect, app: &App, len: usize) -> std::ops::Range<usize> {
    let page = (area.height as usize).saturating_sub(1).max(1);
    let selected = app.selected().min(len.saturating_sub(1));
    let start = (selected + 1).saturating_sub(page);
    start..(start + page).min(len)
}

/// Draws `table`, whose rows are those of `len` from `first` on (see `visible_rows`).
pub(super) fn render_table(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    table: Table,
    len: usize,
    first: usize,
    empty: &str,
) {
    if len == 0 {
        let msg = if app.filter.is_empty() {
            empty.to_string()
        } else {
            format!("no rows match the filter `{}` (Esc clears it)", app.filter)
        };
        let [head, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        frame.render_widget(table, head);
        frame.render_widget(Paragraph::new(msg).style(app.theme.style(Role::Muted)), rest);
        return;
    }
    let mut state = TableState::default().with_selected(Some(app.selected().min(len - 1) - first));
    frame.render_stateful_widget(table, area, &mut state);
}

pub(super) fn ago(app: &App, at: std::time::SystemTime) -> String {
    crate::model::short_duration(app.now.duration_since(at).unwrap_or_default())
}
