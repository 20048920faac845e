//! What validating a partition found: plain data, shared by the validation runs, the
//! cockpit's board and the headless report. No I/O here.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum MismatchKind {
    /// The source record is not on the target (the target has the next one there).
    MissingOnTarget,
    /// The target has a record the source does not have there (a duplicate, or foreign).
    ExtraOnTarget,
    /// The record and the next one are swapped on the target.
    OutOfOrder,
    /// Same position, different content ("value differs", "headers differ", ...).
    Differs(String),
    /// Compacted topics: a live key of the source has no record on the target.
    KeyMissingOnTarget,
    /// Compacted topics: the newest values of a key differ.
    KeyValueDiffers,
    /// Compacted topics: the source deleted the key (tombstone), the target still has a value.
    KeyDeletedOnSourceOnly,
    /// Compacted topics: the target deleted a key the source still has.
    KeyDeletedOnTargetOnly,
    /// Compacted topics: a live key on the target that the source never had.
    KeyExtraOnTarget,
}

/// The first difference, with where it is on each side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub kind: MismatchKind,
    pub source_offset: Option<i64>,
    pub target_offset: Option<i64>,
    /// Compacted topics: the key concerned.
    pub key: Option<String>,
}

impl Mismatch {
    pub fn describe(&self) -> String {
        let at = |o: Option<i64>| o.map_or("(none)".into(), |o| o.to_string());
        let what = match &self.kind {
            MismatchKind::MissingOnTarget => "missing on target".to_string(),
            MismatchKind::ExtraOnTarget => "extra record on target (duplicate?)".to_string(),
            MismatchKind::OutOfOrder => "out of order on target".to_string(),
            MismatchKind::Differs(d) => d.clone(),
            MismatchKind::KeyMissingOnTarget => "key missing on target".into(),
            MismatchKind::KeyValueDiffers => "newest value of the key differs".into(),
            MismatchKind::KeyDeletedOnSourceOnly => "key deleted on source, still has a value on target".into(),
            MismatchKind::KeyDeletedOnTargetOnly => "key deleted on target, still has a value on source".into(),
            MismatchKind::KeyExtraOnTarget => "key on target only".into(),
        };
        let key = self.key.as_ref().map(|k| format!(" key `{k}`")).unwrap_or_default();
        format!(
            "{what}{key}: source offset {}, target offset {}",
            at(self.source_offset),
            at(self.target_offset)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail {
        mismatch: Mismatch,
    },
    Skipped {
        reason: String,
    },
    /// Not validated yet, and why it waits (no alignment yet); retried as soon as it can be.
    Pending {
        reason: String,
    },
    /// The partition could not be validated (e.g. a broker stopped answering).
    Error {
        reason: String,
    },
}

impl Verdict {
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail { .. } => "FAIL",
            Verdict::Skipped { .. } => "SKIPPED",
            Verdict::Pending { .. } => "PENDING",
            Verdict::Error { .. } => "ERROR",
        }
    }

    /// What is wrong or why it waits, in words ("" for a PASS).
    pub fn describe_reason(&self) -> String {
        match self {
            Verdict::Pass => String::new(),
            Verdict::Fail { mismatch } => mismatch.describe(),
            Verdict::Skipped { reason } | Verdict::Pending { reason } | Verdict::Error { reason } => reason.clone(),
        }
    }
}

/// What validating one partition found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionResult {
    /// Validated source offsets [from, to) and target offsets [from, to).
    pub source_range: (i64, i64),
    pub target_range: (i64, i64),
    pub records_compared: u64,
    /// Source records after the range, not on the target yet (replication lag).
    pub pending: bool,
    pub verdict: Verdict,
}

/// One partition's line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub topic: String,
    pub target_topic: String,
    pub partition: i32,
    pub result: PartitionResult,
    /// Records read from (source, target) for this partition.
    pub records_read: (u64, u64),
    /// Bytes of keys, values and headers read, both sides together.
    pub bytes_read: u64,
    /// The partition's records written on the target only during a wave: stepped over as
    /// explained, never compared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub target_only: Vec<crate::model::target_only::TargetOnlyRange>,
    /// Compared by key, value and headers only: the target topic stamps its own times.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub content_only: bool,
}
