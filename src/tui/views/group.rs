//! One group: its committed offsets on both clusters, MM2's checkpoint, the exact translation
//! and what flipping on the checkpoint would cost; its members below.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};
use ratatui::Frame;

use super::widgets::*;
use crate::model::groups::{FlipCost, GroupPartition};
use crate::model::translation::{partition_exact, walked_summary, Exact, PartitionExact, WalkedOver};
use crate::model::Side;
use crate::tui::app::{App, View};
use crate::tui::theme::Role;

pub(super) fn render(frame: &mut Frame, area: Rect, app: &App, parts: &[GroupPartition]) {
    let t = &app.theme;
    let wide = area.width >= WIDE;
    let View::Group(group) = app.view() else { return };
    let [status, area] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    frame.render_widget(Paragraph::new(translation_status(app, group)), status);
    let w = if wide { 12 } else { 9 };
    let mut head = vec![
        "TOPIC",
        "P",
        "SRC COMMIT",
        "TGT COMMIT",
        "CHECKPOINT",
        "EXACT",
        "FLIP ON CKPT",
    ];
    let mut widths = vec![
        Constraint::Min(8),
        Constraint::Length(3),
        Constraint::Length(w + 1),
        Constraint::Length(w + 1),
        Constraint::Length(w + 1),
        Constraint::Length(w),
        Constraint::Length(15),
    ];
    if wide {
        head.insert(1, "TARGET TOPIC");
        widths.insert(1, Constraint::Min(12));
        head.extend(["SRC LAG", "SRC AGE", "TGT LAG", "TGT AGE"]);
        widths.extend([
            Constraint::Length(w),
            Constraint::Length(7),
            Constraint::Length(w),
            Constraint::Length(7),
        ]);
    }
    let cols = column_widths(area.width, &widths);
    let at = |name: &str| cols[head.iter().position(|h| *h == name).expect("a column")];
    let members = crate::model::groups::group_members(&app.snapshot, group);
    // Members below the offsets: as many as fit, at most a third of the body.
    let member_rows = (members.len().max(1) as u16 + 1).min(area.height / 3).max(2);
    let [offsets_area, members_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(member_rows)]).areas(area);
    let shown = visible_rows(offsets_area, app, parts.len());
    let body = parts[shown.clone()]
        .iter()
        .map(|p| {
            let x = group_translation(app, group, p);
            let mut cells = vec![Cell::from(p.source_topic.clone())];
            if wide {
                cells.push(Cell::from(p.target_topic.clone()));
            }
            let (flip, role) = match &x.flip {
                Some(FlipCost::Duplicates(_)) => (x.flip.as_ref().map(FlipCost::label), Role::Warn),
                Some(FlipCost::Skips(_)) | Some(FlipCost::NoExact) => {
                    (x.flip.as_ref().map(FlipCost::label), Role::Crit)
                }
                Some(FlipCost::Zero) => (Some("0".into()), Role::Ok),
                Some(FlipCost::NoCheckpoint) => (Some("no checkpoint".into()), Role::Muted),
                Some(FlipCost::NewerCommit { .. }) => (Some("group moved on".into()), Role::Muted),
                None => (None, Role::Muted),
            };
            cells.extend([
                Cell::from(p.partition.to_string()),
                right(
                    p.source_committed.map_or("-".into(), |c| c.to_string()),
                    at("SRC COMMIT"),
                ),
                right(
                    p.target_committed.map_or("-".into(), |c| c.to_string()),
                    at("TGT COMMIT"),
                ),
                right(x.checkpoint.map_or("-".into(), |c| c.to_string()), at("CHECKPOINT")),
                right(exact_cell(&x.exact).0, at("EXACT")),
                right(flip.unwrap_or_else(|| "…".into()), at("FLIP ON CKPT")).style(t.style(role)),
            ]);
            if wide {
                let lag_or_dash = |lag: Option<i64>| lag.map_or("-".into(), |c| c.to_string());
                let age_or_dash = |lag: Option<i64>, a| lag.map_or("-".into(), |_| age(a));
                cells.extend([
                    right(lag_or_dash(p.source_lag()), at("SRC LAG")),
                    right(age_or_dash(p.source_lag(), p.source_age), at("SRC AGE")),
                    right(lag_or_dash(p.target_lag()), at("TGT LAG")),
                    right(age_or_dash(p.target_lag(), p.target_age), at("TGT AGE")),
                ]);
            }
            Row::new(cells)
        })
        .collect();
    render_table(
        frame,
        offsets_area,
        app,
        table(t, header(t, head), body, widths),
        parts.len(),
        shown.start,
        "no committed offsets for this group on either cluster",
    );
    let mut lines = vec![Line::from(Span::styled(
        format!("MEMBERS ({})", members.len()),
        t.style(Role::Header),
    ))];
    if members.is_empty() {
        lines.push(Line::from(Span::styled(
            "no members on either cluster",
            t.style(Role::Muted),
        )));
    }
    for (side, m) in &members {
        let side = if *side == Side::Source { "src" } else { "tgt" };
        lines.push(Line::from(vec![
            Span::styled(format!("{side} "), t.style(Role::Muted)),
            Span::raw(format!("{} {} ", m.client_id, m.host)),
            Span::styled(crate::model::groups::assignment_label(m), t.style(Role::Accent)),
            Span::styled(format!("  {}", m.id), t.style(Role::Muted)),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), members_area);
}

pub(super) fn info(app: &App, v: &[GroupPartition], sel: usize) -> Option<(String, Role)> {
    let View::Group(group) = app.view() else { return None };
    let p = v.get(sel)?;
    let x = group_translation(app, group, p);
    let here = |d: String| format!("{} {}: {d}", p.source_topic, p.partition);
    if let Some(d) = exact_cell(&x.exact).1 {
        return Some((here(d), Role::Crit));
    }
    let lost = x.walked_over.iter().any(WalkedOver::is_loss);
    if let Some(w) = walked_summary(&x.walked_over) {
        return Some((here(format!("exact, {w}")), if lost { Role::Crit } else { Role::Warn }));
    }
    // Said beside the figure: a target stamping its own times has no timestamp to compare.
    let content_only = crate::model::inventory::own_timestamps(&app.snapshot).contains(&p.target_topic);
    (content_only && matches!(x.exact, Exact::Offset(_))).then(|| {
        (
            here(format!("exact, {}", crate::model::inventory::WITHOUT_TIMESTAMPS)),
            Role::Muted,
        )
    })
}

/// The exact offset's cell, and the line under the table when it needs one.
fn exact_cell(e: &Exact) -> (String, Option<String>) {
    match e {
        Exact::Translating => ("…".into(), None),
        Exact::NotTranslated => ("-".into(), None),
        Exact::Stale { translated } => (
            "stale".into(),
            Some(format!(
                "the group committed again since the translation of {translated}; t translates again"
            )),
        ),
        Exact::Offset(o) => (o.to_string(), None),
        Exact::NoExact { reason } => ("NONE".into(), Some(format!("no exact translation: {reason}"))),
    }
}

fn group_translation(app: &App, group: &str, p: &GroupPartition) -> PartitionExact {
    partition_exact(app.snapshot.mm2.as_deref(), app.translations.get(group), group, p)
}

/// "exact translation 12s ago" above the group's table.
fn translation_status(app: &App, group: &str) -> Line<'static> {
    let t = &app.theme;
    let age = |at: std::time::SystemTime| crate::model::short_duration(app.now.duration_since(at).unwrap_or_default());
    match app.translations.get(group) {
        None => Line::from(Span::styled("exact translation: press t", t.style(Role::Muted))),
        Some(x) => match &x.done {
            None => Line::from(Span::styled(
                format!("exact translation: reading both clusters… ({})", age(x.requested_at)),
                t.style(Role::Warn),
            )),
            Some((at, Ok(_))) => Line::from(Span::styled(
                format!(
                    "exact translation {} ago, content-verified; t translates again{}",
                    age(*at),
                    // A live group's translation follows its commits on its own.
                    if x.running { " (updating…)" } else { "" }
                ),
                t.style(Role::Muted),
            )),
            Some((_, Err(e))) => Line::from(Span::styled(
                format!("exact translation failed: {e}"),
                t.style(Role::Crit),
            )),
        },
    }
}
