//! The binary as a bastion's shell sees it: completion scripts that load in bash, a manual
//! page that `man` renders, and commands that end quietly when their reader goes away.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cutover"))
}

/// A valid config (check-config connects to nothing).
fn config(dir: &std::path::Path, target_bootstrap: &str) -> std::path::PathBuf {
    let path = dir.join("cutover.toml");
    std::fs::write(
        &path,
        format!(
            "[source]\nname = \"dc1\"\nbootstrap = \"kafka-dc1:9092\"\n[target]\nname = \"cloud\"\nbootstrap = \"{target_bootstrap}\"\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn completions_load_in_bash_and_complete_the_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let script = dir.path().join("cutover.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // Loaded as a user's shell would, then asked what `cutover che<Tab>` completes to.
    let probe = format!(
        "source {} && complete -p cutover && COMP_WORDS=(cutover che) COMP_CWORD=1 COMP_LINE='cutover che' COMP_POINT=11 \
         && _cutover cutover che cutover && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let bash = Command::new("bash").args(["--norc", "-c", &probe]).output().unwrap();
    let said = String::from_utf8_lossy(&bash.stdout);
    assert!(bash.status.success(), "{said}{}", String::from_utf8_lossy(&bash.stderr));
    assert!(said.contains("-F _cutover cutover"), "{said}");
    assert!(said.lines().any(|l| l == "check-config"), "{said}");
}

#[test]
fn the_manual_page_renders_with_man() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin().arg("man").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = dir.path().join("cutover.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let man = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man is installed by scripts/setup.sh (man-db)");
    let text = String::from_utf8_lossy(&man.stdout);
    assert!(man.status.success(), "{text}{}", String::from_utf8_lossy(&man.stderr));
    for wanted in ["NAME", "cutover", "SUBCOMMANDS", "check-config", "rollback"] {
        assert!(text.contains(wanted), "no {wanted} in:\n{text}");
    }
}

/// `cutover check-config | head -1` and the like: the reader is gone before the first line
/// is written. The command ends without a word on stderr (no panic, no backtrace), killed by
/// SIGPIPE as Unix tools are.
#[test]
fn a_command_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), "kafka-cloud:9092");
    for args in [&["check-config"][..], &["completions", "bash"][..], &["man"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = bin()
            .arg("--config")
            .arg(&file)
            .args(args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr, "", "{args:?}: nothing on stderr");
        assert!(
            out.status.signal() == Some(libc::SIGPIPE) || out.status.code() == Some(0),
            "{args:?}: {:?}",
            out.status
        );
    }
}

/// check-config is offline, yet a source and target naming the same bootstrap server are one
/// cluster: refused (exit 2) as the other commands refuse it, unless --allow-same-cluster.
#[test]
fn check_config_refuses_the_same_cluster_twice() {
    let dir = tempfile::tempdir().unwrap();
    let same = config(dir.path(), "KAFKA-DC1:9092");
    let out = bin().arg("--config").arg(&same).arg("check-config").output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("both list kafka-dc1:9092: they are the same cluster"),
        "{said}"
    );
    let allowed = bin()
        .arg("--config")
        .arg(&same)
        .args(["--allow-same-cluster", "check-config"])
        .output()
        .unwrap();
    assert_eq!(
        allowed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let two = config(dir.path(), "kafka-cloud:9092");
    let ok = bin().arg("--config").arg(&two).arg("check-config").output().unwrap();
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains(": valid"));
}
