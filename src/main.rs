use std::process::ExitCode;

use clap::Parser;
use cutover::cli::{run, Cli, Failure};

fn main() -> ExitCode {
    let _ = color_eyre::install();
    let cli = Cli::parse();
    if cli.only_prints() {
        // SAFETY: resets one signal's disposition before any thread starts. A command that only
        // prints then ends quietly when its reader goes away (`| head -1`), as Unix tools do,
        // instead of panicking on the failed write.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(Failure::User { code, message }) => {
            eprintln!("cutover: {message}");
            ExitCode::from(code)
        }
        Err(Failure::Internal(report)) => {
            eprintln!("cutover: {report:?}");
            ExitCode::from(1)
        }
    }
}
