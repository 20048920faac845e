//! Reading and writing records with everything that identifies them: key, value, headers and
//! timestamp. Readers only ever `assign` partitions: they never join or commit for a group.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use std::sync::{Arc, Mutex};

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

/// Where one record landed: the tag given at send, and its offset or the error.
pub type Landed = (u64, Result<i64, String>);

/// Collects where each record landed.
#[derive(Clone, Default)]
pub struct Deliveries {
    landed: Arc<Mutex<Vec<Landed>>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<u64>;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: Self::DeliveryOpaque) {
        let outcome = match result {
            Ok(m) => Ok(m.offset()),
            Err((e, _)) => Err(e.to_string()),
        };
        self.landed.lock().expect("deliveries lock").push((*tag, outcome));
    }
}

/// Writes records to exact partitions, keeping key, value, headers and timestamp.
pub struct RecordWriter {
    producer: BaseProducer<Deliveries>,
    deliveries: Deliveries,
}

impl RecordWriter {
    /// `one_per_request`: send every record in its own produce request (tansu's memory engine
    /// reports wrong end offsets otherwise; the tests that use it say so).
    pub fn new(cluster: &ClusterConfig, one_per_request: bool) -> Result<Self, String> {
        let mut c: ClientConfig = super::client_config(cluster);
        c.set("acks", "all").set("linger.ms", "5");
        if one_per_request {
            c.set("linger.ms", "0")
                .set("batch.num.messages", "1")
                .set("max.in.flight", "1");
        }
        let deliveries = Deliveries::default();
        let producer = c
            .create_with_context(deliveries.clone())
            .map_err(|e| format!("{}: producer: {e}", cluster.name))?;
        Ok(RecordWriter { producer, deliveries })
    }

    pub fn send(&self, topic: &str, partition: i32, r: &Record) -> Result<(), String> {
        self.send_tagged(topic, partition, r, 0)
    }

    /// Sends a record; `landed` later tells the offset it got, under `tag`.
    pub fn send_tagged(&self, topic: &str, partition: i32, r: &Record, tag: u64) -> Result<(), String> {
        let mut headers = OwnedHeaders::new();
        for (k, v) in &r.headers {
            headers = headers.insert(Header {
                key: k,
                value: v.as_deref(),
            });
        }
        let mut rec: BaseRecord<'_, [u8], [u8], Box<u64>> = BaseRecord::with_opaque_to(topic, Box::new(tag))
            .partition(partition)
            .headers(headers);
        if let Some(k) = &r.key {
            rec = rec.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            rec = rec.payload(v.as_slice());
        }
        if let Some(ts) = r.timestamp {
            rec = rec.timestamp(ts);
        }
        let mut rec = rec;
        loop {
            match self.producer.send(rec) {
                Ok(()) => return Ok(()),
                Err((
                    rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    back,
                )) => {
                    self.producer.poll(Duration::from_millis(10));
                    rec = back;
                }
                Err((e, _)) => return Err(format!("produce to {topic}/{partition}: {e}")),
            }
        }
    }

    /// Waits until every record sent so far is acknowledged.
    pub fn flush(&self, timeout: Duration) -> Result<(), String> {
        self.producer.flush(timeout).map_err(|e| format!("flush: {e}"))
    }

    /// Where the records sent since the last call landed (after `flush`, all of them).
    pub fn landed(&self) -> Vec<Landed> {
        std::mem::take(&mut *self.deliveries.landed.lock().expect("deliveries lock"))
    }
}

/// Reads assigned partitions from given offsets, never as a group member. Reads committed
/// records only (librdkafka's default isolation), as consumers and MM2 do.
pub struct RecordReader {
    consumer: BaseConsumer,
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
    pub fn new(cluster: &ClusterConfig) -> Result<Self, String> {
        Self::create(cluster, false)
    }

    /// A reader that says when it reaches the end of a partition (see `next_event`).
    pub fn with_end_events(cluster: &ClusterConfig) -> Result<Self, String> {
        Self::create(cluster, true)
    }

    fn create(cluster: &ClusterConfig, end_events: bool) -> Result<Self, String> {
        let mut c: ClientConfig = super::consumer_config(cluster);
        // librdkafka wants a group.id to create a consumer; it is never joined or committed.
        c.set("group.id", "cutover-reader-never-joins")
            .set("auto.offset.reset", "error")
            .set("enable.partition.eof", if end_events { "true" } else { "false" });
        if end_events {
            // Cursors seek constantly: after a re-assign librdkafka first waits out the last
            // long-poll fetch, 500 ms by default; 10 ms makes a seek ~25 ms instead of ~750.
            c.set("fetch.wait.max.ms", "10");
        }
        let consumer = c.create().map_err(|e| format!("{}: reader: {e}", cluster.name))?;
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
    ) -> Result<Option<i64>, String> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Offset(timestamp))
            .map_err(|e| e.to_string())?;
        let answer = self
            .consumer
            .offsets_for_times(tpl, timeout)
            .map_err(|e| e.to_string())?;
        let elem = answer
            .find_partition(topic, partition)
            .ok_or("no answer for the partition")?;
        elem.error().map_err(|e| e.to_string())?;
        Ok(match elem.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        })
    }

    /// Starts reading each (topic, partition) at its offset (`None`: the beginning).
    pub fn assign(&self, from: &[(String, i32, Option<i64>)]) -> Result<(), String> {
        let mut tpl = TopicPartitionList::new();
        for (t, p, o) in from {
            let offset = o.map_or(Offset::Beginning, Offset::Offset);
            tpl.add_partition_offset(t, *p, offset).map_err(|e| e.to_string())?;
        }
        self.consumer.assign(&tpl).map_err(|e| format!("assign: {e}"))
    }

    /// The next record, waiting at most `timeout`; None when nothing arrived (or, for readers
    /// made `with_end_events`, when a partition ended).
    pub fn next(&self, timeout: Duration) -> Option<Result<Located, String>> {
        match self.poll(timeout) {
            Polled::Record(r) => Some(Ok(r)),
            Polled::Failed(e) => Some(Err(e)),
            Polled::Nothing | Polled::End(_) => None,
        }
    }

    /// Only one partition is assigned at a time for end events to name it: `assigned` is it.
    pub fn next_event(&self, timeout: Duration, assigned: (&str, i32)) -> Result<Next, String> {
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

    fn poll(&self, timeout: Duration) -> Polled {
        let m = match self.consumer.poll(timeout) {
            None => return Polled::Nothing,
            Some(Ok(m)) => m,
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => return Polled::End(p),
            Some(Err(e)) => return Polled::Failed(e.to_string()),
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
    Failed(String),
}

/// A real member of a consumer group: the demo's consumers and the tests' groups. The cockpit
/// itself never uses this.
pub struct GroupMember {
    consumer: BaseConsumer,
}

impl GroupMember {
    pub fn join(cluster: &ClusterConfig, group: &str, topics: &[&str]) -> Result<Self, String> {
        let mut c: ClientConfig = super::consumer_config(cluster);
        c.set("group.id", group)
            // Commits cover what was polled: positions are stored as records are returned.
            .set("enable.auto.offset.store", "true")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500");
        let consumer: BaseConsumer = c.create().map_err(|e| format!("{}: consumer: {e}", cluster.name))?;
        consumer.subscribe(topics).map_err(|e| format!("subscribe: {e}"))?;
        Ok(GroupMember { consumer })
    }

    /// Polls once (this also keeps the membership alive); returns the record read, if any.
    pub fn poll(&self, timeout: Duration) -> Option<Result<(String, i32, i64), String>> {
        Some(
            self.consumer
                .poll(timeout)?
                .map(|m| (m.topic().to_string(), m.partition(), m.offset()))
                .map_err(|e| e.to_string()),
        )
    }

    /// Commits the positions of everything polled so far.
    pub fn commit(&self) -> Result<(), String> {
        self.consumer
            .commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
            .map_err(|e| format!("commit: {e}"))
    }

    /// Leaves the group cleanly (LeaveGroup), so it turns Empty at once.
    pub fn leave(self) {
        self.consumer.unsubscribe();
        let _ = self.consumer.poll(Duration::from_millis(100));
        drop(self.consumer);
    }
}
