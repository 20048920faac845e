//! One topic: its partitions on both clusters, side by side.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};
use ratatui::Frame;

use super::widgets::*;
use crate::model::lag_time::seconds_label;
use crate::model::overview::{lag_level, LagLevel, PartitionPair, PartitionRows, TopicPair};
use crate::tui::app::App;
use crate::tui::theme::Role;

pub(super) fn render(frame: &mut Frame, area: Rect, app: &App, pair: &Option<TopicPair>, parts: &PartitionRows) {
    let t = &app.theme;
    let wide = area.width >= WIDE;
    let [summary, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let line = match pair {
        Some(p) => Line::from(vec![
            Span::styled(p.status.word(), t.style(status_role(p.status))),
            Span::raw(format!(
                " {} → {}  lag {} ({} behind, {})",
                p.source_topic,
                p.target_topic,
                num(p.lag),
                age(p.lag_age),
                match app.lag_history.drain(&p.source_topic) {
                    crate::model::lag_time::Drain::In(d) => format!("drains in {}", seconds_label(d)),
                    other => other.label(),
                }
            )),
        ]),
        None => Line::from("topic no longer in the source snapshot"),
    };
    frame.render_widget(Paragraph::new(line), summary);
    let w = if wide { 12 } else { 9 };
    let head = vec![
        "P", "SRC LOW", "SRC END", "LDR", "ISR", "TGT LOW", "TGT END", "LDR", "ISR", "LAG", "LAG S",
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
        Constraint::Length(7),
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
    let cols = column_widths(rest.width, &widths);
    let shown = visible_rows(rest, app, parts.len());
    // Only the rows on screen are derived.
    let body = shown
        .clone()
        .filter_map(|i| parts.row(i))
        .map(|p| {
            let [sl, sh, sld, si] = side(&p.source);
            let [tl, th, tld, ti] = side(&p.target);
            let lag_role = match p.lag.map(|l| lag_level(l, &app.config.monitor)) {
                Some(LagLevel::Crit) => Role::Crit,
                Some(LagLevel::Warn) => Role::Warn,
                _ => Role::Text,
            };
            Row::new(vec![
                Cell::from(p.partition.to_string()),
                right(sl, cols[1]),
                right(sh, cols[2]),
                right(sld, cols[3]),
                right(si, cols[4]),
                right(tl, cols[5]),
                right(th, cols[6]),
                right(tld, cols[7]),
                right(ti, cols[8]),
                right(num(p.lag), cols[9]).style(t.style(lag_role)),
                right(age(p.lag_age), cols[10]),
            ])
        })
        .collect();
    render_table(
        frame,
        rest,
        app,
        table(t, header(t, head), body, widths),
        parts.len(),
        shown.start,
        "no partitions",
    );
}

pub(super) fn info(v: &PartitionRows, sel: usize) -> Option<(String, Role)> {
    v.row(sel).and_then(|p: PartitionPair| {
        let errs: Vec<String> = [("source", &p.source), ("target", &p.target)]
            .iter()
            .filter_map(|(side, f)| {
                let f = f.as_ref()?;
                let e = f.error.clone().or(f.high.clone().err()).or(f.low.clone().err())?;
                Some(format!("{side}: {e}"))
            })
            .collect();
        (!errs.is_empty()).then(|| (format!("partition {}: {}", p.partition, errs.join("; ")), Role::Warn))
    })
}
