//! Where MM2 keeps its internal topics, per the configured aliases.

use crate::config::{OffsetSyncsLocation, Replication};

/// Which cluster a topic lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cluster {
    Source,
    Target,
}

/// `mm2-offset-syncs.<alias>.internal`: on the source named after the target alias (MM2's
/// default), or on the target named after the source alias.
pub fn offset_syncs(r: &Replication) -> (Cluster, String) {
    match r.offset_syncs_location {
        OffsetSyncsLocation::Source => (Cluster::Source, format!("mm2-offset-syncs.{}.internal", r.target_alias)),
        OffsetSyncsLocation::Target => (Cluster::Target, format!("mm2-offset-syncs.{}.internal", r.source_alias)),
    }
}

/// `<source-alias>.checkpoints.internal`, on the target.
pub fn checkpoints(r: &Replication) -> String {
    format!("{}.checkpoints.internal", r.source_alias)
}

/// `heartbeats`, on the target.
pub const HEARTBEATS: &str = "heartbeats";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_aliases_and_location() {
        let mut r = Replication {
            source_alias: "dc1".into(),
            target_alias: "cloud".into(),
            ..Default::default()
        };
        assert_eq!(
            offset_syncs(&r),
            (Cluster::Source, "mm2-offset-syncs.cloud.internal".into())
        );
        r.offset_syncs_location = OffsetSyncsLocation::Target;
        assert_eq!(
            offset_syncs(&r),
            (Cluster::Target, "mm2-offset-syncs.dc1.internal".into())
        );
        assert_eq!(checkpoints(&r), "dc1.checkpoints.internal");
    }
}
