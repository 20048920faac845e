//! The live cockpit: terminal loop, state (`app`), key map (`keys`), views and themes.

pub mod app;
pub mod cutover;
pub mod keys;
pub mod terminal;
pub mod theme;
pub mod views;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};
use ratatui::crossterm::queue;
use ratatui::crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::jobs::JobHandle;
use crate::monitor::Monitor;
use crate::validate::job::Job;
use app::{App, Effect, Msg};
use terminal::{Term, TerminalGuard};
use theme::Theme;

/// Why the cockpit stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
    /// SIGTERM, SIGHUP (dropped SSH) or SIGINT: the conventional exit code is 128 + number.
    Signal(i32),
    /// The terminal cannot be written to any more (closed without a SIGHUP reaching us first).
    TerminalLost,
}

/// Rows above and below the table: title, clusters, table header, info line, footer.
const CHROME_ROWS: u16 = 5;

fn draw(terminal: &mut Term, app: &mut App) -> std::io::Result<()> {
    terminal::while_owned(|| {
        app.page = terminal.size()?.height.saturating_sub(CHROME_ROWS).max(1) as usize;
        // Synchronized updates: the terminal shows whole frames only, even over slow SSH.
        queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
        terminal.draw(|f| views::render(f, app))?;
        queue!(terminal.backend_mut(), EndSynchronizedUpdate)?;
        terminal.backend_mut().flush()
    })
    .unwrap_or(Ok(()))
}

/// The jobs the cockpit's effects start, by what they are for.
struct Jobs {
    /// One exact translation per group at most: a new one replaces (cancels) the old.
    translations: BTreeMap<String, JobHandle>,
    validation: Job,
    /// The wave this cockpit drives, if any.
    cutover: Option<cutover::CutoverJob>,
    /// `cutover demo`'s estate, for its fault menu.
    demo: Option<Arc<crate::demo::Demo>>,
    /// The monitor's snapshots, which a wave's checks follow.
    snapshots: tokio::sync::watch::Receiver<crate::model::Snapshot>,
    inbox: mpsc::UnboundedSender<Msg>,
    /// `[notify] command`, for the alarms this cockpit raises outside a drive.
    notifier: crate::cutover::notify::Notifier,
}

impl Jobs {
    fn run(&mut self, effect: Effect, app: &App) {
        match effect {
            Effect::Translate { group } => match translation_job(app, group.clone(), self.inbox.clone()) {
                Ok(job) => {
                    self.translations.retain(|_, j| !j.is_finished());
                    self.translations.insert(group, job);
                }
                Err(e) => tracing::error!(group, "cannot start a translation: {e}"),
            },
            Effect::Validate(request) => self.validation.request(request),
            Effect::Cutover(op) => self.cutover(op, app),
            Effect::Fault(name) => self.fault(name),
            Effect::JournalAlarms(alarms) => self.journal_alarms(alarms, app),
        }
    }

    /// Appends alarms to the journal (and tells the notify command); a drive holding the
    /// journal sends them back, to be tried again.
    fn journal_alarms(&mut self, alarms: Vec<(String, String)>, app: &App) {
        let path = app
            .config
            .cutover
            .journal_path(&app.config.source.name, &app.config.target.name);
        let mut journal = match crate::cutover::journal::Journal::open(&path, false) {
            Ok(j) => j,
            Err(e) => {
                tracing::info!("alarms journaled later: {e}");
                let _ = self.inbox.send(Msg::AlarmsNotJournaled(alarms));
                return;
            }
        };
        for (wave, text) in alarms {
            let event = crate::cutover::engine::Event::Alarm { text: text.clone() };
            match journal.append(&wave, event) {
                Ok(entry) => {
                    self.notifier
                        .send(&serde_json::json!({ "kind": "journal", "entry": entry }));
                    self.notifier
                        .send(&serde_json::json!({ "kind": "alarm", "wave": wave, "at": entry.at, "alarm": text }));
                }
                Err(e) => tracing::error!("cannot journal the alarm {text:?}: {e}"),
            }
        }
    }

    /// The terminal is gone (SIGHUP): a wave this cockpit drives, in flight, goes on in a
    /// detached driver (`cutover::handover`). This drive stops first, as `p` would (an open
    /// question is withdrawn, a running hook finishes); the detached driver waits for the
    /// journal's lock meanwhile.
    fn hand_over(&mut self, config: &Config, relaunch: Option<&crate::cutover::handover::Relaunch>) {
        let Some(job) = self.cutover.take() else {
            return;
        };
        job.pause();
        let (wave, dry_run) = (job.wave.clone(), job.dry_run);
        match relaunch {
            Some(relaunch) if !dry_run && crate::cutover::handover::in_flight(config, &wave) => {
                match relaunch.spawn(&wave) {
                    Ok(pid) => tracing::warn!("terminal lost: wave {wave} handed to a detached driver (pid {pid})"),
                    Err(e) => tracing::error!("terminal lost: cannot start a detached driver for wave {wave}: {e}"),
                }
            }
            _ => tracing::info!("terminal lost: wave {wave} is not in flight: nothing to hand over"),
        }
        job.stop();
    }

    /// Injects a demo fault on a thread of its own (a record fault waits until it was copied).
    fn fault(&mut self, name: String) {
        let Some(demo) = self.demo.clone() else {
            let _ = self
                .inbox
                .send(Msg::FaultDone(Err("faults exist only in `cutover demo`".into())));
            return;
        };
        let inbox = self.inbox.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("fault {name}"))
            .spawn(move || {
                let result = demo.inject(&name);
                let _ = inbox.send(Msg::FaultDone(result));
            });
        if let Err(e) = spawned {
            let _ = self
                .inbox
                .send(Msg::FaultDone(Err(format!("cannot start the fault: {e}").into())));
        }
    }

    fn cutover(&mut self, op: app::CutoverOp, app: &App) {
        use app::CutoverOp;
        let (wave, dry_run, rollback) = match op {
            CutoverOp::Answer(yes) => return self.cutover.iter().for_each(|j| j.answer(yes)),
            CutoverOp::Pause => return self.cutover.iter().for_each(|j| j.pause()),
            CutoverOp::Start { wave, dry_run } => (wave, dry_run, None),
            CutoverOp::Rollback { wave, breach } => (wave, false, Some(breach)),
        };
        let (config, snapshots, inbox) = (app.config.clone(), self.snapshots.clone(), self.inbox.clone());
        match cutover::CutoverJob::start(config, wave.clone(), dry_run, rollback, snapshots, inbox) {
            Ok(job) => self.cutover = Some(job),
            Err(e) => {
                let result = Err(format!("cannot start the driver: {e}").into());
                let _ = self.inbox.send(Msg::Cutover(app::CutoverNews::Ended { wave, result }));
            }
        }
    }
}

/// Translates a group's committed offsets on a thread of its own; the answer comes back as a
/// message unless the job was cancelled meanwhile.
fn translation_job(app: &App, group: String, inbox: mpsc::UnboundedSender<Msg>) -> std::io::Result<JobHandle> {
    let config = app.config.clone();
    let mm2 = app.snapshot.mm2.clone();
    let target_only = app.snapshot.target_only.clone();
    let own_timestamps = crate::model::inventory::own_timestamps(&app.snapshot);
    // The previous answer: partitions walk on from it (a live group costs only what is new).
    let previous = app.translations.get(&group).map(|t| t.previous()).unwrap_or_default();
    JobHandle::thread(&format!("translate {group}"), move |cancel| {
        let timeout = config.monitor.request_timeout;
        let result = crate::kafka::group_offsets(&config.source, &group, timeout)
            .map_err(|e| e.context(format!("committed offsets on {}", config.source.name)))
            .and_then(|committed| {
                crate::translate::group::translate_group(
                    &config,
                    mm2.as_deref(),
                    &group,
                    &committed,
                    None,
                    timeout,
                    &previous,
                    &target_only,
                    &own_timestamps,
                    &cancel,
                )
            })
            .map(|(rows, counts)| {
                tracing::info!(
                    group,
                    source = counts.source,
                    target = counts.target,
                    "exact translation: records read"
                );
                rows
            });
        if !cancel.is_cancelled() {
            let _ = inbox.send(Msg::Translation { group, result });
        }
    })
}

/// Runs the cockpit until `q` or a signal. The terminal is restored on every path out.
/// `read_only`: no key that changes anything on a cluster exists.
/// `demo`: `cutover demo`'s estate (its fault menu and its applications' tally), else None.
/// `relaunch`: how to start a detached driver for a wave in flight when the terminal is lost
/// (None: the wave pauses with the cockpit, as in the demo, whose brokers end with it).
pub async fn run(
    config: Arc<Config>,
    theme: Theme,
    read_only: bool,
    demo: Option<Arc<crate::demo::Demo>>,
    relaunch: Option<crate::cutover::handover::Relaunch>,
) -> color_eyre::Result<Exit> {
    let monitor = Monitor::start(&config).map_err(|e| color_eyre::eyre::eyre!(e))?;
    let mut snapshots = monitor.snapshots.clone();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;

    let mut guard = TerminalGuard::enter()?;
    let first = snapshots.borrow_and_update().clone();
    let mut app = App::new(config, theme, first, SystemTime::now());
    app.read_only = read_only;
    if let Some(d) = &demo {
        app.faults = crate::demo::FAULTS
            .iter()
            .map(|(n, w)| (n.to_string(), w.to_string()))
            .collect();
        app.demo_status = Some(d.status());
    }

    // Every message for the cockpit comes through this one inbox.
    let (inbox, mut messages) = mpsc::unbounded_channel::<Msg>();

    // crossterm's read blocks, so it gets its own thread; it ends with the process.
    let keys = inbox.clone();
    std::thread::Builder::new()
        .name("terminal-input".into())
        .spawn(move || {
            while let Ok(ev) = event::read() {
                let msg = match ev {
                    TermEvent::Key(k) if k.kind != KeyEventKind::Release => Msg::Key(k),
                    TermEvent::Resize(..) => Msg::Resize,
                    TermEvent::Paste(text) => Msg::Paste(text),
                    _ => continue,
                };
                if keys.send(msg).is_err() {
                    break;
                }
            }
        })?;

    // The monitor's snapshots, as messages.
    let forward = inbox.clone();
    let _snapshots = JobHandle::task("snapshots", move |cancel| async move {
        loop {
            tokio::select! {
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let s = snapshots.borrow_and_update().clone();
                    if forward.send(Msg::Snapshot(s, SystemTime::now())).is_err() {
                        return;
                    }
                }
                _ = cancel.cancelled() => return,
            }
        }
    });

    // Fault injection for the terminal-restore test: a panic inside a monitor-like task.
    if std::env::var_os("CUTOVER_INJECT_TASK_PANIC").is_some() {
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            panic!("injected by CUTOVER_INJECT_TASK_PANIC");
        });
    }

    let updates = inbox.clone();
    // `[metrics] listen`: the same figures a scrape reads, the validation's results kept for it too.
    let metrics_board: crate::serve::SharedBoard = Default::default();
    let board = app.config.metrics.listen.map(|_| metrics_board.clone());
    let validation = Job::start(app.config.clone(), monitor.snapshots.clone(), move |u| {
        if let Some(b) = &board {
            b.lock().unwrap_or_else(|e| e.into_inner()).apply(u.clone());
        }
        updates.send(Msg::Validation(u)).is_ok()
    })?;
    let _metrics = match app.config.metrics.listen {
        None => None,
        Some(listen) => {
            let scrape = crate::serve::scraper(app.config.clone(), monitor.snapshots.clone(), metrics_board);
            match crate::metrics::serve(listen, scrape) {
                Ok(job) => Some(job),
                Err(e) => {
                    // The cockpit runs on; the reason is in its log file.
                    tracing::error!("{e}");
                    None
                }
            }
        }
    };
    let mut jobs = Jobs {
        translations: BTreeMap::new(),
        validation,
        cutover: None,
        demo: demo.clone(),
        snapshots: monitor.snapshots.clone(),
        inbox,
        notifier: crate::cutover::notify::Notifier::start(&app.config.notify),
    };
    let journal = app
        .config
        .cutover
        .journal_path(&app.config.source.name, &app.config.target.name);
    let read_journal = |app: &App| Msg::Journal {
        entries: crate::cutover::journal::read(&journal).unwrap_or_else(|e| {
            tracing::warn!("{e}");
            Vec::new()
        }),
        // While this cockpit drives, the lock is its own.
        driver: if app.cutover.driving.is_some() {
            None
        } else {
            crate::cutover::journal::driver(&journal)
        },
        live: if app.cutover.driving.is_some() {
            None
        } else {
            crate::cutover::journal::live_line(&journal)
        },
    };
    app.update(read_journal(&app));

    // Ages on screen change every second; nothing else redraws without a reason.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let exit = loop {
        if let Err(e) = draw(&mut guard.terminal, &mut app) {
            tracing::error!("cannot draw: {e}");
            break Exit::TerminalLost;
        }
        tokio::select! {
            Some(msg) = messages.recv() => {
                let mut next = Some(msg);
                // Apply every message already waiting (keys, a run's progress) before drawing.
                while let Some(msg) = next {
                    for effect in app.update(msg) {
                        jobs.run(effect, &app);
                    }
                    next = messages.try_recv().ok();
                }
                if app.cutover.driving.is_some() {
                    let msg = read_journal(&app);
                    app.update(msg);
                }
            }
            _ = tick.tick() => {
                if let Some(d) = &demo {
                    app.demo_status = Some(d.status());
                }
                for effect in app.update(Msg::Tick(SystemTime::now())) {
                    jobs.run(effect, &app);
                }
                // The journal is the cutover's state: read it every second (an observer follows
                // another cockpit's wave this way).
                let msg = read_journal(&app);
                app.update(msg);
            }
            _ = sigterm.recv() => break Exit::Signal(15),
            _ = sighup.recv() => break Exit::Signal(1),
            _ = sigint.recv() => break Exit::Signal(2),
        }
        if app.quit {
            break Exit::Quit;
        }
    };
    let hung_up = matches!(exit, Exit::Signal(1) | Exit::TerminalLost);
    if hung_up {
        terminal::let_go_of_a_lost_terminal();
    }
    drop(guard);
    tracing::info!("cockpit stopped: {exit:?}");
    if hung_up {
        jobs.hand_over(&app.config, relaunch.as_ref());
    }
    Ok(exit)
}
