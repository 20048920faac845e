//! The write capability against a real tansu broker: it commits a group's offsets only when
//! the group is Empty and its offsets are still the ones the caller read, and reads them back.
//!
//! tansu's memory engine: DescribeGroups (which the writer asks first) is broken on sqlite; its
//! end offsets are right only with one record per produce request, so records go one by one.

mod common;

use std::time::Duration;

use common::groups::commit_offsets;
use common::*;
use cutover::demo::broker::Storage;
use cutover::demo::clients::{GroupMember, TopicSpec};
use cutover::kafka::write::{CommitError, Moved, OffsetChange, OffsetWriter, WritePermission};

const TIMEOUT: Duration = Duration::from_secs(5);

fn change(expected: Option<i64>, new: i64) -> OffsetChange {
    OffsetChange {
        topic: "orders".into(),
        partition: 0,
        expected,
        new,
    }
}

fn committed(cluster: &cutover::config::ClusterConfig, group: &str) -> Option<i64> {
    cutover::kafka::group_offsets(cluster, group, TIMEOUT)
        .expect("read committed offsets")
        .get(&("orders".to_string(), 0))
        .copied()
}

#[test]
fn permission_is_only_granted_to_a_run_that_may_write() {
    assert!(WritePermission::grant(false).is_none());
    assert!(WritePermission::grant(true).is_some());
}

#[test]
fn refuses_a_group_with_members_and_offsets_that_moved_then_commits_and_reads_back() {
    let (src, _tgt, _dir) = two_brokers(Storage::Memory);
    let cluster = cluster(&src, "src");
    create(&src, &[TopicSpec::new("orders", 1)]);
    produce(&src, "orders", 0, 5, true);
    let permission = WritePermission::grant(true).unwrap();
    let writer = OffsetWriter::new(&permission, &cluster, TIMEOUT);

    // A live member has read and committed all 5 (auto-commit): the group is Stable with one member.
    let member = GroupMember::join(&cluster, "billing", &["orders"]).unwrap();
    let mut read = 0;
    wait_for(Duration::from_secs(30), "the member to read 5 records", || {
        if let Some(r) = member.poll(Duration::from_millis(100)) {
            r.expect("poll");
            read += 1;
        }
        (read == 5).then_some(())
    });
    wait_for(Duration::from_secs(20), "the member's commit of 5", || {
        let _ = member.poll(Duration::from_millis(50));
        (committed(&cluster, "billing") == Some(5)).then_some(())
    });
    let refused = wait_for(Duration::from_secs(20), "a refusal naming the live group", || {
        // Keep the membership alive while the writer looks at the group.
        let _ = member.poll(Duration::from_millis(50));
        match writer.commit("billing", &[change(Some(5), 2)]) {
            Err(e @ CommitError::GroupNotEmpty { .. }) => Some(e),
            other => {
                assert!(other.is_err(), "committed under a live member: {other:?}");
                None
            }
        }
    });
    let CommitError::GroupNotEmpty { group, state, .. } = &refused else {
        unreachable!()
    };
    assert_eq!(group, "billing");
    assert_ne!(state, "Empty");
    assert!(!refused.retryable());
    assert_eq!(committed(&cluster, "billing"), Some(5), "nothing was written");

    // The member leaves; someone else commits 7 after the caller read 5.
    member.leave();
    commit_offsets(&cluster, "billing", &[("orders".into(), 0, 7)]).unwrap();
    let moved = wait_for(Duration::from_secs(20), "the group to be Empty", || {
        match writer.commit("billing", &[change(Some(5), 2)]) {
            Err(CommitError::GroupNotEmpty { .. }) => None,
            other => Some(other),
        }
    });
    assert_eq!(
        moved,
        Err(CommitError::OffsetsMoved {
            group: "billing".into(),
            moved: vec![Moved {
                topic: "orders".into(),
                partition: 0,
                expected: Some(5),
                found: Some(7),
            }],
        })
    );
    assert_eq!(committed(&cluster, "billing"), Some(7), "nothing was written");

    // With the offsets it really has, the commit goes through and reads back.
    writer.commit("billing", &[change(Some(7), 9)]).unwrap();
    assert_eq!(committed(&cluster, "billing"), Some(9));

    // A group that never committed anything: expected None.
    assert_eq!(
        writer.commit("fresh", &[change(Some(3), 4)]).unwrap_err(),
        CommitError::OffsetsMoved {
            group: "fresh".into(),
            moved: vec![Moved {
                topic: "orders".into(),
                partition: 0,
                expected: Some(3),
                found: None,
            }],
        }
    );
    writer.commit("fresh", &[change(None, 4)]).unwrap();
    assert_eq!(committed(&cluster, "fresh"), Some(4));
}
