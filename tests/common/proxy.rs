//! A TCP proxy in front of a tansu broker that counts the Kafka requests passing through it,
//! by client id and API key. The broker advertises the proxy's port in Metadata, so every
//! connection a client makes (bootstrap too, when its config names the proxy) is counted.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Requests counted, by (client id, API key).
pub type Counts = BTreeMap<(String, i16), u64>;

pub struct CountingProxy {
    pub port: u16,
    listener: Option<std::net::TcpListener>,
    counts: Arc<Mutex<Counts>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl CountingProxy {
    /// Binds the port (so the broker can advertise it before it starts); `forward_to` starts it.
    pub fn bind() -> CountingProxy {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        CountingProxy {
            port: listener.local_addr().unwrap().port(),
            listener: Some(listener),
            counts: Default::default(),
            runtime: None,
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn forward_to(&mut self, broker_port: u16) {
        let listener = self.listener.take().expect("forward_to once");
        let counts = self.counts.clone();
        self.runtime = Some(super::accept_loop(listener, move |client| {
            let counts = counts.clone();
            async move {
                let Ok(broker) = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, broker_port)).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut broker_read, mut broker_write) = broker.into_split();
                let answers = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut broker_read, &mut client_write).await;
                });
                // Requests: a 4-byte size, then api_key (i16), api_version, correlation id,
                // and the client id (i16 length, then its bytes).
                loop {
                    let mut size = [0u8; 4];
                    if client_read.read_exact(&mut size).await.is_err() {
                        break;
                    }
                    let mut body = vec![0u8; i32::from_be_bytes(size).max(0) as usize];
                    if client_read.read_exact(&mut body).await.is_err() {
                        break;
                    }
                    if body.len() >= 10 {
                        let api = i16::from_be_bytes([body[0], body[1]]);
                        let len = i16::from_be_bytes([body[8], body[9]]).max(0) as usize;
                        let id = body.get(10..10 + len).map(String::from_utf8_lossy).unwrap_or_default();
                        *counts.lock().unwrap().entry((id.to_string(), api)).or_default() += 1;
                    }
                    if broker_write.write_all(&size).await.is_err() || broker_write.write_all(&body).await.is_err() {
                        break;
                    }
                }
                answers.abort();
            }
        }));
    }

    /// Requests counted so far.
    pub fn counts(&self) -> Counts {
        self.counts.lock().unwrap().clone()
    }
}

/// Requests counted between two readings, of clients other than `except`.
pub fn requests_between(before: &Counts, after: &Counts, except: &str) -> u64 {
    after
        .iter()
        .filter(|((client, _), _)| client != except)
        .map(|(k, n)| n - before.get(k).copied().unwrap_or(0))
        .sum()
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        if let Some(r) = self.runtime.take() {
            r.shutdown_background();
        }
    }
}
