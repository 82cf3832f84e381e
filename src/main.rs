//! `autoscaler`: parse the command line, then hand over to one command.

use autoscaler::cli::{self, Parsed};
use autoscaler::config::Env;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, env) = match cli::parse(&args, Env::from_process()) {
        Ok(Parsed::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            println!("autoscaler {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Run { command, env }) => (command, env),
        Err(usage) => {
            eprintln!("autoscaler: {usage}");
            return ExitCode::from(2);
        }
    };
    let result = match command.name {
        "listen" => autoscaler::webhook::server::run(&env),
        "scale-tick" => autoscaler::tick::run(&env),
        "discover" => autoscaler::discover::run(&env),
        "status" => autoscaler::status::run(&env),
        other => unreachable!("command {other} is listed but not dispatched"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("autoscaler {}: {failure}", command.name);
            ExitCode::from(failure.exit_code())
        }
    }
}
