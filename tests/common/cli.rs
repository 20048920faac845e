//! Running the `cutover` binary as an engineer would, watching what it prints, with a
//! `kill -9` at a chosen line.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// What a run printed, and how it ended (None: killed).
pub struct Ran {
    pub code: Option<i32>,
    pub text: String,
}

/// Runs the binary; with `kill_at`, sends SIGKILL as soon as a printed line contains it.
pub fn cutover(config: &Path, args: &[&str], kill_at: Option<&str>) -> Ran {
    cutover_watching(config, args, kill_at, &mut |_| {})
}

/// `cutover`, calling `on_line` with every line as it is printed.
pub fn cutover_watching(config: &Path, args: &[&str], kill_at: Option<&str>, on_line: &mut dyn FnMut(&str)) -> Ran {
    use std::io::BufRead;
    let limit = Duration::from_secs(240);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let readers: Vec<_> = [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ]
    .into_iter()
    .map(|stream| {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        })
    })
    .collect();
    let deadline = Instant::now() + limit;
    let mut killed = false;
    let mut seen = 0;
    while child.try_wait().unwrap().is_none() {
        let new: Vec<String> = lines.lock().unwrap()[seen..].to_vec();
        seen += new.len();
        new.iter().for_each(|l| on_line(l));
        if let Some(pattern) = kill_at {
            if lines.lock().unwrap().iter().any(|l| l.contains(pattern)) {
                child.kill().unwrap(); // SIGKILL
                killed = true;
                break;
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "cutover {args:?} did not finish within {limit:?}:\n{}",
                lines.lock().unwrap().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait().unwrap();
    for r in readers {
        let _ = r.join();
    }
    let text = lines.lock().unwrap().join("\n");
    Ran {
        code: if killed { None } else { status.code() },
        text,
    }
}
