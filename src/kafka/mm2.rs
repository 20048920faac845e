//! Reads MM2's internal topics on the right clusters (followed live, or once to their ends)
//! and decodes them with `mm2`'s codecs.
//!
//! One thread, two assign-only readers (source and target), never a group member.

use std::time::{Duration, Instant, SystemTime};

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::records::{Located, RecordReader};
use crate::config::{ClusterConfig, Replication};
use crate::jobs::CancelToken;
use crate::mm2::codec::{Checkpoint, Heartbeat, OffsetSync};
use crate::mm2::state::Mm2State;
use crate::mm2::topics::{self, Cluster};

/// Which internal topic a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Syncs,
    Checkpoints,
    Heartbeats,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Syncs => "offset-syncs",
            Kind::Checkpoints => "checkpoints",
            Kind::Heartbeats => "heartbeats",
        }
    }
}

/// Applies one record of an internal topic to the state; bad bytes are counted and logged.
fn apply(state: &mut Mm2State, kind: Kind, r: &Located) {
    let key = r.record.key.as_deref().unwrap_or_default();
    let value = r.record.value.as_deref().unwrap_or_default();
    let trailing = match kind {
        Kind::Syncs => OffsetSync::decode(key, value).map(|d| {
            if let Err(e) = state.syncs.record(&d.record) {
                state.rejected_syncs += 1;
                tracing::warn!("{}/{}@{}: {e}", r.topic, r.partition, r.offset);
            }
            d.trailing_bytes
        }),
        Kind::Checkpoints => Checkpoint::decode(key, value).map(|d| {
            let c = d.record;
            state
                .checkpoints
                .insert((c.group.clone(), c.topic.clone(), c.partition), c);
            d.trailing_bytes
        }),
        Kind::Heartbeats => Heartbeat::decode(key, value).map(|d| {
            let hb = d.record;
            if (hb.source_alias.as_str(), hb.target_alias.as_str()) == (state.flow.0.as_str(), state.flow.1.as_str()) {
                state.heartbeat_ms = Some(state.heartbeat_ms.map_or(hb.timestamp, |t| t.max(hb.timestamp)));
            } else {
                state.other_flows_heartbeats += 1;
            }
            d.trailing_bytes
        }),
    };
    match trailing {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            "{} {}/{}@{}: {n} trailing bytes (newer MM2?)",
            kind.label(),
            r.topic,
            r.partition,
            r.offset
        ),
        Err(e) => {
            state.undecodable += 1;
            tracing::warn!("{} {}/{}@{}: {e}", kind.label(), r.topic, r.partition, r.offset);
        }
    }
}

struct Side {
    reader: RecordReader,
    metadata: BaseConsumer,
    cluster: String,
    /// Topics still to find and assign, with their kind.
    pending: Vec<(Kind, String)>,
    assigned: Vec<(Kind, String)>,
    /// Per assigned partition, its end offset when it was assigned, until a record at or past
    /// it was read: the state is complete once none is left.
    behind: std::collections::HashMap<(String, i32), i64>,
}

impl Side {
    fn new(cluster: &ClusterConfig, topics: Vec<(Kind, String)>) -> crate::error::Result<Side> {
        Ok(Side {
            reader: RecordReader::new(cluster)?,
            metadata: crate::kafka::consumer_config(cluster)
                .create()
                .map_err(|e| e.to_string())?,
            cluster: cluster.name.clone(),
            pending: topics,
            assigned: Vec::new(),
            behind: Default::default(),
        })
    }

    /// Assigns the topics that exist now; says which are missing.
    fn assign_pending(&mut self, state: &mut Mm2State) {
        if self.pending.is_empty() {
            return;
        }
        let mut still = Vec::new();
        for (kind, topic) in std::mem::take(&mut self.pending) {
            let found = self
                .metadata
                .fetch_metadata(Some(&topic), Duration::from_secs(5))
                .map_err(|e| e.to_string())
                .and_then(|md| {
                    let t = md.topics().first().ok_or("no answer")?;
                    if t.error().is_some() || t.partitions().is_empty() {
                        return Err(format!("topic {topic} not found on {}", self.cluster));
                    }
                    Ok(t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
                });
            match found {
                Ok(parts) => {
                    state.errors.remove(kind.label());
                    for p in &parts {
                        if let Ok((low, high)) = self.metadata.fetch_watermarks(&topic, *p, Duration::from_secs(5)) {
                            if high > low {
                                self.behind.insert((topic.clone(), *p), high);
                            }
                        }
                    }
                    self.assigned.push((kind, topic.clone()));
                    let all: Vec<(String, i32, Option<i64>)> = self
                        .assigned
                        .iter()
                        .flat_map(|(_, t)| {
                            let n = if *t == topic {
                                parts.clone()
                            } else {
                                self.partitions_of(t)
                            };
                            n.into_iter().map(move |p| (t.clone(), p, None))
                        })
                        .collect();
                    if let Err(e) = self.reader.assign(&all) {
                        state.errors.insert(kind.label(), e.message);
                    }
                }
                Err(e) => {
                    state.errors.insert(kind.label(), e);
                    still.push((kind, topic));
                }
            }
        }
        self.pending = still;
    }

    fn partitions_of(&self, topic: &str) -> Vec<i32> {
        self.metadata
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()
            .and_then(|md| {
                md.topics()
                    .first()
                    .map(|t| t.partitions().iter().map(|p| p.id()).collect())
            })
            .unwrap_or_default()
    }

    fn kind_of(&self, topic: &str) -> Option<Kind> {
        self.assigned.iter().find(|(_, t)| t == topic).map(|(k, _)| *k)
    }

    /// Reads what is waiting, for at most `budget`; true when anything changed.
    fn drain(&mut self, state: &mut Mm2State, budget: Duration) -> bool {
        let deadline = Instant::now() + budget;
        let mut changed = false;
        while Instant::now() < deadline && !self.assigned.is_empty() {
            match self.reader.next(Duration::from_millis(20)) {
                None => break,
                Some(Err(e)) => {
                    tracing::warn!(cluster = %self.cluster, "mm2 internal topics: {e}");
                    break;
                }
                Some(Ok(r)) => {
                    if let Some(kind) = self.kind_of(&r.topic) {
                        apply(state, kind, &r);
                        changed = true;
                    }
                    let key = (r.topic.clone(), r.partition);
                    if self.behind.get(&key).is_some_and(|end| r.offset + 1 >= *end) {
                        self.behind.remove(&key);
                    }
                }
            }
        }
        changed
    }
}

/// Reads until cancelled, calling `publish` with the state whenever it changed (at most once per
/// `refresh`) and whenever a topic's availability changed.
pub fn follow(
    source: &ClusterConfig,
    target: &ClusterConfig,
    replication: &Replication,
    refresh: Duration,
    cancel: &CancelToken,
    mut publish: impl FnMut(Mm2State),
) -> crate::error::Result<()> {
    let (where_syncs, syncs_topic) = topics::offset_syncs(replication);
    let mut on_source = Vec::new();
    let mut on_target = vec![
        (Kind::Checkpoints, topics::checkpoints(replication)),
        (Kind::Heartbeats, topics::HEARTBEATS.to_string()),
    ];
    match where_syncs {
        Cluster::Source => on_source.push((Kind::Syncs, syncs_topic)),
        Cluster::Target => on_target.insert(0, (Kind::Syncs, syncs_topic)),
    }
    let mut sides = vec![Side::new(source, on_source)?, Side::new(target, on_target)?];
    let mut state = Mm2State::new(&replication.source_alias, &replication.target_alias, SystemTime::now());
    let mut last_publish: Option<Instant> = None;
    // Missing topics are looked for once per refresh (not whenever nothing was published: that
    // was a Metadata request per topic every 20 ms while MM2's topics did not exist).
    let mut last_lookup: Option<Instant> = None;
    let mut dirty = true;
    let mut last_errors = state.errors.clone();
    // Nothing is published before the topics were read to their ends (as they were when
    // assigned) once: a state read part way lacks the newest syncs of some partitions, and lag
    // computed from it is a guess (real MM2 showed a false negative lag so).
    let mut caught_up = false;
    while !cancel.is_cancelled() {
        let mut changed = false;
        let look = last_lookup.is_none_or(|t| t.elapsed() >= refresh);
        if look {
            last_lookup = Some(Instant::now());
        }
        for side in &mut sides {
            if look {
                side.assign_pending(&mut state);
            }
            changed |= side.drain(&mut state, refresh / 4);
        }
        dirty |= changed || state.errors != last_errors;
        caught_up |= sides.iter().all(|s| s.behind.is_empty());
        if caught_up && dirty && last_publish.is_none_or(|t| t.elapsed() >= refresh) {
            state.updated_at = SystemTime::now();
            publish(state.clone());
            last_publish = Some(Instant::now());
            last_errors = state.errors.clone();
            dirty = false;
        }
        if !changed {
            // Nothing assigned yet: nothing to read until the next lookup.
            let idle = sides.iter().all(|s| s.assigned.is_empty());
            cancel.sleep(Duration::from_millis(if idle { 200 } else { 20 }));
        }
    }
    Ok(())
}

/// Reads MM2's internal topics once, to their ends (for the headless commands). A topic that
/// cannot be read is named in `errors`.
pub fn read_once(
    source: &ClusterConfig,
    target: &ClusterConfig,
    replication: &Replication,
    timeout: Duration,
) -> crate::error::Result<Mm2State> {
    use crate::kafka::cursor::{Cursor, KafkaCursor};
    let (where_syncs, syncs_topic) = topics::offset_syncs(replication);
    let syncs_cluster = match where_syncs {
        Cluster::Source => source,
        Cluster::Target => target,
    };
    let wanted = [
        (Kind::Syncs, syncs_cluster, syncs_topic),
        (Kind::Checkpoints, target, topics::checkpoints(replication)),
        (Kind::Heartbeats, target, topics::HEARTBEATS.to_string()),
    ];
    let mut state = Mm2State::new(&replication.source_alias, &replication.target_alias, SystemTime::now());
    for (kind, cluster, topic) in wanted {
        let metadata: BaseConsumer = crate::kafka::consumer_config(cluster)
            .create()
            .map_err(|e| e.to_string())?;
        let partitions = match metadata.fetch_metadata(Some(&topic), timeout) {
            Ok(md) => md
                .topics()
                .first()
                .filter(|t| t.error().is_none())
                .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
                .unwrap_or_default(),
            Err(e) => {
                state.errors.insert(kind.label(), e.to_string());
                continue;
            }
        };
        if partitions.is_empty() {
            state
                .errors
                .insert(kind.label(), format!("topic {topic} not found on {}", cluster.name));
            continue;
        }
        for p in partitions {
            // Up to the end as it is now: heartbeats keep coming while this reads.
            let (low, end) = metadata
                .fetch_watermarks(&topic, p, timeout)
                .map_err(|e| e.to_string())?;
            if end <= low {
                continue;
            }
            let mut cursor = KafkaCursor::new(cluster, &topic, p, timeout)?;
            cursor.seek(low)?;
            while let Some(r) = cursor.next()? {
                apply(&mut state, kind, &r);
                if r.offset + 1 >= end {
                    break;
                }
            }
        }
    }
    Ok(state)
}
