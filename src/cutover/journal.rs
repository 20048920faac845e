//! The journal: every decision, intent and result of a cutover, one JSON object per line,
//! appended and fsynced before the cockpit moves on. It is the audit log and the state: a
//! wave's state is the fold of its entries, so a restarted cockpit resumes where it stopped.
//!
//! One driver at a time: the driver holds an exclusive lock on `<journal>.lock` (released by
//! the kernel when the process dies, even by `kill -9`) and writes who it is into it; a second
//! cockpit finds the lock taken and follows the journal as an observer.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::engine::{Event, WaveState};
use crate::config::Wave;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// RFC 3339, for people reading the file.
    pub at: String,
    /// user@host of the driver.
    pub by: String,
    pub wave: String,
    /// A dry run's entries are kept for the record but never change a wave's state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    #[serde(flatten)]
    pub event: Event,
}

impl Entry {
    pub fn time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.at_ms.max(0) as u64)
    }

    /// The entry as one line, for the screen and the event log.
    pub fn describe(&self) -> String {
        let e = self;
        use super::engine::Event::*;
        let what = match &e.event {
            WaveStarted { topics, .. } => format!("wave started on {}", topics.join(",")),
            Confirmed { what, .. } => format!("confirmed: {what}"),
            ActionStarted { step, action, .. } => format!("{}: {} …", step.name(), action.label()),
            ActionDone {
                step, action, detail, ..
            } => format!("{}: {} done: {detail}", step.name(), action.label()),
            ActionFailed { step, reason, .. } => format!("{}: FAILED: {reason}", step.name()),
            CommitPlanned { side, group, offsets } => {
                format!("committing {group} on the {side:?}: {} partition(s)", offsets.len())
            }
            Committed { side, group, offsets } => {
                format!("committed {group} on the {side:?}: {} partition(s)", offsets.len())
            }
            Retry { step } => format!("retry {}", step.name()),
            Skipped { step, reason } => format!("skipped {}: {reason}", step.name()),
            Paused => "paused".into(),
            Resumed => "resumed".into(),
            RollbackStarted { .. } => "rollback started".into(),
            TargetWritesBegan { ends } => {
                format!(
                    "producers flip: the target's end offsets of {} partition(s) noted",
                    ends.len()
                )
            }
            TargetWritesStopped { ends } => {
                format!(
                    "writes to the target stopped: its end offsets of {} partition(s) noted",
                    ends.len()
                )
            }
            SourceWritesStopped { ends } => {
                format!(
                    "producers flip: the source's end offsets of {} partition(s) noted",
                    ends.len()
                )
            }
            Alarm { text } => format!("ALARM: {text}"),
            HandedOver { text } => text.clone(),
        };
        let dry = if e.dry_run { " (dry run)" } else { "" };
        format!(
            "{} {} {}{dry}: {what}",
            crate::model::groups::clock(e.time()),
            e.by,
            e.wave
        )
    }
}

/// Who is at the keyboard: `user@host`.
pub fn whoami() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let host = if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown-host".into()
    };
    format!("{user}@{host}")
}

/// Reads every entry. A last line cut short (the process died while writing it) is left out
/// with a warning; any other unreadable line is an error naming the file and line.
pub fn read(path: &Path) -> crate::error::Result<Vec<Entry>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read the journal {}: {e}", path.display()).into()),
    };
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot read the journal {}: {e}", path.display()))?;
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => out.push(e),
            Err(e) if i + 1 == lines.len() => {
                tracing::warn!(journal = %path.display(), line = i + 1, "last journal line is incomplete, left out: {e}");
            }
            Err(e) => return Err(format!("{}:{}: unreadable journal entry: {e}", path.display(), i + 1).into()),
        }
    }
    Ok(out)
}

/// A wave's state from the journal's entries (dry runs left out).
pub fn wave_state(entries: &[Entry], wave: &Wave) -> WaveState {
    let mut state = WaveState::new(wave);
    for e in entries.iter().filter(|e| e.wave == wave.name && !e.dry_run) {
        state.apply(e.time(), &e.event);
    }
    state
}

/// The records every wave wrote on the target only, from the journal's entries (dry runs
/// left out): from each `TargetWritesBegan` to the `TargetWritesStopped` of the same run (open
/// when writes go on, as after a wave that is done).
pub fn target_only(entries: &[Entry]) -> crate::model::target_only::TargetOnly {
    use std::collections::HashMap;
    let mut began: HashMap<&str, (&Vec<super::engine::PartitionEnd>, i64)> = HashMap::new();
    let mut ranges = Vec::new();
    for e in entries.iter().filter(|e| !e.dry_run) {
        match &e.event {
            Event::TargetWritesBegan { ends } => {
                began.insert(&e.wave, (ends, e.at_ms));
            }
            Event::TargetWritesStopped { ends } => {
                if let Some((b, at)) = began.remove(e.wave.as_str()) {
                    ranges.extend(super::engine::target_only_ranges(
                        &e.wave,
                        b,
                        Some(ends),
                        at,
                        Some(e.at_ms),
                    ));
                }
            }
            // A new run of the wave: a flip of the run before that no rollback stopped
            // explains nothing of the new run.
            Event::WaveStarted { .. } => {
                began.remove(e.wave.as_str());
            }
            _ => {}
        }
    }
    for (wave, (b, at)) in began {
        ranges.extend(super::engine::target_only_ranges(wave, b, None, at, None));
    }
    crate::model::target_only::TargetOnly::new(ranges)
}

/// The target-only ranges of the config's journal, as it is now.
pub fn target_only_now(config: &crate::config::Config) -> std::sync::Arc<crate::model::target_only::TargetOnly> {
    TargetOnlyFollower::new(config.cutover.journal_path(&config.source.name, &config.target.name)).current()
}

/// Follows the journal's target-only ranges: re-read when the file changed.
#[derive(Debug, Default)]
pub struct TargetOnlyFollower {
    path: PathBuf,
    seen: Option<(u64, SystemTime)>,
    current: std::sync::Arc<crate::model::target_only::TargetOnly>,
}

impl TargetOnlyFollower {
    pub fn new(path: PathBuf) -> TargetOnlyFollower {
        TargetOnlyFollower {
            path,
            ..TargetOnlyFollower::default()
        }
    }

    /// The ranges as the journal says now (read again only when its size or time changed; a
    /// journal that cannot be read keeps the last ranges, with a warning in the log).
    pub fn current(&mut self) -> std::sync::Arc<crate::model::target_only::TargetOnly> {
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.len(), m.modified().unwrap_or(UNIX_EPOCH)));
        if stamp != self.seen {
            match read(&self.path) {
                Ok(entries) => {
                    self.current = std::sync::Arc::new(target_only(&entries));
                    self.seen = stamp;
                }
                Err(e) => tracing::warn!("target-only ranges not read again: {e}"),
            }
        }
        self.current.clone()
    }
}

/// The journal, opened by the one driver.
pub struct Journal {
    path: PathBuf,
    file: File,
    by: String,
    dry_run: bool,
    _lock: File,
}

/// Why the journal could not be opened for driving.
#[derive(Debug)]
pub enum OpenError {
    /// Another cockpit drives: the lock file's text says who and since when.
    Driven {
        by: String,
    },
    Io(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Driven { by } => write!(f, "another cockpit drives this cutover: {by}"),
            OpenError::Io(e) => f.write_str(e),
        }
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

fn live_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".live");
    path.with_file_name(name)
}

/// The driver's newest progress line (a check's figures, a hook's output) and when it was
/// written, for observers: check figures change every poll and are not journaled. Shown only
/// while a driver holds the lock (a dead driver's last line is not news).
pub fn live_line(path: &Path) -> Option<(super::engine::Said, SystemTime)> {
    driver(path)?;
    let live = live_path(path);
    let at = std::fs::metadata(&live).and_then(|m| m.modified()).ok()?;
    let text = std::fs::read_to_string(&live).ok()?;
    Some((serde_json::from_str(&text).ok()?, at))
}

/// Who holds the driver's lock now, if anyone.
pub fn driver(path: &Path) -> Option<String> {
    let mut file = OpenOptions::new().read(true).write(true).open(lock_path(path)).ok()?;
    // SAFETY: flock on a file descriptor we own.
    let free = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0;
    if free {
        return None;
    }
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    Some(text.trim().to_string())
}

impl Journal {
    /// Opens (creating it and its directory) for driving; fails if another process drives.
    pub fn open(path: &Path, dry_run: bool) -> Result<Journal, OpenError> {
        Journal::open_as(path, dry_run, false)
    }

    /// As `open`; `detached`: the lock says this is a detached driver (`handover`), which the
    /// next cockpit or `cutover run` may take the wave over from.
    pub fn open_as(path: &Path, dry_run: bool, detached: bool) -> Result<Journal, OpenError> {
        let io = |what: &str, e: std::io::Error| OpenError::Io(format!("{what} {}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io("cannot create the directory of the journal", e))?;
        }
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock_path(path))
            .map_err(|e| io("cannot open the lock of the journal", e))?;
        // SAFETY: flock on a file descriptor we own; the kernel drops it when the process dies.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let mut by = String::new();
            let _ = lock.read_to_string(&mut by);
            return Err(OpenError::Driven {
                by: by.trim().to_string(),
            });
        }
        let by = whoami();
        let since = humantime::format_rfc3339_seconds(SystemTime::now());
        lock.set_len(0)
            .map_err(|e| io("cannot write the lock of the journal", e))?;
        lock.seek(SeekFrom::Start(0))
            .map_err(|e| io("cannot write the lock of the journal", e))?;
        let role = if detached {
            format!(", {}", super::handover::DETACHED)
        } else {
            String::new()
        };
        writeln!(lock, "{by} (pid {}{role}) since {since}", std::process::id())
            .map_err(|e| io("cannot write the lock of the journal", e))?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io("cannot open the journal", e))?;
        drop_torn_tail(path, &file).map_err(|e| io("cannot repair the journal", e))?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            by,
            dry_run,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn by(&self) -> &str {
        &self.by
    }

    /// Publishes the driver's newest progress line for observers (`live_line`). Replaced
    /// whole by a rename, so a reader never sees half a line; best effort, never fsynced:
    /// it is a view, not the record.
    pub fn say_live(&self, said: &super::engine::Said) {
        let live = live_path(&self.path);
        let mut tmp = live.clone().into_os_string();
        tmp.push(".tmp");
        let json = serde_json::to_string(said).unwrap_or_default();
        if let Err(e) = std::fs::write(&tmp, json).and_then(|_| std::fs::rename(&tmp, &live)) {
            tracing::debug!("cannot publish the live line {}: {e}", live.display());
        }
    }

    /// Appends one event and fsyncs it: when this returns Ok, the event survives a crash.
    pub fn append(&mut self, wave: &str, event: Event) -> crate::error::Result<Entry> {
        let now = SystemTime::now();
        let entry = Entry {
            at_ms: now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64),
            at: humantime::format_rfc3339_millis(now).to_string(),
            by: self.by.clone(),
            wave: wave.to_string(),
            dry_run: self.dry_run,
            event,
        };
        let mut line = serde_json::to_string(&entry).map_err(|e| e.to_string())?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(|e| format!("cannot write the journal {}: {e}", self.path.display()))?;
        Ok(entry)
    }
}

/// A crash mid-write leaves half a line at the end: it was never a journaled entry (an
/// append returns only once its whole line is on disk), so it is cut off before the next
/// append, which would otherwise glue its line to it and make the journal unreadable.
fn drop_torn_tail(path: &Path, file: &File) -> std::io::Result<()> {
    let bytes = std::fs::read(path)?;
    if bytes.last().is_none_or(|b| *b == b'\n') {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    tracing::warn!(
        journal = %path.display(),
        bytes = bytes.len() - keep,
        "the journal's last line is incomplete (a crash mid-write): cut off"
    );
    file.set_len(keep as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cutover::engine::Step;

    #[test]
    fn append_read_and_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j/x.journal");
        let mut j = Journal::open(&path, false).unwrap();
        j.append("w1", Event::Paused).unwrap();
        j.append("w1", Event::Retry { step: Step::Drain }).unwrap();
        let entries = read(&path).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].event, Event::Retry { step: Step::Drain });
        assert!(entries[0].by.contains('@'));
        // A crash mid-write leaves half a line: it is left out, the rest is read.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"at_ms\":1,\"at")
            .unwrap();
        assert_eq!(read(&path).unwrap().len(), 2);
        // Opened again (the driver resumes): the half line is cut off, and what is appended
        // next is read.
        drop(j);
        let mut j = Journal::open(&path, false).unwrap();
        j.append("w1", Event::Resumed).unwrap();
        let entries = read(&path).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].event, Event::Resumed);
    }

    fn ends(offsets: &[(i32, i64)]) -> Vec<crate::cutover::engine::PartitionEnd> {
        offsets
            .iter()
            .map(|(p, o)| crate::cutover::engine::PartitionEnd {
                topic: "src.clicks".into(),
                partition: *p,
                offset: *o,
            })
            .collect()
    }

    fn entry(at_ms: i64, wave: &str, dry_run: bool, event: Event) -> Entry {
        Entry {
            at_ms,
            at: String::new(),
            by: "me@here".into(),
            wave: wave.into(),
            dry_run,
            event,
        }
    }

    #[test]
    fn target_only_ranges_are_folded_from_flip_to_stop_per_run() {
        let started = || Event::WaveStarted {
            strategy: crate::config::Strategy::StopTheWorld,
            topics: vec!["clicks".into()],
            groups: vec![],
        };
        let entries = vec![
            entry(1_000, "a", false, started()),
            entry(
                2_000,
                "a",
                false,
                Event::TargetWritesBegan {
                    ends: ends(&[(0, 100), (1, 50)]),
                },
            ),
            // Partition 1 received nothing on the target: no range.
            entry(
                3_000,
                "a",
                false,
                Event::TargetWritesStopped {
                    ends: ends(&[(0, 140), (1, 50)]),
                },
            ),
            // A dry run's entries never count.
            entry(
                3_500,
                "a",
                true,
                Event::TargetWritesBegan {
                    ends: ends(&[(0, 140)]),
                },
            ),
            entry(4_000, "a", false, started()),
            entry(
                5_000,
                "a",
                false,
                Event::TargetWritesBegan {
                    ends: ends(&[(0, 300)]),
                },
            ),
        ];
        let t = target_only(&entries);
        let p0 = t.partition("src.clicks", 0);
        assert_eq!(p0.0.len(), 2);
        assert_eq!(
            (p0.0[0].from, p0.0[0].to, p0.0[0].stopped_at_ms),
            (100, Some(140), Some(3_000))
        );
        // The second run is done and its producers still write to the target: open.
        assert_eq!((p0.0[1].from, p0.0[1].to), (300, None));
        assert!(t.partition("src.clicks", 1).is_empty());
        // A new run drops a flip of the run before that no rollback stopped.
        let t = target_only(&[
            entry(1, "a", false, Event::TargetWritesBegan { ends: ends(&[(0, 10)]) }),
            entry(2, "a", false, started()),
        ]);
        assert!(t.is_empty());
    }

    #[test]
    fn a_second_driver_is_refused_and_told_who_drives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let first = Journal::open(&path, false).unwrap();
        assert!(driver(&path).unwrap().contains(&std::process::id().to_string()));
        match Journal::open(&path, false) {
            Err(OpenError::Driven { by }) => assert!(by.contains(first.by()), "{by}"),
            other => panic!("{:?}", other.err()),
        }
        // Its progress line is seen by observers while it drives, and not after.
        let said = crate::cutover::engine::Said::new(
            "w1",
            SystemTime::now(),
            Duration::from_secs(3),
            Some(Step::Drain),
            Some(crate::cutover::engine::Check::Drained),
            "drift 3 records",
        );
        first.say_live(&said);
        let (seen, _) = live_line(&path).unwrap();
        assert_eq!(seen, said);
        assert_eq!(seen.about(Step::Drain), Some("drift 3 records"));
        drop(first);
        // Another test of this process that forks (hooks, brokers) can hold a copy of the lock's
        // descriptor between its fork and exec (close-on-exec closes it then): the lock is free
        // within moments, not always at the drop.
        let released = std::time::Instant::now();
        while driver(&path).is_some() && released.elapsed() < std::time::Duration::from_secs(2) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(driver(&path), None);
        assert_eq!(live_line(&path), None);
        assert!(Journal::open(&path, false).is_ok());
    }
}
