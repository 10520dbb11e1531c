//! Functional tests of `htci sandbox` through the real binary.
//!
//! They run as whichever user runs the test binary: CI runs them once as
//! root and once as an unprivileged user with `HTCI_BIN` pointing to a
//! copied `htci`. Every directory they use is a temporary directory owned
//! by that user.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

fn htci() -> PathBuf {
    std::env::var_os("HTCI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_htci")))
}

/// Runs `htci sandbox ARGS` with stdin from /dev/null.
fn sandbox(args: &[&str]) -> Output {
    Command::new(htci())
        .arg("sandbox")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("htci runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs a shell script in the sandbox and returns its output, failing the
/// test when the sandbox or the script fails.
fn sh(extra: &[&str], script: &str) -> String {
    let mut args: Vec<&str> = extra.to_vec();
    args.extend(["--", "sh", "-c", script]);
    let output = sandbox(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "script {script:?} failed\nstdout: {}\nstderr: {}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// Creates a temporary directory that the sandbox's user can write to.
fn temp_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn uid_and_gid_are_1000() {
    assert_eq!(sh(&[], "id -u; id -g; id -un"), "1000\n1000\nrunner\n");
}

#[test]
fn hostname_is_configured() {
    assert_eq!(
        sh(&["--hostname", "ci-box"], "hostname; cat /etc/hostname"),
        "ci-box\nci-box\n"
    );
}

#[test]
fn network_none_has_only_loopback() {
    let out = sh(&[], "cat /proc/net/dev");
    let interfaces: Vec<&str> = out
        .lines()
        .filter_map(|line| line.split_once(':').map(|(name, _)| name.trim()))
        .collect();
    assert_eq!(interfaces, vec!["lo"], "{out}");
}

#[test]
fn network_host_shares_interfaces_without_sys() {
    let out = sh(
        &["--network", "host"],
        "cat /proc/net/dev; test -e /sys || echo no-sys",
    );
    let host_interfaces = fs::read_to_string("/proc/net/dev").unwrap().lines().count();
    assert_eq!(out.lines().count(), host_interfaces + 1, "{out}");
    assert!(out.ends_with("no-sys\n"), "{out}");
}

#[test]
fn open_files_limit_is_set() {
    assert_eq!(sh(&["--open-files", "64"], "ulimit -n"), "64\n");
}

#[test]
fn cwd_is_configured() {
    assert_eq!(sh(&["--cwd", "/tmp"], "pwd"), "/tmp\n");
}

#[test]
fn pseudo_terminal_comes_from_private_devpts() {
    let output = sandbox(&[
        "--",
        "python3",
        "-c",
        "import os, pty; m, s = pty.openpty(); print(os.ttyname(s))",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "/dev/pts/0\n");
}

#[test]
fn root_is_read_only() {
    let out = sh(
        &[],
        "for p in /x /etc/x /usr/x /home/x; do touch $p 2>&1; echo rc=$?; done",
    );
    assert_eq!(out.matches("Read-only file system").count(), 4, "{out}");
    assert_eq!(out.matches("rc=1").count(), 4, "{out}");
}

#[test]
fn workspace_tmp_and_home_are_writable() {
    let workspace = temp_dir();
    fs::write(workspace.path().join("input.txt"), "from host\n").unwrap();
    let workspace_arg = workspace.path().to_str().unwrap();
    let out = sh(
        &["--workspace", workspace_arg],
        "pwd; cat input.txt; echo from sandbox > output.txt; \
         echo t > /tmp/t && cat /tmp/t; echo h > ~/h && cat ~/h",
    );
    assert_eq!(out, "/workspace\nfrom host\nt\nh\n");
    let written = fs::read_to_string(workspace.path().join("output.txt")).unwrap();
    assert_eq!(written, "from sandbox\n");
}

#[test]
fn read_only_bind_rejects_writes() {
    let data = temp_dir();
    fs::write(data.path().join("f"), "data\n").unwrap();
    let bind = format!("{}:/data", data.path().display());
    let out = sh(
        &["--bind", &bind],
        "cat /data/f; touch /data/g 2>&1; echo rc=$?",
    );
    assert_eq!(
        out,
        "data\ntouch: cannot touch '/data/g': Read-only file system\nrc=1\n"
    );
}

#[test]
fn writable_bind_accepts_writes() {
    let data = temp_dir();
    let bind = format!("{}:/data:rw", data.path().display());
    sh(&["--bind", &bind], "echo w > /data/g");
    assert_eq!(fs::read_to_string(data.path().join("g")).unwrap(), "w\n");
}

#[test]
fn symlinked_workspace_is_resolved() {
    let dir = temp_dir();
    let real = dir.path().join("real");
    fs::create_dir(&real).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(real.join("f"), "through the link\n").unwrap();
    // An absolute link: it would resolve against the staging root, not
    // the host, if the sandbox did not resolve it first.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();

    let out = sh(&["--workspace", link.to_str().unwrap()], "cat /workspace/f");
    assert_eq!(out, "through the link\n");
}

#[test]
fn read_only_bind_submounts_are_read_only() {
    // The host's /sys has mounts below it (such as /sys/fs/cgroup). A
    // read-only bind must make each of them read-only too, or a write
    // through one of them would reach the host.
    let out = sh(
        &["--bind", "/sys:/hostsys"],
        "grep ' /hostsys' /proc/self/mountinfo | cut -d' ' -f5,6",
    );
    let mounts: Vec<&str> = out.lines().collect();
    assert!(mounts.len() > 1, "no mounts below /hostsys: {out}");
    for line in mounts {
        let (point, options) = line.split_once(' ').unwrap();
        let flags: Vec<&str> = options.split(',').collect();
        assert!(flags.contains(&"ro"), "{point} is writable: {options}");
        assert!(
            flags.contains(&"nosuid"),
            "{point} allows set-id: {options}"
        );
        assert!(
            flags.contains(&"nodev"),
            "{point} allows devices: {options}"
        );
    }
}

#[test]
fn single_file_bind_is_read_only() {
    let dir = temp_dir();
    let file = dir.path().join("config.toml");
    fs::write(&file, "key = 1\n").unwrap();
    let bind = format!("{}:/opt/config.toml", file.display());
    let out = sh(
        &["--bind", &bind],
        "cat /opt/config.toml; { echo x >> /opt/config.toml; } 2>&1; echo rc=$?",
    );
    assert!(out.starts_with("key = 1\n"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.ends_with("rc=2\n"), "{out}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "key = 1\n");
}

#[test]
fn host_secrets_in_etc_are_absent() {
    let out = sh(
        &[],
        "for f in shadow gshadow sudoers machine-id; do test -e /etc/$f && echo present $f; done; echo done",
    );
    assert_eq!(out, "done\n");
}

/// Runs `htci sandbox` with `HOME` unset and `XDG_CACHE_HOME` set to
/// `cache`, or unset too when `cache` is `None` (no cache then).
fn sandbox_with_cache(cache: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(htci());
    command.arg("sandbox").args(args).stdin(Stdio::null());
    command.env_remove("HOME").env_remove("XDG_CACHE_HOME");
    if let Some(cache) = cache {
        command.env("XDG_CACHE_HOME", cache);
    }
    command.output().expect("htci runs")
}

/// Returns the names of the cache entries `htci sandbox` made under `cache`.
fn etc_cache_entries(cache: &Path) -> Vec<String> {
    let dir = cache.join("hashtree-ci/sandbox-etc");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn cached_etc_equals_etc_written_in_place() {
    // Names, types, modes, owners, sizes and link targets of /etc, and
    // the contents of the generated and copied files.
    let script = "cd /etc && ls -l | awk '{print $1, $3, $4, $5, $9, $10, $11}' \
                  && cat passwd group hostname hosts";
    let cache = temp_dir();
    let cached = sandbox_with_cache(Some(cache.path()), &["--", "sh", "-c", script]);
    let in_place = sandbox_with_cache(None, &["--", "sh", "-c", script]);
    assert_eq!(cached.status.code(), Some(0), "{}", stderr(&cached));
    assert_eq!(in_place.status.code(), Some(0), "{}", stderr(&in_place));
    assert_eq!(stdout(&cached), stdout(&in_place));
    assert!(stdout(&cached).contains("runner:x:1000:1000:"));
    assert_eq!(etc_cache_entries(cache.path()).len(), 1);
}

#[test]
fn etc_cache_is_reused_and_read_only() {
    let cache = temp_dir();
    let script = "touch /etc/planted 2>&1; echo rc=$?";
    let first = sandbox_with_cache(Some(cache.path()), &["--", "sh", "-c", script]);
    let second = sandbox_with_cache(Some(cache.path()), &["--", "sh", "-c", script]);
    for output in [&first, &second] {
        assert_eq!(
            stdout(output),
            "touch: cannot touch '/etc/planted': Read-only file system\nrc=1\n"
        );
    }
    let entries = etc_cache_entries(cache.path());
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].starts_with("etc-"), "{entries:?}");

    // Another host name is other generated contents: a second entry.
    let renamed = sandbox_with_cache(
        Some(cache.path()),
        &["--hostname", "other", "--", "cat", "/etc/hostname"],
    );
    assert_eq!(stdout(&renamed), "other\n");
    assert_eq!(etc_cache_entries(cache.path()).len(), 2);
}

#[test]
fn tmp_size_limit_is_enforced() {
    let out = sh(
        &["--tmp-size", "1048576"],
        "dd if=/dev/zero of=/tmp/big bs=4096 count=1024 2>&1; echo rc=$?",
    );
    assert!(out.contains("No space left on device"), "{out}");
    assert!(out.ends_with("rc=1\n"), "{out}");
}

/// Returns the paths of `candidates` that exist in the host's /proc,
/// because kernels differ (one without CONFIG_PROC_KCORE has no kcore).
fn existing_on_host(candidates: &[&'static str]) -> Vec<&'static str> {
    let existing: Vec<_> = candidates
        .iter()
        .copied()
        .filter(|p| Path::new(p).exists())
        .collect();
    assert!(
        !existing.is_empty(),
        "none of {candidates:?} exists on this host"
    );
    existing
}

#[test]
fn proc_masked_paths_are_empty() {
    let paths = existing_on_host(&[
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/proc/latency_stats",
        "/proc/timer_stats",
    ]);
    let out = sh(&[], &format!("wc -c {}", paths.join(" ")));
    for path in paths {
        assert!(
            out.contains(&format!("0 {path}\n")),
            "{path} not empty: {out}"
        );
    }
}

#[test]
fn proc_sys_and_sysrq_are_read_only() {
    let paths = existing_on_host(&["/proc/sys/kernel/hostname", "/proc/sysrq-trigger"]);
    let script: String = paths
        .iter()
        .map(|p| format!("echo x 2>&1 > {p}; echo rc=$?; "))
        .collect();
    let out = sh(&[], &script);
    assert_eq!(
        out.matches("Read-only file system").count(),
        paths.len(),
        "{out}"
    );
    assert_eq!(out.matches("rc=2").count(), paths.len(), "{out}");
}

#[test]
fn pid_namespace_shows_only_the_sandbox() {
    // The shell is pid 2: pid 1 is the sandbox's reaper.
    let out = sh(&[], "echo $$; set -- /proc/[0-9]*; echo $#");
    assert_eq!(out, "2\n2\n");
}

#[test]
fn exit_code_passes_through() {
    let output = sandbox(&["--", "sh", "-c", "exit 42"]);
    assert_eq!(output.status.code(), Some(42));
}

#[test]
fn signal_death_is_128_plus_signal() {
    let output = sandbox(&["--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(output.status.code(), Some(128 + 15));
}

#[test]
fn missing_command_exits_127() {
    let output = sandbox(&["--", "no-such-command-xyz"]);
    assert_eq!(output.status.code(), Some(127));
    assert!(
        stderr(&output).contains("no-such-command-xyz"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn invalid_workspace_is_a_setup_error() {
    let output = sandbox(&["--workspace", "/nonexistent/ws", "--", "true"]);
    assert_eq!(output.status.code(), Some(125));
    let message = stderr(&output);
    assert!(
        message.contains("workspace /nonexistent/ws does not exist"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
}

#[test]
fn env_is_exactly_the_configured_one() {
    let output = Command::new(htci())
        .args([
            "sandbox",
            "--env",
            "A=1",
            "--env",
            "B=two words",
            "--",
            "/usr/bin/env",
        ])
        .env("HTCI_TEST_LEAK", "secret")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(stdout(&output), "A=1\nB=two words\n");
}

#[test]
fn default_env_has_path_and_home() {
    let output = sandbox(&["--", "/usr/bin/env"]);
    assert_eq!(
        stdout(&output),
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
         HOME=/home/runner\nUSER=runner\nLOGNAME=runner\nSHELL=/bin/sh\nLANG=C.UTF-8\n"
    );
}

#[test]
fn wall_time_limit_kills_the_command() {
    let output = sandbox(&["--timeout", "1", "--", "sleep", "60"]);
    assert_eq!(output.status.code(), Some(124));
    assert!(stderr(&output).contains("timed out"), "{}", stderr(&output));
}

#[test]
fn background_processes_die_with_the_command() {
    let workspace = temp_dir();
    let workspace_arg = workspace.path().to_str().unwrap();
    let out = sh(
        &["--workspace", workspace_arg],
        "(sleep 1; touch /workspace/child-marker) & \
         setsid sh -c 'sleep 1; touch /workspace/daemon-marker' & \
         echo started",
    );
    assert_eq!(out, "started\n");
    thread::sleep(Duration::from_secs(3));
    assert!(
        !workspace.path().join("child-marker").exists(),
        "background child survived"
    );
    assert!(
        !workspace.path().join("daemon-marker").exists(),
        "setsid daemon survived"
    );
}

/// Runs `script` as a file in a fresh workspace, so that its quoting
/// stays readable.
fn run_script(extra: &[&str], script: &str) -> Output {
    let workspace = temp_dir();
    fs::write(workspace.path().join("script.sh"), script).unwrap();
    let workspace_arg = workspace.path().to_str().unwrap();
    let mut args = vec!["--workspace", workspace_arg];
    args.extend(extra);
    args.extend(["--", "sh", "script.sh"]);
    sandbox(&args)
}

#[test]
fn pids_limit_caps_concurrent_processes() {
    // The inner shell starts sleeps until fork fails (dash then exits);
    // the outer shell counts the live processes with a glob, which does
    // not fork. Pids counted: init, pid 1, both shells and the sleeps.
    let output = run_script(
        &["--pids", "16", "--timeout", "60"],
        "sh -c 'for i in $(seq 1 60); do sleep 30 & done' 2>/dev/null\n\
         set -- /proc/[0-9]*; echo $#\n",
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    let count: u32 = out
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {out}"));
    assert!(count <= 16, "{count} processes run under a limit of 16");
    assert!(count >= 8, "only {count} processes started");
}

#[test]
fn fork_bomb_is_contained() {
    // Every process forks copies of itself forever; with no limit this
    // would exhaust the host. The limit makes fork fail ("Cannot fork"),
    // the sandbox finishes, and the command's exit kills what is left.
    // Bomb processes whose fork failed exit and others take their place,
    // so a glob over /proc could list one that died and its successor.
    // Stopping every other process first (kill -1 spares the caller and
    // pid 1, and a fork racing the signal is restarted) freezes the set.
    let output = run_script(
        &["--pids", "64", "--timeout", "60"],
        "sh -c 'b() { while :; do b & done; }; b' &\n\
         i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done\n\
         kill -s STOP -- -1; kill -s STOP -- -1\n\
         set -- /proc/[0-9]*; echo $#\n",
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("Cannot fork"),
        "the limit was never reached"
    );
    let out = stdout(&output);
    let count: u32 = out
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {out}"));
    assert!(count <= 64, "{count} processes run under a limit of 64");
}

#[test]
fn command_starts_with_no_ignored_or_blocked_signal() {
    // htci ignores SIGPIPE (Rust does) and SIGINT, and the caller here
    // ignores SIGHUP and SIGUSR1, which execve would pass on. The command
    // must start with every signal at its default action.
    let output = Command::new("sh")
        .arg("-c")
        .arg("trap '' HUP USR1; exec \"$0\" sandbox -- grep -E '^Sig(Ign|Blk)' /proc/self/status")
        .arg(htci())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
}

#[test]
fn help_and_usage_errors_name_the_subcommand() {
    let help = sandbox(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = stdout(&help);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("Run one command in the sandbox (rootless namespaces, read-only root)")
    );
    assert_eq!(lines.next(), Some(""));
    assert_eq!(
        lines.next(),
        Some("Usage: htci sandbox [OPTIONS] -- <COMMAND>...")
    );

    let missing = sandbox(&[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("Usage: htci sandbox -- <COMMAND>..."),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn sandbox_has_no_capabilities() {
    let out = sh(&[], "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status");
    assert_eq!(out.matches("0000000000000000").count(), 5, "{out}");
}

#[test]
fn pasta_forwards_to_a_host_loopback_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut received = String::new();
        stream.read_to_string(&mut received).unwrap();
        received
    });

    let script = format!("echo hello-from-sandbox > /dev/tcp/127.0.0.1/{port}");
    let port_arg = port.to_string();
    let output = sandbox(&[
        "--network",
        "pasta",
        "--forward-tcp",
        &port_arg,
        "--",
        "bash",
        "-c",
        &script,
    ]);
    // Hosts without passt, or with /dev/net/tun closed to this user, must
    // get a clear error naming the fix instead.
    let expected_error = if which("pasta").is_none() {
        Some("install the passt package")
    } else if !tun_is_accessible() {
        Some("access to /dev/net/tun")
    } else {
        None
    };
    if let Some(expected) = expected_error {
        assert_eq!(output.status.code(), Some(125));
        assert!(stderr(&output).contains(expected), "{}", stderr(&output));
        // Unblock the listener thread.
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(b"no pasta").unwrap();
        drop(stream);
        server.join().unwrap();
        return;
    }
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(server.join().unwrap(), "hello-from-sandbox\n");
    let pasta_left = processes_with_argument(&format!("{port}"));
    assert_eq!(pasta_left, 0, "a pasta process outlived its sandbox");
}

/// Counts the `pasta` processes with `needle` among their arguments.
fn processes_with_argument(needle: &str) -> usize {
    let Ok(entries) = fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|entry| fs::read(entry.ok()?.path().join("cmdline")).ok())
        .filter(|cmdline| {
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let is_pasta = args.first().is_some_and(|a| a.ends_with(b"pasta"));
            is_pasta && args.contains(&needle.as_bytes())
        })
        .count()
}

fn tun_is_accessible() -> bool {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .is_ok()
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Builds a tiny image: /bin/sh with the libraries it links, and an
/// /etc/passwd whose uid 1000 belongs to another user.
fn tiny_image() -> tempfile::TempDir {
    let image = temp_dir();
    let root = image.path();
    let copy = |host: &str| {
        let target = root.join(host.trim_start_matches('/'));
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(host, &target).unwrap_or_else(|e| panic!("copy {host}: {e}"));
    };
    copy("/bin/sh");
    let ldd = Command::new("ldd").arg("/bin/sh").output().unwrap();
    for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        if word.starts_with('/') && Path::new(word).exists() {
            copy(word);
        }
    }
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\nold:x:1000:1000::/home/old:/bin/sh\n",
    )
    .unwrap();
    fs::write(root.join("etc/image-marker"), "tiny\n").unwrap();
    image
}

#[test]
fn directory_image_becomes_the_root() {
    let image = tiny_image();
    let image_arg = image.path().to_str().unwrap();
    let output = sandbox(&[
        "--image",
        image_arg,
        "--",
        "/bin/sh",
        "-c",
        "read m < /etc/image-marker; echo $m; while read l; do echo $l; done < /etc/passwd; \
         test -e /usr/bin/env && echo host-visible; echo done",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "tiny\nroot:x:0:0::/root:/bin/sh\nrunner:x:1000:1000:runner:/home/runner:/bin/bash\ndone\n"
    );
}

#[test]
fn killed_runner_takes_the_sandbox_down() {
    let workspace = temp_dir();
    let mut htci_process = Command::new(htci())
        .args([
            "sandbox",
            "--workspace",
            workspace.path().to_str().unwrap(),
            "--",
        ])
        .args(["sh", "-c", "echo started; sleep 2; touch /workspace/marker"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = [0u8; 8];
    htci_process
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first_line)
        .unwrap();
    assert_eq!(&first_line, b"started\n");

    htci_process.kill().unwrap();
    htci_process.wait().unwrap();
    thread::sleep(Duration::from_secs(3));
    assert!(
        !workspace.path().join("marker").exists(),
        "the command outlived a killed htci"
    );
}

/// Starts `htci sandbox` with a shell that traps `trap_name` by printing
/// `word` and exiting with `code`, sends `signal` to htci once the shell
/// is ready, and returns what the shell printed then and htci's exit code.
fn send_trapped_signal(
    signal: libc::c_int,
    trap_name: &str,
    word: &str,
    code: i32,
) -> (String, Option<i32>) {
    let script = format!(
        "trap 'echo {word}; exit {code}' {trap_name}; echo ready; while :; do sleep 0.1; done"
    );
    let mut htci_process = Command::new(htci())
        .args(["sandbox", "--", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout_pipe = htci_process.stdout.take().unwrap();
    let mut ready = [0u8; 6];
    stdout_pipe.read_exact(&mut ready).unwrap();
    assert_eq!(&ready, b"ready\n");

    // SAFETY: kill takes integers only; the pid is our own child.
    unsafe { libc::kill(htci_process.id() as libc::pid_t, signal) };
    let status = htci_process.wait().unwrap();
    let mut rest = String::new();
    stdout_pipe.read_to_string(&mut rest).unwrap();
    (rest, status.code())
}

#[test]
fn sigterm_is_forwarded_to_the_command() {
    let (output, code) = send_trapped_signal(libc::SIGTERM, "TERM", "got-term", 7);
    assert_eq!(output, "got-term\n");
    assert_eq!(code, Some(7));
}

#[test]
fn user_signals_are_forwarded_to_the_command() {
    for (signal, name) in [(libc::SIGUSR1, "USR1"), (libc::SIGUSR2, "USR2")] {
        let word = format!("got-{name}");
        let (output, code) = send_trapped_signal(signal, name, &word, 5);
        assert_eq!(output, format!("{word}\n"));
        assert_eq!(code, Some(5), "{name}");
    }
}

#[test]
fn ctrl_c_reaches_the_command() {
    // A terminal sends ^C (SIGINT) to the whole foreground process group:
    // htci ignores it and the sandbox's init forwards it to the command.
    let mut htci_process = Command::new(htci())
        .args(["sandbox", "--", "sh", "-c"])
        .arg("trap 'echo got-int; exit 5' INT; echo ready; while :; do sleep 0.1; done")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout_pipe = htci_process.stdout.take().unwrap();
    let mut ready = [0u8; 6];
    stdout_pipe.read_exact(&mut ready).unwrap();
    assert_eq!(&ready, b"ready\n");

    let group = htci_process.id() as libc::pid_t;
    // SAFETY: kill takes integers only; the group is our child's.
    unsafe { libc::kill(-group, libc::SIGINT) };
    let status = htci_process.wait().unwrap();
    let mut rest = String::new();
    stdout_pipe.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "got-int\n");
    assert_eq!(status.code(), Some(5));
}

#[test]
fn policy_file_from_the_host_is_applied() {
    let dir = temp_dir();
    let policy = dir.path().join("no-mkdir.json");
    let filter = r#"{ "mismatch_action": "allow", "match_action": { "errno": 1 },
        "filter": [ { "syscall": "mkdir" }, { "syscall": "mkdirat" } ] }"#;
    fs::write(
        &policy,
        format!(r#"{{ "x86_64.no_mkdir": {filter}, "aarch64.no_mkdir": {filter} }}"#),
    )
    .unwrap();

    let policy_arg = policy.to_str().unwrap();
    let out = sh(
        &["--policy", policy_arg],
        "mkdir /tmp/d 2>&1; echo rc=$?; touch /tmp/f && echo touched",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].ends_with("Operation not permitted"), "{out}");
    assert_eq!(lines[1], "rc=1");
    assert_eq!(lines[2], "touched");
}

#[test]
fn pid1_command_line_hides_runner_arguments() {
    let workspace = temp_dir();
    let workspace_arg = workspace.path().to_str().unwrap();
    let out = sh(
        &["--workspace", workspace_arg, "--env", "TOKEN=value-xyz-123"],
        "tr '\\0' ' ' < /proc/1/cmdline",
    );
    assert_eq!(out.trim_end(), "__sandbox-init", "{out:?}");
}

#[test]
fn pid1_exe_is_not_reachable() {
    // CVE-2019-5736: the htci binary behind /proc/1/exe must stay out of
    // reach of the sandboxed command.
    let out = sh(
        &[],
        "cat /proc/1/exe 2>&1 > /dev/null; echo rc=$?; cat /proc/1/environ 2>&1 > /dev/null; echo rc=$?",
    );
    assert_eq!(out.matches("Permission denied").count(), 2, "{out}");
    assert!(out.ends_with("rc=1\n"), "{out}");
}

#[test]
fn only_standard_descriptors_are_inherited() {
    // ls's own directory descriptor is 3.
    assert_eq!(sh(&[], "ls -1 /proc/self/fd"), "0\n1\n2\n3\n");
}

#[test]
fn memory_limit_is_enforced_or_reported() {
    let output = sandbox(&[
        "--memory",
        "67108864",
        "--",
        "python3",
        "-c",
        "b = bytearray(512 << 20); print('allocated')",
    ]);
    let cgroup_memory = match ci_sandbox::probe().cgroups {
        ci_sandbox::CgroupSupport::V1Root { controllers }
        | ci_sandbox::CgroupSupport::V2Delegated { controllers, .. } => {
            controllers.iter().any(|c| c == "memory")
        }
        ci_sandbox::CgroupSupport::Unavailable { .. } => false,
    };
    if cgroup_memory {
        assert_eq!(output.status.code(), Some(128 + 9), "{}", stderr(&output));
        assert_eq!(stdout(&output), "");
    } else {
        assert!(
            stderr(&output).contains("Memory limit not enforced"),
            "{}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), "allocated\n");
    }
}

mod api {
    use super::*;
    use ci_sandbox::{
        ExitOutcome, LimitKind, Limits, Sandbox, SandboxConfig, SandboxError, StdinMode,
    };

    fn launcher() -> Sandbox {
        Sandbox::with_init_exe(htci())
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn piped_stdio_round_trips() {
        let config = SandboxConfig {
            stdin: StdinMode::Piped,
            ..SandboxConfig::default()
        };
        let script = argv(&["sh", "-c", "cat; echo err >&2"]);
        let mut child = launcher()
            .start(&config, &script, Stdio::piped(), Stdio::piped())
            .unwrap();
        child
            .take_stdin()
            .unwrap()
            .write_all(b"to stdin\n")
            .unwrap();
        let mut out = String::new();
        child
            .take_stdout()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let mut err = String::new();
        child
            .take_stderr()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(child.wait().unwrap(), ExitOutcome::Exited { code: 0 });
        assert_eq!(out, "to stdin\n");
        assert_eq!(err, "err\n");
    }

    #[test]
    fn kill_ends_a_running_sandbox() {
        let config = SandboxConfig::default();
        let mut child = launcher()
            .start(
                &config,
                &argv(&["sleep", "60"]),
                Stdio::null(),
                Stdio::null(),
            )
            .unwrap();
        child.kill().unwrap();
        assert_eq!(child.wait().unwrap(), ExitOutcome::Signaled { signal: 9 });
        assert_eq!(
            child.wait().unwrap(),
            ExitOutcome::Signaled { signal: 9 },
            "wait is repeatable"
        );
    }

    #[test]
    fn exec_error_names_the_program() {
        let config = SandboxConfig::default();
        let error = launcher()
            .start(
                &config,
                &argv(&["no-such-program-xyz"]),
                Stdio::null(),
                Stdio::null(),
            )
            .unwrap_err();
        match error {
            SandboxError::Exec { program, source } => {
                assert_eq!(program, "no-such-program-xyz");
                assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
            }
            other => panic!("expected an exec error, got {other}"),
        }
    }

    #[test]
    fn wall_time_outcome_is_timed_out() {
        let config = SandboxConfig {
            limits: Limits {
                wall_time: Some(Duration::from_millis(300)),
                ..Limits::default()
            },
            ..SandboxConfig::default()
        };
        let mut child = launcher()
            .start(
                &config,
                &argv(&["sleep", "60"]),
                Stdio::null(),
                Stdio::null(),
            )
            .unwrap();
        assert!(child.enforcement().is_enforced(LimitKind::WallTime));
        assert_eq!(child.wait().unwrap(), ExitOutcome::TimedOut);
    }

    #[test]
    fn sandbox_outlives_the_spawning_thread() {
        // A parent-death signal would fire when this thread exits; the
        // sandbox must keep running until its own end instead.
        let config = SandboxConfig::default();
        let script = argv(&["sh", "-c", "sleep 1; echo finished"]);
        let mut child = thread::spawn(move || {
            launcher()
                .start(&config, &script, Stdio::piped(), Stdio::null())
                .unwrap()
        })
        .join()
        .unwrap();
        let mut out = String::new();
        child
            .take_stdout()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(child.wait().unwrap(), ExitOutcome::Exited { code: 0 });
        assert_eq!(out, "finished\n");
    }

    #[test]
    fn cpu_limit_is_enforced_or_reported() {
        let config = SandboxConfig {
            limits: Limits {
                cpu_quota: Some(0.5),
                ..Limits::default()
            },
            ..SandboxConfig::default()
        };
        let mut child = launcher()
            .start(&config, &argv(&["true"]), Stdio::null(), Stdio::null())
            .unwrap();
        let enforcement = child.enforcement().clone();
        assert_eq!(child.wait().unwrap(), ExitOutcome::Exited { code: 0 });

        let cgroup_cpu = match ci_sandbox::probe().cgroups {
            ci_sandbox::CgroupSupport::V1Root { controllers }
            | ci_sandbox::CgroupSupport::V2Delegated { controllers, .. } => {
                controllers.iter().any(|c| c == "cpu")
            }
            ci_sandbox::CgroupSupport::Unavailable { .. } => false,
        };
        assert_eq!(enforcement.is_enforced(LimitKind::Cpu), cgroup_cpu);
        let reported = enforcement
            .not_enforced
            .iter()
            .any(|(kind, _)| *kind == LimitKind::Cpu);
        assert_eq!(reported, !cgroup_cpu);
    }

    #[test]
    fn unknown_policy_is_a_setup_error() {
        let config = SandboxConfig {
            seccomp_policy: "/nonexistent/policy.json".to_owned(),
            ..SandboxConfig::default()
        };
        let error = launcher()
            .start(&config, &argv(&["true"]), Stdio::null(), Stdio::null())
            .unwrap_err();
        assert!(matches!(error, SandboxError::Setup(_)), "{error}");
        assert!(
            error.to_string().contains("/nonexistent/policy.json"),
            "{error}"
        );
    }
}
