//! The real binary in a real terminal: a tmux server of its own per test, killed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cutover::demo::broker::TansuBroker;

pub struct Tmux {
    pub socket: String,
    pub config: PathBuf,
}

impl Tmux {
    pub fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("tmux is needed for this test ({e}); install it with `apt-get install tmux`"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts the cockpit in an 80x24 window; when it exits, the shell prints its exit code
    /// and the terminal settings, then waits so the pane can be read.
    pub fn start(name: &str, dir: &Path, source: &TansuBroker, target: &TansuBroker, env: &str) -> Tmux {
        let config = dir.join("cutover.toml");
        std::fs::write(
            &config,
            format!(
                "[source]\nname = \"dc-east\"\nbootstrap = \"{}\"\n[target]\nname = \"cloud-west\"\nbootstrap = \"{}\"\n\
                 [replication]\nsource_alias = \"east\"\n[monitor]\nrefresh_interval = \"500ms\"\nrequest_timeout = \"1s\"\n\
                 [log]\nfile = \"{}\"\n",
                source.bootstrap(),
                target.bootstrap(),
                dir.join("cutover.log").display()
            ),
        )
        .unwrap();
        Tmux::open(name, &config, env)
    }

    /// Starts the cockpit on an existing config file.
    pub fn open(name: &str, config: &Path, env: &str) -> Tmux {
        let t = Tmux {
            socket: format!("cutover-e2e-{}-{name}", std::process::id()),
            config: config.to_path_buf(),
        };
        let script = format!(
            "{env} {} --config {}; echo EXIT=$?; stty -a | tr '\\n' ' '; echo; sleep 600",
            env!("CARGO_BIN_EXE_cutover"),
            t.config.display()
        );
        t.cmd(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            "80",
            "-y",
            "24",
            &script,
        ]);
        t
    }

    pub fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-t", "e2e"])
    }

    pub fn screen_with_escapes(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-e", "-t", "e2e"])
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }

    /// Waits until the screen shows `what`; on a timeout the last screen is in the message.
    pub fn wait_screen(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if std::time::Instant::now() > deadline {
                panic!("timed out after 20s waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> String {
        // Anchored at the binary, so the shell that runs the script does not match.
        // Anchored at both ends: a detached driver's command line starts the same way.
        let pattern = format!("^{} --config {}$", env!("CARGO_BIN_EXE_cutover"), self.config.display());
        let out = Command::new("pgrep").args(["-f", "--", &pattern]).output().unwrap();
        let pids = String::from_utf8_lossy(&out.stdout);
        let pids: Vec<&str> = pids.lines().collect();
        assert_eq!(pids.len(), 1, "exactly one cockpit process: {pids:?}");
        pids[0].to_string()
    }

    /// After the cockpit exits: its code, and whether the pane is back to a sane terminal.
    pub fn assert_exited_sane(&self, code: i32) {
        let s = self.wait_screen("the cockpit to exit and stty to answer", |s| {
            s.contains("EXIT=") && s.contains("speed")
        });
        assert!(s.contains(&format!("EXIT={code}")), "exit code {code} expected:\n{s}");
        let stty = s.lines().find(|l| l.contains("speed")).unwrap_or_default();
        // The pane wraps the long stty line; join it back.
        let stty_all: String = s
            .lines()
            .skip_while(|l| !l.contains("speed"))
            .collect::<Vec<_>>()
            .join("");
        assert!(!stty.is_empty(), "stty output missing:\n{s}");
        for flag in [" icanon ", " echo ", " icrnl ", " opost "] {
            assert!(
                stty_all.contains(flag),
                "terminal left without `{}` (raw mode?):\n{s}",
                flag.trim()
            );
        }
        assert_eq!(
            self.cmd(&["display", "-p", "-t", "e2e", "#{alternate_on}"]).trim(),
            "0",
            "alternate screen left on"
        );
        assert_eq!(
            self.cmd(&["display", "-p", "-t", "e2e", "#{cursor_flag}"]).trim(),
            "1",
            "cursor left hidden"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.cmd(&["kill-server"]);
    }
}
