//! Guards against answers that look right and are not: the same cluster configured as source
//! and target, filters that watch nothing, a cluster that cannot be reached. Real tansu brokers.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use cutover::demo::broker::{free_port, Storage};
use cutover::demo::clients::TopicSpec;

fn cutover(config: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn said(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_same_cluster_as_source_and_target_is_refused_unless_allowed() {
    let (src, _tgt, dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 1)]);
    produce(&src, "orders", 0, 20, false);
    // Both bootstraps point at the source broker.
    let file = config_file(dir.path(), &src, &src, "[replication]\npolicy = \"identity\"\n");
    for args in [&["validate"][..], &["translate", "--group", "billing"][..]] {
        let out = cutover(&file, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", said(&out));
        assert!(
            said(&out).contains("are the same cluster (cluster id src)"),
            "{args:?}: {}",
            said(&out)
        );
    }
    let allowed = cutover(&file, &["--allow-same-cluster", "validate", "--json"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", said(&allowed));
}

#[test]
fn filters_that_match_no_topic_are_not_all_ok() {
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 1)]);
    create(&tgt, &[TopicSpec::new("orders", 1)]);
    let file = config_file(
        dir.path(),
        &src,
        &tgt,
        "[replication]\npolicy = \"identity\"\n[topics]\ninclude = [\"payments.*\"]\n",
    );
    let out = cutover(&file, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("no source topic matches the [topics] include/exclude filters"),
        "{}",
        said(&out)
    );
}

#[test]
fn translate_exits_2_when_a_cluster_cannot_be_reached() {
    let (src, _tgt, dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 1)]);
    produce(&src, "orders", 0, 5, false);
    groups::commit_offsets(&cluster(&src, "s"), "billing", &[("orders".into(), 0, 3)]).unwrap();
    let nobody = format!("127.0.0.1:{}", free_port().unwrap());
    let text = format!(
        "[source]\nname = \"src-cluster\"\nbootstrap = \"{}\"\n[target]\nname = \"tgt-cluster\"\nbootstrap = \"{nobody}\"\n\
         [replication]\npolicy = \"identity\"\n[monitor]\nrequest_timeout = \"2s\"\n[log]\nfile = \"{}\"\n",
        src.bootstrap(),
        dir.path().join("cutover.log").display()
    );
    let file = dir.path().join("unreachable.toml");
    std::fs::write(&file, text).unwrap();
    let out = cutover(&file, &["translate", "--group", "billing"]);
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("tgt-cluster"), "names the cluster: {}", said(&out));
}
