//! Apache Kafka brokers (single-node KRaft) and MirrorMaker 2 in dedicated mode, as local JVM
//! processes: the real-Kafka test suite and `cutover demo --brokers kafka` use them.
//!
//! The jars come from Maven Central through `scripts/setup.sh` (`scripts/kafka/pom.xml`), one
//! directory per version under `~/.cache/cutover/kafka/` (or `$CUTOVER_KAFKA_CACHE`). Each
//! process gets its own directory (config, data, log file) and is stopped by its PID.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

use super::broker::free_port;

/// The source side of the migrations we test: the last 3.x line (ZooKeeper-free KRaft).
pub const SOURCE_VERSION: &str = "3.9.1";
/// The target side: the newest 4.x that runs here (a version-upgrade migration).
pub const TARGET_VERSION: &str = "4.3.1";

/// How to get the jars, said wherever they are missing.
pub const INSTALL_HINT: &str = "run `make setup` (scripts/setup.sh fetches Apache Kafka and MirrorMaker 2 \
     through Maven into ~/.cache/cutover/kafka/<version>; needs java 17+ and mvn)";

/// The directory of jars for one Kafka version (broker, tools and MirrorMaker 2).
pub fn kafka_jars(version: &str) -> crate::error::Result<PathBuf> {
    let cache = match std::env::var_os("CUTOVER_KAFKA_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?).join(".cache/cutover/kafka"),
    };
    let dir = cache.join(version);
    let has_broker = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("kafka_2.13-"))
        })
        .unwrap_or(false);
    if has_broker {
        Ok(dir)
    } else {
        Err(format!("Apache Kafka {version} is not in {}: {INSTALL_HINT}", dir.display()).into())
    }
}

/// A JVM process of ours: started with its output in a log file, stopped by PID.
struct JavaProcess {
    child: Option<Child>,
    log: PathBuf,
}

impl JavaProcess {
    fn spawn(
        jars: &Path,
        main_class: &str,
        args: &[&str],
        dir: &Path,
        log_name: &str,
    ) -> crate::error::Result<JavaProcess> {
        let log_path = dir.join(log_name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        write_logging_configs(dir)?;
        let mut command = Command::new(java_binary());
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the JVM when the
        // thread that started it (the jvm-keeper) dies, so no broker outlives its process.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        command
            // A small heap and one GC thread: two brokers and MM2 share 2 cores.
            .args(["-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .arg("-Djava.awt.headless=true")
            // Kafka 3.x logs through log4j 1 (reload4j), 4.x through log4j 2.
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                dir.join("log4j.properties").display()
            ))
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                dir.join("log4j2.properties").display()
            ))
            .arg("-cp")
            .arg(format!("{}/*", jars.display()))
            .arg(main_class)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        let child = spawn_on_keeper(command).map_err(|e| format!("cannot start java: {e}; {INSTALL_HINT}"))?;
        Ok(JavaProcess {
            child: Some(child),
            log: log_path,
        })
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILL: a crash, nothing flushed.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    fn stop(&mut self, grace: Duration) {
        let Some(mut c) = self.child.take() else { return };
        // SAFETY: a signal to our own child process.
        unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    /// The last lines of the log file, to quote in an error.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for JavaProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `command` from one thread that lives as long as the process. PR_SET_PDEATHSIG kills
/// a child when the *thread* that started it ends, and the threads that ask (a test, a
/// restart's helper thread) often end first: a JVM must die with the process, not with them.
fn spawn_on_keeper(command: Command) -> std::io::Result<Child> {
    type Ask = (Command, mpsc::Sender<std::io::Result<Child>>);
    static KEEPER: OnceLock<Mutex<mpsc::Sender<Ask>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Ask>();
        std::thread::Builder::new()
            .name("jvm-keeper".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("start the jvm-keeper thread");
        Mutex::new(tx)
    });
    let (reply, answer) = mpsc::channel();
    keeper
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((command, reply))
        .map_err(|_| std::io::Error::other("the jvm-keeper thread is gone"))?;
    answer
        .recv()
        .map_err(|_| std::io::Error::other("the jvm-keeper thread did not answer"))?
}

fn java_binary() -> PathBuf {
    std::env::var_os("JAVA_HOME")
        .map(|home| PathBuf::from(home).join("bin/java"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("java"))
}

/// Logging to the process's own log file (its stdout), quiet but for the lines that tell what
/// it did: start, stop, errors, MirrorMaker's tasks.
fn write_logging_configs(dir: &Path) -> crate::error::Result<()> {
    let log4j = "log4j.rootLogger=WARN, stdout\n\
                 log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n\
                 log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n\
                 log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n\
                 log4j.logger.kafka.server.KafkaRaftServer=INFO\n\
                 log4j.logger.kafka.server.BrokerServer=INFO\n\
                 log4j.logger.org.apache.kafka.connect.mirror=INFO\n";
    let log4j2 = "status = warn\n\
                  appender.stdout.type = Console\n\
                  appender.stdout.name = STDOUT\n\
                  appender.stdout.layout.type = PatternLayout\n\
                  appender.stdout.layout.pattern = [%d] %p %m (%c)%n\n\
                  rootLogger.level = warn\n\
                  rootLogger.appenderRef.stdout.ref = STDOUT\n\
                  logger.raft.name = kafka.server.KafkaRaftServer\n\
                  logger.raft.level = info\n\
                  logger.broker.name = kafka.server.BrokerServer\n\
                  logger.broker.level = info\n\
                  logger.mirror.name = org.apache.kafka.connect.mirror\n\
                  logger.mirror.level = info\n";
    for (name, text) in [("log4j.properties", log4j), ("log4j2.properties", log4j2)] {
        std::fs::write(dir.join(name), text).map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))?;
    }
    Ok(())
}

fn write_properties(path: &Path, props: &BTreeMap<String, String>) -> crate::error::Result<()> {
    let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}

/// A KRaft cluster id: 16 random bytes in URL-safe base64 without padding, as
/// `kafka-storage random-uuid` prints (without starting a JVM for it), and like Kafka's own
/// never starting with '-': `format -t -abc…` reads the id as an option (CI hit it, 1 in 64).
fn random_cluster_id() -> String {
    loop {
        let mut bytes = [0u8; 16];
        openssl::rand::rand_bytes(&mut bytes).expect("random bytes");
        let id = openssl::base64::encode_block(&bytes)
            .trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_");
        if !id.starts_with('-') {
            return id;
        }
    }
}

/// A single-node Apache Kafka cluster (broker and controller in one process) on loopback.
pub struct KafkaBroker {
    process: JavaProcess,
    pub version: String,
    /// The client port (PLAINTEXT, unless the properties say otherwise).
    pub port: u16,
    pub dir: PathBuf,
    props: BTreeMap<String, String>,
}

impl KafkaBroker {
    /// Formats a fresh log directory under `dir` and starts a broker of `version` on free
    /// ports; `overrides` replace or add to the single-node defaults (`{port}` in a value is
    /// the client port). Waits until it answers Metadata.
    pub fn start(dir: &Path, version: &str, overrides: &[(&str, &str)]) -> crate::error::Result<KafkaBroker> {
        Self::start_formatted(dir, version, overrides, &[])
    }

    /// As `start`, with more arguments to `kafka-storage format` (e.g. `--add-scram` users).
    pub fn start_formatted(
        dir: &Path,
        version: &str,
        overrides: &[(&str, &str)],
        format_args: &[&str],
    ) -> crate::error::Result<KafkaBroker> {
        let jars = kafka_jars(version)?;
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let controller = free_port().map_err(|e| format!("no free port: {e}"))?;
        let mut props: BTreeMap<String, String> = [
            ("process.roles", "broker,controller".to_string()),
            ("node.id", "1".into()),
            (
                "listeners",
                format!("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}"),
            ),
            ("advertised.listeners", format!("PLAINTEXT://127.0.0.1:{port}")),
            ("controller.listener.names", "CONTROLLER".into()),
            (
                "listener.security.protocol.map",
                "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT".into(),
            ),
            ("inter.broker.listener.name", "PLAINTEXT".into()),
            ("controller.quorum.voters", format!("1@127.0.0.1:{controller}")),
            ("log.dirs", dir.join("data").display().to_string()),
            ("num.partitions", "1".into()),
            ("offsets.topic.replication.factor", "1".into()),
            ("offsets.topic.num.partitions", "4".into()),
            ("transaction.state.log.replication.factor", "1".into()),
            ("transaction.state.log.min.isr", "1".into()),
            ("transaction.state.log.num.partitions", "4".into()),
            ("share.coordinator.state.topic.replication.factor", "1".into()),
            ("share.coordinator.state.topic.min.isr", "1".into()),
            ("group.initial.rebalance.delay.ms", "0".into()),
            // The log cleaner and retention checks run often enough to be seen in a test.
            ("log.retention.check.interval.ms", "1000".into()),
            ("log.cleaner.backoff.ms", "500".into()),
            ("auto.create.topics.enable", "false".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in overrides {
            props.insert(k.to_string(), v.replace("{port}", &port.to_string()));
        }
        let config = dir.join("server.properties");
        write_properties(&config, &props)?;
        let cluster_id = random_cluster_id();
        let config_arg = config.display().to_string();
        let mut args = vec!["format", "-t", &cluster_id, "-c", &config_arg];
        args.extend_from_slice(format_args);
        let mut format = JavaProcess::spawn(&jars, "kafka.tools.StorageTool", &args, dir, "format.log")?;
        let status = loop {
            if let Some(status) = format.exited() {
                break status;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if !status.success() {
            return Err(format!("formatting {} failed ({status}):\n{}", dir.display(), format.log_tail()).into());
        }
        let process = JavaProcess::spawn(&jars, "kafka.Kafka", &[&config_arg], dir, "server.log")?;
        let mut broker = KafkaBroker {
            process,
            version: version.to_string(),
            port,
            dir: dir.to_path_buf(),
            props,
        };
        broker.wait_ready(Duration::from_secs(90))?;
        Ok(broker)
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// A broker property as it was started with.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }

    /// The broker's log file (kept with its directory).
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// Waits until the port listens and a Metadata request names this broker.
    fn wait_ready(&mut self, limit: Duration) -> crate::error::Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.process.exited() {
                return Err(format!(
                    "Kafka {} exited with {status} before it was ready; {}:\n{}",
                    self.version,
                    self.log_file().display(),
                    self.process.log_tail()
                )
                .into());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() && self.answers_metadata() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!(
            "Kafka {} was not ready on port {} within {limit:?}; see {}",
            self.version,
            self.port,
            self.log_file().display()
        )
        .into())
    }

    fn answers_metadata(&self) -> bool {
        // Only for a PLAINTEXT client listener; a secured broker is ready once it listens.
        if !self
            .props
            .get("advertised.listeners")
            .is_some_and(|l| l.starts_with(&format!("PLAINTEXT://127.0.0.1:{}", self.port)))
        {
            return true;
        }
        let consumer: Result<BaseConsumer, _> = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("log_level", "0")
            .create();
        consumer
            .ok()
            .and_then(|c| c.fetch_metadata(None, Duration::from_secs(2)).ok())
            .is_some_and(|m| !m.brokers().is_empty())
    }

    /// SIGKILL, as a crash: the data stays for `restart`.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Stops the process (SIGSTOP: it holds its connections and answers nothing, as a hung
    /// broker) or lets it go on (SIGCONT).
    pub fn freeze(&self, frozen: bool) -> crate::error::Result<()> {
        let pid = self.pid().ok_or("the broker is not running")?;
        let signal = if frozen { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: a signal to our own child process.
        if unsafe { libc::kill(pid as libc::pid_t, signal) } != 0 {
            return Err(format!("cannot signal the broker: {}", std::io::Error::last_os_error()).into());
        }
        Ok(())
    }

    /// A clean shutdown (SIGTERM; SIGKILL after 30 s).
    pub fn stop(&mut self) {
        self.process.stop(Duration::from_secs(30));
    }

    /// Stops the broker cleanly and starts it again on the same ports and data.
    pub fn restart(&mut self) -> crate::error::Result<()> {
        self.stop();
        let jars = kafka_jars(&self.version)?;
        let config = self.dir.join("server.properties").display().to_string();
        self.process = JavaProcess::spawn(&jars, "kafka.Kafka", &[&config], &self.dir, "server.log")?;
        self.wait_ready(Duration::from_secs(90))
    }
}

/// MirrorMaker 2 in dedicated mode (`connect-mirror`'s `MirrorMaker` main class) with one
/// mm2.properties, replicating `source` -> `target`.
pub struct MirrorMaker {
    process: JavaProcess,
    pub version: String,
    pub dir: PathBuf,
    props: BTreeMap<String, String>,
}

/// The properties of a one-way MM2 flow `source_alias -> target_alias` as users run it, with
/// only what a single-node test estate and a test's patience need changed: replication factors
/// of 1, and checkpoints, heartbeats, refreshes and offset flushes every second.
pub fn mm2_properties(
    source_alias: &str,
    source_bootstrap: &str,
    target_alias: &str,
    target_bootstrap: &str,
) -> Vec<(String, String)> {
    let flow = format!("{source_alias}->{target_alias}");
    let mut props = vec![
        ("clusters".to_string(), format!("{source_alias}, {target_alias}")),
        (
            format!("{source_alias}.bootstrap.servers"),
            source_bootstrap.to_string(),
        ),
        (
            format!("{target_alias}.bootstrap.servers"),
            target_bootstrap.to_string(),
        ),
        (format!("{flow}.enabled"), "true".into()),
        (format!("{target_alias}->{source_alias}.enabled"), "false".into()),
        ("tasks.max".into(), "1".into()),
        ("emit.checkpoints.interval.seconds".into(), "1".into()),
        ("emit.heartbeats.interval.seconds".into(), "1".into()),
        ("refresh.topics.interval.seconds".into(), "1".into()),
        ("refresh.groups.interval.seconds".into(), "1".into()),
        ("sync.topic.configs.interval.seconds".into(), "5".into()),
        ("offset.flush.interval.ms".into(), "1000".into()),
    ];
    for key in [
        "replication.factor",
        "checkpoints.topic.replication.factor",
        "heartbeats.topic.replication.factor",
        "offset-syncs.topic.replication.factor",
        "config.storage.replication.factor",
        "offset.storage.replication.factor",
        "status.storage.replication.factor",
    ] {
        props.push((key.to_string(), "1".into()));
    }
    props
}

impl MirrorMaker {
    /// Starts MM2 of `version` with these properties (a later key replaces an earlier one).
    pub fn start(dir: &Path, version: &str, properties: &[(String, String)]) -> crate::error::Result<MirrorMaker> {
        let jars = kafka_jars(version)?;
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let props: BTreeMap<String, String> = properties.iter().cloned().collect();
        write_properties(&dir.join("mm2.properties"), &props)?;
        let process = Self::spawn(&jars, dir)?;
        Ok(MirrorMaker {
            process,
            version: version.to_string(),
            dir: dir.to_path_buf(),
            props,
        })
    }

    fn spawn(jars: &Path, dir: &Path) -> crate::error::Result<JavaProcess> {
        let config = dir.join("mm2.properties").display().to_string();
        JavaProcess::spawn(
            jars,
            "org.apache.kafka.connect.mirror.MirrorMaker",
            &[&config],
            dir,
            "mm2.log",
        )
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    pub fn property(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("mm2.log")
    }

    /// Whether the process is still running (MM2 exits on a fatal config error).
    pub fn running(&mut self) -> crate::error::Result<()> {
        if self.process.pid().is_none() {
            return Err("MirrorMaker 2 was stopped".into());
        }
        match self.process.exited() {
            None => Ok(()),
            Some(status) => Err(format!(
                "MirrorMaker 2 exited with {status}; {}:\n{}",
                self.log_file().display(),
                self.process.log_tail()
            )
            .into()),
        }
    }

    pub fn kill(&mut self) {
        self.process.kill();
    }

    pub fn stop(&mut self) {
        self.process.stop(Duration::from_secs(30));
    }

    /// Stops MM2 cleanly and starts it again with the same properties (it resumes from the
    /// offsets it stored on the target).
    pub fn restart(&mut self) -> crate::error::Result<()> {
        self.stop();
        let jars = kafka_jars(&self.version)?;
        self.process = Self::spawn(&jars, &self.dir)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_id_is_22_url_safe_characters() {
        for _ in 0..1_000 {
            let id = random_cluster_id();
            assert_eq!(id.len(), 22, "{id}");
            assert!(
                !id.starts_with('-'),
                "an id the format tool would read as an option: {id}"
            );
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{id}"
            );
        }
    }

    #[test]
    fn mm2_properties_name_both_clusters_and_one_flow() {
        let props: BTreeMap<_, _> = mm2_properties("src", "127.0.0.1:1", "dst", "127.0.0.1:2")
            .into_iter()
            .collect();
        assert_eq!(props["clusters"], "src, dst");
        assert_eq!(props["src.bootstrap.servers"], "127.0.0.1:1");
        assert_eq!(props["dst.bootstrap.servers"], "127.0.0.1:2");
        assert_eq!(props["src->dst.enabled"], "true");
        assert_eq!(props["dst->src.enabled"], "false");
    }
}
