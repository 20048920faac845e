//! The demo's own clients: creating topics, writing records, and a consumer-group member.
//! They write to clusters, so they live here and not in the product's `kafka` module: the
//! cockpit creates nothing, and commits only through `kafka::write`. The tests and the
//! benchmarks set up their clusters with them too.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientConfig;
use rdkafka::ClientContext;

use crate::config::ClusterConfig;
use crate::kafka::records::Record;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    /// Topic configs set at creation, e.g. ("cleanup.policy", "compact").
    pub configs: Vec<(String, String)>,
}

impl TopicSpec {
    pub fn new(name: &str, partitions: i32) -> Self {
        TopicSpec {
            name: name.to_string(),
            partitions,
            configs: Vec::new(),
        }
    }

    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.configs.push((key.to_string(), value.to_string()));
        self
    }
}

/// Creates the topics (replication factor 1); an existing topic is an error.
pub async fn create_topics(
    cluster: &ClusterConfig,
    topics: &[TopicSpec],
    timeout: Duration,
) -> crate::error::Result<()> {
    let admin: AdminClient<DefaultClientContext> = crate::kafka::client_config(cluster)
        .create()
        .map_err(|e| format!("{}: {e}", cluster.name))?;
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| {
            t.configs.iter().fold(
                NewTopic::new(&t.name, t.partitions, TopicReplication::Fixed(1)),
                |n, (k, v)| n.set(k, v),
            )
        })
        .collect();
    let opts = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
    let results = admin
        .create_topics(new.iter(), &opts)
        .await
        .map_err(|e| format!("{}: create topics: {e}", cluster.name))?;
    for r in results {
        r.map_err(|(topic, e)| format!("{}: create topic {topic}: {e}", cluster.name))?;
    }
    Ok(())
}

/// Where one record landed: the tag given at send, and its offset or the error.
pub type Landed = (u64, crate::error::Result<i64>);

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
            Err((e, _)) => Err(crate::kafka::Error::kafka("delivery", e)),
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
    pub fn new(cluster: &ClusterConfig, one_per_request: bool) -> crate::error::Result<Self> {
        let mut c: ClientConfig = crate::kafka::client_config(cluster);
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

    pub fn send(&self, topic: &str, partition: i32, r: &Record) -> crate::error::Result<()> {
        self.send_tagged(topic, partition, r, 0)
    }

    /// Sends a record; `landed` later tells the offset it got, under `tag`.
    pub fn send_tagged(&self, topic: &str, partition: i32, r: &Record, tag: u64) -> crate::error::Result<()> {
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
                Err((e, _)) => return Err(format!("produce to {topic}/{partition}: {e}").into()),
            }
        }
    }

    /// Waits until every record sent so far is acknowledged.
    pub fn flush(&self, timeout: Duration) -> crate::error::Result<()> {
        self.producer.flush(timeout).map_err(|e| format!("flush: {e}").into())
    }

    /// Where the records sent since the last call landed (after `flush`, all of them).
    pub fn landed(&self) -> Vec<Landed> {
        std::mem::take(&mut *self.deliveries.landed.lock().expect("deliveries lock"))
    }
}

/// A real member of a consumer group, as the demo's consumer application runs it.
pub struct GroupMember {
    consumer: BaseConsumer,
}

impl GroupMember {
    pub fn join(cluster: &ClusterConfig, group: &str, topics: &[&str]) -> crate::error::Result<Self> {
        let mut c: ClientConfig = crate::kafka::consumer_config(cluster);
        c.set("group.id", group)
            // Like most applications: positions are stored as records are returned and
            // committed by librdkafka every second.
            .set("enable.auto.offset.store", "true")
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500");
        let consumer: BaseConsumer = c.create().map_err(|e| format!("{}: consumer: {e}", cluster.name))?;
        consumer.subscribe(topics).map_err(|e| format!("subscribe: {e}"))?;
        Ok(GroupMember { consumer })
    }

    /// Polls once (this also keeps the membership alive); returns the record read, if any.
    pub fn poll(&self, timeout: Duration) -> Option<crate::error::Result<(String, i32, i64)>> {
        Some(
            self.consumer
                .poll(timeout)?
                .map(|m| (m.topic().to_string(), m.partition(), m.offset()))
                .map_err(|e| e.to_string().into()),
        )
    }

    /// Leaves the group cleanly (LeaveGroup), so it turns Empty at once.
    pub fn leave(self) {
        self.consumer.unsubscribe();
        let _ = self.consumer.poll(Duration::from_millis(100));
        drop(self.consumer);
    }
}
