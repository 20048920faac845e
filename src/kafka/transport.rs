//! How `wire` reaches a broker: plain TCP, or TLS set up from the cluster's own librdkafka
//! properties (`security.protocol = SSL` and its `ssl.*` keys), so that `wire` trusts,
//! verifies and presents exactly what librdkafka does; with SASL PLAIN or SCRAM on either
//! (`SASL_PLAINTEXT`, `SASL_SSL`, `sasl.mechanism = PLAIN`, `SCRAM-SHA-256` or `-512`). Whatever this
//! module does not read (other SASL mechanisms, key stores, engines, CRL files, cipher lists,
//! a CA directory) leaves the cluster to librdkafka, and `Transport::for_cluster` says why.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;

use super::scram::Mechanism;
use crate::config::ClusterConfig;

/// The `ssl.` keys read here (librdkafka's names and meanings). Any other `ssl.` key on the
/// cluster leaves it to librdkafka, since ignoring it could trust what librdkafka would refuse.
const SSL_KEYS: [&str; 9] = [
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.key.location",
    "ssl.key.pem",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "enable.ssl.certificate.verification",
];

/// The `sasl.` keys read here; any other leaves the cluster to librdkafka.
const SASL_KEYS: [&str; 4] = ["sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password"];

pub struct Transport {
    channel: Channel,
    /// The SASL login every connection makes, when the cluster asks for SASL.
    pub sasl: Option<Login>,
}

enum Channel {
    Plain,
    Tls {
        connector: SslConnector,
        /// librdkafka's `ssl.endpoint.identification.algorithm = https` (its default).
        verify_hostname: bool,
    },
}

/// The SASL mechanisms spoken here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// RFC 4616: the password goes in the clear (use it over TLS).
    Plain,
    Scram(Mechanism),
}

impl SaslMechanism {
    /// From librdkafka's `sasl.mechanism` value; None for the mechanisms not spoken here.
    pub fn parse(name: &str) -> Option<SaslMechanism> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(SaslMechanism::Plain),
            _ => Mechanism::parse(name).map(SaslMechanism::Scram),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::Scram(m) => m.name(),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: String,
}

/// Without the password, so that no debug print or log line can show it.
impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// A connection to one broker.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
}

impl Transport {
    /// The transport for `cluster`, or why `wire` leaves it to librdkafka.
    pub fn for_cluster(cluster: &ClusterConfig) -> crate::error::Result<Transport> {
        let protocol = property(cluster, "security.protocol")
            .unwrap_or("plaintext")
            .to_ascii_lowercase();
        let (tls, sasl) = match protocol.as_str() {
            "plaintext" => (false, false),
            "ssl" => (true, false),
            "sasl_plaintext" => (false, true),
            "sasl_ssl" => (true, true),
            other => return Err(format!("security.protocol {other} is spoken by librdkafka only").into()),
        };
        let unread = |prefix: &str, known: &[&str]| {
            cluster
                .properties
                .iter()
                .find(|(k, _)| k.starts_with(prefix) && !known.contains(&k.as_str()))
                .map(|(k, _)| format!("{k} is read by librdkafka only"))
        };
        if let Some(why) = unread("ssl", &SSL_KEYS).filter(|_| tls) {
            return Err(why.into());
        }
        if let Some(why) = unread("sasl", &SASL_KEYS).filter(|_| sasl) {
            return Err(why.into());
        }
        Ok(Transport {
            channel: if tls { self::tls(cluster)? } else { Channel::Plain },
            sasl: if sasl { Some(login(cluster)?) } else { None },
        })
    }

    /// Connects to `addr` ("host:port"), with `timeout` for the connection, the handshake and
    /// every read and write after.
    pub fn connect(&self, addr: &str, timeout: Duration) -> crate::error::Result<Stream> {
        let socket = addr
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {addr}: {e}"))?
            .next()
            .ok_or_else(|| format!("{addr} resolves to no address"))?;
        let tcp = TcpStream::connect_timeout(&socket, timeout).map_err(|e| format!("cannot connect: {e}"))?;
        tcp.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        tcp.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        match &self.channel {
            Channel::Plain => Ok(Stream::Plain(tcp)),
            Channel::Tls {
                connector,
                verify_hostname,
            } => {
                let host = host_of(addr);
                let stream = connector
                    .configure()
                    .map_err(|e| format!("TLS setup: {e}"))?
                    .verify_hostname(*verify_hostname)
                    .connect(host, tcp)
                    .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
                Ok(Stream::Tls(Box::new(stream)))
            }
        }
    }
}

/// The TLS context librdkafka would build from the same keys: the CA given (else the system's
/// default trust store), the client certificate and key when given, peer verification unless
/// `enable.ssl.certificate.verification = false`, and the broker's name checked against its
/// certificate unless `ssl.endpoint.identification.algorithm = none`.
fn tls(cluster: &ClusterConfig) -> crate::error::Result<Channel> {
    let get = |key: &str| property(cluster, key);
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(|e| format!("TLS setup: {e}"))?;
    let ca_certs = match (get("ssl.ca.location"), get("ssl.ca.pem")) {
        (Some("probe"), _) => return Err("ssl.ca.location = probe is read by librdkafka only".into()),
        (Some(path), _) if Path::new(path).is_dir() => {
            return Err(format!("ssl.ca.location {path} is a directory, read by librdkafka only").into())
        }
        (Some(path), _) => Some(read_pem_certs(&read(path, "ssl.ca.location")?, "ssl.ca.location")?),
        (None, Some(pem)) => Some(read_pem_certs(pem.as_bytes(), "ssl.ca.pem")?),
        (None, None) => None,
    };
    if let Some(certs) = ca_certs {
        // Only this CA, as librdkafka: not the system's store as well.
        let mut store = X509StoreBuilder::new().map_err(|e| format!("TLS setup: {e}"))?;
        for cert in certs {
            store.add_cert(cert).map_err(|e| format!("ssl.ca: {e}"))?;
        }
        builder.set_cert_store(store.build());
    }
    let chain = match (get("ssl.certificate.location"), get("ssl.certificate.pem")) {
        (Some(path), _) => Some(read_pem_certs(
            &read(path, "ssl.certificate.location")?,
            "ssl.certificate.location",
        )?),
        (None, Some(pem)) => Some(read_pem_certs(pem.as_bytes(), "ssl.certificate.pem")?),
        (None, None) => None,
    };
    let key = match (get("ssl.key.location"), get("ssl.key.pem")) {
        (Some(path), _) => Some(read_key(&read(path, "ssl.key.location")?, get("ssl.key.password"))?),
        (None, Some(pem)) => Some(read_key(pem.as_bytes(), get("ssl.key.password"))?),
        (None, None) => None,
    };
    match (chain, key) {
        (Some(chain), Some(key)) => {
            let mut certs = chain.into_iter();
            let leaf = certs.next().ok_or("ssl.certificate: no certificate in it")?;
            builder
                .set_certificate(&leaf)
                .map_err(|e| format!("ssl.certificate: {e}"))?;
            for cert in certs {
                builder
                    .add_extra_chain_cert(cert)
                    .map_err(|e| format!("ssl.certificate: {e}"))?;
            }
            builder.set_private_key(&key).map_err(|e| format!("ssl.key: {e}"))?;
            builder
                .check_private_key()
                .map_err(|e| format!("ssl.key does not match ssl.certificate: {e}"))?;
        }
        (None, None) => {}
        _ => return Err("ssl.certificate and ssl.key go together: one is set without the other".into()),
    }
    match get("enable.ssl.certificate.verification")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("true") => builder.set_verify(SslVerifyMode::PEER),
        Some("false") => builder.set_verify(SslVerifyMode::NONE),
        Some(other) => return Err(format!("enable.ssl.certificate.verification = {other}: true or false").into()),
    }
    let verify_hostname = match get("ssl.endpoint.identification.algorithm")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("https") => true,
        Some("none") => false,
        Some(other) => return Err(format!("ssl.endpoint.identification.algorithm = {other}: https or none").into()),
    };
    Ok(Channel::Tls {
        connector: builder.build(),
        verify_hostname,
    })
}

/// The SASL login from librdkafka's keys: PLAIN or SCRAM (librdkafka's default mechanism is
/// GSSAPI, Kerberos, which stays with it, as does OAUTHBEARER).
fn login(cluster: &ClusterConfig) -> crate::error::Result<Login> {
    let get = |key: &str| property(cluster, key);
    let name = get("sasl.mechanism").or(get("sasl.mechanisms")).unwrap_or("GSSAPI");
    let mechanism =
        SaslMechanism::parse(name).ok_or_else(|| format!("sasl.mechanism {name} is spoken by librdkafka only"))?;
    let username = get("sasl.username").ok_or("sasl.username is not set")?;
    let password = get("sasl.password").ok_or("sasl.password is not set")?;
    Ok(Login {
        mechanism,
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// A property's value; the last one wins, as with librdkafka's repeated sets.
fn property<'a>(cluster: &'a ClusterConfig, key: &str) -> Option<&'a str> {
    cluster
        .properties
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn read(path: &str, key: &str) -> crate::error::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("{key} {path}: {e}").into())
}

fn read_pem_certs(pem: &[u8], key: &str) -> crate::error::Result<Vec<X509>> {
    let certs = X509::stack_from_pem(pem).map_err(|e| format!("{key}: not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{key}: no certificate in it").into());
    }
    Ok(certs)
}

fn read_key(pem: &[u8], password: Option<&str>) -> crate::error::Result<PKey<Private>> {
    Ok(match password {
        Some(p) => PKey::private_key_from_pem_passphrase(pem, p.as_bytes()),
        None => PKey::private_key_from_pem(pem),
    }
    .map_err(|e| format!("ssl.key: not a PEM private key (or a wrong ssl.key.password): {e}"))?)
}

/// "host" of "host:port" (and of "[::1]:port").
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(properties: &[(&str, &str)]) -> ClusterConfig {
        ClusterConfig {
            name: "c".into(),
            bootstrap: "127.0.0.1:9092".into(),
            properties: properties.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    fn why(properties: &[(&str, &str)]) -> String {
        match Transport::for_cluster(&cluster(properties)) {
            Ok(_) => panic!("{properties:?} should be left to librdkafka"),
            Err(e) => e.to_string(),
        }
    }

    fn spoken(properties: &[(&str, &str)]) -> Transport {
        Transport::for_cluster(&cluster(properties)).unwrap_or_else(|e| panic!("{properties:?}: {e}"))
    }

    #[test]
    fn plain_tls_and_sasl_plain_and_scram_are_spoken_here() {
        let plain = |t: &Transport| matches!(t.channel, Channel::Plain);
        let tls = |t: &Transport, hostname: bool| matches!(t.channel, Channel::Tls { verify_hostname, .. } if verify_hostname == hostname);
        assert!(plain(&spoken(&[])));
        assert!(plain(&spoken(&[("security.protocol", "PLAINTEXT")])));
        assert!(tls(&spoken(&[("security.protocol", "SSL")]), true));
        assert!(tls(
            &spoken(&[
                ("security.protocol", "ssl"),
                ("ssl.endpoint.identification.algorithm", "none")
            ]),
            false
        ));
        let scram = [
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "secret"),
        ];
        let login = Some(Login {
            mechanism: SaslMechanism::Scram(Mechanism::Sha512),
            username: "alice".into(),
            password: "secret".into(),
        });
        let t = spoken(&[&[("security.protocol", "SASL_SSL")][..], &scram].concat());
        assert!(tls(&t, true));
        assert_eq!(t.sasl, login);
        let t = spoken(&[&[("security.protocol", "sasl_plaintext")][..], &scram].concat());
        assert!(plain(&t));
        assert_eq!(t.sasl, login);
        assert_eq!(spoken(&[("security.protocol", "SSL")]).sasl, None);
        assert!(!format!("{login:?}").contains("secret"), "{login:?}");
        let t = spoken(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanisms", "plain"),
            ("sasl.username", "bob"),
            ("sasl.password", "pw"),
        ]);
        assert_eq!(
            t.sasl.map(|l| (l.mechanism, l.username)),
            Some((SaslMechanism::Plain, "bob".to_string()))
        );
    }

    #[test]
    fn what_is_not_read_here_is_left_to_librdkafka_with_the_reason() {
        assert_eq!(
            why(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "OAUTHBEARER")]),
            "sasl.mechanism OAUTHBEARER is spoken by librdkafka only"
        );
        assert_eq!(
            why(&[("security.protocol", "SASL_PLAINTEXT")]),
            "sasl.mechanism GSSAPI is spoken by librdkafka only"
        );
        assert_eq!(
            why(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-256")]),
            "sasl.username is not set"
        );
        assert_eq!(
            why(&[("security.protocol", "SASL_SSL"), ("sasl.kerberos.keytab", "/k")]),
            "sasl.kerberos.keytab is read by librdkafka only"
        );
        assert_eq!(
            why(&[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.oauthbearer.method", "oidc")
            ]),
            "sasl.oauthbearer.method is read by librdkafka only"
        );
        assert_eq!(
            why(&[("security.protocol", "SSL"), ("ssl.keystore.location", "/k.p12")]),
            "ssl.keystore.location is read by librdkafka only"
        );
        assert!(why(&[("security.protocol", "SSL"), ("ssl.ca.location", "/")]).contains("a directory"));
        assert!(
            why(&[("security.protocol", "SSL"), ("ssl.ca.location", "/nonexistent/ca.pem")])
                .starts_with("ssl.ca.location /nonexistent/ca.pem: ")
        );
        assert!(why(&[("security.protocol", "SSL"), ("ssl.ca.pem", "not a certificate")]).starts_with("ssl.ca.pem: "));
        assert!(why(&[("security.protocol", "SSL"), ("ssl.key.pem", "x")]).starts_with("ssl.key: "));
        assert!(why(&[
            ("security.protocol", "SSL"),
            ("enable.ssl.certificate.verification", "maybe")
        ])
        .contains("true or false"));
    }

    #[test]
    fn the_host_of_an_address() {
        assert_eq!(host_of("broker-1.example:9093"), "broker-1.example");
        assert_eq!(host_of("127.0.0.1:9093"), "127.0.0.1");
        assert_eq!(host_of("[::1]:9093"), "::1");
    }
}
