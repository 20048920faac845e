//! `[metrics] listen`: the cockpit's figures in Prometheus text format, for the shop's own
//! monitoring (seeds: New Relic, Datadog). `render` is pure (a snapshot, the validation
//! board, the journal and a time in, the text out); `serve` answers `GET /metrics` on a thread.
//! Every name is listed in the README.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::config::Config;
use crate::cutover::engine::{next, Finish, Next};
use crate::cutover::journal::Entry;
use crate::jobs::JobHandle;
use crate::model::groups::group_rows;
use crate::model::mapping::{heartbeat_age, mapping_rows};
use crate::model::overview::{partition_pairs, topic_pairs};
use crate::model::validation::Board;
use crate::model::Snapshot;

type Labels = Vec<(String, String)>;
type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;

/// The registry being filled for one scrape: a family per name, created on first use.
struct Scrape {
    registry: Registry,
    families: Vec<(&'static str, Gauges)>,
}

impl Scrape {
    fn new() -> Scrape {
        Scrape {
            registry: Registry::default(),
            families: Vec::new(),
        }
    }

    fn set(&mut self, name: &'static str, help: &'static str, labels: &[(&str, &str)], value: f64) {
        let family = match self.families.iter().find(|(n, _)| *n == name) {
            Some((_, f)) => f.clone(),
            None => {
                let f = Gauges::default();
                self.registry.register(name, help, f.clone());
                self.families.push((name, f.clone()));
                f
            }
        };
        let labels: Labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        family.get_or_create(&labels).set(value);
    }

    fn text(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

/// What a scrape reads.
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub snapshot: &'a Snapshot,
    pub board: &'a Board,
    pub journal: &'a [Entry],
    pub now: SystemTime,
}

/// The figures as Prometheus text.
pub fn render(i: &Inputs) -> String {
    let mut m = Scrape::new();
    let (config, snap, now) = (i.config, i.snapshot, i.now);
    for (side, feed) in [("source", &snap.source), ("target", &snap.target)] {
        let labels = [("side", side), ("cluster", feed.name.as_str())];
        m.set(
            "cutover_poll_failing",
            "1 when the newest poll of the cluster failed",
            &labels,
            feed.last_error.is_some() as u8 as f64,
        );
        if let Some(s) = feed.state() {
            m.set(
                "cutover_poll_duration_seconds",
                "How long the newest good poll of the cluster took",
                &labels,
                s.poll_duration.as_secs_f64(),
            );
        }
        if let Some(age) = feed.age(now) {
            m.set(
                "cutover_poll_age_seconds",
                "Age of the newest good poll's figures",
                &labels,
                age.as_secs_f64(),
            );
        }
    }
    // Replication lag, per topic and per partition.
    let pairs = topic_pairs(snap, &config.replication, &config.topics, &config.monitor, now);
    for p in &pairs {
        let topic = [("topic", p.source_topic.as_str())];
        if let Some(lag) = p.lag {
            m.set(
                "cutover_topic_replication_lag_records",
                "Records of the topic not yet copied to the target, summed over its partitions",
                &topic,
                lag as f64,
            );
        }
        if let Some(age) = p.lag_age {
            m.set(
                "cutover_topic_replication_lag_seconds",
                "Age of the topic's oldest record not yet copied (worst partition)",
                &topic,
                age.seconds(),
            );
        }
    }
    let source = snap.source.state();
    let target = snap.compared_target();
    for p in &pairs {
        let s = source.and_then(|c| c.topics.get(&p.source_topic));
        let t = target.and_then(|c| c.topics.get(&p.target_topic));
        let syncs = crate::model::overview::newest_syncs(snap, &config.replication, &p.source_topic);
        let known = crate::model::overview::lag_known(snap, &config.replication);
        for row in partition_pairs(s, t, &|id| syncs.get(&id).copied(), &snap.target_only) {
            let Some(lag) = row.lag.filter(|_| known) else { continue };
            let id = row.partition.to_string();
            let labels = [("topic", p.source_topic.as_str()), ("partition", id.as_str())];
            m.set(
                "cutover_replication_lag_records",
                "Records of the partition not yet copied to the target",
                &labels,
                lag as f64,
            );
            if let Some(age) = snap.source.ages.replication(&p.source_topic, row.partition, lag) {
                m.set(
                    "cutover_replication_lag_seconds",
                    "Age of the partition's oldest record not yet copied",
                    &labels,
                    age.seconds(),
                );
            }
        }
    }
    for row in mapping_rows(snap, &config.replication, &config.topics) {
        let Some(drift) = row.drift else { continue };
        let id = row.partition.to_string();
        m.set(
            "cutover_offset_drift_records",
            "Target records gained minus source records gained since MM2's newest offset-sync",
            &[("topic", &row.source_topic), ("partition", &id)],
            drift as f64,
        );
    }
    if let Some(age) = snap.mm2.as_deref().and_then(|mm2| heartbeat_age(mm2, now)) {
        m.set(
            "cutover_mm2_heartbeat_age_seconds",
            "Age of MirrorMaker 2's newest heartbeat on the target",
            &[],
            age.as_secs_f64(),
        );
    }
    // Validation: the newest result of each partition, and its age.
    if let Some(source) = source {
        for t in source.topics.values().filter(|t| config.topics.matches(&t.name)) {
            for p in &t.partitions {
                let Some((_, at, row)) = i.board.partition(&t.name, p.id).and_then(|b| b.results.front()) else {
                    continue;
                };
                let id = p.id.to_string();
                let word = crate::model::validation::Status::of(&row.result.verdict).word();
                m.set(
                    "cutover_validation_result",
                    "1 for the newest validation result of the partition (PASS, FAIL, SKIPPED, ERROR)",
                    &[("topic", &t.name), ("partition", &id), ("result", word)],
                    1.0,
                );
                m.set(
                    "cutover_validation_age_seconds",
                    "Age of the newest validation result of the partition",
                    &[("topic", &t.name), ("partition", &id)],
                    now.duration_since(*at).unwrap_or_default().as_secs_f64(),
                );
            }
        }
    }
    // Groups on both sides.
    for g in group_rows(snap, &config.groups).unwrap_or_default() {
        for (side, s) in [("source", &g.source), ("target", &g.target)] {
            let Some(s) = s else { continue };
            let labels = [("group", g.name.as_str()), ("side", side)];
            let state = s.status.label();
            m.set(
                "cutover_group_state",
                "1 for the group's state on the side (Stable, Empty, PreparingRebalance, ...)",
                &[("group", g.name.as_str()), ("side", side), ("state", state.as_str())],
                1.0,
            );
            m.set(
                "cutover_group_members",
                "Members of the group on the side",
                &labels,
                s.members as f64,
            );
            if let Ok(lag) = s.lag {
                m.set(
                    "cutover_group_lag_records",
                    "Records the group has yet to read on the side",
                    &labels,
                    lag as f64,
                );
            }
            if let Some(age) = s.lag_age {
                m.set(
                    "cutover_group_lag_seconds",
                    "Age of the oldest record the group has yet to read on the side",
                    &labels,
                    age.seconds(),
                );
            }
        }
    }
    // Waves: state, step, pause clocks, alarms.
    for wave in &config.waves {
        let state = crate::cutover::journal::wave_state(i.journal, wave);
        let word = match next(&state, wave) {
            Next::Start => "not_started",
            Next::Finished(Finish::Done) => "done",
            Next::Finished(Finish::RolledBack) => "rolled_back",
            Next::Stopped { .. } => "stopped",
            Next::Paused => "paused",
            Next::Run { .. } if state.rolling_back() => "rolling_back",
            Next::Run { .. } => "running",
        };
        m.set(
            "cutover_wave_state",
            "1 for the wave's state (not_started, running, paused, stopped, rolling_back, done, rolled_back)",
            &[("wave", wave.name.as_str()), ("state", word)],
            1.0,
        );
        if let Next::Run { step, .. } | Next::Stopped { step, .. } = next(&state, wave) {
            m.set(
                "cutover_wave_step",
                "1 for the step the wave is at",
                &[("wave", wave.name.as_str()), ("step", step.name())],
                1.0,
            );
        }
        for p in crate::cutover::pause::pauses(&state, wave) {
            let labels = [("wave", wave.name.as_str()), ("paused", p.what.word())];
            m.set(
                "cutover_pause_seconds",
                "How long the wave has kept producers frozen (writes) or consumers stopped (reads); the last pause once over",
                &labels,
                p.elapsed(now).as_secs_f64(),
            );
            m.set(
                "cutover_pause_running",
                "1 while the pause runs",
                &labels,
                p.running() as u8 as f64,
            );
            if let Some(b) = p.budget {
                m.set(
                    "cutover_pause_budget_seconds",
                    "The wave's max_write_pause or max_read_pause",
                    &labels,
                    b.as_secs_f64(),
                );
            }
        }
    }
    for (wave, kind, _) in crate::status::alarms_now(config, snap, now) {
        m.set(
            "cutover_alarm",
            "1 for each alarm raised now (kind: lag, pause, stray-producer, stray-consumer)",
            &[("wave", wave.as_str()), ("kind", kind.as_str())],
            1.0,
        );
    }
    m.text()
}

/// Answers `GET /metrics` on `listen` (anything else: 404) on a thread of its own, with what
/// `scrape` renders at the time of the request. Fails when the address cannot be bound.
pub fn serve(listen: SocketAddr, scrape: impl Fn() -> String + Send + 'static) -> crate::error::Result<JobHandle> {
    let server = tiny_http::Server::http(listen).map_err(|e| format!("metrics: cannot listen on {listen}: {e}"))?;
    tracing::info!("metrics served on http://{listen}/metrics");
    let job = JobHandle::thread("metrics", move |cancel| {
        while !cancel.is_cancelled() {
            let request = match server.recv_timeout(std::time::Duration::from_millis(200)) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!("metrics: {e}");
                    continue;
                }
            };
            let response = if request.url() == "/metrics" || request.url().starts_with("/metrics?") {
                let header = tiny_http::Header::from_bytes(
                    &b"Content-Type"[..],
                    &b"application/openmetrics-text; version=1.0.0; charset=utf-8"[..],
                )
                .expect("a valid header");
                tiny_http::Response::from_string(scrape()).with_header(header)
            } else {
                tiny_http::Response::from_string("not found: the metrics are at /metrics\n").with_status_code(404)
            };
            if let Err(e) = request.respond(response) {
                tracing::debug!("metrics: {e}");
            }
        }
    })
    .map_err(|e| format!("metrics: {e}"))?;
    Ok(job)
}
