//! Lag in seconds for one cluster's polls: keeps the end-offset history, reads the waiting
//! records' timestamps (the reads are the effect; `model::lag_time` is the math).

use std::sync::Arc;
use std::time::Duration;

use crate::config::{ClusterConfig, Replication};
use crate::kafka::records::RecordReader;
use crate::model::groups::waiting_consumers;
use crate::model::lag_time::{Ages, EndHistory, RecordTimes, Waiting};
use crate::model::overview::waiting_replication;
use crate::model::{Side, Snapshot};

pub struct LagClock {
    side: Side,
    cluster: ClusterConfig,
    replication: Replication,
    /// Made at the first read (creating it does not touch the network; a failure is logged
    /// and every age is estimated).
    reader: Option<Arc<RecordReader>>,
    history: EndHistory,
    times: RecordTimes,
    /// How long one poll's reads may take.
    budget: Duration,
    /// Timestamps read per poll at most (`[monitor] timestamp_reads`): beyond it (large estates
    /// far behind) ages are estimated from the history, and marked so.
    reads_per_poll: usize,
}

impl LagClock {
    pub fn new(
        side: Side,
        cluster: &ClusterConfig,
        replication: &Replication,
        budget: Duration,
        reads_per_poll: usize,
    ) -> LagClock {
        LagClock {
            side,
            cluster: cluster.clone(),
            replication: replication.clone(),
            reader: None,
            history: EndHistory::default(),
            times: RecordTimes::default(),
            budget,
            reads_per_poll,
        }
    }

    /// The ages of this side's newest poll in `view` (for the source, `view` pairs it with the
    /// target it is compared with).
    pub async fn ages(&mut self, view: &Snapshot) -> Ages {
        let Some(state) = view.feed(self.side).state() else {
            return Ages::default();
        };
        self.history.record(state);
        let mut waiting = waiting_consumers(state);
        if self.side == Side::Source {
            waiting.extend(waiting_replication(view, &self.replication));
        }
        self.times.keep_only(&waiting);
        let wanted = unread(&waiting, &self.times, self.reads_per_poll);
        if !wanted.is_empty() {
            self.read(wanted).await;
        }
        Ages::of(&waiting, state.polled_at, &self.history, &self.times)
    }

    async fn read(&mut self, wanted: Vec<(String, i32, i64)>) {
        if self.reader.is_none() {
            // A reader that seeks cheaply: every poll asks for other offsets.
            match RecordReader::with_end_events(&self.cluster) {
                Ok(r) => self.reader = Some(Arc::new(r)),
                Err(e) => {
                    tracing::warn!(
                        "{}: cannot read record timestamps (lag in seconds estimated): {e}",
                        self.cluster.name
                    );
                    return;
                }
            }
        }
        let reader = self.reader.clone().expect("a reader");
        let budget = self.budget;
        match tokio::task::spawn_blocking(move || reader.timestamps(&wanted, budget)).await {
            Ok(read) => {
                for ((t, p, o), ms) in read {
                    self.times.insert(&t, p, o, ms);
                }
            }
            Err(e) => tracing::warn!("{}: record timestamps: {e}", self.cluster.name),
        }
    }
}

/// The waiting records whose timestamps are not read yet, the longest waits first, at most
/// `most`.
fn unread(waiting: &[Waiting], times: &RecordTimes, most: usize) -> Vec<(String, i32, i64)> {
    let mut wanted: Vec<&Waiting> = waiting
        .iter()
        .filter(|w| times.get(&w.topic, w.partition, w.offset).is_none())
        .collect();
    wanted.sort_by_key(|w| std::cmp::Reverse(w.end - w.offset));
    let mut out: Vec<(String, i32, i64)> = wanted
        .iter()
        .map(|w| (w.topic.clone(), w.partition, w.offset))
        .collect();
    out.dedup();
    out.truncate(most);
    out
}
