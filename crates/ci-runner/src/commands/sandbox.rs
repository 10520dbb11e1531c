//! `htci sandbox`: run one command in the sandbox, like `bwrap`.
//!
//! Standard input, output and error pass straight through. The exit code
//! is the command's, or 128 plus the signal number when a signal killed
//! it. Other codes report the sandbox itself:
//!
//! | code | meaning |
//! |------|---------|
//! | 124  | the wall-time limit killed the command |
//! | 125  | the sandbox could not be set up |
//! | 126  | the command is not executable |
//! | 127  | the command was not found |

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use ci_sandbox::{
    Bind, ExitOutcome, Limits, Network, PastaOptions, RootFs, Sandbox, SandboxConfig, SandboxError,
    StdinMode,
};
use clap::Args;

use crate::sandbox_launcher::{DEFAULT_OPEN_FILES, DEFAULT_PIDS, DEFAULT_TMP_SIZE};

/// Exit code when the sandbox could not be set up.
const SETUP_FAILED: u8 = 125;

/// Arguments of `htci sandbox`.
#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Root file system: `host` (the host's /usr, /bin, /lib and an /etc
    /// subset, read-only) or a directory holding an unpacked image.
    #[arg(long, default_value = "host", value_name = "host|DIR")]
    image: String,

    /// Network: `none` (loopback only), `host` (shared with the host) or
    /// `pasta` (user-mode networking, package passt).
    #[arg(long, default_value = "none", value_name = "none|host|pasta")]
    network: String,

    /// With `--network pasta`: a TCP port on the sandbox's loopback that
    /// is forwarded to the same port on the host's loopback. Repeatable.
    #[arg(long = "forward-tcp", value_name = "PORT")]
    forward_tcp: Vec<u16>,

    /// Host directory mounted writable at /workspace.
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,

    /// Extra bind mount `SRC:DST`, read-only, or `SRC:DST:rw`. Repeatable.
    #[arg(long = "bind", value_name = "SRC:DST[:rw]")]
    binds: Vec<String>,

    /// Wall-time limit in seconds; the whole sandbox is killed after it.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,

    /// Maximum number of processes and threads, counting the sandbox's
    /// init and pid 1. The default is the one of htci run --sandbox.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PIDS)]
    pids: u64,

    /// Maximum number of open files per process [default: 65536, or the
    /// hard limit of htci when lower, as with htci run --sandbox].
    #[arg(long = "open-files", value_name = "N")]
    open_files: Option<u64>,

    /// Memory limit in bytes (needs a usable cgroup).
    #[arg(long, value_name = "BYTES")]
    memory: Option<u64>,

    /// CPU limit as a number of cores, such as 1.5 (needs a usable cgroup).
    #[arg(long, value_name = "CORES")]
    cpus: Option<f64>,

    /// Size limit in bytes of /tmp, and separately of /home/runner. The
    /// default (1 GiB) is the one of htci run --sandbox.
    #[arg(long = "tmp-size", value_name = "BYTES", default_value_t = DEFAULT_TMP_SIZE)]
    tmp_size: u64,

    /// Seccomp policy: `default`, `strict` or the path of a policy file.
    #[arg(long, default_value = "default", value_name = "default|strict|FILE")]
    policy: String,

    /// Environment variable `K=V` for the command. Repeatable. Without
    /// any, the command gets a minimal default environment (PATH, HOME,
    /// USER, LANG); with some, it gets exactly these.
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,

    /// Working directory inside the sandbox [default: /workspace with
    /// --workspace, else /home/runner].
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,

    /// Host name inside the sandbox.
    #[arg(long, default_value = "sandbox")]
    hostname: String,

    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Runs `htci sandbox`.
pub fn execute(args: &SandboxArgs) -> ExitCode {
    let config = match build_config(args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("htci sandbox: {message}");
            return ExitCode::from(SETUP_FAILED);
        }
    };
    // The terminal sends ^C to the whole foreground process group. htci
    // ignores it and lets the sandbox's init forward it to the command,
    // so the command decides how to stop and its exit status is reported.
    ignore_terminal_signals();
    install_termination_handler();

    let spawned = Sandbox::default().start_inheriting_output(&config, &args.command);
    let child = match spawned {
        Ok(child) => child,
        Err(error) => {
            eprintln!("htci sandbox: {error}");
            return ExitCode::from(spawn_error_code(&error));
        }
    };
    forward_termination_signals_to(child.pid());
    for (limit, reason) in &child.enforcement().not_enforced {
        eprintln!("htci sandbox: warning: {limit:?} limit not enforced: {reason}");
    }
    // htci exits right after, so it need not wait for the sandbox's
    // namespaces to be torn down.
    match child.wait_detached() {
        Ok(outcome) => {
            if outcome == ExitOutcome::TimedOut {
                eprintln!("htci sandbox: command timed out and was killed");
            }
            ExitCode::from(outcome.exit_code().clamp(0, 255) as u8)
        }
        Err(error) => {
            eprintln!("htci sandbox: {error}");
            ExitCode::from(SETUP_FAILED)
        }
    }
}

/// Returns [`DEFAULT_OPEN_FILES`], lowered to the hard limit of this
/// process, which an unprivileged sandbox cannot raise.
fn default_open_files() -> u64 {
    use nix::sys::resource::{Resource, getrlimit};

    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((_, hard)) => hard.min(DEFAULT_OPEN_FILES),
        Err(_) => 1024,
    }
}

fn spawn_error_code(error: &SandboxError) -> u8 {
    match error {
        SandboxError::Exec { source, .. } if source.raw_os_error() == Some(libc::ENOENT) => 127,
        SandboxError::Exec { .. } => 126,
        _ => SETUP_FAILED,
    }
}

fn ignore_terminal_signals() {
    for signal in [libc::SIGINT, libc::SIGQUIT] {
        // SAFETY: SIG_IGN is a valid disposition; the sandbox's init resets
        // every disposition before the command runs.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
}

/// Signals that `htci sandbox` passes on to the command instead of dying:
/// the ones pid 1 forwards, except SIGINT and SIGQUIT, which a terminal
/// sends to pid 1 directly (see [`ignore_terminal_signals`]).
const TERMINATION_SIGNALS: [libc::c_int; 4] =
    [libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2];

/// Host pid of the sandbox's init, 0 until it runs.
static INIT_PID: AtomicI32 = AtomicI32::new(0);
/// A termination signal that arrived before the init ran, 0 if none.
static PENDING_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Sends the signal to the init, which passes it through pid 1 to the
/// command, or keeps it until the init runs. Only calls the
/// async-signal-safe kill(2) and atomics.
extern "C" fn forward_signal(signal: libc::c_int) {
    let pid = INIT_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe and takes integers only.
        unsafe { libc::kill(pid, signal) };
    } else {
        PENDING_SIGNAL.store(signal, Ordering::SeqCst);
    }
}

/// Installs [`forward_signal`] for SIGTERM and SIGHUP. A handler costs
/// less than a forwarding thread, and the sandbox's init resets it.
fn install_termination_handler() {
    for signal in TERMINATION_SIGNALS {
        // SAFETY: an all-zero sigaction is valid to fill in; the handler
        // only uses async-signal-safe operations; SA_RESTART keeps the
        // blocking reads of the reports going.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = forward_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Records the init's pid for the handler and passes on a signal that
/// arrived before.
fn forward_termination_signals_to(init_pid: u32) {
    INIT_PID.store(init_pid as i32, Ordering::SeqCst);
    let pending = PENDING_SIGNAL.swap(0, Ordering::SeqCst);
    if pending != 0 {
        // SAFETY: kill takes integers only.
        unsafe { libc::kill(init_pid as libc::pid_t, pending) };
    }
}

fn build_config(args: &SandboxArgs) -> Result<SandboxConfig, String> {
    let mut config = SandboxConfig {
        root: match args.image.as_str() {
            "host" => RootFs::Host,
            dir => RootFs::Dir(PathBuf::from(dir)),
        },
        workspace: args.workspace.clone(),
        hostname: args.hostname.clone(),
        seccomp_policy: args.policy.clone(),
        stdin: StdinMode::Inherit,
        network: parse_network(&args.network, &args.forward_tcp)?,
        limits: Limits {
            wall_time: args.timeout.map(parse_timeout).transpose()?,
            pids: Some(args.pids),
            open_files: Some(args.open_files.unwrap_or_else(default_open_files)),
            tmp_size_bytes: Some(args.tmp_size),
            memory_bytes: args.memory,
            cpu_quota: args.cpus,
        },
        // Without a home directory each sandbox writes its /etc itself.
        etc_cache: ci_core::dirs::sandbox_etc_cache().ok(),
        ..SandboxConfig::default()
    };
    if args.workspace.is_some() {
        config.cwd = PathBuf::from(ci_sandbox::config::WORKSPACE_DIR);
    }
    if let Some(cwd) = &args.cwd {
        config.cwd = cwd.clone();
    }
    if !args.env.is_empty() {
        config.env = args
            .env
            .iter()
            .map(|kv| parse_env(kv))
            .collect::<Result<_, _>>()?;
    }
    config.binds = args
        .binds
        .iter()
        .map(|b| parse_bind(b))
        .collect::<Result<_, _>>()?;
    Ok(config)
}

fn parse_network(name: &str, forward_tcp: &[u16]) -> Result<Network, String> {
    let network = match name {
        "none" => Network::None,
        "host" => Network::Host,
        "pasta" => Network::Pasta(PastaOptions {
            host_loopback_tcp_ports: forward_tcp.to_vec(),
        }),
        other => {
            return Err(format!(
                "invalid --network {other:?}: expected none, host or pasta"
            ));
        }
    };
    if !forward_tcp.is_empty() && !matches!(network, Network::Pasta(_)) {
        return Err("--forward-tcp needs --network pasta".to_owned());
    }
    Ok(network)
}

fn parse_timeout(seconds: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            format!("invalid --timeout {seconds}: expected a positive number of seconds")
        })
}

fn parse_env(pair: &str) -> Result<(String, String), String> {
    match pair.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("invalid --env {pair:?}: expected NAME=VALUE")),
    }
}

fn parse_bind(spec: &str) -> Result<Bind, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, writable) = match parts.as_slice() {
        [source, target] => (source, target, false),
        [source, target, "rw"] => (source, target, true),
        [source, target, "ro"] => (source, target, false),
        _ => {
            return Err(format!(
                "invalid --bind {spec:?}: expected SRC:DST or SRC:DST:rw"
            ));
        }
    };
    Ok(Bind {
        source: PathBuf::from(source),
        target: PathBuf::from(target),
        writable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_spec_with_rw_is_writable() {
        let bind = parse_bind("/src:/dst:rw").unwrap();
        assert_eq!(bind.source, PathBuf::from("/src"));
        assert_eq!(bind.target, PathBuf::from("/dst"));
        assert!(bind.writable);
        assert!(!parse_bind("/src:/dst").unwrap().writable);
    }

    #[test]
    fn bind_spec_with_bad_mode_is_rejected() {
        let error = parse_bind("/a:/b:rx").unwrap_err();
        assert!(error.contains("/a:/b:rx"), "{error}");
    }

    #[test]
    fn env_without_equals_is_rejected() {
        assert!(parse_env("FOO").is_err());
        assert_eq!(
            parse_env("A=b=c").unwrap(),
            ("A".to_owned(), "b=c".to_owned())
        );
    }

    #[test]
    fn unknown_network_is_rejected() {
        let error = parse_network("wifi", &[]).unwrap_err();
        assert!(error.contains("\"wifi\""), "{error}");
    }

    /// Parses `htci sandbox ARGS` the way the command line does.
    fn parse_args(args: &[&str]) -> SandboxArgs {
        use clap::{FromArgMatches, Parser};

        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            sandbox: SandboxArgs,
        }
        let matches = <Cli as clap::CommandFactory>::command()
            .get_matches_from(std::iter::once("sandbox").chain(args.iter().copied()));
        Cli::from_arg_matches(&matches).unwrap().sandbox
    }

    #[test]
    fn limits_default_to_run_sandbox() {
        let config = build_config(&parse_args(&["--", "true"])).unwrap();
        assert_eq!(config.limits.pids, Some(4096));
        assert_eq!(config.limits.tmp_size_bytes, Some(1 << 30));
        assert_eq!(config.limits.open_files, Some(default_open_files()));
        assert!(default_open_files() <= 65536);

        let config = build_config(&parse_args(&[
            "--pids",
            "64",
            "--open-files",
            "100",
            "--tmp-size",
            "4096",
            "--",
            "true",
        ]))
        .unwrap();
        assert_eq!(config.limits.pids, Some(64));
        assert_eq!(config.limits.open_files, Some(100));
        assert_eq!(config.limits.tmp_size_bytes, Some(4096));
    }

    #[test]
    fn zero_timeout_is_rejected() {
        assert!(parse_timeout(0.0).is_err());
        assert_eq!(parse_timeout(1.5).unwrap(), Duration::from_millis(1500));
    }
}
