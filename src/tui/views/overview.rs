//! Overview (1): every replicated topic pair, its lag, trend and validation result.

use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row};
use ratatui::Frame;

use super::widgets::*;
use crate::model::overview::{sparkline, PairStatus, TopicPair};
use crate::model::validation::Status;
use crate::tui::app::App;
use crate::tui::theme::Role;
use std::collections::BTreeMap;

pub(super) fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    pairs: &[TopicPair],
    validated: &BTreeMap<String, Status>,
) {
    let t = &app.theme;
    let wide = area.width >= WIDE;
    let (trend_w, num_w, parts_w) = if wide { (12, 12, 9) } else { (6, 8, 7) };
    let mut head = vec!["STATUS", "TOPIC"];
    let mut widths = vec![Constraint::Length(8), Constraint::Min(12)];
    if wide {
        head.push("TARGET TOPIC");
        widths.push(Constraint::Min(12));
    }
    head.extend([
        if wide { "P SRC/TGT" } else { "P S/T" },
        "SRC END",
        "TGT END",
        "LAG",
        "LAG S",
        "TREND",
    ]);
    widths.extend([
        Constraint::Length(parts_w),
        Constraint::Length(num_w),
        Constraint::Length(num_w),
        Constraint::Length(num_w),
        Constraint::Length(7),
        Constraint::Length(trend_w),
    ]);
    if wide {
        head.push("DRAIN");
        widths.push(Constraint::Length(12));
    }
    head.push("VALID");
    widths.push(Constraint::Length(7));
    let cols = column_widths(area.width, &widths);
    let at = |name: &str| cols[head.iter().position(|h| *h == name).expect("a column")];
    let parts_w = cols[head.iter().position(|h| h.starts_with("P S")).expect("a column")];
    let (src_w, tgt_w, lag_w) = (at("SRC END"), at("TGT END"), at("LAG"));
    let age_w = at("LAG S");
    let shown = visible_rows(area, app, pairs.len());
    let body = pairs[shown.clone()]
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
                Cell::from(fit(
                    &format!(
                        "{}/{}",
                        num(p.source_partitions.map(|n| n as i64)),
                        p.target_partitions.map_or("-".into(), |n| n.to_string())
                    ),
                    parts_w as usize,
                )),
                right(num(p.source_end), src_w),
                right(num(p.target_end), tgt_w),
                right(num(p.lag), lag_w),
                right(age(p.lag_age), age_w),
                Cell::from(trend).style(t.style(Role::Muted)),
            ]);
            if wide {
                let drain = app.lag_history.drain(&p.source_topic);
                cells.push(Cell::from(drain.label()).style(t.style(Role::Muted)));
            }
            cells.extend([match validated.get(&p.source_topic) {
                Some(v) => Cell::from(v.word()).style(t.style(validation_role(*v))),
                None => Cell::from("-").style(t.style(Role::Muted)),
            }]);
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
        shown.start,
        empty,
    );
}

pub(super) fn info(v: &[TopicPair], sel: usize) -> Option<(String, Role)> {
    v.get(sel).and_then(|p| {
        p.note
            .clone()
            .map(|n| (format!("{}: {n}", p.source_topic), Role::Warn))
            .or_else(|| {
                (p.status == PairStatus::Missing)
                    .then(|| (format!("{} is missing on the target", p.target_topic), Role::Crit))
            })
    })
}
