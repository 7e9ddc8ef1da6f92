//! Tracing setup (`pretty` or `json` output, an `EnvFilter` level) and the conventions for what
//! may be logged: operation, resource type, status, latency, request id, application call labels.
//! Never tokens, passwords, or whole bodies: the `Authorization` header is marked sensitive in the
//! stack, and no code logs bodies.
//!
//! JSON lines are written by [`JsonLine`] and [`JsonSpanFields`] rather than tracing-subscriber's
//! own JSON formatter, which re-parses and re-serialises a span's fields on every span update and
//! every event: with one line per request that was a sixth of a proxied GET's instructions. The
//! lines look the same: `timestamp`, `level`, the event's fields, `target`, and `span` holding the
//! current span's fields and `name`. The timestamp's text up to the second is made once per
//! second, and fields are written straight into the line.

use crate::config::LogFormat;
use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the global subscriber. `RUST_LOG` wins over `level` when set. Safe to call twice (the
/// second call is ignored), which keeps tests and the demo simple.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .fmt_fields(JsonSpanFields)
            .event_format(JsonLine)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// Span fields kept as the inside of a JSON object (`"k":v,"k2":v2`): a later `record` appends,
/// and an event copies the text as it is.
pub struct JsonSpanFields;

impl<'writer> FormatFields<'writer> for JsonSpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = JsonVisitor::new(&mut writer);
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        // Appended in place: a comma before each new field when some are already there.
        let first = current.fields.is_empty();
        let mut visitor = JsonVisitor::new(&mut current.fields);
        visitor.first = first;
        fields.record(&mut visitor);
        visitor.result
    }
}

/// One JSON object per event: `timestamp`, `level`, fields, `target`, current `span`.
pub struct JsonLine;

impl<S> FormatEvent<S, JsonSpanFields> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonSpanFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut writer)?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(meta.level().as_str())?;
        writer.write_char('"')?;
        // Straight into the line: each field after a comma (the level always precedes them).
        let mut visitor = JsonVisitor::new(&mut writer);
        visitor.first = false;
        event.record(&mut visitor);
        visitor.result?;
        writer.write_str(",\"target\":")?;
        write_json_str(&mut writer, meta.target())?;
        let span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = span {
            writer.write_str(",\"span\":{")?;
            let ext = span.extensions();
            if let Some(stored) = ext.get::<FormattedFields<JsonSpanFields>>()
                && !stored.fields.is_empty()
            {
                writer.write_str(&stored.fields)?;
                writer.write_char(',')?;
            }
            writer.write_str("\"name\":")?;
            write_json_str(&mut writer, span.name())?;
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}

/// Writes fields as `"name":value` pairs separated by commas, like tracing-serde does: strings
/// and `Debug`/`Display` values as JSON strings, numbers and booleans as themselves.
struct JsonVisitor<'a, W: fmt::Write> {
    out: &'a mut W,
    first: bool,
    result: fmt::Result,
}

impl<'a, W: fmt::Write> JsonVisitor<'a, W> {
    fn new(out: &'a mut W) -> Self {
        JsonVisitor {
            out,
            first: true,
            result: Ok(()),
        }
    }

    fn key(&mut self, field: &Field) -> fmt::Result {
        if !self.first {
            self.out.write_char(',')?;
        }
        self.first = false;
        write_json_str(self.out, field.name())?;
        self.out.write_char(':')
    }

    fn put(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| value(self.out));
        }
    }
}

impl<W: fmt::Write> Visit for JsonVisitor<'_, W> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, |out| {
            out.write_char('"')?;
            write!(Escape(out), "{value:?}")?;
            out.write_char('"')
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, |out| write_json_str(out, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |out| write!(out, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity; serde_json writes null for them too.
        self.put(field, |out| {
            if value.is_finite() {
                write!(out, "{value}")
            } else {
                out.write_str("null")
            }
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, |out| {
            out.write_char('"')?;
            write!(Escape(out), "{value}")?;
            out.write_char('"')
        });
    }
}

fn write_json_str<W: fmt::Write + ?Sized>(out: &mut W, s: &str) -> fmt::Result {
    out.write_char('"')?;
    Escape(out).write_str(s)?;
    out.write_char('"')
}

/// Escapes what it is given for the inside of a JSON string.
struct Escape<'a, W: fmt::Write + ?Sized>(&'a mut W);

/// Which bytes need escaping: a table lookup per byte, so clean text (nearly all of it) costs
/// one pass and one write.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

impl<W: fmt::Write + ?Sized> fmt::Write for Escape<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if !NEEDS_ESCAPE[b as usize] {
                continue;
            }
            self.0.write_str(&s[start..i])?;
            match b {
                b'"' => self.0.write_str("\\\"")?,
                b'\\' => self.0.write_str("\\\\")?,
                b'\n' => self.0.write_str("\\n")?,
                b'\r' => self.0.write_str("\\r")?,
                b'\t' => self.0.write_str("\\t")?,
                _ => write!(self.0, "\\u{b:04x}")?,
            }
            start = i + 1;
        }
        self.0.write_str(&s[start..])
    }
}

/// The time as tracing-subscriber's `SystemTime` writes it (`2026-11-22T10:04:05.123456Z`,
/// UTC), with the part up to the seconds formatted once per second and kept per thread.
fn write_timestamp<W: fmt::Write + ?Sized>(out: &mut W) -> fmt::Result {
    use std::cell::RefCell;
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = std::time::SystemTime::now();
    let Ok(since) = now.duration_since(std::time::UNIX_EPOCH) else {
        // Before 1970: not worth a fast path.
        let mut text = String::new();
        SystemTime.format_time(&mut Writer::new(&mut text))?;
        return out.write_str(&text);
    };
    let secs = since.as_secs();
    let micros = since.subsec_micros();
    SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            cached.1.clear();
            write_utc_seconds(&mut cached.1, secs)?;
            cached.0 = secs;
        }
        out.write_str(&cached.1)
    })?;
    let mut digits = *b".000000Z";
    let mut rest = micros;
    for d in digits[1..7].iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    // Only ASCII digits and punctuation were written.
    out.write_str(std::str::from_utf8(&digits).unwrap_or(".000000Z"))
}

/// `YYYY-MM-DDTHH:MM:SS` for seconds since 1970 (UTC, proleptic Gregorian calendar); years past
/// 9999 as `+YYYYY`, like tracing-subscriber.
fn write_utc_seconds<W: fmt::Write + ?Sized>(out: &mut W, secs: u64) -> fmt::Result {
    let days = (secs / 86_400) as i64;
    let of_day = secs % 86_400;
    let (year, month, day) = crate::reload::date_of_day(days);
    if year > 9999 {
        write!(out, "+{year}")?;
    } else {
        write!(out, "{year:04}")?;
    }
    write!(
        out,
        "-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn lines(run: impl FnOnce()) -> Vec<serde_json::Value> {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .fmt_fields(JsonSpanFields)
            .event_format(JsonLine)
            .finish();
        tracing::subscriber::with_default(subscriber, run);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn event_in_a_span_carries_its_fields_and_later_records() {
        let out = lines(|| {
            let span = tracing::info_span!(
                "scim_request",
                request_id = %"r-1",
                method = "GET",
                operation = tracing::field::Empty,
                resource = tracing::field::Empty,
            );
            let _in = span.enter();
            span.record("operation", "get");
            span.record("resource", "User");
            tracing::info!(status = 200u16, latency_ms = 0.5, ok = true, "request done");
        });
        assert_eq!(out.len(), 1);
        let line = &out[0];
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "request done");
        assert_eq!(line["status"], 200);
        assert_eq!(line["latency_ms"], 0.5);
        assert_eq!(line["ok"], true);
        assert_eq!(line["target"], module_path!());
        assert_eq!(
            line["span"],
            serde_json::json!({
                "request_id": "r-1", "method": "GET", "operation": "get",
                "resource": "User", "name": "scim_request"
            })
        );
    }

    #[test]
    fn text_is_escaped_and_odd_numbers_stay_valid_json() {
        let out = lines(|| {
            let err = io::Error::other("bad \"thing\"\n");
            tracing::warn!(
                error = %err,
                dbg = ?"q\"uote",
                ratio = f64::NAN,
                n = -3i64,
                "line\tone \\ {}",
                "\u{1}"
            );
        });
        let line = &out[0];
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["error"], "bad \"thing\"\n");
        assert_eq!(line["dbg"], "\"q\\\"uote\"");
        assert_eq!(line["ratio"], serde_json::Value::Null);
        assert_eq!(line["n"], -3);
        assert_eq!(line["message"], "line\tone \\ \u{1}");
        assert!(line.get("span").is_none(), "no span, no span key");
    }

    #[test]
    fn calendar_dates_and_second_text() {
        assert_eq!(crate::reload::date_of_day(0), (1970, 1, 1));
        assert_eq!(crate::reload::date_of_day(789), (1972, 2, 29));
        assert_eq!(crate::reload::date_of_day(11016), (2000, 2, 29));
        assert_eq!(crate::reload::date_of_day(20088), (2024, 12, 31));
        assert_eq!(crate::reload::date_of_day(47541), (2100, 3, 1));
        let text = |secs| {
            let mut out = String::new();
            write_utc_seconds(&mut out, secs).unwrap();
            out
        };
        assert_eq!(text(0), "1970-01-01T00:00:00");
        assert_eq!(text(1_795_341_845), "2026-11-22T10:04:05");
        assert_eq!(text(253_402_300_799), "9999-12-31T23:59:59");
        assert_eq!(text(253_402_300_800), "+10000-01-01T00:00:00");
    }

    #[test]
    fn timestamps_read_like_tracing_subscribers() {
        // Both read the clock, so they agree up to the second unless one ran just past a second
        // boundary: a few tries make that vanishingly unlikely.
        let mut agreed = false;
        for _ in 0..5 {
            let mut theirs = String::new();
            SystemTime
                .format_time(&mut Writer::new(&mut theirs))
                .unwrap();
            let mut ours = String::new();
            write_timestamp(&mut ours).unwrap();
            assert_eq!(ours.len(), theirs.len(), "{ours} vs {theirs}");
            assert!(ours.ends_with('Z') && ours.as_bytes()[19] == b'.', "{ours}");
            assert!(ours[20..26].bytes().all(|b| b.is_ascii_digit()), "{ours}");
            if ours[..19] == theirs[..19] {
                agreed = true;
                break;
            }
        }
        assert!(agreed);
    }

    #[test]
    fn a_span_without_fields_shows_its_name_only() {
        let out = lines(|| {
            let span = tracing::info_span!("quiet");
            let _in = span.enter();
            tracing::info!("hello");
        });
        assert_eq!(out[0]["span"], serde_json::json!({"name": "quiet"}));
    }
}
