//! Test harness: setting up consumer-group offsets the way an application would, directly
//! through rdkafka. The product commits only through `cutover::kafka::write::OffsetWriter`,
//! which first asks DescribeGroups whether the group is Empty; tansu's sqlite engine breaks
//! that call (test-brokers.md), so the harness sets up groups without it. The benchmarks
//! include this file too.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::time::Duration;

use cutover::config::ClusterConfig;
use cutover::kafka::consumer_config;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// Commits offsets for a group that has no members, without joining it (the broker accepts
/// commits to an EMPTY group).
pub fn commit_offsets(cluster: &ClusterConfig, group: &str, offsets: &[(String, i32, i64)]) -> Result<(), String> {
    let consumer: BaseConsumer = consumer_config(cluster)
        .set("group.id", group)
        .create()
        .map_err(|e| format!("{}: {e}", cluster.name))?;
    let mut tpl = TopicPartitionList::new();
    for (t, p, o) in offsets {
        tpl.add_partition_offset(t, *p, Offset::Offset(*o))
            .map_err(|e| e.to_string())?;
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .map_err(|e| format!("{}: commit for {group}: {e}", cluster.name))
}

/// A real member of a consumer group that commits when the test says so.
pub struct TestMember {
    consumer: BaseConsumer,
}

impl TestMember {
    pub fn join(cluster: &ClusterConfig, group: &str, topics: &[&str]) -> Result<Self, String> {
        let mut c = consumer_config(cluster);
        c.set("group.id", group)
            // Commits cover what was polled: positions are stored as records are returned.
            .set("enable.auto.offset.store", "true")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500");
        let consumer: BaseConsumer = c.create().map_err(|e| format!("{}: consumer: {e}", cluster.name))?;
        consumer.subscribe(topics).map_err(|e| format!("subscribe: {e}"))?;
        Ok(TestMember { consumer })
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
            .commit_consumer_state(CommitMode::Sync)
            .map_err(|e| format!("commit: {e}"))
    }

    /// Leaves the group cleanly (LeaveGroup), so it turns Empty at once.
    pub fn leave(self) {
        self.consumer.unsubscribe();
        let _ = self.consumer.poll(Duration::from_millis(100));
        drop(self.consumer);
    }
}
