use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crusoe_ial::config::{Config, Sources};
use crusoe_ial::{check, serve, telemetry};

/// Cycle's Infrastructure Abstraction Layer (IAL) on Crusoe Cloud.
#[derive(Debug, Parser)]
#[command(name = "crusoe-ial", version, about)]
struct Cli {
    /// TOML configuration file; environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the IAL webhook API.
    Serve {
        /// Address to listen on (also IAL_LISTEN), e.g. 0.0.0.0:8080.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Check the configured Crusoe credentials and print a short report.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        Command::Check => None,
    };
    let config = match Config::load(&Sources::from_process(cli.config.clone(), listen)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("crusoe-ial: {e}");
            return ExitCode::FAILURE;
        }
    };
    // `check` talks to a person: its report and one-line reason, not the retry log.
    let default_filter = match cli.command {
        Command::Serve { .. } => "info",
        Command::Check => "error",
    };
    telemetry::init(config.log_format, default_filter);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("crusoe-ial: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Serve { .. } => match serve::run(config).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("crusoe-ial: serve: {e}");
                    ExitCode::FAILURE
                }
            },
            Command::Check => match check::run(&config).await {
                Ok(lines) => {
                    for line in lines {
                        println!("{line}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("check failed: {e}");
                    ExitCode::FAILURE
                }
            },
        }
    })
}
