//! The command line: the cockpit (default), `status`, `translate`, `validate`, `plan`, `run`,
//! `check-config` and `demo`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use color_eyre::eyre::WrapErr;

use crate::config::{self, Config};
use crate::tui::theme::Theme;
use crate::tui::Exit;

#[derive(Debug, Parser)]
#[command(
    name = "cutover",
    version,
    about = "A terminal cockpit for live Apache Kafka cluster migrations",
    long_about = "A terminal cockpit for live Apache Kafka cluster migrations.\n\n\
    Without a command, opens the live cockpit on the source and target clusters of the config.\n\
    Exit codes: 0 ok, 1 failure or (status) something needs attention, 2 bad config or usage,\n\
    128+N stopped by signal N."
)]
pub struct Cli {
    /// Config file (see config.example.toml).
    #[arg(short, long, env = "CUTOVER_CONFIG", default_value = "cutover.toml", global = true)]
    pub config: PathBuf,
    /// Theme: dark, light, high-contrast, mono, or a path to a theme file. NO_COLOR forces mono.
    #[arg(long, global = true)]
    pub theme: Option<String>,
    /// Log file (overrides [log] file). Nothing is printed to the terminal while the cockpit runs.
    #[arg(long, global = true)]
    pub log_file: Option<PathBuf>,
    /// Watch only: no key or command that changes anything on a cluster exists (`?` says so).
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Run even when source and target report the same cluster id (refused by default: a
    /// cluster validated or translated against itself always looks perfect).
    #[arg(long, global = true)]
    pub allow_same_cluster: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Commands that only print (no wave, no cockpit, no demo): on a closed pipe they end
    /// quietly, where the others keep going whatever happens to their output.
    pub fn only_prints(&self) -> bool {
        matches!(
            self.command,
            Some(
                Command::Status { .. }
                    | Command::Translate { .. }
                    | Command::Validate { .. }
                    | Command::Plan { .. }
                    | Command::CheckConfig
                    | Command::Completions { .. }
                    | Command::Man
            )
        )
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the live cockpit (the default).
    Ui,
    /// Poll both clusters once and print the overview; exit 0 all OK, 1 attention, 2 unreachable.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Translate a group's committed source offsets exactly (reads records on both sides):
    /// exit 0 all exact and no loss on MM2's checkpoint, 1 attention needed, 2 error.
    Translate {
        /// The consumer group.
        #[arg(long)]
        group: String,
        /// Only this source topic.
        #[arg(long)]
        topic: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Validate that the target holds the source's records (counts and SHA-256 checksums
    /// down to the first differing record): exit 0 all pass, 1 a mismatch, 2 an error.
    Validate {
        /// Only this source topic.
        #[arg(long)]
        topic: Option<String>,
        /// Spot check instead: compare this many random records per partition (SHA-256) at
        /// their mapped offsets. Cheaper for very large topics; finds less.
        #[arg(long, value_name = "SAMPLES")]
        spot_check: Option<usize>,
        /// Seed for the spot check's sample (to repeat a run).
        #[arg(long, default_value_t = 0, requires = "spot_check")]
        seed: u64,
        /// Keep where each partition was validated up to in this file: the next run with it
        /// reads only records not validated yet (created on the first run).
        #[arg(long, value_name = "FILE", conflicts_with = "spot_check")]
        state: Option<PathBuf>,
        /// With --state: validate everything from the start again (and save the new state).
        #[arg(long, requires = "state")]
        full: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the cutover plan: each wave's topics, groups and steps, what each step would do,
    /// and the preflight checks now. Read-only.
    Plan {
        /// Only this wave.
        #[arg(long)]
        wave: Option<String>,
    },
    /// Run (or resume) one wave of the cutover plan, printing each step: exit 0 done, 1 stopped
    /// (a failed check or hook, or a question answered no; the message says how to go on), 2 bad
    /// config or usage. Asks on the terminal before it acts; refuses without one unless --yes.
    Run {
        /// The wave's name, as in the config.
        #[arg(long)]
        wave: String,
        /// Go through every check and step and show what each would do: no hook runs, nothing
        /// is committed, the wave's state in the journal is left as it is.
        #[arg(long)]
        dry_run: bool,
        /// Answer yes to every confirmation (for rehearsals and scripts).
        #[arg(long)]
        yes: bool,
        /// Hold the wave with nobody at the wheel (what the cockpit starts when it loses its
        /// terminal mid-wave): runs no step that needs a confirmation, keeps the pause budget,
        /// the rollback criteria and the notify command, and rolls back by itself when a budget
        /// is passed and auto_rollback is on. Logs to the log file. The next cockpit or
        /// `cutover run` takes the wave over from it.
        #[arg(long, conflicts_with_all = ["dry_run", "yes"])]
        detached: bool,
    },
    /// Roll a started (or finished) wave back: the rollback hooks of the steps that began, in
    /// reverse order, and the groups' offsets translated back and committed on the source.
    /// Exit 0 rolled back, 1 stopped, 2 bad config or usage.
    Rollback {
        /// The wave's name, as in the config.
        #[arg(long)]
        wave: String,
        /// Answer yes to every confirmation.
        #[arg(long)]
        yes: bool,
        /// The rollback's report as JSON on stdout (progress on stderr): how it ended and, per
        /// partition, the records written on the target only during the wave.
        #[arg(long)]
        json: bool,
    },
    /// Check the config file and exit (0 valid, 2 invalid). Offline: it connects to nothing, so
    /// it compares the bootstrap lists to refuse a source and target that are the same cluster.
    CheckConfig,
    /// Print a shell completion script: `cutover completions bash > /etc/bash_completion.d/cutover`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `cutover man | man -l -`.
    Man,
    /// Headless, for a monitoring host: poll both clusters, validate in the background and
    /// serve the figures as Prometheus metrics on `[metrics] listen`, with no terminal. Logs to
    /// the log file; stops cleanly on SIGTERM or Ctrl-C (exit 0).
    Serve,
    /// Start two local brokers (tansu, or Apache Kafka with --brokers kafka) with traffic and a
    /// replicator (MirrorMaker 2 with kafka), and open the cockpit on them.
    Demo {
        /// Keep the demo's state (brokers' logs, config, journal, log file) in this directory;
        /// by default a temporary one, removed when the demo ends.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Only run the demo environment (print its config path and wait for Ctrl-C).
        #[arg(long)]
        no_ui: bool,
        /// tansu (starts in a second; the MM2-compatible replicator, every fault) or kafka
        /// (Apache Kafka 3.9 -> 4.x and the real MirrorMaker 2, from `make setup`; no faults on
        /// records).
        #[arg(long, value_enum, default_value_t = DemoBrokers::Tansu)]
        brokers: DemoBrokers,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoBrokers {
    Tansu,
    Kafka,
}

/// How the program ends badly.
#[derive(Debug)]
pub enum Failure {
    /// A message for the person at the terminal, and an exit code: no backtrace.
    User { code: u8, message: String },
    /// A bug or an unexpected system error: color-eyre reports it with its context.
    Internal(color_eyre::Report),
}

impl From<color_eyre::Report> for Failure {
    fn from(r: color_eyre::Report) -> Self {
        Failure::Internal(r)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Internal(e.into())
    }
}

type Result<T> = std::result::Result<T, Failure>;

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure::User {
        code,
        message: message.into(),
    }
}

fn load_config(path: &Path) -> Result<Config> {
    if !path.exists() {
        return Err(fail(
            2,
            format!(
                "config file not found: {}\n  pass --config PATH (or set CUTOVER_CONFIG); config.example.toml documents every option",
                path.display()
            ),
        ));
    }
    config::load(path).map_err(|e| fail(2, e.to_string()))
}

fn theme(cli: &Cli, config: &Config) -> Result<Theme> {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let name = cli.theme.clone().unwrap_or_else(|| config.ui.theme.clone());
    Theme::select(&name, no_color).map_err(|e| fail(2, e))
}

/// Sends tracing (and librdkafka's logs) to the log file; the guard flushes it on drop.
fn init_logging(path: &Path, level: &str) -> Result<tracing_appender::non_blocking::WorkerGuard> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| fail(2, format!("cannot create the log directory {}: {e}", dir.display())))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            fail(
                2,
                format!(
                    "cannot open the log file {}: {e} (set [log] file or --log-file)",
                    path.display()
                ),
            )
        })?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUTOVER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
    Ok(guard)
}

/// How the cockpit starts a detached driver (`cutover::handover`): the global arguments it
/// was given. None when read-only (it drives nothing).
fn relaunch(cli: &Cli, config: &Config) -> Option<crate::cutover::handover::Relaunch> {
    if cli.read_only {
        return None;
    }
    let mut args: Vec<std::ffi::OsString> = vec!["--config".into(), config.path.clone().into()];
    if let Some(log) = &cli.log_file {
        args.extend(["--log-file".into(), log.clone().into()]);
    }
    if cli.allow_same_cluster {
        args.push("--allow-same-cluster".into());
    }
    Some(crate::cutover::handover::Relaunch {
        args,
        log_file: cli.log_file.clone().unwrap_or_else(|| config.log.file.clone()),
    })
}

fn exit_code(exit: Exit) -> u8 {
    match exit {
        Exit::Quit => 0,
        Exit::Signal(n) => 128 + n as u8,
        Exit::TerminalLost => 1,
    }
}

/// The waves named (all of them without a name); an unknown name is a usage error.
fn pick_waves<'c>(config: &'c Config, name: Option<&str>) -> Result<Vec<&'c crate::config::Wave>> {
    if config.waves.is_empty() {
        return Err(fail(
            2,
            format!(
                "{} has no [[wave]]: config.example.toml shows how to write the cutover plan",
                config.path.display()
            ),
        ));
    }
    match name {
        None => Ok(config.waves.iter().collect()),
        Some(n) => config
            .waves
            .iter()
            .find(|w| w.name == n)
            .map(|w| vec![w])
            .ok_or_else(|| {
                let names: Vec<&str> = config.waves.iter().map(|w| w.name.as_str()).collect();
                fail(2, format!("no wave named `{n}`; the plan has: {}", names.join(", ")))
            }),
    }
}

/// `cutover run` and `cutover rollback`: the headless driver on one wave.
fn drive_wave(
    cli: &Cli,
    runtime: &tokio::runtime::Runtime,
    wave: &str,
    dry_run: bool,
    yes: bool,
    rollback: bool,
    json: bool,
) -> Result<u8> {
    use crate::cutover::engine::{Finish, Next};
    use std::io::IsTerminal;
    let config = load_config(&cli.config)?;
    let _log = init_logging(cli.log_file.as_deref().unwrap_or(&config.log.file), &config.log.level)?;
    let waves = pick_waves(&config, Some(wave))?;
    if cli.read_only && !dry_run {
        return Err(fail(2, "--read-only: a wave can only be run with --dry-run"));
    }
    if !yes && !dry_run && !std::io::stdin().is_terminal() {
        return Err(fail(
            2,
            "this command asks before it acts, and stdin is not a terminal: run it in a terminal, or pass --yes",
        ));
    }
    if !cli.allow_same_cluster {
        crate::kafka::check_two_clusters(&config.source, &config.target, config.monitor.request_timeout)
            .map_err(|e| fail(2, e))?;
    }
    // The checks follow a monitor's snapshots, as in the cockpit.
    let _runtime = runtime.enter();
    let monitor = crate::monitor::Monitor::start(&config).map_err(|e| fail(1, e))?;
    let observe = crate::cutover::clusters::follow(monitor.snapshots.clone(), &config, Default::default());
    let mut driver =
        crate::cutover::driver::Driver::new(&config, waves[0], dry_run, observe).map_err(|e| fail(1, e))?;
    // Nobody else watches the pause budget for a wave driven from a terminal.
    driver.watch_budget = true;
    let mut operator = crate::cutover::plan::TerminalOperator {
        yes,
        say_to_stderr: json,
    };
    if rollback {
        let state = driver.state();
        match crate::cutover::engine::next(state, waves[0]) {
            Next::Start => {
                return Err(fail(
                    2,
                    format!("wave {wave} has not started: there is nothing to roll back"),
                ))
            }
            Next::Finished(Finish::RolledBack) => {
                eprintln!("wave {wave} is already rolled back");
                if json {
                    println!("{}", rollback_report(&config, wave, "rolled back")?);
                }
                return Ok(0);
            }
            _ if state.rolling_back() => {}
            _ => {
                if !driver.start_rollback(&mut operator).map_err(|e| fail(1, e))? {
                    eprintln!("wave {wave}: not rolled back");
                    return Ok(1);
                }
            }
        }
    }
    let mut outcome = driver.drive(&mut operator).map_err(|e| fail(1, e))?;
    if outcome == crate::cutover::driver::Outcome::Finished(Finish::Done) && !rollback {
        if let Some(breach) = driver.watch_after_done(&mut operator).map_err(|e| fail(1, e))? {
            if waves[0].criteria.auto_rollback {
                driver
                    .start_auto_rollback(&mut operator, &breach)
                    .map_err(|e| fail(1, e))?;
                outcome = driver.drive(&mut operator).map_err(|e| fail(1, e))?;
            } else {
                eprintln!(
                    "{breach}
  roll back with `cutover rollback --wave {wave}`"
                );
                return Ok(1);
            }
        }
    }
    let (message, code) = crate::cutover::plan::outcome_message(wave, &outcome, driver.journal_path());
    eprintln!("{message}");
    if json {
        let ended = match &outcome {
            crate::cutover::driver::Outcome::Finished(Finish::RolledBack) => "rolled back",
            _ => "stopped",
        };
        println!("{}", rollback_report(&config, wave, ended)?);
    }
    Ok(match outcome {
        crate::cutover::driver::Outcome::Finished(Finish::RolledBack) if rollback => 0,
        _ => code,
    })
}

/// `cutover run --wave W --detached` (`cutover::handover`): no terminal, no questions; SIGTERM
/// or SIGINT (someone taking the wave over) stops it as `p` would.
fn drive_detached(cli: &Cli, runtime: &tokio::runtime::Runtime, wave: &str) -> Result<u8> {
    use tokio::signal::unix::{signal, SignalKind};
    let config = load_config(&cli.config)?;
    let _log = init_logging(cli.log_file.as_deref().unwrap_or(&config.log.file), &config.log.level)?;
    pick_waves(&config, Some(wave))?;
    let _runtime = runtime.enter();
    let stop = crate::jobs::CancelToken::default();
    let (mut term, mut int, mut hup) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
        signal(SignalKind::hangup())?,
    );
    let on_signal = stop.clone();
    runtime.spawn(async move {
        let name = loop {
            tokio::select! {
                _ = term.recv() => break "SIGTERM",
                _ = int.recv() => break "SIGINT",
                // A hangup is not for a process without a terminal.
                _ = hup.recv() => tracing::info!("detached: SIGHUP ignored"),
            }
        };
        tracing::info!("detached: {name}: stopping, as `p` would");
        on_signal.cancel();
    });
    let monitor = crate::monitor::Monitor::start(&config).map_err(|e| fail(1, e))?;
    let observe = crate::cutover::clusters::follow(monitor.snapshots.clone(), &config, stop.clone());
    let outcome = crate::cutover::handover::drive_detached(&config, wave, observe, stop).map_err(|e| {
        tracing::error!("detached driver of wave {wave}: {e}");
        fail(1, e)
    })?;
    let path = config.cutover.journal_path(&config.source.name, &config.target.name);
    let (message, code) = crate::cutover::plan::outcome_message(wave, &outcome, &path);
    tracing::info!("detached driver of wave {wave} ends: {message}");
    Ok(match outcome {
        crate::cutover::driver::Outcome::Paused => 0,
        _ => code,
    })
}

/// `rollback --json`: how the rollback ended and the records the wave's last run wrote on
/// the target only, per partition (from the journal).
fn rollback_report(config: &Config, wave: &str, ended: &str) -> Result<String> {
    let path = config.cutover.journal_path(&config.source.name, &config.target.name);
    let entries = crate::cutover::journal::read(&path).map_err(|e| fail(1, e))?;
    let this_wave: Vec<_> = entries.into_iter().filter(|e| e.wave == wave).collect();
    // The last run only: from its last start.
    let last_start = this_wave
        .iter()
        .rposition(|e| matches!(e.event, crate::cutover::engine::Event::WaveStarted { .. }) && !e.dry_run)
        .unwrap_or(0);
    let ranges: Vec<_> = crate::cutover::journal::target_only(&this_wave[last_start..])
        .all()
        .cloned()
        .collect();
    let doc = serde_json::json!({
        "wave": wave,
        "rollback": ended,
        "journal": path,
        "target_only": ranges.iter().map(|r| serde_json::json!({
            "topic": r.topic,
            "partition": r.partition,
            "from": r.from,
            "to": r.to,
            "records": r.records(),
            "flipped_at_ms": r.flipped_at_ms,
            "stopped_at_ms": r.stopped_at_ms,
            "explained": r.describe(),
        })).collect::<Vec<_>>(),
    });
    Ok(serde_json::to_string_pretty(&doc).expect("json"))
}

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match &cli.command {
        None | Some(Command::Ui) => {
            let config = load_config(&cli.config)?;
            let theme = theme(&cli, &config)?;
            let _log = init_logging(cli.log_file.as_deref().unwrap_or(&config.log.file), &config.log.level)?;
            // Unreachable clusters are shown in the cockpit; the same cluster twice is refused.
            if !cli.allow_same_cluster {
                let timeout = config.monitor.request_timeout;
                if let (Ok(_), Ok(_)) = (
                    crate::kafka::cluster_id(&config.source, timeout),
                    crate::kafka::cluster_id(&config.target, timeout),
                ) {
                    crate::kafka::check_two_clusters(&config.source, &config.target, timeout)
                        .map_err(|e| fail(2, e))?;
                }
            }
            tracing::info!(config = %cli.config.display(), "cockpit starting");
            let relaunch = relaunch(&cli, &config);
            let exit = runtime.block_on(crate::tui::run(Arc::new(config), theme, cli.read_only, None, relaunch))?;
            Ok(exit_code(exit))
        }
        Some(Command::Serve) => {
            let config = load_config(&cli.config)?;
            let Some(listen) = config.metrics.listen else {
                return Err(fail(
                    2,
                    format!(
                        "{}: cutover serve needs [metrics] listen = \"127.0.0.1:9464\" (where to serve the metrics)",
                        cli.config.display()
                    ),
                ));
            };
            let _log = init_logging(cli.log_file.as_deref().unwrap_or(&config.log.file), &config.log.level)?;
            tracing::info!(config = %cli.config.display(), "serving metrics headless");
            runtime
                .block_on(crate::serve::run(Arc::new(config), listen))
                .map_err(|e| fail(2, e))?;
            Ok(0)
        }
        Some(Command::CheckConfig) => {
            let c = load_config(&cli.config)?;
            theme(&cli, &c)?;
            if let Some(address) = crate::config::shared_bootstrap(&c.source, &c.target) {
                if !cli.allow_same_cluster {
                    return Err(fail(
                        2,
                        format!(
                            "{}: source {} and target {} both list {address}: they are the same cluster (the other \
                             commands refuse it too); check the bootstraps, or pass --allow-same-cluster if this is really meant",
                            cli.config.display(),
                            c.source.name,
                            c.target.name
                        ),
                    ));
                }
            }
            println!(
                "{}: valid\n  source {} ({}), {} librdkafka properties\n  target {} ({}), {} librdkafka properties\n  replication {:?}, policy {:?}, e.g. orders -> {}",
                cli.config.display(),
                c.source.name,
                c.source.bootstrap,
                c.source.properties.len(),
                c.target.name,
                c.target.bootstrap,
                c.target.properties.len(),
                c.replication.kind,
                c.replication.policy,
                c.replication.target_topic("orders"),
            );
            Ok(0)
        }
        Some(Command::Completions { shell }) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "cutover", &mut std::io::stdout());
            Ok(0)
        }
        Some(Command::Man) => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
            Ok(0)
        }
        Some(Command::Status { json }) => {
            let config = load_config(&cli.config)?;
            let _log = init_logging(cli.log_file.as_deref().unwrap_or(&config.log.file), &config.log.level)?;
            let snap = runtime
                .block_on(crate::status::snapshot_once(&config))
                .map_err(|e| fail(1, e))?;
            let (text, code) = crate::status::report(&config, &snap, *json);
            println!("{text}");
            Ok(code as u8)
        }
        Some(Command::Translate { group, topic, json }) => {
            let config = load_config(&cli.config)?;
            let _log = init_logging(cli.log_file.as_deref().unwrap_or(&config.log.file), &config.log.level)?;
            if !cli.allow_same_cluster {
                crate::kafka::check_two_clusters(&config.source, &config.target, config.monitor.request_timeout)
                    .map_err(|e| fail(2, e))?;
            }
            let (text, code) =
                crate::translate::report::run(&config, group, topic.as_deref(), *json).map_err(|e| fail(2, e))?;
            println!("{text}");
            Ok(code)
        }
        Some(Command::Validate {
            topic,
            json,
            spot_check,
            seed,
            state,
            full,
        }) => {
            let config = load_config(&cli.config)?;
            let _log = init_logging(cli.log_file.as_deref().unwrap_or(&config.log.file), &config.log.level)?;
            if !cli.allow_same_cluster {
                crate::kafka::check_two_clusters(&config.source, &config.target, config.monitor.request_timeout)
                    .map_err(|e| fail(2, e))?;
            }
            let snap = runtime
                .block_on(crate::status::snapshot_once(&config))
                .map_err(|e| fail(2, e))?;
            let timeout = config.monitor.request_timeout;
            // A headless validation runs to its end (Ctrl-C ends the process).
            let no_cancel = crate::jobs::CancelToken::default();
            let rows = match spot_check {
                Some(n) => {
                    crate::validate::report::spot_check_all(&config, &snap, topic.as_deref(), timeout, *n, *seed)
                }
                None => match state {
                    None => crate::validate::report::validate_all(
                        &config,
                        &snap,
                        topic.as_deref(),
                        timeout,
                        None,
                        &no_cancel,
                    ),
                    Some(path) => {
                        use crate::validate::state;
                        // --full forgets the topic (or all) but keeps the other topics' progress.
                        let mut progress = match (state::load(path, &config), *full) {
                            (Ok(mut p), true) => {
                                p.forget(topic.as_deref());
                                p
                            }
                            (Err(_), true) => Default::default(),
                            (Ok(p), false) => p,
                            (Err(e), false) => return Err(fail(2, e)),
                        };
                        let rows = crate::validate::report::validate_all(
                            &config,
                            &snap,
                            topic.as_deref(),
                            timeout,
                            Some(&mut progress),
                            &no_cancel,
                        );
                        state::save(path, &config, &progress).map_err(|e| fail(2, e))?;
                        rows
                    }
                },
            }
            .map_err(|e| fail(2, e))?;
            let (text, code) = crate::validate::report::render(&rows, *json);
            println!("{text}");
            Ok(code)
        }
        Some(Command::Plan { wave }) => {
            let config = load_config(&cli.config)?;
            let _log = init_logging(cli.log_file.as_deref().unwrap_or(&config.log.file), &config.log.level)?;
            let waves = pick_waves(&config, wave.as_deref())?;
            let snap = runtime
                .block_on(crate::status::snapshot_once(&config))
                .map_err(|e| fail(2, e))?;
            let (text, code) = crate::cutover::plan::render(&config, &waves, &snap);
            println!("{text}");
            Ok(code)
        }
        Some(Command::Run {
            wave, detached: true, ..
        }) => drive_detached(&cli, &runtime, wave),
        Some(Command::Run { wave, dry_run, yes, .. }) => drive_wave(&cli, &runtime, wave, *dry_run, *yes, false, false),
        Some(Command::Rollback { wave, yes, json }) => drive_wave(&cli, &runtime, wave, false, *yes, true, *json),
        Some(Command::Demo { dir, no_ui, brokers }) => runtime.block_on(async {
            let brokers = match brokers {
                DemoBrokers::Tansu => {
                    crate::demo::broker::tansu_binary().map_err(|e| fail(2, e))?;
                    eprintln!("starting two tansu brokers, the demo's applications and the replicator …");
                    crate::demo::Brokers::Tansu
                }
                DemoBrokers::Kafka => {
                    for v in [crate::demo::kafka::SOURCE_VERSION, crate::demo::kafka::TARGET_VERSION] {
                        crate::demo::kafka::kafka_jars(v).map_err(|e| fail(2, e))?;
                    }
                    eprintln!(
                        "starting Apache Kafka {} and {}, MirrorMaker 2 and the demo's applications (about 30 s) …",
                        crate::demo::kafka::SOURCE_VERSION,
                        crate::demo::kafka::TARGET_VERSION
                    );
                    crate::demo::Brokers::Kafka
                }
            };
            let demo = Arc::new(
                crate::demo::Demo::start(dir.as_deref(), brokers)
                    .await
                    .map_err(|e| fail(1, e))?,
            );
            let config = load_config(&demo.config_path)?;
            if *no_ui {
                println!(
                    "demo running: source {} target {}\nconfig: {}\nCtrl-C stops it",
                    demo.source_bootstrap,
                    demo.target_bootstrap,
                    demo.config_path.display()
                );
                if dir.is_none() {
                    println!("(its directory is removed when it stops; --dir keeps one)");
                }
                let _log = init_logging(&config.log.file, &config.log.level)?;
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                tokio::select! {
                    r = tokio::signal::ctrl_c() => r.wrap_err("waiting for Ctrl-C")?,
                    _ = term.recv() => {}
                }
                drop(demo);
                return Ok(0);
            }
            let theme = theme(&cli, &config)?;
            let _log = init_logging(cli.log_file.as_deref().unwrap_or(&config.log.file), &config.log.level)?;
            let exit = crate::tui::run(Arc::new(config), theme, cli.read_only, Some(demo.clone()), None).await;
            // A fault still being injected holds the demo for a moment: wait, so that dropping it
            // here stops every process and removes its directory.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(35);
            while Arc::strong_count(&demo) > 1 && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            drop(demo);
            Ok(exit_code(exit?))
        }),
    }
}
