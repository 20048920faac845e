//! Creating topics: the demo and the tests set up clusters with it. The cockpit itself never
//! creates anything on a user's cluster.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

use crate::config::ClusterConfig;

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
pub async fn create_topics(cluster: &ClusterConfig, topics: &[TopicSpec], timeout: Duration) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = super::client_config(cluster)
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

/// Commits offsets for a group that has no members, without joining it (the broker accepts
/// commits to an EMPTY group). The demo, tests and benchmarks set groups up with it.
pub fn commit_group_offsets(
    cluster: &ClusterConfig,
    group: &str,
    offsets: &[(String, i32, i64)],
) -> Result<(), String> {
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = super::consumer_config(cluster)
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
