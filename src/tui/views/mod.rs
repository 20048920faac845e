//! Rendering: a pure function of `App`. Works from 80x24 up; wider terminals get more columns.
//! The chrome (title, clusters, info line, key hints, help, confirmation) is drawn here; each
//! view's body is a file of its own.

mod cutover;
mod group;
mod groups;
mod inventory;
mod log;
mod mapping;
mod overview;
mod topic;
mod validation;
mod validation_partition;
mod widgets;

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Confirmation, Input, Rows};
use super::theme::Role;
use crate::model::overview::age_label;
use crate::model::{ClusterFeed, Health};

pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let [title, clusters, body, info, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let rows = app.rows();
    render_title(frame, title, app);
    render_clusters(frame, clusters, app);
    render_body(frame, body, app, &rows);
    render_info(frame, info, app, &rows);
    render_footer(frame, footer, app);
    if app.show_help {
        render_help(frame, area, app);
    }
    if let Input::Confirm(c) = &app.input {
        render_confirm(frame, area, app, c);
    }
}

/// A box in the middle of `area`, at most `width` x `height`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// The confirmation dialog: the question, exactly what will happen (as it was when asked),
/// and how to answer. Cancel is the default: only `y` (or the typed words) goes on.
fn render_confirm(frame: &mut Frame, area: Rect, app: &App, c: &Confirmation) {
    let t = &app.theme;
    let mut lines = vec![Line::from(Span::styled(c.question.clone(), t.style(Role::Warn)))];
    lines.extend(
        c.details
            .iter()
            .map(|d| Line::from(Span::styled(format!("  {d}"), t.style(Role::Text)))),
    );
    if let Some(words) = &c.typed {
        lines.push(Line::from(vec![
            Span::styled(format!("  type {words}: "), t.style(Role::Muted)),
            Span::styled(format!("{}█", c.entered), t.style(Role::Accent)),
        ]));
    }
    lines.push(Line::from(Span::styled(c.answer_hint(), t.style(Role::Muted))));
    let width = area.width.saturating_sub(4).min(90);
    // Each line takes as many rows as it wraps to inside the borders.
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let popup = centered(area, width, rows as u16 + 2);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.style(Role::Warn))
        .title(Span::styled(" Confirm ", t.style(Role::Header)));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .style(Style::default()),
        popup,
    );
}

fn render_title(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let mut spans = vec![Span::styled(" cutover ", t.style(Role::Accent))];
    for (i, crumb) in app.breadcrumbs().iter().enumerate() {
        spans.push(Span::styled(if i == 0 { "› " } else { " › " }, t.style(Role::Muted)));
        spans.push(Span::styled(crumb.clone(), t.style(Role::Text)));
    }
    if !app.filter.is_empty() {
        spans.push(Span::styled(format!("  filter: {}", app.filter), t.style(Role::Warn)));
    }
    let refresh = format!(
        "refresh {} ",
        humantime::format_duration(app.config.monitor.refresh_interval)
    );
    // An alarm, else a running pause clock, takes the place of the refresh figure on every view.
    let pauses = app.cutover.running_pauses(&app.config);
    let right = match (app.cutover.alarms.first(), pauses.first()) {
        (Some((wave, text)), _) if text.starts_with("PAUSE BUDGET") => Line::from(Span::styled(
            format!(" PAUSE BUDGET PASSED: {wave} "),
            t.style(Role::Crit),
        )),
        (Some((wave, text)), _) if text.starts_with("STRAY") => {
            Line::from(Span::styled(format!(" STRAY CLIENTS: {wave} "), t.style(Role::Crit)))
        }
        (Some((wave, _)), _) => Line::from(Span::styled(
            format!(" ROLLBACK SUGGESTED: {wave} "),
            t.style(Role::Crit),
        )),
        (None, Some((wave, pause))) => Line::from(Span::styled(
            format!(" {wave}: {} ", pause.label(app.now)),
            t.style(if pause.over_budget(app.now) {
                Role::Crit
            } else {
                Role::Warn
            }),
        )),
        (None, None) => Line::from(vec![
            // The demo's applications: what their consumers saw (duplicates and gaps stay 0).
            Span::styled(
                app.demo_status.as_ref().map_or(String::new(), |d| format!("{d}  ")),
                t.style(Role::Text),
            ),
            Span::styled(refresh, t.style(Role::Muted)),
        ]),
    }
    .alignment(Alignment::Right);
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    frame.render_widget(Paragraph::new(right), area);
}

/// LIVE / STALE / DOWN / CONNECTING, with the role that colours it.
fn health_word(feed: &ClusterFeed, app: &App) -> (String, Role) {
    match feed.health(app.now, app.config.monitor.refresh_interval) {
        Health::Live if feed.last_error.is_some() => ("LIVE, RETRYING".into(), Role::Warn),
        Health::Live => ("LIVE".into(), Role::Ok),
        Health::Stale { .. } => ("STALE".into(), Role::Crit),
        Health::Unreachable => ("DOWN".into(), Role::Crit),
        Health::Connecting => ("CONNECTING".into(), Role::Muted),
    }
}

fn render_clusters(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let halves = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).split(area);
    for (i, (label, feed)) in [("SRC", &app.snapshot.source), ("TGT", &app.snapshot.target)]
        .into_iter()
        .enumerate()
    {
        let (word, role) = health_word(feed, app);
        let brokers = feed
            .state()
            .map(|s| {
                format!(
                    "{} broker{}",
                    s.brokers.len(),
                    if s.brokers.len() == 1 { "" } else { "s" }
                )
            })
            .unwrap_or_else(|| "? brokers".into());
        let line = Line::from(vec![
            Span::styled(format!(" {label} "), t.style(Role::Muted)),
            Span::styled(feed.name.clone(), t.style(Role::Accent)),
            Span::raw(" "),
            Span::styled(word, t.style(role)),
            Span::styled(
                format!(" {brokers}, {}", age_label(feed.age(app.now))),
                t.style(Role::Muted),
            ),
        ]);
        frame.render_widget(Paragraph::new(line), halves[i]);
    }
}

fn render_body(frame: &mut Frame, area: Rect, app: &App, rows: &Rows) {
    match rows {
        Rows::Topics(pairs, validated) => overview::render(frame, area, app, pairs, validated),
        Rows::Partitions(pair, parts) => topic::render(frame, area, app, pair, parts),
        Rows::Groups(groups) => groups::render(frame, area, app, groups),
        Rows::GroupPartitions(parts) => group::render(frame, area, app, parts),
        Rows::Inventory(diffs) => inventory::render(frame, area, app, diffs),
        Rows::Mapping(rows) => mapping::render(frame, area, app, rows),
        Rows::Validation(rows) => validation::render(frame, area, app, rows),
        Rows::ValidationResults(row, results) => validation_partition::render(frame, area, app, row, results),
        Rows::Log(events) => log::render(frame, area, app, events),
        Rows::Waves(waves) => cutover::render(frame, area, app, waves),
    }
}

/// The line under the table: a message, a cluster error, or what the selected row needs said.
fn info_line(app: &App, rows: &Rows) -> Option<(String, Role)> {
    if let Some(f) = &app.flash {
        return Some((f.clone(), Role::Warn));
    }
    if let Some((_, alarm)) = app.cutover.alarms.first() {
        let how = if alarm.ends_with("the rollback is running") || alarm.starts_with("STRAY") {
            ""
        } else {
            ": r on the Cutover view (7) rolls it back"
        };
        return Some((format!("{alarm}{how}"), Role::Crit));
    }
    for feed in [&app.snapshot.source, &app.snapshot.target] {
        if let Some((_, e)) = &feed.last_error {
            return Some((format!("{}: {e}", feed.name), Role::Crit));
        }
    }
    let sel = app.selected();
    match rows {
        Rows::Validation(v) => validation::info(app, v, sel),
        Rows::Topics(v, _) => overview::info(v, sel),
        Rows::Partitions(_, v) => topic::info(v, sel),
        Rows::Groups(Ok(v)) => groups::info(app, v, sel),
        Rows::GroupPartitions(v) => group::info(app, v, sel),
        _ => None,
    }
}

fn render_info(frame: &mut Frame, area: Rect, app: &App, rows: &Rows) {
    if let Some((text, role)) = info_line(app, rows) {
        frame.render_widget(Paragraph::new(format!(" {text}")).style(app.theme.style(role)), area);
    }
}

fn render_footer(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let line = match &app.input {
        Input::Command(text) => Line::from(vec![
            Span::styled(":", t.style(Role::Accent)),
            Span::raw(text.clone()),
            Span::styled("█", t.style(Role::Muted)),
            Span::styled("   Tab completes, Enter runs, Esc cancels", t.style(Role::Muted)),
        ]),
        Input::Confirm(c) => Line::from(Span::styled(format!(" {}", c.answer_hint()), t.style(Role::Warn))),
        Input::Filter(text) => Line::from(vec![
            Span::styled("/", t.style(Role::Accent)),
            Span::raw(text.clone()),
            Span::styled("█", t.style(Role::Muted)),
            Span::styled("   Enter keeps the filter, Esc clears it", t.style(Role::Muted)),
        ]),
        Input::None => {
            let mut spans = Vec::new();
            for b in app.bindings() {
                if let Some(word) = b.hint {
                    spans.push(Span::styled(format!(" {}", b.label), t.style(Role::Accent)));
                    spans.push(Span::styled(format!(" {word} "), t.style(Role::Muted)));
                }
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn render_help(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let bindings = app.bindings();
    let mode = app.read_only.then(|| {
        Line::from(Span::styled(
            " read-only: no key or command here changes anything on a cluster",
            t.style(Role::Warn),
        ))
    });
    // One line per binding, except the moves and the view keys, one line each so help fits
    // 80x24 on every screen.
    use crate::tui::keys::Action;
    let line = |label: String, help: String| {
        Line::from(vec![
            Span::styled(format!(" {label:<7}"), t.style(Role::Accent)),
            Span::styled(help, t.style(Role::Text)),
        ])
    };
    let is_move = |a: Action| {
        matches!(
            a,
            Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom
        )
    };
    let mut lines: Vec<Line> = Vec::new();
    let (mut moves_shown, mut views_shown) = (false, false);
    for b in &bindings {
        match b.action {
            a if is_move(a) => {
                if !std::mem::replace(&mut moves_shown, true) {
                    lines.push(line(
                        "↑↓ jk".into(),
                        "move; PgUp PgDn a page; g G (Home End) first and last row".into(),
                    ));
                }
            }
            Action::Go(_) => {
                if !std::mem::replace(&mut views_shown, true) {
                    let views: Vec<&str> = crate::tui::keys::TOP_VIEWS.iter().map(|v| v.commands[0]).collect();
                    lines.push(line(
                        format!("1-{}", crate::tui::keys::TOP_VIEWS.len()),
                        views.join(" "),
                    ));
                }
            }
            _ => lines.push(line(b.label.to_string(), b.help.to_string())),
        }
    }
    // The demo's fault menu, in one line (names; `:fault` Tab completes them).
    if !app.faults.is_empty() && !app.read_only {
        let names: Vec<&str> = app.faults.iter().map(|(n, _)| n.as_str()).collect();
        lines.push(line(":fault".into(), names.join(" ")));
    }
    // The lines, the mode, the closing hint, and the two borders.
    let height = lines.len() as u16 + 3 + u16::from(mode.is_some());
    let popup = centered(area, area.width.saturating_sub(4).min(76), height);
    lines.extend(mode);
    lines.push(Line::from(Span::styled(
        " any key closes this help",
        t.style(Role::Muted),
    )));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.style(Role::Border))
        .title(Span::styled(
            format!(" Help: {} ", app.view().title()),
            t.style(Role::Header),
        ));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block).style(Style::default()), popup);
}
