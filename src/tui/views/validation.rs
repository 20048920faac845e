//! Validation (6): per partition result and validated ranges, the running run, the history.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row};
use ratatui::Frame;

use super::widgets::*;
use crate::model::groups::clock;
use crate::model::validation::{RunSummary, Span as Validated, Status, ValidationRows};
use crate::tui::app::App;
use crate::tui::theme::Role;

pub(super) fn info(app: &App, v: &ValidationRows, sel: usize) -> Option<(String, Role)> {
    v.page(&app.validation, sel..sel + 1)
        .pop()
        .filter(|r| !r.detail.is_empty())
        .map(|r| {
            (
                format!("{}/{}: {}", r.topic, r.partition, r.detail),
                validation_role(r.status),
            )
        })
}

pub(super) fn span_ranges(v: Option<Validated>) -> (String, String, String) {
    match v {
        Some(v) => (
            format!("{}..{}", v.source.0, v.source.1),
            format!("{}..{}", v.target.0, v.target.1),
            v.compared.to_string(),
        ),
        None => ("-".into(), "-".into(), "0".into()),
    }
}

fn megabytes_per_sec(bytes: u64, took: std::time::Duration) -> String {
    let secs = took.as_secs_f64();
    if secs < 0.001 {
        return "-".into();
    }
    format!("{:.2}", bytes as f64 / 1e6 / secs)
}

/// "run 3 (on demand: orders): 2/4 partitions, 1,234 records read, 0.50 MB/s of 10 MB/s" or
/// when the next scheduled run is.
fn validation_summary(app: &App) -> Line<'static> {
    let t = &app.theme;
    let b = &app.validation;
    let limit = format!("{} MB/s", app.config.validation.rate_limit_bytes as f64 / 1e6);
    if let Some(r) = b.running() {
        let took = r.duration(app.now);
        // Records read so far: finished partitions plus the running ones' meters.
        let running: (u64, u64) = b
            .running_meters()
            .map(|m| m.records())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let bytes = r.bytes + b.running_meters().map(|m| m.bytes()).sum::<u64>();
        return Line::from(Span::styled(
            format!(
                "RUNNING run {} ({}) {}: {}/{} partitions, {}+{} records, {} MB/s of {limit}",
                r.id,
                r.scope_label(),
                crate::model::short_duration(took),
                r.done(),
                r.partitions,
                r.records.0 + running.0,
                r.records.1 + running.1,
                megabytes_per_sec(bytes, took),
            ),
            t.style(Role::Warn),
        ));
    }
    let next = match (b.next_run, app.config.validation.interval) {
        (Some(at), _) => format!(
            "next run in {}",
            crate::model::short_duration(at.duration_since(app.now).unwrap_or_default())
        ),
        (None, None) => "scheduled runs off: v, V or R".into(),
        (None, Some(_)) => "first run after the first poll of both clusters".into(),
    };
    Line::from(Span::styled(
        format!(
            "{next}; limit {limit}, {} partitions at once",
            app.config.validation.parallelism
        ),
        t.style(Role::Muted),
    ))
}

pub(super) fn render(frame: &mut Frame, area: Rect, app: &App, rows: &ValidationRows) {
    let t = &app.theme;
    let wide = area.width >= WIDE;
    let history = (app.validation.runs.len() as u16 + 2).min(area.height / 3).min(12);
    let [summary, list, runs] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(if history > 2 { history } else { 0 }),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(validation_summary(app)), summary);
    let w = if wide { 17 } else { 11 };
    let head = if wide {
        vec![
            "TOPIC",
            "P",
            "RESULT",
            "SRC VALIDATED",
            "TGT VALIDATED",
            "COMPARED",
            "LAST",
            "DETAIL",
        ]
    } else {
        vec![
            "TOPIC",
            "P",
            "RESULT",
            "SRC RANGE",
            "TGT RANGE",
            "COMPARED",
            "LAST",
            "DETAIL",
        ]
    };
    let widths = vec![
        Constraint::Fill(1),
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Length(w),
        Constraint::Length(w),
        Constraint::Length(if wide { 10 } else { 8 }),
        Constraint::Length(6),
        Constraint::Fill(2),
    ];
    let cols = column_widths(area.width, &widths);
    let shown = visible_rows(list, app, rows.len());
    // Only the rows on screen are read from the board.
    let body = rows
        .page(&app.validation, shown.clone())
        .into_iter()
        .map(|r| {
            let (src, tgt, compared) = span_ranges(r.validated);
            Row::new(vec![
                Cell::from(r.topic.to_string()),
                Cell::from(r.partition.to_string()),
                Cell::from(r.status.word()).style(t.style(validation_role(r.status))),
                right(src, cols[3]),
                right(tgt, cols[4]),
                right(compared, cols[5]),
                right(r.last.map_or("-".into(), |at| ago(app, at)), cols[6]),
                Cell::from(r.detail.clone()),
            ])
        })
        .collect();
    let empty = if app.snapshot.source.state().is_none() {
        "waiting for the first poll of the source cluster…"
    } else {
        "no watched partitions"
    };
    render_table(
        frame,
        list,
        app,
        table(t, header(t, head), body, widths),
        rows.len(),
        shown.start,
        empty,
    );
    if runs.height > 2 {
        render_runs(frame, runs, app, &app.validation.runs.iter().collect::<Vec<_>>());
    }
}

/// The history of runs, newest first.
fn render_runs(frame: &mut Frame, area: Rect, app: &App, runs: &[&RunSummary]) {
    let t = &app.theme;
    let head = vec![
        "RUN", "STARTED", "TRIGGER", "SCOPE", "TOOK", "RECORDS", "MB/s", "RESULTS",
    ];
    let widths = vec![
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(13),
        Constraint::Length(6),
        Constraint::Fill(2),
    ];
    let cols = column_widths(area.width.saturating_sub(2), &widths);
    let body = runs
        .iter()
        .map(|r| {
            let took = r.duration(app.now);
            let (results, role) = match (&r.error, r.finished) {
                (Some(e), _) => (format!("not run: {e}"), Role::Crit),
                (None, None) => (format!("running {}/{}", r.done(), r.partitions), Role::Warn),
                (None, Some(_)) => {
                    let words: Vec<String> = r.counts.iter().map(|(s, n)| format!("{n} {}", s.word())).collect();
                    let worst = r.counts.keys().next().copied().unwrap_or(Status::Pass);
                    (words.join(" "), validation_role(worst))
                }
            };
            Row::new(vec![
                right(r.id.to_string(), cols[0]),
                Cell::from(clock(r.started)).style(t.style(Role::Muted)),
                Cell::from(match r.trigger {
                    crate::validate::job::Trigger::Scheduled => "scheduled",
                    crate::validate::job::Trigger::OnDemand => "on demand",
                    crate::validate::job::Trigger::Aligned => "aligned",
                }),
                Cell::from(r.scope_label()),
                right(crate::model::short_duration(took), cols[4]),
                right(format!("{}+{}", r.records.0, r.records.1), cols[5]),
                right(megabytes_per_sec(r.bytes, took), cols[6]),
                Cell::from(results).style(t.style(role)),
            ])
        })
        .collect();
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(t.style(Role::Border))
        .title(Span::styled(" Runs ", t.style(Role::Header)));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(table(t, header(t, head), body, widths), inner);
}
