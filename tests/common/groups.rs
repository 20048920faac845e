//! Test harness: setting up a consumer group's offsets directly through rdkafka. The product
//! commits only through `cutover::kafka::write::OffsetWriter`, which first asks DescribeGroups
//! whether the group is Empty; tansu's sqlite engine breaks that call (test-brokers.md), so the
//! harness sets groups up without it. The benchmarks include this file too.
#![allow(dead_code)] // each test binary uses a different part of the harness

use cutover::config::ClusterConfig;
use cutover::kafka::consumer_config;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
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
