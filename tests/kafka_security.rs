//! SASL PLAIN, SASL SCRAM-SHA-256/512 and TLS on real Apache Kafka listeners (Kafka 4.x, one
//! broker with a listener of each kind): the poll's offsets and group offsets over `wire`
//! equal librdkafka's reading of the same partitions, while a producer writes; a wrong
//! password is refused by both.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use common::groups::commit_offsets;
use common::kafka::*;
use common::runtime;
use common::tls::Pki;
use cutover::config::{ClusterConfig, NameFilter, Replication};
use cutover::demo::broker::free_port;
use cutover::demo::clients::TopicSpec;
use cutover::demo::kafka::{KafkaBroker, TARGET_VERSION};
use cutover::kafka::wire::WireClient;
use cutover::kafka::{consumer_config, read_watermarks, ClusterClient};
use cutover::model::{ClusterState, Commits, TopicState};
use cutover::monitor::watches;
use rdkafka::consumer::BaseConsumer;

const TIMEOUT: Duration = Duration::from_secs(10);

struct Secured {
    broker: KafkaBroker,
    sasl_port: u16,
    ssl_port: u16,
    sasl_ssl_port: u16,
    pki: Pki,
}

/// One broker: PLAINTEXT (setup), SASL_PLAINTEXT and SASL_SSL (PLAIN and SCRAM), SSL.
/// PLAIN users live in the listener's JAAS config; SCRAM users are written by
/// `kafka-storage format --add-scram`, as KRaft clusters are bootstrapped.
fn secured() -> &'static Secured {
    static BROKER: OnceLock<Secured> = OnceLock::new();
    BROKER.get_or_init(|| {
        require_kafka();
        let dir = run_dir().join("secured");
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki::new(&dir.join("pki"), &["localhost"], &["127.0.0.1"]);
        let keystore = pki.server_keystore(&dir.join("keystore.pem"));
        let ca = pki.ca.clone();
        let (sasl_port, ssl_port, sasl_ssl_port) = (free_port().unwrap(), free_port().unwrap(), free_port().unwrap());
        let broker = {
            let listeners = format!(
                "PLAINTEXT://127.0.0.1:{{port}},SASL_PLAINTEXT://127.0.0.1:{sasl_port},SSL://127.0.0.1:{ssl_port},SASL_SSL://127.0.0.1:{sasl_ssl_port}"
            );
            let controller = free_port().unwrap();
            let all_listeners = format!("{listeners},CONTROLLER://127.0.0.1:{controller}");
            let plain_jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                 username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\" user_alice=\"alice-secret\";";
            let scram_jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
            let (keystore, ca) = (keystore.display().to_string(), ca.display().to_string());
            let mut overrides: Vec<(String, String)> = vec![
                ("listeners".into(), all_listeners),
                ("advertised.listeners".into(), listeners),
                ("controller.quorum.voters".into(), format!("1@127.0.0.1:{controller}")),
                (
                    "listener.security.protocol.map".into(),
                    "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT".into(),
                ),
                ("sasl.enabled.mechanisms".into(), "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512".into()),
                ("ssl.keystore.type".into(), "PEM".into()),
                ("ssl.keystore.location".into(), keystore),
                ("ssl.truststore.type".into(), "PEM".into()),
                ("ssl.truststore.location".into(), ca),
            ];
            for listener in ["sasl_plaintext", "sasl_ssl"] {
                overrides.push((format!("listener.name.{listener}.plain.sasl.jaas.config"), plain_jaas.into()));
                for m in ["scram-sha-256", "scram-sha-512"] {
                    overrides.push((format!("listener.name.{listener}.{m}.sasl.jaas.config"), scram_jaas.into()));
                }
            }
            let borrowed: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            KafkaBroker::start_formatted(
                &dir,
                TARGET_VERSION,
                &borrowed,
                &[
                    "--add-scram",
                    "SCRAM-SHA-256=[name=alice,password=alice-secret]",
                    "--add-scram",
                    "SCRAM-SHA-512=[name=alice,password=alice-secret]",
                ],
            )
            .unwrap_or_else(|e| panic!("secured broker: {e}"))
        };
        Secured {
            broker,
            sasl_port,
            ssl_port,
            sasl_ssl_port,
            pki,
        }
    })
}

fn with(port: u16, name: &str, properties: &[(&str, String)]) -> ClusterConfig {
    let mut c = ClusterConfig::plaintext(name, &format!("127.0.0.1:{port}"));
    c.properties = properties.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    c
}

/// The ways in: (name, cluster config).
fn clusters(s: &Secured, password: &str) -> Vec<(String, ClusterConfig)> {
    let sasl = |protocol: &str, mechanism: &str| {
        vec![
            ("security.protocol", protocol.to_string()),
            ("sasl.mechanism", mechanism.to_string()),
            ("sasl.username", "alice".to_string()),
            ("sasl.password", password.to_string()),
        ]
    };
    let ca = ("ssl.ca.location", s.pki.ca.display().to_string());
    let mut out = Vec::new();
    for m in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        out.push((
            format!("SASL_PLAINTEXT {m}"),
            with(s.sasl_port, m, &sasl("SASL_PLAINTEXT", m)),
        ));
        let mut p = sasl("SASL_SSL", m);
        p.push(ca.clone());
        out.push((format!("SASL_SSL {m}"), with(s.sasl_ssl_port, m, &p)));
    }
    out.push((
        "SSL".into(),
        with(s.ssl_port, "ssl", &[("security.protocol", "SSL".into()), ca]),
    ));
    out
}

fn poll(client: &ClusterClient) -> ClusterState {
    let repl = Replication::default();
    let (watch, _) = watches(&repl, &NameFilter::topics_default(), &NameFilter::groups_default());
    runtime().block_on(client.poll(&watch)).expect("poll")
}

fn offsets(topics: &BTreeMap<String, TopicState>, topic: &str) -> BTreeMap<i32, (i64, i64)> {
    topics[topic]
        .partitions
        .iter()
        .map(|p| (p.id, (p.low.clone().unwrap(), p.high.clone().unwrap())))
        .collect()
}

#[test]
fn over_sasl_plain_scram_and_tls_wire_reads_what_librdkafka_reads_while_writing() {
    let s = secured();
    let plain = ClusterConfig::plaintext("setup", &s.broker.bootstrap());
    create(&plain, &[TopicSpec::new("sec-orders", 3)]);
    produce(&plain, "sec-orders", 3, 40);
    commit_offsets(&plain, "sec-billing", &[("sec-orders".into(), 1, 17)]).unwrap();
    let traffic = Traffic::start(&plain, "sec-orders", 3, 100);
    for (how, cluster) in clusters(s, "alice-secret") {
        // Over wire: this cluster's offsets are spoken by `wire` (no reason to fall back).
        WireClient::new(&cluster, TIMEOUT).unwrap_or_else(|e| panic!("{how}: wire does not speak it: {e}"));
        let client = ClusterClient::connect(&cluster, TIMEOUT, None).unwrap();
        let consumer: BaseConsumer = consumer_config(&cluster).create().unwrap();
        let first = poll(&client);
        let mut before = first.topics.clone();
        read_watermarks(&consumer, &mut before, TIMEOUT);
        let state = poll(&client);
        let mut after = first.topics.clone();
        read_watermarks(&consumer, &mut after, TIMEOUT);
        let (b, w, a) = (
            offsets(&before, "sec-orders"),
            offsets(&state.topics, "sec-orders"),
            offsets(&after, "sec-orders"),
        );
        for p in 0..3 {
            assert!(
                b[&p].1 <= w[&p].1 && w[&p].1 <= a[&p].1 && w[&p].1 >= 40,
                "{how} p{p}: wire {:?} not within librdkafka's {:?} ..= {:?}",
                w[&p],
                b[&p],
                a[&p]
            );
        }
        let wire_requests: i64 = client
            .request_counts()
            .values()
            .filter_map(|a| a.get("ListOffsets"))
            .sum();
        assert_eq!(wire_requests, 4, "{how}: two polls, two ListOffsets each, by wire");
        let groups = state.groups.as_ref().unwrap_or_else(|e| panic!("{how}: groups: {e}"));
        let billing = groups
            .iter()
            .find(|g| g.name == "sec-billing")
            .unwrap_or_else(|| panic!("{how}: {groups:?}"));
        assert_eq!(
            billing.offsets.clone().unwrap(),
            Commits::from_iter([(("sec-orders".to_string(), 1), 17)]),
            "{how}"
        );
        let through_librdkafka = cutover::kafka::group_offsets(&cluster, "sec-billing", TIMEOUT).unwrap();
        assert_eq!(
            through_librdkafka.get(&("sec-orders".to_string(), 1)),
            Some(&17),
            "{how}"
        );
    }
    traffic.stop();
}

#[test]
fn a_wrong_password_is_refused_over_wire_and_librdkafka() {
    let s = secured();
    for (how, cluster) in clusters(s, "wrong").into_iter().filter(|(h, _)| h.starts_with("SASL")) {
        let refused = WireClient::new(&cluster, Duration::from_secs(5))
            .unwrap()
            .broker_versions(&cluster.bootstrap, kafka_protocol::messages::ApiKey::ListOffsets)
            .unwrap_err();
        assert!(refused.message.contains("authentication failed"), "{how}: {refused}");
        let client = ClusterClient::connect(&cluster, Duration::from_secs(5), None).unwrap();
        let repl = Replication::default();
        let (watch, _) = watches(&repl, &NameFilter::topics_default(), &NameFilter::groups_default());
        assert!(
            runtime().block_on(client.poll(&watch)).is_err(),
            "{how}: librdkafka refuses it too"
        );
    }
}
