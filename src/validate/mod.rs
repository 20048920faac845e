//! Validation: does the target hold exactly the source's records?
//!
//! A source partition and the target range that should hold the same records (aligned by
//! MM2's oldest surviving offset-sync, by timestamp, or by identity) are read in chunks; each
//! chunk's SHA-256 covers every record's key, value, headers and timestamp in a canonical,
//! length-prefixed encoding. A chunk whose digests differ is narrowed down to the first
//! differing record, classified, and located on both sides.

pub mod compacted;
pub mod job;
pub mod report;
pub mod run;
pub mod spot;
pub mod state;
pub mod throttle;

use sha2::{Digest, Sha256};

use crate::kafka::cursor::Cursor;
use crate::kafka::records::{Located, Record};
use crate::model::target_only::PartitionRanges;
pub use crate::model::verdict::{Mismatch, MismatchKind, PartitionResult, Verdict};
use crate::translate::{difference, seek_by_timestamp};

/// Records per chunk digest, at most.
pub const CHUNK: usize = 1_000;
/// Bytes of keys, values and headers per chunk, at most (one record more than this when a
/// single record is larger): with the cursors' prefetch, what bounds a run's memory.
pub const CHUNK_BYTES: u64 = 8 * 1024 * 1024;

/// Appends a record in the canonical encoding: every field length-prefixed, absence marked,
/// so no two different records encode the same.
pub fn canonical(r: &Record, out: &mut Vec<u8>) {
    fn bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
        match b {
            None => out.push(0),
            Some(b) => {
                out.push(1);
                out.extend_from_slice(&(b.len() as u64).to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }
    bytes(out, r.key.as_deref());
    bytes(out, r.value.as_deref());
    out.extend_from_slice(&(r.headers.len() as u64).to_be_bytes());
    for (k, v) in &r.headers {
        bytes(out, Some(k.as_bytes()));
        bytes(out, v.as_deref());
    }
    match r.timestamp {
        None => out.push(0),
        Some(t) => {
            out.push(1);
            out.extend_from_slice(&t.to_be_bytes());
        }
    }
}

/// SHA-256 of the canonical encodings of the records, in order.
pub fn chunk_digest(records: &[Located]) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut buf = Vec::new();
    for r in records {
        buf.clear();
        canonical(&r.record, &mut buf);
        h.update(&buf);
    }
    h.finalize().into()
}

fn same(a: &Located, b: &Located) -> bool {
    difference(&a.record, &b.record).is_none()
}

/// The first place two aligned runs of records differ, classified by looking one record
/// ahead on each side. None when they agree as far as both go.
pub fn first_difference(source: &[Located], target: &[Located]) -> Option<Mismatch> {
    let i = source.iter().zip(target).position(|(a, b)| !same(a, b))?;
    let (a, b) = (&source[i], &target[i]);
    let next_s = source.get(i + 1);
    let next_t = target.get(i + 1);
    let at = |kind| {
        Some(Mismatch {
            kind,
            source_offset: Some(a.offset),
            target_offset: Some(b.offset),
            key: None,
        })
    };
    let target_has_next_source = next_s.is_some_and(|n| same(n, b));
    let source_has_next_target = next_t.is_some_and(|n| same(a, n));
    if target_has_next_source && source_has_next_target {
        return at(MismatchKind::OutOfOrder);
    }
    if target_has_next_source {
        return at(MismatchKind::MissingOnTarget);
    }
    if source_has_next_target || (i > 0 && same(&source[i - 1], b)) {
        return at(MismatchKind::ExtraOnTarget);
    }
    at(MismatchKind::Differs(
        difference(&a.record, &b.record).unwrap_or_default(),
    ))
}

/// Where validation starts on each side, or why it cannot yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// (source offset, target offset) of the first pair to compare.
    At(i64, i64),
    /// No pair is known yet (the replicator has not copied the first record): the reason.
    Waiting(String),
}

/// Where validation starts on each side, or why it cannot yet.
pub fn align(
    source: &mut dyn Cursor,
    target: &mut dyn Cursor,
    oldest_sync: Option<(i64, i64)>,
    identity: Option<PartitionRanges>,
    source_start: i64,
) -> crate::error::Result<Start> {
    if let Some(target_only) = identity {
        return Ok(Start::At(source_start, target_only.shift(source_start)));
    }
    if let Some((s, t)) = oldest_sync {
        return Ok(Start::At(s, t));
    }
    let t = seek_by_timestamp(source, target, source_start)?;
    Ok(match (t.exact(), &t.outcome) {
        (Some(target_offset), _) => {
            source.seek(source_start)?;
            let first = source.next()?.map_or(source_start, |r| r.offset);
            Start::At(first, target_offset)
        }
        // Usually the replicator has not copied the first record yet.
        (None, outcome) => Start::Waiting(format!(
            "waiting for MM2's first offset-sync (by timestamp, source offset {source_start}: {})",
            outcome.describe()
        )),
    })
}

/// Compares the source from `start.0` with the target from `start.1`, chunk by chunk, until
/// either side ends (a shorter target is replication lag: the rest is pending).
///
/// `identity`: an offset-preserving replicator promises the same offsets on both sides, so a
/// record at another offset than its source's fails even when the content is the same (the
/// target's offsets moved on only by the records written there alone, which it holds).
pub fn validate_range(
    source: &mut dyn Cursor,
    target: &mut dyn Cursor,
    start: (i64, i64),
    identity: Option<PartitionRanges>,
) -> crate::error::Result<PartitionResult> {
    source.seek(start.0)?;
    target.seek(start.1)?;
    let (mut last_s, mut last_t) = (start.0, start.1);
    let mut compared = 0u64;
    // Up to n records, stopping early once the chunk holds CHUNK_BYTES.
    let read = |c: &mut dyn Cursor, n: usize| -> crate::error::Result<Vec<Located>> {
        let mut v = Vec::with_capacity(n.min(CHUNK));
        let mut bytes = 0;
        while v.len() < n && bytes < CHUNK_BYTES {
            match c.next()? {
                Some(r) => {
                    bytes += throttle::record_bytes(&r.record);
                    v.push(r)
                }
                None => break,
            }
        }
        Ok(v)
    };
    let read_n = |c: &mut dyn Cursor, n: usize| -> crate::error::Result<Vec<Located>> {
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            match c.next()? {
                Some(r) => v.push(r),
                None => break,
            }
        }
        Ok(v)
    };
    loop {
        let s = read(source, CHUNK)?;
        // As many target records as source records (the byte limit cannot cut it shorter:
        // the same records have the same size).
        let t = read_n(target, s.len().max(1))?;
        let n = s.len().min(t.len());
        let result = |verdict, pending, compared, last_s, last_t| PartitionResult {
            source_range: (start.0, last_s),
            target_range: (start.1, last_t),
            records_compared: compared,
            pending,
            verdict,
        };
        let shifted = identity.and_then(|target_only| {
            let t0 = target_only.unshift(start.1);
            (0..n).find(|&i| s[i].offset - start.0 != target_only.unshift(t[i].offset) - t0)
        });
        let content_differs = n > 0 && chunk_digest(&s[..n]) != chunk_digest(&t[..n]);
        let first_content = if content_differs {
            (0..n).find(|&i| !same(&s[i], &t[i]))
        } else {
            None
        };
        if let Some(i) = shifted.filter(|i| first_content.is_none_or(|c| *i <= c)) {
            let m = Mismatch {
                kind: MismatchKind::Differs(format!(
                    "offsets differ: source {} is at target {} (an offset-preserving replicator keeps them equal)",
                    s[i].offset, t[i].offset
                )),
                source_offset: Some(s[i].offset),
                target_offset: Some(t[i].offset),
                key: None,
            };
            return Ok(result(
                Verdict::Fail { mismatch: m },
                false,
                compared + i as u64,
                last_s,
                last_t,
            ));
        }
        if content_differs {
            // Narrow down, with one more record of each side to tell what kind it is.
            let (mut s, mut t) = (s, t);
            s.extend(source.next()?);
            t.extend(target.next()?);
            let m = first_difference(&s, &t).expect("digests differ, so records do");
            let i = s.iter().position(|r| Some(r.offset) == m.source_offset).unwrap_or(0) as u64;
            return Ok(result(
                Verdict::Fail { mismatch: m },
                false,
                compared + i,
                last_s,
                last_t,
            ));
        }
        if n > 0 {
            compared += n as u64;
            last_s = s[n - 1].offset + 1;
            last_t = t[n - 1].offset + 1;
            tracing::debug!(source_to = last_s, target_to = last_t, compared, "chunk equal");
        }
        match (s.len().cmp(&t.len()), s.is_empty()) {
            // The source ended: anything more on the target is extra.
            (_, true) => {
                return Ok(match t.first() {
                    Some(extra) => result(
                        Verdict::Fail {
                            mismatch: Mismatch {
                                kind: MismatchKind::ExtraOnTarget,
                                source_offset: None,
                                target_offset: Some(extra.offset),
                                key: None,
                            },
                        },
                        false,
                        compared,
                        last_s,
                        last_t,
                    ),
                    None => result(Verdict::Pass, false, compared, last_s, last_t),
                })
            }
            // The target ended first: the rest of the source is not copied yet.
            (std::cmp::Ordering::Greater, false) => return Ok(result(Verdict::Pass, true, compared, last_s, last_t)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(offset: i64, v: &str) -> Located {
        Located {
            topic: "t".into(),
            partition: 0,
            offset,
            record: Record {
                key: Some(b"k".to_vec()),
                value: Some(v.as_bytes().to_vec()),
                headers: vec![],
                timestamp: Some(7),
            },
        }
    }

    fn run(values: &[&str], offset: i64) -> Vec<Located> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| rec(offset + i as i64, v))
            .collect()
    }

    #[test]
    fn canonical_encoding_separates_fields() {
        let a = Record {
            key: Some(b"ab".to_vec()),
            value: Some(b"c".to_vec()),
            headers: vec![],
            timestamp: None,
        };
        let b = Record {
            key: Some(b"a".to_vec()),
            value: Some(b"bc".to_vec()),
            headers: vec![],
            timestamp: None,
        };
        let c = Record {
            key: None,
            value: Some(b"abc".to_vec()),
            headers: vec![],
            timestamp: None,
        };
        let enc = |r: &Record| {
            let mut v = Vec::new();
            canonical(r, &mut v);
            v
        };
        assert_ne!(enc(&a), enc(&b));
        assert_ne!(enc(&a), enc(&c));
    }

    #[test]
    fn classifies_the_first_difference() {
        let s = run(&["a", "b", "c", "d"], 100);
        let kind = |t: &[&str]| first_difference(&s, &run(t, 0)).map(|m| (m.kind, m.source_offset, m.target_offset));
        assert_eq!(kind(&["a", "b", "c", "d"]), None);
        assert_eq!(
            kind(&["a", "c", "d"]),
            Some((MismatchKind::MissingOnTarget, Some(101), Some(1)))
        );
        assert_eq!(
            kind(&["a", "a", "b", "c"]),
            Some((MismatchKind::ExtraOnTarget, Some(101), Some(1)))
        );
        assert_eq!(
            kind(&["a", "c", "b", "d"]),
            Some((MismatchKind::OutOfOrder, Some(101), Some(1)))
        );
        assert_eq!(
            kind(&["a", "x", "c", "d"]),
            Some((MismatchKind::Differs("value differs".into()), Some(101), Some(1)))
        );
    }

    /// An in-memory partition: a unit-test stand-in for pure logic only.
    struct Partition {
        records: Vec<Located>,
        at: usize,
    }

    impl Cursor for Partition {
        fn seek(&mut self, offset: i64) -> Result<(), crate::kafka::Error> {
            self.at = self
                .records
                .iter()
                .position(|r| r.offset >= offset)
                .unwrap_or(self.records.len());
            Ok(())
        }
        fn next(&mut self) -> Result<Option<Located>, crate::kafka::Error> {
            self.at += 1;
            Ok(self.records.get(self.at - 1).cloned())
        }
        fn offset_for_time(&mut self, _: i64) -> Result<Option<i64>, crate::kafka::Error> {
            Ok(None)
        }
        fn records_read(&self) -> u64 {
            self.at as u64
        }
        fn end_offset(&mut self) -> Result<i64, crate::kafka::Error> {
            Ok(self.records.last().map_or(0, |r| r.offset + 1))
        }
        fn start_offset(&mut self) -> Result<i64, crate::kafka::Error> {
            Ok(0)
        }
    }

    /// An offset-preserving replicator after a rollback: source 0..30 is target 0..10, then 5
    /// records written on the target only (10..15), then target 15..35.
    #[test]
    fn identity_validation_steps_over_target_only_records_and_still_checks_offsets() {
        use crate::kafka::cursor::SkipTargetOnly;
        use crate::model::target_only::TargetOnlyRange;
        let values: Vec<String> = (0..30).map(|i| format!("v{i}")).collect();
        let source = run(&values.iter().map(String::as_str).collect::<Vec<_>>(), 0);
        let mut target: Vec<Located> = Vec::new();
        for o in 0..35i64 {
            let v = match o {
                0..10 => values[o as usize].clone(),
                10..15 => format!("written on the target {o}"),
                _ => values[o as usize - 5].clone(),
            };
            target.push(rec(o, &v));
        }
        let ranges = vec![TargetOnlyRange {
            wave: "w".into(),
            topic: "t".into(),
            partition: 0,
            from: 10,
            to: Some(15),
            flipped_at_ms: 0,
            stopped_at_ms: Some(1),
        }];
        let p = PartitionRanges(&ranges);
        let validate = |target: Vec<Located>, start: (i64, i64)| {
            let mut s = Partition {
                records: source.clone(),
                at: 0,
            };
            let mut t = SkipTargetOnly::new(Partition { records: target, at: 0 }, ranges.clone());
            validate_range(&mut s, &mut t, start, Some(p)).unwrap()
        };
        let r = validate(target.clone(), (0, p.shift(0)));
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        assert_eq!(
            (r.source_range, r.target_range, r.records_compared),
            ((0, 30), (0, 35), 30)
        );
        // From after the range, aligned as `align` aligns it.
        let mut s = Partition {
            records: source.clone(),
            at: 0,
        };
        let mut t = Partition {
            records: target.clone(),
            at: 0,
        };
        assert_eq!(align(&mut s, &mut t, None, Some(p), 12).unwrap(), Start::At(12, 17));
        assert_eq!(validate(target.clone(), (12, 17)).verdict, Verdict::Pass);
        // A record moved to another offset after the range still fails.
        let mut moved = target.clone();
        moved.remove(20);
        for r in moved.iter_mut().skip(20) {
            r.offset -= 1;
        }
        moved.push(rec(34, "late"));
        let r = validate(moved, (0, 0));
        assert!(matches!(r.verdict, Verdict::Fail { .. }), "{r:?}");
    }
}
