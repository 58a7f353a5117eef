//! A storm of provision-status polls for servers that do not exist (a confused or hostile hub), on
//! one tenant with real servers in flight: the Crusoe calls each unknown-name poll costs, and what
//! the storm does to the same tenant's real polls, against the same real polls alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use super::{provision_all, summarise, BenchArgs, Cycle, Latencies, LOCATION};

#[derive(Debug, Serialize)]
pub struct UnknownNamesResult {
    /// Distinct names polled that no server has.
    pub unknown_names: usize,
    /// Polls of each name (unknown and real), one poll interval apart.
    pub rounds: u32,
    pub real_servers: usize,
    /// The real servers polled alone.
    pub control: Phase,
    /// The same real polls, with every unknown name polled beside them.
    pub storm: Phase,
    /// (storm calls − control calls) / unknown-name polls.
    pub crusoe_calls_per_unknown_poll: f64,
}

#[derive(Debug, Serialize)]
pub struct Phase {
    pub unknown_polls: u64,
    pub real_polls: u64,
    pub crusoe_calls: u64,
    /// Of which list-VMs calls.
    pub list_vms_calls: u64,
    /// Latency of the real servers' polls.
    pub real_poll: Latencies,
    /// Latency of the unknown names' polls (answered 404).
    pub unknown_poll: Latencies,
}

const LIST_VMS: &str = "GET /projects/{project_id}/compute/vms/instances";

async fn calls_by_endpoint(addr: &str) -> Value {
    match reqwest::get(format!("http://{addr}/_sim/calls")).await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => Value::Null,
    }
}

/// Polls each of `ids` `rounds` times, one `interval` apart, first polls spread over one
/// interval; every answer's latency, whatever its status.
async fn poll(
    cycle: &Arc<Cycle>,
    ids: &[String],
    interval: Duration,
    config: &Value,
    rounds: u32,
) -> (u64, Latencies) {
    let started = Instant::now();
    let ms = Arc::new(Mutex::new(Vec::new()));
    let polls = Arc::new(AtomicU64::new(0));
    let n = ids.len().max(1) as f64;
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (cycle, ms, polls, config, id) = (
                Arc::clone(cycle),
                Arc::clone(&ms),
                Arc::clone(&polls),
                config.clone(),
                id.clone(),
            );
            let offset = interval.mul_f64(i as f64 / n);
            tokio::spawn(async move {
                tokio::time::sleep(offset).await;
                let mut next = Instant::now();
                for _ in 0..rounds {
                    let t = Instant::now();
                    // Found or not, the answer is what is timed.
                    let _ = cycle
                        .call(
                            "/v1/infrastructure/server/provision-status",
                            json!({"server_id": id, "location_id": LOCATION, "location_configuration": config, "extra": {}}),
                        )
                        .await;
                    polls.fetch_add(1, Ordering::Relaxed);
                    ms.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(t.elapsed().as_secs_f64() * 1000.0);
                    next += interval;
                    tokio::time::sleep_until(next.into()).await;
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let ms = std::mem::take(&mut *ms.lock().unwrap_or_else(|e| e.into_inner()));
    (
        polls.load(Ordering::Relaxed),
        summarise(ms, 0, started.elapsed()),
    )
}

async fn phase(
    args: &BenchArgs,
    sim_addr: &str,
    cycle: &Arc<Cycle>,
    real: &[String],
    unknown: &[String],
    config: &Value,
) -> Phase {
    let interval = Duration::from_millis(args.poll_interval_ms);
    let rounds = unknown_rounds(args);
    let before = calls_by_endpoint(sim_addr).await;
    let ((real_polls, real_poll), (unknown_polls, unknown_poll)) = tokio::join!(
        poll(cycle, real, interval, config, rounds),
        poll(cycle, unknown, interval, config, rounds),
    );
    let after = calls_by_endpoint(sim_addr).await;
    let delta = |f: &dyn Fn(&Value) -> u64| f(&after).saturating_sub(f(&before));
    Phase {
        unknown_polls,
        real_polls,
        crusoe_calls: delta(&|v| v["total"].as_u64().unwrap_or(0)),
        list_vms_calls: delta(&|v| v["by_endpoint"][LIST_VMS].as_u64().unwrap_or(0)),
        real_poll,
        unknown_poll,
    }
}

fn unknown_rounds(args: &BenchArgs) -> u32 {
    if args.quick {
        2
    } else {
        3
    }
}

pub async fn run(args: &BenchArgs) -> Result<UnknownNamesResult, String> {
    // Real VMs stay in flight for the whole run, polled like any other.
    let (sim, _bridge, cycle, config) = super::held_in_flight(args).await?;
    let real_servers = if args.quick { 4 } else { 20 };
    let (real, provisioned) =
        provision_all(&cycle, "r", real_servers, args.concurrency, &config).await;
    if provisioned.errors > 0 {
        return Err("provisioning the real servers failed".into());
    }
    let control = phase(args, &sim.addr, &cycle, &real, &[], &config).await;
    // Names a hub could send: this bridge's shape, ids no provision ever used.
    let unknown: Vec<String> = (0..args.unknown_names)
        .map(|i| format!("cycle-{i:0>24x}"))
        .collect();
    let storm = phase(args, &sim.addr, &cycle, &real, &unknown, &config).await;
    Ok(UnknownNamesResult {
        unknown_names: unknown.len(),
        rounds: unknown_rounds(args),
        real_servers: real.len(),
        crusoe_calls_per_unknown_poll: storm.crusoe_calls.saturating_sub(control.crusoe_calls)
            as f64
            / storm.unknown_polls.max(1) as f64,
        control,
        storm,
    })
}
