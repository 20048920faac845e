//! Start and end offsets of every partition, read over the Kafka protocol itself (`kafka::wire`,
//! what a poll uses on a plain-TCP cluster) against a real tansu broker: the same figures as
//! the known record counts and as librdkafka's reading (the way polls read them before), also
//! while a producer writes; and two ListOffsets requests per broker per poll, whatever the
//! partition count.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use cutover::config::{ClusterConfig, NameFilter, Replication};
use cutover::demo::broker::{Storage, TansuBroker};
use cutover::demo::clients::TopicSpec;
use cutover::kafka::wire::WireClient;
use cutover::kafka::{consumer_config, read_watermarks, ClusterClient};
use cutover::model::{ClusterState, Commits, Figure, TopicState};
use cutover::monitor::watches;
use rdkafka::consumer::{BaseConsumer, Consumer};

const TIMEOUT: Duration = Duration::from_secs(10);

fn poll(client: &ClusterClient) -> ClusterState {
    let repl = Replication {
        source_alias: "src".into(),
        ..Default::default()
    };
    let (watch, _) = watches(&repl, &NameFilter::topics_default(), &NameFilter::groups_default());
    runtime().block_on(client.poll(&watch)).expect("poll")
}

/// (low, high) of every partition.
fn figures(topics: &BTreeMap<String, TopicState>) -> BTreeMap<(String, i32), (i64, i64)> {
    topics
        .values()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                let low = p.low.clone().unwrap_or_else(|e| panic!("{}/{} low: {e}", t.name, p.id));
                let high = p
                    .high
                    .clone()
                    .unwrap_or_else(|e| panic!("{}/{} high: {e}", t.name, p.id));
                ((t.name.clone(), p.id), (low, high))
            })
        })
        .collect()
}

/// The same partitions read the way polls read them before: librdkafka's offsets_for_times.
/// Committed offsets of these groups read by librdkafka (ListConsumerGroupOffsets, one group
/// per request), in the poll's form.
fn librdkafkas_group_offsets(consumer: &BaseConsumer, groups: &[String]) -> Vec<(String, Figure<Commits>)> {
    cutover::kafka::ffi::list_group_offsets(consumer.client(), groups, TIMEOUT)
        .into_iter()
        .map(|(g, offsets)| (g, offsets.map(Commits::from_iter).map_err(String::from)))
        .collect()
}

fn through_librdkafka(
    consumer: &BaseConsumer,
    topics: &BTreeMap<String, TopicState>,
) -> BTreeMap<(String, i32), (i64, i64)> {
    let mut copy = topics.clone();
    for t in copy.values_mut() {
        for p in &mut t.partitions {
            p.low = Err("not read".into());
            p.high = Err("not read".into());
        }
    }
    read_watermarks(consumer, &mut copy, TIMEOUT);
    figures(&copy)
}

#[test]
fn offsets_read_over_the_wire_are_the_known_ones_and_librdkafkas() {
    let (src, _tgt, _dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 3), TopicSpec::new("payments", 5)]);
    let mut known = BTreeMap::new();
    for (topic, partitions) in [("orders", 3), ("payments", 5)] {
        for p in 0..partitions {
            let n = 3 + 7 * p as i64 + topic.len() as i64;
            produce(&src, topic, p, n as usize, false);
            known.insert((topic.to_string(), p), (0, n));
        }
    }
    // Retention moved one log start (the harness edits tansu's storage: see common).
    delete_records_before(&src.dir, "src", "payments", 2, 9);
    known.get_mut(&("payments".to_string(), 2)).unwrap().0 = 9;

    let client = ClusterClient::connect(&cluster(&src, "src"), TIMEOUT, None).unwrap();
    let state = poll(&client);
    let read = figures(&state.topics);
    assert_eq!(read, known);
    let consumer: BaseConsumer = consumer_config(&cluster(&src, "src")).create().unwrap();
    assert_eq!(through_librdkafka(&consumer, &state.topics), known);
}

#[test]
fn offsets_read_over_the_wire_lie_between_two_librdkafka_readings_while_a_producer_writes() {
    let (src, _tgt, _dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("clickstream", 6)]);
    let writing = Arc::new(AtomicBool::new(true));
    let producer = {
        let (writing, src_cluster) = (writing.clone(), cluster(&src, "producer"));
        std::thread::spawn(move || {
            let w = cutover::demo::clients::RecordWriter::new(&src_cluster, false).unwrap();
            let mut i = 0u64;
            while writing.load(Ordering::Relaxed) {
                let r = cutover::kafka::records::Record {
                    key: Some(i.to_string().into_bytes()),
                    value: Some(vec![b'x'; 100]),
                    headers: vec![],
                    timestamp: None,
                };
                w.send("clickstream", (i % 6) as i32, &r).unwrap();
                i += 1;
                if i.is_multiple_of(50) {
                    w.flush(TIMEOUT).unwrap();
                }
            }
            w.flush(TIMEOUT).unwrap();
            i
        })
    };
    let client = ClusterClient::connect(&cluster(&src, "src"), TIMEOUT, None).unwrap();
    let consumer: BaseConsumer = consumer_config(&cluster(&src, "src")).create().unwrap();
    let first = poll(&client);
    let mut moved = 0;
    for _ in 0..20 {
        let before = through_librdkafka(&consumer, &first.topics);
        let now = figures(&poll(&client).topics);
        let after = through_librdkafka(&consumer, &first.topics);
        for (key, (low, high)) in &now {
            let (b, a) = (before[key], after[key]);
            assert_eq!(*low, b.0, "{key:?} low");
            assert!(
                b.1 <= *high && *high <= a.1,
                "{key:?}: librdkafka {} then wire {high} then librdkafka {}",
                b.1,
                a.1
            );
            moved += (a.1 > b.1) as usize;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    writing.store(false, Ordering::Relaxed);
    let sent = producer.join().unwrap();
    assert!(
        moved > 0 && sent > 100,
        "the producer wrote while the offsets were read ({sent} records, {moved} moves)"
    );
}

#[test]
fn a_poll_sends_two_list_offsets_per_broker_whatever_the_partition_count() {
    let (src, _tgt, _dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("small", 4)]);
    let client = ClusterClient::connect(&cluster(&src, "src"), TIMEOUT, None).unwrap();
    let mut wire = WireClient::new(&cluster(&src, "src"), TIMEOUT).expect("plain TCP");
    let list_offsets = |wire: &WireClient| -> i64 {
        wire.request_counts()
            .values()
            .filter_map(|apis| apis.get("ListOffsets"))
            .sum()
    };
    let mut requests_per_poll = Vec::new();
    for total in [4, 4 + 40 * 25] {
        if total > 4 {
            let specs: Vec<TopicSpec> = (0..40).map(|i| TopicSpec::new(&format!("t{i:02}"), 25)).collect();
            create(&src, &specs);
        }
        let mut state = poll(&client);
        let partitions: usize = state.topics.values().map(|t| t.partitions.len()).sum();
        assert_eq!(partitions, total);
        let before = list_offsets(&wire);
        wire.read_watermarks(&state.brokers, &mut state.topics);
        assert_eq!(figures(&state.topics).len(), total, "every partition has both figures");
        requests_per_poll.push(list_offsets(&wire) - before);
    }
    assert_eq!(
        requests_per_poll,
        vec![2, 2],
        "ListOffsets per poll at 4 and 1,004 partitions"
    );
    // Connections are kept: one ApiVersions in all.
    let api_versions: i64 = wire.request_counts().values().filter_map(|a| a.get("ApiVersion")).sum();
    assert_eq!(api_versions, 1);
}

#[test]
fn a_broker_that_went_away_is_the_reason_on_each_partition_and_the_first_read_after_it_is_back_works() {
    let (mut src, _tgt, _dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 2)]);
    produce(&src, "orders", 1, 5, false);
    let client = ClusterClient::connect(&cluster(&src, "src"), TIMEOUT, None).unwrap();
    let mut state = poll(&client);
    let mut wire = WireClient::new(&cluster(&src, "src"), Duration::from_secs(2)).expect("plain TCP");
    wire.read_watermarks(&state.brokers, &mut state.topics);
    src.kill();
    wire.read_watermarks(&state.brokers, &mut state.topics);
    for p in &state.topics["orders"].partitions {
        let e = p.high.clone().expect_err("no figure from a stopped broker");
        assert!(e.starts_with("unavailable: "), "{e}");
    }
    src.restart().expect("restart");
    wait_for(Duration::from_secs(20), "librdkafka to reach the broker again", || {
        runtime()
            .block_on(
                client.poll(
                    &watches(
                        &Replication::default(),
                        &NameFilter::topics_default(),
                        &NameFilter::groups_default(),
                    )
                    .0,
                ),
            )
            .ok()
    });
    wire.read_watermarks(&state.brokers, &mut state.topics);
    assert_eq!(state.topics["orders"].partitions[1].high, Ok(5));
    // Away and back between two reads: the connection kept from the last read died with the
    // broker; the read notices and asks again on a new one, rather than showing the figures
    // unavailable for a poll.
    src.kill();
    src.restart().expect("restart");
    wait_for(Duration::from_secs(20), "librdkafka to reach the broker again", || {
        runtime()
            .block_on(
                client.poll(
                    &watches(
                        &Replication::default(),
                        &NameFilter::topics_default(),
                        &NameFilter::groups_default(),
                    )
                    .0,
                ),
            )
            .ok()
    });
    wire.read_watermarks(&state.brokers, &mut state.topics);
    assert_eq!(state.topics["orders"].partitions[1].high, Ok(5));
    assert_eq!(state.topics["orders"].partitions[0].high, Ok(0));
}

#[test]
fn group_offsets_read_over_the_wire_are_librdkafkas_and_a_steady_poll_finds_no_coordinator() {
    // tansu keeps groups on its memory engine (test-brokers.md).
    let (src, _tgt, _dir) = two_brokers(Storage::Memory);
    create(&src, &[TopicSpec::new("orders", 3), TopicSpec::new("payments", 2)]);
    let cluster = cluster(&src, "src");
    let groups: Vec<String> = (0..12).map(|i| format!("group-{i:02}")).collect();
    for (i, g) in groups.iter().enumerate() {
        let mut offsets = vec![("orders".to_string(), (i % 3) as i32, 10 + i as i64)];
        if i % 2 == 0 {
            offsets.push(("payments".to_string(), 1, 100 + i as i64));
        }
        common::groups::commit_offsets(&cluster, g, &offsets).unwrap();
    }
    let mut asked = groups.clone();
    asked.push("never-committed".into());

    let client = ClusterClient::connect(&cluster, TIMEOUT, None).unwrap();
    let state = poll(&client);
    let consumer: BaseConsumer = consumer_config(&cluster).create().unwrap();
    let old = librdkafkas_group_offsets(&consumer, &asked);
    let mut wire = WireClient::new(&cluster, TIMEOUT).expect("plain TCP");
    let new = wire.group_offsets(&state.brokers, &asked);
    assert_eq!(new, old);
    for (i, (g, offsets)) in new.iter().take(12).enumerate() {
        let offsets = offsets.as_ref().unwrap();
        assert_eq!(offsets.get("orders", (i % 3) as i32), Some(10 + i as i64), "{g}");
        assert_eq!(offsets.len(), 1 + (i % 2 == 0) as usize, "{g}");
    }
    assert_eq!(
        new[12].1,
        Ok(Commits::default()),
        "a group that never committed has no offsets"
    );

    // A steady poll: no FindCoordinator; OffsetFetch once per coordinator where the broker
    // reads many groups in one request (v8+), else once per group.
    let addr = format!("{}:{}", state.brokers[0].host, state.brokers[0].port);
    let (_, fetch_max) = wire
        .broker_versions(&addr, kafka_protocol::messages::ApiKey::OffsetFetch)
        .unwrap();
    let (_, find_max) = wire
        .broker_versions(&addr, kafka_protocol::messages::ApiKey::FindCoordinator)
        .unwrap();
    eprintln!("tansu speaks OffsetFetch up to v{fetch_max}, FindCoordinator up to v{find_max}");
    let count =
        |wire: &WireClient, api: &str| -> i64 { wire.request_counts().values().filter_map(|a| a.get(api)).sum() };
    let (find_before, fetch_before) = (count(&wire, "FindCoordinator"), count(&wire, "OffsetFetch"));
    let again = wire.group_offsets(&state.brokers, &asked);
    assert_eq!(again, new);
    assert_eq!(count(&wire, "FindCoordinator") - find_before, 0);
    let expected = if fetch_max >= 8 { 1 } else { asked.len() as i64 };
    assert_eq!(count(&wire, "OffsetFetch") - fetch_before, expected);
}

/// Group offsets after a restart of the coordinator between two reads: the connection kept from
/// the first read died with it; the second read finds the coordinator again and asks on a new
/// connection within the same read, instead of showing every group unavailable for a poll.
/// (tansu's memory engine forgets the commits on restart: the answer is "no offsets", not an
/// error.)
#[test]
fn group_offsets_after_the_coordinator_restarted_are_read_again_not_unavailable() {
    let (mut src, _tgt, _dir) = two_brokers(Storage::Memory);
    create(&src, &[TopicSpec::new("orders", 2)]);
    let cluster = cluster(&src, "src");
    let groups = vec!["billing".to_string(), "ledger".to_string()];
    for g in &groups {
        common::groups::commit_offsets(&cluster, g, &[("orders".to_string(), 1, 7)]).unwrap();
    }
    let client = ClusterClient::connect(&cluster, TIMEOUT, None).unwrap();
    let state = poll(&client);
    let mut wire = WireClient::new(&cluster, Duration::from_secs(5)).expect("plain TCP");
    let before = wire.group_offsets(&state.brokers, &groups);
    assert!(
        before.iter().all(|(_, o)| o.as_ref().is_ok_and(|o| o.len() == 1)),
        "{before:?}"
    );
    src.kill();
    src.restart().expect("restart");
    wait_for(Duration::from_secs(20), "librdkafka to reach the broker again", || {
        runtime()
            .block_on(
                client.poll(
                    &watches(
                        &Replication::default(),
                        &NameFilter::topics_default(),
                        &NameFilter::groups_default(),
                    )
                    .0,
                ),
            )
            .ok()
    });
    let after = wire.group_offsets(&state.brokers, &groups);
    for (g, offsets) in &after {
        assert!(offsets.is_ok(), "{g}: {offsets:?}");
    }
}

/// Topics orders (3 partitions) and payments (2) on `cluster`, `count(topic, partition)` records
/// written to each partition; their (low, high) offsets.
fn orders_and_payments(
    cluster: &ClusterConfig,
    count: impl Fn(&str, i32) -> i64,
) -> BTreeMap<(String, i32), (i64, i64)> {
    runtime()
        .block_on(cutover::demo::clients::create_topics(
            cluster,
            &[TopicSpec::new("orders", 3), TopicSpec::new("payments", 2)],
            TIMEOUT,
        ))
        .expect("create topics");
    let writer = cutover::demo::clients::RecordWriter::new(cluster, true).expect("writer");
    let mut known = BTreeMap::new();
    for (topic, partitions) in [("orders", 3), ("payments", 2)] {
        for p in 0..partitions {
            let n = count(topic, p);
            for i in 0..n {
                let r = cutover::kafka::records::Record {
                    key: Some(format!("k{i}").into_bytes()),
                    value: Some(b"v".to_vec()),
                    headers: vec![],
                    timestamp: None,
                };
                writer.send(topic, p, &r).expect("send");
            }
            known.insert((topic.to_string(), p), (0, n));
        }
    }
    writer.flush(TIMEOUT).expect("flush");
    known
}

/// One tansu broker reachable only over TLS (the harness's terminator: tansu serves plain TCP
/// only), and the cluster config a user would write for it.
fn tls_broker(
    dir: &std::path::Path,
    pki: &common::tls::Pki,
    client_certificates: bool,
    properties: &[(&str, String)],
) -> (TansuBroker, common::tls::TlsTerminator, ClusterConfig) {
    if let Err(e) = cutover::demo::broker::tansu_binary() {
        panic!("these tests need real tansu brokers: {e}");
    }
    let mut terminator = common::tls::TlsTerminator::bind(pki, client_certificates);
    // tansu keeps groups on its memory engine (test-brokers.md).
    let broker = TansuBroker::start_advertising(&dir.join("broker"), "tls", Storage::Memory, Some(terminator.port))
        .expect("start broker");
    terminator.forward_to(broker.port);
    let mut cluster = ClusterConfig::plaintext("tls", &format!("127.0.0.1:{}", terminator.port));
    cluster.properties = [
        ("security.protocol", "SSL".to_string()),
        ("ssl.ca.location", pki.ca.display().to_string()),
    ]
    .into_iter()
    .chain(properties.iter().cloned())
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    (broker, terminator, cluster)
}

/// A cluster behind TLS with client certificates (mutual TLS), as production clusters are: the
/// poll reads partition and group offsets over `kafka::wire` on TLS (set up from the same
/// librdkafka properties: the CA, the client certificate and key), and they are the known
/// ones and librdkafka's; two ListOffsets per poll, no FindCoordinator on a steady poll.
#[test]
fn over_tls_with_client_certificates_offsets_are_the_known_ones_and_librdkafkas() {
    let dir = tempfile::tempdir().unwrap();
    let pki = common::tls::Pki::new(&dir.path().join("pki"), &["localhost"], &["127.0.0.1"]);
    let client_cert = [
        ("ssl.certificate.location", pki.client_certificate.display().to_string()),
        ("ssl.key.location", pki.client_key.display().to_string()),
    ];
    let (_broker, _terminator, cluster) = tls_broker(dir.path(), &pki, true, &client_cert);
    let known = orders_and_payments(&cluster, |topic, p| 2 + 3 * p as i64 + topic.len() as i64);
    let groups = vec!["billing".to_string(), "ledger".to_string()];
    common::groups::commit_offsets(&cluster, "billing", &[("orders".to_string(), 1, 4)]).unwrap();
    common::groups::commit_offsets(&cluster, "ledger", &[("payments".to_string(), 0, 3)]).unwrap();

    let client = ClusterClient::connect(&cluster, TIMEOUT, None).unwrap();
    let state = poll(&client);
    assert_eq!(figures(&state.topics), known);
    let consumer: BaseConsumer = consumer_config(&cluster).create().unwrap();
    assert_eq!(through_librdkafka(&consumer, &state.topics), known);
    let committed = |g: &str| {
        let groups = state.groups.as_ref().expect("groups read");
        let group = groups
            .iter()
            .find(|x| x.name == g)
            .unwrap_or_else(|| panic!("{g} listed"));
        group.offsets.clone().expect("offsets read")
    };
    assert_eq!(
        committed("billing"),
        Commits::from_iter([(("orders".to_string(), 1), 4)])
    );
    assert_eq!(
        committed("ledger"),
        Commits::from_iter([(("payments".to_string(), 0), 3)])
    );
    // The poll read them over `wire` on TLS: its requests are counted by the poll's client.
    let wire_requests = |api: &str| -> i64 { client.request_counts().values().filter_map(|a| a.get(api)).sum() };
    assert_eq!(wire_requests("ListOffsets"), 2, "{:?}", client.request_counts());
    let mut wire = WireClient::new(&cluster, TIMEOUT).expect("TLS is spoken by wire");
    let old = librdkafkas_group_offsets(&consumer, &groups);
    assert_eq!(wire.group_offsets(&state.brokers, &groups), old);
    let finds = |wire: &WireClient| -> i64 {
        wire.request_counts()
            .values()
            .filter_map(|a| a.get("FindCoordinator"))
            .sum()
    };
    let before = finds(&wire);
    assert_eq!(wire.group_offsets(&state.brokers, &groups), old);
    assert_eq!(finds(&wire), before, "a steady read finds no coordinator");
}

/// `wire` refuses over TLS what librdkafka refuses with the same properties, and accepts what
/// it accepts: a broker certificate that names another host fails the check of the broker's
/// name (librdkafka's default `ssl.endpoint.identification.algorithm = https`) and passes with
/// `none`; a terminator that asks for a client certificate refuses a client without one.
#[test]
fn over_tls_wire_refuses_and_accepts_what_librdkafka_does() {
    let dir = tempfile::tempdir().unwrap();
    // A certificate for another host only: connecting to 127.0.0.1 does not match it.
    let pki = common::tls::Pki::new(&dir.path().join("pki"), &["broker.elsewhere.example"], &[]);
    let (_broker, terminator, checked) = tls_broker(dir.path(), &pki, false, &[]);
    let addr = format!("127.0.0.1:{}", terminator.port);
    let short = Duration::from_secs(3);
    let api = kafka_protocol::messages::ApiKey::ListOffsets;

    let refused = WireClient::new(&checked, short)
        .unwrap()
        .broker_versions(&addr, api)
        .unwrap_err();
    assert!(refused.message.contains("certificate verify failed"), "{refused}");
    let librdkafka = ClusterClient::connect(&checked, short, None).unwrap();
    assert!(
        runtime().block_on(librdkafka.poll(&all())).is_err(),
        "librdkafka refuses the broker's name too"
    );

    let mut unchecked = checked.clone();
    unchecked
        .properties
        .push(("ssl.endpoint.identification.algorithm".into(), "none".into()));
    let (low, high) = WireClient::new(&unchecked, short)
        .unwrap()
        .broker_versions(&addr, api)
        .unwrap();
    assert!(low <= 2 && high >= 2, "ListOffsets v{low}..v{high}");
    let librdkafka = ClusterClient::connect(&unchecked, short, None).unwrap();
    assert!(runtime().block_on(librdkafka.poll(&all())).is_ok());
    drop(terminator);

    // Client certificates asked for, none given: refused.
    let pki = common::tls::Pki::new(&dir.path().join("pki2"), &["localhost"], &["127.0.0.1"]);
    let (_broker2, terminator, no_certificate) = tls_broker(&dir.path().join("2"), &pki, true, &[]);
    let addr = format!("127.0.0.1:{}", terminator.port);
    let refused = WireClient::new(&no_certificate, short)
        .unwrap()
        .broker_versions(&addr, api)
        .unwrap_err();
    eprintln!("without a client certificate: {refused}");
    // With TLS 1.3 the client's side of the handshake ends before the broker checks the client
    // certificate, so the refusal comes with the first request or answer.
    assert!(
        ["TLS handshake", "send:", "receive:"]
            .iter()
            .any(|w| refused.message.starts_with(w)),
        "{refused}"
    );
    let librdkafka = ClusterClient::connect(&no_certificate, short, None).unwrap();
    assert!(
        runtime().block_on(librdkafka.poll(&all())).is_err(),
        "librdkafka is refused without a client certificate too"
    );
}

fn all() -> cutover::kafka::Watch {
    watches(
        &Replication::default(),
        &NameFilter::topics_default(),
        &NameFilter::groups_default(),
    )
    .0
}

/// A SASL cluster (SASL_PLAINTEXT) with SCRAM-SHA-256 and SCRAM-SHA-512 logins: the poll reads
/// partition and group offsets over `kafka::wire`, logging in as librdkafka does (SaslHandshake,
/// then two SaslAuthenticate per connection), and they are the known ones and librdkafka's;
/// a wrong password is refused to `wire` as to librdkafka. tansu 0.6 offers SCRAM (not PLAIN).
#[test]
fn over_sasl_scram_offsets_are_the_known_ones_and_librdkafkas() {
    if let Err(e) = cutover::demo::broker::tansu_binary() {
        panic!("these tests need real tansu brokers: {e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut broker = TansuBroker::start(&dir.path().join("broker"), "sasl", Storage::Sqlite).expect("start broker");
    common::scram_user(&broker.bootstrap(), "SCRAM-SHA-256", "alice", "secret");
    common::scram_user(&broker.bootstrap(), "SCRAM-SHA-512", "bob", "hunter2");
    broker.authentication = true;
    broker.restart().expect("restart with --authentication");
    let login = |mechanism: &str, user: &str, password: &str| {
        let mut c = ClusterConfig::plaintext("sasl", &broker.bootstrap());
        c.properties = [
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", mechanism),
            ("sasl.username", user),
            ("sasl.password", password),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        c
    };
    let alice = login("SCRAM-SHA-256", "alice", "secret");
    let bob = login("SCRAM-SHA-512", "bob", "hunter2");
    let known = orders_and_payments(&alice, |topic, p| 3 + 2 * p as i64 + topic.len() as i64);
    let groups = vec!["billing".to_string(), "ledger".to_string()];
    common::groups::commit_offsets(&alice, "billing", &[("orders".to_string(), 1, 4)]).unwrap();
    common::groups::commit_offsets(&bob, "ledger", &[("payments".to_string(), 0, 3)]).unwrap();

    let client = ClusterClient::connect(&alice, TIMEOUT, None).unwrap();
    let state = poll(&client);
    assert_eq!(figures(&state.topics), known);
    let consumer: BaseConsumer = consumer_config(&alice).create().unwrap();
    assert_eq!(through_librdkafka(&consumer, &state.topics), known);
    // The poll read them over `wire`, logged in once on its one connection.
    let wire_requests = |api: &str| -> i64 { client.request_counts().values().filter_map(|a| a.get(api)).sum() };
    assert_eq!(wire_requests("ListOffsets"), 2, "{:?}", client.request_counts());
    assert_eq!(wire_requests("SaslHandshake"), 1, "{:?}", client.request_counts());
    assert_eq!(wire_requests("SaslAuthenticate"), 2, "{:?}", client.request_counts());

    // SCRAM-SHA-512: the committed offsets are librdkafka's, the ones committed.
    let mut wire = WireClient::new(&bob, TIMEOUT).expect("SASL SCRAM is spoken by wire");
    let bobs: BaseConsumer = consumer_config(&bob).create().unwrap();
    let old = librdkafkas_group_offsets(&bobs, &groups);
    let new = wire.group_offsets(&state.brokers, &groups);
    assert_eq!(new, old);
    assert_eq!(new[0].1, Ok(Commits::from_iter([(("orders".to_string(), 1), 4)])));
    assert_eq!(new[1].1, Ok(Commits::from_iter([(("payments".to_string(), 0), 3)])));

    // A wrong password: refused to both.
    let mallory = login("SCRAM-SHA-256", "alice", "guess");
    let mut wire = WireClient::new(&mallory, TIMEOUT).expect("SASL SCRAM is spoken by wire");
    for (g, offsets) in wire.group_offsets(&state.brokers, &groups) {
        let e = offsets.expect_err("a wrong password is refused");
        assert!(e.contains("SASL SCRAM-SHA-256 authentication failed"), "{g}: {e}");
    }
    let theirs: BaseConsumer = consumer_config(&mallory).create().unwrap();
    for (g, offsets) in librdkafkas_group_offsets(&theirs, &groups) {
        assert!(
            offsets.is_err(),
            "{g}: librdkafka logged in with a wrong password: {offsets:?}"
        );
    }
}
