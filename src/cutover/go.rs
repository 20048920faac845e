//! Go/no-go before `s`: a not-started wave's preflight evaluated on the monitor's newest
//! snapshot and the background validation's newest results, with how far behind its topics are
//! and the pause it would impose. Pure: the Cutover view shows it, nothing acts on it.

use std::time::SystemTime;

use super::checks;
use super::pause::Estimate;
use crate::config::{Config, Wave};
use crate::model::lag_time::{worst, Age};
use crate::model::validation::Board;
use crate::model::Snapshot;

#[derive(Debug, Clone, PartialEq)]
pub struct GoNoGo {
    /// The first preflight check that does not pass now, and why; None: GO.
    pub no_go: Option<String>,
    /// The oldest record waiting to be copied over the wave's topics.
    pub lag: Option<Age>,
    pub pause: Estimate,
}

impl GoNoGo {
    pub fn go(&self) -> bool {
        self.no_go.is_none()
    }

    pub fn word(&self) -> &'static str {
        if self.go() {
            "GO"
        } else {
            "NO-GO"
        }
    }

    /// Two lines: "GO: every preflight check passes" or "NO-GO: lag: 4000 record(s) over the
    /// limit 1000"; then "1.2s behind · writes paused ≥ 7.2s (settle 6.0s + drain 1.2s)".
    pub fn lines(&self, wave: &Wave) -> [String; 2] {
        let reason = self.no_go.as_deref().unwrap_or("every preflight check passes");
        let lag = self.lag.map_or("?".into(), |a| a.label());
        [
            format!("{}: {reason}", self.word()),
            format!("{lag} behind · {}", self.pause.short(wave.criteria.max_write_pause)),
        ]
    }
}

/// The wave's go/no-go now. A partition of its topics without a validation result yet is a
/// no-go (the preflight would validate it first).
pub fn go_no_go(snapshot: &Snapshot, config: &Config, wave: &Wave, board: &Board, now: SystemTime) -> GoNoGo {
    let topics = checks::wave_topics(snapshot, wave);
    let groups = checks::wave_groups(snapshot, wave);
    let mut validation = Vec::new();
    let mut unvalidated = None;
    if let Some(source) = snapshot.source.state() {
        for t in &topics {
            for p in source
                .topics
                .get(t)
                .map(|t| t.partitions.as_slice())
                .unwrap_or_default()
            {
                match board.partition(t, p.id).and_then(|b| b.results.front()) {
                    Some((_, _, row)) => {
                        validation.push((t.clone(), p.id, row.result.verdict.clone(), row.result.pending))
                    }
                    None => {
                        unvalidated.get_or_insert(format!("validation: {t}/{} not validated yet", p.id));
                    }
                }
            }
        }
    }
    let failed = checks::preflight(snapshot, config, wave, &topics, &groups, &validation, now)
        .into_iter()
        .find_map(|(name, r)| r.err().map(|e| format!("{name}: {}", e.message)));
    let pairs =
        crate::model::overview::topic_pairs(snapshot, &config.replication, &config.topics, &config.monitor, now);
    let lag = worst(
        pairs
            .iter()
            .filter(|p| topics.contains(&p.source_topic))
            .map(|p| p.lag_age),
    )
    .filter(|_| !topics.is_empty());
    GoNoGo {
        no_go: failed.or(unvalidated),
        lag,
        pause: Estimate {
            settle: config.cutover.settle,
            drain: lag,
        },
    }
}
