//! The Kafka protocol spoken directly (encoded by the `kafka-protocol` crate) for the one read
//! of every poll whose cost librdkafka makes grow with the square of the partition count: the
//! start and end offsets of every watched partition. librdkafka builds, sends and merges its
//! ListOffsets through partition lists it searches linearly for each partition (in
//! `offsets_for_times` and in the admin ListOffsets alike), so 25,000 partitions would cost
//! seconds of CPU per poll. Here each leader gets exactly two requests per poll (earliest and
//! latest, all partitions it leads), pipelined on one kept connection, and the answers are
//! matched by hash.
//!
//! Plain TCP and TLS (`transport`, from the same librdkafka properties); a cluster with SASL,
//! or TLS keys `transport` does not read, is read through librdkafka, at librdkafka's cost.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use kafka_protocol::error::ParseResponseErrorCode;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, GroupId, ListOffsetsRequest, ListOffsetsResponse,
    OffsetFetchRequest, OffsetFetchResponse, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message, StrBytes};

use super::scram::Exchange;
use super::transport::{Login, SaslMechanism, Stream, Transport};
use crate::config::ClusterConfig;
use crate::model::{Broker, Commits, Figure, GroupStatus, Member, TopicState};

const CLIENT_ID: &str = "cutover";
/// ListOffsets timestamps meaning "the earliest offset" and "the latest offset".
const EARLIEST: i64 = -2;
const LATEST: i64 = -1;
/// The newest ListOffsets version whose answer this module reads (v7 and later add nothing it
/// needs; v8 and v9 change what -1 means for tiered storage only with other timestamps).
const LIST_OFFSETS_MAX: i16 = 7;
/// FindCoordinator v4 finds the coordinators of many groups in one request (KIP-699).
const FIND_COORDINATOR_MAX: i16 = 4;
const FIND_COORDINATOR_BATCHED: i16 = 4;
/// OffsetFetch v8 reads the offsets of many groups in one request (KIP-709); v9 adds only
/// the consumer protocol's member fields.
const OFFSET_FETCH_MAX: i16 = 8;
const OFFSET_FETCH_BATCHED: i16 = 8;
/// Group errors that mean "ask the coordinator again": load in progress, not available, not
/// the coordinator.
const COORDINATOR_MOVED: [i16; 3] = [14, 15, 16];

/// Which end offset a poll reads: the last stable offset (what a `read_committed` consumer can
/// read, librdkafka's default, so the figure is what the cockpit always showed) unless the
/// cluster's properties ask for `read_uncommitted`.
fn isolation_level(cluster: &ClusterConfig) -> i8 {
    let uncommitted = cluster
        .properties
        .iter()
        .any(|(k, v)| k == "isolation.level" && v.eq_ignore_ascii_case("read_uncommitted"));
    if uncommitted {
        0
    } else {
        1
    }
}

/// A request this module sends, and the answer it decodes (the crate's own `Request` trait
/// needs its broker half too).
trait Request: Message + Encodable + HeaderVersion {
    const KEY: i16;
    type Response: Decodable + HeaderVersion;
}

impl Request for ApiVersionsRequest {
    const KEY: i16 = ApiKey::ApiVersions as i16;
    type Response = ApiVersionsResponse;
}

impl Request for ListOffsetsRequest {
    const KEY: i16 = ApiKey::ListOffsets as i16;
    type Response = ListOffsetsResponse;
}

impl Request for FindCoordinatorRequest {
    const KEY: i16 = ApiKey::FindCoordinator as i16;
    type Response = FindCoordinatorResponse;
}

impl Request for OffsetFetchRequest {
    const KEY: i16 = ApiKey::OffsetFetch as i16;
    type Response = OffsetFetchResponse;
}

impl Request for ConsumerGroupDescribeRequest {
    const KEY: i16 = ApiKey::ConsumerGroupDescribe as i16;
    type Response = ConsumerGroupDescribeResponse;
}

impl Request for SaslHandshakeRequest {
    const KEY: i16 = ApiKey::SaslHandshake as i16;
    type Response = SaslHandshakeResponse;
}

impl Request for SaslAuthenticateRequest {
    const KEY: i16 = ApiKey::SaslAuthenticate as i16;
    type Response = SaslAuthenticateResponse;
}

/// One kept connection to one broker, with the API versions it supports.
struct Connection {
    stream: Stream,
    versions: HashMap<i16, (i16, i16)>,
    next_correlation: i32,
}

/// Reads partition offsets over connections kept between polls (one per broker).
pub struct WireClient {
    transport: Transport,
    timeout: Duration,
    isolation_level: i8,
    connections: HashMap<String, Connection>,
    /// Each group's coordinator ("host:port"), kept until it says it no longer is.
    coordinators: HashMap<String, String>,
    /// Requests sent so far, by broker address and API name (as librdkafka's statistics name them).
    sent: BTreeMap<String, BTreeMap<String, i64>>,
}

impl WireClient {
    /// A client for `cluster`, or why this module leaves it to librdkafka (see `transport`).
    pub fn new(cluster: &ClusterConfig, timeout: Duration) -> crate::error::Result<WireClient> {
        Ok(WireClient {
            transport: Transport::for_cluster(cluster)?,
            timeout,
            isolation_level: isolation_level(cluster),
            connections: HashMap::new(),
            coordinators: HashMap::new(),
            sent: BTreeMap::new(),
        })
    }

    /// The versions of `api` the broker at `addr` speaks (connecting if need be).
    pub fn broker_versions(&mut self, addr: &str, api: ApiKey) -> crate::error::Result<(i16, i16)> {
        let connection = self.connect(addr)?;
        Ok(connection
            .versions
            .get(&(api as i16))
            .copied()
            .ok_or_else(|| format!("the broker does not support {}", api_name(api as i16)))?)
    }

    /// Requests sent so far, by broker address ("host:port") and API.
    pub fn request_counts(&self) -> &BTreeMap<String, BTreeMap<String, i64>> {
        &self.sent
    }

    /// Fills `low` and `high` of every partition of `topics`: two ListOffsets per leader,
    /// sent to every leader before any answer is read. A partition whose leader is unknown or
    /// could not be asked gets the reason instead of a figure.
    pub fn read_watermarks(&mut self, brokers: &[Broker], topics: &mut BTreeMap<String, TopicState>) {
        let address: HashMap<i32, String> = brokers
            .iter()
            .map(|b| (b.id, format!("{}:{}", b.host, b.port)))
            .collect();
        // Partitions by leader address, in one pass.
        let mut by_leader: HashMap<&str, BTreeMap<&str, Vec<i32>>> = HashMap::new();
        let mut no_leader = Vec::new();
        for t in topics.values() {
            for p in &t.partitions {
                match address.get(&p.leader) {
                    Some(a) => by_leader.entry(a).or_default().entry(&t.name).or_default().push(p.id),
                    None => no_leader.push((t.name.clone(), p.id)),
                }
            }
        }
        let mut answers: HashMap<(String, i32), (Figure<i64>, Figure<i64>)> = HashMap::new();
        // Send everything first, then read: the leaders work in parallel.
        let mut pending = Vec::new();
        for (addr, partitions) in &by_leader {
            let kept = self.connections.contains_key(*addr);
            let sent = self.send_list_offsets(addr, partitions);
            pending.push((addr.to_string(), partitions, kept, sent));
        }
        for (addr, partitions, kept, sent) in pending {
            let mut read = sent.and_then(|(version, ids)| self.receive_both(&addr, version, ids));
            if read.is_err() && kept {
                // A connection kept from an earlier poll may have died with a broker that has
                // come back since: once more on a new one.
                self.connections.remove(&addr);
                read = self
                    .send_list_offsets(&addr, partitions)
                    .and_then(|(version, ids)| self.receive_both(&addr, version, ids));
            }
            match read {
                Err(e) => {
                    self.connections.remove(&addr);
                    for (topic, ids) in partitions.iter() {
                        for id in ids {
                            let why = Err(format!("unavailable: {addr}: {e}"));
                            answers.insert((topic.to_string(), *id), (why.clone(), why));
                        }
                    }
                }
                Ok(responses) => {
                    for (which, response) in responses.into_iter().enumerate() {
                        for topic in response.topics {
                            for p in topic.partitions {
                                let figure = match p.error_code.err() {
                                    Some(e) => Err(format!("unavailable: {e}")),
                                    None if p.offset < 0 => Err(format!("unavailable: broker answered {}", p.offset)),
                                    None => Ok(p.offset),
                                };
                                let entry = answers
                                    .entry((topic.name.0.to_string(), p.partition_index))
                                    .or_insert_with(|| (Err("no answer".into()), Err("no answer".into())));
                                if which == 0 {
                                    entry.0 = figure;
                                } else {
                                    entry.1 = figure;
                                }
                            }
                        }
                    }
                }
            }
        }
        for t in topics.values_mut() {
            for p in &mut t.partitions {
                match answers.remove(&(t.name.clone(), p.id)) {
                    Some((low, high)) => (p.low, p.high) = (low, high),
                    None => {
                        let why = if no_leader.iter().any(|(n, id)| *n == t.name && *id == p.id) {
                            format!("unavailable: leader {} not among the brokers", p.leader)
                        } else {
                            "unavailable: no answer for this partition".to_string()
                        };
                        (p.low, p.high) = (Err(why.clone()), Err(why));
                    }
                }
            }
        }
    }

    /// Committed offsets of every group in `groups`. Coordinators are kept between polls and
    /// looked up (batched, FindCoordinator v4+) only for groups without one; each coordinator
    /// then gets one OffsetFetch for all its groups (v8+), else one per group, all sent before
    /// any answer is read. A group whose coordinator moved is asked once more at the new one.
    pub fn group_offsets(&mut self, brokers: &[Broker], groups: &[String]) -> Vec<(String, Figure<Commits>)> {
        let mut answers: HashMap<String, Figure<Commits>> = HashMap::new();
        let mut ask: Vec<String> = groups.to_vec();
        for attempt in 0..2 {
            let moved = self.fetch_offsets(brokers, &ask, attempt == 0, &mut answers);
            if moved.is_empty() || attempt == 1 {
                for g in moved {
                    answers.insert(
                        g,
                        Err("unavailable: the group's coordinator moved twice during the poll".into()),
                    );
                }
                break;
            }
            ask = moved;
        }
        groups
            .iter()
            .map(|g| {
                let answer = answers
                    .remove(g)
                    .unwrap_or_else(|| Err("unavailable: no answer".into()));
                (g.clone(), answer)
            })
            .collect()
    }

    /// One round: find missing coordinators, fetch offsets; returns the groups whose
    /// coordinator moved (forgotten, to be asked again). `first`: the poll's first round, where
    /// a kept connection that failed is worth a retry.
    fn fetch_offsets(
        &mut self,
        brokers: &[Broker],
        groups: &[String],
        first: bool,
        answers: &mut HashMap<String, Figure<Commits>>,
    ) -> Vec<String> {
        let by_coordinator = self.by_coordinator(brokers, groups, answers);
        let mut pending = Vec::new();
        for (addr, members) in &by_coordinator {
            let kept = first && self.connections.contains_key(addr.as_str());
            pending.push((addr, members, kept, self.send_offset_fetch(addr, members)));
        }
        let mut moved = Vec::new();
        for (addr, members, kept, sent) in pending {
            let read = sent.and_then(|(version, ids)| {
                ids.into_iter()
                    .map(|id| self.receive::<OffsetFetchRequest>(addr, id, version))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|r| (version, r))
            });
            let per_group: Vec<(String, i16, Figure<Commits>)> = match read {
                Err(_) if kept => {
                    // A connection kept from an earlier poll may have died with a broker that
                    // has come back since: these groups are looked up and asked again.
                    self.connections.remove(addr);
                    members
                        .iter()
                        .map(|g| (g.clone(), COORDINATOR_MOVED[2], Ok(Commits::default())))
                        .collect()
                }
                Err(e) => {
                    self.connections.remove(addr);
                    members
                        .iter()
                        .map(|g| (g.clone(), 0, Err(format!("unavailable: {addr}: {e}"))))
                        .collect()
                }
                Ok((version, responses)) if version >= OFFSET_FETCH_BATCHED => responses
                    .into_iter()
                    .flat_map(|r| r.groups)
                    .map(|g| {
                        let offsets = g.topics.into_iter().flat_map(|t| {
                            let name = t.name.0.to_string();
                            t.partitions
                                .into_iter()
                                .map(move |p| (name.clone(), p.partition_index, p.committed_offset, p.error_code))
                        });
                        (g.group_id.0.to_string(), g.error_code, Ok(committed(offsets)))
                    })
                    .collect(),
                Ok((_, responses)) => members
                    .iter()
                    .zip(responses)
                    .map(|(g, r)| {
                        let offsets = r.topics.into_iter().flat_map(|t| {
                            let name = t.name.0.to_string();
                            t.partitions
                                .into_iter()
                                .map(move |p| (name.clone(), p.partition_index, p.committed_offset, p.error_code))
                        });
                        (g.clone(), r.error_code, Ok(committed(offsets)))
                    })
                    .collect(),
            };
            for (group, code, offsets) in per_group {
                match code.err() {
                    None => {
                        answers.insert(group, offsets);
                    }
                    Some(_) if COORDINATOR_MOVED.contains(&code) => {
                        self.coordinators.remove(&group);
                        moved.push(group);
                    }
                    Some(e) => {
                        answers.insert(group, Err(format!("unavailable: {e}")));
                    }
                }
            }
            // A connection that failed: its groups' coordinators are found again next time.
            if !self.connections.contains_key(addr.as_str()) {
                for g in members {
                    self.coordinators.remove(g);
                }
            }
        }
        moved
    }

    /// `groups` by coordinator address, looking up the coordinators not known yet; a group
    /// whose coordinator cannot be found gets its answer (the reason) in `answers`.
    fn by_coordinator<T, E: From<String>>(
        &mut self,
        brokers: &[Broker],
        groups: &[String],
        answers: &mut HashMap<String, Result<T, E>>,
    ) -> BTreeMap<String, Vec<String>> {
        let unknown: Vec<String> = groups
            .iter()
            .filter(|g| !self.coordinators.contains_key(*g))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            for (group, e) in self.find_coordinators(brokers, &unknown) {
                answers.insert(group, Err(e.into()));
            }
        }
        let mut by_coordinator: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for g in groups.iter().filter(|g| !answers.contains_key(*g)) {
            if let Some(addr) = self.coordinators.get(g) {
                by_coordinator.entry(addr.clone()).or_default().push(g.clone());
            }
        }
        by_coordinator
    }

    /// Describes consumer-protocol (KIP-848) groups through their coordinators: one
    /// ConsumerGroupDescribe per coordinator. The classic DescribeGroups does not describe
    /// them (Kafka 4.x answers it as if the group were Dead). A group the coordinator does not
    /// know as a consumer-protocol group gets an error, as does a broker without the API.
    pub fn describe_consumer_groups(
        &mut self,
        brokers: &[Broker],
        groups: &[String],
    ) -> HashMap<String, crate::error::Result<(GroupStatus, Vec<Member>)>> {
        let mut answers = HashMap::new();
        let by_coordinator = self.by_coordinator(brokers, groups, &mut answers);
        for (addr, members) in by_coordinator {
            let asked = self
                .version::<ConsumerGroupDescribeRequest>(&addr, 1)
                .and_then(|version| {
                    let request = ConsumerGroupDescribeRequest::default().with_group_ids(
                        members
                            .iter()
                            .map(|g| GroupId(StrBytes::from_string(g.clone())))
                            .collect(),
                    );
                    let id = self.send(&addr, &request, version)?;
                    self.receive::<ConsumerGroupDescribeRequest>(&addr, id, version)
                });
            match asked {
                Err(e) => {
                    for g in members {
                        answers.insert(g, Err(format!("{addr}: {e}").into()));
                    }
                }
                Ok(response) => {
                    for g in response.groups {
                        let answer = match g.error_code.err() {
                            Some(e) => Err(e.to_string().into()),
                            None => Ok((
                                GroupStatus::parse(&g.group_state),
                                g.members.into_iter().map(consumer_protocol_member).collect(),
                            )),
                        };
                        answers.insert(g.group_id.0.to_string(), answer);
                    }
                }
            }
        }
        answers
    }

    /// Sends OffsetFetch for `groups` to their coordinator `addr`: one request (v8+) or one per
    /// group. Returns the version and the correlation ids in the order of `groups`.
    fn send_offset_fetch(&mut self, addr: &str, groups: &[String]) -> crate::error::Result<(i16, Vec<i32>)> {
        let version = self.version::<OffsetFetchRequest>(addr, OFFSET_FETCH_MAX)?;
        let group_id = |g: &String| GroupId(StrBytes::from_string(g.clone()));
        if version >= OFFSET_FETCH_BATCHED {
            let request = OffsetFetchRequest::default().with_groups(
                groups
                    .iter()
                    .map(|g| {
                        OffsetFetchRequestGroup::default()
                            .with_group_id(group_id(g))
                            .with_topics(None)
                    })
                    .collect(),
            );
            return Ok((version, vec![self.send(addr, &request, version)?]));
        }
        if version < 2 {
            return Err(format!("the broker's OffsetFetch (v{version}) cannot list all of a group's offsets").into());
        }
        let mut ids = Vec::with_capacity(groups.len());
        for g in groups {
            let request = OffsetFetchRequest::default()
                .with_group_id(group_id(g))
                .with_topics(None);
            ids.push(self.send(addr, &request, version)?);
        }
        Ok((version, ids))
    }

    /// Looks up the coordinators of `groups` at the first broker that answers; keeps them.
    /// Returns the groups it could not find one for, with the reason.
    fn find_coordinators(&mut self, brokers: &[Broker], groups: &[String]) -> Vec<(String, String)> {
        let mut last_error = "no broker in the metadata".to_string();
        for b in brokers {
            let addr = format!("{}:{}", b.host, b.port);
            let kept = self.connections.contains_key(&addr);
            let mut found = self.find_coordinators_at(&addr, groups);
            if found.is_err() && kept {
                // Once more on a new connection (the kept one may have died with the broker).
                self.connections.remove(&addr);
                found = self.find_coordinators_at(&addr, groups);
            }
            match found {
                Ok(failed) => return failed,
                Err(e) => {
                    self.connections.remove(&addr);
                    last_error = format!("{addr}: {e}");
                }
            }
        }
        groups
            .iter()
            .map(|g| (g.clone(), format!("unavailable: no coordinator: {last_error}")))
            .collect()
    }

    fn find_coordinators_at(&mut self, addr: &str, groups: &[String]) -> crate::error::Result<Vec<(String, String)>> {
        let version = self.version::<FindCoordinatorRequest>(addr, FIND_COORDINATOR_MAX)?;
        let key = |g: &String| StrBytes::from_string(g.clone());
        // (group, host, port, error code)
        let mut found: Vec<(String, String, i32, i16)> = Vec::with_capacity(groups.len());
        if version >= FIND_COORDINATOR_BATCHED {
            let request = FindCoordinatorRequest::default()
                .with_key_type(0)
                .with_coordinator_keys(groups.iter().map(key).collect());
            let id = self.send(addr, &request, version)?;
            let answer = self.receive::<FindCoordinatorRequest>(addr, id, version)?;
            for c in answer.coordinators {
                found.push((c.key.to_string(), c.host.to_string(), c.port, c.error_code));
            }
        } else {
            let mut ids = Vec::with_capacity(groups.len());
            for g in groups {
                let request = FindCoordinatorRequest::default().with_key(key(g)).with_key_type(0);
                ids.push(self.send(addr, &request, version)?);
            }
            for (g, id) in groups.iter().zip(ids) {
                let a = self.receive::<FindCoordinatorRequest>(addr, id, version)?;
                found.push((g.clone(), a.host.to_string(), a.port, a.error_code));
            }
        }
        let mut failed = Vec::new();
        for (group, host, port, code) in found {
            match code.err() {
                None => {
                    self.coordinators.insert(group, format!("{host}:{port}"));
                }
                Some(e) => failed.push((group, format!("unavailable: no coordinator: {e}"))),
            }
        }
        Ok(failed)
    }

    /// Sends the earliest and latest ListOffsets for `partitions` to `addr`; returns the
    /// version used and the two correlation ids.
    fn send_list_offsets(
        &mut self,
        addr: &str,
        partitions: &BTreeMap<&str, Vec<i32>>,
    ) -> crate::error::Result<(i16, [i32; 2])> {
        let version = self.version::<ListOffsetsRequest>(addr, LIST_OFFSETS_MAX)?;
        let mut ids = [0; 2];
        for (i, timestamp) in [EARLIEST, LATEST].into_iter().enumerate() {
            let topics = partitions
                .iter()
                .map(|(name, ids)| {
                    ListOffsetsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(name.to_string())))
                        .with_partitions(
                            ids.iter()
                                .map(|id| {
                                    ListOffsetsPartition::default()
                                        .with_partition_index(*id)
                                        .with_current_leader_epoch(-1)
                                        .with_timestamp(timestamp)
                                })
                                .collect(),
                        )
                })
                .collect();
            let request = ListOffsetsRequest::default()
                .with_replica_id((-1).into())
                .with_isolation_level(self.isolation_level)
                .with_topics(topics)
                .with_timeout_ms(self.timeout.as_millis().min(i32::MAX as u128) as i32);
            ids[i] = self.send(addr, &request, version)?;
        }
        Ok((version, ids))
    }

    fn receive_both(
        &mut self,
        addr: &str,
        version: i16,
        ids: [i32; 2],
    ) -> crate::error::Result<Vec<ListOffsetsResponse>> {
        ids.into_iter()
            .map(|id| self.receive::<ListOffsetsRequest>(addr, id, version))
            .collect()
    }

    /// The highest version of `R` both sides speak, at most `newest`.
    fn version<R: Request>(&mut self, addr: &str, newest: i16) -> crate::error::Result<i16> {
        let connection = self.connect(addr)?;
        let name = api_name(R::KEY);
        let (broker_min, broker_max) = *connection
            .versions
            .get(&R::KEY)
            .ok_or_else(|| format!("the broker does not support {name}"))?;
        let high = broker_max.min(R::VERSIONS.max).min(newest);
        let low = broker_min.max(R::VERSIONS.min);
        if high < low {
            return Err(format!(
                "no {name} version in common (broker {broker_min}..{broker_max}, cutover {}..{newest})",
                R::VERSIONS.min
            )
            .into());
        }
        Ok(high)
    }

    fn connect(&mut self, addr: &str) -> crate::error::Result<&mut Connection> {
        if !self.connections.contains_key(addr) {
            let connection = open(&self.transport, addr, self.timeout, &mut self.sent)?;
            self.connections.insert(addr.to_string(), connection);
        }
        Ok(self.connections.get_mut(addr).expect("just inserted"))
    }

    fn send<R: Request>(&mut self, addr: &str, request: &R, version: i16) -> crate::error::Result<i32> {
        let connection = self.connect(addr)?;
        let id = connection.next_correlation;
        connection.next_correlation = connection.next_correlation.wrapping_add(1);
        write_request(&mut connection.stream, request, version, id)?;
        *self
            .sent
            .entry(addr.to_string())
            .or_default()
            .entry(api_name(R::KEY))
            .or_default() += 1;
        Ok(id)
    }

    fn receive<R: Request>(&mut self, addr: &str, id: i32, version: i16) -> crate::error::Result<R::Response> {
        let connection = self.connections.get_mut(addr).ok_or("connection closed")?;
        read_response::<R>(&mut connection.stream, id, version)
    }
}

/// A member of a consumer-protocol group, with the partitions it owns now.
fn consumer_protocol_member(m: kafka_protocol::messages::consumer_group_describe_response::Member) -> Member {
    let mut assignment: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for tp in m.assignment.topic_partitions {
        let mut partitions = tp.partitions;
        partitions.sort_unstable();
        assignment
            .entry(tp.topic_name.0.to_string())
            .or_default()
            .extend(partitions);
    }
    Member {
        id: m.member_id.to_string(),
        client_id: m.client_id.to_string(),
        host: m.client_host.to_string(),
        assignment: Ok(assignment),
    }
}

/// A group's committed offsets from (topic, partition, offset, error) answers: a partition
/// with an error or no commit (a negative offset) is left out, as librdkafka's reading does.
fn committed(partitions: impl Iterator<Item = (String, i32, i64, i16)>) -> Commits {
    partitions
        .filter(|(_, _, offset, code)| *code == 0 && *offset >= 0)
        .map(|(topic, partition, offset, _)| ((topic, partition), offset))
        .collect()
}

/// Connects and asks the broker which API versions it speaks (ApiVersions v0, which every
/// broker answers, whatever its age).
fn open(
    transport: &Transport,
    addr: &str,
    timeout: Duration,
    sent: &mut BTreeMap<String, BTreeMap<String, i64>>,
) -> crate::error::Result<Connection> {
    let mut stream = transport.connect(addr, timeout)?;
    write_request(&mut stream, &ApiVersionsRequest::default(), 0, 0)?;
    *sent
        .entry(addr.to_string())
        .or_default()
        .entry(api_name(ApiVersionsRequest::KEY))
        .or_default() += 1;
    let answer = read_response::<ApiVersionsRequest>(&mut stream, 0, 0)?;
    if let Some(e) = answer.error_code.err() {
        return Err(format!("ApiVersions: {e}").into());
    }
    let versions = answer
        .api_keys
        .iter()
        .map(|k| (k.api_key, (k.min_version, k.max_version)))
        .collect();
    let mut connection = Connection {
        stream,
        versions,
        next_correlation: 1,
    };
    if let Some(login) = &transport.sasl {
        authenticate(&mut connection, login, addr, sent)?;
    }
    Ok(connection)
}

/// SASL on a new connection, after ApiVersions as librdkafka does it: SaslHandshake v1 names
/// the mechanism, then SaslAuthenticate carries the client's messages: PLAIN's one, or SCRAM's
/// two, whose server's last answer must prove it knows the password too.
fn authenticate(
    c: &mut Connection,
    login: &Login,
    addr: &str,
    sent: &mut BTreeMap<String, BTreeMap<String, i64>>,
) -> crate::error::Result<()> {
    let mut count = |key: i16| {
        *sent
            .entry(addr.to_string())
            .or_default()
            .entry(api_name(key))
            .or_default() += 1
    };
    let mechanism = login.mechanism.name();
    let id = c.next_correlation;
    c.next_correlation += 1;
    let handshake = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    write_request(&mut c.stream, &handshake, 1, id)?;
    count(SaslHandshakeRequest::KEY);
    let answer = read_response::<SaslHandshakeRequest>(&mut c.stream, id, 1)?;
    if let Some(e) = answer.error_code.err() {
        let offered: Vec<&str> = answer.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(format!(
            "SASL handshake for {mechanism}: {e} (the broker offers {})",
            offered.join(", ")
        )
        .into());
    }
    let version = match c.versions.get(&SaslAuthenticateRequest::KEY) {
        Some((_, max)) => (*max).min(2),
        None => return Err("the broker does not speak SaslAuthenticate".into()),
    };
    let mut step = |message: String| -> crate::error::Result<String> {
        let id = c.next_correlation;
        c.next_correlation += 1;
        let request = SaslAuthenticateRequest::default().with_auth_bytes(bytes::Bytes::from(message));
        write_request(&mut c.stream, &request, version, id)?;
        count(SaslAuthenticateRequest::KEY);
        let answer = read_response::<SaslAuthenticateRequest>(&mut c.stream, id, version)?;
        if let Some(e) = answer.error_code.err() {
            let message = answer.error_message.as_ref().map_or("", |m| m.as_str());
            return Err(format!("SASL {mechanism} authentication failed: {e} {message}")
                .trim_end()
                .to_string()
                .into());
        }
        Ok(String::from_utf8(answer.auth_bytes.to_vec())
            .map_err(|_| "SASL: the broker's answer is not UTF-8".to_string())?)
    };
    let failed = |e: crate::error::Error| e.context(format!("SASL {mechanism} authentication failed"));
    let scram = match login.mechanism {
        SaslMechanism::Scram(m) => m,
        // RFC 4616: no authorization identity, the user name, the password; one message,
        // and the broker's error code says whether it took them.
        SaslMechanism::Plain => {
            step(format!("\0{}\0{}", login.username, login.password))?;
            return Ok(());
        }
    };
    let mut exchange = Exchange::new(scram, &login.username, &login.password, &Exchange::random_nonce()?);
    let server_first = step(exchange.first())?;
    let server_final = step(exchange.answer(&server_first).map_err(failed)?)?;
    exchange.verify(&server_final).map_err(failed)
}

fn write_request<R: Request>(stream: &mut Stream, request: &R, version: i16, id: i32) -> crate::error::Result<()> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(id)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
    let mut body = BytesMut::new();
    header
        .encode(&mut body, R::header_version(version))
        .and_then(|()| request.encode(&mut body, version))
        .map_err(|e| format!("cannot encode {}: {e}", api_name(R::KEY)))?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&(body.len() as i32).to_be_bytes());
    frame.extend_from_slice(&body);
    stream.write_all(&frame).map_err(|e| format!("send: {e}").into())
}

fn read_response<R: Request>(stream: &mut Stream, id: i32, version: i16) -> crate::error::Result<R::Response> {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).map_err(|e| format!("receive: {e}"))?;
    let size = i32::from_be_bytes(size);
    if size < 4 {
        return Err(format!("a response of {size} bytes").into());
    }
    let mut body = vec![0u8; size as usize];
    stream.read_exact(&mut body).map_err(|e| format!("receive: {e}"))?;
    let mut buf = bytes::Bytes::from(body);
    let header = ResponseHeader::decode(&mut buf, R::Response::header_version(version))
        .map_err(|e| format!("undecodable response header: {e}"))?;
    if header.correlation_id != id {
        return Err(format!("answer {} where {id} was expected", header.correlation_id).into());
    }
    let response = R::Response::decode(&mut buf, version)
        .map_err(|e| format!("undecodable {} response: {e}", api_name(R::KEY)))?;
    if buf.has_remaining() {
        return Err(format!("{} bytes after the {} response", buf.remaining(), api_name(R::KEY)).into());
    }
    Ok(response)
}

/// The API's name as librdkafka's statistics spell it ("ListOffsets", "ApiVersion").
fn api_name(key: i16) -> String {
    match ApiKey::try_from(key) {
        Ok(ApiKey::ApiVersions) => "ApiVersion".into(),
        Ok(k) => format!("{k:?}"),
        Err(()) => format!("api {key}"),
    }
}
