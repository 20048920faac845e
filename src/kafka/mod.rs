//! The only code that touches rdkafka: one poll of one cluster, turned into plain data.
//!
//! Each poll costs a constant number of round trips per broker: one Metadata, two ListOffsets
//! per leader (all start offsets, all end offsets), one DescribeConfigs for every watched topic,
//! ListGroups + DescribeGroups, and one OffsetFetch per group coordinator. The offsets are read
//! by `wire` (plain TCP or TLS); on a cluster it leaves to librdkafka (SASL), by librdkafka, at
//! one FindCoordinator and OffsetFetch per group. Every failing call becomes an
//! "unavailable: <reason>" figure; only a failed Metadata call fails the whole poll.

pub mod assignment;
pub mod cursor;
pub mod ffi;
pub mod mm2;
pub mod records;
pub mod scram;
pub mod transport;
pub mod wire;
pub mod write;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rdkafka::admin::{AdminClient, AdminOptions, ConfigSource, ResourceSpecifier};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;

use crate::config::ClusterConfig;
use crate::model::{
    Broker, ClusterState, ConfigValue, Figure, GroupState, GroupStatus, Member, PartitionState, TopicState,
};

/// Routes librdkafka's logs to the log file (never the terminal) and keeps its statistics.
#[derive(Clone)]
pub struct CockpitContext {
    cluster: String,
    /// The newest statistics of each librdkafka handle (consumer, admin), by handle name.
    stats: Arc<Mutex<BTreeMap<String, Statistics>>>,
}

impl ClientContext for CockpitContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        client_log(&self.cluster, level, fac, log_message);
    }

    fn stats(&self, statistics: Statistics) {
        let mut stats = self.stats.lock().expect("stats lock");
        stats.insert(statistics.name.clone(), statistics);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        client_error(&self.cluster, error, reason);
    }
}

/// librdkafka's log lines in the log file (never the terminal), at their level.
fn client_log(cluster: &str, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
    match level {
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
            tracing::error!(cluster, fac, "librdkafka: {log_message}")
        }
        RDKafkaLogLevel::Warning => tracing::warn!(cluster, fac, "librdkafka: {log_message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => tracing::info!(cluster, fac, "librdkafka: {log_message}"),
        RDKafkaLogLevel::Debug => tracing::debug!(cluster, fac, "librdkafka: {log_message}"),
    }
}

/// librdkafka's error events in the log. Reaching a partition's end (a cursor's every read
/// to the end) is news at debug, not an error: the log's ERROR lines stay errors.
pub fn client_error(cluster: &str, error: rdkafka::error::KafkaError, reason: &str) {
    match error {
        rdkafka::error::KafkaError::PartitionEOF(p) => {
            tracing::debug!(cluster, partition = p, "librdkafka: end of partition: {reason}")
        }
        other => tracing::warn!(cluster, "librdkafka error: {other}: {reason}"),
    }
}

/// The context of a record reader: librdkafka's logs and error events to the log file at
/// their level, an end of partition at debug.
pub struct ReaderContext {
    pub cluster: String,
}

impl ClientContext for ReaderContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        client_log(&self.cluster, level, fac, log_message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        client_error(&self.cluster, error, reason);
    }
}

impl ConsumerContext for ReaderContext {}

impl ConsumerContext for CockpitContext {}

/// Which topics and groups a poll reads offsets, configs and groups for.
#[derive(Clone)]
pub struct Watch {
    pub topic: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    pub group: Arc<dyn Fn(&str) -> bool + Send + Sync>,
}

/// Request counts per broker and API, from librdkafka's statistics (benchmarks use them).
pub type RequestCounts = BTreeMap<String, BTreeMap<String, i64>>;

/// A connection to one cluster. Creating it does not touch the network.
pub struct ClusterClient {
    name: String,
    consumer: Arc<BaseConsumer<CockpitContext>>,
    admin: AdminClient<CockpitContext>,
    timeout: Duration,
    stats: Arc<Mutex<BTreeMap<String, Statistics>>>,
    /// Partition and group offsets over the Kafka protocol itself, on a cluster it can speak
    /// to (plain TCP or TLS); else librdkafka reads them.
    wire: Option<Arc<Mutex<wire::WireClient>>>,
}

/// The librdkafka configuration every client of a cluster starts from.
pub fn client_config(cluster: &ClusterConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("client.id", "cutover")
        // Come back quickly after a broker restarts: the cockpit is watched live.
        .set("reconnect.backoff.ms", "100")
        .set("reconnect.backoff.max.ms", "1000");
    for (k, v) in &cluster.properties {
        c.set(k, v);
    }
    c.set("bootstrap.servers", &cluster.bootstrap);
    c
}

/// For consumers: never commit, never store offsets, never create topics by reading them.
pub fn consumer_config(cluster: &ClusterConfig) -> ClientConfig {
    let mut c = client_config(cluster);
    c.set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("allow.auto.create.topics", "false");
    c
}

impl ClusterClient {
    /// `stats_interval`: ask librdkafka for statistics (request counts) this often.
    pub fn connect(
        cluster: &ClusterConfig,
        timeout: Duration,
        stats_interval: Option<Duration>,
    ) -> crate::error::Result<Self> {
        let stats = Arc::new(Mutex::new(BTreeMap::new()));
        let context = CockpitContext {
            cluster: cluster.name.clone(),
            stats: stats.clone(),
        };
        let mut config = consumer_config(cluster);
        let mut admin_config = client_config(cluster);
        if let Some(i) = stats_interval {
            config.set("statistics.interval.ms", i.as_millis().to_string());
            admin_config.set("statistics.interval.ms", i.as_millis().to_string());
        }
        let consumer: BaseConsumer<CockpitContext> = config
            .create_with_context(context.clone())
            .map_err(|e| format!("cannot create a client for {}: {e}", cluster.name))?;
        let admin: AdminClient<CockpitContext> = admin_config
            .create_with_context(context)
            .map_err(|e| format!("cannot create an admin client for {}: {e}", cluster.name))?;
        Ok(ClusterClient {
            name: cluster.name.clone(),
            consumer: Arc::new(consumer),
            admin,
            timeout,
            stats,
            wire: match wire::WireClient::new(cluster, timeout) {
                Ok(w) => Some(Arc::new(Mutex::new(w))),
                Err(why) => {
                    tracing::info!(
                        "{}: partition and group offsets read through librdkafka: {why}",
                        cluster.name
                    );
                    None
                }
            },
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Polls the cluster once. Err only when the cluster could not be reached at all.
    pub async fn poll(&self, watch: &Watch) -> crate::error::Result<ClusterState> {
        let started = Instant::now();
        let consumer = self.consumer.clone();
        let timeout = self.timeout;
        let w = watch.clone();
        let wire = self.wire.clone();
        let (brokers, topics, groups) = tokio::task::spawn_blocking(move || -> crate::error::Result<_> {
            serve_events(consumer.client());
            let (brokers, mut topics) = read_metadata(&consumer, &w, timeout)?;
            let mut wire = wire.as_ref().map(|w| w.lock().expect("wire lock"));
            match wire.as_mut() {
                Some(wire) => wire.read_watermarks(&brokers, &mut topics),
                None => read_watermarks(&consumer, &mut topics, timeout),
            }
            let groups = read_groups(&consumer, &w, timeout).map(|mut groups| {
                if let Some(wire) = wire.as_mut() {
                    describe_consumer_protocol_groups(wire, &brokers, &mut groups);
                }
                let names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
                let offsets = match wire.as_mut() {
                    Some(wire) => wire.group_offsets(&brokers, &names),
                    None => ffi::list_group_offsets(consumer.client(), &names, timeout)
                        .into_iter()
                        .map(|(g, offsets)| (g, offsets.map(|o| o.into_iter().collect()).map_err(String::from)))
                        .collect(),
                };
                for (g, (_, offsets)) in groups.iter_mut().zip(offsets) {
                    g.offsets = offsets.map_err(|e| match e.starts_with("unavailable") {
                        true => e,
                        false => format!("unavailable: {e}"),
                    });
                }
                groups
            });
            Ok((brokers, topics, groups))
        })
        .await
        .map_err(|e| format!("poll task failed: {e}"))??;
        serve_events(self.admin.inner());
        let configs = self.read_configs(topics.keys()).await;
        Ok(ClusterState {
            polled_at: SystemTime::now(),
            poll_duration: started.elapsed(),
            brokers,
            topics,
            // Figures: an error is shown beside what it affects.
            configs: configs.map_err(String::from),
            groups: groups.map_err(String::from),
        })
    }

    async fn read_configs<'a>(
        &self,
        topics: impl Iterator<Item = &'a String>,
    ) -> crate::error::Result<BTreeMap<String, BTreeMap<String, ConfigValue>>> {
        let specs: Vec<ResourceSpecifier> = topics.map(|t| ResourceSpecifier::Topic(t)).collect();
        if specs.is_empty() {
            return Ok(BTreeMap::new());
        }
        let opts = AdminOptions::new().request_timeout(Some(self.timeout));
        let results = self
            .admin
            .describe_configs(specs.iter(), &opts)
            .await
            .map_err(|e| format!("unavailable: {e}"))?;
        let mut out = BTreeMap::new();
        for (spec, r) in specs.iter().zip(results) {
            let ResourceSpecifier::Topic(name) = spec else { continue };
            let resource = r.map_err(|e| format!("unavailable for {name}: {e}"))?;
            let entries = resource
                .entries
                .into_iter()
                .filter(|e| !e.is_sensitive)
                .filter_map(|e| {
                    let default = matches!(e.source, ConfigSource::Default);
                    Some((
                        e.name,
                        ConfigValue {
                            value: e.value?,
                            default,
                        },
                    ))
                })
                .collect();
            out.insert(name.to_string(), entries);
        }
        Ok(out)
    }

    /// librdkafka's request counters so far, per broker address and API, summed over the
    /// consumer and admin handles (needs `stats_interval`; counters are as of the newest statistics).
    pub fn request_counts(&self) -> RequestCounts {
        serve_events(self.consumer.client());
        serve_events(self.admin.inner());
        let stats = self.stats.lock().expect("stats lock");
        let mut out = RequestCounts::new();
        if let Some(wire) = &self.wire {
            for (broker, apis) in wire.lock().expect("wire lock").request_counts() {
                let per_api = out.entry(broker.clone()).or_default();
                for (api, n) in apis {
                    *per_api.entry(api.clone()).or_default() += n;
                }
            }
        }
        for s in stats.values() {
            // By address: the bootstrap connection and the broker's own are the same broker.
            for b in s.brokers.values().filter(|b| !b.nodename.is_empty()) {
                let per_api = out.entry(b.nodename.clone()).or_default();
                for (api, n) in b.req.iter().filter(|(_, n)| **n > 0) {
                    *per_api.entry(api.clone()).or_default() += n;
                }
            }
        }
        out
    }
}

/// A failed call to a cluster: the crate's error (what failed, and whether trying again may
/// help).
pub use crate::error::Error;

impl Error {
    /// From librdkafka's error, classified by `retryable`.
    pub fn kafka(context: &str, e: &rdkafka::error::KafkaError) -> Error {
        let message = format!("{context}: {e}");
        if retryable(e) {
            Error::transient(message)
        } else {
            Error::permanent(message)
        }
    }
}

/// Whether a librdkafka error may go away when the same call is tried again later: timeouts,
/// brokers or coordinators down or moving, a rebalance in progress. Everything else (refused,
/// unknown, invalid) needs a person.
pub fn retryable(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::OperationTimedOut
                | C::RequestTimedOut
                | C::AllBrokersDown
                | C::BrokerTransportFailure
                | C::BrokerNotAvailable
                | C::NetworkException
                | C::CoordinatorNotAvailable
                | C::NotCoordinator
                | C::CoordinatorLoadInProgress
                | C::LeaderNotAvailable
                | C::NotLeaderForPartition
                | C::RebalanceInProgress
        )
    )
}

/// Which of `topics` have a broker stamping its own times (`message.timestamp.type =
/// LogAppendTime`), from one DescribeConfigs; for a command without a monitor (`translate`).
pub fn own_timestamps(
    cluster: &ClusterConfig,
    topics: &[String],
    timeout: Duration,
) -> crate::error::Result<std::collections::BTreeSet<String>> {
    let client = ClusterClient::connect(cluster, timeout, None)?;
    // The admin client's futures are driven by librdkafka's own thread: any executor will do.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime to read configs: {e}"))?;
    let configs = runtime.block_on(client.read_configs(topics.iter()))?;
    Ok(configs
        .into_iter()
        .filter(|(_, c)| crate::model::inventory::stamps_own_time(c))
        .map(|(topic, _)| topic)
        .collect())
}

/// A cluster's id, asked of its brokers (Metadata); an error when no broker answers.
pub fn cluster_id(cluster: &ClusterConfig, timeout: Duration) -> crate::error::Result<Option<String>> {
    let consumer: BaseConsumer = consumer_config(cluster)
        .create()
        .map_err(|e| format!("cannot create a client for {}: {e}", cluster.name))?;
    consumer
        .fetch_metadata(Some(crate::mm2::topics::HEARTBEATS), timeout)
        .map_err(|e| format!("{} ({}) could not be reached: {e}", cluster.name, cluster.bootstrap))?;
    Ok(consumer.client().fetch_cluster_id(timeout))
}

/// Both clusters answer, and they are two clusters: a cluster compared with itself proves
/// nothing. Errors say which, and how to proceed.
pub fn check_two_clusters(
    source: &ClusterConfig,
    target: &ClusterConfig,
    timeout: Duration,
) -> crate::error::Result<()> {
    let s = cluster_id(source, timeout)?;
    let t = cluster_id(target, timeout)?;
    match (s, t) {
        (Some(a), Some(b)) if a == b => Err(format!(
            "source {} and target {} are the same cluster (cluster id {a}): check the bootstraps \
             in the config, or pass --allow-same-cluster if this is really meant",
            source.name, target.name
        )
        .into()),
        _ => Ok(()),
    }
}

/// One group's committed offsets on a cluster (one OffsetFetch), without joining it.
pub fn group_offsets(cluster: &ClusterConfig, group: &str, timeout: Duration) -> ffi::GroupOffsets {
    let consumer: BaseConsumer = consumer_config(cluster)
        .create()
        .map_err(|e| format!("{}: {e}", cluster.name))?;
    let answer = ffi::list_group_offsets(consumer.client(), &[group.to_string()], timeout);
    match answer.into_iter().next() {
        Some((_, offsets)) => offsets,
        None => Err(format!("{}: {group}: no answer", cluster.name).into()),
    }
}

/// Drains a client's main queue into the log file and the statistics (see
/// `ffi::drain_main_queue` for why this is needed).
fn serve_events(client: &rdkafka::client::Client<CockpitContext>) {
    let ctx = client.context().clone();
    ffi::drain_main_queue(client, |event| match event {
        ffi::MainEvent::Log {
            level,
            facility,
            message,
        } => ctx.log(log_level(level), &facility, &message),
        ffi::MainEvent::Stats(json) => match serde_json::from_str::<Statistics>(&json) {
            Ok(s) => ctx.stats(s),
            Err(e) => tracing::debug!(cluster = %ctx.cluster, "unreadable librdkafka statistics: {e}"),
        },
        ffi::MainEvent::Error(e) => tracing::warn!(cluster = %ctx.cluster, "librdkafka: {e}"),
        ffi::MainEvent::Other => {}
    });
}

/// syslog levels, as librdkafka uses them.
fn log_level(level: i32) -> RDKafkaLogLevel {
    match level {
        i32::MIN..=2 => RDKafkaLogLevel::Critical,
        3 => RDKafkaLogLevel::Error,
        4 => RDKafkaLogLevel::Warning,
        5 => RDKafkaLogLevel::Notice,
        6 => RDKafkaLogLevel::Info,
        _ => RDKafkaLogLevel::Debug,
    }
}

fn read_metadata(
    consumer: &BaseConsumer<CockpitContext>,
    watch: &Watch,
    timeout: Duration,
) -> crate::error::Result<(Vec<Broker>, BTreeMap<String, TopicState>)> {
    let md = consumer
        .fetch_metadata(None, timeout)
        .map_err(|e| format!("metadata: {e}"))?;
    let brokers = md
        .brokers()
        .iter()
        .map(|b| Broker {
            id: b.id(),
            host: b.host().to_string(),
            port: b.port(),
        })
        .collect();
    let topics = md
        .topics()
        .iter()
        .filter(|t| (watch.topic)(t.name()))
        .map(|t| {
            let mut partitions: Vec<PartitionState> = t
                .partitions()
                .iter()
                .map(|p| PartitionState {
                    id: p.id(),
                    leader: p.leader(),
                    replicas: u16::try_from(p.replicas().len()).unwrap_or(u16::MAX),
                    isr: u16::try_from(p.isr().len()).unwrap_or(u16::MAX),
                    low: Err("not read yet".into()),
                    high: Err("not read yet".into()),
                    error: p.error().map(|e| rdkafka::error::RDKafkaErrorCode::from(e).to_string()),
                })
                .collect();
            partitions.sort_by_key(|p| p.id);
            let state = TopicState {
                name: t.name().to_string(),
                partitions,
                error: t.error().map(|e| rdkafka::error::RDKafkaErrorCode::from(e).to_string()),
            };
            (state.name.clone(), state)
        })
        .collect();
    Ok((brokers, topics))
}

/// Start and end offsets of every watched partition through librdkafka: two batched
/// ListOffsets per leader. The lists are built by appending and the answers looked up by hash
/// (librdkafka's own handling of the list stays quadratic: the reason for `wire`).
pub fn read_watermarks<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topics: &mut BTreeMap<String, TopicState>,
    timeout: Duration,
) {
    for which in [Offset::Beginning, Offset::End] {
        let mut tpl = TopicPartitionList::with_capacity(topics.values().map(|t| t.partitions.len()).sum());
        for t in topics.values() {
            for p in &t.partitions {
                let _ = tpl.add_partition(&t.name, p.id).set_offset(which);
            }
        }
        if tpl.count() == 0 {
            return;
        }
        let answer: crate::error::Result<HashMap<(String, i32), Figure<i64>>> = consumer
            .offsets_for_times(tpl, timeout)
            .map(|list| {
                list.elements()
                    .iter()
                    .map(|elem| {
                        let figure = match (elem.error(), elem.offset()) {
                            (Err(e), _) => Err(format!("unavailable: {e}")),
                            (Ok(()), Offset::Offset(o)) => Ok(o),
                            (Ok(()), other) => Err(format!("unavailable: broker answered {other:?}")),
                        };
                        ((elem.topic().to_string(), elem.partition()), figure)
                    })
                    .collect()
            })
            .map_err(|e| Error::kafka("unavailable", &e));
        for t in topics.values_mut() {
            for p in &mut t.partitions {
                let figure = match &answer {
                    Err(e) => Err(e.message.clone()),
                    Ok(map) => map
                        .get(&(t.name.clone(), p.id))
                        .cloned()
                        .unwrap_or_else(|| Err("unavailable: no answer for this partition".into())),
                };
                match which {
                    Offset::Beginning => p.low = figure,
                    _ => p.high = figure,
                }
            }
        }
    }
}

/// Every watched consumer group and its members (ListGroups and DescribeGroups through
/// librdkafka); the caller reads their committed offsets.
fn read_groups(
    consumer: &BaseConsumer<CockpitContext>,
    watch: &Watch,
    timeout: Duration,
) -> crate::error::Result<Vec<GroupState>> {
    let list = consumer
        .fetch_group_list(None, timeout)
        .map_err(|e| format!("unavailable: {e}"))?;
    let mut groups: Vec<GroupState> = list
        .groups()
        .iter()
        // Connect workers and other non-consumer protocols are not consumer groups.
        .filter(|g| (watch.group)(g.name()) && (g.protocol_type() == "consumer" || g.protocol_type().is_empty()))
        .map(|g| GroupState {
            name: g.name().to_string(),
            status: GroupStatus::parse(g.state()),
            protocol_type: g.protocol_type().to_string(),
            members: g
                .members()
                .iter()
                .map(|m| Member {
                    id: m.id().to_string(),
                    client_id: m.client_id().to_string(),
                    host: m.client_host().to_string(),
                    assignment: match m.assignment() {
                        None => Err("not reported by the broker".into()),
                        Some(bytes) => {
                            assignment::decode_assignment(bytes).map_err(|e| format!("undecodable: {}", e.0))
                        }
                    },
                })
                .collect(),
            offsets: Err("not read yet".into()),
        })
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups)
}

/// Groups of the consumer protocol (KIP-848) come back from the classic DescribeGroups as
/// Dead with no protocol type, though ListGroups has just listed them: they are described again
/// with ConsumerGroupDescribe. A group that is not of that protocol keeps its answer.
fn describe_consumer_protocol_groups(wire: &mut wire::WireClient, brokers: &[Broker], groups: &mut [GroupState]) {
    let candidates: Vec<String> = groups
        .iter()
        .filter(|g| g.status == GroupStatus::Dead && g.protocol_type.is_empty())
        .map(|g| g.name.clone())
        .collect();
    if candidates.is_empty() {
        return;
    }
    let mut described = wire.describe_consumer_groups(brokers, &candidates);
    for g in groups.iter_mut() {
        match described.remove(&g.name) {
            Some(Ok((status, members))) => {
                g.status = status;
                g.protocol_type = "consumer".into();
                g.members = members;
            }
            Some(Err(e)) => tracing::debug!("group {} is not a consumer-protocol group: {e}", g.name),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// librdkafka refuses, at client creation, a protocol or mechanism it was built without.
    /// Creating a client does not connect, so no broker is needed.
    #[test]
    fn every_security_protocol_and_sasl_mechanism_is_built_in() {
        let cases: [(&str, Option<&str>); 6] = [
            ("PLAINTEXT", None),
            ("SSL", None),
            ("SASL_PLAINTEXT", Some("PLAIN")),
            ("SASL_PLAINTEXT", Some("SCRAM-SHA-256")),
            ("SASL_SSL", Some("SCRAM-SHA-512")),
            ("SASL_SSL", Some("PLAIN")),
        ];
        for (protocol, mechanism) in cases {
            let mut cluster = ClusterConfig::plaintext("x", "127.0.0.1:1");
            cluster.properties.push(("security.protocol".into(), protocol.into()));
            if let Some(m) = mechanism {
                cluster.properties.push(("sasl.mechanism".into(), m.into()));
                cluster.properties.push(("sasl.username".into(), "u".into()));
                cluster.properties.push(("sasl.password".into(), "p".into()));
            }
            if let Err(e) = ClusterClient::connect(&cluster, Duration::from_secs(1), None) {
                panic!("{protocol} {mechanism:?}: {e}");
            }
        }
        let mut kerberos = ClusterConfig::plaintext("x", "127.0.0.1:1");
        kerberos
            .properties
            .push(("security.protocol".into(), "SASL_PLAINTEXT".into()));
        kerberos.properties.push(("sasl.mechanism".into(), "GSSAPI".into()));
        assert!(
            ClusterClient::connect(&kerberos, Duration::from_secs(1), None).is_err(),
            "GSSAPI is not built in; the README says so"
        );
    }
}
