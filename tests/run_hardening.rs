//! `htci run` against a hostile repository and hostile step output: the
//! repository's `.hashtree/ci.toml` read on the host, secrets printed in
//! base64, terminal escape sequences, processes left behind in host mode,
//! and the warnings about what host mode and a shared key file allow.

mod run_support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use run_support::{TestRepo, git, marker, processes_with, require_host, wait_for};

const TRIVIAL: &str =
    "on: push\njobs:\n  only:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n";

const HOST_MODE_WARNING: &str = "warning: without --sandbox, jobs run with your full user rights \
     (they can read your files and the runner key); use htci run --sandbox for untrusted code";

/// Creates a repository with an uncommitted trivial workflow and a runner
/// identity, so that a run prints nothing on stdout before its first job.
fn repo_with_identity() -> TestRepo {
    let repo = TestRepo::new();
    repo.write(".github/workflows/ci.yml", TRIVIAL);
    let output = repo.htci(&["init"]);
    assert_eq!(output.code, 0, "{}", output.all());
    repo
}

/// Asserts exit code 2, no job started and a one-line error `expected`.
fn assert_rejected_before_jobs(output: &run_support::RunOutput, expected: &str) {
    assert_eq!(output.code, 2, "{}", output.all());
    assert_eq!(output.stdout, "", "{}", output.all());
    assert_eq!(output.stderr, format!("error: {expected}\n"));
}

#[test]
fn repo_config_link_to_host_file_not_read() {
    let repo = repo_with_identity();
    let secret = repo.root.join("host-secret.toml");
    std::fs::write(&secret, "[ci]\norg_npub = \"HOSTSECRET-abc\"\n").unwrap();
    std::fs::create_dir_all(repo.repo.join(".hashtree")).unwrap();
    std::os::unix::fs::symlink(&secret, repo.repo.join(".hashtree/ci.toml")).unwrap();
    repo.commit("Link the repository config");

    let output = repo.run(&[]);
    let path = repo.repo.join(".hashtree/ci.toml");
    assert_rejected_before_jobs(
        &output,
        &format!(
            "{}: is a symbolic link; htci reads it only as a regular file inside the repository",
            path.display()
        ),
    );
    assert!(!output.all().contains("HOSTSECRET"));
}

#[test]
fn repo_config_link_to_dev_zero_rejected() {
    let repo = repo_with_identity();
    std::fs::create_dir_all(repo.repo.join(".hashtree")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", repo.repo.join(".hashtree/ci.toml")).unwrap();
    repo.commit("Link the repository config to /dev/zero");

    let output = repo.run(&[]);
    let path = repo.repo.join(".hashtree/ci.toml");
    assert_rejected_before_jobs(
        &output,
        &format!(
            "{}: is a symbolic link; htci reads it only as a regular file inside the repository",
            path.display()
        ),
    );
}

#[test]
fn repo_config_dir_link_rejected() {
    let repo = repo_with_identity();
    let outside = repo.root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        outside.join("ci.toml"),
        "[ci]\norg_npub = \"HOSTSECRET-abc\"\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, repo.repo.join(".hashtree")).unwrap();
    repo.commit("Link the .hashtree directory");

    let output = repo.run(&[]);
    let path = repo.repo.join(".hashtree/ci.toml");
    assert_rejected_before_jobs(
        &output,
        &format!(
            "{}: the .hashtree directory is a symbolic link; make it a plain directory inside \
             the repository",
            path.display()
        ),
    );
    assert!(!output.all().contains("HOSTSECRET"));
}

#[test]
fn oversized_repo_config_rejected() {
    let repo = repo_with_identity();
    repo.write(".hashtree/ci.toml", &"# padding\n".repeat(7000));
    repo.commit("Add a large repository config");

    let output = repo.run(&[]);
    let path = repo.repo.join(".hashtree/ci.toml");
    assert_rejected_before_jobs(
        &output,
        &format!(
            "{}: larger than the limit of 65536 bytes; keep only the [ci] settings in it",
            path.display()
        ),
    );
}

#[test]
fn oversized_workflow_rejected() {
    let repo = TestRepo::new();
    let padding = "# padding\n".repeat(110_000);
    repo.write(".github/workflows/ci.yml", &format!("{TRIVIAL}{padding}"));
    repo.commit("Add a large workflow");

    let output = repo.run(&[]);
    let path = repo.repo.join(".github/workflows/ci.yml");
    assert_eq!(output.code, 2, "{}", output.all());
    assert_eq!(
        output.stderr,
        format!(
            "error: failed to read workflow file {}: larger than the limit of 1048576 bytes\n",
            path.display()
        )
    );
}

#[test]
fn invalid_repo_config_fails_before_jobs() {
    let repo = repo_with_identity();
    repo.write(".hashtree/ci.toml", "[ci]\norg_npub = \"npub1nope\"\n");
    repo.commit("Add an invalid repository config");

    let output = repo.run(&[]);
    assert_eq!(output.code, 2, "{}", output.all());
    assert_eq!(output.stdout, "", "{}", output.all());
    let path = repo.repo.join(".hashtree/ci.toml");
    let prefix = format!(
        "error: {}: [ci] org_npub: invalid npub \"npub1nope\"",
        path.display()
    );
    assert_eq!(output.stderr.lines().count(), 1, "{}", output.all());
    assert!(output.stderr.starts_with(&prefix), "{}", output.all());
}

const BASE64_WORKFLOW: &str = r#"
on: push
jobs:
  enc:
    runs-on: ubuntu-latest
    outputs:
      basic: ${{ steps.show.outputs.basic }}
    steps:
      - id: show
        name: Show
        env:
          TOKEN: ${{ secrets.TOKEN }}
        run: |
          printf '%s' "$TOKEN" | base64
          printf 'x%s' "$TOKEN" | base64
          printf 'xy%s' "$TOKEN" | base64
          echo "basic=$(printf 'user:%s' "$TOKEN" | base64 -w0)" >> "$GITHUB_OUTPUT"
"#;

#[test]
fn base64_of_secret_masked_at_each_offset() {
    let repo = TestRepo::with_workflow(BASE64_WORKFLOW);
    let sha = repo.head();
    let output = repo.run(&["--secret", "TOKEN=tok-s3cr3t-value"]);
    assert_eq!(output.code, 0, "{}", output.all());

    // The encodings of the secret at offsets 0, 1 and 2 of a base64 group,
    // as `base64` prints them, masked where they hold the secret alone.
    let expected = [
        "[enc / Show] ***Q==",
        "[enc / Show] eHRv***U=",
        "[enc / Show] eHl0***",
    ];
    for line in expected {
        assert_eq!(
            output.stdout.lines().filter(|l| *l == line).count(),
            1,
            "{line:?} in {}",
            output.all()
        );
    }

    let log = repo.job_log(&sha, "ci.enc");
    for line in ["***Q==", "eHRv***U=", "eHl0***"] {
        assert!(log.lines().any(|l| l.ends_with(line)), "{line:?} in {log}");
    }
    let job = repo.job(&sha, "ci.enc");
    assert_eq!(job["outputs"]["basic"], "dXNlcjp0***", "{job:#}");

    for encoded in [
        "dG9rLXMzY3IzdC12YWx1Z",
        "b2stczNjcjN0LXZhbHVl",
        "ay1zM2NyM3QtdmFsdW",
    ] {
        assert!(!output.all().contains(encoded), "{encoded}");
        assert_eq!(
            repo.files_containing(encoded),
            Vec::<std::path::PathBuf>::new()
        );
    }
}

#[test]
fn terminal_escapes_shown_escaped() {
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  spoof:
    runs-on: ubuntu-latest
    steps:
      - name: Spoof
        run: |
          printf '\r\033[2K\342\234\223 build (success)\n'
          printf 'clip \033]52;c;aGk=\007 end\n'
          printf 'tab\there del\177 bell\007\n'
"#,
    );
    let sha = repo.head();
    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());

    for line in [
        "[spoof / Spoof] ^M^[[2K✓ build (success)",
        "[spoof / Spoof] clip ^[]52;c;aGk=^G end",
        "[spoof / Spoof] tab\there del^? bell^G",
    ] {
        assert!(
            output.stdout.lines().any(|l| l == line),
            "{line:?} in {}",
            output.all()
        );
    }
    assert!(!output.stdout.contains('\x1b'), "{}", output.stdout);
    assert!(!output.stdout.contains('\r'), "{}", output.stdout);

    // The stored log keeps the bytes the step wrote.
    let log = repo.job_log(&sha, "ci.spoof");
    assert!(log.contains("\r\x1b[2K✓ build (success)"), "{log:?}");
    assert!(log.contains("clip \x1b]52;c;aGk=\x07 end"), "{log:?}");
}

#[test]
fn host_only_warns_once_on_stderr() {
    require_host("checks the warning of a run without --sandbox");
    let repo = TestRepo::with_workflow(TRIVIAL);
    let output = repo.run(&["--json"]);
    assert_eq!(output.code, 0, "{}", output.all());
    let warnings: Vec<&str> = output
        .stderr
        .lines()
        .filter(|line| line.contains("--sandbox"))
        .collect();
    assert_eq!(warnings, [HOST_MODE_WARNING]);

    let summary: serde_json::Value = serde_json::from_str(output.stdout.trim()).unwrap();
    assert_eq!(summary["status"], "success");
}

#[test]
fn shared_runner_key_file_warns_once() {
    let repo = repo_with_identity();
    repo.commit("Add the workflow");
    let path = repo.config_home().join("hashtree-ci/runner.toml");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    let warnings: Vec<&str> = output
        .stderr
        .lines()
        .filter(|line| line.contains("runner.toml"))
        .collect();
    assert_eq!(
        warnings,
        [format!(
            "warning: ~/.config/hashtree-ci/runner.toml: mode 644 lets other users access the \
             secret key; run chmod 600 {}",
            path.display()
        )]
    );
}

#[test]
fn broken_workflow_prints_every_diagnostic() {
    let repo = TestRepo::with_workflow(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n  b:\n    runs-on: ubuntu-latest\n    steps:\n      - rum: echo\n",
    );
    let check = repo.htci(&["check", repo.repo.to_str().unwrap()]);
    let diagnostics: Vec<&str> = check
        .stdout
        .lines()
        .filter(|line| line.contains(": error: ") || line.contains(": warning: "))
        .collect();
    assert_eq!(diagnostics.len(), 4, "{}", check.all());

    let output = repo.run(&[]);
    assert_eq!(output.code, 2, "{}", output.all());
    let lines: Vec<&str> = output.stderr.lines().collect();
    let (last, printed) = lines.split_last().unwrap();
    let printed: Vec<&str> = printed
        .iter()
        .copied()
        .map(|line| line.trim_start_matches(&format!("{}/", repo.repo.display())))
        .collect();
    let expected: Vec<&str> = diagnostics
        .iter()
        .map(|line| line.trim_start_matches(&format!("{}/", repo.repo.display())))
        .collect();
    assert_eq!(printed, expected, "{}", output.all());
    assert!(printed[0].starts_with(".github/workflows/ci.yml:3:3: error: "));
    assert!(printed[2].starts_with(".github/workflows/ci.yml:9:9: error: "));
    assert_eq!(
        *last,
        "error: workflow file .github/workflows/ci.yml is invalid: 2 error(s), listed above"
    );
}

#[test]
fn host_only_kills_setsid_daemon() {
    require_host("a sandbox ends every process of a job with its pid namespace");
    let sleeper = marker(1);
    let workflow = format!(
        "on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          ( setsid sh -c 'sleep {sleeper}' & ) >/dev/null 2>&1 </dev/null\n          echo started\n"
    );
    let repo = TestRepo::with_workflow(&workflow);
    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());

    let gone = wait_for(Duration::from_secs(5), || {
        processes_with(&sleeper).is_empty()
    });
    let left = processes_with(&sleeper);
    for pid in &left {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    assert!(gone, "daemon left running: {left:?}");
}

#[test]
fn host_only_killed_htci_leaves_nothing() {
    require_host("a sandbox ends every process of a job with its pid namespace");
    let sleeper = marker(2);
    let daemon = marker(3);
    let workflow = format!(
        "on: push\njobs:\n  k:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          ( setsid sh -c 'sleep {daemon}' & ) >/dev/null 2>&1 </dev/null\n          exec sleep {sleeper}\n"
    );
    let repo = TestRepo::with_workflow(&workflow);
    let mut child = repo.spawn_run(&[]);
    assert!(wait_for(Duration::from_secs(20), || {
        !processes_with(&sleeper).is_empty() && !processes_with(&daemon).is_empty()
    }));
    child.kill().unwrap();
    child.wait().unwrap();

    // PR_SET_PDEATHSIG ends the step's own process with htci.
    let step_gone = wait_for(Duration::from_secs(5), || {
        processes_with(&sleeper).is_empty()
    });

    // The daemon escaped the process group; the next run sweeps it.
    let next = TestRepo::with_workflow(TRIVIAL);
    let output = next.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    let daemon_gone = wait_for(Duration::from_secs(5), || {
        processes_with(&daemon).is_empty()
    });

    let left: Vec<u32> = [processes_with(&sleeper), processes_with(&daemon)].concat();
    for pid in &left {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    assert!(step_gone, "step process left running");
    assert!(daemon_gone, "daemon of the killed run left running");
}

#[test]
fn bare_repository_named_as_bare() {
    let repo = TestRepo::with_workflow(TRIVIAL);
    let bare = repo.root.join("bare.git");
    git(
        &repo.root,
        &[
            "clone",
            "-q",
            "--bare",
            repo.repo.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let output = repo.htci(&["run", bare.to_str().unwrap()]);
    assert_eq!(output.code, 2, "{}", output.all());
    assert_eq!(
        output.stderr,
        format!(
            "error: {} is a bare git repository, without a working tree; clone it with git clone {} and run htci there\n",
            bare.display(),
            bare.display()
        )
    );
}

const REF_WORKFLOW: &str = "on:\n  push:\n    branches: ['**']\n    tags: ['v*']\njobs:\n  r:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"ref=[$GITHUB_REF] name=[$GITHUB_REF_NAME] type=[$GITHUB_REF_TYPE]\"\n";

#[test]
fn detached_head_on_tag_uses_tag_ref() {
    let repo = TestRepo::with_workflow(REF_WORKFLOW);
    git(&repo.repo, &["tag", "v1.0"]);
    git(&repo.repo, &["checkout", "-q", "--detach", "v1.0"]);

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    assert!(
        output
            .stdout
            .contains("ref=[refs/tags/v1.0] name=[v1.0] type=[tag]"),
        "{}",
        output.all()
    );
}

#[test]
fn detached_head_invents_no_branch() {
    let repo = TestRepo::with_workflow(REF_WORKFLOW);
    repo.write("second.txt", "2\n");
    repo.commit("Second commit");
    git(&repo.repo, &["checkout", "-q", "--detach", "HEAD~1"]);

    // A branch filter matches no detached commit, as on GitHub.
    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    assert!(
        !output.all().contains("refs/heads/HEAD"),
        "{}",
        output.all()
    );
    assert_eq!(
        output.stdout.lines().last().unwrap_or_default(),
        format!(
            "no workflow of {} runs on `push` for a detached HEAD",
            repo.repo.display()
        )
    );

    // Without a filter, the job runs without GITHUB_REF, as on GitHub.
    let open = TestRepo::with_workflow(
        "on: push\njobs:\n  r:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"ref=[${GITHUB_REF-unset}]\"\n",
    );
    open.write("second.txt", "2\n");
    open.commit("Second commit");
    git(&open.repo, &["checkout", "-q", "--detach", "HEAD~1"]);
    let output = open.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    assert!(output.stdout.contains("ref=[unset]"), "{}", output.all());
    let sha = open.head();
    assert_eq!(open.result(&sha)["ref"], serde_json::Value::Null);
    assert_eq!(open.job(&sha, "ci.r")["ref"], serde_json::Value::Null);
}

#[test]
fn sandbox_command_has_run_limits() {
    let repo = TestRepo::new();
    let output = repo.htci(&[
        "sandbox",
        "--",
        "sh",
        "-c",
        "grep 'Max open files' /proc/self/limits; df -k /tmp | tail -1; \
         grep 'Max processes' /proc/self/limits",
    ]);
    assert_eq!(output.code, 0, "{}", output.all());

    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for getrlimit to fill in.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    let open_files = limit.rlim_max.min(65536).to_string();
    let lines: Vec<Vec<&str>> = output
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 3, "{}", output.all());
    assert_eq!(lines[0][3..5], [open_files.as_str(), open_files.as_str()]);
    // The /tmp tmpfs is 1 GiB, shown in KiB.
    assert_eq!(lines[1][1], "1048576", "{}", output.all());
    // NOTE: for root the pid limit is a cgroup's pids.max, which the
    // sandbox does not show; an unprivileged user gets RLIMIT_NPROC.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert_eq!(lines[2][2..4], ["4096", "4096"], "{}", output.all());
    }
}
