//! `htci run` end to end: command line, bad input, secrets masking,
//! timeouts, Ctrl-C, workspaces and `uses:` steps.

mod run_support;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use run_support::{TestRepo, git, marker, processes_with, step, wait_for, walk};
use serde_json::{Value, json};

const TRIVIAL: &str =
    "on: push\njobs:\n  only:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n";

fn assert_input_error(output: &run_support::RunOutput, needle: &str) {
    assert_eq!(output.code, 2, "{}", output.all());
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected a one-line reason: {}",
        output.all()
    );
    assert!(lines[0].starts_with("error: "), "{}", output.all());
    assert!(
        lines[0].contains(needle),
        "expected {needle:?} in {}",
        output.all()
    );
}

#[test]
fn broken_workflow_exits_2() {
    let repo = TestRepo::with_workflow("on: push\njobs:\n  build:\n    runs-on: [\n");
    let output = repo.run(&[]);
    assert_eq!(output.code, 2, "{}", output.all());
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", output.all());
    assert!(
        lines[0].starts_with(".github/workflows/ci.yml:5:1: error: invalid YAML"),
        "{}",
        output.all()
    );
    assert_eq!(
        lines[1],
        "error: workflow file .github/workflows/ci.yml is invalid: 1 error(s), listed above"
    );
}

#[test]
fn unknown_job_exits_2() {
    let repo = TestRepo::with_workflow(TRIVIAL);
    assert_input_error(&repo.run(&["--job", "nope"]), "unknown job `nope`");
}

#[test]
fn unknown_workflow_exits_2() {
    let repo = TestRepo::with_workflow(TRIVIAL);
    assert_input_error(
        &repo.run(&["--workflow", "missing.yml"]),
        "unknown workflow `missing.yml`",
    );
}

#[test]
fn missing_repository_exits_2() {
    let repo = TestRepo::new();
    let missing = repo.root.join("no-such-dir");
    assert_input_error(
        &repo.htci(&["run", missing.to_str().unwrap()]),
        "does not exist",
    );
}

#[test]
fn directory_without_git_exits_2() {
    let repo = TestRepo::new();
    let plain = repo.root.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    assert_input_error(
        &repo.htci(&["run", plain.to_str().unwrap()]),
        "is not a git repository",
    );
}

#[test]
fn corrupt_runner_config_exits_2() {
    let repo = TestRepo::with_workflow(TRIVIAL);
    let config = repo.config_home().join("hashtree-ci/runner.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[runner\nname = ").unwrap();
    assert_input_error(&repo.run(&[]), "runner.toml");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "[runner\nname = "
    );
}

#[test]
fn invalid_secret_argument_exits_2() {
    let repo = TestRepo::with_workflow(TRIVIAL);
    assert_input_error(&repo.run(&["--secret", "NOVALUE"]), "NAME=VALUE");
}

#[test]
fn secrets_are_masked_everywhere() {
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  leak:
    runs-on: ubuntu-latest
    outputs:
      echoed: ${{ steps.show.outputs.token }}
    steps:
      - name: Show ${{ secrets.TOKEN }}
        id: show
        env:
          TOKEN: ${{ secrets.TOKEN }}
          MULTI: ${{ secrets.MULTI }}
          FROM_FILE: ${{ secrets.FILE_SECRET }}
        run: |
          echo "token is $TOKEN"
          echo "token=$TOKEN" >> "$GITHUB_OUTPUT"
          printf '%s\n' "$MULTI"
          echo "file: $FROM_FILE" >&2
          echo "::add-mask::runtime-only-value"
          echo "later: runtime-only-value"
          test "${{ secrets.TOKEN }}" = "$TOKEN" || exit 1
          test "${{ secrets.EMPTY }}" = "" || exit 1
      - name: Error message
        continue-on-error: true
        working-directory: ${{ secrets.TOKEN }}
        run: echo never
"#,
    );
    let sha = repo.head();
    let secret_file = repo.root.join("secrets.env");
    std::fs::write(&secret_file, "# comment\nFILE_SECRET=file-secret-value\n").unwrap();

    let output = repo.run(&[
        "--secret",
        "TOKEN=tok-s3cr3t-value",
        "--secret",
        "MULTI=first-secret-line\nsecond-secret-line",
        "--secret",
        "EMPTY=",
        "--secret-file",
        secret_file.to_str().unwrap(),
    ]);
    assert_eq!(output.code, 0, "{}", output.all());

    for secret in [
        "tok-s3cr3t-value",
        "first-secret-line",
        "second-secret-line",
        "file-secret-value",
        "runtime-only-value",
    ] {
        assert!(
            !output.stdout.contains(secret),
            "{secret} in stdout: {}",
            output.all()
        );
        assert!(
            !output.stderr.contains(secret),
            "{secret} in stderr: {}",
            output.all()
        );
        assert_eq!(
            repo.files_containing(secret),
            Vec::<std::path::PathBuf>::new(),
            "{secret}"
        );
    }

    let job = repo.job(&sha, "ci.leak");
    assert_eq!(job["status"], "success");
    assert_eq!(job["outputs"], json!({"echoed": "***"}));
    assert_eq!(job["steps"][0]["name"], "Show ***");
    assert_eq!(step(&job, "Error message")["outcome"], "failure");

    let log = repo.job_log(&sha, "ci.leak");
    for line in [
        "token is ***",
        "***\n***",
        "file: ***",
        "::add-mask::***",
        "later: ***",
        "working-directory `***` does not exist",
    ] {
        assert!(log.contains(line), "expected {line:?} in {log}");
    }
}

#[test]
fn step_timeout_kills_process_group() {
    let sleeper = marker(1);
    let repo = TestRepo::with_workflow(
        &r#"
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - name: Sleeps past its limit
        timeout-minutes: 0.02
        run: |
          sleep @MARKER@ &
          sleep @MARKER@
      - name: Runs after the timeout
        if: always()
        run: echo after
"#
        .replace("@MARKER@", &sleeper),
    );
    let sha = repo.head();
    let output = repo.run(&[]);
    assert_eq!(output.code, 1, "{}", output.all());
    assert_eq!(
        processes_with(&format!("sleep {sleeper}")),
        Vec::<u32>::new()
    );

    let job = repo.job(&sha, "ci.slow");
    assert_eq!(job["status"], "failure");
    let slow = step(&job, "Sleeps past its limit");
    assert_eq!(slow["status"], "failure");
    assert_eq!(slow["exit_code"], Value::Null);
    assert_eq!(step(&job, "Runs after the timeout")["status"], "success");
    let log = repo.job_log(&sha, "ci.slow");
    assert!(log.contains("timed out after 0.02 minutes"), "{log}");
}

#[test]
fn job_timeout_stops_the_job() {
    let sleeper = marker(2);
    let repo = TestRepo::with_workflow(
        &r#"
on: push
jobs:
  limited:
    runs-on: ubuntu-latest
    timeout-minutes: 0.02
    steps:
      - run: sleep @MARKER@
      - if: always()
        run: echo "cleanup job.status=${{ job.status }}"
      - run: echo "plain-$((40 + 2))"
"#
        .replace("@MARKER@", &sleeper),
    );
    let sha = repo.head();
    let output = repo.run(&[]);
    assert_eq!(output.code, 1, "{}", output.all());
    assert_eq!(
        processes_with(&format!("sleep {sleeper}")),
        Vec::<u32>::new()
    );

    let job = repo.job(&sha, "ci.limited");
    assert_eq!(job["status"], "failure");
    let statuses: Vec<&str> = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failure", "success", "skipped"]);
    let log = repo.job_log(&sha, "ci.limited");
    assert!(log.contains("cleanup job.status=failure"), "{log}");
    assert!(!log.contains("plain-42"), "{log}");
}

fn interrupt_cancels_run(signal: libc::c_int, seed: u32) {
    let sleeper = marker(seed);
    let repo = TestRepo::with_workflow(
        &r#"
on: push
jobs:
  first:
    runs-on: ubuntu-latest
    steps:
      - run: |
          sleep @MARKER@ &
          sleep @MARKER@
  second:
    needs: first
    runs-on: ubuntu-latest
    steps:
      - run: echo never
"#
        .replace("@MARKER@", &sleeper),
    );
    let sha = repo.head();
    let pattern = format!("sleep {sleeper}");

    let mut child = repo.spawn_run(&[]);
    assert!(
        wait_for(Duration::from_secs(30), || processes_with(&pattern).len()
            == 2),
        "the step never started"
    );
    // SAFETY: kill only sends a signal to the child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };

    let mut status = None;
    assert!(wait_for(Duration::from_secs(20), || {
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    assert_eq!(status.unwrap().code(), Some(1));
    assert_eq!(processes_with(&pattern), Vec::<u32>::new());

    let result = repo.result(&sha);
    assert_eq!(result["status"], "cancelled");
    assert_eq!(repo.job(&sha, "ci.first")["status"], "cancelled");
    assert_eq!(repo.job(&sha, "ci.second")["status"], "cancelled");
}

#[test]
fn ctrl_c_cancels_and_kills() {
    interrupt_cancels_run(libc::SIGINT, 3);
}

#[test]
fn sigterm_cancels_and_kills() {
    interrupt_cancels_run(libc::SIGTERM, 4);
}

/// Starts `htci run` in its own process group, as a shell starts a
/// foreground job, so a test can send signals the way a terminal does.
fn spawn_in_own_group(repo: &TestRepo) -> Child {
    let path = repo.repo.to_string_lossy().into_owned();
    repo.command(&["run", &path])
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("htci starts")
}

/// Sends `signal` to the process group of `child`, as a terminal sends ^C
/// to its foreground job.
fn signal_group(child: &Child, signal: libc::c_int) {
    // SAFETY: kill only sends a signal, to the group this test started.
    unsafe { libc::kill(-(child.id() as libc::pid_t), signal) };
}

/// Waits for `child` to exit and returns its exit code.
fn exit_code(child: &mut Child, limit: Duration) -> Option<i32> {
    let mut status = None;
    let exited = wait_for(limit, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert!(exited, "htci did not exit within {limit:?}");
    status.unwrap().code()
}

/// Returns the statuses of a job's steps, in order.
fn step_statuses(job: &Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn terminal_ctrl_c_runs_cleanup_steps() {
    // The running step would exit 3 on SIGINT: it must not see the
    // terminal's ^C, only htci's cancellation.
    let sleeper = marker(11);
    let repo = TestRepo::with_workflow(
        &r#"
on: push
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - name: Sleeps
        run: |
          trap 'exit 3' INT
          sleep @MARKER@ &
          wait $!
      - name: Plain
        run: echo "plain-$((40 + 2))"
      - name: Always
        if: always()
        run: echo "always job.status=${{ job.status }}"
      - name: On cancel
        if: cancelled()
        run: echo "cancelled-step ran"
      - name: On failure
        if: failure()
        run: echo "failure-$((40 + 2))"
  later:
    needs: work
    runs-on: ubuntu-latest
    steps:
      - run: echo never
"#
        .replace("@MARKER@", &sleeper),
    );
    let sha = repo.head();
    let pattern = format!("sleep {sleeper}");

    let mut child = spawn_in_own_group(&repo);
    assert!(
        wait_for(Duration::from_secs(30), || processes_with(&pattern).len()
            == 1),
        "the step never started"
    );
    signal_group(&child, libc::SIGINT);
    assert_eq!(exit_code(&mut child, Duration::from_secs(30)), Some(1));
    assert_eq!(processes_with(&pattern), Vec::<u32>::new());

    assert_eq!(repo.result(&sha)["status"], "cancelled");
    let job = repo.job(&sha, "ci.work");
    assert_eq!(job["status"], "cancelled");
    assert_eq!(
        step_statuses(&job),
        ["cancelled", "cancelled", "success", "success", "cancelled"]
    );
    assert_eq!(step(&job, "Sleeps")["exit_code"], Value::Null);
    assert_eq!(repo.job(&sha, "ci.later")["status"], "cancelled");

    let log = repo.job_log(&sha, "ci.work");
    assert!(log.contains("always job.status=cancelled"), "{log}");
    assert!(log.contains("cancelled-step ran"), "{log}");
    assert!(!log.contains("plain-42"), "{log}");
    assert!(!log.contains("failure-42"), "{log}");
}

#[test]
fn second_ctrl_c_kills_cleanup_step() {
    let sleeper = marker(12);
    let cleaner = marker(13);
    let repo = TestRepo::with_workflow(
        &r#"
on: push
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - name: Sleeps
        run: sleep @SLEEPER@
      - name: Slow cleanup
        if: always()
        run: |
          sleep @CLEANER@ &
          sleep @CLEANER@
      - name: Next cleanup
        if: always()
        run: echo "next-$((40 + 2))"
"#
        .replace("@SLEEPER@", &sleeper)
        .replace("@CLEANER@", &cleaner),
    );
    let sha = repo.head();

    let mut child = spawn_in_own_group(&repo);
    assert!(
        wait_for(Duration::from_secs(30), || processes_with(&format!(
            "sleep {sleeper}"
        ))
        .len()
            == 1),
        "the step never started"
    );
    signal_group(&child, libc::SIGINT);
    let cleanup = format!("sleep {cleaner}");
    assert!(
        wait_for(Duration::from_secs(30), || processes_with(&cleanup).len()
            == 2),
        "the cleanup step never started"
    );
    signal_group(&child, libc::SIGINT);
    assert_eq!(exit_code(&mut child, Duration::from_secs(30)), Some(1));
    assert_eq!(processes_with(&cleanup), Vec::<u32>::new());

    let job = repo.job(&sha, "ci.work");
    assert_eq!(job["status"], "cancelled");
    assert_eq!(step_statuses(&job), ["cancelled", "cancelled", "cancelled"]);
    let log = repo.job_log(&sha, "ci.work");
    assert!(log.contains("Ctrl-C was pressed again"), "{log}");
    assert!(!log.contains("next-42"), "{log}");
}

#[test]
fn cleanup_step_keeps_its_time_limit() {
    // A cleanup step after Ctrl-C is still bound by its own
    // `timeout-minutes`, which is shorter than the cleanup time.
    let sleeper = marker(15);
    let cleaner = marker(16);
    let repo = TestRepo::with_workflow(
        &r#"
on: push
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - name: Sleeps
        run: sleep @SLEEPER@
      - name: Slow cleanup
        if: cancelled()
        timeout-minutes: 0.02
        run: sleep @CLEANER@
      - name: Next cleanup
        if: always()
        run: echo "next-$((40 + 2))"
"#
        .replace("@SLEEPER@", &sleeper)
        .replace("@CLEANER@", &cleaner),
    );
    let sha = repo.head();

    let mut child = spawn_in_own_group(&repo);
    let pattern = format!("sleep {sleeper}");
    assert!(
        wait_for(Duration::from_secs(30), || processes_with(&pattern).len()
            == 1),
        "the step never started"
    );
    signal_group(&child, libc::SIGINT);
    assert_eq!(exit_code(&mut child, Duration::from_secs(60)), Some(1));
    assert_eq!(
        processes_with(&format!("sleep {cleaner}")),
        Vec::<u32>::new()
    );

    let job = repo.job(&sha, "ci.work");
    assert_eq!(job["status"], "cancelled");
    assert_eq!(step_statuses(&job), ["cancelled", "failure", "success"]);
    let log = repo.job_log(&sha, "ci.work");
    assert!(log.contains("timed out after 0.02 minutes"), "{log}");
    assert!(log.contains("next-42"), "{log}");
}

#[test]
fn running_always_step_survives_cancel() {
    // GitHub re-evaluates the `if:` of the running step on cancellation;
    // `always()` is still true, so the step runs to its end.
    let sleeper = marker(14);
    let repo = TestRepo::with_workflow(
        &r#"
on: push
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - name: Survivor
        if: always()
        run: |
          sleep 4.@MARKER@
          echo "survivor-$((40 + 2))"
      - name: After
        run: echo "after-$((40 + 2))"
  last:
    runs-on: ubuntu-latest
    steps:
      - name: Last survivor
        if: always()
        run: |
          sleep 4.@MARKER@
          echo "last-$((40 + 2))"
"#
        .replace("@MARKER@", &sleeper),
    );
    let sha = repo.head();
    repo.set_limits(&[("max_concurrent_jobs", 2)]);

    let mut child = spawn_in_own_group(&repo);
    assert!(
        wait_for(Duration::from_secs(30), || processes_with(&format!(
            "sleep 4.{sleeper}"
        ))
        .len()
            == 2),
        "the step never started"
    );
    signal_group(&child, libc::SIGINT);
    assert_eq!(exit_code(&mut child, Duration::from_secs(60)), Some(1));

    let job = repo.job(&sha, "ci.work");
    assert_eq!(job["status"], "cancelled");
    assert_eq!(step_statuses(&job), ["success", "cancelled"]);
    let log = repo.job_log(&sha, "ci.work");
    assert!(log.contains("survivor-42"), "{log}");
    assert!(!log.contains("after-42"), "{log}");

    // A job whose last step saw the cancellation ends cancelled, though
    // that step succeeded.
    let last = repo.job(&sha, "ci.last");
    assert_eq!(last["status"], "cancelled");
    assert_eq!(step_statuses(&last), ["success"]);
    assert!(repo.job_log(&sha, "ci.last").contains("last-42"));
}

/// Reads every file of the working tree (outside .git) with its bytes.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(root)
        .into_iter()
        .filter(|path| !path.strip_prefix(root).unwrap().starts_with(".git"))
        .map(|path| {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (relative, std::fs::read(&path).unwrap())
        })
        .collect()
}

#[test]
fn dirty_tree_runs_without_touching_checkout() {
    let repo = TestRepo::new();
    repo.write(
        ".github/workflows/ci.yml",
        r#"
on: push
jobs:
  tamper:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: |
          test "$(cat tracked.txt)" = modified || exit 1
          test "$(cat untracked.txt)" = new || exit 1
          test ! -e ignored.txt || exit 1
          test ! -e gone.txt || exit 1
          test "$(git rev-parse HEAD)" = "$GITHUB_SHA" || exit 1
          echo tampered > tracked.txt
          rm untracked.txt
          git -c user.name=x -c user.email=x@example.invalid commit -qam tamper
          git branch evil
"#,
    );
    repo.write(".gitignore", "ignored.txt\n");
    repo.write("tracked.txt", "committed\n");
    repo.write("gone.txt", "to be deleted\n");
    let sha = repo.commit("Initial");

    repo.write("tracked.txt", "modified\n");
    repo.write("untracked.txt", "new\n");
    repo.write("ignored.txt", "ignored\n");
    std::fs::remove_file(repo.repo.join("gone.txt")).unwrap();

    let files_before = snapshot(&repo.repo);
    let status_before = git(&repo.repo, &["status", "--porcelain"]);
    let branches_before = git(&repo.repo, &["branch", "--list"]);
    let index_before = std::fs::read(repo.repo.join(".git/index")).unwrap();

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());

    assert_eq!(snapshot(&repo.repo), files_before);
    assert_eq!(
        std::fs::read(repo.repo.join(".git/index")).unwrap(),
        index_before
    );
    assert_eq!(git(&repo.repo, &["status", "--porcelain"]), status_before);
    assert_eq!(git(&repo.repo, &["branch", "--list"]), branches_before);
    assert_eq!(repo.head(), sha);

    let result = repo.dirty_result(&sha);
    assert_eq!(result["dirty"], true);
    assert_eq!(repo.dirty_job(&sha, "ci.tamper")["dirty"], true);
    assert_eq!(repo.dirty_job(&sha, "ci.tamper")["status"], "success");
}

#[test]
fn uses_steps_run_or_skip() {
    let repo = TestRepo::new();
    repo.write(
        ".github/actions/greet/action.yml",
        r#"
name: greet
inputs:
  who:
    description: who to greet
    default: world
  punctuation:
    default: "!"
outputs:
  greeting:
    value: ${{ steps.make.outputs.text }}
runs:
  using: composite
  steps:
    - id: make
      shell: bash
      run: echo "text=hello ${{ inputs.who }}${{ inputs.punctuation }}" >> "$GITHUB_OUTPUT"
    - shell: sh
      run: test "$FROM_CALLER" = yes || exit 1
    - shell: sh
      run: |
        test "$(sh "${{ github.action_path }}/hello.sh")" = from-action || exit 1
        test "$GITHUB_ACTION_PATH" = "${{ github.action_path }}" || exit 1
        case "$GITHUB_ACTION_PATH" in */.github/actions/greet) ;; *) exit 1 ;; esac
"#,
    );
    repo.write(".github/actions/greet/hello.sh", "echo from-action\n");
    repo.write(
        ".github/workflows/ci.yml",
        r#"
on: push
jobs:
  actions:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Greet
        id: greet
        uses: ./.github/actions/greet
        with:
          who: tester
        env:
          FROM_CALLER: "yes"
      - name: Check the greeting
        run: |
          test "${{ steps.greet.outputs.greeting }}" = "hello tester!" || exit 1
          test -z "$GITHUB_ACTION_PATH" || exit 1
      - name: Node
        uses: actions/setup-node@v4
      - name: Nested checkout
        uses: actions/checkout@v4
        with:
          path: nested
      - name: Check the nested checkout
        run: |
          test -f nested/.github/actions/greet/action.yml || exit 1
          test "$(git -C nested rev-parse HEAD)" = "$GITHUB_SHA" || exit 1
"#,
    );
    let sha = repo.commit("Add the workflow and the action");

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());

    let job = repo.job(&sha, "ci.actions");
    assert_eq!(job["status"], "success");
    assert_eq!(step(&job, "Greet")["status"], "success");
    assert_eq!(step(&job, "Check the greeting")["status"], "success");
    assert_eq!(step(&job, "Node")["status"], "skipped");
    assert_eq!(step(&job, "Nested checkout")["status"], "success");
    assert_eq!(step(&job, "Check the nested checkout")["status"], "success");
    let log = repo.job_log(&sha, "ci.actions");
    assert!(
        log.contains("action `actions/setup-node@v4` was not run"),
        "{log}"
    );
}

#[test]
fn selection_and_json_summary() {
    let repo = TestRepo::new();
    repo.write(
        ".github/workflows/main.yml",
        r#"
on: push
jobs:
  base:
    runs-on: [self-hosted, gpu]
    outputs:
      v: ${{ steps.s.outputs.v }}
    steps:
      - id: s
        run: echo "v=1" >> "$GITHUB_OUTPUT"
  top:
    needs: base
    runs-on: windows-latest
    steps:
      - run: test "${{ needs.base.outputs.v }}" = 1 || exit 1
  other:
    runs-on: ubuntu-latest
    steps:
      - run: exit 1
"#,
    );
    repo.write(
        ".github/workflows/elsewhere.yml",
        "on:\n  push:\n    branches: [release]\njobs:\n  nope:\n    runs-on: ubuntu-latest\n    steps:\n      - run: exit 1\n",
    );
    repo.write(
        ".github/workflows/manual.yml",
        r#"
name: Manual run
on:
  workflow_dispatch:
    inputs:
      level:
        default: low
      verbose:
        type: boolean
        default: true
jobs:
  dispatch:
    runs-on: ubuntu-latest
    steps:
      - run: |
          test "${{ inputs.level }}" = low || exit 1
          test "${{ inputs.verbose }}" = true || exit 1
          test "${{ github.event.inputs.level }}" = low || exit 1
          test "$GITHUB_EVENT_NAME" = workflow_dispatch || exit 1
"#,
    );
    let sha = repo.commit("Add workflows");

    let output = repo.run(&["--job", "top", "--json"]);
    assert_eq!(output.code, 0, "{}", output.all());
    let summary: Value = serde_json::from_str(&output.stdout).expect("stdout is JSON");
    assert_eq!(summary["status"], "success");
    assert_eq!(summary["commit"], sha);
    let keys: Vec<&str> = summary["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["main.base", "main.top"]);
    assert_eq!(summary["jobs"][0]["outputs"], json!({"v": "1"}));
    assert!(
        output.stderr.contains("✓ base (success"),
        "{}",
        output.all()
    );
    assert!(!output.stdout.contains("✓ base"), "{}", output.all());

    for selector in [
        "manual.yml",
        "manual",
        "Manual run",
        ".github/workflows/manual.yml",
    ] {
        let output = repo.run(&["--workflow", selector, "--event", "workflow_dispatch"]);
        assert_eq!(output.code, 0, "--workflow {selector}: {}", output.all());
        let job = repo.job(&sha, "manual.dispatch");
        assert_eq!(job["status"], "success", "{selector}");
        assert_eq!(job["event"], "workflow_dispatch", "{selector}");
        // The store adds this run's job to the jobs stored for the commit
        // by the earlier --job run.
        let result = repo.result(&sha);
        let mut keys: Vec<&str> = result["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|job| job["key"].as_str().unwrap())
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            ["main.base", "main.top", "manual.dispatch"],
            "{selector}"
        );
    }
}

#[test]
fn push_runs_matching_workflows_only() {
    let repo = TestRepo::new();
    repo.write(".github/workflows/main.yml", TRIVIAL);
    repo.write(
        ".github/workflows/elsewhere.yml",
        "on:\n  push:\n    branches: [release]\njobs:\n  nope:\n    runs-on: ubuntu-latest\n    steps:\n      - run: exit 1\n",
    );
    let sha = repo.commit("Add workflows");

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    let result = repo.result(&sha);
    assert_eq!(result["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(result["jobs"][0]["key"], "main.only");
    assert_eq!(result["workflows"], json!([".github/workflows/main.yml"]));
}

#[test]
fn run_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;

    let repo = TestRepo::with_workflow(TRIVIAL);
    let temp = repo.root.join("tmp");
    std::fs::create_dir_all(&temp).unwrap();
    let output = repo
        .command(&["run", repo.repo.to_str().unwrap()])
        .env("TMPDIR", &temp)
        .env("HTCI_KEEP_RUN_DIR", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));

    let run_dirs: Vec<_> = std::fs::read_dir(&temp).unwrap().flatten().collect();
    assert_eq!(run_dirs.len(), 1);
    let mode = run_dirs[0].metadata().unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    assert!(
        run_dirs[0]
            .file_name()
            .to_string_lossy()
            .starts_with("htci-run-")
    );
}

#[test]
fn no_matching_workflow_exits_0() {
    let repo = TestRepo::with_workflow(
        "on:\n  push:\n    branches: [release]\njobs:\n  nope:\n    runs-on: ubuntu-latest\n    steps:\n      - run: exit 1\n",
    );
    let output = repo.run(&["--json"]);
    assert_eq!(output.code, 0, "{}", output.all());
    let summary: Value = serde_json::from_str(&output.stdout).expect("stdout is JSON");
    assert_eq!(summary["status"], "skipped");
    assert_eq!(summary["jobs"], json!([]));
    assert!(output.stderr.contains("no workflow"), "{}", output.all());
    assert!(run_support::walk(&repo.data_home()).is_empty());
}

#[test]
fn missing_secret_file_exits_2() {
    let repo = TestRepo::with_workflow(TRIVIAL);
    let missing = repo.root.join("no-secrets.env");
    let output = repo.run(&["--secret-file", missing.to_str().unwrap()]);
    assert_input_error(&output, "failed to read secret file");
}

#[test]
fn workflow_option_ignores_triggers() {
    let repo = TestRepo::with_workflow(
        "on:\n  push:\n    branches: [release]\njobs:\n  nope:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ran\n",
    );
    let sha = repo.head();
    let output = repo.run(&["--workflow", "ci"]);
    assert_eq!(output.code, 0, "{}", output.all());
    assert_eq!(repo.job(&sha, "ci.nope")["status"], "success");
    assert!(repo.job_log(&sha, "ci.nope").contains("ran"));
}

#[test]
fn job_of_untriggered_workflow_exits_2() {
    let repo = TestRepo::with_workflow(
        "on:\n  push:\n    branches: [release]\njobs:\n  nope:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ran\n",
    );
    assert_input_error(
        &repo.run(&["--job", "nope"]),
        "job \"nope\" is only in .github/workflows/ci.yml, which does not run for push to \
         refs/heads/main",
    );
}

#[test]
fn shared_result_key_exits_2() {
    // ci.yml and ci.yaml both store job `only` as `ci.only`: the run stops
    // before any job starts rather than failing to store the results.
    let repo = TestRepo::new();
    repo.write(".github/workflows/ci.yml", TRIVIAL);
    repo.write(".github/workflows/ci.yaml", TRIVIAL);
    repo.commit("Add two workflows with one stem");
    let output = repo.run(&[]);
    assert_input_error(
        &output,
        "job `only` of .github/workflows/ci.yaml and job `only` of .github/workflows/ci.yml \
         would both store their results as `ci.only`",
    );
    assert!(walk(&repo.data_home()).is_empty());
}
