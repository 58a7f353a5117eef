use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crusoe_ial::cli::check;
use crusoe_ial::config::{self, Config, ServeFlags, Sources};
use crusoe_ial::{serve, telemetry};

/// Cycle's Infrastructure Abstraction Layer (IAL) on Crusoe Cloud.
#[derive(Debug, Parser)]
#[command(name = "crusoe-ial", version, about)]
struct Cli {
    /// TOML configuration file; environment variables and flags override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the IAL webhook API.
    Serve(ServeFlags),
    /// Check the configured Crusoe credentials and print a short report.
    Check,
    /// Run the Crusoe simulator (for tests, the demo and benchmarks).
    Simulate(crusoe_ial::cli::simulate::SimulateArgs),
    /// Play a server's whole life as Cycle would, against the bridge and the simulator.
    Demo(crusoe_ial::cli::demo::DemoArgs),
    /// Measure the bridge against the simulator under a simulated Cycle fleet.
    Bench(crusoe_ial::cli::bench::BenchArgs),
    /// Exit 0 when the local server answers /healthz (for container health checks).
    Healthcheck {
        /// Address the server listens on (also IAL_LISTEN).
        #[arg(
            long,
            env = "IAL_LISTEN",
            default_value = "127.0.0.1:8080",
            value_name = "ADDR"
        )]
        listen: std::net::SocketAddr,
    },
    /// List what the bridge made whose server is gone (a dry run); delete it with --apply.
    Gc {
        /// Delete what is listed.
        #[arg(long)]
        apply: bool,
    },
    /// The iPXE boot images of boot mode ipxe-image: build, list, delete.
    #[command(subcommand)]
    Image(crusoe_ial::cli::image::ImageCommand),
}

fn main() -> ExitCode {
    // The matches, not only the parsed values: the configuration keeps a flag's value only when
    // it was typed, not when clap took it from the environment (see ServeFlags::given).
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // The simulator and the demo bring their own Crusoe: they read none of the configuration.
    match cli.command {
        Command::Simulate(args) => {
            telemetry::init(config::LogFormat::Text, "warn");
            return run_async(crusoe_ial::cli::simulate::run(args));
        }
        Command::Demo(args) => {
            telemetry::init(config::LogFormat::Text, "error");
            return run_async(crusoe_ial::cli::demo::run(args));
        }
        Command::Bench(args) => {
            telemetry::init(config::LogFormat::Text, "error");
            return run_async(async move {
                match crusoe_ial::cli::bench::run(args.clone()).await {
                    Ok(report) if args.json => {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&report).unwrap_or_default()
                        );
                        ExitCode::SUCCESS
                    }
                    Ok(report) => {
                        print!("{}", crusoe_ial::cli::bench::markdown(&report, &args));
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("bench failed: {e}");
                        ExitCode::FAILURE
                    }
                }
            });
        }
        Command::Healthcheck { listen } => {
            let url = crusoe_ial::cli::healthcheck::url_for(listen);
            return run_async(async move {
                match crusoe_ial::cli::healthcheck::check(&url).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("unhealthy: {e}");
                        ExitCode::FAILURE
                    }
                }
            });
        }
        _ => {}
    }
    let flags = matches
        .subcommand_matches("serve")
        .map(ServeFlags::given)
        .unwrap_or_default();
    let sources = Sources::from_process(cli.config.clone(), flags);
    let config = match Config::load(&sources) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("crusoe-ial: {e}");
            return ExitCode::FAILURE;
        }
    };
    // `check` talks to a person: its report and one-line reason, not the retry log.
    let default_filter = match cli.command {
        Command::Check | Command::Gc { .. } | Command::Image(_) => "error",
        _ => "info",
    };
    telemetry::init(config.log_format, default_filter);
    run_async(async move {
        match cli.command {
            Command::Serve(_) => match serve::run(config).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("crusoe-ial: serve: {e}");
                    ExitCode::FAILURE
                }
            },
            Command::Simulate(_)
            | Command::Demo(_)
            | Command::Healthcheck { .. }
            | Command::Bench(_) => {
                unreachable!("handled before configuration is read")
            }
            Command::Check => report("check", check::run(&config).await),
            Command::Gc { apply } => report("gc", crusoe_ial::cli::gc::run(&config, apply).await),
            Command::Image(command) => {
                report("image", crusoe_ial::cli::image::run(&config, command).await)
            }
        }
    })
}

/// Prints a command's lines and exits 0, or its one-line failure and exits 1.
fn report<E: std::fmt::Display>(command: &str, result: Result<Vec<String>, E>) -> ExitCode {
    match result {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{command} failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_async(work: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(work),
        Err(e) => {
            eprintln!("crusoe-ial: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
