//! CloudSigma's API 2.0 resources: request parsing, lists (filters, pagination, field
//! selection) and the dispatch from path to world operation.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::catalog;
use super::http::{json_response, no_content, ApiError, ApiResult, Call, Host, MAX_UPLOAD};
use super::world::{balance_string, opt_bool, uri, World};
use super::Sim;

/// The call-count key of a request: `/servers/{uuid}/action/`, `/drives/detail/`, ...
pub fn route_key(host: Host, rest: &str) -> String {
    if host == Host::Upload {
        return if rest.starts_with("drives/upload/") {
            "/drives/upload/".into()
        } else {
            format!("/{rest}")
        };
    }
    let trailing = rest.ends_with('/');
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let mut key = String::from("/");
    for (i, s) in segs.iter().enumerate() {
        let generic = i == 1
            && !matches!(*s, "detail" | "schema")
            && matches!(
                segs[0],
                "servers" | "drives" | "ips" | "tags" | "subscriptions" | "libdrives" | "vlans"
            );
        if generic {
            key.push_str(if segs[0] == "subscriptions" {
                "{id}"
            } else {
                "{uuid}"
            });
        } else {
            key.push_str(s);
        }
        if i + 1 < segs.len() || trailing {
            key.push('/');
        }
    }
    key
}

// ---- request bodies ---------------------------------------------------------------------------

/// A JSON body needs `Content-Type: application/json` ("required for operations that have a
/// request body", D:general.rst); the simulator does not read XML.
fn json_body(call: &Call) -> Result<Option<Value>, ApiError> {
    if call.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let ct = call
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::validation(
            None,
            format!("Content-Type must be application/json, not {ct:?}"),
        ));
    }
    serde_json::from_slice(&call.body)
        .map(Some)
        .map_err(|e| ApiError::validation(None, format!("Malformed JSON: {e}")))
}

/// A create body: `{"objects": [...]}` or the bare list (D:drives.rst "you can omit the
/// {'objects': ...}"). A single bare object is refused (not documented).
fn objects(call: &Call) -> Result<Vec<Map<String, Value>>, ApiError> {
    let body = json_body(call)?.ok_or_else(|| ApiError::required("objects"))?;
    let list = match body {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("objects") {
            Some(Value::Array(a)) => a,
            _ => return Err(ApiError::required("objects")),
        },
        _ => return Err(ApiError::validation(None, "Expected {\"objects\": [...]}")),
    };
    if list.is_empty() {
        return Err(ApiError::validation(
            Some("objects"),
            "At least one object is needed",
        ));
    }
    list.into_iter()
        .map(|v| match v {
            Value::Object(o) => Ok(o),
            _ => Err(ApiError::validation(
                Some("objects"),
                "Each object must be a JSON object",
            )),
        })
        .collect()
}

/// A single object (PUT).
fn object(call: &Call) -> Result<Map<String, Value>, ApiError> {
    match json_body(call)? {
        Some(Value::Object(o)) => Ok(o),
        None => Err(ApiError::validation(None, "A JSON object is required")),
        Some(_) => Err(ApiError::validation(None, "Expected a JSON object")),
    }
}

// ---- answers ------------------------------------------------------------------------------------

fn ok(body: Value) -> ApiResult {
    Ok(json_response(StatusCode::OK, &body))
}

/// 201 `{"objects": [...]}` with `Location` naming the (first) new object (D:general.rst "201").
fn created(body: Value) -> ApiResult {
    let location = body["objects"][0]["resource_uri"]
        .as_str()
        .map(str::to_string);
    let mut r = json_response(StatusCode::CREATED, &body);
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    Ok(r)
}

fn method_not_allowed(call: &Call, allowed: &str) -> ApiResult {
    let mut r = ApiError::method(&call.method).into_response();
    if let Ok(v) = HeaderValue::from_str(allowed) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    Ok(r)
}

/// `?fields=a,b`: only those keys of each object (D:dumps/request_drive_list_just_uuid_and_status).
fn select_fields(call: &Call, v: Value) -> Value {
    let Some(fields) = call.param("fields").filter(|f| !f.is_empty()) else {
        return v;
    };
    let wanted = split_values(fields);
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(k, _)| wanted.iter().any(|w| w == k))
                .collect(),
        ),
        v => v,
    }
}

/// A comma-separated filter value; `\,` is a literal comma (D:general.rst).
fn split_values(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                chars.next();
                out.last_mut().expect("never empty").push(',');
            }
            ',' => out.push(String::new()),
            c => out.last_mut().expect("never empty").push(c),
        }
    }
    out
}

/// What a list filter can look at.
struct Row {
    id: String,
    name: Option<String>,
    tags: Vec<String>,
    body: Value,
}

fn parse_count(call: &Call, name: &str, default: u64) -> Result<u64, ApiError> {
    match call.param(name) {
        None => Ok(default),
        Some(v) => v.parse::<u64>().map_err(|_| {
            ApiError::validation(Some(name), format!("{name} must be a non-negative integer"))
        }),
    }
}

/// Filters (`name`, `name__contains`, `uuid`, `tag`; separate parameters AND, commas OR,
/// D:general.rst), then `offset`/`limit` (0 = all, D:pagination.rst), then `fields`.
fn list(
    call: &Call,
    rows: Vec<Row>,
    default_limit: u64,
    filters: bool,
    extra: &[(&str, Value)],
) -> ApiResult {
    let limit = parse_count(call, "limit", default_limit)?;
    let offset = parse_count(call, "offset", 0)?;
    let mut rows = rows;
    if filters {
        for (param, _) in &call.query {
            let Some(value) = call.param(param) else {
                continue;
            };
            let values = split_values(value);
            match param.as_str() {
                "name" => rows.retain(|r| r.name.as_ref().is_some_and(|n| values.contains(n))),
                "name__contains" => rows.retain(|r| {
                    r.name
                        .as_ref()
                        .is_some_and(|n| values.iter().any(|v| n.contains(v.as_str())))
                }),
                "uuid" => rows.retain(|r| values.contains(&r.id)),
                "tag" => rows.retain(|r| r.tags.iter().any(|t| values.contains(t))),
                _ => {}
            }
        }
    }
    let total = rows.len();
    let page: Vec<Value> = rows
        .into_iter()
        .skip(offset as usize)
        .take(if limit == 0 {
            usize::MAX
        } else {
            limit as usize
        })
        .map(|r| select_fields(call, r.body))
        .collect();
    let mut body = json!({
        "meta": {"limit": limit, "offset": offset, "total_count": total},
        "objects": page,
    });
    for (k, v) in extra {
        body[*k] = v.clone();
    }
    ok(body)
}

fn tag_uuids(w: &World, owner: usize, id: &str) -> Vec<String> {
    w.tags
        .iter()
        .filter(|t| t.owner == owner && t.resources.iter().any(|r| r == id))
        .map(|t| t.uuid.clone())
        .collect()
}

/// The exact names a list asks for (`name=`), so that only those objects are rendered: the
/// filter itself is applied by [`list`], this only spares rendering what it would drop.
fn named(call: &Call) -> Option<Vec<String>> {
    call.param("name").map(split_values)
}

fn server_rows(
    w: &World,
    account: usize,
    detail: bool,
    only: Option<&[String]>,
    names: Option<&[String]>,
) -> Vec<Row> {
    w.servers
        .iter()
        .filter(|s| s.owner == account && only.is_none_or(|o| o.contains(&s.uuid)))
        .filter(|s| names.is_none_or(|n| n.contains(&s.def.name)))
        .map(|s| Row {
            id: s.uuid.clone(),
            name: Some(s.def.name.clone()),
            tags: tag_uuids(w, account, &s.uuid),
            body: if detail {
                w.render_server(s)
            } else {
                w.server_summary(s)
            },
        })
        .collect()
}

fn drive_rows(
    w: &World,
    account: usize,
    detail: bool,
    only: Option<&[String]>,
    names: Option<&[String]>,
) -> Vec<Row> {
    w.drives
        .iter()
        .filter(|d| d.owner == account && only.is_none_or(|o| o.contains(&d.uuid)))
        .filter(|d| names.is_none_or(|n| n.contains(&d.name)))
        .map(|d| Row {
            id: d.uuid.clone(),
            name: Some(d.name.clone()),
            tags: tag_uuids(w, account, &d.uuid),
            body: if detail {
                w.render_drive(d)
            } else {
                w.drive_summary(d)
            },
        })
        .collect()
}

fn ip_rows(w: &World, account: usize, detail: bool, only: Option<&[String]>) -> Vec<Row> {
    w.ips
        .iter()
        .filter(|ip| ip.owner == account && only.is_none_or(|o| o.contains(&ip.address)))
        .map(|ip| Row {
            id: ip.address.clone(),
            name: None,
            tags: tag_uuids(w, account, &ip.address),
            body: if detail {
                w.render_ip(ip)
            } else {
                w.ip_summary(ip)
            },
        })
        .collect()
}

// ---- dispatch -----------------------------------------------------------------------------------

pub fn dispatch(sim: &Sim, call: &Call) -> ApiResult {
    let seg: Vec<&str> = call.segments.iter().map(String::as_str).collect();
    let m = &call.method;
    let a = call.account;
    let get = m == Method::GET;
    match seg.as_slice() {
        ["locations"] => {
            if !get {
                return method_not_allowed(call, "GET");
            }
            let origin = call.origin();
            let rows = sim
                .world()
                .locations
                .iter()
                .map(|l| Row {
                    id: l.to_ascii_uppercase(),
                    name: None,
                    tags: Vec::new(),
                    body: catalog::location_object(l, &origin),
                })
                .collect();
            list(call, rows, 20, false, &[])
        }
        ["capabilities"] => {
            if !get {
                return method_not_allowed(call, "GET");
            }
            ok(catalog::capabilities())
        }
        ["pricing"] => {
            if !get {
                return method_not_allowed(call, "GET");
            }
            let mut rows: Vec<Value> = catalog::pricing_rows();
            if let Some(levels) = call.param("level") {
                let levels = split_values(levels);
                rows.retain(|r| levels.contains(&r["level"].to_string()));
            }
            let rows = rows
                .into_iter()
                .map(|r| Row {
                    id: String::new(),
                    name: None,
                    tags: Vec::new(),
                    body: r,
                })
                .collect();
            // `next` equals `current`: the simulator's burst levels do not move.
            list(
                call,
                rows,
                0,
                false,
                &[("current", catalog::levels()), ("next", catalog::levels())],
            )
        }
        ["balance"] => {
            if !get {
                return method_not_allowed(call, "GET");
            }
            let w = sim.world();
            let acc = &w.accounts[a];
            ok(json!({
                "balance": balance_string(acc.balance),
                "credit_limit": null,
                "currency": acc.currency,
            }))
        }
        ["profile"] => {
            if !get {
                return method_not_allowed(call, "GET");
            }
            let w = sim.world();
            ok(profile(&w, a))
        }

        // -- servers (D:servers.rst)
        ["servers"] => match *m {
            Method::GET => list(
                call,
                server_rows(&sim.world(), a, false, None, named(call).as_deref()),
                20,
                true,
                &[],
            ),
            Method::POST => {
                let objs = objects(call)?;
                let out = sim.world().create_servers(a, &objs)?;
                created(json!({"objects": out}))
            }
            _ => method_not_allowed(call, "GET, POST"),
        },
        ["servers", "detail"] => {
            if !get {
                return method_not_allowed(call, "GET");
            }
            list(
                call,
                server_rows(&sim.world(), a, true, None, named(call).as_deref()),
                20,
                true,
                &[],
            )
        }
        ["servers", id] => match *m {
            Method::GET => {
                let w = sim.world();
                let i = w.server_index(a, id)?;
                ok(select_fields(call, w.render_server(&w.servers[i])))
            }
            Method::PUT => {
                let obj = object(call)?;
                ok(sim.world().update_server(a, id, &obj)?)
            }
            Method::DELETE => {
                sim.world().delete_server(a, id, call.param("recurse"))?;
                Ok(no_content())
            }
            _ => method_not_allowed(call, "GET, PUT, DELETE"),
        },
        ["servers", id, "runtime"] => {
            if !get {
                return method_not_allowed(call, "GET");
            }
            let w = sim.world();
            let i = w.server_index(a, id)?;
            ok(w.render_server(&w.servers[i])["runtime"].clone())
        }
        ["servers", id, "action"] => {
            if *m != Method::POST {
                return method_not_allowed(call, "POST");
            }
            // The body is optional: P sends `{}`, G nothing (CLOUDSIGMA.md §5.6).
            json_body(call)?;
            let action = call
                .param("do")
                .ok_or_else(|| ApiError::required("do"))?
                .to_string();
            let body = sim.world().server_action(a, id, &action)?;
            Ok(json_response(StatusCode::ACCEPTED, &body))
        }

        // -- drives (D:drives.rst)
        ["drives"] => match *m {
            Method::GET => list(
                call,
                drive_rows(&sim.world(), a, false, None, named(call).as_deref()),
                20,
                true,
                &[],
            ),
            Method::POST => {
                let objs = objects(call)?;
                let out = sim.world().create_drives(a, &objs)?;
                created(json!({"objects": out}))
            }
            Method::DELETE => {
                // Bulk delete: {"objects": [{"uuid": ...}, ...]}.
                let objs = objects(call)?;
                let mut uuids = Vec::new();
                for o in &objs {
                    uuids.push(super::world::req_str(o, "uuid")?);
                }
                sim.world().delete_drives(a, &uuids)?;
                Ok(no_content())
            }
            _ => method_not_allowed(call, "GET, POST, DELETE"),
        },
        ["drives", "detail"] => {
            if !get {
                return method_not_allowed(call, "GET");
            }
            list(
                call,
                drive_rows(&sim.world(), a, true, None, named(call).as_deref()),
                20,
                true,
                &[],
            )
        }
        ["drives", id] => match *m {
            Method::GET => {
                let w = sim.world();
                let i = w.drive_index(a, id)?;
                ok(select_fields(call, w.render_drive(&w.drives[i])))
            }
            Method::PUT => {
                let obj = object(call)?;
                ok(sim.world().update_drive(a, id, &obj)?)
            }
            Method::DELETE => {
                sim.world().delete_drives(a, &[id.to_string()])?;
                Ok(no_content())
            }
            _ => method_not_allowed(call, "GET, PUT, DELETE"),
        },
        ["drives", id, "action"] => {
            if *m != Method::POST {
                return method_not_allowed(call, "POST");
            }
            sim.world().drive_index(a, id)?;
            Err(ApiError::validation(
                Some("do"),
                format!(
                    "Drive action {:?} is not supported by the simulator",
                    call.param("do").unwrap_or("")
                ),
            ))
        }

        // -- library drives and VLANs: none in the simulator (no library drive is an iPXE
        // image in the docs, CLOUDSIGMA.md §6.4; the simulator sells no VLANs).
        ["libdrives"] | ["libdrives", "detail"] | ["vlans"] | ["vlans", "detail"] => {
            if !get {
                return method_not_allowed(call, "GET");
            }
            list(call, Vec::new(), 20, false, &[])
        }
        ["libdrives", id] | ["vlans", id] => {
            if !get {
                return method_not_allowed(call, "GET");
            }
            Err(ApiError::notexist(format!("{id} does not exist")))
        }

        // -- IPs (D:networking.rst)
        ["ips"] => {
            if !get {
                return method_not_allowed(call, "GET");
            }
            list(call, ip_rows(&sim.world(), a, false, None), 20, true, &[])
        }
        ["ips", "detail"] => {
            if !get {
                return method_not_allowed(call, "GET");
            }
            list(call, ip_rows(&sim.world(), a, true, None), 20, true, &[])
        }
        ["ips", address] => match *m {
            Method::GET => {
                let w = sim.world();
                let i = w.ip_index(a, address)?;
                ok(select_fields(call, w.render_ip(&w.ips[i])))
            }
            Method::PUT => {
                let obj = object(call)?;
                ok(sim.world().update_ip(a, address, &obj)?)
            }
            // IPs are neither created nor deleted directly (CLOUDSIGMA.md §7.1).
            _ => method_not_allowed(call, "GET, PUT"),
        },

        // -- subscriptions (D:subscriptions.rst): GET and POST only, never PUT or DELETE.
        ["subscriptions"] => match *m {
            Method::GET => subscriptions_list(sim, call),
            Method::POST => {
                let objs = objects(call)?;
                let (out, total) = sim.world().create_subscriptions(a, &objs)?;
                created(json!({"objects": out, "price": catalog::decimal(total)}))
            }
            _ => method_not_allowed(call, "GET, POST"),
        },
        ["subscriptions", id] => match *m {
            Method::GET => {
                let w = sim.world();
                let i = w.subscription_index(a, id)?;
                ok(select_fields(
                    call,
                    w.render_subscription(&w.subscriptions[i]),
                ))
            }
            _ => method_not_allowed(call, "GET"),
        },
        ["subscriptions", id, "action"] => {
            if *m != Method::POST {
                return method_not_allowed(call, "POST");
            }
            let body = json_body(call)?;
            match call.param("do") {
                Some("auto_renew") => {
                    let set = match &body {
                        None => None,
                        Some(Value::Object(o)) => opt_bool(o, "auto_renew")?,
                        Some(_) => {
                            return Err(ApiError::validation(None, "Expected a JSON object"))
                        }
                    };
                    ok(sim.world().auto_renew(a, id, set)?)
                }
                None => Err(ApiError::required("do")),
                Some(other) => {
                    sim.world().subscription_index(a, id)?;
                    Err(ApiError::validation(
                        Some("do"),
                        format!("Subscription action {other:?} is not supported"),
                    ))
                }
            }
        }

        // -- tags (D:tags.rst): no filters on the list.
        ["tags"] => match *m {
            Method::GET => {
                let w = sim.world();
                let rows = w
                    .tags
                    .iter()
                    .filter(|t| t.owner == a)
                    .map(|t| Row {
                        id: t.uuid.clone(),
                        name: Some(t.name.clone()),
                        tags: Vec::new(),
                        body: w.render_tag(t),
                    })
                    .collect();
                list(call, rows, 20, false, &[])
            }
            Method::POST => {
                let objs = objects(call)?;
                let out = sim.world().create_tags(a, &objs)?;
                created(json!({"objects": out}))
            }
            _ => method_not_allowed(call, "GET, POST"),
        },
        ["tags", id] => match *m {
            Method::GET => {
                let w = sim.world();
                let i = w.tag_index(a, id)?;
                ok(select_fields(call, w.render_tag(&w.tags[i])))
            }
            Method::PUT => {
                let obj = object(call)?;
                ok(sim.world().update_tag(a, id, &obj)?)
            }
            Method::DELETE => {
                sim.world().delete_tag(a, id)?;
                Ok(no_content())
            }
            _ => method_not_allowed(call, "GET, PUT, DELETE"),
        },
        ["tags", id, kind] => tag_members(sim, call, id, kind, false),
        ["tags", id, kind, "detail"] => tag_members(sim, call, id, kind, true),

        _ => Err(ApiError::notexist("No such URL")),
    }
}

fn subscriptions_list(sim: &Sim, call: &Call) -> ApiResult {
    let status = call.param("status").unwrap_or("all");
    let statuses = split_values(status);
    for s in &statuses {
        if !matches!(
            s.as_str(),
            "active" | "inactive" | "expired" | "all" | "notexpired"
        ) {
            return Err(ApiError::validation(
                Some("status"),
                format!("Unknown status {s:?}"),
            ));
        }
    }
    // Every simulated subscription is active.
    let show = statuses
        .iter()
        .any(|s| matches!(s.as_str(), "active" | "all" | "notexpired"));
    let resources = call.param("resource").map(split_values);
    let w = sim.world();
    let mut total = 0.0;
    let rows: Vec<Row> = w
        .subscriptions
        .iter()
        .filter(|s| s.owner == call.account && show)
        .filter(|s| resources.as_ref().is_none_or(|r| r.contains(&s.resource)))
        .filter(|s| {
            call.param("subscribed_object")
                .is_none_or(|o| s.subscribed_object.as_deref() == Some(o))
        })
        .map(|s| {
            total += s.price.parse::<f64>().unwrap_or(0.0);
            Row {
                id: s.id.to_string(),
                name: None,
                tags: Vec::new(),
                body: w.render_subscription(s),
            }
        })
        .collect();
    list(
        call,
        rows,
        20,
        false,
        &[("price", json!(catalog::decimal(total)))],
    )
}

/// `GET /tags/{uuid}/{servers|drives|ips|vlans}/[detail/]` (D:tags.rst,
/// D:dumps/response_tags_list_resource; L uses `.../servers/detail/`).
fn tag_members(sim: &Sim, call: &Call, id: &str, kind: &str, detail: bool) -> ApiResult {
    if call.method != Method::GET {
        return method_not_allowed(call, "GET");
    }
    let w = sim.world();
    let i = w.tag_index(call.account, id)?;
    let members = w.tags[i].resources.clone();
    let a = call.account;
    let rows = match kind {
        "servers" => server_rows(&w, a, detail, Some(&members), None),
        "drives" => drive_rows(&w, a, detail, Some(&members), None),
        "ips" => ip_rows(&w, a, detail, Some(&members)),
        "vlans" => Vec::new(),
        _ => return Err(ApiError::notexist("No such URL")),
    };
    list(call, rows, 20, true, &[])
}

/// `GET /profile/` (D:dumps/response_profile).
fn profile(w: &World, a: usize) -> Value {
    let acc = &w.accounts[a];
    json!({
        "address": "",
        "api_https_only": false,
        "autotopup_amount": "0E-16",
        "autotopup_threshold": "0E-16",
        "bank_reference": "",
        "clone_naming": "COUNTER",
        "company": "",
        "country": "",
        "currency": acc.currency,
        "email": acc.username,
        "first_name": "Simulated",
        "has_autotopup": false,
        "has_tx_autotopup": false,
        "invoicing": true,
        "key_auth": false,
        "language": "EN",
        "last_name": "User",
        "mailing_list": false,
        "meta": {},
        "my_notes": "",
        "network_restrictions": null,
        "nickname": "",
        "phone": "",
        "postcode": "",
        "reseller": "",
        "signup_time": acc.signup_time,
        "state": "REGULAR",
        "tax_name": null,
        "tax_rate": null,
        "title": "",
        "town": "",
        "tx_autotopup_amount": "0E-16",
        "tx_autotopup_threshold": "0E-16",
        "uuid": acc.owner_uuid,
        "vat": "",
    })
}

// ---- upload -------------------------------------------------------------------------------------

/// `POST /{L}/direct/api/2.0/drives/upload/[file name]` (D:upload_download.rst).
pub async fn upload(
    sim: &Arc<Sim>,
    account: usize,
    rest: &str,
    headers: &HeaderMap,
    body: Body,
    method: &Method,
) -> Response {
    match upload_inner(sim, account, rest, headers, body, method).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn upload_inner(
    sim: &Arc<Sim>,
    account: usize,
    rest: &str,
    headers: &HeaderMap,
    body: Body,
    method: &Method,
) -> ApiResult {
    // A file name after `upload/` is ignored; anything else on this host is not served.
    let Some(name) = rest.strip_prefix("drives/upload/") else {
        return Err(ApiError::notexist("No such URL"));
    };
    if name.contains('/') {
        return Err(ApiError::notexist("No such URL"));
    }
    if method != Method::POST {
        let mut r = ApiError::method(method).into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Ok(r);
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/octet-stream")
    {
        return Err(ApiError::validation(
            None,
            format!("Uploads must be sent as application/octet-stream, not {ct:?}"),
        ));
    }
    // Content-Length "determines the size of the drive" (D:upload_download.rst): required.
    let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        return Err(ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "validation",
            "Content-Length is required: it determines the size of the drive",
        ));
    };
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "validation",
            format!("The simulator takes uploads of at most {MAX_UPLOAD} bytes"),
        )
    };
    if length > MAX_UPLOAD as u64 {
        return Err(too_large());
    }
    if length == 0 {
        return Err(ApiError::validation(None, "The image is empty"));
    }
    let bytes = axum::body::to_bytes(body, MAX_UPLOAD)
        .await
        .map_err(|_| too_large())?;
    if bytes.len() as u64 != length {
        return Err(ApiError::validation(
            None,
            "The body does not match Content-Length",
        ));
    }
    let uuid = sim.world().upload(account, bytes.to_vec());
    // The answer is the new drive's UUID as text (curl "prints the UUID"); its status is not
    // documented: 201, as for every other create.
    let mut r = (StatusCode::CREATED, uuid.clone()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(l) = HeaderValue::from_str(&uri("drives", &uuid)) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    Ok(r)
}
