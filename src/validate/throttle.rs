//! What a validation reads, counted, and held to a rate limit so it cannot overload the
//! production brokers it reads from.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::kafka::cursor::Cursor;
use crate::kafka::records::{Located, Record};
pub use crate::model::validation::Meter;

/// Bytes a record costs the brokers to serve, as far as the validation can tell: key, value and
/// headers.
pub fn record_bytes(r: &Record) -> u64 {
    let len = |b: &Option<Vec<u8>>| b.as_ref().map_or(0, Vec::len) as u64;
    let headers: u64 = r.headers.iter().map(|(k, v)| k.len() as u64 + len(v)).sum();
    len(&r.key) + len(&r.value) + headers
}

/// A token bucket's balance after spending `bytes` at `elapsed` since its last refill, and how
/// long to wait before reading on. The balance may go negative: the reader then waits until
/// it is paid back, so over any stretch of time the rate stays at most `rate` (after the
/// first `burst` bytes).
pub fn spend(balance: f64, elapsed: Duration, rate: f64, burst: f64, bytes: u64) -> (f64, Duration) {
    let balance = (balance + elapsed.as_secs_f64() * rate).min(burst) - bytes as f64;
    let wait = if balance < 0.0 {
        Duration::from_secs_f64(-balance / rate)
    } else {
        Duration::ZERO
    };
    (balance, wait)
}

/// One bucket shared by every cursor of a run: the limit holds for both clusters together.
pub struct RateLimit {
    bytes_per_sec: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimit {
    pub fn new(bytes_per_sec: u64) -> RateLimit {
        let rate = bytes_per_sec.max(1) as f64;
        RateLimit {
            bytes_per_sec: rate,
            // Start with a tenth of a second's worth, so a run does not begin with a burst.
            state: Mutex::new((rate / 10.0, Instant::now())),
        }
    }

    pub fn bytes_per_sec(&self) -> u64 {
        self.bytes_per_sec as u64
    }

    /// Takes `bytes` from the bucket; sleeps the caller when it is overdrawn.
    pub fn take(&self, bytes: u64) {
        let wait = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let burst = self.bytes_per_sec; // at most one second's worth saved up
            let (balance, wait) = spend(state.0, now - state.1, self.bytes_per_sec, burst, bytes);
            *state = (balance, now);
            wait
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

/// A cursor that counts what it reads into a meter and waits on the rate limit.
pub struct Metered<'a, C> {
    inner: C,
    records: &'a AtomicU64,
    bytes: &'a AtomicU64,
    limit: Option<&'a RateLimit>,
}

impl<'a, C: Cursor> Metered<'a, C> {
    pub fn source(inner: C, meter: &'a Meter, limit: Option<&'a RateLimit>) -> Self {
        Metered {
            inner,
            records: &meter.source_records,
            bytes: &meter.bytes,
            limit,
        }
    }

    pub fn target(inner: C, meter: &'a Meter, limit: Option<&'a RateLimit>) -> Self {
        Metered {
            inner,
            records: &meter.target_records,
            bytes: &meter.bytes,
            limit,
        }
    }
}

impl<C: Cursor> Cursor for Metered<'_, C> {
    fn seek(&mut self, offset: i64) -> Result<(), crate::kafka::Error> {
        self.inner.seek(offset)
    }

    fn next(&mut self) -> Result<Option<Located>, crate::kafka::Error> {
        let next = self.inner.next()?;
        if let Some(r) = &next {
            let bytes = record_bytes(&r.record);
            self.records.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
            if let Some(limit) = self.limit {
                limit.take(bytes);
            }
        }
        Ok(next)
    }

    fn offset_for_time(&mut self, timestamp: i64) -> Result<Option<i64>, crate::kafka::Error> {
        self.inner.offset_for_time(timestamp)
    }

    fn records_read(&self) -> u64 {
        self.inner.records_read()
    }

    fn end_offset(&mut self) -> Result<i64, crate::kafka::Error> {
        self.inner.end_offset()
    }

    fn start_offset(&mut self) -> Result<i64, crate::kafka::Error> {
        self.inner.start_offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_holds_the_rate() {
        // 1,000 B/s: spending 500 from a full bucket of 1,000 needs no wait.
        let (b, w) = spend(1_000.0, Duration::ZERO, 1_000.0, 1_000.0, 500);
        assert_eq!((b, w), (500.0, Duration::ZERO));
        // Overdrawn by 1,500: wait 1.5 s.
        let (b, w) = spend(b, Duration::ZERO, 1_000.0, 1_000.0, 2_000);
        assert_eq!((b, w), (-1_500.0, Duration::from_millis(1_500)));
        // After that wait the balance is back at zero.
        let (b, w) = spend(b, Duration::from_millis(1_500), 1_000.0, 1_000.0, 0);
        assert_eq!((b, w), (0.0, Duration::ZERO));
        // Idle time saves up at most `burst`.
        let (b, _) = spend(0.0, Duration::from_secs(60), 1_000.0, 1_000.0, 0);
        assert_eq!(b, 1_000.0);
    }

    #[test]
    fn total_wait_matches_bytes_over_rate() {
        // Reading 10,000 bytes in 100-byte records at 1,000 B/s, from an empty bucket, with
        // every wait honoured, takes 10 s in all.
        let (mut balance, mut waited) = (0.0, Duration::ZERO);
        let mut elapsed = Duration::ZERO;
        for _ in 0..100 {
            let (b, w) = spend(balance, elapsed, 1_000.0, 1_000.0, 100);
            balance = b;
            elapsed = w;
            waited += w;
        }
        assert!((waited.as_secs_f64() - 10.0).abs() < 1e-6, "{waited:?}");
    }

    #[test]
    fn record_size_counts_key_value_and_headers() {
        let r = Record {
            key: Some(b"ab".to_vec()),
            value: Some(b"cde".to_vec()),
            headers: vec![("h".into(), Some(b"xy".to_vec())), ("n".into(), None)],
            timestamp: Some(1),
        };
        assert_eq!(record_bytes(&r), 2 + 3 + 3 + 1);
    }
}
