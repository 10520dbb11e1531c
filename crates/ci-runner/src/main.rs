//! `htci`: runs GitHub Actions workflows without Docker and without root,
//! signs the results with the runner's Nostr key and stores them.

// htci defines the C `main` itself; see `main` below for why. Unit tests
// keep the test harness's own.
#![cfg_attr(not(test), no_main)]

mod commands;
mod executor;
mod git;
mod launcher;
mod mask;
mod output;
mod results;
mod sandbox_launcher;
mod scheduler;
mod untrusted_fs;
mod workspace;

use std::ffi::OsStr;
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "htci", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the workflows of a repository (or one workflow file).
    Check(commands::check::CheckArgs),
    /// Evaluate one `${{ }}` expression and print the result as JSON.
    Expr(commands::expr::ExprArgs),
    /// Create this runner's identity: a Nostr key pair in runner.toml.
    Init(commands::init::InitArgs),
    /// List the stored results of a repository and verify their signatures.
    Results(commands::results::ResultsArgs),
    /// Run the workflows of a repository on this machine.
    Run(commands::run::RunArgs),
    #[command(about = SANDBOX_ABOUT)]
    Sandbox(commands::sandbox::SandboxArgs),
    /// Check the signature of a stored result file.
    Verify(commands::verify::VerifyArgs),
    /// Print this runner's npub, name and tags.
    Whoami(commands::whoami::WhoamiArgs),
}

/// Help text of `htci sandbox`, shared by both of its parsers.
const SANDBOX_ABOUT: &str = "Run one command in the sandbox (rootless namespaces, read-only root)";

/// Starts htci, in place of the start-up code that Rust runs before a
/// `fn main`.
///
/// That code reads /proc/self/maps to find the main thread's stack guard
/// and installs stack-overflow handlers, which took 0.17 ms of each start
/// of a program that does nothing (median of 500, 2-core virtual
/// machine). htci starts often: `htci sandbox` is timed against
/// bubblewrap, and the runner starts htci again for every sandboxed step.
/// So this does only what htci needs of it: SIGPIPE is ignored (writes to
/// a closed pipe fail with EPIPE), closed standard descriptors are opened
/// on /dev/null, and a panic ends htci with status 101. A stack overflow
/// then ends htci with SIGSEGV, without Rust's message.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: SIG_IGN is a valid disposition, set before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    open_closed_standard_descriptors();
    let code = std::panic::catch_unwind(run).map_or(101, exit_status);
    // Unlike a return from this function, exit flushes Rust's stdout.
    std::process::exit(code)
}

/// Opens /dev/null on each of the descriptors 0, 1 and 2 that is closed,
/// so that no file htci opens later takes their place and receives its
/// output.
#[cfg(not(test))]
fn open_closed_standard_descriptors() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is a valid array of three pollfd; a zero timeout
    // never blocks.
    if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } == -1 {
        return;
    }
    for entry in fds
        .iter()
        .filter(|entry| entry.revents & libc::POLLNVAL != 0)
    {
        // open returns the lowest free descriptor, which is this one
        // because the lower ones are open or were opened just before.
        // SAFETY: the path is a valid C string and the flags are constants.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        if fd != entry.fd {
            // SAFETY: abort takes no arguments. Output could reach a file
            // htci opens later, so htci stops here.
            unsafe { libc::abort() };
        }
    }
}

/// Returns the number behind `code`, which `ExitCode` does not expose on
/// stable Rust.
fn exit_status(code: ExitCode) -> libc::c_int {
    (0..=u8::MAX)
        .find(|value| ExitCode::from(*value) == code)
        .map_or(1, libc::c_int::from)
}

// Tests have no C `main`: naming `run` keeps the code it reaches from
// counting as unused there.
#[cfg(test)]
const _: fn() -> ExitCode = run;

fn run() -> ExitCode {
    // First, while the process has one thread: may become the sandbox init.
    ci_sandbox::init::run_if_requested();
    if std::env::args_os().nth(1).as_deref() == Some(OsStr::new("sandbox")) {
        return commands::sandbox::execute(&parse_sandbox_args());
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => commands::check::execute(&args),
        Command::Expr(args) => commands::expr::execute(&args),
        Command::Init(args) => commands::init::execute(&args),
        Command::Results(args) => commands::results::execute(&args),
        Command::Run(args) => commands::run::execute(&args),
        Command::Sandbox(args) => commands::sandbox::execute(&args),
        Command::Verify(args) => commands::verify::execute(&args),
        Command::Whoami(args) => commands::whoami::execute(&args),
    }
}

/// Parses `htci sandbox ...` with a parser of that subcommand alone.
/// `htci sandbox` is timed against bubblewrap, and building the parser of
/// every subcommand took about 0.15 ms of its start-up. Help and errors
/// read as with the whole parser.
fn parse_sandbox_args() -> commands::sandbox::SandboxArgs {
    let program = std::env::args_os()
        .next()
        .as_deref()
        .and_then(|arg0| Path::new(arg0).file_name().map(OsStr::to_owned))
        .map_or_else(
            || "htci".to_owned(),
            |name| name.to_string_lossy().into_owned(),
        );
    let command = commands::sandbox::SandboxArgs::augment_args(clap::Command::new("sandbox"))
        .bin_name(format!("{program} sandbox"))
        .about(SANDBOX_ABOUT);
    let matches = command.get_matches_from(std::env::args_os().skip(1));
    commands::sandbox::SandboxArgs::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_reads_the_code() {
        assert_eq!(exit_status(ExitCode::SUCCESS), 0);
        assert_eq!(exit_status(ExitCode::FAILURE), 1);
        assert_eq!(exit_status(ExitCode::from(125)), 125);
        assert_eq!(exit_status(ExitCode::from(255)), 255);
    }
}
