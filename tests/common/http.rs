//! A plain HTTP GET for the metrics endpoint's tests (no client library, no curl).
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{Read, Write};
use std::time::Duration;

/// GET `path` over a plain TCP connection: the status line and the body (by Content-Length).
pub fn get(port: u16, path: &str) -> Option<(String, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw).to_string();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_string())
            })?
            .parse()
            .ok()?;
        if body.len() >= length {
            return Some((head.lines().next()?.to_string(), body[..length].to_string()));
        }
    }
}
