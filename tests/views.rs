//! Snapshot tests of every view (insta + ratatui's TestBackend) at 80x24 and 160x48, in the
//! default theme and as NO_COLOR gives it (mono). The state is a fixed, synthetic snapshot:
//! rendering is a pure function of it, so nothing here needs a broker.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cutover::config;
use cutover::mm2::codec::{Checkpoint, OffsetSync};
use cutover::mm2::state::Mm2State;
use cutover::model::lag_time::{Age, AgeHow, Ages};
use cutover::model::{
    Broker, ClusterFeed, ClusterState, ConfigValue, GroupState, GroupStatus, Member, PartitionState, Snapshot,
    TopicState,
};
use cutover::translate::group::GroupPartitionTranslation;
use cutover::translate::{Anchor, Outcome, Translated};
use cutover::tui::app::{App, Effect, Msg};
use cutover::tui::theme::Theme;
use cutover::tui::views;
use cutover::validate::job::{Request, Scope, Trigger, Update};
use cutover::validate::{self, Verdict};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

const T0: u64 = 1_763_780_000;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

fn topic(name: &str, highs: &[i64]) -> TopicState {
    TopicState {
        name: name.into(),
        error: None,
        partitions: highs
            .iter()
            .enumerate()
            .map(|(i, h)| PartitionState {
                id: i as i32,
                leader: 1 + (i as i32 % 3),
                replicas: 3,
                isr: if i == 1 { 2 } else { 3 },
                low: Ok(h / 10),
                high: Ok(*h),
                error: None,
            })
            .collect(),
    }
}

fn group(name: &str, status: GroupStatus, members: usize, offsets: &[(&str, i32, i64)]) -> GroupState {
    GroupState {
        name: name.into(),
        status,
        protocol_type: "consumer".into(),
        members: (0..members)
            .map(|i| Member {
                id: format!("{name}-{i}"),
                client_id: "svc".into(),
                host: "/10.0.0.1".into(),
                assignment: Ok(offsets.iter().filter(|(_, p, _)| *p as usize % members == i).fold(
                    BTreeMap::new(),
                    |mut a, (t, p, _)| {
                        a.entry(t.to_string()).or_insert_with(Vec::new).push(*p);
                        a
                    },
                )),
            })
            .collect(),
        offsets: Ok(offsets.iter().map(|(t, p, o)| ((t.to_string(), *p), *o)).collect()),
    }
}

fn configs(entries: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, BTreeMap<String, ConfigValue>> {
    entries
        .iter()
        .map(|(t, kv)| {
            (
                t.to_string(),
                kv.iter().map(|(k, v)| (k.to_string(), ConfigValue::set(v))).collect(),
            )
        })
        .collect()
}

fn brokers(host_pattern: &str) -> Vec<Broker> {
    (1..=3)
        .map(|id| Broker {
            id,
            host: host_pattern.replace("{id}", &id.to_string()),
            port: 9092,
        })
        .collect()
}

/// MM2's internal topics: syncs for orders (one partition lost a record after its sync),
/// a checkpoint for billing, and a heartbeat a second before the poll.
fn mm2_state(polled: SystemTime) -> Mm2State {
    let mut m = Mm2State::new("dc1", "cloud", polled);
    for (p, up, down) in [(0, 119_000, 119_000), (1, 118_000, 118_000), (2, 121_000, 121_000)] {
        m.syncs
            .record(&OffsetSync {
                topic: "orders".into(),
                partition: p,
                upstream: up,
                downstream: down,
            })
            .unwrap();
    }
    m.syncs
        .record(&OffsetSync {
            topic: "customers".into(),
            partition: 0,
            upstream: 40_000,
            downstream: 30_000,
        })
        .unwrap();
    m.checkpoints.insert(
        ("billing".into(), "dc1.orders".into(), 0),
        Checkpoint {
            group: "billing".into(),
            topic: "dc1.orders".into(),
            partition: 0,
            upstream: 119_990,
            downstream: 119_980,
            metadata: String::new(),
        },
    );
    m.checkpoints.insert(
        ("billing".into(), "dc1.orders".into(), 2),
        Checkpoint {
            group: "billing".into(),
            topic: "dc1.orders".into(),
            partition: 2,
            upstream: 121_200,
            downstream: 121_199,
            metadata: String::new(),
        },
    );
    m.heartbeat_ms = Some(polled.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64 - 1_000);
    m
}

/// Source and target as polled at `polled`, with lag growing by `step` per poll.
fn snapshot(seq: u64, polled: SystemTime, step: i64) -> Snapshot {
    let lag = step * seq as i64;
    let mut payments = topic("payments", &[900, 910, 920, 930, 940, 950]);
    payments.partitions[5].high = Err("unavailable: Broker: Leader not available".into());
    let source = ClusterState {
        polled_at: polled,
        poll_duration: Duration::from_millis(42),
        brokers: brokers("kafka-{id}.dc1"),
        topics: [
            topic("orders", &[120_000, 118_500, 121_200]),
            payments,
            topic("customers", &[50_000, 51_000]),
            topic("audit", &[10]),
            topic("events", &[5, 5]),
        ]
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect(),
        configs: Ok(configs(&[
            ("orders", &[("cleanup.policy", "delete"), ("retention.ms", "604800000")]),
            ("customers", &[("cleanup.policy", "compact")]),
        ])),
        groups: Ok(vec![
            group(
                "billing",
                GroupStatus::Stable,
                3,
                &[("orders", 0, 119_990), ("orders", 1, 118_400), ("orders", 2, 121_200)],
            ),
            group(
                "fraud-check",
                GroupStatus::PreparingRebalance,
                2,
                &[("payments", 0, 880)],
            ),
        ]),
    };
    let target = ClusterState {
        polled_at: polled,
        poll_duration: Duration::from_millis(57),
        brokers: brokers("b{id}.cloud"),
        topics: [
            topic("dc1.orders", &[120_000 - lag, 118_500, 121_200 - 3]),
            topic("dc1.payments", &[900, 910, 920, 930]),
            topic("dc1.customers", &[50_000 - 20_000, 51_000]),
            topic("dc1.events", &[5, 5]),
        ]
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect(),
        configs: Ok(configs(&[
            (
                "dc1.orders",
                &[("cleanup.policy", "delete"), ("retention.ms", "86400000")],
            ),
            ("dc1.customers", &[("cleanup.policy", "delete")]),
        ])),
        groups: Ok(vec![group(
            "billing",
            GroupStatus::Empty,
            0,
            &[("dc1.orders", 0, 119_000)],
        )]),
    };
    // Lag in seconds as the poll loop would have derived it: some read, some estimated.
    let age = |ms: u64, how: AgeHow| Age {
        age: Duration::from_millis(ms),
        how,
    };
    let source_ages = Ages {
        at: Some(polled),
        replication: HashMap::from([
            (("orders".to_string(), 0), age(3_200, AgeHow::Estimated)),
            (("orders".to_string(), 2), age(400, AgeHow::Exact)),
            (("customers".to_string(), 0), age(12_400, AgeHow::Exact)),
        ]),
        consumer: HashMap::from([
            (
                ("billing".to_string(), "orders".to_string(), 0),
                age(800, AgeHow::Exact),
            ),
            (
                ("billing".to_string(), "orders".to_string(), 1),
                age(2_100, AgeHow::Estimated),
            ),
            (
                ("fraud-check".to_string(), "payments".to_string(), 0),
                age(65_000, AgeHow::AtLeast),
            ),
        ]),
    };
    let target_ages = Ages {
        at: Some(polled),
        replication: HashMap::new(),
        consumer: HashMap::from([(
            ("billing".to_string(), "dc1.orders".to_string(), 0),
            age(4_000, AgeHow::Exact),
        )]),
    };
    let feed = |name: &str, s: ClusterState, ages: Ages| ClusterFeed {
        name: name.into(),
        last_good: Some(Arc::new(s)),
        last_error: None,
        figures_version: 0,
        ages: Arc::new(ages),
    };
    Snapshot {
        target_only: Default::default(),
        source: feed("dc1-prod", source, source_ages),
        target: feed("gcp-cloud", target, target_ages),
        seq,
        target_before_source: None,
        mm2: Some(Arc::new(mm2_state(polled))),
    }
}

fn app(theme: Theme) -> App {
    app_with(theme, "")
}

/// The app, with more config (e.g. a cutover plan) after the clusters'.
fn app_with(theme: Theme, more: &str) -> App {
    let text = "[source]\nname = \"dc1-prod\"\nbootstrap = \"kafka-1.dc1:9092\"\n\
                [target]\nname = \"gcp-cloud\"\nbootstrap = \"b1.cloud:9092\"\n\
                [replication]\nsource_alias = \"dc1\"\n\
                [monitor]\nrefresh_interval = \"2s\"\nlag_warn = 100\nlag_crit = 10000\n"
        .to_string()
        + more;
    let config = config::parse(Path::new("views.toml"), &text, &|_| None).unwrap();
    let mut app = App::new(Arc::new(config), theme, Snapshot::default(), at(0));
    for seq in 1..=6 {
        app.update(Msg::Snapshot(snapshot(seq, at(seq * 2), 40), at(seq * 2 + 1)));
    }
    for update in validation_history() {
        app.update(Msg::Validation(update));
    }
    app
}

fn result(topic: &str, p: i32, s: (i64, i64), t: (i64, i64), verdict: Verdict) -> validate::run::Row {
    validate::run::Row {
        target_only: vec![],
        content_only: false,
        topic: topic.into(),
        target_topic: format!("dc1.{topic}"),
        partition: p,
        result: validate::PartitionResult {
            source_range: s,
            target_range: t,
            records_compared: (s.1 - s.0) as u64,
            pending: false,
            verdict,
        },
        records_read: ((s.1 - s.0) as u64, (t.1 - t.0) as u64),
        bytes_read: 120 * (s.1 - s.0 + t.1 - t.0) as u64,
    }
}

/// What the background validation would have reported: a scheduled run over every topic
/// (a value mismatch in payments 2, audit missing on the target), then an on-demand run of
/// orders in progress.
fn validation_history() -> Vec<Update> {
    let all: Vec<(String, i32)> = [
        ("audit", 1),
        ("customers", 2),
        ("events", 2),
        ("orders", 3),
        ("payments", 6),
    ]
    .iter()
    .flat_map(|(t, n)| (0..*n).map(move |p| (t.to_string(), p)))
    .collect();
    let mut u = vec![Update::RunStarted {
        run: 1,
        trigger: Trigger::Scheduled,
        request: Request {
            scope: Scope::All,
            full: false,
        },
        at: at(1),
        partitions: all.clone(),
        rate_limit: 10_000_000,
    }];
    let done = |run, row| Update::PartitionDone { run, row, at: at(5) };
    for (t, p) in &all {
        let row = match (t.as_str(), *p) {
            ("audit", _) => result(
                t,
                *p,
                (0, 0),
                (0, 0),
                Verdict::Skipped {
                    reason: "dc1.audit/0 is missing on the target".into(),
                },
            ),
            ("payments", 2) => result(
                t,
                2,
                (92, 500),
                (92, 500),
                Verdict::Fail {
                    mismatch: validate::Mismatch {
                        kind: validate::MismatchKind::Differs("value differs".into()),
                        source_offset: Some(500),
                        target_offset: Some(500),
                        key: None,
                    },
                },
            ),
            ("payments", 5) => result(
                t,
                5,
                (0, 0),
                (0, 0),
                Verdict::Error {
                    reason: "payments/5: no record and no end of partition within 5s".into(),
                },
            ),
            (_, p) => result(t, p, (0, 1_000 + p as i64), (0, 1_000 + p as i64), Verdict::Pass),
        };
        u.push(done(1, row));
    }
    u.push(Update::RunFinished {
        run: 1,
        at: at(6),
        error: None,
    });
    let orders: Vec<(String, i32)> = (0..3).map(|p| ("orders".to_string(), p)).collect();
    u.push(Update::RunStarted {
        run: 2,
        trigger: Trigger::OnDemand,
        request: Request {
            scope: Scope::Topic("orders".into()),
            full: false,
        },
        at: at(8),
        partitions: orders,
        rate_limit: 10_000_000,
    });
    u.push(done(
        2,
        result("orders", 0, (1_000, 1_400), (1_000, 1_400), Verdict::Pass),
    ));
    let meter = Arc::new(validate::throttle::Meter::default());
    meter.source_records.store(1_200, std::sync::atomic::Ordering::Relaxed);
    meter.target_records.store(1_180, std::sync::atomic::Ordering::Relaxed);
    u.push(Update::PartitionStarted {
        run: 2,
        topic: "orders".into(),
        partition: 1,
        meter,
        at: at(9),
    });
    u
}

/// The exact translation of billing, as the background task would report it: partition 0
/// exact, 1 exact with no checkpoint, 2 diverged.
fn translate_billing(app: &mut App) {
    let row = |p: i32, committed: i64, outcome: Outcome| GroupPartitionTranslation {
        source_topic: "orders".into(),
        target_topic: "dc1.orders".into(),
        partition: p,
        committed,
        checkpoint: None,
        checkpoint_upstream: None,
        translation: Translated {
            committed,
            anchor: Some(Anchor::Sync {
                upstream: 119_000,
                downstream: 119_000,
            }),
            outcome,
            walked_over: vec![],
        },
    };
    let exact = |o| Outcome::Exact {
        target_offset: o,
        verified_next: true,
    };
    app.update(Msg::Translation {
        group: "billing".into(),
        result: Ok(vec![
            row(0, 119_990, exact(119_990)),
            row(1, 118_400, exact(118_400)),
            row(
                2,
                121_200,
                Outcome::Diverged {
                    source_offset: 121_100,
                    target_offset: Some(121_100),
                    difference: "value differs".into(),
                },
            ),
        ]),
    });
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// The validation runs among effects.
fn validations(effects: Vec<Effect>) -> Vec<Request> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Validate(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn render(app: &mut App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| views::render(f, app)).unwrap();
    term.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let w = buf.area.width as usize;
    buf.content
        .chunks(w)
        .map(|row| {
            row.iter()
                .map(|c| c.symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each view, reached by keys the way a person would.
fn views() -> Vec<(&'static str, Vec<KeyCode>)> {
    vec![
        ("overview", vec![]),
        ("topic", vec![KeyCode::Down, KeyCode::Enter]),
        ("groups", vec![KeyCode::Char('2')]),
        ("group", vec![KeyCode::Char('2'), KeyCode::Enter]),
        ("inventory", vec![KeyCode::Char('3')]),
        ("log", vec![KeyCode::Char('4')]),
        ("mapping", vec![KeyCode::Char('5')]),
        ("validation", vec![KeyCode::Char('6')]),
        (
            "validation_partition",
            vec![
                KeyCode::Char('6'),
                KeyCode::Char('/'),
                KeyCode::Char('p'),
                KeyCode::Char('a'),
                KeyCode::Char('y'),
                KeyCode::Enter,
                KeyCode::Down,
                KeyCode::Down,
                KeyCode::Enter,
            ],
        ),
        ("help", vec![KeyCode::Char('?')]),
    ]
}

#[test]
fn every_view_at_80x24_and_160x48() {
    for (name, keys) in views() {
        for (w, h) in [(80, 24), (160, 48)] {
            let mut a = app(Theme::load("dark").unwrap());
            for k in &keys {
                key(&mut a, *k);
            }
            if name == "group" {
                translate_billing(&mut a);
            }
            let buf = render(&mut a, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), text(&buf));
        }
    }
}

/// A target topic stamping its own times (LogAppendTime): the Group view's line under the
/// table says the exact offset was found on key, value and headers only.
#[test]
fn the_group_view_says_when_records_are_compared_without_timestamps() {
    let mut a = app(Theme::load("dark").unwrap());
    let mut next = snapshot(7, at(14), 40);
    let mut target = (**next.target.last_good.as_ref().unwrap()).clone();
    if let Ok(configs) = &mut target.configs {
        configs
            .entry("dc1.orders".into())
            .or_default()
            .insert("message.timestamp.type".into(), ConfigValue::set("LogAppendTime"));
    }
    next.target.last_good = Some(Arc::new(target));
    a.update(Msg::Snapshot(next, at(15)));
    for k in [KeyCode::Char('2'), KeyCode::Enter] {
        key(&mut a, k);
    }
    translate_billing(&mut a);
    let screen = text(&render(&mut a, 160, 48));
    assert!(
        screen.contains(
            "orders 0: exact, compared by key, value and headers only: the target topic stamps its own times"
        ),
        "{screen}"
    );
}

#[test]
fn no_color_has_no_colour_and_marks_selection_without_it() {
    for (name, keys) in views() {
        let mut a = app(Theme::select("dark", true).unwrap());
        for k in &keys {
            key(&mut a, *k);
        }
        if name == "group" {
            translate_billing(&mut a);
        }
        let buf = render(&mut a, 80, 24);
        for cell in &buf.content {
            assert_eq!(
                (cell.fg, cell.bg),
                (Color::Reset, Color::Reset),
                "{name}: colour under NO_COLOR at {cell:?}"
            );
        }
        if name != "help" && name != "log" {
            assert!(
                buf.content.iter().any(|c| c.modifier.contains(Modifier::REVERSED)),
                "{name}: the selected row must stand out without colour"
            );
        }
        insta::assert_snapshot!(format!("{name}_no_color_80x24"), text(&buf));
    }
}

#[test]
fn default_theme_colours_states_that_the_words_also_name() {
    let mut a = app(Theme::load("dark").unwrap());
    let buf = render(&mut a, 80, 24);
    let t = text(&buf);
    for word in ["OK", "LAG!", "MISSING", "MISMATCH"] {
        assert!(t.contains(word), "status word {word} is shown as text:\n{t}");
    }
    assert!(
        buf.content.iter().any(|c| c.fg != Color::Reset),
        "the dark theme uses colour"
    );
}

#[test]
fn filter_and_command_prompt() {
    let mut a = app(Theme::load("dark").unwrap());
    key(&mut a, KeyCode::Char('/'));
    for c in "pay".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    let t = text(&render(&mut a, 80, 24));
    assert!(t.contains("payments") && !t.contains("orders"), "{t}");
    key(&mut a, KeyCode::Esc);
    assert!(text(&render(&mut a, 80, 24)).contains("orders"));

    key(&mut a, KeyCode::Char(':'));
    for c in "inv".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Tab);
    insta::assert_snapshot!("command_prompt_80x24", text(&render(&mut a, 80, 24)));
    key(&mut a, KeyCode::Enter);
    assert!(text(&render(&mut a, 80, 24)).contains("Inventory diff"));
    key(&mut a, KeyCode::Esc);
    assert!(text(&render(&mut a, 80, 24)).contains("› Overview"));
}

#[test]
fn validation_keys_ask_the_job_and_a_full_run_is_confirmed_first() {
    let mut a = app(Theme::load("dark").unwrap());
    // Overview rows: audit, customers, events, orders, payments. `v` on orders.
    let mut effects = Vec::new();
    for k in [KeyCode::Down, KeyCode::Down, KeyCode::Down, KeyCode::Char('v')] {
        effects.extend(key(&mut a, k));
    }
    effects.extend(key(&mut a, KeyCode::Char('V')));
    let topic = Request {
        scope: Scope::Topic("orders".into()),
        full: false,
    };
    let all = Request {
        scope: Scope::All,
        full: false,
    };
    assert_eq!(validations(effects), vec![topic, all]);
    // The overview shows each topic's latest result.
    let t = text(&render(&mut a, 80, 24));
    let line = |name: &str| t.lines().find(|l| l.contains(name)).unwrap().to_string();
    assert!(line("payments").ends_with("FAIL"), "{t}");
    assert!(line("orders").ends_with("RUNNING"), "{t}");
    assert!(line("events").ends_with("PASS"), "{t}");
    assert!(line("audit").ends_with("SKIPPED"), "{t}");

    let mut effects = key(&mut a, KeyCode::Char('R'));
    assert!(text(&render(&mut a, 80, 24)).contains("Validate every partition again from the start?"));
    effects.extend(key(&mut a, KeyCode::Char('n')));
    assert!(validations(effects).is_empty(), "anything but y cancels");
    let mut effects = key(&mut a, KeyCode::Char('R'));
    effects.extend(key(&mut a, KeyCode::Char('y')));
    assert_eq!(
        validations(effects),
        vec![Request {
            scope: Scope::All,
            full: true
        }]
    );
    // A failure is also in the event log.
    key(&mut a, KeyCode::Char('4'));
    assert!(text(&render(&mut a, 160, 48)).contains("validation FAIL payments/2: value differs: source offset 500"));
}

/// What a confirmation shows is frozen while it asks, and what it was asked on is checked again
/// when it is accepted: a topic that appears meanwhile stops the effect.
#[test]
fn a_confirmation_is_frozen_while_it_asks_and_rechecked_when_accepted() {
    let mut a = app(Theme::load("dark").unwrap());
    assert!(key(&mut a, KeyCode::Char('R')).is_empty());
    insta::assert_snapshot!("confirm_80x24", text(&render(&mut a, 80, 24)));
    let dialog = |a: &mut App| {
        let t = text(&render(a, 160, 48));
        t.lines()
            .find(|l| l.contains("watched partitions again"))
            .map(|l| l.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
            .unwrap_or_else(|| panic!("no dialog:\n{t}"))
    };
    let watched = |a: &App| cutover::model::validation::validation_rows(&a.snapshot, &a.validation).len();
    let before = watched(&a);
    let asked = dialog(&mut a);
    assert!(
        asked.contains(&format!("reads all {before} watched partitions")),
        "{asked}"
    );

    // While it asks, a poll finds a new topic on the source, `refunds`, with 2 partitions.
    let mut next = snapshot(7, at(14), 40);
    let mut source = (**next.source.last_good.as_ref().unwrap()).clone();
    let mut refunds = source.topics["events"].clone();
    refunds.name = "refunds".into();
    source.topics.insert("refunds".into(), refunds);
    next.source.last_good = Some(Arc::new(source));
    assert!(a.update(Msg::Snapshot(next, at(15))).is_empty());
    assert_eq!(watched(&a), before + 2, "refunds has two partitions");
    assert_eq!(dialog(&mut a), asked, "the dialog shows what it was asked on");

    assert!(validations(key(&mut a, KeyCode::Char('y'))).is_empty(), "nothing runs");
    let t = text(&render(&mut a, 160, 48));
    assert!(
        t.contains(&format!(
            "not done: the watched partitions changed ({before} then, {} now) since you were asked",
            before + 2
        )),
        "{t}"
    );
}

#[test]
fn tiny_and_odd_terminal_sizes_do_not_break_any_view() {
    for (name, keys) in views() {
        for (w, h) in [(1, 1), (20, 5), (40, 10), (79, 23), (300, 100)] {
            let mut a = app(Theme::load("dark").unwrap());
            for k in &keys {
                key(&mut a, *k);
            }
            let buf = render(&mut a, w, h);
            assert_eq!(buf.area.width, w, "{name} at {w}x{h}");
        }
    }
}

/// Item 10 of "no false alarms": a figure too wide for its column ends in "…"; it never shows
/// as a different number (a right-aligned line cut from the left would show lag 2000 as 00).
#[test]
fn narrow_terminals_never_show_a_figure_with_digits_missing() {
    let a = app(Theme::load("dark").unwrap());
    let pairs = cutover::model::overview::topic_pairs(
        &a.snapshot,
        &a.config.replication,
        &a.config.topics,
        &a.config.monitor,
        at(13),
    );
    let orders = pairs.iter().find(|p| p.source_topic == "orders").unwrap();
    let truth: Vec<String> = [orders.source_end, orders.target_end, orders.lag]
        .iter()
        .flatten()
        .map(|n| n.to_string())
        .collect();
    let mut cut = 0;
    for w in 24..=90 {
        let mut a = app(Theme::load("dark").unwrap());
        let screen = text(&render(&mut a, w, 12));
        let Some(row) = screen.lines().find(|l| l.contains("orders")) else {
            continue;
        };
        for token in row.split_whitespace().skip(2) {
            if token.chars().all(|c| c.is_ascii_digit()) {
                assert!(
                    truth.contains(&token.to_string()),
                    "at width {w}, {token} is not a figure of the row {truth:?}:\n{row}"
                );
            } else if token.ends_with('…') && token.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                cut += 1;
            }
        }
    }
    assert!(
        cut > 0,
        "some width was too narrow for a figure: the test tested the cut"
    );
}

/// A paste is text for the open prompt (line breaks become spaces), and ignored elsewhere:
/// never keystrokes.
#[test]
fn a_paste_is_literal_text_for_the_prompt() {
    let mut a = app(Theme::load("dark").unwrap());
    a.update(Msg::Paste("q".into()));
    assert!(!a.quit, "a paste outside a prompt presses no key");
    key(&mut a, KeyCode::Char('/'));
    a.update(Msg::Paste("ord\nq".into()));
    assert_eq!(a.filter, "ord q");
    assert!(!a.quit);
}

/// The hooks of the Cutover view's plans.
const PLAN_HOOKS: &str = "[wave.hooks]\nfreeze_producers = \"./apps freeze\"\nstop_consumers = \"./apps stop\"\n\
                 flip_consumers = \"./apps flip-consumers\"\nflip_producers = \"./apps flip-producers\"\n\
                 rollback_freeze_producers = \"./apps unfreeze\"\nrollback_stop_consumers = \"./apps start\"\n\
                 rollback_flip_consumers = \"./apps unflip-consumers\"\nrollback_flip_producers = \"./apps unflip-producers\"\n";

/// The journal of wave `analytics` driven by another cockpit up to its drain: its freeze hook
/// done (producers frozen) at second 3.
fn analytics_entries() -> Vec<cutover::cutover::journal::Entry> {
    use cutover::config::Strategy;
    use cutover::cutover::engine::{Action, Check, Event, Hook, Step};
    use cutover::cutover::journal::Entry;
    let entry = |secs: u64, event: Event| Entry {
        at_ms: at(secs).duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64,
        at: humantime::format_rfc3339_millis(at(secs)).to_string(),
        by: "ana@bastion-1".into(),
        wave: "analytics".into(),
        dry_run: false,
        event,
    };
    let started = |secs, step, action| {
        entry(
            secs,
            Event::ActionStarted {
                step,
                action,
                detail: String::new(),
            },
        )
    };
    let done = |secs, step, action, detail: &str| {
        entry(
            secs,
            Event::ActionDone {
                step,
                action,
                detail: detail.into(),
                output: vec![],
            },
        )
    };
    vec![
        entry(
            0,
            Event::Confirmed {
                what: "start wave analytics".into(),
                details: vec![],
            },
        ),
        entry(
            0,
            Event::WaveStarted {
                strategy: Strategy::StopTheWorld,
                topics: vec!["orders".into()],
                groups: vec!["billing".into()],
            },
        ),
        started(0, Step::Preflight, Action::Wait(Check::Preflight)),
        done(1, Step::Preflight, Action::Wait(Check::Preflight), "all checks pass"),
        started(2, Step::FreezeProducers, Action::Hook(Hook::FreezeProducers)),
        done(3, Step::FreezeProducers, Action::Hook(Hook::FreezeProducers), "exit 0"),
        started(3, Step::FreezeProducers, Action::Wait(Check::SourceFrozen)),
        done(
            9,
            Step::FreezeProducers,
            Action::Wait(Check::SourceFrozen),
            "end offsets unchanged for 6s",
        ),
        started(9, Step::Drain, Action::Wait(Check::Drained)),
    ]
}

/// The journal message of a cockpit observing another's drive of `analytics`.
fn observed(entries: Vec<cutover::cutover::journal::Entry>) -> Msg {
    use cutover::cutover::engine::{Check, Step};
    Msg::Journal {
        entries,
        driver: Some("ana@bastion-1 (pid 4242) since 2025-11-22T02:53:20Z".into()),
        live: Some((
            cutover::cutover::engine::Said::new(
                "analytics",
                at(10),
                Duration::from_secs(11),
                Some(Step::Drain),
                Some(Check::Drained),
                "drift 12 records on 2 partition(s)",
            ),
            at(11),
        )),
    }
}

/// A two-wave plan, as the Cutover view shows it to a second cockpit while another drives:
/// wave `analytics` done with its steps up to the drain, the drain running with the driver's
/// newest figures; wave `payments` not started.
#[test]
fn the_cutover_view_of_an_observer() {
    let plan = format!(
        "[[wave]]\nname = \"analytics\"\ntopics = [\"orders\"]\ngroups = [\"billing\"]\n{PLAN_HOOKS}\
         [[wave]]\nname = \"payments\"\ntopics = [\"payments\"]\ngroups = [\"ledger\"]\nstrategy = \"consumers-first\"\n{PLAN_HOOKS}"
    );
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = app_with(Theme::load("dark").unwrap(), &plan);
        a.update(observed(analytics_entries()));
        a.update(Msg::Tick(at(12)));
        key(&mut a, KeyCode::Char('7'));
        let buf = render(&mut a, w, h);
        let screen = text(&buf);
        assert!(screen.contains("OBSERVING: driven by ana@bastion-1"), "{screen}");
        assert!(screen.contains("drift 12 records"), "the check's figures:\n{screen}");
        insta::assert_snapshot!(format!("cutover_observer_{w}x{h}"), screen);
    }
}

/// Acceptance (issue 23, go/no-go and the pause clock): three waves, `analytics` running with
/// its producers frozen against a 30 s `max_write_pause` (the header's clock), `payments` not
/// started and NO-GO (its target topic has 4 partitions to the source's 6), `events` not
/// started and GO (every preflight check passes on the snapshot and the validation results),
/// each with its lag in seconds and the pause it would impose.
#[test]
fn the_cutover_view_shows_go_no_go_and_the_running_pause_clock() {
    let plan = format!(
        "[cutover]\nsettle = \"6s\"\n\
         [[wave]]\nname = \"analytics\"\ntopics = [\"orders\"]\ngroups = [\"billing\"]\n{PLAN_HOOKS}\
         [wave.criteria]\nmax_write_pause = \"30s\"\n\
         [[wave]]\nname = \"payments\"\ntopics = [\"payments\"]\ngroups = [\"ledger\"]\nstrategy = \"consumers-first\"\n{PLAN_HOOKS}\
         [[wave]]\nname = \"events\"\ntopics = [\"events\"]\n{PLAN_HOOKS}\
         [wave.criteria]\nmax_write_pause = \"5s\"\n"
    );
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = app_with(Theme::load("dark").unwrap(), &plan);
        a.update(observed(analytics_entries()));
        // A snapshot after the journal and the validation results: go/no-go on both.
        a.update(Msg::Snapshot(snapshot(7, at(14), 40), at(15)));
        a.update(Msg::Tick(at(15)));
        key(&mut a, KeyCode::Char('7'));
        let analytics = text(&render(&mut a, w, h));
        assert!(
            analytics
                .lines()
                .next()
                .unwrap()
                .contains("analytics: writes paused 12.0s of 30.0s"),
            "{analytics}"
        );
        key(&mut a, KeyCode::Down);
        let payments = text(&render(&mut a, w, h));
        assert!(payments.contains("not started · NO-GO"), "{payments}");
        assert!(
            payments.contains("NO-GO: target topics: payments -> dc1.payments"),
            "{payments}"
        );
        key(&mut a, KeyCode::Down);
        let events = text(&render(&mut a, w, h));
        assert!(events.contains("not started · GO"), "{events}");
        assert!(events.contains("GO: every preflight check passes"), "{events}");
        assert!(
            events.contains("0s behind · writes paused ≥ 6.0s (settle 6.0s + drain 0s), OVER the 5.0s max"),
            "{events}"
        );
        insta::assert_snapshot!(format!("cutover_go_no_go_{w}x{h}"), payments);
        insta::assert_snapshot!(format!("cutover_go_{w}x{h}"), events);
    }
}

/// A view formats only the page it shows: with 300 partitions, the Topic view's page scrolls to
/// the selected row as ratatui scrolls (the selection at the bottom of the page), and its
/// rows are the right ones.
#[test]
fn a_long_list_shows_the_page_of_the_selected_row() {
    let text_config =
        "[source]\nname = \"a\"\nbootstrap = \"a:9092\"\n[target]\nname = \"b\"\nbootstrap = \"b:9092\"\n\
                       [replication]\nsource_alias = \"dc1\"\n";
    let config = config::parse(Path::new("views.toml"), text_config, &|_| None).unwrap();
    let highs: Vec<i64> = (0..300).map(|p| 1_000 + p).collect();
    let cluster = |name: &str| ClusterState {
        polled_at: at(2),
        poll_duration: Duration::from_millis(5),
        brokers: brokers("kafka-{id}"),
        topics: [(name.to_string(), topic(name, &highs))].into(),
        configs: Ok(BTreeMap::new()),
        groups: Ok(vec![]),
    };
    let feed = |name: &str, topic: &str| ClusterFeed {
        name: name.into(),
        last_good: Some(Arc::new(cluster(topic))),
        last_error: None,
        figures_version: 0,
        ages: Default::default(),
    };
    let snap = Snapshot {
        target_only: Default::default(),
        source: feed("a", "big"),
        target: feed("b", "dc1.big"),
        seq: 1,
        target_before_source: None,
        mm2: None,
    };
    let mut app = App::new(
        Arc::new(config),
        Theme::load("mono").unwrap(),
        Snapshot::default(),
        at(0),
    );
    app.update(Msg::Snapshot(snap, at(3)));
    key(&mut app, KeyCode::Enter);
    let row_of = |screen: &str, p: i64| screen.lines().any(|l| l.contains(&format!("{}", 1_000 + p)));
    let first = text(&render(&mut app, 80, 24));
    assert!(row_of(&first, 0) && !row_of(&first, 299), "{first}");
    key(&mut app, KeyCode::End);
    let last = text(&render(&mut app, 80, 24));
    assert!(row_of(&last, 299) && !row_of(&last, 0), "{last}");
    // The page ends at the selected row: the rows above it, up to a page, are shown in order.
    let shown: Vec<i64> = (0..300).filter(|p| row_of(&last, *p)).collect();
    assert_eq!(shown, (300 - shown.len() as i64..300).collect::<Vec<_>>(), "{last}");
    assert!(shown.len() >= 10, "{last}");
}

/// After a wave was rolled back with records written on the target only: the Overview names
/// them beside the topic (its lag leaves them out), and the Validation view's rows say which
/// records were stepped over as explained.
#[test]
fn after_a_rollback_the_overview_and_validation_explain_the_target_only_records() {
    use cutover::model::target_only::{TargetOnly, TargetOnlyRange};
    let ms = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64;
    let range = |partition: i32, from: i64, to: i64| TargetOnlyRange {
        wave: "analytics".into(),
        topic: "dc1.orders".into(),
        partition,
        from,
        to: Some(to),
        flipped_at_ms: ms(at(3)),
        stopped_at_ms: Some(ms(at(9))),
    };
    let ranges = vec![range(0, 1_200, 1_240), range(1, 1_180, 1_205)];
    let mut a = app(Theme::load("dark").unwrap());
    let mut snap = snapshot(7, at(14), 40);
    snap.target_only = Arc::new(TargetOnly::new(ranges.clone()));
    a.update(Msg::Snapshot(snap, at(15)));
    let mut row = result("orders", 1, (1_000, 1_400), (1_000, 1_425), Verdict::Pass);
    row.target_only = vec![ranges[1].clone()];
    a.update(Msg::Validation(Update::PartitionDone {
        run: 2,
        row,
        at: at(15),
    }));
    // The note of the selected topic (orders) shows under the table.
    for _ in 0..3 {
        key(&mut a, KeyCode::Down);
    }
    let overview = text(&render(&mut a, 160, 48));
    assert!(
        overview.contains("65 records written on the target during wave analytics (rolled back at"),
        "{overview}"
    );
    insta::assert_snapshot!("overview_after_rollback_160x48", overview);
    key(&mut a, KeyCode::Char('6'));
    let validation = text(&render(&mut a, 160, 48));
    assert!(
        validation.contains("25 records (1180..1205) written on the target during wave"),
        "{validation}"
    );
    insta::assert_snapshot!("validation_after_rollback_160x48", validation);
}

/// At 120 columns the Groups view shows a long group name whole: the REBALANCE column gives
/// up its room first (it cut "analytics-sessionizer" to "analytics-se" before).
#[test]
fn the_groups_view_shows_long_group_names_whole_at_120_columns() {
    let mut a = app(Theme::load("dark").unwrap());
    let mut snap = snapshot(7, at(14), 40);
    let source = snap.source.last_good.as_mut().unwrap();
    let mut state = (**source).clone();
    state.groups.as_mut().unwrap().push(group(
        "analytics-sessionizer",
        GroupStatus::PreparingRebalance,
        4,
        &[("orders", 0, 100)],
    ));
    *source = Arc::new(state);
    a.update(Msg::Snapshot(snap, at(15)));
    key(&mut a, KeyCode::Char('2'));
    for (w, h) in [(120, 30), (160, 30)] {
        let screen = text(&render(&mut a, w, h));
        let row = screen
            .lines()
            .find(|l| l.contains("analytics-se"))
            .unwrap_or_else(|| panic!("no row at {w}:\n{screen}"));
        assert!(row.contains("analytics-sessionizer "), "at {w} columns:\n{row}");
        assert!(row.contains("REBALANCE") || screen.contains("REBALANCE"), "{screen}");
    }
}
