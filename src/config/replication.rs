//! [replication]: the replicator (MM2 or offset-preserving) and MM2's replication policy.

use serde::Deserialize;
use toml::Spanned;

use super::{at, ConfigError, Locate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicationKind {
    MirrorMaker2,
    OffsetPreserving,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// `<source-alias><separator><topic>`
    Default,
    /// same name on both sides
    Identity,
}

/// MM2's `offset-syncs.topic.location`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSyncsLocation {
    Source,
    Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    pub kind: ReplicationKind,
    pub source_alias: String,
    pub target_alias: String,
    pub policy: PolicyKind,
    pub separator: String,
    pub offset_syncs_location: OffsetSyncsLocation,
}

impl Replication {
    /// The name a source topic has on the target, per the replication policy.
    pub fn target_topic(&self, source_topic: &str) -> String {
        match (self.kind, self.policy) {
            (ReplicationKind::OffsetPreserving, _) | (_, PolicyKind::Identity) => source_topic.to_string(),
            (ReplicationKind::MirrorMaker2, PolicyKind::Default) => {
                format!("{}{}{}", self.source_alias, self.separator, source_topic)
            }
        }
    }
}

impl Replication {
    /// The source topic a target topic replicates, per the policy (None: not a replica).
    pub fn source_topic(&self, target_topic: &str) -> Option<String> {
        match (self.kind, self.policy) {
            (ReplicationKind::OffsetPreserving, _) | (_, PolicyKind::Identity) => Some(target_topic.to_string()),
            (ReplicationKind::MirrorMaker2, PolicyKind::Default) => target_topic
                .strip_prefix(&format!("{}{}", self.source_alias, self.separator))
                .map(str::to_string),
        }
    }
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            kind: ReplicationKind::MirrorMaker2,
            source_alias: "source".into(),
            target_alias: "target".into(),
            policy: PolicyKind::Default,
            separator: ".".into(),
            offset_syncs_location: OffsetSyncsLocation::Source,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReplication {
    kind: Option<Spanned<String>>,
    source_alias: Option<Spanned<String>>,
    target_alias: Option<Spanned<String>>,
    policy: Option<Spanned<String>>,
    separator: Option<Spanned<String>>,
    offset_syncs_location: Option<Spanned<String>>,
}

impl RawReplication {
    pub(super) fn validate(self, located: &Locate) -> Result<Replication, ConfigError> {
        let defaults = Replication::default();
        let kind = match &self.kind {
            None => defaults.kind,
            Some(k) => match k.get_ref().as_str() {
                "mirrormaker2" => ReplicationKind::MirrorMaker2,
                "offset-preserving" => ReplicationKind::OffsetPreserving,
                other => {
                    return Err(located(
                        at(k),
                        format!("unknown replication kind `{other}`, expected `mirrormaker2` or `offset-preserving`"),
                    ))
                }
            },
        };
        let policy = match &self.policy {
            None => defaults.policy,
            Some(p) => match p.get_ref().as_str() {
                "default" => PolicyKind::Default,
                "identity" => PolicyKind::Identity,
                other => {
                    return Err(located(
                        at(p),
                        format!("unknown replication policy `{other}`, expected `default` (<alias><separator><topic>) or `identity`"),
                    ))
                }
            },
        };
        let offset_syncs_location = match &self.offset_syncs_location {
            None => defaults.offset_syncs_location,
            Some(l) => match l.get_ref().as_str() {
                "source" => OffsetSyncsLocation::Source,
                "target" => OffsetSyncsLocation::Target,
                other => {
                    return Err(located(
                        at(l),
                        format!(
                            "unknown offset_syncs_location `{other}`, expected `source` (MM2's default) or `target`"
                        ),
                    ))
                }
            },
        };
        let non_empty = |v: Option<Spanned<String>>, what: &str, default: String| -> Result<String, ConfigError> {
            match v {
                None => Ok(default),
                Some(s) if s.get_ref().is_empty() => Err(located(at(&s), format!("{what} must not be empty"))),
                Some(s) => Ok(s.into_inner()),
            }
        };
        Ok(Replication {
            kind,
            policy,
            source_alias: non_empty(self.source_alias, "source_alias", defaults.source_alias)?,
            target_alias: non_empty(self.target_alias, "target_alias", defaults.target_alias)?,
            separator: non_empty(self.separator, "separator", defaults.separator)?,
            offset_syncs_location,
        })
    }
}
