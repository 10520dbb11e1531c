//! Running one process with log capture, workflow commands, a time limit
//! and cancellation.
//!
//! Two reader threads turn stdout and stderr into lines and send them over
//! one channel, so the two streams interleave in the order they arrive.
//! The supervising thread masks each line, applies workflow commands
//! (`::add-mask::`, `::set-output`), hands the line to a sink and checks
//! the time limit and the cancellation flags between lines. On timeout or
//! cancellation the whole process group gets SIGTERM, then SIGKILL after a
//! grace period. A cleanup step (see [`Cancel::for_cleanup`]) outlives the
//! cancellation for up to [`CLEANUP_TIME`], and after [`request_stop_now`]
//! (a second Ctrl-C) every process gets SIGKILL at once.

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, LazyLock, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::launcher::{ExitKind, LaunchError, LaunchSpec, Launcher, Process, terminate};
use crate::mask::Masker;

/// How long to keep reading output after the process exited, for
/// background processes that still hold the pipes.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// Maximum length of output handled as one line, in bytes. A longer line
/// is logged as several lines of this size.
const MAX_LINE_BYTES: u64 = 64 * 1024;

/// How many pieces of output may wait between the pipe readers and the
/// log, which bounds the memory a step's output takes (about 4 MiB).
const PIECES_IN_FLIGHT: usize = 64;

/// How long steps may run after a job is cancelled: the cleanup steps
/// (`if: always()`, `if: cancelled()`) and a running step whose `if:`
/// is still true. GitHub allows the same 5 minutes before it forcibly ends
/// a cancelled job's steps (docs.github.com, "Workflow cancellation
/// reference").
pub const CLEANUP_TIME: Duration = Duration::from_secs(5 * 60);

/// Set by a second Ctrl-C: every process is killed at once and no
/// cleanup step runs.
static STOP_NOW: LazyLock<Arc<AtomicBool>> = LazyLock::new(Arc::default);

/// Makes every [`Cancel`] built with [`Cancel::new`] kill its process at
/// once, with SIGKILL and without cleanup steps.
pub fn request_stop_now() {
    STOP_NOW.store(true, Ordering::SeqCst);
}

/// The cancellation state of one job. The job is cancelled when any of
/// its flags is set: one for Ctrl-C (shared by the whole run) and one for
/// `fail-fast` (shared by a matrix). Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flags: Vec<Arc<AtomicBool>>,
    stop_now: Arc<AtomicBool>,
    /// When this job first saw the cancellation; the cleanup time counts
    /// from here.
    seen_at: Arc<OnceLock<Instant>>,
    /// Whether a process supervised with this value keeps running after
    /// the cancellation, until [`CLEANUP_TIME`] has passed.
    cleanup: bool,
}

impl Cancel {
    pub fn new(flags: Vec<Arc<AtomicBool>>) -> Self {
        Self {
            flags,
            stop_now: STOP_NOW.clone(),
            ..Self::default()
        }
    }

    /// Returns the same state for a cleanup step, which a cancellation
    /// does not stop before [`CLEANUP_TIME`] has passed.
    pub fn for_cleanup(&self) -> Self {
        Self {
            cleanup: true,
            ..self.clone()
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.stop_now() || self.flags.iter().any(|flag| flag.load(Ordering::SeqCst))
    }

    /// Returns whether processes must be killed at once (second Ctrl-C).
    pub fn stop_now(&self) -> bool {
        self.stop_now.load(Ordering::SeqCst)
    }

    /// Returns when this job first saw the cancellation, or `None` while
    /// it is not cancelled. The first call after the cancellation records
    /// the time.
    pub fn cancelled_since(&self) -> Option<Instant> {
        if !self.is_cancelled() {
            return None;
        }
        Some(*self.seen_at.get_or_init(Instant::now))
    }

    /// Returns whether this job has seen the cancellation, in a step or
    /// between steps, without recording it as [`Cancel::cancelled_since`]
    /// does.
    pub fn seen(&self) -> bool {
        self.seen_at.get().is_some()
    }

    /// Returns why a supervised process must stop now, if it must.
    fn stop_reason(&self, started: Instant, time_limit: Duration) -> Option<Ending> {
        if let Some(since) = self.cancelled_since()
            && (!self.cleanup || self.stop_now() || since.elapsed() >= CLEANUP_TIME)
        {
            return Some(Ending::Cancelled);
        }
        if started.elapsed() >= time_limit {
            return Some(Ending::TimedOut);
        }
        None
    }
}

/// The end of a supervised process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(ExitKind),
    TimedOut,
    Cancelled,
}

/// The result of running one process.
pub struct Captured {
    pub ending: Ending,
    /// The finished process, kept to kill what it left running in its
    /// group (background jobs) when the job ends.
    pub process: Box<dyn Process>,
    /// Outputs set with the deprecated `::set-output name=NAME::VALUE`.
    pub command_outputs: Vec<(String, String)>,
}

/// Runs `spec` to its end and passes every output line, masked, to `sink`.
pub fn run_captured(
    launcher: &dyn Launcher,
    spec: &LaunchSpec,
    masker: &Masker,
    time_limit: Duration,
    cancel: &Cancel,
    sink: &mut dyn FnMut(&str),
) -> Result<Captured, LaunchError> {
    let mut process = launcher.launch(spec)?;

    // Bounded, so a process that prints faster than the log is written
    // waits on its pipe instead of filling memory: at most
    // `PIECES_IN_FLIGHT` pieces of up to `MAX_LINE_BYTES` each.
    let (sender, receiver) = mpsc::sync_channel::<Piece>(PIECES_IN_FLIGHT);
    let mut readers = Vec::new();
    for (stream, pipe) in [process.take_stdout(), process.take_stderr()]
        .into_iter()
        .enumerate()
    {
        let Some(pipe) = pipe else { continue };
        let sender = sender.clone();
        readers.push(thread::spawn(move || read_lines(stream, pipe, sender)));
    }
    drop(sender);

    let started = Instant::now();
    let mut commands = WorkflowCommands::default();
    let mut exit: Option<ExitKind> = None;
    let mut exited_at: Option<Instant> = None;
    let mut ending: Option<Ending> = None;

    let mut lines = LineAssembler::default();
    let mut deliver = |piece: Piece, commands: &mut WorkflowCommands| {
        // Commands are read from the raw start of a line, before masking.
        if !lines.in_line[piece.stream.min(1)] {
            commands.apply(
                &String::from_utf8_lossy(trim_line_end(&piece.bytes)),
                masker,
            );
        }
        let text = lines.mask(&piece, masker);
        // A piece held back whole, waiting for the rest of a value, has
        // nothing to show yet.
        if !text.is_empty() || piece.line_end {
            sink(&text);
        }
    };

    let mut poll_pause = Duration::from_micros(250);
    loop {
        match receiver.recv_timeout(Duration::from_millis(50)) {
            Ok(piece) => deliver(piece, &mut commands),
            Err(RecvTimeoutError::Disconnected) if exit.is_some() => break,
            // Both pipes are closed but the process has not been reaped: it
            // is exiting, or it closed its output and runs on. Poll with a
            // growing pause, so a quick exit is seen within a millisecond
            // and a long-running process costs no CPU.
            Err(RecvTimeoutError::Disconnected) => {
                thread::sleep(poll_pause);
                poll_pause = (poll_pause * 2).min(Duration::from_millis(20));
            }
            Err(RecvTimeoutError::Timeout) => {}
        }

        if exit.is_none() {
            exit = process.try_wait()?;
            if exit.is_some() {
                exited_at = Some(Instant::now());
            }
        }
        if let Some(at) = exited_at {
            // The readers may still deliver lines, also from background
            // processes that hold the pipes; drain them for a short while.
            if at.elapsed() >= DRAIN_AFTER_EXIT {
                break;
            }
            continue;
        }

        // Checked after every line too, so a process that floods its
        // output still meets its time limit.
        if let Some(stop) = cancel.stop_reason(started, time_limit) {
            if cancel.stop_now() {
                process.signal_group(Signal::SIGKILL);
            } else {
                terminate(process.as_mut());
            }
            ending = Some(stop);
            exit = wait_briefly(process.as_mut())?.or(Some(ExitKind::Signal(9)));
            exited_at = Some(Instant::now());
        }
    }
    while let Ok(piece) = receiver.try_recv() {
        deliver(piece, &mut commands);
    }

    // A step that ended by itself while its job was being cancelled (for
    // example on the same ^C) counts as cancelled, unless it is a cleanup
    // step, which runs to its own end.
    if ending.is_none() && !cancel.cleanup && cancel.is_cancelled() {
        ending = Some(Ending::Cancelled);
    }
    let ending = ending.unwrap_or(Ending::Exited(exit.unwrap_or(ExitKind::Code(1))));
    Ok(Captured {
        ending,
        process,
        command_outputs: commands.outputs,
    })
}

/// Waits up to a second for a killed process to be reaped.
fn wait_briefly(process: &mut dyn Process) -> Result<Option<ExitKind>, LaunchError> {
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Some(exit) = process.try_wait()? {
            return Ok(Some(exit));
        }
        thread::sleep(Duration::from_millis(10));
    }
    Ok(None)
}

/// A piece of one output stream: a whole line, or part of a line longer
/// than [`MAX_LINE_BYTES`].
struct Piece {
    /// 0 for stdout, 1 for stderr.
    stream: usize,
    bytes: Vec<u8>,
    /// Whether the piece ends its line: a newline or the end of the output.
    line_end: bool,
}

/// Sends each line of `pipe`. A line longer than [`MAX_LINE_BYTES`] is
/// sent in pieces of that size, so output without newlines cannot grow a
/// buffer without bound.
fn read_lines(stream: usize, pipe: Box<dyn Read + Send>, sender: mpsc::SyncSender<Piece>) {
    let mut reader = BufReader::new(pipe);
    let mut in_line = false;
    loop {
        let mut bytes = Vec::new();
        let mut limited = (&mut reader).take(MAX_LINE_BYTES);
        let line_end = match limited.read_until(b'\n', &mut bytes) {
            // An output that ends right after a full piece still ends its
            // line, so the carry of that line is shown.
            Ok(0) | Err(_) if in_line => true,
            Ok(0) | Err(_) => return,
            Ok(read) => bytes.ends_with(b"\n") || (read as u64) < MAX_LINE_BYTES,
        };
        in_line = !line_end;
        let piece = Piece {
            stream,
            bytes,
            line_end,
        };
        if sender.send(piece).is_err() {
            return;
        }
    }
}

/// Turns the pieces of both streams into masked lines. Pieces of one
/// long line are masked together through a carry, so a secret split
/// between two pieces is still masked.
#[derive(Default)]
struct LineAssembler {
    /// Unmasked bytes held back from the last piece of each stream.
    carry: [Vec<u8>; 2],
    /// Whether the next piece of each stream continues a line.
    in_line: [bool; 2],
}

impl LineAssembler {
    /// Returns the masked text of `piece` that can be shown now.
    fn mask(&mut self, piece: &Piece, masker: &Masker) -> String {
        let stream = piece.stream.min(1);
        let starts_line = !self.in_line[stream];
        self.in_line[stream] = !piece.line_end;
        let bytes = trim_line_end(&piece.bytes);
        if starts_line && piece.line_end {
            return masker.mask(&String::from_utf8_lossy(bytes));
        }
        masker.mask_piece(&mut self.carry[stream], bytes, piece.line_end)
    }
}

fn trim_line_end(bytes: &[u8]) -> &[u8] {
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &bytes[..end]
}

/// Workflow commands seen in a step's output.
#[derive(Debug, Default)]
struct WorkflowCommands {
    outputs: Vec<(String, String)>,
}

impl WorkflowCommands {
    fn apply(&mut self, line: &str, masker: &Masker) {
        let Some(command) = line.trim_start().strip_prefix("::") else {
            return;
        };
        if let Some(value) = command.strip_prefix("add-mask::") {
            masker.add(value.trim());
        } else if let Some(rest) = command.strip_prefix("set-output name=")
            && let Some((name, value)) = rest.split_once("::")
        {
            self.outputs
                .push((name.trim().to_string(), value.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launcher::HostLauncher;

    fn spec(script: &str) -> LaunchSpec {
        LaunchSpec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            working_dir: std::env::temp_dir(),
        }
    }

    fn run(script: &str, limit: Duration) -> (Captured, Vec<String>) {
        let masker = Masker::new();
        masker.add("topsecret");
        let mut lines = Vec::new();
        let captured = run_captured(
            &HostLauncher,
            &spec(script),
            &masker,
            limit,
            &Cancel::default(),
            &mut |line| lines.push(line.to_string()),
        )
        .unwrap();
        (captured, lines)
    }

    #[test]
    fn captures_both_streams_masked() {
        let (captured, lines) = run(
            "echo out topsecret; echo err >&2; printf tail",
            Duration::from_secs(10),
        );
        assert_eq!(captured.ending, Ending::Exited(ExitKind::Code(0)));
        assert!(lines.contains(&"out ***".to_string()));
        assert!(lines.contains(&"err".to_string()));
        assert!(lines.contains(&"tail".to_string()));
    }

    #[test]
    fn add_mask_hides_later_lines() {
        let (_, lines) = run(
            "echo '::add-mask::dynamic-value'; echo dynamic-value",
            Duration::from_secs(10),
        );
        assert_eq!(lines, vec!["::add-mask::***", "***"]);
    }

    #[test]
    fn set_output_command_recorded() {
        let (captured, _) = run("echo '::set-output name=x::1 2'", Duration::from_secs(10));
        assert_eq!(captured.command_outputs, vec![("x".into(), "1 2".into())]);
    }

    #[test]
    fn time_limit_kills_group() {
        let (captured, _) = run("sleep 30 & sleep 30", Duration::from_millis(200));
        assert_eq!(captured.ending, Ending::TimedOut);
        thread::sleep(Duration::from_millis(100));
        assert!(!captured.process.group_alive());
    }

    #[test]
    fn flooding_output_meets_time_limit() {
        let masker = Masker::new();
        let mut count = 0usize;
        let captured = run_captured(
            &HostLauncher,
            &spec("yes"),
            &masker,
            Duration::from_millis(300),
            &Cancel::default(),
            &mut |_| count += 1,
        )
        .unwrap();
        assert_eq!(captured.ending, Ending::TimedOut);
        assert!(count > 0);
    }

    #[test]
    fn closed_output_still_waits_for_exit() {
        let (captured, lines) = run("exec >&- 2>&-; sleep 0.3; exit 4", Duration::from_secs(10));
        assert_eq!(captured.ending, Ending::Exited(ExitKind::Code(4)));
        assert!(lines.is_empty());
    }

    #[test]
    fn long_line_split_in_pieces() {
        let (_, lines) = run(
            "head -c 200000 /dev/zero | tr '\\0' a",
            Duration::from_secs(10),
        );
        let sizes: Vec<usize> = lines.iter().map(String::len).collect();
        assert_eq!(sizes, vec![65536, 65536, 65536, 3392]);
    }

    #[test]
    fn ignored_sigterm_gets_sigkill() {
        let (captured, _) = run("trap '' TERM; sleep 30 & wait", Duration::from_millis(100));
        assert_eq!(captured.ending, Ending::TimedOut);
        // Killed orphans are zombies until init reaps them, so allow it time.
        let deadline = Instant::now() + Duration::from_secs(5);
        while captured.process.group_alive() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(!captured.process.group_alive());
    }

    #[test]
    fn cancel_flag_stops_process() {
        let flag = Arc::new(AtomicBool::new(true));
        let captured = run_captured(
            &HostLauncher,
            &spec("sleep 30"),
            &Masker::new(),
            Duration::from_secs(60),
            &Cancel::new(vec![flag]),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(captured.ending, Ending::Cancelled);
    }

    #[test]
    fn secret_across_piece_boundary_masked() {
        // Every split of `topsecret` by the 64 KiB piece boundary.
        for before in 65528..=65536 {
            let script = format!("head -c {before} /dev/zero | tr '\\0' a; printf 'topsecret!\\n'");
            let (_, lines) = run(&script, Duration::from_secs(10));
            let joined = lines.concat();
            assert!(!joined.contains("topsecret"), "split after {before}");
            assert!(!joined.contains("topsec"), "split after {before}");
            assert!(joined.ends_with("a***!"), "split after {before}");
            assert_eq!(joined.len(), before + 4, "split after {before}");
        }
    }

    #[test]
    fn multi_line_secret_across_pieces_masked() {
        let masker = Masker::new();
        masker.add("first-part-of-it\nsecond-part-of-it");
        let mut lines = Vec::new();
        let script = "head -c 65530 /dev/zero | tr '\\0' a; \
                      printf 'first-part-of-it\\nsecond-part-of-it\\n'";
        run_captured(
            &HostLauncher,
            &spec(script),
            &masker,
            Duration::from_secs(10),
            &Cancel::default(),
            &mut |line| lines.push(line.to_string()),
        )
        .unwrap();
        let pieces: Vec<String> = lines.iter().map(|l| l.replace('a', "")).collect();
        assert_eq!(pieces, ["", "***", "***"]);
        assert_eq!(lines[0].len() + lines[1].len(), 65530 + 3);
    }

    #[test]
    fn secret_printed_by_character_masked() {
        let script = "for c in t o p s e c r e t; do printf %s $c; sleep 0.01; done; echo";
        let (_, lines) = run(script, Duration::from_secs(10));
        assert_eq!(lines, ["***"]);
    }

    #[test]
    fn output_ending_at_piece_boundary_flushes_carry() {
        // 65536 - 3 bytes of `a`, then `top`: the piece ends inside what
        // could become `topsecret`, and the output ends there.
        let (_, lines) = run(
            "head -c 65533 /dev/zero | tr '\\0' a; printf top",
            Duration::from_secs(10),
        );
        assert_eq!(lines.concat().len(), 65536);
        assert!(lines.concat().ends_with("atop"));
    }
}
