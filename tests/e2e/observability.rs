//! What an operator watches: request ids, log lines no caller can forge, Prometheus metrics
//! described from the start, readiness, and the limits that protect the bridge. (A whole
//! lifecycle's logs and metrics are read in a process of their own: `tests/lifecycle_logs.rs`.)

use std::time::Duration;

use crate::common;
use common::harness::{test_settings, Harness, CYCLE_SERVER};
use common::logs::Captured;
use common::{quick_sim_config, slow_sim_config};
use crusoe_ial::ial::IalOptions;
use serde_json::{json, Value};

#[tokio::test]
async fn requests_carry_an_id_given_or_generated() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let http = reqwest::Client::new();
    let generated = http.get(format!("{}/healthz", h.url)).send().await.unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let given = http
        .get(format!("{}/healthz", h.url))
        .header("x-request-id", "cycle-req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "cycle-req-42");
}

#[tokio::test]
async fn beyond_the_concurrency_limit_requests_get_a_cycle_shaped_503_at_once() {
    let options = IalOptions {
        max_in_flight: 1,
        ..Default::default()
    };
    let h = Harness::start_with(slow_sim_config(350), test_settings(), options).await;
    let slow = h.cycle("/v1/auth/verify", Value::Null);
    let later = |path: &'static str| {
        let (url, body) = (h.url.clone(), json!({"auth": h.auth, "request": null}));
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let started = std::time::Instant::now();
            let answer = common::post(&format!("{url}{path}"), &body).await;
            (
                answer.status().as_u16(),
                answer.headers().get("retry-after").cloned(),
                answer.json::<Value>().await.unwrap(),
                started.elapsed(),
            )
        }
    };
    // The limit is the bridge's, not each route's: another endpoint is shed too.
    let ((first_status, _), same, other) = tokio::join!(
        slow,
        later("/v1/auth/verify"),
        later("/v1/infrastructure/provider/locations")
    );
    assert_eq!(first_status, 200);
    for (status, retry_after, answer, waited) in [same, other] {
        assert_eq!(status, 503, "{answer}");
        assert_eq!(answer["error"]["code"], "503.overloaded");
        assert_eq!(retry_after.unwrap(), "1");
        assert!(
            waited < Duration::from_millis(200),
            "shed at once, not queued: {waited:?}"
        );
    }
    // Health is never shed.
    assert_eq!(h.raw("GET", "/healthz", None).await.0, 200);
}

#[tokio::test]
async fn a_request_past_the_time_limit_gets_a_cycle_shaped_504() {
    let options = IalOptions {
        request_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let h = Harness::start_with(slow_sim_config(1000), test_settings(), options).await;
    let (status, answer) = h
        .cycle("/v1/infrastructure/provider/locations", Value::Null)
        .await;
    assert_eq!(status, 504, "{answer}");
    assert_eq!(answer["error"]["code"], "504.request-timeout");
}

#[tokio::test]
async fn readiness_in_pass_through_mode_needs_only_a_valid_configuration() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let (status, answer) = h.raw("GET", "/readyz", None).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ready")));
}

#[tokio::test]
async fn metrics_are_described_and_shown_from_the_start_with_build_and_process_metrics() {
    // A fresh process: nothing has been recorded yet.
    let (_child, addr, _home) = common::serve_process("").await;
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "ial_requests_total",
        "ial_request_duration_seconds",
        "bridge_servers_in_flight",
        "crusoe_ial_build_info",
        "crusoe_calls_total",
        "crusoe_call_duration_seconds",
        "crusoe_retries_total",
        "crusoe_operation_waits_total",
        "crusoe_operation_wait_seconds",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} is not described:\n{text}"
        );
    }
    assert!(
        text.contains(
            r#"ial_requests_total{endpoint="/v1/infrastructure/server/provision",status="200"} 0"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"crusoe_calls_total{operation="create_vm",outcome="ok"} 0"#),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "crusoe_ial_build_info{{version=\"{}\",git_commit=",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    let rss = text
        .lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("resident memory is a number");
    assert!(rss > 1_000_000.0, "a real process's memory: {rss}");
}

/// One text log line, parsed as the text format writes it: time, level, spans with their
/// fields, target, message, fields. `None` when the line does not have that shape exactly.
fn parse_text_line(line: &str) -> Option<(String, Vec<(String, String)>)> {
    // Colours, if any, are the formatter's own: what a caller sends arrives escaped.
    let mut plain = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    fn quoted(s: &str) -> Option<(String, &str)> {
        let mut out = String::new();
        let mut it = s.strip_prefix('"')?.char_indices();
        while let Some((i, c)) = it.next() {
            match c {
                '"' => return Some((out, &s[i + 2..])),
                '\\' => {
                    let (_, e) = it.next()?;
                    match e {
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            // \u{…}
                            let mut hex = String::new();
                            for (_, h) in it.by_ref() {
                                match h {
                                    '{' => {}
                                    '}' => break,
                                    h => hex.push(h),
                                }
                            }
                            out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                        }
                        other => out.push(other),
                    }
                }
                c if c.is_control() => return None,
                c => out.push(c),
            }
        }
        None
    }
    fn fields<'a>(
        mut s: &'a str,
        end: Option<char>,
        out: &mut Vec<(String, String)>,
    ) -> Option<&'a str> {
        loop {
            if let Some(e) = end {
                if let Some(rest) = s.strip_prefix(e) {
                    return Some(rest);
                }
            } else if s.is_empty() {
                return Some(s);
            }
            let eq = s.find('=')?;
            let key = &s[..eq];
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            let rest = &s[eq + 1..];
            let (value, rest) = if rest.starts_with('"') {
                quoted(rest)?
            } else {
                let stop = rest
                    .find(|c: char| c == ' ' || Some(c) == end)
                    .unwrap_or(rest.len());
                (rest[..stop].to_string(), &rest[stop..])
            };
            out.push((key.to_string(), value));
            s = rest.strip_prefix(' ').unwrap_or(rest);
        }
    }
    let (_time, rest) = plain.split_once(' ')?;
    let rest = rest.trim_start();
    let (level, mut rest) = rest.split_once(' ')?;
    if !["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level) {
        return None;
    }
    let mut all = Vec::new();
    // Spans: `name{fields}:`, then a space before the target.
    while let Some(open) = rest.find('{').filter(|o| !rest[..*o].contains(' ')) {
        rest = fields(&rest[open + 1..], Some('}'), &mut all)?;
        rest = rest.strip_prefix(':')?;
    }
    let rest = rest.trim_start();
    let (_target, rest) = rest.split_once(": ")?;
    let (message, rest) = if rest.starts_with('"') {
        quoted(rest)?
    } else {
        // A plain message holds no `=`: fields start at the first word that has one.
        let start = rest
            .find('=')
            .and_then(|eq| rest[..eq].rfind(' '))
            .unwrap_or(rest.len());
        (rest[..start].to_string(), &rest[start..])
    };
    fields(rest.trim_start(), None, &mut all)?;
    Some((message, all))
}

#[tokio::test]
async fn values_a_caller_controls_cannot_forge_log_fields_in_either_format() {
    use crusoe_ial::config::LogFormat;
    let hostile_ids = [
        "fake\" status=200 forged=\"1".to_string(),
        "x".repeat(8000),
        "tab\tforged=1".to_string(),
        "id with spaces forged=1".to_string(),
        "cycle-req-42".to_string(),
    ];
    for format in [LogFormat::Text, LogFormat::Json] {
        let logs = Captured::default();
        let writer = logs.clone();
        let _guard = tracing::subscriber::set_default(crusoe_ial::telemetry::subscriber(
            format,
            tracing_subscriber::EnvFilter::new("crusoe_ial=debug"),
            move || writer.clone(),
            true,
        ));
        let h = Harness::start(quick_sim_config(), test_settings()).await;
        let http = reqwest::Client::new();
        let mut used = Vec::new();
        for id in &hostile_ids {
            let answer = http
                .post(format!("{}/v1/infrastructure/provider/locations", h.url))
                .header("x-request-id", id.as_str())
                .json(&json!({"auth": null, "request": null}))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status().as_u16(), 401);
            let given = answer.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_string();
            if id == "cycle-req-42" {
                assert_eq!(&given, id, "a safe id is kept");
            } else {
                assert_eq!(given.len(), 36, "{id:?} is replaced by a new id: {given}");
            }
            used.push(given);
        }
        // A hostname and a location that carry field syntax and line breaks, in error details.
        let config = h.configure("us-east1-a").await["configuration_latest"].clone();
        let mut request = Harness::provision_request(CYCLE_SERVER, "c1a.4x", "us-east1-a", &config);
        request["hostname"] = json!("h\" status=200 forged=\"1\nINFO forged=2");
        assert_eq!(
            h.cycle("/v1/infrastructure/server/provision", request.clone())
                .await
                .0,
            422
        );
        request["hostname"] = json!("node");
        request["location_id"] = json!("x\ny forged=3 \u{1b}[31m");
        assert_eq!(
            h.cycle("/v1/infrastructure/server/provision", request)
                .await
                .0,
            422
        );

        let text = logs.text();
        assert!(!text.is_empty());
        let mut errors = 0;
        for line in text.lines() {
            let fields: Vec<(String, String)> = match format {
                LogFormat::Text => {
                    let (message, fields) = parse_text_line(line)
                        .unwrap_or_else(|| panic!("not a well-formed text line: {line:?}"));
                    if message == "answering Cycle with an error" {
                        errors += 1;
                    }
                    fields
                }
                LogFormat::Json => {
                    let v: Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
                    if v["message"] == "answering Cycle with an error" {
                        errors += 1;
                    }
                    let mut fields = Vec::new();
                    let mut add = |o: &Value| {
                        for (k, v) in o.as_object().into_iter().flatten() {
                            fields.push((k.clone(), v.as_str().unwrap_or_default().to_string()));
                        }
                    };
                    add(&v);
                    add(&v["span"]);
                    for span in v["spans"].as_array().into_iter().flatten() {
                        add(span);
                    }
                    fields
                }
            };
            assert!(
                !fields.iter().any(|(k, _)| k == "forged"),
                "{format:?}: a field was forged: {line}"
            );
            for (k, v) in &fields {
                if k == "request_id" {
                    assert!(used.contains(v) || v.len() == 36, "{format:?}: {line}");
                }
            }
            assert!(
                line.len() < 4000,
                "{format:?}: an 8000-byte id reached the log"
            );
        }
        assert!(
            errors >= hostile_ids.len() + 2,
            "{format:?}: {errors} errors logged:\n{text}"
        );
        for id in &used {
            assert!(
                text.contains(id.as_str()),
                "{format:?}: the id answered, {id}, is the one logged"
            );
        }
    }
}
