//! Reading one partition from a position on: the one trait translation, validation and the
//! MM2 reader read records through, and its implementation over a real cluster. Its errors
//! say whether a retry may help (`kafka::Error::retryable`).

use std::time::Duration;

use super::records::{Located, Next, RecordReader};
use super::Error;
use crate::config::ClusterConfig;
use crate::jobs::CancelToken;

/// Reads one partition from a position on.
pub trait Cursor {
    /// The first record at or after `offset` comes next.
    fn seek(&mut self, offset: i64) -> Result<(), Error>;
    /// The next record, or None at the partition's end.
    fn next(&mut self) -> Result<Option<Located>, Error>;
    /// The first offset whose timestamp is at or after `timestamp` (ms).
    fn offset_for_time(&mut self, timestamp: i64) -> Result<Option<i64>, Error>;
    /// Records read so far.
    fn records_read(&self) -> u64;
    /// The partition's end offset now (its high watermark), asked of the broker.
    fn end_offset(&mut self) -> Result<i64, Error>;
    /// The partition's first offset now (its log start: older records were deleted).
    fn start_offset(&mut self) -> Result<i64, Error>;
}

impl<C: Cursor + ?Sized> Cursor for &mut C {
    fn seek(&mut self, offset: i64) -> Result<(), Error> {
        (**self).seek(offset)
    }
    fn next(&mut self) -> Result<Option<Located>, Error> {
        (**self).next()
    }
    fn offset_for_time(&mut self, timestamp: i64) -> Result<Option<i64>, Error> {
        (**self).offset_for_time(timestamp)
    }
    fn records_read(&self) -> u64 {
        (**self).records_read()
    }
    fn end_offset(&mut self) -> Result<i64, Error> {
        (**self).end_offset()
    }
    fn start_offset(&mut self) -> Result<i64, Error> {
        (**self).start_offset()
    }
}

/// How often a transient error is retried, and the first wait (doubled each time): about
/// 7.5 s in all, enough for a broker restart or a leader move, short enough to report.
pub const RETRIES: u32 = 5;
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Retries transient errors (`Error::retryable`) with backoff: the same call again, as the
/// consumer keeps its position and reconnects by itself. (Seeking again while a broker is away
/// trips an assertion in librdkafka's assignment code, so it does not.) A broker away for a
/// moment costs a pause, not a failed partition. With a cancel token, every call and every
/// backoff ends with `Error::cancelled` once the job is cancelled (`p`, quit, cancel).
pub struct Retrying<C> {
    inner: C,
    cancel: CancelToken,
}

impl<C: Cursor> Retrying<C> {
    pub fn new(inner: C) -> Self {
        Retrying {
            inner,
            cancel: CancelToken::default(),
        }
    }

    /// Stops at the next call (or during a backoff) once `cancel` is cancelled.
    pub fn cancelled_by(mut self, cancel: &CancelToken) -> Self {
        self.cancel = cancel.clone();
        self
    }

    fn again<T>(&mut self, what: impl Fn(&mut C) -> Result<T, Error>) -> Result<T, Error> {
        let mut wait = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            if self.cancel.is_cancelled() {
                return Err(Error::cancelled());
            }
            match what(&mut self.inner) {
                Err(e) if e.retryable() && attempt < RETRIES => {
                    tracing::warn!("{e}; retrying in {wait:?} ({} of {RETRIES})", attempt + 1);
                    if self.cancel.sleep(wait) {
                        return Err(Error::cancelled());
                    }
                    wait *= 2;
                    attempt += 1;
                }
                Err(e) if e.retryable() => return Err(Error::transient(format!("{e} (after {RETRIES} retries)"))),
                other => return other,
            }
        }
    }
}

impl<C: Cursor> Cursor for Retrying<C> {
    fn seek(&mut self, offset: i64) -> Result<(), Error> {
        self.again(|c| c.seek(offset))
    }

    fn next(&mut self) -> Result<Option<Located>, Error> {
        self.again(|c| c.next())
    }

    fn offset_for_time(&mut self, timestamp: i64) -> Result<Option<i64>, Error> {
        self.again(|c| c.offset_for_time(timestamp))
    }

    fn records_read(&self) -> u64 {
        self.inner.records_read()
    }

    fn end_offset(&mut self) -> Result<i64, Error> {
        self.again(|c| c.end_offset())
    }

    fn start_offset(&mut self) -> Result<i64, Error> {
        self.again(|c| c.start_offset())
    }
}

/// A cursor that ends at a fixed offset: a range read on both sides to bounds fixed before
/// either is read, so records written meanwhile are never half-seen on one side only.
pub struct Bounded<C> {
    inner: C,
    end: i64,
    ended: bool,
}

impl<C: Cursor> Bounded<C> {
    pub fn new(inner: C, end: i64) -> Self {
        Bounded {
            inner,
            end,
            ended: false,
        }
    }

    pub fn end(&self) -> i64 {
        self.end
    }

    /// The cursor underneath, unbounded.
    pub fn inner_mut(&mut self) -> &mut C {
        &mut self.inner
    }
}

impl<C: Cursor> Cursor for Bounded<C> {
    fn seek(&mut self, offset: i64) -> Result<(), Error> {
        self.ended = offset >= self.end;
        if self.ended {
            return Ok(());
        }
        self.inner.seek(offset)
    }

    fn next(&mut self) -> Result<Option<Located>, Error> {
        if self.ended {
            return Ok(None);
        }
        let next = self.inner.next()?.filter(|r| r.offset < self.end);
        self.ended = next.is_none();
        Ok(next)
    }

    fn offset_for_time(&mut self, timestamp: i64) -> Result<Option<i64>, Error> {
        Ok(self.inner.offset_for_time(timestamp)?.filter(|o| *o < self.end))
    }

    fn records_read(&self) -> u64 {
        self.inner.records_read()
    }

    fn end_offset(&mut self) -> Result<i64, Error> {
        Ok(self.end)
    }

    fn start_offset(&mut self) -> Result<i64, Error> {
        self.inner.start_offset()
    }
}

/// A target cursor that steps over the records written on the target only during a wave
/// (the journal's ranges): they are no copy of a source record, so validation and translation
/// read the target as the replicator wrote it.
pub struct SkipTargetOnly<C> {
    inner: C,
    ranges: Vec<crate::model::target_only::TargetOnlyRange>,
}

impl<C: Cursor> SkipTargetOnly<C> {
    pub fn new(inner: C, ranges: Vec<crate::model::target_only::TargetOnlyRange>) -> Self {
        SkipTargetOnly { inner, ranges }
    }
}

impl<C: Cursor> Cursor for SkipTargetOnly<C> {
    fn seek(&mut self, offset: i64) -> Result<(), Error> {
        self.inner.seek(offset)
    }

    fn next(&mut self) -> Result<Option<Located>, Error> {
        loop {
            let Some(r) = self.inner.next()? else {
                return Ok(None);
            };
            match self.ranges.iter().find(|range| range.contains(r.offset)) {
                None => return Ok(Some(r)),
                Some(range) => match range.to {
                    Some(to) => self.inner.seek(to)?,
                    // Writes still go to the target: nothing after this is a copy.
                    None => return Ok(None),
                },
            }
        }
    }

    fn offset_for_time(&mut self, timestamp: i64) -> Result<Option<i64>, Error> {
        self.inner.offset_for_time(timestamp)
    }

    fn records_read(&self) -> u64 {
        self.inner.records_read()
    }

    fn end_offset(&mut self) -> Result<i64, Error> {
        self.inner.end_offset()
    }

    fn start_offset(&mut self) -> Result<i64, Error> {
        self.inner.start_offset()
    }
}

/// A cursor whose records come without their timestamps when `content_only` (a target topic
/// whose broker stamps its own times, so no copy keeps the source's): put on both sides, every
/// comparison (digests, differences, compacted keys, spot checks) is then of key, value and
/// headers only. Searching by time needs a record's timestamp, so it finds nothing then.
pub struct ContentOnly<C> {
    inner: C,
    content_only: bool,
}

impl<C: Cursor> ContentOnly<C> {
    pub fn new(inner: C, content_only: bool) -> Self {
        ContentOnly { inner, content_only }
    }
}

impl<C: Cursor> Cursor for ContentOnly<C> {
    fn seek(&mut self, offset: i64) -> Result<(), Error> {
        self.inner.seek(offset)
    }

    fn next(&mut self) -> Result<Option<Located>, Error> {
        let mut next = self.inner.next()?;
        if self.content_only {
            if let Some(r) = &mut next {
                r.record.timestamp = None;
            }
        }
        Ok(next)
    }

    fn offset_for_time(&mut self, timestamp: i64) -> Result<Option<i64>, Error> {
        self.inner.offset_for_time(timestamp)
    }

    fn records_read(&self) -> u64 {
        self.inner.records_read()
    }

    fn end_offset(&mut self) -> Result<i64, Error> {
        self.inner.end_offset()
    }

    fn start_offset(&mut self) -> Result<i64, Error> {
        self.inner.start_offset()
    }
}

/// A cursor over one partition of a real cluster.
pub struct KafkaCursor {
    reader: RecordReader,
    topic: String,
    partition: i32,
    read: u64,
    /// How long to wait for the next record or the partition's end.
    timeout: Duration,
    /// librdkafka says "end of partition" once; remembered until the next seek.
    at_end: bool,
    /// Where the last seek went, and records read since: for error messages.
    sought: (i64, u64),
}

impl KafkaCursor {
    pub fn new(
        cluster: &ClusterConfig,
        topic: &str,
        partition: i32,
        timeout: Duration,
    ) -> crate::error::Result<KafkaCursor> {
        Ok(KafkaCursor {
            reader: RecordReader::with_end_events(cluster)?,
            topic: topic.to_string(),
            partition,
            read: 0,
            timeout,
            at_end: false,
            sought: (0, 0),
        })
    }

    /// Points the cursor at another partition (it reads from `seek` on).
    pub fn switch(&mut self, topic: &str, partition: i32) {
        self.topic = topic.to_string();
        self.partition = partition;
    }
}

impl Cursor for KafkaCursor {
    fn seek(&mut self, offset: i64) -> Result<(), Error> {
        self.at_end = false;
        self.sought = (offset, 0);
        self.reader
            .assign(&[(self.topic.clone(), self.partition, Some(offset))])
    }

    fn next(&mut self) -> Result<Option<Located>, Error> {
        if self.at_end {
            return Ok(None);
        }
        // librdkafka reports a broker going away as error events while it reconnects by itself:
        // those are waited out until the timeout, then reported as one transient error.
        let deadline = std::time::Instant::now() + self.timeout;
        let mut last_error: Option<Error> = None;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let event = match self.reader.next_event(left, (&self.topic, self.partition)) {
                Err(e) if e.retryable() && !left.is_zero() => {
                    last_error = Some(e);
                    std::thread::sleep(Duration::from_millis(50).min(left));
                    continue;
                }
                other => other?,
            };
            match event {
                Next::Record(r) if r.topic == self.topic && r.partition == self.partition => {
                    self.read += 1;
                    self.sought.1 += 1;
                    return Ok(Some(r));
                }
                Next::Record(_) => continue, // fetched before the last seek
                Next::End { .. } => {
                    self.at_end = true;
                    return Ok(None);
                }
                // Nothing within the timeout: a slow or restarting broker, worth another try.
                Next::Idle => {
                    return Err(Error::transient(format!(
                        "{}/{}: no record and no end of partition within {:?} ({} read since offset {}){}",
                        self.topic,
                        self.partition,
                        self.timeout,
                        self.sought.1,
                        self.sought.0,
                        last_error.map(|e| format!("; {e}")).unwrap_or_default()
                    )))
                }
            }
        }
    }

    fn offset_for_time(&mut self, timestamp: i64) -> Result<Option<i64>, Error> {
        self.reader
            .offset_for_time(&self.topic, self.partition, timestamp, self.timeout)
    }

    fn records_read(&self) -> u64 {
        self.read
    }

    fn end_offset(&mut self) -> Result<i64, Error> {
        Ok(self.reader.watermarks(&self.topic, self.partition, self.timeout)?.1)
    }

    fn start_offset(&mut self) -> Result<i64, Error> {
        Ok(self.reader.watermarks(&self.topic, self.partition, self.timeout)?.0)
    }
}
