//! One partition's validation: the first mismatch in detail, and its results run by run.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Wrap};
use ratatui::Frame;

use super::validation::span_ranges;
use super::widgets::*;
use crate::model::groups::clock;
use crate::model::validation::{result_detail, Status, ValidationRow};
use crate::tui::app::App;
use crate::tui::theme::Role;

pub(super) fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    row: &ValidationRow,
    results: &[(u64, std::time::SystemTime, crate::validate::run::Row)],
) {
    let t = &app.theme;
    let target_topic = app.config.replication.target_topic(&row.topic);
    let (src, tgt, compared) = span_ranges(row.validated);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(row.status.word(), t.style(validation_role(row.status))),
            Span::raw(format!(
                " {}/{} → {target_topic}/{}",
                row.topic, row.partition, row.partition
            )),
            Span::styled(
                row.last.map_or("  never validated".into(), |at| {
                    format!("  last result {} ago", ago(app, at))
                }),
                t.style(Role::Muted),
            ),
        ]),
        Line::from(match row.validated {
            Some(_) => format!("validated: source {src}, target {tgt}, {compared} records compared and equal"),
            None => "validated: nothing yet (no passing run)".into(),
        }),
    ];
    let newest = results.first().map(|(_, _, r)| r);
    match newest.map(|r| &r.result.verdict) {
        Some(crate::validate::Verdict::Fail { mismatch }) => {
            let at = |o: Option<i64>| o.map_or("(none)".into(), |o| o.to_string());
            lines.push(Line::from(Span::styled(
                format!("first mismatch: {}", mismatch.describe()),
                t.style(Role::Crit),
            )));
            lines.push(Line::from(format!(
                "  source {}/{} offset {}   target {target_topic}/{} offset {}{}",
                row.topic,
                row.partition,
                at(mismatch.source_offset),
                row.partition,
                at(mismatch.target_offset),
                mismatch
                    .key
                    .as_ref()
                    .map(|k| format!("   key `{k}`"))
                    .unwrap_or_default()
            )));
        }
        _ if !row.detail.is_empty() => lines.push(Line::from(Span::styled(
            row.detail.clone(),
            t.style(validation_role(row.status)),
        ))),
        _ => {}
    }
    let [top, rest] = Layout::vertical([Constraint::Length(lines.len() as u16 + 1), Constraint::Min(2)]).areas(area);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), top);
    let w = if area.width >= WIDE { 17 } else { 11 };
    let head = vec![
        "RUN",
        "FINISHED",
        "RESULT",
        "SRC RANGE",
        "TGT RANGE",
        "COMPARED",
        "READ",
        "DETAIL",
    ];
    let widths = vec![
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(w),
        Constraint::Length(w),
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Min(10),
    ];
    let cols = column_widths(rest.width, &widths);
    let shown = visible_rows(rest, app, results.len());
    let body = results[shown.clone()]
        .iter()
        .map(|(run, at, r)| {
            let range = |(a, b): (i64, i64)| format!("{a}..{b}");
            let status = Status::of(&r.result.verdict);
            Row::new(vec![
                right(run.to_string(), cols[0]),
                Cell::from(clock(*at)).style(t.style(Role::Muted)),
                Cell::from(status.word()).style(t.style(validation_role(status))),
                right(range(r.result.source_range), cols[3]),
                right(range(r.result.target_range), cols[4]),
                right(r.result.records_compared.to_string(), cols[5]),
                right(format!("{}+{}", r.records_read.0, r.records_read.1), cols[6]),
                Cell::from(result_detail(r)),
            ])
        })
        .collect();
    render_table(
        frame,
        rest,
        app,
        table(t, header(t, head), body, widths),
        results.len(),
        shown.start,
        "no results yet: v validates this topic now",
    );
}
