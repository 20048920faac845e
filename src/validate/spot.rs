//! Spot checks for very large topics: SHA-256 of a random sample of records, each compared
//! with the record at its mapped offset on the target. Cheaper than a full validation and
//! weaker: it finds a difference only where a sampled record lands on it.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{canonical, Mismatch, MismatchKind, Verdict};
use crate::kafka::cursor::Cursor;
use crate::kafka::records::Record;

/// Up to `n` distinct offsets in [low, high), drawn with `seed` (so a run can be repeated).
pub fn sample_offsets(low: i64, high: i64, n: usize, seed: u64) -> Vec<i64> {
    let span = (high - low).max(0) as usize;
    if span <= n {
        return (low..high).collect();
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut picked = std::collections::BTreeSet::new();
    while picked.len() < n {
        picked.insert(low + rng.gen_range(0..span) as i64);
    }
    picked.into_iter().collect()
}

/// Where a source offset's record should be on the target: counted from the newest sync at
/// or below it (exact while nothing was lost or added since), or the same offset; the records
/// written on the target only (`target_only`) are counted over.
pub fn mapped_offset(
    offset: i64,
    anchor: Option<(i64, i64)>,
    identity: bool,
    target_only: crate::model::target_only::PartitionRanges,
) -> Option<i64> {
    if identity {
        return Some(target_only.shift(offset));
    }
    let (up, down) = anchor?;
    Some(target_only.advance(down, offset - up))
}

fn sha256(r: &Record) -> [u8; 32] {
    let mut buf = Vec::new();
    canonical(r, &mut buf);
    Sha256::digest(&buf).into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpotResult {
    /// Sampled records compared (samples on offset gaps are passed over).
    pub checked: u64,
    pub verdict: Verdict,
}

/// Compares each sampled source record with the target record at its mapped offset.
pub fn spot_check(
    source: &mut dyn Cursor,
    target: &mut dyn Cursor,
    offsets: &[i64],
    map: &dyn Fn(i64) -> Option<i64>,
) -> crate::error::Result<SpotResult> {
    let mut checked = 0;
    for &o in offsets {
        source.seek(o)?;
        // A gap (transaction marker, compacted record) has no record to sample.
        let Some(s) = source.next()?.filter(|r| r.offset == o) else {
            continue;
        };
        let Some(t_off) = map(o) else { continue };
        target.seek(t_off)?;
        let t = target.next()?.filter(|r| r.offset == t_off);
        checked += 1;
        let kind = match &t {
            None => Some(MismatchKind::MissingOnTarget),
            Some(t) if sha256(&s.record) != sha256(&t.record) => {
                Some(MismatchKind::Differs("sampled record's SHA-256 differs".into()))
            }
            Some(_) => None,
        };
        if let Some(kind) = kind {
            let mismatch = Mismatch {
                kind,
                source_offset: Some(o),
                target_offset: Some(t_off),
                key: None,
            };
            return Ok(SpotResult {
                checked,
                verdict: Verdict::Fail { mismatch },
            });
        }
    }
    Ok(SpotResult {
        checked,
        verdict: Verdict::Pass,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_bounded_and_repeatable() {
        let a = sample_offsets(100, 10_000, 50, 7);
        assert_eq!(a.len(), 50);
        assert!(a.iter().all(|o| (100..10_000).contains(o)));
        assert_eq!(a, sample_offsets(100, 10_000, 50, 7));
        assert_ne!(a, sample_offsets(100, 10_000, 50, 8));
        assert_eq!(sample_offsets(0, 3, 50, 1), vec![0, 1, 2]);
        assert_eq!(
            mapped_offset(250, Some((202, 209)), false, Default::default()),
            Some(257)
        );
        assert_eq!(mapped_offset(250, None, false, Default::default()), None);
        assert_eq!(mapped_offset(250, None, true, Default::default()), Some(250));
    }
}
