//! The one handler: the path is read by hand so that every request, even to a wrong path, is
//! checked in the same order Cycloid would (organisation, key, route, body) and recorded.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::{check, Behaviour, CycloidSim, Received};

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"errors": [{"code": code, "message": message.into()}]})),
    )
        .into_response()
}

fn data(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(json!({"data": value}))).into_response()
}

pub async fn any(
    State(sim): State<CycloidSim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Recorded on arrival: a caller that gives up on a slow answer was still received.
    let at = {
        let mut state = sim.lock();
        state.received.push(Received {
            method: method.to_string(),
            target: uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            status: 0,
            authorization,
        });
        state.received.len() - 1
    };
    let behaviour = sim.lock().behaviour.clone();
    if let Behaviour::Slow(d) = behaviour {
        tokio::time::sleep(d).await;
    }
    let response = match behaviour {
        Behaviour::Fail(status) => error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "simulated",
            "the simulator was told to fail",
        ),
        Behaviour::Throttle => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "throttled", "slow down");
            r.headers_mut()
                .insert(header::RETRY_AFTER, "1".parse().expect("a header value"));
            r
        }
        Behaviour::Garbage => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response(),
        Behaviour::Normal | Behaviour::Slow(_) => answer(&sim, &method, &uri, &headers, &body),
    };
    sim.lock().received[at].status = response.status().as_u16();
    response
}

fn answer(
    sim: &CycloidSim,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let ["organizations", org, rest @ ..] = segments.as_slice() else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such route");
    };
    if let Err(e) = check::organization(org) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_path", e);
    }
    let (expected_org, expected_key) = {
        let s = sim.lock();
        (s.organization.clone(), format!("Bearer {}", s.api_key))
    };
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(given) if given == expected_key => {}
        Some(_) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the API key is not valid",
            )
        }
        None => {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "an API key is required (Authorization: Bearer)",
            )
        }
    }
    if uri.query().is_some_and(|q| q.contains("api_key")) {
        return error(
            StatusCode::BAD_REQUEST,
            "key_in_url",
            "keys do not belong in URLs",
        );
    }
    if *org != expected_org {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the key is not a member of this organization",
        );
    }
    let json_body = || -> Result<Value, (StatusCode, &'static str, String)> {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be application/json".into(),
            ));
        }
        serde_json::from_slice(body).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("the body is not JSON: {e}"),
            )
        })
    };
    match (method.as_str(), rest) {
        ("POST", ["events"]) => {
            let body = match json_body() {
                Ok(b) => b,
                Err((status, code, message)) => return error(status, code, message),
            };
            if let Err(e) = check::event(&body) {
                return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e);
            }
            let mut event = body.clone();
            event["timestamp"] = now_ms().into();
            sim.lock().events.push(event);
            data(StatusCode::OK, body)
        }
        ("GET", ["events"]) => {
            let q = uri.query().unwrap_or("");
            let has = |k: &str| q.split('&').any(|p| p.split('=').next() == Some(k));
            if !has("begin") || !has("end") {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_query",
                    "begin and end are required",
                );
            }
            data(StatusCode::OK, Value::Array(sim.lock().events.clone()))
        }
        ("GET", ["inventory"]) => {
            let filters = match check::filters(uri.query().unwrap_or("")) {
                Ok(f) => f,
                Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_filter", e),
            };
            let found: Vec<Value> = sim
                .lock()
                .resources
                .iter()
                .filter(|r| filters.iter().all(|f| check::matches(r, f)))
                .cloned()
                .collect();
            (
                StatusCode::OK,
                axum::Json(json!({"data": found, "filters": {}})),
            )
                .into_response()
        }
        ("POST", ["inventory", "resources"]) => {
            let body = match json_body() {
                Ok(b) => b,
                Err((status, code, message)) => return error(status, code, message),
            };
            if let Err(e) = check::resource(&body) {
                return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e);
            }
            let mut state = sim.lock();
            let mut resource = body;
            resource["id"] = state.next_id.into();
            state.next_id += 1;
            state.resources.push(resource.clone());
            data(StatusCode::OK, resource)
        }
        (m @ ("GET" | "DELETE"), ["inventory", "resources", id]) => {
            let Ok(id) = id.parse::<u32>() else {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_path",
                    "inventory_resource_id must be a uint32",
                );
            };
            let mut state = sim.lock();
            let Some(at) = state.resources.iter().position(|r| r["id"] == id) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "no such inventory resource",
                );
            };
            if m == "GET" {
                return data(StatusCode::OK, state.resources[at].clone());
            }
            state.resources.remove(at);
            StatusCode::NO_CONTENT.into_response()
        }
        (
            _,
            ["events"] | ["inventory"] | ["inventory", "resources"] | ["inventory", "resources", _],
        ) => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
        ),
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such route"),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}
