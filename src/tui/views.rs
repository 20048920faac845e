//! Rendering: a pure function of `App`. Works from 80x24 up; wider terminals get more columns.

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::app::{App, Input, Rows, View};
use super::keys;
use super::theme::{Role, Theme};
use crate::model::events::Level;
use crate::model::groups::{clock, FlipCost, GroupSide};
use crate::model::inventory::Difference;
use crate::model::overview::{age_label, sparkline, PairStatus};
use crate::model::validation::{result_detail, RunSummary, Span as Validated, Status, ValidationRow};
use crate::model::{ClusterFeed, GroupStatus, Health, Side};
use crate::translate::Outcome;

/// Terminals at least this wide get the extra columns.
const WIDE: u16 = 120;

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
    let right = Line::from(Span::styled(refresh, t.style(Role::Muted))).alignment(Alignment::Right);
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

fn status_role(s: PairStatus) -> Role {
    match s {
        PairStatus::Ok => Role::Ok,
        PairStatus::Lag => Role::Warn,
        PairStatus::LagCrit | PairStatus::Stale | PairStatus::Missing | PairStatus::Mismatch => Role::Crit,
    }
}

fn validation_role(s: Status) -> Role {
    match s {
        Status::Pass => Role::Ok,
        Status::Fail | Status::Error => Role::Crit,
        Status::Skipped => Role::Warn,
        Status::Running | Status::Pending => Role::Muted,
    }
}

fn group_role(s: &GroupStatus) -> Role {
    match s {
        GroupStatus::Stable => Role::Ok,
        GroupStatus::PreparingRebalance | GroupStatus::CompletingRebalance => Role::Warn,
        GroupStatus::Dead => Role::Crit,
        GroupStatus::Empty | GroupStatus::Unknown(_) => Role::Text,
    }
}

/// A right-aligned cell: numbers line up.
fn right(s: String) -> Cell<'static> {
    Cell::from(Line::from(s).alignment(Alignment::Right))
}

fn num(v: Option<i64>) -> String {
    v.map_or_else(|| "?".into(), |n| n.to_string())
}

fn fig(v: &Result<i64, String>) -> String {
    v.as_ref().map_or_else(|_| "?".into(), |n| n.to_string())
}

fn header<'a>(t: &Theme, cells: Vec<&'a str>) -> Row<'a> {
    Row::new(cells.into_iter().map(|c| Cell::from(c).style(t.style(Role::Header))))
}

fn table<'a>(t: &Theme, head: Row<'a>, rows: Vec<Row<'a>>, widths: Vec<Constraint>) -> Table<'a> {
    Table::new(rows, widths)
        .header(head)
        .column_spacing(1)
        .row_highlight_style(t.selected())
        .style(t.style(Role::Text))
}

fn render_table(frame: &mut Frame, area: Rect, app: &App, table: Table, len: usize, empty: &str) {
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
    let mut state = TableState::default().with_selected(Some(app.selected().min(len - 1)));
    frame.render_stateful_widget(table, area, &mut state);
}

fn render_body(frame: &mut Frame, area: Rect, app: &App, rows: &Rows) {
    let t = &app.theme;
    let wide = area.width >= WIDE;
    match rows {
        Rows::Topics(pairs, validated) => {
            let (trend_w, num_w) = if wide { (12, 12) } else { (6, 10) };
            let mut head = vec!["STATUS", "TOPIC"];
            let mut widths = vec![Constraint::Length(8), Constraint::Min(12)];
            if wide {
                head.push("TARGET TOPIC");
                widths.push(Constraint::Min(12));
            }
            head.extend(["P SRC/TGT", "SRC END", "TGT END", "LAG", "TREND", "VALID"]);
            widths.extend([
                Constraint::Length(9),
                Constraint::Length(num_w),
                Constraint::Length(num_w),
                Constraint::Length(num_w),
                Constraint::Length(trend_w),
                Constraint::Length(7),
            ]);
            let body = pairs
                .iter()
                .map(|p| {
                    let trend = app.lag_history.trend(&p.source_topic);
                    let trend = sparkline(&trend[trend.len().saturating_sub(trend_w as usize)..]);
                    let mut cells = vec![
                        Cell::from(p.status.word()).style(t.style(status_role(p.status))),
                        Cell::from(p.source_topic.clone()),
                    ];
                    if wide {
                        cells.push(Cell::from(p.target_topic.clone()));
                    }
                    cells.extend([
                        Cell::from(format!(
                            "{}/{}",
                            num(p.source_partitions.map(|n| n as i64)),
                            p.target_partitions.map_or("-".into(), |n| n.to_string())
                        )),
                        Cell::from(Line::from(num(p.source_end)).alignment(Alignment::Right)),
                        Cell::from(Line::from(num(p.target_end)).alignment(Alignment::Right)),
                        Cell::from(Line::from(num(p.lag)).alignment(Alignment::Right)),
                        Cell::from(trend).style(t.style(Role::Muted)),
                        match validated.get(&p.source_topic) {
                            Some(v) => Cell::from(v.word()).style(t.style(validation_role(*v))),
                            None => Cell::from("-").style(t.style(Role::Muted)),
                        },
                    ]);
                    Row::new(cells)
                })
                .collect();
            let empty = if app.snapshot.source.state().is_none() {
                "waiting for the first poll of the source cluster…"
            } else {
                "no replicated topics match the topic filter"
            };
            render_table(
                frame,
                area,
                app,
                table(t, header(t, head), body, widths),
                pairs.len(),
                empty,
            );
        }
        Rows::Partitions(pair, parts) => {
            let [summary, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
            let line = match pair {
                Some(p) => Line::from(vec![
                    Span::styled(p.status.word(), t.style(status_role(p.status))),
                    Span::raw(format!(" {} → {}  lag {}", p.source_topic, p.target_topic, num(p.lag))),
                ]),
                None => Line::from("topic no longer in the source snapshot"),
            };
            frame.render_widget(Paragraph::new(line), summary);
            let w = if wide { 12 } else { 9 };
            let head = vec![
                "P", "SRC LOW", "SRC END", "LDR", "ISR", "TGT LOW", "TGT END", "LDR", "ISR", "LAG",
            ];
            let widths = vec![
                Constraint::Length(4),
                Constraint::Length(w),
                Constraint::Length(w),
                Constraint::Length(4),
                Constraint::Length(5),
                Constraint::Length(w),
                Constraint::Length(w),
                Constraint::Length(4),
                Constraint::Length(5),
                Constraint::Length(w),
            ];
            let side = |f: &Option<crate::model::overview::SideFigures>| -> [String; 4] {
                match f {
                    Some(f) => [
                        fig(&f.low),
                        fig(&f.high),
                        f.leader.to_string(),
                        format!("{}/{}", f.isr, f.replicas),
                    ],
                    None => ["-".into(), "-".into(), "-".into(), "-".into()],
                }
            };
            let body = parts
                .iter()
                .map(|p| {
                    let [sl, sh, sld, si] = side(&p.source);
                    let [tl, th, tld, ti] = side(&p.target);
                    let lag_role = match p.lag {
                        Some(l) if l < 0 => Role::Crit,
                        Some(l) if l >= app.config.monitor.lag_crit && app.config.monitor.lag_crit > 0 => Role::Crit,
                        Some(l) if l >= app.config.monitor.lag_warn && app.config.monitor.lag_warn > 0 => Role::Warn,
                        _ => Role::Text,
                    };
                    Row::new(vec![
                        Cell::from(p.partition.to_string()),
                        right(sl),
                        right(sh),
                        right(sld),
                        right(si),
                        right(tl),
                        right(th),
                        right(tld),
                        right(ti),
                        Cell::from(Line::from(num(p.lag)).alignment(Alignment::Right)).style(t.style(lag_role)),
                    ])
                })
                .collect();
            render_table(
                frame,
                rest,
                app,
                table(t, header(t, head), body, widths),
                parts.len(),
                "no partitions",
            );
        }
        Rows::Groups(groups) => {
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
            let mut head = vec!["GROUP", "SRC STATE", "MEM", "SRC LAG", "TGT STATE", "MEM", "TGT LAG"];
            let mut widths = vec![
                Constraint::Min(12),
                Constraint::Length(state_w),
                Constraint::Length(3),
                Constraint::Length(9),
                Constraint::Length(state_w),
                Constraint::Length(3),
                Constraint::Length(9),
            ];
            if wide {
                head.push("REBALANCE");
                widths.push(Constraint::Length(44));
            }
            let side_cells = |s: &Option<GroupSide>| -> Vec<Cell> {
                match s {
                    None => vec![Cell::from("-"), Cell::from("-"), Cell::from("-")],
                    Some(s) => vec![
                        Cell::from(state_label(&s.status, wide)).style(t.style(group_role(&s.status))),
                        Cell::from(Line::from(s.members.to_string()).alignment(Alignment::Right)),
                        Cell::from(Line::from(fig(&s.lag)).alignment(Alignment::Right)),
                    ],
                }
            };
            let body = groups
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
                "no consumer groups match the group filter",
            );
        }
        Rows::GroupPartitions(parts) => {
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
                head.extend(["SRC LAG", "TGT LAG"]);
                widths.extend([Constraint::Length(w), Constraint::Length(w)]);
            }
            let body = parts
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
                        None => (None, Role::Muted),
                    };
                    cells.extend([
                        Cell::from(p.partition.to_string()),
                        right(p.source_committed.map_or("-".into(), |c| c.to_string())),
                        right(p.target_committed.map_or("-".into(), |c| c.to_string())),
                        right(x.checkpoint.map_or("-".into(), |c| c.to_string())),
                        right(x.exact.clone()),
                        Cell::from(Line::from(flip.unwrap_or_else(|| "…".into())).alignment(Alignment::Right))
                            .style(t.style(role)),
                    ]);
                    if wide {
                        cells.push(right(p.source_lag().map_or("-".into(), |c| c.to_string())));
                        cells.push(right(p.target_lag().map_or("-".into(), |c| c.to_string())));
                    }
                    Row::new(cells)
                })
                .collect();
            let members = crate::model::groups::group_members(&app.snapshot, group);
            // Members below the offsets: as many as fit, at most a third of the body.
            let member_rows = (members.len().max(1) as u16 + 1).min(area.height / 3).max(2);
            let [offsets_area, members_area] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(member_rows)]).areas(area);
            render_table(
                frame,
                offsets_area,
                app,
                table(t, header(t, head), body, widths),
                parts.len(),
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
        Rows::Inventory(diffs) => {
            let head = vec!["KIND", "TOPIC", "DIFFERENCE (SOURCE → TARGET)"];
            let widths = vec![Constraint::Length(10), Constraint::Max(30), Constraint::Min(30)];
            let body = diffs
                .iter()
                .map(|d| {
                    let role = match d.difference {
                        Difference::MissingOnTarget | Difference::PartitionCount { .. } => Role::Crit,
                        Difference::Config { .. } | Difference::ConfigsUnavailable { .. } => Role::Warn,
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
                empty,
            );
        }
        Rows::Mapping(rows) => {
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
            let identity = app.config.replication.kind == crate::config::ReplicationKind::OffsetPreserving;
            let body = rows
                .iter()
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
                        Cell::from(r.source_topic.clone()),
                        Cell::from(r.partition.to_string()),
                        right(sync_src),
                        right(sync_tgt),
                        right(num(r.source_since)),
                        right(num(r.target_since)),
                        Cell::from(Line::from(drift).alignment(Alignment::Right)).style(t.style(role)),
                    ])
                })
                .collect();
            render_table(
                frame,
                rest,
                app,
                table(t, header(t, head), body, widths),
                rows.len(),
                "no replicated partitions",
            );
        }
        Rows::Validation(rows) => render_validation(frame, area, app, rows),
        Rows::ValidationResults(row, results) => render_validation_partition(frame, area, app, row, results),
        Rows::Log(events) => {
            let head = vec!["TIME", "LEVEL", "EVENT"];
            let widths = vec![Constraint::Length(9), Constraint::Length(5), Constraint::Min(20)];
            let body = events
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
                "no events yet",
            );
        }
    }
}

/// What the group view shows per partition from MM2 and the exact translation.
struct PartitionTranslation {
    checkpoint: Option<i64>,
    /// The exact target offset, "…" while translating, or why there is none.
    exact: String,
    flip: Option<FlipCost>,
    /// The divergence or reason, for the line under the table.
    detail: Option<String>,
}

fn group_translation(app: &App, group: &str, p: &crate::model::groups::GroupPartition) -> PartitionTranslation {
    let checkpoint = app
        .snapshot
        .mm2
        .as_ref()
        .and_then(|m| m.checkpoint(group, &p.target_topic, p.partition))
        .map(|c| c.downstream);
    let done = app.translations.get(group).and_then(|t| t.done.as_ref());
    let row = done.and_then(|(_, r)| r.as_ref().ok()).and_then(|rows| {
        rows.iter()
            .find(|r| r.source_topic == p.source_topic && r.partition == p.partition)
    });
    let Some(row) = row else {
        let exact = if done.is_some() { "-" } else { "…" };
        return PartitionTranslation {
            checkpoint,
            exact: exact.into(),
            flip: None,
            detail: None,
        };
    };
    if Some(row.committed) != p.source_committed {
        return PartitionTranslation {
            checkpoint,
            exact: "stale".into(),
            flip: None,
            detail: Some(format!(
                "the group committed again since the translation of {}; t translates again",
                row.committed
            )),
        };
    }
    let exact = row.translation.exact();
    let detail = match &row.translation.outcome {
        Outcome::Diverged {
            source_offset,
            target_offset,
            difference,
        } => Some(format!(
            "no exact translation: source {source_offset} vs target {}: {difference}",
            target_offset.map_or("(none)".into(), |t| t.to_string())
        )),
        Outcome::Unavailable { reason } => Some(format!("no exact translation: {reason}")),
        Outcome::Exact { .. } => None,
    };
    PartitionTranslation {
        checkpoint,
        exact: exact.map_or("NONE".into(), |e| e.to_string()),
        flip: Some(crate::model::groups::flip_cost(checkpoint, exact)),
        detail,
    }
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
                    "exact translation {} ago, content-verified; t translates again",
                    age(*at)
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
    let now_ms = app
        .now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut spans = match m.heartbeat_ms {
        Some(hb) => {
            let age = std::time::Duration::from_millis((now_ms - hb).max(0) as u64);
            let role = if age > app.config.monitor.refresh_interval * 10 {
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
    if m.undecodable > 0 {
        spans.push(Span::styled(
            format!("  {} undecodable records", m.undecodable),
            t.style(Role::Warn),
        ));
    }
    for (what, e) in &m.errors {
        spans.push(Span::styled(format!("  {what}: {e}"), t.style(Role::Crit)));
    }
    Line::from(spans)
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

/// The line under the table: a message, a cluster error, or what the selected row needs said.
fn info_line(app: &App, rows: &Rows) -> Option<(String, Role)> {
    if let Some(f) = &app.flash {
        return Some((f.clone(), Role::Warn));
    }
    for feed in [&app.snapshot.source, &app.snapshot.target] {
        if let Some((_, e)) = &feed.last_error {
            return Some((format!("{}: {e}", feed.name), Role::Crit));
        }
    }
    let sel = app.selected();
    match rows {
        Rows::Validation(v) => v.get(sel).filter(|r| !r.detail.is_empty()).map(|r| {
            (
                format!("{}/{}: {}", r.topic, r.partition, r.detail),
                validation_role(r.status),
            )
        }),
        Rows::Topics(v, _) => v.get(sel).and_then(|p| {
            p.note
                .clone()
                .map(|n| (format!("{}: {n}", p.source_topic), Role::Warn))
                .or_else(|| {
                    (p.status == PairStatus::Missing)
                        .then(|| (format!("{} is missing on the target", p.target_topic), Role::Crit))
                })
        }),
        Rows::Partitions(_, v) => v.get(sel).and_then(|p| {
            let errs: Vec<String> = [("source", &p.source), ("target", &p.target)]
                .iter()
                .filter_map(|(side, f)| {
                    let f = f.as_ref()?;
                    let e = f.error.clone().or(f.high.clone().err()).or(f.low.clone().err())?;
                    Some(format!("{side}: {e}"))
                })
                .collect();
            (!errs.is_empty()).then(|| (format!("partition {}: {}", p.partition, errs.join("; ")), Role::Warn))
        }),
        Rows::Groups(Ok(v)) => {
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
        Rows::GroupPartitions(v) => {
            let View::Group(group) = app.view() else { return None };
            let p = v.get(sel)?;
            group_translation(app, group, p)
                .detail
                .map(|d| (format!("{} {}: {d}", p.source_topic, p.partition), Role::Crit))
        }
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
        Input::Confirm(what) => Line::from(Span::styled(format!(" {}", what.question()), t.style(Role::Warn))),
        Input::Filter(text) => Line::from(vec![
            Span::styled("/", t.style(Role::Accent)),
            Span::raw(text.clone()),
            Span::styled("█", t.style(Role::Muted)),
            Span::styled("   Enter keeps the filter, Esc clears it", t.style(Role::Muted)),
        ]),
        Input::None => {
            let mut spans = Vec::new();
            for b in keys::bindings(app.view().screen()) {
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
    let bindings = keys::bindings(app.view().screen());
    // One line per binding, the closing hint, and the two borders.
    let height = (bindings.len() as u16 + 3).min(area.height);
    let width = area.width.saturating_sub(4).min(76);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let mut lines: Vec<Line> = bindings
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!(" {:<7}", b.label), t.style(Role::Accent)),
                Span::styled(b.help, t.style(Role::Text)),
            ])
        })
        .collect();
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

fn ago(app: &App, at: std::time::SystemTime) -> String {
    crate::model::short_duration(app.now.duration_since(at).unwrap_or_default())
}

fn span_ranges(v: Option<Validated>) -> (String, String, String) {
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

fn render_validation(frame: &mut Frame, area: Rect, app: &App, rows: &[ValidationRow]) {
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
    let body = rows
        .iter()
        .map(|r| {
            let (src, tgt, compared) = span_ranges(r.validated);
            Row::new(vec![
                Cell::from(r.topic.clone()),
                Cell::from(r.partition.to_string()),
                Cell::from(r.status.word()).style(t.style(validation_role(r.status))),
                right(src),
                right(tgt),
                right(compared),
                right(r.last.map_or("-".into(), |at| ago(app, at))),
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
                right(r.id.to_string()),
                Cell::from(clock(r.started)).style(t.style(Role::Muted)),
                Cell::from(match r.trigger {
                    crate::validate::job::Trigger::Scheduled => "scheduled",
                    crate::validate::job::Trigger::OnDemand => "on demand",
                }),
                Cell::from(r.scope_label()),
                right(crate::model::short_duration(took)),
                right(format!("{}+{}", r.records.0, r.records.1)),
                right(megabytes_per_sec(r.bytes, took)),
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

fn render_validation_partition(
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
    let body = results
        .iter()
        .map(|(run, at, r)| {
            let range = |(a, b): (i64, i64)| format!("{a}..{b}");
            let status = Status::of(&r.result.verdict);
            Row::new(vec![
                right(run.to_string()),
                Cell::from(clock(*at)).style(t.style(Role::Muted)),
                Cell::from(status.word()).style(t.style(validation_role(status))),
                right(range(r.result.source_range)),
                right(range(r.result.target_range)),
                right(r.result.records_compared.to_string()),
                right(format!("{}+{}", r.records_read.0, r.records_read.1)),
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
        "no results yet: v validates this topic now",
    );
}
