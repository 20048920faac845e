//! Exact, content-verified offset translation.
//!
//! For a committed source offset C: anchor at MM2's newest offset-sync with upstream <= C and
//! read both sides in lockstep from the anchor, matching records by key, value, headers and
//! timestamp, until the source reaches C. The target position reached is the exact
//! translation. Without a sync, the target is searched by the timestamp of the source record
//! at C. With an offset-preserving replicator the translation is the identity, checked on a
//! sample of records. Wherever content differs there is no exact translation, and the first
//! difference is reported with its offsets on both sides.

pub mod group;
pub mod report;

use crate::config::{Replication, ReplicationKind};
use crate::kafka::cursor::Cursor;
use crate::kafka::records::{Located, Record};
use crate::mm2::syncs::SyncHistory;
use crate::model::target_only::PartitionRanges;
pub use crate::model::translation::{Anchor, Outcome, Translated, WalkedOver};

use std::collections::VecDeque;

/// How two records differ ("value differs"), or None when they are the same record.
pub fn difference(source: &Record, target: &Record) -> Option<String> {
    let mut d = Vec::new();
    if source.key != target.key {
        d.push("key differs".to_string());
    }
    if source.value != target.value {
        d.push("value differs".to_string());
    }
    if source.headers != target.headers {
        d.push("headers differ".to_string());
    }
    if source.timestamp != target.timestamp {
        d.push(format!(
            "timestamp differs ({} vs {})",
            source.timestamp.map_or("none".into(), |t| t.to_string()),
            target.timestamp.map_or("none".into(), |t| t.to_string())
        ));
    }
    (!d.is_empty()).then(|| d.join(", "))
}

/// Records looked ahead on each side when the walk meets a difference, to find where the
/// streams agree again (a duplicate, a lost record, a corrupted copy). A difference the
/// window cannot resolve leaves no exact translation.
pub const LOOKAHEAD: usize = 500;
/// Records after the point where the streams agree again that must agree too (as far as both
/// sides go), so a repeated record is not mistaken for it.
pub const AGREE_AGAIN: usize = 3;

/// A cursor with a bounded lookahead.
struct Ahead<'a> {
    cursor: &'a mut dyn Cursor,
    buffered: VecDeque<Located>,
    ended: bool,
}

impl<'a> Ahead<'a> {
    fn new(cursor: &'a mut dyn Cursor) -> Self {
        Ahead {
            cursor,
            buffered: VecDeque::new(),
            ended: false,
        }
    }

    /// The next `n` records (fewer at the partition's end).
    fn peek_n(&mut self, n: usize) -> crate::error::Result<&VecDeque<Located>> {
        while self.buffered.len() < n && !self.ended {
            match self.cursor.next()? {
                Some(r) => self.buffered.push_back(r),
                None => self.ended = true,
            }
        }
        Ok(&self.buffered)
    }

    fn peek(&mut self) -> crate::error::Result<Option<&Located>> {
        Ok(self.peek_n(1)?.front())
    }

    fn pop(&mut self) -> crate::error::Result<Option<Located>> {
        self.peek_n(1)?;
        Ok(self.buffered.pop_front())
    }
}

/// Where two runs of records agree again: the smallest (a, b) (fewest records stepped over)
/// with source[a] == target[b] and the next `AGREE_AGAIN` records agreeing too.
fn agree_again(source: &VecDeque<Located>, target: &VecDeque<Located>) -> Option<(usize, usize)> {
    let same = |i: usize, j: usize| difference(&source[i].record, &target[j].record).is_none();
    for skipped in 1..source.len() + target.len() {
        // Prefer stepping over target records (duplicates) before source records.
        for a in 0..=skipped {
            let b = skipped - a;
            if a >= source.len() || b >= target.len() || !same(a, b) {
                continue;
            }
            let more = AGREE_AGAIN.min(source.len() - a - 1).min(target.len() - b - 1);
            if (1..=more).all(|k| same(a + k, b + k)) {
                return Some((a, b));
            }
        }
    }
    None
}

/// A lockstep walk of both sides from an exact pair, stepping over what `agree_again` explains.
struct Walk<'a> {
    src: Ahead<'a>,
    tgt: Ahead<'a>,
    /// The newest matched source records, to recognise a duplicate on the target.
    matched: VecDeque<Located>,
    walked: Vec<WalkedOver>,
    after_last_match: i64,
    /// Set when the walk cannot go on: the first difference it could not explain.
    broken: Option<Outcome>,
}

impl Walk<'_> {
    fn matched(&mut self, s: Located, t: &Located) {
        self.after_last_match = t.offset + 1;
        self.matched.push_back(s);
        if self.matched.len() > LOOKAHEAD {
            self.matched.pop_front();
        }
    }

    fn duplicate_of(&self, t: &Located) -> Option<i64> {
        self.matched
            .iter()
            .rev()
            .find(|m| difference(&m.record, &t.record).is_none())
            .map(|m| m.offset)
    }

    /// Steps over the difference at the heads of both sides, if the lookahead explains it;
    /// with `only_target`, only target records (duplicates or records not on the source) may
    /// be stepped over. False when it cannot be explained.
    fn step_over(&mut self, only_target: bool) -> crate::error::Result<bool> {
        let source = self.src.peek_n(LOOKAHEAD)?.clone();
        let target = self.tgt.peek_n(LOOKAHEAD)?.clone();
        let Some((a, b)) = agree_again(&source, &target) else {
            return Ok(false);
        };
        if only_target && a > 0 {
            return Ok(false);
        }
        for t in target.iter().take(b) {
            self.walked.push(match self.duplicate_of(t) {
                Some(of_source) => WalkedOver::Duplicate {
                    target_offset: t.offset,
                    of_source,
                },
                None => WalkedOver::NotOnSource {
                    target_offset: t.offset,
                },
            });
            self.tgt.pop()?;
        }
        for s in source.iter().take(a) {
            self.walked.push(WalkedOver::Missing {
                source_offset: s.offset,
            });
            self.src.pop()?;
        }
        Ok(true)
    }

    /// Walks until the next source record is at or after `committed`.
    fn advance_to(&mut self, committed: i64) -> crate::error::Result<()> {
        while self.broken.is_none() {
            let Some(s) = self.src.peek()?.filter(|s| s.offset < committed).cloned() else {
                return Ok(());
            };
            let Some(t) = self.tgt.peek()?.cloned() else {
                self.broken = Some(Outcome::Diverged {
                    source_offset: s.offset,
                    target_offset: None,
                    difference: "not on the target (not copied yet, or lost)".into(),
                });
                return Ok(());
            };
            match difference(&s.record, &t.record) {
                None => {
                    self.src.pop()?;
                    self.tgt.pop()?;
                    self.matched(s, &t);
                }
                Some(d) => {
                    if !self.step_over(false)? {
                        self.broken = Some(Outcome::Diverged {
                            source_offset: s.offset,
                            target_offset: Some(t.offset),
                            difference: d,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Where the group resumes after `committed`: the next target record must be the next
    /// source record, after any duplicates of records already read.
    fn resume(&mut self, committed: i64) -> crate::error::Result<(Outcome, Vec<WalkedOver>)> {
        if let Some(b) = &self.broken {
            return Ok((b.clone(), self.walked.clone()));
        }
        // A record lost at or after the committed offset: the group would skip it.
        if let Some(WalkedOver::Missing { source_offset }) = self
            .walked
            .iter()
            .find(|w| matches!(w, WalkedOver::Missing { source_offset } if *source_offset >= committed))
        {
            let outcome = Outcome::Diverged {
                source_offset: *source_offset,
                target_offset: None,
                difference: "not on the target, at or after the committed offset".into(),
            };
            return Ok((outcome, self.walked.clone()));
        }
        loop {
            let next_source = self.src.peek()?.cloned();
            let next_target = self.tgt.peek()?.cloned();
            let (Some(s), Some(t)) = (next_source, next_target) else {
                let outcome = Outcome::Exact {
                    target_offset: self.after_last_match,
                    verified_next: false,
                };
                return Ok((outcome, self.walked.clone()));
            };
            match difference(&s.record, &t.record) {
                None => {
                    let outcome = Outcome::Exact {
                        target_offset: t.offset,
                        verified_next: true,
                    };
                    return Ok((outcome, self.walked.clone()));
                }
                Some(d) => {
                    // Only extra target records may be stepped over here: a source record
                    // missing at the resume point is one the group has not read yet.
                    let before = self.walked.len();
                    if self.step_over(true)? {
                        self.after_last_match = self.tgt.peek()?.map_or(self.after_last_match, |t| t.offset);
                        continue;
                    }
                    self.walked.truncate(before);
                    let outcome = Outcome::Diverged {
                        source_offset: s.offset,
                        target_offset: Some(t.offset),
                        difference: d,
                    };
                    return Ok((outcome, self.walked.clone()));
                }
            }
        }
    }
}

/// Walks both sides from an exact pair (source `up` is target `down`) and translates every
/// committed offset in `committed` (ascending, all >= `up`) in one pass. Differences before a
/// committed offset that the lookahead explains (duplicates, lost or corrupted records) are
/// stepped over and returned with it; one it cannot explain ends the walk.
pub fn walk_from_sync(
    source: &mut dyn Cursor,
    target: &mut dyn Cursor,
    (up, down): (i64, i64),
    committed: &[i64],
) -> crate::error::Result<Vec<(Outcome, Vec<WalkedOver>)>> {
    source.seek(up)?;
    target.seek(down)?;
    let mut walk = Walk {
        src: Ahead::new(source),
        tgt: Ahead::new(target),
        matched: VecDeque::new(),
        walked: Vec::new(),
        after_last_match: down,
        broken: None,
    };
    let mut out = Vec::with_capacity(committed.len());
    for &c in committed {
        walk.advance_to(c)?;
        out.push(walk.resume(c)?);
    }
    Ok(out)
}

/// Target records scanned after the timestamp's offset: producer timestamps are not
/// monotonic, so the search cannot stop at the first later timestamp.
pub const TIMESTAMP_SCAN: usize = 10_000;
/// Records after a candidate that must match too, so identical records elsewhere on the
/// target (a replay, an earlier copy) are not mistaken for it.
pub const CONFIRM: usize = 20;

/// Without a sync at or below C: find the target record equal to the source record at C by
/// its timestamp (MM2 keeps timestamps), confirmed by the records that follow it.
pub fn seek_by_timestamp(
    source: &mut dyn Cursor,
    target: &mut dyn Cursor,
    committed: i64,
) -> crate::error::Result<Translated> {
    let done = |anchor, outcome| Translated {
        committed,
        anchor,
        outcome,
        walked_over: Vec::new(),
    };
    let unavailable = |reason: &str| Outcome::Unavailable { reason: reason.into() };
    source.seek(committed)?;
    let mut expected = Vec::with_capacity(CONFIRM + 1);
    while expected.len() <= CONFIRM {
        match source.next()? {
            Some(r) => expected.push(r),
            None => break,
        }
    }
    let Some(first) = expected.first().cloned() else {
        return Ok(done(
            None,
            unavailable("no offset-sync at or below it, and no source record at or after it to search by"),
        ));
    };
    let Some(ts) = first.record.timestamp else {
        return Ok(done(
            None,
            unavailable("no offset-sync at or below it, and no source timestamp to search by (the record has none, or the target topic stamps its own times)"),
        ));
    };
    let diverged = |target_offset, difference: &str| Outcome::Diverged {
        source_offset: first.offset,
        target_offset,
        difference: difference.into(),
    };
    let Some(start) = target.offset_for_time(ts)? else {
        return Ok(done(None, diverged(None, "no target record at or after its timestamp")));
    };
    target.seek(start)?;
    let mut candidates = Vec::new();
    for _ in 0..TIMESTAMP_SCAN {
        let Some(t) = target.next()? else { break };
        if difference(&first.record, &t.record).is_none() {
            candidates.push(t.offset);
        }
    }
    let mut confirmed = Vec::new();
    for c in candidates {
        target.seek(c)?;
        let mut all_match = true;
        for s in &expected {
            match target.next()? {
                // The target may simply not have the later records yet.
                None => break,
                Some(t) if difference(&s.record, &t.record).is_none() => {}
                Some(_) => {
                    all_match = false;
                    break;
                }
            }
        }
        if all_match {
            confirmed.push(c);
        }
    }
    Ok(match confirmed.as_slice() {
        [] => done(
            None,
            diverged(
                Some(start),
                "no target record at or after its timestamp has its content",
            ),
        ),
        [t] => done(
            Some(Anchor::Timestamp {
                timestamp: ts,
                target_offset: *t,
            }),
            Outcome::Exact {
                target_offset: *t,
                verified_next: true,
            },
        ),
        many => done(
            None,
            unavailable(&format!(
                "ambiguous: target offsets {} all hold the same records",
                many.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ")
            )),
        ),
    })
}

/// Records compared before C in identity mode.
pub const IDENTITY_SAMPLE: i64 = 10;

/// Offset-preserving replicators: the same offsets on both sides, checked on the records
/// just before C and the one at C.
///
/// `target_only`: records written on the target only during a wave (the target cursor steps
/// over them): the target's offsets moved on by them, and a group resumes after them.
pub fn check_identity(
    source: &mut dyn Cursor,
    target: &mut dyn Cursor,
    committed: i64,
    target_only: PartitionRanges,
) -> crate::error::Result<Translated> {
    let from = (committed - IDENTITY_SAMPLE).max(0);
    source.seek(from)?;
    target.seek(target_only.shift(from))?;
    let resume = target_only.shift(committed);
    let mut outcome = Outcome::Exact {
        target_offset: resume,
        verified_next: false,
    };
    loop {
        let (s, t) = (source.next()?, target.next()?);
        let (s, t) = match (s, t) {
            (None, None) => break,
            (Some(s), None) => {
                outcome = Outcome::Diverged {
                    source_offset: s.offset,
                    target_offset: None,
                    difference: "not on the target".into(),
                };
                break;
            }
            (None, Some(t)) => {
                if target_only.unshift(t.offset) <= committed {
                    outcome = Outcome::Diverged {
                        source_offset: t.offset,
                        target_offset: Some(t.offset),
                        difference: "extra record on the target".into(),
                    };
                }
                break;
            }
            (Some(s), Some(t)) => (s, t),
        };
        let diff = if s.offset != target_only.unshift(t.offset) {
            Some(format!("offsets differ ({} vs {})", s.offset, t.offset))
        } else {
            difference(&s.record, &t.record)
        };
        if let Some(d) = diff {
            outcome = Outcome::Diverged {
                source_offset: s.offset,
                target_offset: Some(t.offset),
                difference: d,
            };
            break;
        }
        if s.offset >= committed {
            outcome = Outcome::Exact {
                target_offset: resume,
                verified_next: true,
            };
            break;
        }
    }
    Ok(Translated {
        committed,
        anchor: Some(Anchor::Identity),
        outcome,
        walked_over: Vec::new(),
    })
}

/// Translates the committed offsets of one source partition (any order, duplicates fine).
/// `previous`: an earlier exact translation of this partition; a committed offset at or after
/// it (and after every sync below it) is walked from it, reading only the records since.
#[allow(clippy::too_many_arguments)]
pub fn translate_partition(
    source: &mut dyn Cursor,
    target: &mut dyn Cursor,
    replication: &Replication,
    syncs: &SyncHistory,
    topic: &str,
    partition: i32,
    committed: &[i64],
    previous: Option<&Translated>,
    target_only: PartitionRanges,
) -> crate::error::Result<Vec<Translated>> {
    let mut sorted = committed.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    if replication.kind == ReplicationKind::OffsetPreserving {
        for c in sorted {
            out.push(check_identity(source, target, c, target_only)?);
        }
        return Ok(out);
    }
    let mut out = translate_by_walk(source, target, syncs, topic, partition, &sorted, previous)?;
    // A group that resumes where records written on the target only begin processed them on
    // the target during the wave (they are no copy of anything it read on the source): it
    // resumes after them.
    for t in &mut out {
        if let Outcome::Exact { target_offset, .. } = &mut t.outcome {
            *target_offset = target_only.skip(*target_offset);
        }
    }
    Ok(out)
}

/// `translate_partition` with MM2's offset-syncs: walks from the anchors.
fn translate_by_walk(
    source: &mut dyn Cursor,
    target: &mut dyn Cursor,
    syncs: &SyncHistory,
    topic: &str,
    partition: i32,
    sorted: &[i64],
    previous: Option<&Translated>,
) -> crate::error::Result<Vec<Translated>> {
    let mut out = Vec::new();
    // Retention may have deleted the source records of older syncs (and of the previous
    // answer): an anchor must still be readable, else the offset is found by timestamp.
    let low = source.start_offset()?;
    let sync_anchor = |c: i64| syncs.anchor(topic, partition, c).filter(|(up, _)| *up >= low);
    // The previous translation, when it is a later exact pair than the sync.
    let from_previous = |c: i64| -> Option<(i64, i64)> {
        let p = previous?;
        let t = p.exact()?;
        let sync_up = sync_anchor(c).map_or(low, |(up, _)| up);
        (p.committed <= c && p.committed >= sync_up).then_some((p.committed, t))
    };
    let mut i = 0;
    while i < sorted.len() {
        let c = sorted[i];
        if c < low {
            out.push(Translated {
                committed: c,
                anchor: None,
                outcome: Outcome::Unavailable {
                    reason: format!(
                        "the committed offset is below the source's log start {low}: the records there were deleted"
                    ),
                },
                walked_over: Vec::new(),
            });
            i += 1;
            continue;
        }
        if let (Some(anchor), Some(p)) = (from_previous(c), previous) {
            let group: Vec<i64> = sorted[i..]
                .iter()
                .copied()
                .take_while(|c| from_previous(*c) == Some(anchor))
                .collect();
            i += group.len();
            let outcomes = walk_from_sync(source, target, anchor, &group)?;
            out.extend(
                group
                    .into_iter()
                    .zip(outcomes)
                    .map(|(c, (outcome, walked))| Translated {
                        committed: c,
                        anchor: Some(Anchor::Translation {
                            committed: anchor.0,
                            target_offset: anchor.1,
                        }),
                        outcome,
                        walked_over: p.walked_over.iter().cloned().chain(walked).collect(),
                    }),
            );
            continue;
        }
        // One lockstep walk per anchor, covering every C that anchors there.
        match sync_anchor(c) {
            None => {
                out.push(seek_by_timestamp(source, target, c)?);
                i += 1;
            }
            Some(anchor) => {
                let group: Vec<i64> = sorted[i..]
                    .iter()
                    .copied()
                    .take_while(|c| sync_anchor(*c) == Some(anchor))
                    .collect();
                i += group.len();
                let outcomes = walk_from_sync(source, target, anchor, &group)?;
                out.extend(
                    group
                        .into_iter()
                        .zip(outcomes)
                        .map(|(c, (outcome, walked_over))| Translated {
                            committed: c,
                            anchor: Some(Anchor::Sync {
                                upstream: anchor.0,
                                downstream: anchor.1,
                            }),
                            outcome,
                            walked_over,
                        }),
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory partition: a unit-test stand-in for pure logic only.
    struct Memory {
        records: Vec<Located>,
        at: usize,
        read: u64,
    }

    fn rec(offset: i64, value: &str) -> Located {
        Located {
            topic: "t".into(),
            partition: 0,
            offset,
            record: Record {
                key: None,
                value: Some(value.as_bytes().to_vec()),
                headers: vec![],
                timestamp: Some(1_000 + offset),
            },
        }
    }

    impl Memory {
        fn new(records: Vec<Located>) -> Self {
            Memory {
                records,
                at: 0,
                read: 0,
            }
        }
    }

    impl Cursor for Memory {
        fn seek(&mut self, offset: i64) -> Result<(), crate::kafka::Error> {
            self.at = self
                .records
                .iter()
                .position(|r| r.offset >= offset)
                .unwrap_or(self.records.len());
            Ok(())
        }
        fn next(&mut self) -> Result<Option<Located>, crate::kafka::Error> {
            let r = self.records.get(self.at).cloned();
            if r.is_some() {
                self.at += 1;
                self.read += 1;
            }
            Ok(r)
        }
        fn offset_for_time(&mut self, ts: i64) -> Result<Option<i64>, crate::kafka::Error> {
            Ok(self
                .records
                .iter()
                .find(|r| r.record.timestamp >= Some(ts))
                .map(|r| r.offset))
        }
        fn records_read(&self) -> u64 {
            self.read
        }
        fn end_offset(&mut self) -> Result<i64, crate::kafka::Error> {
            Ok(self.records.last().map_or(0, |r| r.offset + 1))
        }
        fn start_offset(&mut self) -> Result<i64, crate::kafka::Error> {
            Ok(self.records.first().map_or(0, |r| r.offset))
        }
    }

    /// Source offsets 100.. with gaps (transaction markers) copied to target offsets 0..
    fn sides() -> (Memory, Memory) {
        let src: Vec<Located> = [100, 101, 103, 104, 105, 107]
            .iter()
            .map(|o| rec(*o, &format!("v{o}")))
            .collect();
        let tgt: Vec<Located> = src
            .iter()
            .enumerate()
            .map(|(i, r)| rec(i as i64, &format!("v{}", r.offset)))
            .collect();
        let tgt = tgt
            .into_iter()
            .zip(&src)
            .map(|(mut t, s)| {
                t.record.timestamp = s.record.timestamp;
                t
            })
            .collect();
        (Memory::new(src), Memory::new(tgt))
    }

    fn target_only(from: i64, to: i64) -> Vec<crate::model::target_only::TargetOnlyRange> {
        vec![crate::model::target_only::TargetOnlyRange {
            wave: "w".into(),
            topic: "t".into(),
            partition: 0,
            from,
            to: Some(to),
            flipped_at_ms: 0,
            stopped_at_ms: Some(1),
        }]
    }

    /// Source 0..20 copied to target 0..10, then 5 records written on the target only (10..15),
    /// then source 10..20 copied to target 15..25.
    fn rolled_back_sides() -> (Memory, Memory) {
        let src: Vec<Located> = (0..20).map(|o| rec(o, &format!("v{o}"))).collect();
        let mut tgt: Vec<Located> = Vec::new();
        for o in 0..25 {
            let mut r = match o {
                0..10 => src[o as usize].clone(),
                10..15 => rec(o, &format!("target-only {o}")),
                _ => src[o as usize - 5].clone(),
            };
            r.offset = o;
            tgt.push(r);
        }
        (Memory::new(src), Memory::new(tgt))
    }

    #[test]
    fn translation_steps_over_target_only_records_and_resumes_after_them() {
        use crate::kafka::cursor::SkipTargetOnly;
        let (mut s, t) = rolled_back_sides();
        let ranges = target_only(10, 15);
        let mut t = SkipTargetOnly::new(t, ranges.clone());
        let mut syncs = SyncHistory::new(10);
        syncs
            .record(&crate::mm2::codec::OffsetSync {
                topic: "t".into(),
                partition: 0,
                upstream: 0,
                downstream: 0,
            })
            .unwrap();
        let replication = Replication::default();
        let p = PartitionRanges(&ranges);
        let out = translate_partition(&mut s, &mut t, &replication, &syncs, "t", 0, &[5, 10, 12, 20], None, p).unwrap();
        let exact: Vec<Option<i64>> = out.iter().map(|o| o.exact()).collect();
        // 10: the group read every source record before the flip; the target-only records were
        // processed on the target during the wave, so it resumes after them.
        assert_eq!(exact, vec![Some(5), Some(15), Some(17), Some(25)], "{out:?}");
        assert!(
            out.iter().all(|o| o.walked_over.is_empty()),
            "nothing walked over: {out:?}"
        );
        // Without the ranges the walk meets the target's own records as records not on the source.
        let (mut s, mut t) = rolled_back_sides();
        let plain = translate_partition(
            &mut s,
            &mut t,
            &replication,
            &syncs,
            "t",
            0,
            &[12],
            None,
            Default::default(),
        )
        .unwrap();
        assert_eq!(
            plain[0].walked_over.len(),
            5,
            "the target's own records, unexplained: {plain:?}"
        );
    }

    #[test]
    fn identity_moves_on_by_the_target_only_records() {
        use crate::kafka::cursor::SkipTargetOnly;
        let ranges = target_only(10, 15);
        let p = PartitionRanges(&ranges);
        let (mut s, t) = rolled_back_sides();
        let mut t = SkipTargetOnly::new(t, ranges.clone());
        assert_eq!(check_identity(&mut s, &mut t, 8, p).unwrap().exact(), Some(8));
        assert_eq!(check_identity(&mut s, &mut t, 10, p).unwrap().exact(), Some(15));
        assert_eq!(check_identity(&mut s, &mut t, 18, p).unwrap().exact(), Some(23));
        let (mut s, mut t) = rolled_back_sides();
        assert!(check_identity(&mut s, &mut t, 18, Default::default())
            .unwrap()
            .exact()
            .is_none());
    }

    #[test]
    fn lockstep_walk_is_exact_across_offset_gaps() {
        let (mut s, mut t) = sides();
        let out = walk_from_sync(&mut s, &mut t, (100, 0), &[100, 102, 103, 106, 108]).unwrap();
        let exact: Vec<Option<i64>> = out
            .iter()
            .map(|(o, _)| match o {
                Outcome::Exact { target_offset, .. } => Some(*target_offset),
                _ => None,
            })
            .collect();
        // 102 is a marker: the group resumes at source 103, target 2.
        assert_eq!(exact, vec![Some(0), Some(2), Some(2), Some(5), Some(6)]);
        assert!(
            matches!(
                out[4].0,
                Outcome::Exact {
                    verified_next: false,
                    ..
                }
            ),
            "nothing to read next"
        );
        assert!(out.iter().all(|(_, w)| w.is_empty()), "nothing to step over");
    }

    fn renumber(t: &mut Memory) {
        for (i, r) in t.records.iter_mut().enumerate() {
            r.offset = i as i64;
        }
    }

    #[test]
    fn a_record_missing_before_the_committed_offset_is_stepped_over_and_named() {
        let (mut s, mut t) = sides();
        t.records.remove(2); // source 103 never arrived
        renumber(&mut t);
        let out = walk_from_sync(&mut s, &mut t, (100, 0), &[102, 105]).unwrap();
        assert_eq!(
            out[0].0,
            Outcome::Diverged {
                source_offset: 103,
                target_offset: Some(2),
                difference: "value differs, timestamp differs (1103 vs 1104)".into()
            },
            "lost at the resume point: the group would skip it"
        );
        assert_eq!(
            out[1],
            (
                Outcome::Exact {
                    target_offset: 3,
                    verified_next: true
                },
                vec![WalkedOver::Missing { source_offset: 103 }]
            ),
            "lost before the committed offset: the resume point is still exact"
        );
    }

    #[test]
    fn duplicates_are_stepped_over_before_and_at_the_resume_point() {
        let (mut s, mut t) = sides();
        let dup = t.records[1].clone(); // source 101 written twice
        t.records.insert(2, dup);
        renumber(&mut t);
        let out = walk_from_sync(&mut s, &mut t, (100, 0), &[102, 105]).unwrap();
        let dup = WalkedOver::Duplicate {
            target_offset: 2,
            of_source: 101,
        };
        let exact = |target_offset| Outcome::Exact {
            target_offset,
            verified_next: true,
        };
        assert_eq!(out[0], (exact(3), vec![dup.clone()]));
        assert_eq!(out[1], (exact(5), vec![dup]));
    }

    #[test]
    fn a_corrupted_record_at_the_committed_offset_leaves_no_exact_translation() {
        let (mut s, mut t) = sides();
        t.records[3].record.value = Some(b"corrupted".to_vec()); // source 104
        let out = walk_from_sync(&mut s, &mut t, (100, 0), &[104, 105]).unwrap();
        assert!(
            matches!(out[0].0, Outcome::Diverged { source_offset: 104, .. }),
            "{out:?}"
        );
        assert_eq!(
            out[1],
            (
                Outcome::Exact {
                    target_offset: 4,
                    verified_next: true
                },
                vec![
                    WalkedOver::NotOnSource { target_offset: 3 },
                    WalkedOver::Missing { source_offset: 104 }
                ]
            )
        );
    }

    #[test]
    fn a_live_group_is_translated_again_from_its_previous_answer() {
        let (mut s, mut t) = sides();
        let mut syncs = SyncHistory::new(10);
        let sync = crate::mm2::codec::OffsetSync {
            topic: "t".into(),
            partition: 0,
            upstream: 100,
            downstream: 0,
        };
        syncs.record(&sync).unwrap();
        let replication = Replication::default();
        let first = translate_partition(
            &mut s,
            &mut t,
            &replication,
            &syncs,
            "t",
            0,
            &[104],
            None,
            Default::default(),
        )
        .unwrap();
        assert_eq!(first[0].exact(), Some(3));
        let read_before = (s.read, t.read);
        let again = translate_partition(
            &mut s,
            &mut t,
            &replication,
            &syncs,
            "t",
            0,
            &[107],
            Some(&first[0]),
            Default::default(),
        )
        .unwrap();
        assert_eq!(again[0].exact(), Some(5));
        assert_eq!(
            again[0].anchor,
            Some(Anchor::Translation {
                committed: 104,
                target_offset: 3
            })
        );
        let read = (s.read - read_before.0, t.read - read_before.1);
        assert!(read.0 <= 3 && read.1 <= 3, "only the records since 104: {read:?}");
    }

    /// Retention deleted source 0..99 and the records of the only surviving sync (50 -> 0):
    /// the offset is found by timestamp and content at the source's log start, instead of a
    /// walk from a deleted record that would call 50 target records "not on the source".
    #[test]
    fn an_anchor_deleted_by_retention_is_replaced_by_a_content_checked_search() {
        let (mut s, _) = sides();
        let old: Vec<Located> = (50..100).map(|o| rec(o, &format!("v{o}"))).collect();
        let mut target: Vec<Located> = old.into_iter().chain(s.records.clone()).collect();
        for (i, r) in target.iter_mut().enumerate() {
            r.offset = i as i64;
        }
        let mut t = Memory::new(target);
        let mut syncs = SyncHistory::new(10);
        let sync = crate::mm2::codec::OffsetSync {
            topic: "t".into(),
            partition: 0,
            upstream: 50,
            downstream: 0,
        };
        syncs.record(&sync).unwrap();
        let out = translate_partition(
            &mut s,
            &mut t,
            &Replication::default(),
            &syncs,
            "t",
            0,
            &[104, 40],
            None,
            Default::default(),
        )
        .unwrap();
        assert_eq!(out[0].committed, 40);
        assert!(
            matches!(&out[0].outcome, Outcome::Unavailable { reason } if reason.contains("log start 100")),
            "{out:?}"
        );
        assert_eq!(out[1].exact(), Some(53), "source 104 is target 53: {out:?}");
        assert!(matches!(out[1].anchor, Some(Anchor::Timestamp { .. })));
        assert!(out[1].walked_over.is_empty());
        assert_eq!(
            syncs.oldest_from("t", 0, 100),
            None,
            "validation aligns by timestamp too"
        );
    }

    #[test]
    fn timestamp_seek_without_a_sync_and_identity_mode() {
        let (mut s, mut t) = sides();
        let r = seek_by_timestamp(&mut s, &mut t, 104).unwrap();
        assert_eq!(r.exact(), Some(3));
        let mut a = Memory::new((0..20).map(|o| rec(o, "x")).collect());
        let mut b = Memory::new((0..20).map(|o| rec(o, "x")).collect());
        assert_eq!(
            check_identity(&mut a, &mut b, 15, Default::default()).unwrap().exact(),
            Some(15)
        );
        b.records[12].record.value = Some(b"y".to_vec());
        let bad = check_identity(&mut a, &mut b, 15, Default::default()).unwrap();
        assert!(
            matches!(bad.outcome, Outcome::Diverged { source_offset: 12, .. }),
            "{bad:?}"
        );
    }

    /// A partition read slowly (a broker far away): 5 ms a record.
    struct Slow(Memory);

    impl Cursor for Slow {
        fn seek(&mut self, offset: i64) -> Result<(), crate::kafka::Error> {
            self.0.seek(offset)
        }
        fn next(&mut self) -> Result<Option<Located>, crate::kafka::Error> {
            std::thread::sleep(std::time::Duration::from_millis(5));
            self.0.next()
        }
        fn offset_for_time(&mut self, ts: i64) -> Result<Option<i64>, crate::kafka::Error> {
            self.0.offset_for_time(ts)
        }
        fn records_read(&self) -> u64 {
            self.0.records_read()
        }
        fn end_offset(&mut self) -> Result<i64, crate::kafka::Error> {
            self.0.end_offset()
        }
        fn start_offset(&mut self) -> Result<i64, crate::kafka::Error> {
            self.0.start_offset()
        }
    }

    /// `p` mid-walk: a translation reading through `Retrying::cancelled_by` stops at its next
    /// record with a cancelled error (never an answer), long before the walk's end.
    #[test]
    fn a_cancelled_walk_stops_at_its_next_record() {
        use crate::kafka::cursor::Retrying;
        let records: Vec<Located> = (0..2_000).map(|o| rec(o, &format!("v{o}"))).collect();
        let cancel = crate::jobs::CancelToken::default();
        let mut s = Retrying::new(Slow(Memory::new(records.clone()))).cancelled_by(&cancel);
        let mut t = Retrying::new(Slow(Memory::new(records))).cancelled_by(&cancel);
        let canceller = {
            let cancel = cancel.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(200));
                (cancel.cancel(), std::time::Instant::now()).1
            })
        };
        // 2,000 records a side at 5 ms each: 20 s to walk to the end.
        let result = walk_from_sync(&mut s, &mut t, (0, 0), &[1_999]);
        let stopped = std::time::Instant::now();
        let cancelled_at = canceller.join().unwrap();
        let err = result.expect_err("a cancelled walk gives no answer");
        assert!(err.is_cancelled(), "{err}");
        assert!(
            stopped - cancelled_at < std::time::Duration::from_millis(100),
            "{:?}",
            stopped - cancelled_at
        );
        assert!(s.records_read() < 200, "read {} records", s.records_read());
    }
}
