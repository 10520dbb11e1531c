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

    let (sender, receiver) = mpsc::channel::<Vec<u8>>();
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

    loop {
        match receiver.recv_timeout(Duration::from_millis(50)) {
            Ok(bytes) => {
                let line = String::from_utf8_lossy(&bytes);
                let line = line.trim_end_matches(['\n', '\r']);
                commands.apply(line, masker);
                sink(&masker.mask(line));
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                if exit.is_some() {
                    break;
                }
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
            if at.elapsed() >= DRAIN_AFTER_EXIT {
                break;
            }
            // The readers may still be delivering lines; keep draining.
            thread::sleep(Duration::from_millis(5));
            continue;
        }

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

    // Wait for the final exit status if the loop ended on drained pipes.
    while exit.is_none() {
        exit = process.try_wait()?;
        thread::sleep(Duration::from_millis(5));
    }
    while let Ok(bytes) = receiver.try_recv() {
        let line = String::from_utf8_lossy(&bytes);
        let line = line.trim_end_matches(['\n', '\r']);
        commands.apply(line, masker);
        sink(&masker.mask(line));
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

fn read_lines(pipe: Box<dyn Read + Send>, sender: mpsc::Sender<Vec<u8>>) {
    let mut reader = BufReader::new(pipe);
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
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
