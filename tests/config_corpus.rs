//! Every broken config in tests/config-corpus gives one clear message naming the file, line
//! and column and what was expected, exits with code 2, never panics, never echoes a secret.

use std::path::Path;
use std::process::Command;

/// (file, "line:column", what the message must say)
const CORPUS: [(&str, &str, &str); 23] = [
    (
        "01-unknown-section.toml",
        "9:2",
        "unknown field `monitr`, expected one of",
    ),
    (
        "02-unknown-key.toml",
        "10:1",
        "unknown field `refresh`, expected one of `refresh_interval`",
    ),
    ("03-missing-target.toml", "1:1", "missing field `target`"),
    ("04-bad-duration.toml", "10:20", "`fast` is not a duration"),
    ("05-bad-regex.toml", "10:22", "invalid regular expression `(unclosed`"),
    (
        "06-unset-env.toml",
        "3:13",
        "environment variable `CUTOVER_TEST_UNSET_VARIABLE` is not set",
    ),
    (
        "07-reserved-property.toml",
        "10:1",
        "`group.id` is set by cutover itself",
    ),
    (
        "08-unknown-librdkafka-property.toml",
        "10:1",
        "No such configuration property",
    ),
    (
        "09-bad-kind.toml",
        "10:8",
        "expected `mirrormaker2` or `offset-preserving`",
    ),
    (
        "10-crit-below-warn.toml",
        "11:12",
        "lag_crit (10) must be at least lag_warn (1000)",
    ),
    ("11-unterminated-string.toml", "2:12", "invalid basic string"),
    ("12-wrong-type.toml", "10:12", "expected a whole number"),
    (
        "13-empty-bootstrap.toml",
        "3:13",
        "bootstrap must list at least one host:port",
    ),
    ("14-bad-policy.toml", "10:10", "expected `default`"),
    (
        "15-secret-from-env-rejected.toml",
        "10:1",
        "librdkafka rejects `security.protocol`",
    ),
    ("16-bad-log-level.toml", "10:9", "unknown log level `verbose`"),
    ("17-duplicate-key.toml", "3:1", "duplicate key"),
    ("18-bad-env-syntax.toml", "3:13", "unterminated `${`"),
    (
        "19-bad-rate-limit.toml",
        "10:23",
        "rate_limit_mb_per_s must be more than 0",
    ),
    (
        "20-unknown-wait.toml",
        "14:1",
        "unknown wait `drain`: expected one of preflight",
    ),
    ("21-empty-notify.toml", "10:11", "command must not be empty"),
    ("22-bad-metrics-listen.toml", "10:10", "is not an address to listen on"),
    (
        "23-bad-pause-budget.toml",
        "14:19",
        "max_write_pause: `soon` is not a duration",
    ),
];

const SECRET: &str = "hunter2-do-not-print";

#[test]
fn every_broken_config_is_a_located_error_with_exit_code_2() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config-corpus");
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, CORPUS.len(), "every corpus file has an expectation here");
    for (file, at, says) in CORPUS {
        let path = dir.join(file);
        let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
            .args(["check-config", "--config"])
            .arg(&path)
            .env("CUTOVER_TEST_SECRET", SECRET)
            .env_remove("CUTOVER_TEST_UNSET_VARIABLE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: exit code\n{stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        let location = format!("cutover: {}:{at}: ", path.display());
        assert!(
            first.starts_with(&location),
            "{file}: expected `{location}…`, got\n{stderr}"
        );
        assert!(first.contains(says), "{file}: expected `{says}` in\n{stderr}");
        assert!(!stderr.contains("panicked"), "{file}: panic\n{stderr}");
        assert!(!stderr.contains(SECRET), "{file}: a secret was printed\n{stderr}");
        assert!(out.stdout.is_empty(), "{file}: nothing on stdout");
    }
}

#[test]
fn a_missing_config_file_says_how_to_get_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["status", "--config", "/nonexistent/cutover.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("config file not found: /nonexistent/cutover.toml"),
        "{stderr}"
    );
    assert!(stderr.contains("config.example.toml"), "{stderr}");
}

#[test]
fn the_example_config_is_valid() {
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args([
            "check-config",
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
