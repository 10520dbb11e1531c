//! `htci run` end to end: step semantics (shells, env precedence, the
//! GITHUB_* files, outputs, outcomes, conditions, contexts).

mod run_support;

use run_support::{TestRepo, expected_isolation, step};

#[test]
fn step_semantics_hold() {
    let repo = TestRepo::new();
    repo.write(
        ".github/workflows/ci.yml",
        include_str!("data/run/steps.yml"),
    );
    repo.write("sub/dir/marker.txt", "marker\n");
    let sha = repo.commit("Add the workflow");

    let output = repo
        .command(&["run", repo.repo.to_str().unwrap()])
        .env("HTCI_TEST_LEAK", "leaked-value")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");

    let result = repo.result(&sha);
    assert_eq!(result["status"], "success");
    assert_eq!(result["commit"], sha);
    assert_eq!(result["dirty"], false);

    let job = repo.job(&sha, "ci.semantics");
    assert_eq!(job["status"], "success");
    assert_eq!(job["event"], "push");
    assert_eq!(job["ref"], "refs/heads/main");
    assert_eq!(job["isolation"]["kind"], expected_isolation());
    let steps = job["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 13);
    for name in [
        "Env precedence",
        "Standard variables",
        "Script file and bash options",
        "Outcome and conclusion",
        "Default shell without pipefail",
        "Python shell",
        "Custom shell",
        "Write the step files",
        "Read the step files",
        "Path additions precede PATH from env",
        "Working directory",
    ] {
        assert_eq!(step(&job, name)["status"], "success", "step {name}");
        assert_eq!(step(&job, name)["exit_code"], 0, "step {name}");
    }

    let pipe = step(&job, "Pipefail fails the step");
    assert_eq!(pipe["status"], "success");
    assert_eq!(pipe["outcome"], "failure");
    assert_eq!(pipe["exit_code"], 1);
    assert_eq!(pipe["id"], "pipe");

    let skipped = step(&job, "Skipped by condition");
    assert_eq!(skipped["status"], "skipped");
    assert_eq!(skipped["exit_code"], serde_json::Value::Null);

    assert_eq!(repo.job(&sha, "ci.defaults")["status"], "success");
    assert!(repo.files_containing("leaked-value").is_empty());
}

#[test]
fn failed_steps_stop_the_job() {
    let repo = TestRepo::with_workflow(include_str!("data/run/failures.yml"));
    let sha = repo.head();

    let output = repo.run(&[]);
    assert_eq!(output.code, 1, "{}", output.all());

    let broken = repo.job(&sha, "ci.broken");
    assert_eq!(broken["status"], "failure");
    let statuses: Vec<&str> = broken["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["failure", "skipped", "success", "success", "skipped"]
    );
    assert_eq!(step(&broken, "Fails")["exit_code"], 3);

    let bad_output = repo.job(&sha, "ci.bad-output");
    assert_eq!(bad_output["status"], "failure");
    assert_eq!(step(&bad_output, "Unterminated block")["status"], "failure");
    let log = repo.job_log(&sha, "ci.bad-output");
    assert!(log.contains("GITHUB_OUTPUT:1"), "{log}");
    assert!(log.contains("text<<END"), "{log}");

    let missing = repo.job(&sha, "ci.missing-directory");
    assert_eq!(missing["status"], "failure");
    let log = repo.job_log(&sha, "ci.missing-directory");
    assert!(
        log.contains("working-directory `does/not/exist` does not exist"),
        "{log}"
    );

    let result = repo.result(&sha);
    assert_eq!(result["status"], "failure");
    assert_eq!(result["jobs"].as_array().unwrap().len(), 3);
}

#[test]
fn smaller_semantics_hold() {
    let repo = TestRepo::with_workflow(include_str!("data/run/misc.yml"));
    let sha = repo.head();

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());

    let job = repo.job(&sha, "ci.named.1");
    assert_eq!(job["status"], "success");
    assert_eq!(job["job_name"], "build linux");
    for name in [
        "Job default shell is sh",
        "Write a multi-line env value",
        "Read the multi-line env value",
        "Checkout outside the workspace",
    ] {
        assert_eq!(step(&job, name)["status"], "success", "step {name}");
    }
    assert_eq!(step(&job, "Docker action")["status"], "skipped");

    let missing = step(&job, "Missing local action");
    assert_eq!(missing["status"], "success");
    assert_eq!(missing["outcome"], "failure");

    let expressions = step(&job, "Expression values");
    assert_eq!(expressions["status"], "success");
    assert_eq!(expressions["outcome"], "failure");
    assert_eq!(expressions["exit_code"], 5);

    let log = repo.job_log(&sha, "ci.named.1");
    assert!(
        log.contains("action `docker://alpine:3` was not run"),
        "{log}"
    );
    assert!(
        log.contains("action `./no/such/action`: no action.yml"),
        "{log}"
    );
    assert!(
        log.contains("`path: ../outside` is not a relative path inside the workspace"),
        "{log}"
    );
    assert!(log.contains("input `fetch-depth` is ignored"), "{log}");
    assert!(!repo.root.join("outside").exists());
}

#[test]
fn secret_split_across_long_line_masked() {
    // A line longer than 64 KiB is read in pieces; the secret is printed
    // across the first boundary, and a second copy one character at a time.
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - name: Long line
        run: |
          head -c 65530 /dev/zero | tr '\0' a
          printf '%s' "$TOKEN"
          printf 'z\n'
          for c in $(printf '%s' "$TOKEN" | fold -w1); do printf '%s' "$c"; sleep 0.01; done
          echo
        env:
          TOKEN: ${{ secrets.TOKEN }}
"#,
    );
    let sha = repo.head();
    let output = repo.run(&["--secret", "TOKEN=split-secret-value"]);
    assert_eq!(output.code, 0, "{}", output.all());
    assert!(!output.stdout.contains("split-secret"), "{}", output.all());
    assert!(!output.stdout.contains("secret-value"), "{}", output.all());

    let log = repo.job_log(&sha, "ci.long");
    assert!(!log.contains("split-secret"), "{log}");
    assert!(!log.contains("secret-value"), "{log}");
    let lines: Vec<&str> = log.lines().filter(|l| !l.starts_with("##[")).collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert_eq!(lines[0], "a".repeat(65530));
    assert_eq!(lines[1], "***z");
    assert_eq!(lines[2], "***");
    assert_eq!(
        repo.files_containing("split-secret-value"),
        Vec::<std::path::PathBuf>::new()
    );
}
