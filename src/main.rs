use std::process::ExitCode;

use clap::Parser;
use cutover::cli::{run, Cli, Fail};

fn main() -> ExitCode {
    let _ = color_eyre::install();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(report) => match report.downcast_ref::<Fail>() {
            Some(fail) => {
                eprintln!("cutover: {}", fail.message);
                ExitCode::from(fail.code)
            }
            None => {
                eprintln!("cutover: {report:?}");
                ExitCode::from(1)
            }
        },
    }
}
