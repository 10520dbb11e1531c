//! Attacks a hostile repository or a curious user would try against
//! `htci run`, `htci verify` and runner.toml, each over a real git
//! repository in a temporary directory:
//!
//! - secrets pushed through `GITHUB_ENV`, the step summary, a composite
//!   action, `toJSON(secrets)`, workflow commands and another job's
//!   outputs never reach a log or a stored file;
//! - a local action outside the workspace is rejected, and `hashFiles`
//!   does not follow a symlink out of it;
//! - in the sandbox, a committed symlink to a host file reads nothing,
//!   and a double-forked daemon does not outlive the run;
//! - a result with its keys reordered or its strings escaped differently
//!   still verifies, a changed step status does not;
//! - hostile runner.toml values exit 2 and name the key.

mod run_support;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use run_support::{TestRepo, marker, processes_with, read_json, wait_for};
use serde_json::{Value, json};

const SECRET: &str = "atk-s3cr3t-9f1c";

/// Writes `content` to `name` in the test's own folder, outside the
/// repository, and returns its path.
fn outside_file(repo: &TestRepo, name: &str, content: &str) -> PathBuf {
    let path = repo.root.join(name);
    fs::write(&path, content).unwrap();
    path
}

/// Returns the lines of a job log that the steps printed, without `##[` lines.
fn printed(repo: &TestRepo, sha: &str, key: &str) -> Vec<String> {
    repo.job_log(sha, key)
        .lines()
        .filter(|line| !line.starts_with("##["))
        .map(str::to_string)
        .collect()
}

#[test]
fn secrets_masked_in_files_actions_and_jobs() {
    let repo = TestRepo::new();
    repo.write(
        ".github/actions/echo/action.yml",
        r#"name: echo
description: passes its input through
inputs:
  value:
    description: any value
outputs:
  same:
    description: the input again
    value: ${{ steps.pass.outputs.same }}
runs:
  using: composite
  steps:
    - id: pass
      shell: bash
      run: |
        echo "same=${{ inputs.value }}" >> "$GITHUB_OUTPUT"
        echo "action saw ${{ inputs.value }}"
"#,
    );
    repo.write(
        ".github/workflows/ci.yml",
        r#"on: push
jobs:
  leak:
    runs-on: ubuntu-latest
    outputs:
      raw: ${{ steps.files.outputs.raw }}
      via_action: ${{ steps.action.outputs.same }}
    steps:
      - id: files
        env:
          TOKEN: ${{ secrets.TOKEN }}
        run: |
          echo "raw=$TOKEN" >> "$GITHUB_OUTPUT"
          echo "LEAKED=$TOKEN" >> "$GITHUB_ENV"
          echo "summary $TOKEN" >> "$GITHUB_STEP_SUMMARY"
          echo "::error title=t::$TOKEN"
          echo "::warning::$TOKEN"
      - run: echo "env file gave $LEAKED"
      - id: action
        uses: ./.github/actions/echo
        with:
          value: ${{ secrets.TOKEN }}
      - run: echo "action gave ${{ steps.action.outputs.same }}"
      - run: echo '${{ toJSON(secrets) }}'
  other:
    needs: leak
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "raw output ${{ needs.leak.outputs.raw }}"
          echo "action output ${{ needs.leak.outputs.via_action }}"
"#,
    );
    let sha = repo.commit("Add a leaking workflow");
    let secrets = outside_file(&repo, "secrets.env", &format!("TOKEN={SECRET}\n"));

    let output = repo.run(&["--secret-file", secrets.to_str().unwrap()]);
    assert_eq!(output.code, 0, "{}", output.all());
    assert!(!output.stdout.contains(SECRET), "{}", output.all());
    assert!(!output.stderr.contains(SECRET), "{}", output.all());
    assert_eq!(repo.files_containing(SECRET), Vec::<PathBuf>::new());

    let leak = repo.job(&sha, "ci.leak");
    assert_eq!(leak["outputs"], json!({"raw": "***", "via_action": "***"}));
    let lines = printed(&repo, &sha, "ci.leak");
    for expected in [
        "env file gave ***",
        "action saw ***",
        "action gave ***",
        "  \"TOKEN\": \"***\",",
    ] {
        assert!(
            lines.iter().any(|line| line == expected),
            "no line {expected:?} in {lines:#?}"
        );
    }
    let other = printed(&repo, &sha, "ci.other");
    assert_eq!(other, ["raw output ***", "action output ***"]);
}

#[test]
fn local_actions_outside_workspace_rejected() {
    let repo = TestRepo::new();
    let ran = marker(1);
    // A valid composite action beside the repository, reachable by `..`.
    let outside = repo.root.join("evil");
    fs::create_dir_all(&outside).unwrap();
    fs::write(
        outside.join("action.yml"),
        format!(
            "name: evil\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo ran-{ran}\n"
        ),
    )
    .unwrap();
    repo.write(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  escape:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./../evil\n        continue-on-error: true\n      - uses: ./.github/../../evil\n        continue-on-error: true\n",
    );
    let sha = repo.commit("Reach outside the workspace");

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    assert!(
        !output.stdout.contains(&format!("ran-{ran}")),
        "{}",
        output.all()
    );
    let job = repo.job(&sha, "ci.escape");
    let outcomes: Vec<&Value> = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| &step["outcome"])
        .collect();
    assert_eq!(outcomes, [&json!("failure"), &json!("failure")]);
    let log = repo.job_log(&sha, "ci.escape");
    for path in ["./../evil", "./.github/../../evil"] {
        let line = format!("##[error]local action `{path}` must stay inside the workspace");
        assert!(log.contains(&line), "no {line:?} in {log}");
    }
}

#[test]
fn hash_files_does_not_follow_symlinks_out_of_the_workspace() {
    let repo = TestRepo::new();
    let host = outside_file(&repo, "host-file.txt", "host content\n");
    std::os::unix::fs::symlink(&host, repo.repo.join("to-host-file")).unwrap();
    std::os::unix::fs::symlink(&repo.root, repo.repo.join("to-host-dir")).unwrap();
    repo.write(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  hash:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          echo \"file=${{ hashFiles('to-host-file') }}\"\n          echo \"dir=${{ hashFiles('to-host-dir/host-file.txt') }}\"\n          echo \"glob=${{ hashFiles('to-host-dir/**') }}\"\n",
    );
    let sha = repo.commit("Hash through symlinks");

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    assert_eq!(printed(&repo, &sha, "ci.hash"), ["file=", "dir=", "glob="]);
}

#[test]
fn sandboxed_symlink_to_a_host_file_reads_nothing() {
    let repo = TestRepo::new();
    let content = format!("host-only-{}", marker(2));
    let host = outside_file(&repo, "host-secret.txt", &content);
    std::os::unix::fs::symlink(&host, repo.repo.join("to-host")).unwrap();
    repo.write(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  read:\n    runs-on: ubuntu-latest\n    steps:\n      - run: if cat to-host; then echo read; else echo refused; fi\n",
    );
    let sha = repo.commit("Link to a host file");

    let output = repo.run(&["--sandbox"]);
    assert_eq!(output.code, 0, "{}", output.all());
    assert!(!output.stdout.contains(&content), "{}", output.all());
    // stdout and stderr are separate pipes, so only membership is stable.
    let lines = printed(&repo, &sha, "ci.read");
    assert!(lines.iter().any(|line| line == "refused"), "{lines:#?}");
    assert!(!lines.iter().any(|line| line == "read"), "{lines:#?}");
    assert_eq!(repo.files_containing(&content), Vec::<PathBuf>::new());
}

#[test]
fn sandboxed_daemon_does_not_outlive_the_run() {
    let repo = TestRepo::new();
    let seconds = marker(3);
    // Double fork and setsid: the grandchild leaves the step's process
    // group and session, as a daemon does.
    repo.write(
        ".github/workflows/ci.yml",
        &format!(
            "on: push\njobs:\n  daemon:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          python3 -c 'import os\n          if os.fork() == 0:\n              os.setsid()\n              if os.fork() == 0:\n                  os.execvp(\"sleep\", [\"sleep\", \"{seconds}\"])\n          '\n          echo started\n"
        ),
    );
    repo.commit("Start a daemon");

    let output = repo.run(&["--sandbox"]);
    assert_eq!(output.code, 0, "{}", output.all());
    let gone = wait_for(Duration::from_secs(5), || {
        processes_with(&format!("sleep {seconds}")).is_empty()
    });
    assert!(
        gone,
        "daemon survived: {:?}",
        processes_with(&format!("sleep {seconds}"))
    );
}

#[test]
fn verify_follows_canonical_json_not_bytes() {
    let repo = TestRepo::with_workflow(
        "on: push\njobs:\n  two:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo one\n      - run: exit 4\n",
    );
    let sha = repo.head();
    let output = repo.run(&[]);
    assert_eq!(output.code, 1, "{}", output.all());
    let original = repo.result_dir(&sha).join("jobs/ci.two/result.json");
    let text = fs::read_to_string(&original).unwrap();
    let verify = |name: &str, content: &str| {
        let path = outside_file(&repo, name, content);
        repo.htci(&["verify", path.to_str().unwrap()]).code
    };

    // serde_json without preserve_order writes keys sorted, with other
    // spacing: a different byte string of the same canonical JSON.
    let value: Value = serde_json::from_str(&text).unwrap();
    let sorted = serde_json::to_string(&value).unwrap();
    assert_ne!(sorted, text);
    assert_eq!(verify("sorted.json", &sorted), 0);

    let escaped = text.replacen("\"two\"", "\"\\u0074wo\"", 1);
    assert_ne!(escaped, text);
    assert_eq!(verify("escaped.json", &escaped), 0);

    let mut changed = value.clone();
    assert_eq!(changed["steps"][1]["status"], "failure");
    changed["steps"][1]["status"] = json!("success");
    assert_eq!(verify("changed.json", &changed.to_string()), 1);

    assert_eq!(verify("truncated.json", &text[..text.len() / 2]), 2);
    let copy = read_json(&original);
    assert_eq!(copy, value);
}

#[test]
fn hostile_runner_config_values_exit_2_naming_the_key() {
    let repo = TestRepo::with_workflow(
        "on: push\njobs:\n  only:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n",
    );
    let init = repo.htci(&["init"]);
    assert_eq!(init.code, 0, "{}", init.all());
    let path = repo.config_home().join("hashtree-ci/runner.toml");
    let good = fs::read_to_string(&path).unwrap();

    let cases = [
        (
            "job_timeout_secs = 21600",
            "job_timeout_secs = 0",
            "job_timeout_secs",
        ),
        (
            "network = \"none\"",
            "network = \"wifi\"",
            "unknown network \"wifi\"",
        ),
        (
            "# memory_limit = \"4G\"",
            "memory_limit = \"lots\"",
            "memory_limit",
        ),
        ("# cpu_limit = 2.0", "cpu_limit = -1.0", "cpu_limit"),
        (
            "job_timeout_secs = 21600",
            "job_timeout_secs = 60\nbogus = 1",
            "unknown key \"bogus\"",
        ),
    ];
    for (from, to, needle) in cases {
        assert!(good.contains(from), "no {from:?} in {good}");
        fs::write(&path, good.replacen(from, to, 1)).unwrap();
        let output = repo.run(&[]);
        assert_eq!(output.code, 2, "{to}: {}", output.all());
        assert!(output.stderr.contains(needle), "{to}: {}", output.all());
        assert!(!output.stderr.contains("nsec1"), "{}", output.all());
    }
}
