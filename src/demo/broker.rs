//! Starting and stopping local tansu brokers (the demo and the integration tests use them).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to get tansu, said wherever it is missing.
pub const INSTALL_HINT: &str =
    "install it with `cargo install tansu --version 0.6.0 --locked --features libsql,dynostore` (or run `make setup`)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// Correct offsets; DescribeGroups is broken on this engine (see test-brokers.md).
    Sqlite,
    /// Group states work; the high watermark is wrong for multi-record produce requests.
    Memory,
}

/// A tansu broker process on loopback: one single-node cluster.
pub struct TansuBroker {
    child: Option<Child>,
    pub port: u16,
    /// The port the broker tells clients to use (in Metadata): its own, unless something
    /// else (a test's TLS terminator) fronts it.
    pub advertised_port: u16,
    pub dir: PathBuf,
    cluster_id: String,
    storage: Storage,
    /// Started with `--authentication` (SASL required of every client) from the next launch.
    pub authentication: bool,
}

/// The tansu binary: $TANSU, then PATH, then ~/.cargo/bin.
pub fn tansu_binary() -> crate::error::Result<PathBuf> {
    if let Some(p) = std::env::var_os("TANSU") {
        return Ok(PathBuf::from(p));
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("tansu")).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cargo/bin/tansu"));
    }
    Ok(candidates
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| format!("the tansu broker was not found on PATH or in ~/.cargo/bin: {INSTALL_HINT}"))?)
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

impl TansuBroker {
    /// Starts a broker with its own storage under `dir` on a free port, and waits until it listens.
    pub fn start(dir: &Path, cluster_id: &str, storage: Storage) -> crate::error::Result<TansuBroker> {
        Self::start_advertising(dir, cluster_id, storage, None)
    }

    /// As `start`, telling clients to connect to `advertised_port` instead of its own port.
    pub fn start_advertising(
        dir: &Path,
        cluster_id: &str,
        storage: Storage,
        advertised_port: Option<u16>,
    ) -> crate::error::Result<TansuBroker> {
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let mut b = TansuBroker {
            child: None,
            port,
            advertised_port: advertised_port.unwrap_or(port),
            dir: dir.to_path_buf(),
            cluster_id: cluster_id.to_string(),
            storage,
            authentication: false,
        };
        b.launch()?;
        Ok(b)
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) -> crate::error::Result<()> {
        let bin = tansu_binary()?;
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let log_path = self.dir.join(format!("tansu-{}.log", self.cluster_id));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = format!("tcp://127.0.0.1:{}", self.advertised_port);
        let engine = match self.storage {
            // sqlite:// paths are relative to the working directory: the broker's own dir.
            Storage::Sqlite => format!("sqlite://{}.db", self.cluster_id),
            Storage::Memory => "memory://tansu/".to_string(),
        };
        let mut command = Command::new(&bin);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the broker when
        // the thread that started it dies, so no broker outlives a crashed demo or test.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .args(["broker", "--cluster-id", &self.cluster_id])
            .args(["--listener-url", &url, "--advertised-listener-url", &advertised])
            .args(["--storage-engine", &engine])
            .args(self.authentication.then_some("--authentication"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}; {INSTALL_HINT}", bin.display()))?;
        self.child = Some(child);
        self.wait_listening(Duration::from_secs(20))
    }

    fn wait_listening(&mut self, limit: Duration) -> crate::error::Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!(
                    "tansu exited with {status} before listening on {}; see {}",
                    self.port,
                    self.dir.join(format!("tansu-{}.log", self.cluster_id)).display()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("tansu did not listen on port {} within {limit:?}", self.port).into())
    }

    /// Kills the process (as a crash would); storage stays for `restart`.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the process (SIGSTOP: it holds its connections and answers nothing, as a hung
    /// broker) or lets it go on (SIGCONT), its data intact.
    pub fn freeze(&self, frozen: bool) -> crate::error::Result<()> {
        let Some(child) = &self.child else {
            return Err(format!("tansu {} is not running", self.cluster_id).into());
        };
        let signal = if frozen { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: a signal to our own child process.
        if unsafe { libc::kill(child.id() as libc::pid_t, signal) } != 0 {
            return Err(format!(
                "cannot signal tansu {}: {}",
                self.cluster_id,
                std::io::Error::last_os_error()
            )
            .into());
        }
        Ok(())
    }

    /// Starts the broker again on the same port and storage.
    pub fn restart(&mut self) -> crate::error::Result<()> {
        self.kill();
        self.launch()
    }
}

impl Drop for TansuBroker {
    fn drop(&mut self) {
        self.kill();
    }
}
