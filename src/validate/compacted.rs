//! Compacted topics, key by key: the newest value of every key on each side must agree.
//!
//! Compaction runs on each cluster at its own pace, so record counts and offsets differ;
//! only the latest state is compared. A tombstone deletes a key; a key compacted away on one
//! side only is no failure while the values that do exist agree. Memory holds a digest of
//! each key and of its newest value, and that record's offset (to name the key on failure),
//! never the values themselves.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::{Mismatch, MismatchKind};
use crate::kafka::cursor::Cursor;
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
/// newest records on each side for that key.
pub fn compare(source: &LatestState, target: &LatestState) -> Option<(MismatchKind, Option<i64>, Option<i64>)> {
    let mut problems: Vec<(i64, MismatchKind, Option<i64>, Option<i64>)> = Vec::new();
    for (k, (sv, so)) in &source.keys {
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
    for (k, (tv, to)) in &target.keys {
        if tv.is_some() && !source.keys.contains_key(k) {
            problems.push((i64::MAX, MismatchKind::KeyExtraOnTarget, None, Some(*to)));
        }
    }
    problems.sort_by_key(|(order, _, _, t)| (*order, *t));
    problems.into_iter().next().map(|(_, kind, s, t)| (kind, s, t))
}

/// Reads a whole partition into its latest state.
pub fn read_state(cursor: &mut dyn Cursor, from: i64) -> Result<LatestState, String> {
    cursor.seek(from)?;
    let mut state = LatestState::default();
    while let Some(r) = cursor.next()? {
        state.add(&r);
    }
    Ok(state)
}

/// The key of the record at `offset`, for the report ("customer-17", or hex if not UTF-8).
pub fn key_at(cursor: &mut dyn Cursor, offset: i64) -> Result<Option<String>, String> {
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

/// Validates a compacted partition pair: None when the latest states agree.
pub fn validate(
    source: &mut dyn Cursor,
    target: &mut dyn Cursor,
    source_from: i64,
    target_from: i64,
) -> Result<(Option<Mismatch>, u64, u64), String> {
    let s = read_state(source, source_from)?;
    let t = read_state(target, target_from)?;
    let Some((kind, so, to)) = compare(&s, &t) else {
        return Ok((None, s.records, t.records));
    };
    let key = match (so, to) {
        (Some(o), _) => key_at(source, o)?,
        (None, Some(o)) => key_at(target, o)?,
        (None, None) => None,
    };
    Ok((
        Some(Mismatch {
            kind,
            source_offset: so,
            target_offset: to,
            key,
        }),
        s.records,
        t.records,
    ))
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
            compare(&source, &target),
            None,
            "b deleted on the source, absent on the target: fine"
        );
        let wrong = state(&[(0, "a", Some("1")), (1, "c", Some("1"))]);
        assert_eq!(
            compare(&source, &wrong),
            Some((MismatchKind::KeyValueDiffers, Some(1), Some(0)))
        );
        let missing = state(&[(0, "a", Some("2"))]);
        assert_eq!(
            compare(&source, &missing),
            Some((MismatchKind::KeyMissingOnTarget, Some(4), None))
        );
        let resurrected = state(&[(0, "a", Some("2")), (1, "b", Some("1")), (2, "c", Some("1"))]);
        assert_eq!(
            compare(&source, &resurrected),
            Some((MismatchKind::KeyDeletedOnSourceOnly, Some(3), Some(1)))
        );
        let extra = state(&[(0, "a", Some("2")), (1, "c", Some("1")), (2, "z", Some("9"))]);
        assert_eq!(
            compare(&source, &extra),
            Some((MismatchKind::KeyExtraOnTarget, None, Some(2)))
        );
    }
}
