//! `cutover serve`: the monitor, the background validation and the metrics endpoint, with no
//! terminal, until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::signal::unix::{signal, SignalKind};

use crate::config::Config;
use crate::model::validation::Board;
use crate::monitor::Monitor;

/// Shared by the scrape and the validation job's reports.
pub type SharedBoard = Arc<Mutex<Board>>;

/// What a scrape renders: the monitor's newest snapshot, the validation board, the journal.
pub fn scraper(
    config: Arc<Config>,
    snapshots: tokio::sync::watch::Receiver<crate::model::Snapshot>,
    board: SharedBoard,
) -> impl Fn() -> String + Send + 'static {
    move || {
        let snapshot = snapshots.borrow().clone();
        let journal_path = config.cutover.journal_path(&config.source.name, &config.target.name);
        let journal = crate::cutover::journal::read(&journal_path).unwrap_or_default();
        let board = board.lock().unwrap_or_else(|e| e.into_inner());
        crate::metrics::render(&crate::metrics::Inputs {
            config: &config,
            snapshot: &snapshot,
            board: &board,
            journal: &journal,
            now: SystemTime::now(),
        })
    }
}

pub async fn run(config: Arc<Config>, listen: SocketAddr) -> crate::error::Result<()> {
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;
    let monitor = Monitor::start(&config)?;
    let board: SharedBoard = Arc::default();
    let updates = board.clone();
    let _validation = crate::validate::job::Job::start(config.clone(), monitor.snapshots.clone(), move |u| {
        updates.lock().unwrap_or_else(|e| e.into_inner()).apply(u);
        true
    })
    .map_err(|e| format!("cannot start the validation: {e}"))?;
    let _metrics = crate::metrics::serve(listen, scraper(config.clone(), monitor.snapshots.clone(), board))?;
    let signal = tokio::select! {
        _ = sigterm.recv() => "SIGTERM",
        _ = sigint.recv() => "SIGINT",
    };
    tracing::info!("{signal}: stopping");
    Ok(())
}
