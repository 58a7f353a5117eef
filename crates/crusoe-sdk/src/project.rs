//! One project's resources, and the operations Crusoe answers with when it changes them.

use std::ops::Deref;
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::api::OperationFamily;
use crate::client::{Call, CrusoeClient};
use crate::ids::PathId;
use crate::metric_names as names;
use crate::types::{Operation, OperationState};
use crate::CrusoeError;

/// A client scoped to one project, as kube's `Api::namespaced` is to a namespace: every call
/// below `/projects/{project_id}` goes through it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ProjectClient {
    client: CrusoeClient,
    id: String,
}

impl ProjectClient {
    pub(crate) fn new(client: CrusoeClient, id: String) -> Self {
        Self { client, id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn client(&self) -> &CrusoeClient {
        &self.client
    }

    /// `/projects/{project_id}` followed by `rest`; the id is checked before it enters a path.
    pub(crate) fn path(&self, rest: &str) -> Result<String, CrusoeError> {
        let project = PathId::parse("project_id", &self.id)?;
        Ok(format!("/projects/{project}{rest}"))
    }

    /// `/projects/{project_id}/{collection}/{id}`.
    pub(crate) fn item_path(
        &self,
        collection: &str,
        what: &'static str,
        id: &str,
    ) -> Result<String, CrusoeError> {
        let id = PathId::parse(what, id)?;
        self.path(&format!("/{collection}/{id}"))
    }

    /// Sends a call Crusoe answers with `{operation}`, and keeps the operation's family with it.
    pub(crate) async fn start(
        &self,
        family: OperationFamily,
        call: Call,
    ) -> Result<Pending, CrusoeError> {
        let operation = self.client.execute_operation(call).await?;
        Ok(self.operations(family).pending(operation))
    }

    /// `GET /projects/{project_id}/{collection}/{id}`.
    pub(crate) async fn get_item<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        collection: &str,
        what: &'static str,
        id: &str,
    ) -> Result<T, CrusoeError> {
        let path = self.item_path(collection, what, id)?;
        self.client.execute(Call::new(op, Method::GET, path)).await
    }

    /// `GET /projects/{project_id}/{collection}`, answered `{items}`.
    pub(crate) async fn list_items<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        collection: &str,
    ) -> Result<Vec<T>, CrusoeError> {
        let path = self.path(&format!("/{collection}"))?;
        self.client
            .execute_items(Call::new(op, Method::GET, path))
            .await
    }

    /// `DELETE /projects/{project_id}/{collection}/{id}` of a family's resource.
    pub(crate) async fn delete_item(
        &self,
        op: &'static str,
        family: OperationFamily,
        what: &'static str,
        id: &str,
    ) -> Result<Pending, CrusoeError> {
        let path = self.item_path(family.collection(), what, id)?;
        self.start(family, Call::new(op, Method::DELETE, path))
            .await
    }

    /// The operations of one resource family (each family has its own endpoint).
    pub fn operations(&self, family: OperationFamily) -> Operations<'_> {
        Operations {
            project: self,
            family,
        }
    }
}

/// `project.operations(family)`: reading an operation again, or following one known by id.
#[derive(Clone, Copy, Debug)]
pub struct Operations<'a> {
    project: &'a ProjectClient,
    family: OperationFamily,
}

impl Operations<'_> {
    /// `get<Family>Operation`. Crusoe answers 403 for an unknown or expired operation.
    pub async fn get(&self, operation_id: &str) -> Result<Operation, CrusoeError> {
        let id = PathId::parse("operation_id", operation_id)?;
        let path = self
            .project
            .path(&format!("/{}/operations/{id}", self.family.collection()))?;
        self.project
            .client
            .execute(Call::new("get_operation", Method::GET, path))
            .await
    }

    /// `list<Family>Operations` with `resource_id` and `state=IN_PROGRESS`: what is being done to
    /// one resource now. Crusoe's records carry no state of their own for most families (a disk
    /// being deleted is listed like any other), so this is how a client tells a resource that is
    /// going away from one it may use.
    pub async fn in_progress(&self, resource_id: &str) -> Result<Vec<Operation>, CrusoeError> {
        let id = PathId::parse("resource_id", resource_id)?;
        let path = self
            .project
            .path(&format!("/{}/operations", self.family.collection()))?;
        let call = Call::new("list_operations", Method::GET, path)
            .query("resource_id", id.as_str())
            .query("state", "IN_PROGRESS");
        self.project.client.execute_items(call).await
    }

    /// An operation read elsewhere (stored, say, across a restart), to be followed here.
    pub fn pending(&self, operation: Operation) -> Pending {
        Pending {
            project: self.project.clone(),
            family: self.family,
            operation,
        }
    }
}

/// An operation Crusoe has started, with what it takes to follow it: its project and family.
/// It reads as the [`Operation`] it was when last seen.
#[derive(Debug, Clone)]
#[must_use = "an operation that is not waited for may still fail"]
pub struct Pending {
    project: ProjectClient,
    family: OperationFamily,
    operation: Operation,
}

impl Deref for Pending {
    type Target = Operation;

    fn deref(&self) -> &Operation {
        &self.operation
    }
}

impl Pending {
    pub fn family(&self) -> OperationFamily {
        self.family
    }

    pub fn into_operation(self) -> Operation {
        self.operation
    }

    /// Follows the operation until it SUCCEEDED (returned) or FAILED (an error carrying
    /// Crusoe's code and message), or until `timeout` has passed. Polls start short and grow
    /// ([`ClientSettings::wait`](crate::ClientSettings::wait)).
    pub async fn wait(self, timeout: Duration) -> Result<Operation, CrusoeError> {
        let family = self.family;
        let started = Instant::now();
        let result = self.follow(timeout, started).await;
        let outcome = match &result {
            Ok(_) => "succeeded",
            Err(e) => e.kind(),
        };
        metrics::counter!(names::OPERATION_WAITS, "family" => family.collection(), "outcome" => outcome).increment(1);
        metrics::histogram!(names::OPERATION_WAIT_DURATION, "family" => family.collection())
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn follow(self, timeout: Duration, started: Instant) -> Result<Operation, CrusoeError> {
        let polling = self.project.client.settings().wait.clone();
        let operations = self.project.operations(self.family);
        let mut current = self.operation;
        let mut poll = 0;
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
            poll += 1;
            tokio::time::sleep(polling.delay(poll).min(timeout - elapsed)).await;
            current = operations.get(&current.operation_id).await?;
        }
    }
}
