//! The catalogue load: each worker holds one keep-alive HTTP/1.1 connection and sends the same
//! request again and again, as wrk does; a general client's pool and a JSON parse of every answer
//! would take more of the shared cores than the bridge under test. Correctness is still checked:
//! the first answer of each endpoint is parsed and must list something, and every later answer
//! must be byte-identical to it.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use super::{summarise, Latencies};

pub const PATHS: [&str; 2] = [
    "/v1/infrastructure/provider/locations",
    "/v1/infrastructure/provider/server-models",
];

async fn connect(addr: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (send, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(send)
}

async fn call(
    send: &mut SendRequest<Full<Bytes>>,
    addr: &str,
    path: &str,
    body: &Bytes,
) -> Result<Bytes, String> {
    send.ready().await.map_err(|e| e.to_string())?;
    let request = Request::post(path)
        .header(hyper::header::HOST, addr)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body.clone()))
        .map_err(|e| e.to_string())?;
    let response = send
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let answer = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if status == StatusCode::OK {
        Ok(answer)
    } else {
        Err(format!("{status}: {}", String::from_utf8_lossy(&answer)))
    }
}

/// The first answer of one endpoint, checked: what every later answer must equal.
async fn reference(addr: &str, path: &str, body: &Bytes) -> Result<Bytes, String> {
    let mut send = connect(addr).await?;
    let answer = call(&mut send, addr, path, body).await?;
    let parsed: Value = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
    let listed = parsed["data"]
        .as_object()
        .and_then(|d| d.values().find_map(Value::as_array))
        .map_or(0, Vec::len);
    if listed == 0 {
        return Err(format!("{path} listed nothing: {parsed}"));
    }
    Ok(answer)
}

/// Loads both endpoints from `connections` workers for `duration`; per endpoint, the latencies.
pub async fn load(
    addr: &str,
    body: Bytes,
    connections: usize,
    duration: Duration,
) -> Result<[Latencies; 2], String> {
    // The first call fills the per-credential cache, as Cycle's first sync does.
    let mut expected = Vec::new();
    for path in PATHS {
        expected.push(reference(addr, path, &body).await?);
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::new();
    for worker in 0..connections {
        let (addr, body, expected) = (addr.to_string(), body.clone(), expected.clone());
        workers.push(tokio::spawn(async move {
            let mut out: [(Vec<f64>, u64); 2] = Default::default();
            let mut send = None;
            let mut i = worker;
            while Instant::now() < deadline {
                let which = i % 2;
                i += 1;
                let t = Instant::now();
                let conn = match &mut send {
                    Some(conn) => conn,
                    None => match connect(&addr).await {
                        Ok(conn) => send.insert(conn),
                        Err(_) => {
                            out[which].1 += 1;
                            continue;
                        }
                    },
                };
                match call(conn, &addr, PATHS[which], &body).await {
                    Ok(answer) if answer == expected[which] => {
                        out[which].0.push(t.elapsed().as_secs_f64() * 1000.0)
                    }
                    Ok(_) => out[which].1 += 1,
                    Err(_) => {
                        out[which].1 += 1;
                        send = None;
                    }
                }
            }
            out
        }));
    }
    let mut all: [(Vec<f64>, u64); 2] = Default::default();
    for w in workers {
        let out = w.await.map_err(|e| e.to_string())?;
        for (k, (ms, errors)) in out.into_iter().enumerate() {
            all[k].0.extend(ms);
            all[k].1 += errors;
        }
    }
    let elapsed = started.elapsed();
    let [(l, le), (m, me)] = all;
    Ok([summarise(l, le, elapsed), summarise(m, me, elapsed)])
}
