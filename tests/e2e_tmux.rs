//! The real binary in a real terminal (tmux), against two real brokers: it opens, shows the
//! topics, `?` shows help, `q` quits, and the terminal is left sane on every way out.

mod common;

use std::process::Command;
use std::time::Duration;

use common::tmux::Tmux;
use common::*;
use cutover::demo::broker::{Storage, TansuBroker};
use cutover::demo::clients::TopicSpec;

fn setup() -> (TansuBroker, TansuBroker, TempDir) {
    let (src, tgt, dir) = two_brokers(Storage::Sqlite);
    create(&src, &[TopicSpec::new("orders", 3), TopicSpec::new("payments", 2)]);
    create(&tgt, &[TopicSpec::new("east.orders", 3)]);
    produce(&src, "orders", 0, 12, false);
    produce(&tgt, "east.orders", 0, 9, false);
    (src, tgt, dir)
}

fn shows_topics(s: &str) -> bool {
    s.contains("orders") && s.contains("payments") && s.matches("LIVE").count() == 2
}

#[test]
fn opens_shows_topics_help_and_quits_leaving_the_terminal_sane() {
    let (src, tgt, dir) = setup();
    let t = Tmux::start("quit", dir.path(), &src, &tgt, "");
    let s = t.wait_screen("both clusters LIVE and the topics", shows_topics);
    assert!(s.contains("dc-east") && s.contains("cloud-west"), "{s}");
    let orders = s.lines().find(|l| l.contains("orders")).unwrap();
    assert!(
        orders.contains("OK") && orders.contains("12") && orders.contains("9") && orders.contains(" 3 "),
        "{orders}"
    );
    let payments = s.lines().find(|l| l.contains("payments")).unwrap();
    assert!(payments.contains("MISSING"), "{payments}");
    assert!(
        s.lines().last().unwrap_or_default().contains("q quit"),
        "key hints at the bottom:\n{s}"
    );

    t.keys(&["?"]);
    // The whole overlay, down to its last binding (tmux may show a frame half drawn).
    t.wait_screen("the help overlay", |s| {
        s.contains("Help: Overview") && s.contains("quit (the terminal is restored)")
    });
    t.keys(&["Escape"]);
    t.wait_screen("help closed", |s| !s.contains("Help: Overview"));
    t.keys(&["q"]);
    t.assert_exited_sane(0);
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    let (src, tgt, dir) = setup();
    for (signal, code) in [("TERM", 143), ("HUP", 129)] {
        let t = Tmux::start(&format!("sig{signal}"), dir.path(), &src, &tgt, "");
        t.wait_screen("the topics", shows_topics);
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(t.pid())
            .status()
            .unwrap();
        assert!(status.success());
        t.assert_exited_sane(code);
    }
}

#[test]
fn a_panic_in_a_task_restores_the_terminal() {
    let (src, tgt, dir) = setup();
    let t = Tmux::start(
        "panic",
        dir.path(),
        &src,
        &tgt,
        "CUTOVER_INJECT_TASK_PANIC=1 RUST_BACKTRACE=0",
    );
    t.assert_exited_sane(101);
    let s = t.screen();
    assert!(
        s.contains("injected by CUTOVER_INJECT_TASK_PANIC"),
        "the panic is reported after restoring:\n{s}"
    );
}

/// Every SGR parameter that sets a colour (30-38 and 40-48 foreground/background, 90-107
/// bright); 39 and 49 only reset to the terminal's default colours.
fn colour_codes(screen: &str) -> Vec<String> {
    screen
        .split("\x1b[")
        .skip(1)
        .filter_map(|seq| seq.split_once('m').map(|(params, _)| params.to_string()))
        .filter(|params| {
            params
                .split(';')
                .any(|p| matches!(p.parse::<u16>(), Ok(30..=38) | Ok(40..=48) | Ok(90..=107)))
        })
        .collect()
}

#[test]
fn no_color_draws_without_colour() {
    let (src, tgt, dir) = setup();
    let plain = Tmux::start("nocolor", dir.path(), &src, &tgt, "NO_COLOR=1");
    plain.wait_screen("the topics", shows_topics);
    let codes = colour_codes(&plain.screen_with_escapes());
    assert!(codes.is_empty(), "colour under NO_COLOR: {codes:?}");
    plain.keys(&["q"]);
    plain.assert_exited_sane(0);

    let coloured = Tmux::start("color", dir.path(), &src, &tgt, "");
    coloured.wait_screen("the topics", shows_topics);
    assert!(
        !colour_codes(&coloured.screen_with_escapes()).is_empty(),
        "the default theme uses colour"
    );
}

#[test]
fn validation_runs_in_the_background_and_on_v() {
    let (src, tgt, dir) = setup();
    let t = Tmux::start("validate", dir.path(), &src, &tgt, "");
    // The first scheduled run starts after the first poll; its results reach the overview.
    let s = t.wait_screen("a validation result for orders in the overview", |s| {
        s.lines()
            .any(|l| l.contains("orders") && l.trim_end().ends_with("PASS"))
    });
    let payments = s.lines().find(|l| l.contains("payments")).unwrap();
    assert!(payments.trim_end().ends_with("SKIPPED"), "missing on the target:\n{s}");

    t.keys(&["6"]);
    let s = t.wait_screen("the Validation view", |s| {
        s.contains("› Validation") && s.contains("Runs")
    });
    let p0 = s
        .lines()
        .find(|l| l.starts_with("orders") && l.contains(" 0 "))
        .unwrap();
    assert!(
        p0.contains("PASS") && p0.contains("0..9"),
        "9 of 12 records copied, all equal:\n{s}"
    );
    assert!(
        s.contains("orders/0: later source records not copied yet"),
        "the selected row's detail:\n{s}"
    );
    assert!(s.contains("scheduled"), "run history:\n{s}");

    // The target gets k0..k11 again after its k0..k8, then `v` on orders: run 2 starts where
    // run 1 ended (source 9, target 9) and finds k9 on the source against k0 on the target.
    produce(&tgt, "east.orders", 0, 12, false);
    t.keys(&["v"]);
    let s = t.wait_screen("the on-demand run's result", |s| {
        s.contains("on demand") && s.contains("FAIL")
    });
    let p0 = s
        .lines()
        .find(|l| l.starts_with("orders") && l.contains(" 0 "))
        .unwrap();
    assert!(p0.contains("FAIL"), "{s}");
    t.keys(&["Enter"]);
    let s = t.wait_screen("the partition's detail", |s| s.contains("first mismatch"));
    assert!(s.contains("source offset 9, target offset 9"), "{s}");
    assert!(s.contains("validated: source 0..9, target 0..9"), "{s}");
    t.keys(&["q"]);
    t.assert_exited_sane(0);
}

/// Item 12 of "no false alarms": a paste (bracketed, as tmux sends it to an application that
/// asked for it) is literal text for the `/` filter: its newline and `q` neither run nor quit.
/// A paste of over 1 KB at `:` arrives whole, without waiting for another key.
#[test]
fn a_paste_is_text_for_the_prompt_never_keys() {
    let (src, tgt, dir) = setup();
    let t = Tmux::start("paste", dir.path(), &src, &tgt, "");
    t.wait_screen("both clusters LIVE and the topics", shows_topics);
    t.keys(&["/"]);
    t.cmd(&["set-buffer", "-b", "p", "pay\nq"]);
    t.cmd(&["paste-buffer", "-p", "-b", "p", "-t", "e2e"]);
    let s = t.wait_screen("the pasted filter", |s| s.contains("pay q"));
    assert!(!s.contains("EXIT="), "the paste quit the cockpit:\n{s}");
    t.keys(&["Escape"]);
    t.keys(&[":"]);
    let long = format!("{}\n", "x".repeat(1_500));
    t.cmd(&["set-buffer", "-b", "long", &long]);
    t.cmd(&["paste-buffer", "-p", "-b", "long", "-t", "e2e"]);
    t.wait_screen("the whole paste in the command prompt", |s| s.contains("xxxxxxxx"));
    t.keys(&["Escape"]);
    t.keys(&["q"]);
    t.assert_exited_sane(0);
}

/// "Translations that stay current": a live group (a member consuming, auto-committing every
/// second) while a producer writes and the replicator copies. In the group view, EXACT is a
/// figure that follows the commits on its own; it never reads "stale" for longer than one
/// refresh (500 ms here) plus the time to sample the screen.
#[test]
fn a_live_groups_exact_translation_follows_its_commits() {
    use cutover::demo::clients::{GroupMember, RecordWriter};
    use cutover::demo::replicator::{Replicator, ReplicatorSpec};
    use cutover::kafka::records::Record;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    // The memory engine: tansu's sqlite engine breaks DescribeGroups (test-brokers.md); its
    // end offsets need one record per produce request.
    let (src, tgt, dir) = two_brokers(Storage::Memory);
    create(&src, &[TopicSpec::new("orders", 1)]);
    create(&tgt, &[TopicSpec::new("east.orders", 1)]);
    produce(&src, "orders", 0, 50, true);
    let replication = config(&src, &tgt, "[replication]\nsource_alias = \"east\"\n").replication;
    let mut spec = ReplicatorSpec::new(cluster(&src, "src"), cluster(&tgt, "tgt"), replication, &["orders"]);
    spec.one_record_per_request = true;
    let _r = Replicator::start(spec).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (stop, w) = (stop.clone(), RecordWriter::new(&cluster(&src, "p"), true).unwrap());
        std::thread::spawn(move || {
            let mut i = 50i64;
            while !stop.load(Ordering::SeqCst) {
                let r = Record {
                    key: Some(format!("k{i}").into_bytes()),
                    value: Some(format!("v{i}").into_bytes()),
                    headers: vec![],
                    timestamp: Some(1_700_000_000_000 + i),
                };
                w.send("orders", 0, &r).unwrap();
                w.flush(Duration::from_secs(10)).unwrap();
                i += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let consumer = {
        let (stop, member) = (
            stop.clone(),
            GroupMember::join(&cluster(&src, "c"), "billing", &["orders"]).unwrap(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let _ = member.poll(Duration::from_millis(100));
            }
            member.leave();
        })
    };

    let t = Tmux::start("live-group", dir.path(), &src, &tgt, "");
    t.wait_screen("the topics", |s| s.contains("orders"));
    t.keys(&["2"]);
    t.wait_screen("the group billing", |s| s.contains("billing"));
    t.keys(&["Enter"]);
    let exact = |s: &str| -> Option<String> {
        let row = s.lines().find(|l| l.trim_start().starts_with("orders"))?;
        row.split_whitespace().nth(5).map(str::to_string)
    };
    t.wait_screen("an exact figure in the group view", |s| {
        exact(s).is_some_and(|e| e.parse::<i64>().is_ok())
    });
    let (mut stale_since, mut longest) = (None::<std::time::Instant>, Duration::ZERO);
    let mut figures = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        let s = t.screen();
        match exact(&s).as_deref() {
            Some("stale") => {
                let since = *stale_since.get_or_insert_with(std::time::Instant::now);
                longest = longest.max(since.elapsed());
            }
            Some(e) => {
                stale_since = None;
                if let Ok(n) = e.parse::<i64>() {
                    figures.insert(n);
                }
            }
            None => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    producer.join().unwrap();
    consumer.join().unwrap();
    eprintln!("EXACT figures seen: {}, longest stale: {longest:?}", figures.len());
    assert!(
        figures.len() >= 5,
        "EXACT followed the commits without a key: {figures:?}"
    );
    assert!(
        longest <= Duration::from_millis(500 + 300),
        "EXACT read stale for {longest:?}, more than one refresh"
    );
    t.keys(&["q"]);
    t.assert_exited_sane(0);
}

/// Two brokers (tansu's memory engine: its sqlite engine breaks DescribeGroups, test-brokers.md;
/// its end offsets need one record per produce request, which the app and replicator send),
/// the replicator, the application processing on the source, and the config of wave `w1`
/// (orders, billing, confirm each-step, the application's hooks, `criteria` after them).
struct WaveEstate {
    src: TansuBroker,
    tgt: TansuBroker,
    dir: TempDir,
    replicator: cutover::demo::replicator::Replicator,
    app: common::app::App,
    config: std::path::PathBuf,
    journal: std::path::PathBuf,
}

fn wave_estate(settle: &str, criteria: &str) -> WaveEstate {
    use common::app::{App, AppSpec};
    use cutover::demo::replicator::{Replicator, ReplicatorSpec};
    let (src, tgt, dir) = two_brokers(Storage::Memory);
    create(&src, &[TopicSpec::new("orders", 2)]);
    create(&tgt, &[TopicSpec::new("east.orders", 2)]);
    let replication = config(&src, &tgt, "[replication]\nsource_alias = \"east\"\n").replication;
    let mut spec = ReplicatorSpec::new(cluster(&src, "src"), cluster(&tgt, "tgt"), replication, &["orders"]);
    spec.one_record_per_request = true;
    spec.offset_lag_max = 10;
    let replicator = Replicator::start(spec).unwrap();
    let app = App::start(
        dir.path(),
        AppSpec {
            source: cluster(&src, "source"),
            target: cluster(&tgt, "target"),
            topic: "orders".into(),
            target_topic: "east.orders".into(),
            partitions: 2,
            group: "billing".into(),
            pause: Duration::from_millis(30),
            abort_every: None,
        },
    );
    wait_for(Duration::from_secs(30), "the group processing on the source", || {
        (app.processed.lock().unwrap().len() > 40).then_some(())
    });
    let config = dir.path().join("cutover.toml");
    let journal = dir.path().join("cutover.journal");
    std::fs::write(
        &config,
        format!(
            "[source]\nname = \"dc-east\"\nbootstrap = \"{}\"\n[target]\nname = \"cloud-west\"\nbootstrap = \"{}\"\n\
             [replication]\nsource_alias = \"east\"\n[monitor]\nrefresh_interval = \"500ms\"\nrequest_timeout = \"2s\"\n\
             [validation]\ninterval = \"off\"\n\
             [cutover]\njournal = \"{}\"\nsettle = \"{settle}\"\n\
             [[wave]]\nname = \"w1\"\ntopics = [\"orders\"]\ngroups = [\"billing\"]\nconfirm = \"each-step\"\n{}{criteria}\
             [log]\nfile = \"{}\"\n",
            src.bootstrap(),
            tgt.bootstrap(),
            journal.display(),
            app.hooks_toml(),
            dir.path().join("cutover.log").display()
        ),
    )
    .unwrap();
    WaveEstate {
        src,
        tgt,
        dir,
        replicator,
        app,
        config,
        journal,
    }
}

/// A cockpit in tmux on `config`, the Cutover view shown and wave w1 started (its name typed).
fn start_w1(name: &str, config: &std::path::Path) -> Tmux {
    let t = Tmux::open(name, config, "");
    t.wait_screen("the topics", |s| s.contains("orders"));
    t.keys(&["7"]);
    t.wait_screen("the wave, not started", |s| {
        s.contains("w1") && s.contains("not started")
    });
    t.keys(&["s"]);
    t.wait_screen("the typed confirmation", |s| s.contains("Start wave w1?"));
    t.keys(&["w", "1", "Enter"]);
    t
}

/// After a rollback: the producer writes on the source again, and every record acknowledged
/// was processed exactly once.
fn writes_again_exactly_once(app: common::app::App, replicator: &cutover::demo::replicator::Replicator) {
    use common::app::exactly_once_violations;
    let before = app.acked.lock().unwrap().len();
    wait_for(Duration::from_secs(30), "the producer writing again", || {
        (app.acked.lock().unwrap().len() > before + 20).then_some(())
    });
    assert_eq!(replicator.error(), None);
    let (acked, processed, errors) = app.finish(Duration::from_secs(60));
    let violations = exactly_once_violations(&acked, &processed);
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(errors.is_empty(), "{errors:?}");
}

/// The cutover view, driven with keys: `7`, `s` and the wave's name typed, every step's y/N
/// answered, a pause (`p`) during a wait and a resume (`p` again); a second cockpit on the same
/// journal follows the wave as an observer. The application moved by the hooks ends up reading
/// on the target, every record processed exactly once.
#[test]
fn a_wave_driven_with_keys_with_a_pause_and_an_observer() {
    use common::app::exactly_once_violations;
    let WaveEstate {
        src: _src,
        tgt: _tgt,
        dir: _dir,
        replicator,
        app,
        config,
        journal: _,
    } = wave_estate("3s", "");
    let t = Tmux::open("wave", &config, "");
    t.wait_screen("the topics", |s| s.contains("orders"));
    t.keys(&["7"]);
    t.wait_screen("the wave, not started", |s| {
        s.contains("w1") && s.contains("not started")
    });
    t.keys(&["s"]);
    t.wait_screen("the typed confirmation", |s| {
        s.contains("Start wave w1?") && s.contains("type `w1`")
    });
    // A `y` is only a letter here: the start needs the name.
    t.keys(&["w", "1", "Enter"]);

    // Every step asks (confirm = each-step): the hook's command line is in the question.
    let s = t.wait_screen("the freeze hook's question", |s| {
        s.contains("freeze producers: run the hook freeze_producers?")
    });
    assert!(s.contains("echo stopped >"), "the command line is shown:\n{s}");
    t.keys(&["y"]);
    t.wait_screen("the settle wait", |s| {
        s.contains("unchanged for") || s.contains("first look")
    });
    t.keys(&["p"]);
    t.wait_screen("the wave paused", |s| s.contains("PAUSED"));

    // A second cockpit on the same journal: an observer.
    let observer = Tmux::open("observer", &config, "");
    observer.wait_screen("the topics", |s| s.contains("orders"));
    observer.keys(&["7"]);
    // While the first cockpit is paused nobody holds the lock; once it drives again, the
    // observer says who drives.
    t.keys(&["p"]);
    let seen = observer.wait_screen("the observer's view of the wave", |s| {
        s.contains("OBSERVING: driven by") && s.contains("freeze producers")
    });
    // The figures of the check that decides the step (the settle wait's, not journaled per
    // poll) reach the observer too.
    observer.wait_screen("the check's figures on the observer", |s| {
        // Whichever check runs when it looks: the settle, the drain, the parity or the
        // groups' state on the source.
        s.lines().any(|l| {
            l.contains("driver, ")
                && [
                    "stand still",
                    "every source record",
                    "final parity of the tail",
                    "groups Empty",
                ]
                .iter()
                .any(|c| l.contains(c))
        })
    });
    observer.keys(&["s"]);
    observer.wait_screen("the observer refusing to drive", |s| s.contains("observing:"));

    // Answer every question until the wave is done (the commit shows each partition first).
    let mut answered = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let s = t.screen();
        if s.contains("DONE") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the wave did not finish:\n{s}");
        assert!(!s.contains("STOPPED"), "{s}");
        if s.contains("y goes on") {
            let q = s
                .lines()
                .find(|l| l.contains('?'))
                .unwrap_or_default()
                .trim()
                .to_string();
            if q.contains("commit these offsets") {
                assert!(s.contains("east.orders/0") && s.contains("east.orders/1"), "{s}");
            }
            answered.push(q);
            t.keys(&["y"]);
            std::thread::sleep(Duration::from_millis(300));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        answered.len() >= 4,
        "stop, commit, flip consumers, flip producers: {answered:#?}"
    );
    observer.wait_screen("the observer seeing the wave done", |s| s.contains("DONE"));
    eprintln!("observer saw:\n{seen}\nanswered: {answered:#?}");
    t.keys(&["q"]);
    t.assert_exited_sane(0);
    observer.keys(&["q"]);
    observer.assert_exited_sane(0);

    let before = app.processed.lock().unwrap().len();
    wait_for(Duration::from_secs(30), "processing on the target", || {
        let p = app.processed.lock().unwrap();
        (p.len() > before + 20 && p.last().is_some_and(|r| r.on_target)).then_some(())
    });
    assert_eq!(replicator.error(), None);
    let (acked, processed, errors) = app.finish(Duration::from_secs(60));
    let violations = exactly_once_violations(&acked, &processed);
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(errors.is_empty(), "{errors:?}");
}

/// Acceptance (issue 23, the pause budget): a wave driven from the cockpit, producers frozen
/// and nobody answering the next question: the header counts the write pause against
/// `max_write_pause`; past it, the alarm on the screen, and with `auto_rollback` the drive
/// stops and the wave rolls back by itself (journaled), without asking: the producers write
/// on the source again and every record is processed exactly once.
#[test]
fn a_write_pause_past_its_budget_raises_the_alarm_and_rolls_back_by_itself() {
    let WaveEstate {
        src: _src,
        tgt: _tgt,
        dir: _dir,
        replicator,
        app,
        config,
        journal,
    } = wave_estate(
        "2s",
        "[wave.criteria]\nmax_write_pause = \"6s\"\nauto_rollback = true\n",
    );
    let t = start_w1("budget", &config);
    t.wait_screen("the freeze hook's question", |s| {
        s.contains("freeze producers: run the hook freeze_producers?")
    });
    t.keys(&["y"]);
    let frozen = std::time::Instant::now();
    // The pause clock in the header, counting against the budget.
    let clock = t.wait_screen("the write pause clock", |s| {
        s.lines()
            .next()
            .is_some_and(|l| l.contains("w1: writes paused") && l.contains("of 6.0s"))
    });
    // Nobody answers the next question: past 6 s the alarm, then the rollback by itself.
    let alarm = t.wait_screen("the pause budget alarm", |s| s.contains("PAUSE BUDGET"));
    let raised = frozen.elapsed();
    let rolled_back = t.wait_screen("the wave rolled back", |s| s.contains("ROLLED BACK"));
    eprintln!("{clock}\n{alarm}\n{rolled_back}\nalarm after {raised:?}");
    assert!(
        raised >= Duration::from_secs(6),
        "the alarm came before the budget: {raised:?}"
    );
    assert!(raised < Duration::from_secs(6 + 3), "the alarm came late: {raised:?}");
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(
        text.contains("automatic rollback (auto_rollback = true): PAUSE BUDGET: wave w1: writes paused"),
        "the rollback is journaled with its reason:\n{text}"
    );
    assert!(text.contains("\"rollback_started\""), "{text}");
    // The producers were let write on the source again, by the rollback's own hook.
    let hooks = app.hooks_ran();
    assert!(hooks.contains(&"rollback_freeze_producers".to_string()), "{hooks:?}");
    assert!(!hooks.contains(&"flip_producers".to_string()), "{hooks:?}");
    t.keys(&["q"]);
    t.assert_exited_sane(0);

    writes_again_exactly_once(app, &replicator);
}

/// `[metrics] listen` in the cockpit: the same endpoint as `cutover serve`, while the TUI owns
/// the terminal (nothing printed on it), closed when the cockpit quits.
#[test]
fn the_cockpit_serves_metrics_while_it_runs() {
    let (src, tgt, dir) = setup();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("cutover.toml");
    std::fs::write(
        &config,
        format!(
            "[source]\nname = \"dc-east\"\nbootstrap = \"{}\"\n[target]\nname = \"cloud-west\"\nbootstrap = \"{}\"\n\
             [replication]\nsource_alias = \"east\"\n[monitor]\nrefresh_interval = \"500ms\"\n\
             [metrics]\nlisten = \"127.0.0.1:{port}\"\n[log]\nfile = \"{}\"\n",
            src.bootstrap(),
            tgt.bootstrap(),
            dir.path().join("cutover.log").display()
        ),
    )
    .unwrap();
    let t = Tmux::open("metrics", &config, "");
    t.wait_screen("both clusters LIVE and the topics", shows_topics);
    let body = wait_for(Duration::from_secs(20), "a scrape with the lag of orders", || {
        let (_, body) = common::http::get(port, "/metrics")?;
        body.contains("cutover_topic_replication_lag_records{topic=\"orders\"} 3")
            .then_some(body)
    });
    assert!(
        body.contains("cutover_poll_duration_seconds{side=\"source\",cluster=\"dc-east\"}"),
        "{body}"
    );
    assert!(
        shows_topics(&t.screen()),
        "the screen is the cockpit's:\n{}",
        t.screen()
    );
    t.keys(&["q"]);
    t.assert_exited_sane(0);
    assert!(
        common::http::get(port, "/metrics").is_none(),
        "the endpoint closes with the cockpit"
    );
}

/// Answers y to every question of the drive until one contains `until` (left open), each
/// once; the questions answered.
fn answer_until(t: &Tmux, until: &str) -> Vec<String> {
    let mut answered = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = t.screen();
        assert!(std::time::Instant::now() < deadline, "no question with {until:?}:\n{s}");
        assert!(!s.contains("STOPPED") && !s.contains("ROLLED BACK"), "{s}");
        if s.contains("y goes on") {
            let q = s
                .lines()
                .find(|l| l.contains('?'))
                .unwrap_or_default()
                .trim()
                .to_string();
            if q.contains(until) {
                return answered;
            }
            // The screen may still show the question just answered: never answer twice.
            if answered.last() != Some(&q) {
                answered.push(q);
                t.keys(&["y"]);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The pids of the detached drivers of wave w1 on `config`.
fn detached_drivers(config: &std::path::Path) -> Vec<String> {
    let pattern = format!("--config {} run --wave w1 --detached$", config.display());
    let out = Command::new("pgrep").args(["-f", "--", &pattern]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Kills the detached drivers of wave w1 on a config when dropped: they run in sessions of
/// their own, so a test that fails midway would leave them running.
struct KillDetached(std::path::PathBuf);

impl Drop for KillDetached {
    fn drop(&mut self) {
        for pid in detached_drivers(&self.0) {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    }
}

/// The journal's entries of one kind, as JSON.
fn journaled(journal: &std::path::Path, kind: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(journal)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == kind)
        .collect()
}

/// Acceptance (issue 23, an SSH drop): a wave driven from the cockpit, producers frozen, the
/// commit question open; the terminal closed (tmux kills the session: SIGHUP). The wave goes
/// on in a detached driver holding the journal's lock; a new cockpit takes it over (and says
/// so) and gets the same question; its terminal closed too, the next detached driver, nobody
/// at the wheel, rolls the wave back by itself once the write pause passes `max_write_pause`
/// (auto_rollback): the producers write on the source again, every record processed once.
#[test]
fn an_ssh_drop_hands_the_wave_to_a_detached_driver_and_a_new_cockpit_takes_it_over() {
    let WaveEstate {
        src: _src,
        tgt: _tgt,
        dir: _dir,
        replicator,
        app,
        config,
        journal,
    } = wave_estate(
        "2s",
        "[wave.criteria]\nmax_write_pause = \"30s\"\nauto_rollback = true\n",
    );
    let _kill_detached = KillDetached(config.clone());
    let lock = std::path::PathBuf::from(format!("{}.lock", journal.display()));
    let first = start_w1("drop1", &config);
    let answered = answer_until(&first, "commit these offsets");
    assert!(answered[0].contains("run the hook freeze_producers?"), "{answered:#?}");
    assert!(answered.iter().any(|q| q.contains("stop consumers")), "{answered:#?}");
    assert!(detached_drivers(&config).is_empty());

    // The terminal closes: the cockpit hands the wave over and exits.
    let cockpit = first.pid();
    first.cmd(&["kill-session", "-t", "e2e"]);
    let detached = wait_for(Duration::from_secs(20), "a detached driver holding the journal", || {
        let pids = detached_drivers(&config);
        let held = std::fs::read_to_string(&lock).unwrap_or_default();
        (pids.len() == 1 && held.contains(&format!("(pid {}, detached driver)", pids[0]))).then(|| pids[0].clone())
    });
    wait_for(Duration::from_secs(20), "the cockpit gone", || {
        (!std::path::Path::new(&format!("/proc/{cockpit}")).exists()).then_some(())
    });
    let log = std::fs::read_to_string(_dir.path().join("cutover.log")).unwrap();
    assert!(
        log.contains(&format!("wave w1 handed to a detached driver (pid {detached})")),
        "{log}"
    );
    wait_for(
        Duration::from_secs(20),
        "the detached driver holding at the question",
        || {
            std::fs::read_to_string(_dir.path().join("cutover.log"))
                .unwrap()
                .contains("held at: commit offsets")
                .then_some(())
        },
    );
    let producer = std::fs::read_to_string(app.producer_file()).unwrap();
    assert_eq!(producer.trim(), "stopped", "the producers stay frozen meanwhile");

    // A new cockpit sees who holds the wave, and takes it over with s.
    let second = Tmux::open("drop2", &config, "");
    second.wait_screen("the topics", |s| s.contains("orders"));
    second.keys(&["7"]);
    second.wait_screen("the detached driver named", |s| {
        s.contains(&format!("DETACHED: a detached driver (pid {detached})"))
    });
    second.keys(&["s"]);
    let took = second.wait_screen("the take-over said and the question asked again", |s| {
        s.contains("commit these offsets") && s.contains("y goes on")
    });
    wait_for(Duration::from_secs(10), "the first detached driver gone", || {
        detached_drivers(&config).is_empty().then_some(())
    });
    let handed = journaled(&journal, "handed_over");
    assert_eq!(handed.len(), 2, "{handed:#?}");
    assert!(
        handed[0]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("a detached driver (pid {detached}) holds the wave")),
        "{handed:#?}"
    );
    let took_over = handed[1]["text"].as_str().unwrap();
    assert!(
        took_over.contains("took the wave over from the ")
            && took_over.contains(&format!("(pid {detached}, detached driver)")),
        "{handed:#?}"
    );
    assert!(
        std::fs::read_to_string(&journal)
            .unwrap()
            .contains("took the wave over from"),
        "{took}"
    );

    // Its terminal closes too: the next detached driver holds the wave, and past the budget
    // rolls it back by itself, asking nobody.
    second.cmd(&["kill-session", "-t", "e2e"]);
    let next = wait_for(Duration::from_secs(20), "the next detached driver", || {
        let pids = detached_drivers(&config);
        (pids.len() == 1 && pids[0] != detached).then(|| pids[0].clone())
    });
    wait_for(
        Duration::from_secs(60),
        "the wave rolled back by the detached driver",
        || {
            let text = std::fs::read_to_string(&journal).unwrap();
            (text.contains("\"rollback_started\"") && detached_drivers(&config).is_empty()).then_some(())
        },
    );
    let confirmed = journaled(&journal, "confirmed");
    let auto = confirmed
        .iter()
        .find(|e| e["what"].as_str().unwrap().starts_with("automatic rollback"))
        .unwrap_or_else(|| panic!("{confirmed:#?}"));
    assert!(
        auto["what"]
            .as_str()
            .unwrap()
            .contains("PAUSE BUDGET: wave w1: writes paused"),
        "{auto}"
    );
    let handed = journaled(&journal, "handed_over");
    assert_eq!(handed.len(), 3, "{handed:#?}");
    assert!(
        handed[2]["text"].as_str().unwrap().contains(&format!("(pid {next})")),
        "{handed:#?}"
    );
    assert!(
        auto["at_ms"].as_i64() > handed[2]["at_ms"].as_i64(),
        "the rollback came from the second detached driver: {auto} {handed:#?}"
    );
    // The budget counts from the freeze hook done: the rollback began past it, within polls.
    let frozen = journaled(&journal, "action_done")
        .into_iter()
        .find(|e| e["step"] == "freeze_producers")
        .unwrap();
    let rolled_back =
        Duration::from_millis((auto["at_ms"].as_i64().unwrap() - frozen["at_ms"].as_i64().unwrap()) as u64);
    assert!(
        rolled_back >= Duration::from_secs(30),
        "before the budget: {rolled_back:?}"
    );
    assert!(rolled_back < Duration::from_secs(30 + 3), "late: {rolled_back:?}");
    let hooks = app.hooks_ran();
    assert!(hooks.contains(&"rollback_freeze_producers".to_string()), "{hooks:?}");
    assert!(!hooks.contains(&"flip_producers".to_string()), "{hooks:?}");
    let text = std::fs::read_to_string(&journal).unwrap();
    let state = cutover::cutover::journal::read(&journal).unwrap();
    let config_parsed = cutover::config::load(&config).unwrap();
    let wave = cutover::cutover::journal::wave_state(&state, &config_parsed.waves[0]);
    assert!(wave.rolled_back(&config_parsed.waves[0]), "{text}");
    eprintln!("rolled back {rolled_back:?} after the freeze; answered before the drop: {answered:#?}");

    writes_again_exactly_once(app, &replicator);
}
