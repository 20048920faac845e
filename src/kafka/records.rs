//! Reading records with everything that identifies them: key, value, headers and timestamp.
//! Readers only ever `assign` partitions: they never join or commit for a group.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;

use super::Error;
use crate::config::ClusterConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Milliseconds since the epoch (CreateTime or LogAppendTime, as stored).
    pub timestamp: Option<i64>,
}

/// A record as read back: where it is, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub record: Record,
}

/// The prefetch of a cursor's reader, in kB (librdkafka's `queued.max.messages.kbytes`).
pub const CURSOR_PREFETCH_KB: u64 = 8 * 1024;

/// Reads assigned partitions from given offsets, never as a group member. Reads committed
/// records only (librdkafka's default isolation, as `read_committed` consumers do) unless the
/// cluster's properties set `isolation.level`.
pub struct RecordReader {
    consumer: BaseConsumer<super::ReaderContext>,
}

/// What a cursor read next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Record(Located),
    /// The reader reached the partition's end (past any transaction markers).
    End {
        topic: String,
        partition: i32,
    },
    /// Nothing arrived in time.
    Idle,
}

impl RecordReader {
    pub fn new(cluster: &ClusterConfig) -> crate::error::Result<Self> {
        Self::create(cluster, false)
    }

    /// A reader that says when it reaches the end of a partition (see `next_event`).
    pub fn with_end_events(cluster: &ClusterConfig) -> crate::error::Result<Self> {
        Self::create(cluster, true)
    }

    fn create(cluster: &ClusterConfig, end_events: bool) -> crate::error::Result<Self> {
        let mut c: ClientConfig = super::consumer_config(cluster);
        // librdkafka wants a group.id to create a consumer; it is never joined or committed.
        c.set("group.id", "cutover-reader-never-joins")
            .set("auto.offset.reset", "error")
            .set("enable.partition.eof", if end_events { "true" } else { "false" });
        if end_events {
            // Cursors seek constantly: after a re-assign librdkafka first waits out the last
            // long-poll fetch, 500 ms by default; 10 ms makes a seek ~25 ms instead of ~750.
            c.set("fetch.wait.max.ms", "10");
            // Cursors read at the pace of a comparison, often rate-limited: a prefetch of
            // 8 MB per cursor (librdkafka's default is 64 MB) bounds memory with large
            // records and several partitions at once, and costs no throughput.
            c.set("queued.max.messages.kbytes", CURSOR_PREFETCH_KB.to_string());
        }
        let context = super::ReaderContext {
            cluster: cluster.name.clone(),
        };
        let consumer = c
            .create_with_context(context)
            .map_err(|e| format!("{}: reader: {e}", cluster.name))?;
        Ok(RecordReader { consumer })
    }

    /// The next record, the end of a partition, or nothing within `timeout`.
    /// Offsets of the first records at or after each timestamp (ms), per partition.
    pub fn offset_for_time(
        &self,
        topic: &str,
        partition: i32,
        timestamp: i64,
        timeout: Duration,
    ) -> Result<Option<i64>, Error> {
        let what = format!("{topic}/{partition}: offset for time");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Offset(timestamp))
            .map_err(|e| Error::kafka(&what, &e))?;
        let answer = self
            .consumer
            .offsets_for_times(tpl, timeout)
            .map_err(|e| Error::kafka(&what, &e))?;
        let elem = answer
            .find_partition(topic, partition)
            .ok_or_else(|| Error::transient(format!("{what}: no answer for the partition")))?;
        elem.error().map_err(|e| Error::kafka(&what, &e))?;
        Ok(match elem.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        })
    }

    /// A partition's first and end offsets (low and high watermarks), fresh from its leader.
    pub fn watermarks(&self, topic: &str, partition: i32, timeout: Duration) -> Result<(i64, i64), Error> {
        let what = format!("{topic}/{partition}: watermarks");
        self.consumer
            .fetch_watermarks(topic, partition, timeout)
            .map_err(|e| Error::kafka(&what, &e))
    }

    /// Starts reading each (topic, partition) at its offset (`None`: the beginning).
    pub fn assign(&self, from: &[(String, i32, Option<i64>)]) -> Result<(), Error> {
        let mut tpl = TopicPartitionList::new();
        for (t, p, o) in from {
            let offset = o.map_or(Offset::Beginning, Offset::Offset);
            tpl.add_partition_offset(t, *p, offset)
                .map_err(|e| Error::kafka("assign", &e))?;
        }
        self.consumer.assign(&tpl).map_err(|e| Error::kafka("assign", &e))
    }

    /// The next record, waiting at most `timeout`; None when nothing arrived (or, for readers
    /// made `with_end_events`, when a partition ended).
    pub fn next(&self, timeout: Duration) -> Option<Result<Located, Error>> {
        match self.poll(timeout) {
            Polled::Record(r) => Some(Ok(r)),
            Polled::Failed(e) => Some(Err(e)),
            Polled::Nothing | Polled::End(_) => None,
        }
    }

    /// Only one partition is assigned at a time for end events to name it: `assigned` is it.
    pub fn next_event(&self, timeout: Duration, assigned: (&str, i32)) -> Result<Next, Error> {
        match self.poll(timeout) {
            Polled::Record(r) => Ok(Next::Record(r)),
            Polled::End(partition) => Ok(Next::End {
                topic: assigned.0.to_string(),
                partition,
            }),
            Polled::Nothing => Ok(Next::Idle),
            Polled::Failed(e) => Err(e),
        }
    }

    /// The timestamp (ms) of the first record at or after each (topic, partition, offset), as
    /// many as arrive within `budget`; several offsets of one partition are read in one pass
    /// from the lowest. Leaves nothing assigned.
    pub fn timestamps(&self, wanted: &[(String, i32, i64)], budget: Duration) -> Vec<((String, i32, i64), i64)> {
        let mut pending: BTreeMap<(String, i32), Vec<i64>> = BTreeMap::new();
        for (t, p, o) in wanted {
            pending.entry((t.clone(), *p)).or_default().push(*o);
        }
        for offsets in pending.values_mut() {
            // Highest first, so the lowest still waiting is popped from the back.
            offsets.sort_unstable_by(|a, b| b.cmp(a));
            offsets.dedup();
        }
        let from: Vec<(String, i32, Option<i64>)> = pending
            .iter()
            .map(|((t, p), o)| (t.clone(), *p, o.last().copied()))
            .collect();
        let mut read = Vec::new();
        if let Err(e) = self.assign(&from) {
            tracing::debug!("record timestamps: {e}");
            return read;
        }
        let deadline = std::time::Instant::now() + budget;
        while !pending.is_empty() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match self.next(left) {
                Some(Ok(l)) => {
                    let key = (l.topic, l.partition);
                    let Some(offsets) = pending.get_mut(&key) else { continue };
                    while offsets.last().is_some_and(|o| *o <= l.offset) {
                        let asked = offsets.pop().expect("an offset");
                        if let Some(ms) = l.record.timestamp {
                            read.push(((key.0.clone(), key.1, asked), ms));
                        }
                    }
                    if offsets.is_empty() {
                        pending.remove(&key);
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!("record timestamps: {e}");
                    break;
                }
                None => {}
            }
        }
        if let Err(e) = self.assign(&[]) {
            tracing::debug!("record timestamps: {e}");
        }
        read
    }

    fn poll(&self, timeout: Duration) -> Polled {
        let m = match self.consumer.poll(timeout) {
            None => return Polled::Nothing,
            Some(Ok(m)) => m,
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => return Polled::End(p),
            Some(Err(e)) => return Polled::Failed(Error::kafka("fetch", &e)),
        };
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        Polled::Record(Located {
            topic: m.topic().to_string(),
            partition: m.partition(),
            offset: m.offset(),
            record: Record {
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers,
                timestamp: m.timestamp().to_millis(),
            },
        })
    }
}

enum Polled {
    Record(Located),
    End(i32),
    Nothing,
    Failed(Error),
}
