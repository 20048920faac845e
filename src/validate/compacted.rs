//! Compacted topics, key by key: the newest value of every key on each side must agree.
//!
//! Compaction runs on each cluster at its own pace, so record counts and offsets differ;
//! only the latest state is compared. A tombstone deletes a key; a key compacted away on one
//! side only is no failure while the values that do exist agree. Memory holds a digest of
//! each key and of its newest value, and that record's offset (to name the key on failure),
//! never the values themselves.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::{Mismatch, MismatchKind};
use crate::kafka::cursor::{Bounded, Cursor};
use crate::kafka::records::{Located, Record};

type Hash = [u8; 32];

fn hash(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// The newest value of each key: its digest (None: deleted by a tombstone) and offset.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LatestState {
    keys: HashMap<Hash, (Option<Hash>, i64)>,
    /// Records without a key, which compaction cannot keep apart.
    pub keyless: u64,
    pub records: u64,
}

/// Everything of a record but its key: the value, headers and timestamp.
fn value_digest(r: &Record) -> Option<Hash> {
    r.value.as_ref()?;
    let without_key = Record { key: None, ..r.clone() };
    let mut buf = Vec::new();
    super::canonical(&without_key, &mut buf);
    Some(hash(&buf))
}

impl LatestState {
    pub fn add(&mut self, r: &Located) {
        self.records += 1;
        let Some(key) = &r.record.key else {
            self.keyless += 1;
            return;
        };
        self.keys.insert(hash(key), (value_digest(&r.record), r.offset));
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Where the two states disagree first (in a stable order): the kind, and the offsets of the
/// newest records on each side for that key. Keys in `written_since` are not compared.
pub fn compare(
    source: &LatestState,
    target: &LatestState,
    written_since: &HashSet<Hash>,
) -> Option<(MismatchKind, Option<i64>, Option<i64>)> {
    let mut problems: Vec<(i64, MismatchKind, Option<i64>, Option<i64>)> = Vec::new();
    for (k, (sv, so)) in source.keys.iter().filter(|(k, _)| !written_since.contains(*k)) {
        match (sv, target.keys.get(k)) {
            (Some(_), None) => problems.push((*so, MismatchKind::KeyMissingOnTarget, Some(*so), None)),
            (Some(a), Some((Some(b), to))) if a != b => {
                problems.push((*so, MismatchKind::KeyValueDiffers, Some(*so), Some(*to)))
            }
            (Some(_), Some((None, to))) => {
                problems.push((*so, MismatchKind::KeyDeletedOnTargetOnly, Some(*so), Some(*to)))
            }
            (None, Some((Some(_), to))) => {
                problems.push((*so, MismatchKind::KeyDeletedOnSourceOnly, Some(*so), Some(*to)))
            }
            _ => {}
        }
    }
    for (k, (tv, to)) in target.keys.iter().filter(|(k, _)| !written_since.contains(*k)) {
        if tv.is_some() && !source.keys.contains_key(k) {
            problems.push((i64::MAX, MismatchKind::KeyExtraOnTarget, None, Some(*to)));
        }
    }
    problems.sort_by_key(|(order, _, _, t)| (*order, *t));
    problems.into_iter().next().map(|(_, kind, s, t)| (kind, s, t))
}

/// Reads a partition from `from` to its end into its latest state; also returns the newest
/// record read.
pub fn read_state(cursor: &mut dyn Cursor, from: i64) -> crate::error::Result<(LatestState, Option<Located>)> {
    cursor.seek(from)?;
    let mut state = LatestState::default();
    let mut newest = None;
    while let Some(r) = cursor.next()? {
        state.add(&r);
        newest = Some(r);
    }
    Ok((state, newest))
}

/// The source's latest state as of the target's newest record: read from `from` up to and
/// including the first record with the same content (key, value, headers, timestamp). None
/// when the source has no such record (the target's newest record is not a copy).
fn state_up_to(
    cursor: &mut dyn Cursor,
    from: i64,
    copy_of: &Record,
) -> crate::error::Result<Option<(LatestState, i64)>> {
    cursor.seek(from)?;
    let mut state = LatestState::default();
    while let Some(r) = cursor.next()? {
        state.add(&r);
        if r.record == *copy_of {
            return Ok(Some((state, r.offset + 1)));
        }
    }
    Ok(None)
}

/// The digests of the keys written from `from` to the partition's end now.
fn keys_written_since(cursor: &mut dyn Cursor, from: i64) -> crate::error::Result<HashSet<Hash>> {
    let end = cursor.end_offset()?;
    let mut keys = HashSet::new();
    if end > from {
        let mut bounded = Bounded::new(cursor, end);
        bounded.seek(from)?;
        while let Some(r) = bounded.next()? {
            if let Some(k) = &r.record.key {
                keys.insert(hash(k));
            }
        }
    }
    Ok(keys)
}

/// The key of the record at `offset`, for the report ("customer-17", or hex if not UTF-8).
pub fn key_at(cursor: &mut dyn Cursor, offset: i64) -> crate::error::Result<Option<String>> {
    cursor.seek(offset)?;
    Ok(cursor
        .next()?
        .filter(|r| r.offset == offset)
        .and_then(|r| r.record.key)
        .map(|k| match String::from_utf8(k) {
            Ok(s) => s,
            Err(e) => e.into_bytes().iter().map(|b| format!("{b:02x}")).collect(),
        }))
}

/// What comparing a compacted partition pair found.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    pub mismatch: Option<Mismatch>,
    /// Source offsets [from, to) compared: up to what the target has copied.
    pub source_range: (i64, i64),
    /// Target offsets [from, to) compared: up to its end when the run began.
    pub target_range: (i64, i64),
    /// Source records after `source_range`, not copied yet.
    pub pending: bool,
    pub records_read: (u64, u64),
}

/// Validates a compacted partition pair as of what the target has copied: the target is read
/// to its end (fixed first), the source only up to the record the target's newest record is a
/// copy of (offset-preserving: the same offset). Updates and tombstones the replicator has not
/// copied yet are then "not copied yet", never a failure; a key whose newest value on the
/// target is older than the source's at that position, or missing, fails.
pub fn validate(
    source: &mut dyn Cursor,
    target: &mut dyn Cursor,
    source_from: i64,
    target_from: i64,
    identity: bool,
) -> crate::error::Result<Compared> {
    let target_end = target.end_offset()?;
    let source_end = source.end_offset()?;
    let mut target = Bounded::new(target, target_end);
    let (t, newest) = read_state(&mut target, target_from)?;
    let (s, source_to, not_a_copy) = if identity {
        let bound = target_end.min(source_end);
        let (s, _) = read_state(&mut Bounded::new(&mut *source, bound), source_from)?;
        (s, bound, None)
    } else {
        match &newest {
            None => (LatestState::default(), source_from, None),
            Some(n) => match state_up_to(&mut Bounded::new(&mut *source, source_end), source_from, &n.record)? {
                Some((s, to)) => (s, to, None),
                None => {
                    // Compared with the whole source, the key of that record cannot agree.
                    let (s, _) = read_state(&mut Bounded::new(&mut *source, source_end), source_from)?;
                    (s, source_end, Some(n.offset))
                }
            },
        }
    };
    let mut superseded = false;
    let found = match not_a_copy {
        Some(offset) => Some((MismatchKind::KeyValueDiffers, None, Some(offset))),
        None => match compare(&s, &t, &HashSet::new()) {
            None => None,
            Some(_) => {
                // The cleaners run while a run reads: a record written past a side's bound
                // compacts that key's older records below it away. A key written again past
                // either bound is not copied yet (or superseded), never a difference.
                let mut written_since = keys_written_since(target.inner_mut(), target_end)?;
                written_since.extend(keys_written_since(source, source_to)?);
                superseded = true;
                compare(&s, &t, &written_since)
            }
        },
    };
    let compared = |mismatch| Compared {
        mismatch,
        source_range: (source_from, source_to),
        target_range: (target_from, target_end),
        pending: source_to < source_end || superseded,
        records_read: (s.records, t.records),
    };
    let Some((kind, so, to)) = found else {
        return Ok(compared(None));
    };
    let key = match (so, to) {
        (Some(o), _) => key_at(source, o)?,
        (None, Some(o)) => key_at(target.inner_mut(), o)?,
        (None, None) => None,
    };
    Ok(compared(Some(Mismatch {
        kind,
        source_offset: so,
        target_offset: to,
        key,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(offset: i64, key: &str, value: Option<&str>) -> Located {
        Located {
            topic: "t".into(),
            partition: 0,
            offset,
            record: Record {
                key: Some(key.as_bytes().to_vec()),
                value: value.map(|v| v.as_bytes().to_vec()),
                headers: vec![],
                timestamp: Some(1),
            },
        }
    }

    fn state(records: &[(i64, &str, Option<&str>)]) -> LatestState {
        let mut s = LatestState::default();
        for (o, k, v) in records {
            s.add(&rec(*o, k, *v));
        }
        s
    }

    #[test]
    fn latest_state_rules() {
        let source = state(&[
            (0, "a", Some("1")),
            (1, "a", Some("2")),
            (2, "b", Some("1")),
            (3, "b", None),
            (4, "c", Some("1")),
        ]);
        // The target was compacted differently: older values and the tombstone are gone.
        let target = state(&[(0, "a", Some("2")), (1, "c", Some("1"))]);
        assert_eq!(
            compare(&source, &target, &HashSet::new()),
            None,
            "b deleted on the source, absent on the target: fine"
        );
        let wrong = state(&[(0, "a", Some("1")), (1, "c", Some("1"))]);
        assert_eq!(
            compare(&source, &wrong, &HashSet::new()),
            Some((MismatchKind::KeyValueDiffers, Some(1), Some(0)))
        );
        let missing = state(&[(0, "a", Some("2"))]);
        assert_eq!(
            compare(&source, &missing, &HashSet::new()),
            Some((MismatchKind::KeyMissingOnTarget, Some(4), None))
        );
        let resurrected = state(&[(0, "a", Some("2")), (1, "b", Some("1")), (2, "c", Some("1"))]);
        assert_eq!(
            compare(&source, &resurrected, &HashSet::new()),
            Some((MismatchKind::KeyDeletedOnSourceOnly, Some(3), Some(1)))
        );
        let extra = state(&[(0, "a", Some("2")), (1, "c", Some("1")), (2, "z", Some("9"))]);
        assert_eq!(
            compare(&source, &extra, &HashSet::new()),
            Some((MismatchKind::KeyExtraOnTarget, None, Some(2)))
        );
        // c written again past a bound (its older records compacted away below it): not
        // compared; every other key still is.
        let written_since = HashSet::from([hash(b"c")]);
        assert_eq!(compare(&source, &missing, &written_since), None);
        assert_eq!(
            compare(&source, &wrong, &written_since),
            Some((MismatchKind::KeyValueDiffers, Some(1), Some(0)))
        );
    }
}
