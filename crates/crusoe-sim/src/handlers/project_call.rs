//! A call under `/projects/{project_id}`: the extractor every project route takes, the ownership
//! check before it touches the world, and the answers shared by every kind of resource (one
//! rendered, a project's listed, an operation started on one).

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Extension, Json};
use serde::de::DeserializeOwned;

use super::kinds::Kind;
use crate::http::{items, Caller, SimError, SimResult};
use crate::resources::Project;
use crate::world::{Action, World};
use crate::Sim;

/// `id` is `()` on a project's own routes, the resource's id on `/projects/{project_id}/…/{id}`.
pub struct Call<Id> {
    sim: Arc<Sim>,
    caller: Caller,
    pub project_id: String,
    pub id: Id,
}

pub type ProjectCall = Call<()>;
pub type ResourceCall = Call<String>;

/// The path parameters of a route, split into its project and what it names there.
pub trait PathIds: Sized {
    type Params: DeserializeOwned + Send;
    fn split(params: Self::Params) -> (String, Self);
}

impl PathIds for () {
    type Params = String;
    fn split(project_id: String) -> (String, ()) {
        (project_id, ())
    }
}

impl PathIds for String {
    type Params = (String, String);
    fn split(ids: (String, String)) -> (String, String) {
        ids
    }
}

/// `Extension<Caller>` before `Path`, each answering with axum's own rejection: a call that lacks
/// either is answered as by any other axum handler.
impl<Id: PathIds> FromRequestParts<Arc<Sim>> for Call<Id> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, sim: &Arc<Sim>) -> Result<Self, Response> {
        let Extension(caller) = Extension::<Caller>::from_request_parts(parts, sim)
            .await
            .map_err(IntoResponse::into_response)?;
        let Path(params) = Path::<Id::Params>::from_request_parts(parts, sim)
            .await
            .map_err(IntoResponse::into_response)?;
        let (project_id, id) = Id::split(params);
        Ok(Self {
            sim: Arc::clone(sim),
            caller,
            project_id,
            id,
        })
    }
}

impl<Id> Call<Id> {
    /// The simulator's settings; its world only through `run`, which checks ownership first.
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// Locks the world, lets time pass, checks that the caller owns the project (403 otherwise,
    /// as Crusoe answers), and runs `f`.
    pub fn run<T>(&self, f: impl FnOnce(&mut World) -> Result<T, SimError>) -> Result<T, SimError> {
        let mut world = self.sim.world();
        world.advance();
        if !world.owns(&self.caller.0, &self.project_id) {
            return Err(SimError::forbidden());
        }
        f(&mut world)
    }

    /// Runs `f` on the project, which `run` has checked is there and the caller's.
    fn read(&self, f: impl FnOnce(&Project) -> SimResult) -> SimResult {
        self.run(|w| f(&w.projects[&self.project_id]))
    }
}

/// `GET` of a project's resources of `kind`, when Crusoe takes no filter for them.
pub fn get_list<T: 'static>(kind: &'static Kind<T>) -> MethodRouter<Arc<Sim>> {
    get(move |call: ProjectCall| async move { call.list(kind) })
}

/// `GET` of one resource of `kind`.
pub fn get_one<T: 'static>(kind: &'static Kind<T>) -> MethodRouter<Arc<Sim>> {
    get(move |call: ResourceCall| async move { call.get(kind) })
}

impl ProjectCall {
    pub fn list<T>(&self, kind: &Kind<T>) -> SimResult {
        self.list_where(kind, |_| true)
    }

    /// `{items}`: the project's resources of `kind` that `keep` keeps, rendered, in id order.
    pub fn list_where<T>(&self, kind: &Kind<T>, keep: impl Fn(&T) -> bool) -> SimResult {
        self.read(|p| {
            let listed = (kind.of)(p).values().filter(|r| keep(r));
            Ok(items(listed.map(|r| (kind.render)(p, r))))
        })
    }
}

impl ResourceCall {
    /// The resource rendered, or Crusoe's 404.
    pub fn get<T>(&self, kind: &Kind<T>) -> SimResult {
        self.read(|p| Ok(Json((kind.render)(p, kind.find(p, &self.id)?))))
    }

    /// Finds the resource (404 otherwise), lets `decide` refuse or choose the action, starts it
    /// and answers `{operation}`.
    pub fn start<T>(
        &self,
        kind: &Kind<T>,
        decide: impl FnOnce(&Project, &T) -> Result<Action, SimError>,
    ) -> SimResult {
        self.run(|w| {
            let p = &w.projects[&self.project_id];
            let action = decide(p, kind.find(p, &self.id)?)?;
            kind.start_op(w, &self.project_id, &self.id, action)
        })
    }
}
