//! Owning the terminal, and giving it back on every exit path: normal return, error, panic in
//! any thread (the panic hook), and signals (handled by the event loop).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::Terminal;

/// Set while the TUI owns the terminal, so restoring is done exactly once.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Held while a frame is written and while the terminal is restored, so a panic in another
/// thread never restores the terminal under a half-written frame (which would hide the
/// cursor again after it was shown).
static WRITING: Mutex<()> = Mutex::new(());

/// Runs `write` (a frame) unless the terminal has already been given back.
pub fn while_owned<R>(write: impl FnOnce() -> R) -> Option<R> {
    let _writing = WRITING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    ACTIVE.load(Ordering::SeqCst).then(write)
}

/// Waits for a frame in progress, briefly: if this thread is the one drawing (a panic inside
/// a frame), the lock never comes, and restoring goes ahead after the wait.
fn wait_for_frame() -> Option<MutexGuard<'static, ()>> {
    for _ in 0..200 {
        match WRITING.try_lock() {
            Ok(guard) => return Some(guard),
            Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    None
}

pub type Term = Terminal<CrosstermBackend<io::Stdout>>;

/// Restores the terminal while alive; dropping it gives the terminal back.
pub struct TerminalGuard {
    pub terminal: Term,
}

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = io::stdout();
        // Bracketed paste: a paste arrives as one text, never as keystrokes (a pasted `q` must
        // not quit, a pasted newline must not run a command).
        if let Err(e) = execute!(out, EnterAlternateScreen, EnableBracketedPaste) {
            restore();
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(out)) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen, shows the cursor and leaves raw mode. Safe to call from any
/// thread and more than once; errors are ignored (after SIGHUP there may be no terminal).
pub fn restore() {
    let _frame_done = wait_for_frame();
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        let _ = execute!(out, DisableBracketedPaste, LeaveAlternateScreen, Show);
        let _ = disable_raw_mode();
        let _ = out.flush();
    }
}

/// After a hangup: restores what can be restored, then points stdin, stdout and stderr at
/// /dev/null, so that nothing written later (ratatui's own "Failed to show the cursor" on drop,
/// a last message) fails on the dead terminal and panics.
pub fn let_go_of_a_lost_terminal() {
    restore();
    // SAFETY: open and dup2 on descriptors this process owns; 0, 1 and 2 stay open (on /dev/null).
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..=2 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
}

/// A panic anywhere restores the terminal first, logs, then lets color-eyre report it, and
/// ends the process: a cockpit in an unknown state must not keep showing figures.
fn install_panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        tracing::error!("panic: {info}");
        previous(info);
        std::process::exit(101);
    }));
}
