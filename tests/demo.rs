//! `cutover demo` as a person uses it, in a real terminal (tmux, 160x48): the estate fills the
//! overview, every view opens, wave 1 is cut over with keys and its groups end up Stable on the
//! target, each fault of the menu shows where an on-call engineer would look, the first two
//! minutes show no false alarm, and `q` leaves no process and no file behind.
//!
//! Each test runs its own demo (two tansu brokers, the applications, the replicator); they run
//! one at a time, the machine has two cores.

mod common;

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::tmux::Tmux;

static ONE_DEMO_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A demo in tmux, with its temporary directory under a directory of the test's own.
struct DemoSession {
    t: Tmux,
    tmpdir: tempfile::TempDir,
    /// Tansu processes that were running before (another test's, ending).
    tansu_before: Vec<String>,
}

fn tansu_processes() -> Vec<String> {
    let out = Command::new("pgrep").args(["-x", "tansu"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

impl DemoSession {
    fn start(name: &str) -> DemoSession {
        if let Err(e) = cutover::demo::broker::tansu_binary() {
            panic!("this test needs tansu: {e}");
        }
        let tmpdir = tempfile::tempdir().unwrap();
        let tansu_before = tansu_processes();
        let t = Tmux {
            socket: format!("cutover-demo-{}-{name}", std::process::id()),
            config: tmpdir.path().join("unused"),
        };
        let script = format!("{} demo; echo EXIT=$?; sleep 600", env!("CARGO_BIN_EXE_cutover"));
        // TMPDIR for the demo (not in any command line): its directory is made under ours.
        let out = Command::new("tmux")
            .env("TMPDIR", tmpdir.path())
            .args([
                "-L",
                &t.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "e2e",
                "-x",
                "160",
                "-y",
                "48",
            ])
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("tmux is needed for this test ({e}); install it with `apt-get install tmux`"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        DemoSession {
            t,
            tmpdir,
            tansu_before,
        }
    }

    /// Waits up to `limit` for the screen to satisfy `ok`.
    fn wait(&self, what: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.t.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {limit:?} waiting for {what}; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The overview with every topic of the estate, both clusters LIVE.
    fn wait_overview(&self, limit: Duration) -> String {
        self.wait("the overview of the estate", limit, |s| {
            [
                "payments",
                "orders",
                "notifications",
                "clickstream",
                "customer-profiles",
                "audit",
            ]
            .iter()
            .all(|t| s.contains(t))
                && s.matches("LIVE").count() == 2
        })
    }

    fn command(&self, text: &str) {
        self.t.keys(&["Escape", ":"]);
        self.t.keys(&["-l", text]);
        self.t.keys(&["Enter"]);
    }

    /// A demo fault through the menu; returns the line that says what it did.
    fn fault(&self, name: &str) -> String {
        self.command(&format!("fault {name}"));
        let s = self.wait(&format!("fault {name} to happen"), Duration::from_secs(40), |s| {
            s.contains("fault: ") || s.contains("fault failed")
        });
        let line = s.lines().find(|l| l.contains("fault")).unwrap().trim().to_string();
        assert!(!line.contains("failed"), "{s}");
        line
    }

    /// `q`, then: exit 0, no tansu left, the demo's directory gone.
    fn quit_leaving_nothing(self) {
        self.t.keys(&["Escape", "q"]);
        self.wait("the demo to exit", Duration::from_secs(60), |s| s.contains("EXIT="));
        let s = self.t.screen();
        assert!(s.contains("EXIT=0"), "{s}");
        let ours = || -> Vec<String> {
            tansu_processes()
                .into_iter()
                .filter(|p| !self.tansu_before.contains(p))
                .collect()
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ours().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(ours(), Vec::<String>::new(), "a tansu of the demo is still running");
        let left: Vec<_> = std::fs::read_dir(self.tmpdir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "the demo left files behind: {left:?}");
    }
}

/// The topic/0 and source offset a record fault hit, from its line ("… TOPIC/0 source offset N; …").
fn fault_place(line: &str) -> (String, i64) {
    let (before, rest) = line.split_once("/0 source offset ").unwrap_or_else(|| panic!("{line}"));
    let topic = before.rsplit(' ').next().unwrap().to_string();
    let n = rest
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (topic, n)
}

/// The validation row of `topic`/0, once the run the fault asked for has reported.
fn fails_with(d: &DemoSession, topic: &str, words: &str) -> String {
    d.t.keys(&["Escape", "6"]);
    d.wait(
        &format!("{topic}/0 FAIL with `{words}`"),
        Duration::from_secs(40),
        |s| {
            s.lines().any(|l| {
                l.starts_with(&format!("{topic} ")) && l.contains(" 0 ") && l.contains("FAIL") && l.contains(words)
            })
        },
    )
}

#[test]
fn a_newcomer_cuts_wave_1_over_with_keys_and_quits_leaving_nothing() {
    let _one = ONE_DEMO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = DemoSession::start("wave");
    let started = Instant::now();
    d.wait_overview(Duration::from_secs(10));
    eprintln!("overview filled in {:?}", started.elapsed());
    // Every view opens.
    for (key, shows) in [
        ("2", "analytics-sessions"),
        ("3", "MISSING"),
        ("4", "cutover"),
        ("5", "offset-syncs"),
        ("6", "RESULT"),
        ("7", "WAVE"),
        ("?", "any key closes this help"),
    ] {
        d.t.keys(&["Escape", key]);
        d.wait(&format!("view {key}"), Duration::from_secs(10), |s| s.contains(shows));
    }
    d.t.keys(&["Escape", "7"]);
    d.wait("the plan's three waves", Duration::from_secs(10), |s| {
        s.contains("analytics") && s.contains("operations") && s.contains("payments") && s.contains("not started")
    });
    // Wave 1 (selected first): s, the name typed, then y to each step.
    d.t.keys(&["s"]);
    d.wait("the typed confirmation", Duration::from_secs(10), |s| {
        s.contains("type `analytics`")
    });
    d.t.keys(&["-l", "analytics"]);
    d.t.keys(&["Enter"]);
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut answered = 0;
    loop {
        let s = d.t.screen();
        let wave = s.lines().find(|l| l.starts_with("analytics ")).unwrap_or_default();
        if wave.contains("DONE") {
            break;
        }
        assert!(!wave.contains("STOPPED"), "{s}");
        assert!(Instant::now() < deadline, "wave 1 did not finish:\n{s}");
        if s.contains("y goes on") {
            d.t.keys(&["y"]);
            answered += 1;
            std::thread::sleep(Duration::from_millis(500));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(answered >= 5, "each step with side effects asked: {answered}");
    // Its group reads on the target, Stable; the others still on the source.
    d.t.keys(&["Escape", "2"]);
    let s = d.wait(
        "analytics-sessions Stable on the target",
        Duration::from_secs(30),
        |s| {
            // GROUP, SRC STATE, MEM, SRC LAG, AGE, TGT STATE, ...
            s.lines().any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.first() == Some(&"analytics-sessions")
                    && cols.get(1) == Some(&"Empty")
                    && cols.get(5) == Some(&"Stable")
            })
        },
    );
    let billing = s.lines().find(|l| l.starts_with("billing")).unwrap();
    assert!(
        billing.contains("Stable") && billing.contains(" - "),
        "billing still on the source: {billing}"
    );
    // The applications saw every record once.
    let header = s.lines().next().unwrap();
    assert!(header.contains(" 0 duplicates, 0 gaps"), "{header}");
    eprintln!("{s}");
    d.quit_leaving_nothing();
}

#[test]
fn fault_drop_is_a_validation_fail_at_the_exact_offset() {
    let _one = ONE_DEMO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = DemoSession::start("drop");
    d.wait_overview(Duration::from_secs(20));
    let line = d.fault("drop");
    let (topic, n) = fault_place(&line);
    fails_with(&d, &topic, &format!("missing on target: source offset {n},"));
    d.quit_leaving_nothing();
}

#[test]
fn fault_duplicate_is_a_validation_fail_at_the_next_offset() {
    let _one = ONE_DEMO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = DemoSession::start("duplicate");
    d.wait_overview(Duration::from_secs(20));
    let line = d.fault("duplicate");
    let (topic, n) = fault_place(&line);
    // The copy of N written twice: the target's second copy stands where N+1 should.
    fails_with(
        &d,
        &topic,
        &format!("extra record on target (duplicate?): source offset {},", n + 1),
    );
    d.quit_leaving_nothing();
}

#[test]
fn fault_corrupt_is_a_validation_fail_at_the_exact_offset() {
    let _one = ONE_DEMO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = DemoSession::start("corrupt");
    d.wait_overview(Duration::from_secs(20));
    let line = d.fault("corrupt");
    let (topic, n) = fault_place(&line);
    fails_with(&d, &topic, &format!("value differs: source offset {n},"));
    d.quit_leaving_nothing();
}

#[test]
fn fault_stall_shows_lag_and_resume_clears_it() {
    let _one = ONE_DEMO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = DemoSession::start("stall");
    d.wait_overview(Duration::from_secs(20));
    d.t.keys(&["Escape", "1"]);
    d.fault("stall");
    // The busiest topic passes lag_warn (50) within seconds.
    // A topic passes lag_warn (50 records in a partition) within seconds.
    d.wait("a topic lagging", Duration::from_secs(30), |s| {
        s.lines().any(|l| l.starts_with("LAG"))
    });
    d.fault("resume");
    d.wait("every topic OK again", Duration::from_secs(60), |s| {
        s.lines().any(|l| l.starts_with("OK") && l.contains("clickstream")) && !s.lines().any(|l| l.starts_with("LAG"))
    });
    d.quit_leaving_nothing();
}

#[test]
fn fault_stop_target_shows_the_target_stale_and_start_target_live() {
    let _one = ONE_DEMO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = DemoSession::start("target");
    d.wait_overview(Duration::from_secs(20));
    d.fault("stop-target");
    d.wait("the target STALE or DOWN", Duration::from_secs(30), |s| {
        s.contains("TGT cloud STALE") || s.contains("TGT cloud DOWN")
    });
    d.fault("start-target");
    d.wait("both clusters LIVE again", Duration::from_secs(60), |s| {
        s.matches("LIVE").count() == 2
    });
    d.quit_leaving_nothing();
}

#[test]
fn fault_rebalance_shows_the_group_rebalancing() {
    let _one = ONE_DEMO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = DemoSession::start("rebalance");
    d.wait_overview(Duration::from_secs(20));
    d.t.keys(&["Escape", "2"]);
    d.wait("billing Stable", Duration::from_secs(20), |s| {
        s.lines().any(|l| l.starts_with("billing") && l.contains("Stable"))
    });
    d.fault("rebalance");
    // A member leaves (the group rebalances to one member), then rejoins 3 s later (again, to
    // two). tansu finishes a rebalance within milliseconds, often inside one 1 s poll: when a
    // poll catches it the state shows (tansu says "Assigning", the consumer protocol's word),
    // else the cockpit tells it from the member ids changing between two polls. Either way the
    // REBALANCE column says so.
    let billing = |s: &str| -> Option<String> { s.lines().find(|l| l.starts_with("billing ")).map(str::to_string) };
    let left = d.wait(
        "billing's row to show the member leaving",
        Duration::from_secs(30),
        |s| billing(s).is_some_and(|l| l.contains("src rebalanced 2 -> 1 members") || l.contains("src rebalancing")),
    );
    eprintln!("{}", billing(&left).unwrap());
    let back = d.wait("billing's row to show the member back", Duration::from_secs(30), |s| {
        billing(s).is_some_and(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.get(1) == Some(&"Stable")
                && cols.get(2) == Some(&"2")
                && (l.contains("src rebalanced 1 -> 2 members") || l.contains("src last rebalance took"))
        })
    });
    eprintln!("{}", billing(&back).unwrap());
    // The log says it too, as a warning with the member counts.
    d.t.keys(&["Escape", "4"]);
    d.wait("the log to list billing's rebalances", Duration::from_secs(10), |s| {
        s.contains("group billing rebalanced between polls: 2 -> 1 members")
            || ["PreparingRebalance", "CompletingRebalance", "Assigning"]
                .iter()
                .any(|state| s.contains(&format!("group billing Stable -> {state}")))
    });
    d.quit_leaving_nothing();
}

/// "No false alarms" in the demo: during its first two minutes (producers writing, the
/// replicator copying a little behind, groups rebalancing, validation running), no view shows
/// FAIL or ERROR, and no reason on screen is debug text. Every top-level view is looked at,
/// over and over.
#[test]
fn the_demos_first_two_minutes_show_no_false_alarm() {
    let _one = ONE_DEMO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = DemoSession::start("quiet");
    d.wait_overview(Duration::from_secs(20));
    let started = Instant::now();
    let debug = ["Diverged", "Some(", "None)", "Err(", "Ok(", " { ", "Unavailable {"];
    let views = ["1", "2", "3", "4", "5", "6", "7", "?"];
    let mut looked = 0;
    while started.elapsed() < Duration::from_secs(120) {
        for key in views {
            d.t.keys(&["Escape", key]);
            std::thread::sleep(Duration::from_millis(400));
            let s = d.t.screen();
            looked += 1;
            for word in ["FAIL", "ERROR"] {
                assert!(
                    !s.contains(word),
                    "{word} after {:?} (key {key}):\n{s}",
                    started.elapsed()
                );
            }
            for dbg in debug {
                assert!(
                    !s.contains(dbg),
                    "debug text `{dbg}` after {:?} (key {key}):\n{s}",
                    started.elapsed()
                );
            }
        }
    }
    eprintln!("looked at {looked} screens in the demo's first two minutes");
    assert!(looked > 100, "looked at {looked} screens");
    d.quit_leaving_nothing();
}
