//! TLS in front of tansu. The tansu broker serves plain TCP only (README, "Test brokers and
//! their deviations"), so the harness puts a TLS terminator before it: the broker
//! advertises the terminator's port in Metadata, every client (librdkafka and `kafka::wire`)
//! reaches it over TLS only, and the terminator forwards the bytes to tansu. Certificates are
//! made here: a CA, a server certificate for the names asked for, a client certificate.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{Ssl, SslAcceptor, SslMethod, SslVerifyMode};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509Name, X509};

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut n = X509Name::builder().unwrap();
    n.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    n.build()
}

/// A certificate for `key`, signed by `issuer` (None: self-signed, a CA).
fn certificate(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    dns: &[&str],
    ips: &[&str],
    server: bool,
) -> X509 {
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&name(cn)).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
    match issuer {
        None => {
            b.set_issuer_name(&name(cn)).unwrap();
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.append_extension(KeyUsage::new().key_cert_sign().crl_sign().build().unwrap())
                .unwrap();
            b.sign(key, MessageDigest::sha256()).unwrap();
        }
        Some((ca, ca_key)) => {
            b.set_issuer_name(ca.subject_name()).unwrap();
            let mut san = SubjectAlternativeName::new();
            for d in dns {
                san.dns(d);
            }
            for ip in ips {
                san.ip(ip);
            }
            if !dns.is_empty() || !ips.is_empty() {
                let san = san.build(&b.x509v3_context(Some(ca), None)).unwrap();
                b.append_extension(san).unwrap();
            }
            let usage = match server {
                true => ExtendedKeyUsage::new().server_auth().build().unwrap(),
                false => ExtendedKeyUsage::new().client_auth().build().unwrap(),
            };
            b.append_extension(usage).unwrap();
            b.sign(ca_key, MessageDigest::sha256()).unwrap();
        }
    }
    b.build()
}

/// A CA with a server certificate (for the names given) and a client certificate, as PEM files
/// under `dir`.
pub struct Pki {
    pub ca: PathBuf,
    pub client_certificate: PathBuf,
    pub client_key: PathBuf,
    server: (X509, PKey<Private>),
    ca_cert: X509,
}

impl Pki {
    pub fn new(dir: &Path, server_dns: &[&str], server_ips: &[&str]) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let ca_key = key();
        let ca = certificate("cutover test CA", &ca_key, None, &[], &[], false);
        let server_key = key();
        let server = certificate(
            "broker",
            &server_key,
            Some((&ca, &ca_key)),
            server_dns,
            server_ips,
            true,
        );
        let client_key = key();
        let client = certificate("cutover", &client_key, Some((&ca, &ca_key)), &[], &[], false);
        let write = |file: &str, pem: Vec<u8>| {
            let path = dir.join(file);
            std::fs::write(&path, pem).unwrap();
            path
        };
        Pki {
            ca: write("ca.pem", ca.to_pem().unwrap()),
            client_certificate: write("client.pem", client.to_pem().unwrap()),
            client_key: write("client.key", client_key.private_key_to_pem_pkcs8().unwrap()),
            server: (server, server_key),
            ca_cert: ca,
        }
    }
}

impl Pki {
    /// The broker's key and certificate chain in one PEM file, for Kafka's PEM key store
    /// (`ssl.keystore.type = PEM`): the key (PKCS#8, unencrypted), then the chain.
    pub fn server_keystore(&self, path: &Path) -> PathBuf {
        let mut pem = self.server.1.private_key_to_pem_pkcs8().unwrap();
        pem.extend(self.server.0.to_pem().unwrap());
        pem.extend(self.ca_cert.to_pem().unwrap());
        std::fs::write(path, pem).unwrap();
        path.to_path_buf()
    }
}

/// A TLS terminator on a loopback port: TLS to clients (asking for a client certificate signed
/// by the CA when `client_certificates`), plain TCP to the broker behind it.
pub struct TlsTerminator {
    pub port: u16,
    listener: Option<std::net::TcpListener>,
    acceptor: SslAcceptor,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TlsTerminator {
    /// Binds the port (so the broker can advertise it before it starts); `forward_to` starts it.
    pub fn bind(pki: &Pki, client_certificates: bool) -> TlsTerminator {
        let mut a = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        a.set_certificate(&pki.server.0).unwrap();
        a.set_private_key(&pki.server.1).unwrap();
        if client_certificates {
            let mut store = openssl::x509::store::X509StoreBuilder::new().unwrap();
            store.add_cert(pki.ca_cert.clone()).unwrap();
            a.set_verify_cert_store(store.build()).unwrap();
            a.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
        }
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        TlsTerminator {
            port: listener.local_addr().unwrap().port(),
            listener: Some(listener),
            acceptor: a.build(),
            runtime: None,
        }
    }

    pub fn forward_to(&mut self, broker_port: u16) {
        let listener = self.listener.take().expect("forward_to once");
        let acceptor = self.acceptor.clone();
        self.runtime = Some(super::accept_loop(listener, move |client| {
            let acceptor = acceptor.clone();
            async move {
                let ssl = Ssl::new(acceptor.context()).unwrap();
                let mut tls = tokio_openssl::SslStream::new(ssl, client).unwrap();
                // A client that fails the handshake (wrong name, no certificate) is dropped,
                // as a TLS broker would.
                if std::pin::Pin::new(&mut tls).accept().await.is_err() {
                    return;
                }
                let Ok(mut broker) = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, broker_port)).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
            }
        }));
    }
}

impl Drop for TlsTerminator {
    fn drop(&mut self) {
        if let Some(r) = self.runtime.take() {
            r.shutdown_background();
        }
    }
}
