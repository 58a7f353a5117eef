//! The fields of the text log format, written as logfmt: `key=value`, and `key="…"` with Rust's
//! escapes for any value that is not plainly safe. Callers control some of what is logged (an
//! `x-request-id`, a path, a hostname inside an error's detail); quoted and escaped, none of it can
//! end a field, start another, or break a line. A message is quoted only when it holds `"`, `=`,
//! `\` or a control character, so a plain message still reads as one. (The JSON format needs none
//! of this: serde escapes every string.)

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;

/// `fmt_fields` for the text format.
#[derive(Debug, Clone, Copy, Default)]
pub struct Logfmt;

pub struct LogfmtVisitor<'a> {
    writer: Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl<'a> MakeVisitor<Writer<'a>> for Logfmt {
    type Visitor = LogfmtVisitor<'a>;

    fn make_visitor(&self, writer: Writer<'a>) -> Self::Visitor {
        LogfmtVisitor {
            writer,
            first: true,
            result: Ok(()),
        }
    }
}

/// A value written as it is: not empty, and only characters that cannot be read as syntax.
fn plain_value(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@+,*()[]#%~".contains(&b))
}

/// A message written as it is: no quote, `=`, backslash or control character, no edge spaces.
fn plain_message(message: &str) -> bool {
    !message.is_empty()
        && message.trim() == message
        && !message
            .chars()
            .any(|c| c.is_control() || matches!(c, '"' | '=' | '\\'))
}

/// `value`, or `value` quoted with Rust's escapes (`\"`, `\\`, `\n`, `\u{1b}`…) when not plain.
pub fn quoted_unless(value: &str, plain: fn(&str) -> bool) -> Quoted<'_> {
    Quoted {
        value,
        quote: !plain(value),
    }
}

pub struct Quoted<'a> {
    value: &'a str,
    quote: bool,
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quote {
            write!(f, "{:?}", self.value)
        } else {
            f.write_str(self.value)
        }
    }
}

impl LogfmtVisitor<'_> {
    fn put(&mut self, field: &Field, value: &str) {
        // What `tracing-log` adds to a `log` record; the default format leaves it out too.
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = if field.name() == "message" {
            write!(
                self.writer,
                "{separator}{}",
                quoted_unless(value, plain_message)
            )
        } else {
            write!(
                self.writer,
                "{separator}{}={}",
                field.name(),
                quoted_unless(value, plain_value)
            )
        };
    }
}

impl Visit for LogfmtVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, &format!("{value:?}"));
    }
}

impl VisitOutput<fmt::Result> for LogfmtVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for LogfmtVisitor<'_> {
    fn writer(&mut self) -> &mut dyn Write {
        &mut self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_values_go_unquoted() {
        let shown = |v: &str| quoted_unless(v, plain_value).to_string();
        assert_eq!(shown("cycle-req-42"), "cycle-req-42");
        assert_eq!(
            shown("/v1/infrastructure/server/provision"),
            "/v1/infrastructure/server/provision"
        );
        assert_eq!(
            shown("fake\" status=200 forged=\"1"),
            r#""fake\" status=200 forged=\"1""#
        );
        assert_eq!(shown("a\nb"), r#""a\nb""#);
        assert_eq!(shown("\u{1b}[31m"), r#""\u{1b}[31m""#);
        assert_eq!(shown(""), r#""""#);
        let message = |v: &str| quoted_unless(v, plain_message).to_string();
        assert_eq!(message("serving"), "serving");
        assert_eq!(
            message("answering Cycle with an error"),
            "answering Cycle with an error"
        );
        assert_eq!(message("x=1"), r#""x=1""#);
        assert_eq!(message("two\nlines"), r#""two\nlines""#);
    }
}
