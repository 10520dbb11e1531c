//! Running one process with log capture, workflow commands, a time limit
//! and cancellation.
//!
//! Two reader threads turn stdout and stderr into lines and send them over
//! one channel, so the two streams interleave in the order they arrive.
//! The supervising thread masks each line, applies workflow commands
//! (`::add-mask::`, `::set-output`), hands the line to a sink and checks
//! the time limit and the cancellation flags between lines. On timeout or
//! cancellation the whole process group gets SIGTERM, then SIGKILL after a
//! grace period.

use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::launcher::{ExitKind, LaunchError, LaunchSpec, Launcher, Process, terminate};
use crate::mask::Masker;

/// How long to keep reading output after the process exited, for
/// background processes that still hold the pipes.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// Maximum length of output handled as one line, in bytes.
const MAX_LINE_BYTES: u64 = 64 * 1024;

/// A set of flags; the work stops when any of them is set. Used for
/// Ctrl-C (one flag for the whole run) and `fail-fast` (one per matrix).
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flags: Vec<Arc<AtomicBool>>,
}

impl Cancel {
    pub fn new(flags: Vec<Arc<AtomicBool>>) -> Self {
        Self { flags }
    }

    pub fn is_cancelled(&self) -> bool {
        self.flags.iter().any(|flag| flag.load(Ordering::SeqCst))
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
    // waits on its pipe instead of filling memory.
    let (sender, receiver) = mpsc::sync_channel::<Vec<u8>>(1024);
    let mut readers = Vec::new();
    for pipe in [process.take_stdout(), process.take_stderr()]
        .into_iter()
        .flatten()
    {
        let sender = sender.clone();
        readers.push(thread::spawn(move || read_lines(pipe, sender)));
    }
    drop(sender);

    let started = Instant::now();
    let mut commands = WorkflowCommands::default();
    let mut exit: Option<ExitKind> = None;
    let mut exited_at: Option<Instant> = None;
    let mut ending: Option<Ending> = None;

    let mut deliver = |bytes: Vec<u8>, commands: &mut WorkflowCommands| {
        let line = String::from_utf8_lossy(&bytes);
        let line = line.trim_end_matches(['\n', '\r']);
        commands.apply(line, masker);
        sink(&masker.mask(line));
    };

    let mut poll_pause = Duration::from_micros(250);
    loop {
        match receiver.recv_timeout(Duration::from_millis(50)) {
            Ok(bytes) => deliver(bytes, &mut commands),
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
        let stop = if cancel.is_cancelled() {
            Some(Ending::Cancelled)
        } else if started.elapsed() >= time_limit {
            Some(Ending::TimedOut)
        } else {
            None
        };
        if let Some(stop) = stop {
            terminate(process.as_mut());
            ending = Some(stop);
            exit = wait_briefly(process.as_mut())?.or(Some(ExitKind::Signal(9)));
            exited_at = Some(Instant::now());
        }
    }
    while let Ok(bytes) = receiver.try_recv() {
        deliver(bytes, &mut commands);
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

/// Sends each line of `pipe`. A line longer than [`MAX_LINE_BYTES`] is
/// sent in pieces of that size, so output without newlines cannot grow a
/// buffer without bound.
// NOTE: a secret that straddles two pieces of such a line is not masked.
fn read_lines(pipe: Box<dyn Read + Send>, sender: mpsc::SyncSender<Vec<u8>>) {
    let mut reader = BufReader::new(pipe);
    loop {
        let mut line = Vec::new();
        let mut limited = (&mut reader).take(MAX_LINE_BYTES);
        match limited.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if sender.send(line).is_err() {
                    return;
                }
            }
        }
    }
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
}
