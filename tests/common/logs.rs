//! Log lines kept in memory, for the tests that read what the bridge logged.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Where a subscriber's writer (`move || captured.clone()`) puts its lines, for the test to read.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Installs the process's global subscriber, JSON lines at debug level, writing here. It can
    /// be installed once per process and catches every test's lines: for a test binary of its own.
    pub fn global_json_debug() -> Self {
        let logs = Self::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .json()
            .with_env_filter("debug")
            .with_writer(move || writer.clone())
            .init();
        logs
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("log lines are UTF-8")
    }
}
