//! `crusoe-ial simulate`: the simulator as a process of its own.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crusoe_sim::{Faults, KeyPair, RunningSim, SimConfig};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Which cloud to simulate: crusoe or cloudsigma.
    #[arg(long, default_value = "crusoe", value_parser = super::demo::parse_backend)]
    pub backend: crate::backends::BackendName,
    /// Crusoe: a key pair and the project it owns, ACCESS_KEY_ID:SECRET_KEY:PROJECT_ID.
    /// CloudSigma: an account, USER:PASSWORD or USER:PASSWORD@LOCATION (default location zrh).
    /// Repeatable; without any, one is generated and printed.
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Path prefix of the API it advertises; it also serves the same API under `/v1alpha5`.
    #[arg(long, default_value = "/v1")]
    pub base_path: String,
    /// Seed for ids, addresses and fault draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How long each asynchronous operation takes, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub op_delay_ms: u64,
    /// Largest accepted clock difference of a signed request, in seconds.
    #[arg(long, default_value_t = 300)]
    pub max_skew_secs: i64,
    /// Share of requests answered 500, 502 or 503.
    #[arg(long, default_value_t = 0.0)]
    pub server_error_rate: f64,
    /// Share of requests answered 429.
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit_rate: f64,
    /// Share of requests whose connection is cut.
    #[arg(long, default_value_t = 0.0)]
    pub connection_reset_rate: f64,
    /// Share of requests carried out whose answer is then lost.
    #[arg(long, default_value_t = 0.0)]
    pub lost_answer_rate: f64,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of operations that fail.
    #[arg(long, default_value_t = 0.0)]
    pub operation_failure_rate: f64,
    /// Share of operations that never finish.
    #[arg(long, default_value_t = 0.0)]
    pub stuck_operation_rate: f64,
    /// Share of guests whose startup script's power-off never comes.
    #[arg(long, default_value_t = 0.0)]
    pub stuck_guest_rate: f64,
    /// Refuse (400) to delete a VM that is not stopped.
    #[arg(long)]
    pub delete_needs_stopped_vm: bool,
    /// Answer 409 to a VM's deletion within this many milliseconds of its last change.
    #[arg(long, default_value_t = 0)]
    pub delete_conflict_after_change_ms: u64,
    /// Report MAC addresses in upper case.
    #[arg(long)]
    pub upper_case_macs: bool,
    /// Read list-VMs' `names` filter as one exact name rather than a comma-separated list.
    #[arg(long)]
    pub names_match_one: bool,
}

impl SimulateArgs {
    pub fn config(&self) -> Result<SimConfig, String> {
        let faults = Faults {
            server_error_rate: self.server_error_rate,
            rate_limit_rate: self.rate_limit_rate,
            connection_reset_rate: self.connection_reset_rate,
            lost_answer_rate: self.lost_answer_rate,
            latency_ms: self.latency_ms,
            operation_failure_rate: self.operation_failure_rate,
            stuck_operation_rate: self.stuck_operation_rate,
            stuck_guest_rate: self.stuck_guest_rate,
            delete_needs_stopped_vm: self.delete_needs_stopped_vm,
            delete_conflict_after_change_ms: self.delete_conflict_after_change_ms,
        };
        faults.validate()?;
        if !self.base_path.is_empty() && !self.base_path.starts_with('/') {
            return Err("--base-path must start with /".into());
        }
        let keys = self
            .keys
            .iter()
            .map(|k| KeyPair::parse(k))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("--key: {e}"))?;
        Ok(SimConfig {
            base_path: self.base_path.clone(),
            keys,
            seed: self.seed,
            op_delay: Duration::from_millis(self.op_delay_ms),
            max_skew_secs: self.max_skew_secs,
            faults,
            upper_case_macs: self.upper_case_macs,
            names_match_one: self.names_match_one,
            ..SimConfig::default()
        })
    }
}

/// The CloudSigma simulator's configuration from the same flags (those that mean something
/// there).
fn cloudsigma_config(args: &SimulateArgs) -> Result<cloudsigma_sim::SimConfig, String> {
    let defaults = cloudsigma_sim::SimConfig::default();
    let accounts = args
        .keys
        .iter()
        .map(|k| cloudsigma_sim::Account::parse(k, &defaults.locations[0]))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--key: {e}"))?;
    for a in &accounts {
        if !defaults.locations.contains(&a.location) {
            return Err(format!(
                "--key: location {:?} is not one of the simulator's ({})",
                a.location,
                defaults.locations.join(", ")
            ));
        }
    }
    let faults = cloudsigma_sim::Faults {
        server_error_rate: args.server_error_rate,
        connection_reset_rate: args.connection_reset_rate,
        lost_answer_rate: args.lost_answer_rate,
        latency_ms: args.latency_ms,
        start_failure_rate: args.operation_failure_rate,
    };
    for (name, rate) in [
        ("--server-error-rate", faults.server_error_rate),
        ("--connection-reset-rate", faults.connection_reset_rate),
        ("--lost-answer-rate", faults.lost_answer_rate),
        ("--operation-failure-rate", faults.start_failure_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            return Err(format!("{name} must be between 0 and 1"));
        }
    }
    Ok(cloudsigma_sim::SimConfig {
        accounts,
        seed: args.seed,
        transition: Duration::from_millis(args.op_delay_ms),
        faults,
        upper_case_macs: args.upper_case_macs,
        ..defaults
    })
}

/// A `--key` that cannot be read is a usage error (exit 2, as clap's own); any other, 1.
fn usage_or_failure(error: &str) -> ExitCode {
    if error.starts_with("--key") {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

async fn run_cloudsigma(args: SimulateArgs) -> ExitCode {
    let config = match cloudsigma_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("crusoe-ial simulate: {e}");
            return usage_or_failure(&e);
        }
    };
    let generated = config.accounts.is_empty();
    let sim = match cloudsigma_sim::RunningSim::start(config, args.listen).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("crusoe-ial simulate: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    println!("CloudSigma simulator listening");
    println!(
        "export CLOUDSIGMA_API_ENDPOINT='{}'",
        sim.endpoint_template()
    );
    for account in &sim.accounts {
        if generated {
            // A generated account exists nowhere else: print it whole, so it can be used.
            println!("export CLOUDSIGMA_USERNAME={}", account.username);
            println!("export CLOUDSIGMA_PASSWORD={}", account.password);
            println!("export CLOUDSIGMA_LOCATION={}", account.location);
        } else {
            println!("account {} lives in {}", account.username, account.location);
        }
    }
    println!("inspect: {}/inventory  {}/calls", sim.admin(), sim.admin());
    crate::shutdown::signal().await;
    sim.stop().await;
    ExitCode::SUCCESS
}

pub async fn run(args: SimulateArgs) -> ExitCode {
    if args.backend == crate::backends::BackendName::CloudSigma {
        return run_cloudsigma(args).await;
    }
    let config = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("crusoe-ial simulate: {e}");
            return usage_or_failure(&e);
        }
    };
    let generated = config.keys.is_empty();
    let sim = match RunningSim::start(config, args.listen).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("crusoe-ial simulate: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    println!("Crusoe simulator listening");
    println!("export CRUSOE_API_ENDPOINT={}", sim.endpoint());
    for key in &sim.keys {
        if generated {
            // A generated key exists nowhere else: print it whole, so it can be used.
            println!("export CRUSOE_ACCESS_KEY_ID={}", key.access_key_id);
            println!("export CRUSOE_SECRET_KEY={}", key.secret_key);
            println!("export CRUSOE_DEFAULT_PROJECT={}", key.project_id);
        } else {
            println!("key {} owns project {}", key.access_key_id, key.project_id);
        }
    }
    println!("inspect: {}/inventory  {}/calls", sim.admin(), sim.admin());
    crate::shutdown::signal().await;
    sim.stop().await;
    ExitCode::SUCCESS
}
