use std::time::{Duration, Instant};

use reqwest::Method;

use super::project_path;
use crate::client::{wait_policy, Call, CrusoeClient};
use crate::ids::PathId;
use crate::metric_names as names;
use crate::types::{Operation, OperationState};
use crate::CrusoeError;

/// Each resource family has its own operations endpoint; an operation is only known to its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationFamily {
    Vms,
    Disks,
    VpcNetworks,
    VpcSubnets,
    FirewallRules,
    LoadBalancers,
    CustomImages,
}

impl OperationFamily {
    pub const ALL: [OperationFamily; 7] = [
        OperationFamily::Vms,
        OperationFamily::Disks,
        OperationFamily::VpcNetworks,
        OperationFamily::VpcSubnets,
        OperationFamily::FirewallRules,
        OperationFamily::LoadBalancers,
        OperationFamily::CustomImages,
    ];

    pub fn collection(self) -> &'static str {
        match self {
            OperationFamily::Vms => "compute/vms/instances",
            OperationFamily::Disks => "storage/disks",
            OperationFamily::VpcNetworks => "networking/vpc-networks",
            OperationFamily::VpcSubnets => "networking/vpc-subnets",
            OperationFamily::FirewallRules => "networking/vpc-firewall-rules",
            OperationFamily::LoadBalancers => "networking/load-balancers",
            OperationFamily::CustomImages => "compute/custom-images",
        }
    }
}

impl CrusoeClient {
    /// `get<Family>Operation`. Crusoe answers 403 for an unknown or expired operation.
    pub async fn get_operation(
        &self,
        family: OperationFamily,
        project_id: &str,
        operation_id: &str,
    ) -> Result<Operation, CrusoeError> {
        let id = PathId::parse("operation_id", operation_id)?;
        let path = project_path(
            project_id,
            &format!("/{}/operations/{id}", family.collection()),
        )?;
        self.execute(Call::new("get_operation", Method::GET, path))
            .await
    }

    /// Follows an operation until it SUCCEEDED (returned) or FAILED (an error carrying Crusoe's
    /// code and message), or until `timeout` has passed. Polls start short and grow.
    pub async fn wait_operation(
        &self,
        family: OperationFamily,
        project_id: &str,
        operation: Operation,
        timeout: Duration,
    ) -> Result<Operation, CrusoeError> {
        let policy = wait_policy(self).clone();
        let started = Instant::now();
        let result = self
            .follow(family, project_id, operation, timeout, &policy, started)
            .await;
        let outcome = match &result {
            Ok(_) => "succeeded",
            Err(e) => e.kind(),
        };
        metrics::counter!(names::OPERATION_WAITS, "family" => family.collection(), "outcome" => outcome).increment(1);
        metrics::histogram!(names::OPERATION_WAIT_DURATION, "family" => family.collection())
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn follow(
        &self,
        family: OperationFamily,
        project_id: &str,
        operation: Operation,
        timeout: Duration,
        policy: &crate::WaitPolicy,
        started: Instant,
    ) -> Result<Operation, CrusoeError> {
        let mut interval = policy.initial_interval;
        let mut current = operation;
        loop {
            match &current.state {
                OperationState::Succeeded => return Ok(current),
                OperationState::Failed => {
                    let (code, message) = current.failure();
                    return Err(CrusoeError::OperationFailed {
                        operation_id: current.operation_id,
                        code,
                        message,
                    });
                }
                OperationState::Unknown(state) => {
                    return Err(CrusoeError::InvalidResponse(format!(
                        "operation {} is in unknown state {state:?}",
                        current.operation_id
                    )))
                }
                OperationState::Pending | OperationState::InProgress => {}
            }
            let elapsed = started.elapsed();
            if elapsed >= timeout {
                return Err(CrusoeError::OperationTimeout {
                    operation_id: current.operation_id,
                    waited: elapsed,
                });
            }
            tokio::time::sleep(interval.min(timeout - elapsed)).await;
            interval = policy.next(interval);
            current = self
                .get_operation(family, project_id, &current.operation_id)
                .await?;
        }
    }
}
