//! Offset mapping (5): MM2's newest offset-sync per partition and the drift since.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};
use ratatui::Frame;

use super::widgets::*;
use crate::model::mapping::{heartbeat_age, heartbeat_stale, MappingRows};
use crate::tui::app::App;
use crate::tui::theme::Role;

pub(super) fn render(frame: &mut Frame, area: Rect, app: &App, rows: &MappingRows) {
    let t = &app.theme;
    let wide = area.width >= WIDE;
    let [summary, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    frame.render_widget(Paragraph::new(mm2_summary(app)), summary);
    let w = if wide { 12 } else { 9 };
    let head = vec!["TOPIC", "P", "SYNC SRC", "SYNC TGT", "SRC +", "TGT +", "DRIFT"];
    let widths = vec![
        Constraint::Min(10),
        Constraint::Length(4),
        Constraint::Length(w),
        Constraint::Length(w),
        Constraint::Length(w),
        Constraint::Length(w),
        Constraint::Length(8),
    ];
    let cols = column_widths(rest.width, &widths);
    // Records written on the target only during a wave are no copies: left out of TGT + and
    // DRIFT, and said so above the table.
    let [explained, rest] = match app.snapshot.target_only.is_empty() {
        true => [Rect::default(), rest],
        false => Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(rest),
    };
    if !app.snapshot.target_only.is_empty() {
        let n: i64 = app.snapshot.target_only.all().filter_map(|r| r.records()).sum();
        let open = app.snapshot.target_only.all().filter(|r| r.to.is_none()).count();
        let mut text = format!("{n} records written on the target only during waves are left out of TGT + and DRIFT");
        if open > 0 {
            text += &format!(" ({open} partition(s) still written there since their wave)");
        }
        frame.render_widget(Paragraph::new(Span::styled(text, t.style(Role::Muted))), explained);
    }
    let identity = app.config.replication.kind == crate::config::ReplicationKind::OffsetPreserving;
    let shown = visible_rows(rest, app, rows.len());
    // Only the rows on screen are derived.
    let body = rows
        .page(shown.clone())
        .into_iter()
        .map(|r| {
            let (sync_src, sync_tgt) = match (r.sync, identity) {
                (Some((u, d)), _) => (u.to_string(), d.to_string()),
                (None, true) => ("identity".into(), "identity".into()),
                (None, false) => ("no sync".into(), "-".into()),
            };
            let (drift, role) = match r.drift {
                Some(0) => ("0".to_string(), Role::Ok),
                Some(d) if d > 0 => (format!("+{d}"), Role::Crit),
                Some(d) => (d.to_string(), Role::Warn),
                None => ("?".into(), Role::Muted),
            };
            Row::new(vec![
                Cell::from(r.source_topic.to_string()),
                Cell::from(r.partition.to_string()),
                right(sync_src, cols[2]),
                right(sync_tgt, cols[3]),
                right(num(r.source_since), cols[4]),
                right(num(r.target_since), cols[5]),
                right(drift, cols[6]).style(t.style(role)),
            ])
        })
        .collect();
    render_table(
        frame,
        rest,
        app,
        table(t, header(t, head), body, widths),
        rows.len(),
        shown.start,
        "no replicated partitions",
    );
}

/// MM2's liveness (heartbeat age) and what could not be read, above the mapping table.
fn mm2_summary(app: &App) -> Line<'static> {
    let t = &app.theme;
    if app.config.replication.kind == crate::config::ReplicationKind::OffsetPreserving {
        return Line::from(Span::styled(
            "offset-preserving replicator: same offsets on both sides (identity mapping)",
            t.style(Role::Muted),
        ));
    }
    let Some(m) = &app.snapshot.mm2 else {
        return Line::from(Span::styled("reading MM2's internal topics…", t.style(Role::Muted)));
    };
    let mut spans = match heartbeat_age(m, app.now) {
        Some(age) => {
            let role = if heartbeat_stale(age, app.config.monitor.refresh_interval) {
                Role::Crit
            } else {
                Role::Ok
            };
            vec![Span::styled(
                format!("MM2 heartbeat {} ago", crate::model::short_duration(age)),
                t.style(role),
            )]
        }
        None => vec![Span::styled("no MM2 heartbeat read", t.style(Role::Warn))],
    };
    spans.push(Span::styled(
        format!("  {} offset-syncs", m.syncs.len()),
        t.style(Role::Muted),
    ));
    if m.skipped() > 0 {
        spans.push(Span::styled(
            format!(
                "  {} MM2 records skipped ({} undecodable, {} invalid offset-syncs; see the log)",
                m.skipped(),
                m.undecodable,
                m.rejected_syncs
            ),
            t.style(Role::Warn),
        ));
    }
    for (what, e) in &m.errors {
        spans.push(Span::styled(format!("  {what}: {e}"), t.style(Role::Crit)));
    }
    Line::from(spans)
}
