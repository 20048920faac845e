use std::process::ExitCode;

use clap::Parser;
use cutover::cli::{run, Cli, Failure};

fn main() -> ExitCode {
    let _ = color_eyre::install();
    let cli = Cli::parse();
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
