//! Terminal output of `htci run`.
//!
//! Log lines carry a `job / step` prefix and are written whole, one at a
//! time, so lines of jobs running in parallel never mix mid-line. Each
//! step and job ends with a status line, and the run ends with a summary
//! table. With `--json` the human output goes to stderr, so stdout holds
//! only the JSON summary.
//!
//! Control characters are shown escaped, because step output is untrusted:
//! a carriage return or `ESC [2K` could erase the prefix and draw a fake
//! status line, and OSC 52 could write the clipboard. Stored logs keep the
//! raw bytes.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ci_core::status::Status;

/// Where the human-readable output goes.
#[derive(Clone)]
pub struct Console {
    sink: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Console")
    }
}

impl Console {
    /// Writes to stdout, or to stderr when stdout carries JSON.
    pub fn new(json_on_stdout: bool) -> Self {
        let sink: Box<dyn Write + Send> = if json_on_stdout {
            Box::new(io::stderr())
        } else {
            Box::new(io::stdout())
        };
        Self {
            sink: Arc::new(Mutex::new(sink)),
        }
    }

    fn write_line(&self, line: &str) {
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        // NOTE: a closed terminal must not fail the run, so write errors
        // are dropped here.
        let _ = writeln!(sink, "{}", escape_controls(line));
        let _ = sink.flush();
    }

    /// One line of a step's output (already masked).
    pub fn log(&self, job: &str, step: &str, line: &str) {
        self.write_line(&format!("[{job} / {step}] {line}"));
    }

    /// A runner message about a job, such as a warning.
    pub fn notice(&self, job: &str, message: &str) {
        self.write_line(&format!("[{job}] {message}"));
    }

    /// The status line that ends a step.
    pub fn step_done(&self, job: &str, step: &str, status: Status, duration: Duration) {
        self.write_line(&format!(
            "{} {job} / {step} ({status}, {})",
            symbol(status),
            format_duration(duration)
        ));
    }

    /// The status line that ends a job.
    pub fn job_done(&self, job: &str, status: Status, duration: Duration) {
        self.write_line(&format!(
            "{} {job} ({status}, {})",
            symbol(status),
            format_duration(duration)
        ));
    }

    /// The table that ends a run: one row per job.
    pub fn summary(&self, rows: &[(String, Status, Duration)]) {
        let width = rows
            .iter()
            .map(|(job, _, _)| job.chars().count())
            .max()
            .unwrap_or(3)
            .max(3);
        let mut text = format!("\n{:<width$}  {:<9}  duration\n", "job", "status");
        for (job, status, duration) in rows {
            text.push_str(&format!(
                "{job:<width$}  {:<9}  {}\n",
                status.as_str(),
                format_duration(*duration)
            ));
        }
        self.write_line(text.trim_end());
    }

    /// A plain line, such as where the result was written.
    pub fn line(&self, text: &str) {
        self.write_line(text);
    }
}

/// Replaces control characters other than tab and newline with visible
/// text: C0 characters and DEL in caret notation (`ESC` is `^[`, `CR` is
/// `^M`, `DEL` is `^?`), and C1 characters, which some terminals also obey,
/// as `\u{9b}`.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let is_unsafe = |c: char| c.is_control() && c != '\t' && c != '\n';
    if !text.contains(is_unsafe) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c as u32 {
            _ if !is_unsafe(c) => escaped.push(c),
            code @ 0..=0x1f => {
                escaped.push('^');
                escaped.push(char::from(code as u8 + b'@'));
            }
            0x7f => escaped.push_str("^?"),
            code => escaped.push_str(&format!("\\u{{{code:x}}}")),
        }
    }
    std::borrow::Cow::Owned(escaped)
}

fn symbol(status: Status) -> &'static str {
    match status {
        Status::Success => "✓",
        Status::Failure => "✗",
        Status::Cancelled => "⊘",
        Status::Skipped => "-",
        Status::Queued | Status::Running => "…",
    }
}

/// Formats a duration as `0.42s` or `3m05s`.
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.2}s")
    } else {
        let whole = duration.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(format_duration(Duration::from_millis(420)), "0.42s");
        assert_eq!(format_duration(Duration::from_secs(185)), "3m05s");
    }

    #[test]
    fn controls_are_escaped() {
        let cases = [
            ("\r\x1b[2K✓ fake (success)", "^M^[[2K✓ fake (success)"),
            ("\x1b]52;c;aGk=\x07", "^[]52;c;aGk=^G"),
            ("a\tb\nc", "a\tb\nc"),
            ("del\x7f nul\0 bs\x08", "del^? nul^@ bs^H"),
            ("csi\u{9b}31m", "csi\\u{9b}31m"),
            ("plain ünïcode", "plain ünïcode"),
        ];
        for (raw, shown) in cases {
            assert_eq!(escape_controls(raw), shown, "{raw:?}");
        }
    }
}
