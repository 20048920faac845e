//! Clients left behind after a flip (kcp's users saw "done" while clients still wrote to the
//! old cluster): after `flip_producers`, a record written to a wave topic on the source; after
//! `flip_consumers`, a member of a wave group on the source or a commit there. Watched for
//! `rollback_after` from the flip, while no rollback runs. Pure: a snapshot, the journal's
//! state and a time in, the alarm's text out.

use std::time::SystemTime;

use super::engine::{Action, ActionState, Hook, Side, Step, WaveState};
use crate::config::{Config, Wave};
use crate::model::Snapshot;

/// Which kind of client was left behind (the alarm's key, with its wave).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stray {
    Producer,
    Consumer,
}

impl Stray {
    pub fn key(self) -> &'static str {
        match self {
            Stray::Producer => "stray-producer",
            Stray::Consumer => "stray-consumer",
        }
    }
}

/// When the flip hook of `step` was done, if the wave watches for strays now: the flip was
/// done, no rollback began, and `rollback_after` has not passed since.
fn watched_since(state: &WaveState, wave: &Wave, step: Step, hook: Hook, now: SystemTime) -> Option<SystemTime> {
    if state.rolling_back() {
        return None;
    }
    let Some(ActionState::Done { at, .. }) = state.actions.get(&(step, Action::Hook(hook))) else {
        // A flip without a hook is done by hand: watched from when its step was done.
        return state
            .step_times(step, &wave.hooks)
            .1
            .filter(|_| hook.command(&wave.hooks).is_none())
            .filter(|at| now.duration_since(*at).unwrap_or_default() <= wave.criteria.rollback_after);
    };
    (now.duration_since(*at).unwrap_or_default() <= wave.criteria.rollback_after).then_some(*at)
}

/// Records on the source past the ends noted at the flip of producers.
pub fn stray_writes(snapshot: &Snapshot, state: &WaveState, wave: &Wave, now: SystemTime) -> Option<String> {
    watched_since(state, wave, Step::FlipProducers, Hook::FlipProducers, now)?;
    let noted = state.source_writes_stopped.as_ref()?;
    let source = snapshot.source.state()?;
    let mut grown: Vec<(String, i32, i64)> = Vec::new();
    for e in noted {
        let end = source
            .topics
            .get(&e.topic)
            .and_then(|t| t.partition(e.partition))
            .and_then(|p| p.high.as_ref().ok().copied());
        if let Some(end) = end.filter(|end| *end > e.offset) {
            grown.push((e.topic.clone(), e.partition, end - e.offset));
        }
    }
    if grown.is_empty() {
        return None;
    }
    let total: i64 = grown.iter().map(|(_, _, n)| n).sum();
    let parts: Vec<String> = grown.iter().map(|(t, p, n)| format!("{t}/{p} +{n}")).collect();
    Some(format!(
        "STRAY PRODUCER: wave {}: {total} record(s) written to the source after flip_producers ({})",
        wave.name,
        parts.join(", ")
    ))
}

/// Members of the wave's groups on the source, or commits there that differ from the offsets
/// the wave translated from, after the flip of consumers.
pub fn stray_consumers(
    snapshot: &Snapshot,
    config: &Config,
    state: &WaveState,
    wave: &Wave,
    now: SystemTime,
) -> Option<String> {
    watched_since(state, wave, Step::FlipConsumers, Hook::FlipConsumers, now)?;
    let groups = snapshot.source.state()?.groups.as_ref().ok()?;
    let mut found = Vec::new();
    for g in groups.iter().filter(|g| state.groups.contains(&g.name)) {
        if !g.members.is_empty() {
            // Client id and host when the broker says them (tansu does not), else the member id.
            let who: Vec<String> = g
                .members
                .iter()
                .map(|m| match (m.client_id.is_empty(), m.host.is_empty()) {
                    (true, true) => format!("member {}", m.id),
                    _ => format!("{}@{}", m.client_id, m.host),
                })
                .collect();
            found.push(format!(
                "group {} has {} member(s) on the source ({})",
                g.name,
                g.members.len(),
                who.join(", ")
            ));
        }
        let Ok(offsets) = &g.offsets else { continue };
        // What the group had on the source when it was moved: the offsets translated from.
        let moved = state
            .commits
            .iter()
            .filter(|(side, group, _)| *side == Side::Target && *group == g.name)
            .flat_map(|(_, _, moves)| moves);
        for m in moved {
            let Some(topic) = config.replication.source_topic(&m.topic) else {
                continue;
            };
            match offsets.get(&topic, m.partition) {
                Some(now) if now != m.from => {
                    found.push(format!(
                        "group {} committed {topic}/{} at {now} on the source (it was moved from {})",
                        g.name, m.partition, m.from
                    ));
                }
                _ => {}
            }
        }
    }
    (!found.is_empty()).then(|| format!("STRAY CONSUMER: wave {}: {}", wave.name, found.join("; ")))
}

/// Every stray alarm of a wave now.
pub fn strays(
    snapshot: &Snapshot,
    config: &Config,
    state: &WaveState,
    wave: &Wave,
    now: SystemTime,
) -> Vec<(Stray, String)> {
    let writes = stray_writes(snapshot, state, wave, now).map(|t| (Stray::Producer, t));
    let reads = stray_consumers(snapshot, config, state, wave, now).map(|t| (Stray::Consumer, t));
    writes.into_iter().chain(reads).collect()
}
