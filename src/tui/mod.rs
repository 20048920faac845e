//! The live cockpit: terminal loop, state (`app`), key map (`keys`), views and themes.

pub mod app;
pub mod keys;
pub mod terminal;
pub mod theme;
pub mod views;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};
use ratatui::crossterm::queue;
use ratatui::crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::monitor::Monitor;
use crate::validate::job::Job;
use app::App;
use terminal::{Term, TerminalGuard};
use theme::Theme;

/// Why the cockpit stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
    /// SIGTERM, SIGHUP (dropped SSH) or SIGINT: the conventional exit code is 128 + number.
    Signal(i32),
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

type TranslationDone = (
    String,
    Result<Vec<crate::translate::group::GroupPartitionTranslation>, String>,
);

/// Translates a group's committed offsets in a blocking task; the answer comes back on `done`.
fn start_translation(app: &App, group: String, done: mpsc::UnboundedSender<TranslationDone>) {
    let config = app.config.clone();
    let mm2 = app.snapshot.mm2.clone();
    tokio::task::spawn_blocking(move || {
        let timeout = config.monitor.request_timeout;
        let result = crate::kafka::group_offsets(&config.source, &group, timeout)
            .map_err(|e| format!("committed offsets on {}: {e}", config.source.name))
            .and_then(|committed| {
                crate::translate::group::translate_group(&config, mm2.as_deref(), &group, &committed, None, timeout)
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
        let _ = done.send((group, result));
    });
}

/// Runs the cockpit until `q` or a signal. The terminal is restored on every path out.
pub async fn run(config: Arc<Config>, theme: Theme) -> color_eyre::Result<Exit> {
    let monitor = Monitor::start(&config).map_err(|e| color_eyre::eyre::eyre!(e))?;
    let mut snapshots = monitor.snapshots.clone();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;

    let mut guard = TerminalGuard::enter()?;
    let first = snapshots.borrow_and_update().clone();
    let mut app = App::new(config, theme, first, SystemTime::now());

    // crossterm's read blocks, so it gets its own thread; it ends with the process.
    let (tx, mut keys) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("terminal-input".into())
        .spawn(move || {
            while let Ok(ev) = event::read() {
                if tx.send(ev).is_err() {
                    break;
                }
            }
        })?;

    // Fault injection for the terminal-restore test: a panic inside a monitor-like task.
    if std::env::var_os("CUTOVER_INJECT_TASK_PANIC").is_some() {
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            panic!("injected by CUTOVER_INJECT_TASK_PANIC");
        });
    }

    // Exact translations read records: they run off the UI thread and report back here.
    let (done_tx, mut translations) = mpsc::unbounded_channel::<TranslationDone>();
    // So does the background validation, on a thread of its own.
    let (validation_tx, mut validation) = mpsc::unbounded_channel();
    let job = Job::start(app.config.clone(), snapshots.clone(), validation_tx)?;

    // Ages on screen change every second; nothing else redraws without a reason.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let exit = loop {
        draw(&mut guard.terminal, &mut app)?;
        tokio::select! {
            Some(ev) = keys.recv() => {
                let mut next = Some(ev);
                // Apply every key already waiting before drawing again.
                while let Some(ev) = next {
                    if let TermEvent::Key(k) = ev {
                        if k.kind != KeyEventKind::Release {
                            app.on_key(k);
                        }
                    }
                    next = keys.try_recv().ok();
                }
            }
            Ok(()) = snapshots.changed() => {
                let s = snapshots.borrow_and_update().clone();
                app.on_snapshot(s, SystemTime::now());
            }
            Some((group, result)) = translations.recv() => app.on_translation(&group, result),
            Some(update) = validation.recv() => {
                app.on_validation(update);
                // A run's progress comes in bursts: take what is waiting before drawing.
                while let Ok(update) = validation.try_recv() {
                    app.on_validation(update);
                }
            }
            _ = tick.tick() => app.on_tick(SystemTime::now()),
            _ = sigterm.recv() => break Exit::Signal(15),
            _ = sighup.recv() => break Exit::Signal(1),
            _ = sigint.recv() => break Exit::Signal(2),
        }
        if app.quit {
            break Exit::Quit;
        }
        for group in app.take_requests() {
            start_translation(&app, group, done_tx.clone());
        }
        for request in app.take_validation_requests() {
            job.request(request);
        }
    };
    drop(guard);
    tracing::info!("cockpit stopped: {exit:?}");
    Ok(exit)
}
