//! `cutover validate --state FILE`: where each partition was validated up to, kept between
//! runs so a scheduled (cron) validation reads only what is new.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::run::Progress;
use crate::config::Config;

const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    /// The clusters the offsets belong to: a state file is never applied to other clusters.
    source: String,
    target: String,
    partitions: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    topic: String,
    partition: i32,
    /// Source and target offsets after the last record that passed.
    source: i64,
    target: i64,
}

fn clusters(config: &Config) -> (String, String) {
    (
        format!("{} ({})", config.source.name, config.source.bootstrap),
        format!("{} ({})", config.target.name, config.target.bootstrap),
    )
}

/// The progress saved in `path`; an absent file is a first run (no progress).
pub fn load(path: &Path, config: &Config) -> crate::error::Result<Progress> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Progress::default()),
        Err(e) => return Err(format!("{}: {e}", path.display()).into()),
    };
    let file: StateFile = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a cutover validation state file ({e}); remove it, or run with --full",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    if file.version != VERSION {
        return Err(format!(
            "{}: state file version {} (this cutover writes {VERSION}); remove it, or run with --full",
            path.display(),
            file.version
        )
        .into());
    }
    let (source, target) = clusters(config);
    if (file.source.as_str(), file.target.as_str()) != (source.as_str(), target.as_str()) {
        return Err(format!(
            "{}: state of {} -> {}, not of {source} -> {target}; use another file, or run with --full",
            path.display(),
            file.source,
            file.target
        )
        .into());
    }
    let mut progress = Progress::default();
    for e in file.partitions {
        progress.set(&e.topic, e.partition, (e.source, e.target));
    }
    Ok(progress)
}

/// Writes `progress` to `path` (through a temporary file, so a crash never leaves half a file).
pub fn save(path: &Path, config: &Config, progress: &Progress) -> crate::error::Result<()> {
    let (source, target) = clusters(config);
    let file = StateFile {
        version: VERSION,
        source,
        target,
        partitions: progress
            .entries()
            .map(|((topic, partition), (s, t))| Entry {
                topic: topic.clone(),
                partition: *partition,
                source: *s,
                target: *t,
            })
            .collect(),
    };
    let text = serde_json::to_string_pretty(&file).expect("state serializes");
    let tmp = path.with_extension("tmp");
    Ok(std::fs::write(&tmp, text + "\n")
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(bootstrap: &str) -> Config {
        let text = format!(
            "[source]\nname = \"a\"\nbootstrap = \"{bootstrap}\"\n[target]\nname = \"b\"\nbootstrap = \"h:2\"\n"
        );
        crate::config::parse(Path::new("c.toml"), &text, &|_| None).unwrap()
    }

    #[test]
    fn saved_progress_loads_back_for_the_same_clusters_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let c = config("h:1");
        assert_eq!(load(&path, &c).unwrap(), Progress::default(), "no file: a first run");
        let mut p = Progress::default();
        p.set("orders", 2, (70, 75));
        save(&path, &c, &p).unwrap();
        assert_eq!(load(&path, &c).unwrap(), p);
        let e = load(&path, &config("other:1")).unwrap_err();
        assert!(e.message.contains("not of a (other:1)"), "{e}");
        std::fs::write(&path, "{\"version\": 1,\n \"source\": 3}").unwrap();
        let e = load(&path, &c).unwrap_err();
        assert!(e.message.contains("state.json:2:"), "{e}");
    }
}
