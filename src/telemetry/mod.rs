//! Logging: tracing to stderr, as text (logfmt fields) or JSON, filtered by `RUST_LOG` (else
//! `default_filter`).

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

pub mod logfmt;
pub mod metrics;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Colours only for a person at a terminal, not for a log collector.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // A second init (tests that run several commands in one process) is harmless: keep the first.
    let _ = subscriber(format, filter, std::io::stderr, ansi).try_init();
}

/// What `init` installs, writing to `writer`: for tests that read the lines `serve` would write.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => Box::new(builder.fmt_fields(logfmt::Logfmt).finish()),
        LogFormat::Json => Box::new(builder.json().flatten_event(true).finish()),
    }
}
