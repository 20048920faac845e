//! Groups (2): every consumer group on both clusters, its state, members, lag and rebalances.

use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Paragraph, Row, Wrap};
use ratatui::Frame;

use super::widgets::*;
use crate::model::groups::{GroupRow, GroupSide};
use crate::model::{GroupStatus, Side};
use crate::tui::app::App;
use crate::tui::theme::Role;

/// The REBALANCE column's least width: "src rebalancing for 12s (3 members)".
const REBALANCE_MIN: u16 = 16;

pub(super) fn render(frame: &mut Frame, area: Rect, app: &App, groups: &crate::error::Result<Vec<GroupRow>>) {
    let t = &app.theme;
    let wide = area.width >= WIDE;
    let groups = match groups {
        Ok(g) => g,
        Err(e) => {
            let msg = format!("consumer groups unavailable on both clusters: {e}");
            frame.render_widget(
                Paragraph::new(msg).style(t.style(Role::Crit)).wrap(Wrap { trim: true }),
                area,
            );
            return;
        }
    };
    let state_w = if wide { 19 } else { 10 };
    let mut head = vec![
        "GROUP",
        "SRC STATE",
        "MEM",
        "SRC LAG",
        "AGE",
        "TGT STATE",
        "MEM",
        "TGT LAG",
        "AGE",
    ];
    // Group names whole where there is room: the REBALANCE column takes what is left (at
    // least REBALANCE_MIN), never the names.
    let fixed = 2 * state_w + 2 * 3 + 2 * 8 + 2 * 6 + 9;
    let longest = groups.iter().map(|g| g.name.chars().count() as u16).max().unwrap_or(0);
    let room = if wide {
        area.width.saturating_sub(fixed + REBALANCE_MIN)
    } else {
        area.width.saturating_sub(fixed)
    };
    let name_w = longest.clamp(12, room.max(12));
    let rebalance_w = area.width.saturating_sub(fixed + name_w).clamp(REBALANCE_MIN, 44);
    let mut widths = vec![
        Constraint::Min(name_w),
        Constraint::Length(state_w),
        Constraint::Length(3),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(state_w),
        Constraint::Length(3),
        Constraint::Length(8),
        Constraint::Length(6),
    ];
    if wide {
        head.push("REBALANCE");
        widths.push(Constraint::Length(rebalance_w));
    }
    let cols = column_widths(area.width, &widths);
    let (mem_w, lag_w, age_w) = (cols[2], cols[3], cols[4]);
    let side_cells = |s: &Option<GroupSide>| -> Vec<Cell> {
        match s {
            None => vec![Cell::from("-"), Cell::from("-"), Cell::from("-"), Cell::from("-")],
            Some(s) => vec![
                Cell::from(state_label(&s.status, wide)).style(t.style(group_role(&s.status))),
                right(s.members.to_string(), mem_w),
                right(fig(&s.lag), lag_w),
                right(age(s.lag_age), age_w),
            ],
        }
    };
    let shown = visible_rows(area, app, groups.len());
    let body = groups[shown.clone()]
        .iter()
        .map(|g| {
            let mut cells = vec![Cell::from(g.name.clone())];
            cells.extend(side_cells(&g.source));
            cells.extend(side_cells(&g.target));
            if wide {
                let label = app
                    .rebalance_label(Side::Source, &g.name)
                    .map(|l| format!("src {l}"))
                    .or_else(|| app.rebalance_label(Side::Target, &g.name).map(|l| format!("tgt {l}")))
                    .unwrap_or_default();
                cells.push(Cell::from(label).style(t.style(Role::Warn)));
            }
            Row::new(cells)
        })
        .collect();
    render_table(
        frame,
        area,
        app,
        table(t, header(t, head), body, widths),
        groups.len(),
        shown.start,
        "no consumer groups match the group filter",
    );
}

pub(super) fn info(app: &App, v: &[GroupRow], sel: usize) -> Option<(String, Role)> {
    let errs: Vec<String> = [Side::Source, Side::Target]
        .into_iter()
        .filter_map(|s| {
            crate::model::groups::group_list_error(&app.snapshot, s)
                .map(|e| format!("{} groups: {e}", app.snapshot.feed(s).name))
        })
        .collect();
    if !errs.is_empty() {
        return Some((errs.join("; "), Role::Crit));
    }
    let g = v.get(sel)?;
    let side_note = |s: &Option<GroupSide>, name: &str, side: Side| -> Option<String> {
        let s = s.as_ref()?;
        let lag = s.lag.as_ref().err().map(|e| format!("lag {e}"));
        let rebal = app.rebalance_label(side, &g.name);
        let parts: Vec<String> = lag.into_iter().chain(rebal).collect();
        (!parts.is_empty()).then(|| format!("{name}: {}", parts.join(", ")))
    };
    let notes: Vec<String> = [
        side_note(&g.source, "src", Side::Source),
        side_note(&g.target, "tgt", Side::Target),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!notes.is_empty()).then(|| (format!("{}: {}", g.name, notes.join("; ")), Role::Warn))
}

fn state_label(s: &GroupStatus, wide: bool) -> String {
    if wide {
        return s.label();
    }
    match s {
        GroupStatus::PreparingRebalance => "PrepRebal".into(),
        GroupStatus::CompletingRebalance => "CompRebal".into(),
        GroupStatus::Unknown(_) => "unknown".into(),
        other => other.label(),
    }
}
