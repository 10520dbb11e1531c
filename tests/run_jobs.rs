//! `htci run` end to end: job scheduling (needs, outputs, conditions,
//! matrices, fail-fast, max-parallel, continue-on-error) and the results.

mod run_support;

use run_support::{TestRepo, summary_job};
use serde_json::json;

#[test]
fn jobs_follow_needs_and_conditions() {
    let repo = TestRepo::with_workflow(include_str!("data/run/jobs.yml"));
    let sha = repo.head();

    let output = repo.run(&[]);
    assert_eq!(output.code, 1, "{}", output.all());

    let expected = [
        ("ci.produce", "success"),
        ("ci.consume", "success"),
        ("ci.dynamic.1", "success"),
        ("ci.dynamic.2", "success"),
        ("ci.dynamic.3", "success"),
        ("ci.legs.1", "success"),
        ("ci.legs.2", "success"),
        ("ci.fails", "failure"),
        ("ci.after-failure", "skipped"),
        ("ci.on-failure", "success"),
        ("ci.chained", "success"),
        ("ci.never", "skipped"),
        ("ci.allowed-to-fail", "failure"),
        ("ci.after-allowed", "success"),
    ];
    let result = repo.result(&sha);
    assert_eq!(result["status"], "failure");
    assert_eq!(result["jobs"].as_array().unwrap().len(), expected.len());
    for (key, status) in expected {
        assert_eq!(summary_job(&result, key)["status"], status, "job {key}");
        assert_eq!(repo.job(&sha, key)["status"], status, "job {key}");
    }

    let produce = repo.job(&sha, "ci.produce");
    assert_eq!(
        produce["outputs"],
        json!({"word": "hello", "matrix": "{\"n\":[1,2,3]}"})
    );
    assert_eq!(repo.job(&sha, "ci.dynamic.2")["matrix"], json!({"n": 2}));
    assert_eq!(
        repo.job(&sha, "ci.legs.2")["matrix"],
        json!({"os": "beta", "extra": "yes"})
    );
    assert_eq!(repo.job(&sha, "ci.legs.1")["job_name"], "legs (alpha)");
    assert_eq!(repo.job(&sha, "ci.never")["steps"], json!([]));
}

#[test]
fn fail_fast_cancels_other_legs() {
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  grid:
    runs-on: ubuntu-latest
    strategy:
      max-parallel: 1
      matrix:
        n: [1, 2, 3]
    steps:
      - run: test "${{ matrix.n }}" != 1 || exit 1
"#,
    );
    let sha = repo.head();
    let output = repo.run(&[]);
    assert_eq!(output.code, 1, "{}", output.all());

    assert_eq!(repo.job(&sha, "ci.grid.1")["status"], "failure");
    assert_eq!(repo.job(&sha, "ci.grid.2")["status"], "cancelled");
    assert_eq!(repo.job(&sha, "ci.grid.3")["status"], "cancelled");
}

#[test]
fn fail_fast_false_runs_every_leg() {
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  grid:
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      max-parallel: 1
      matrix:
        n: [1, 2, 3]
    steps:
      - run: test "${{ strategy.fail-fast }}" = false && test "${{ matrix.n }}" != 1
"#,
    );
    let sha = repo.head();
    let output = repo.run(&[]);
    assert_eq!(output.code, 1, "{}", output.all());

    assert_eq!(repo.job(&sha, "ci.grid.1")["status"], "failure");
    assert_eq!(repo.job(&sha, "ci.grid.2")["status"], "success");
    assert_eq!(repo.job(&sha, "ci.grid.3")["status"], "success");
}

#[test]
fn max_concurrent_jobs_one_serializes() {
    let repo = TestRepo::new();
    let lock = repo.root.join("lock");
    let job = r#"
    runs-on: ubuntu-latest
    steps:
      - run: |
          mkdir "@LOCK@" || exit 1
          sleep 0.2
          rmdir "@LOCK@"
"#;
    let workflow = format!("on: push\njobs:\n  a:{job}  b:{job}  c:{job}")
        .replace("@LOCK@", lock.to_str().unwrap());
    repo.write(".github/workflows/ci.yml", &workflow);
    let sha = repo.commit("Add the workflow");
    repo.set_limits(&[("max_concurrent_jobs", 1)]);

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    for key in ["ci.a", "ci.b", "ci.c"] {
        assert_eq!(repo.job(&sha, key)["status"], "success", "job {key}");
    }
}

#[test]
fn runner_timeout_caps_jobs() {
    let sleeper = run_support::marker(5);
    let repo = TestRepo::with_workflow(
        &"on: push\njobs:\n  long:\n    runs-on: ubuntu-latest\n    steps:\n      - run: sleep @MARKER@\n"
            .replace("@MARKER@", &sleeper),
    );
    let sha = repo.head();
    repo.set_limits(&[("job_timeout_secs", 1)]);

    let output = repo.run(&[]);
    assert_eq!(output.code, 1, "{}", output.all());
    assert_eq!(repo.job(&sha, "ci.long")["status"], "failure");
    assert!(repo.job_log(&sha, "ci.long").contains("timed out"));
    assert_eq!(
        run_support::processes_with(&format!("sleep {sleeper}")),
        Vec::<u32>::new()
    );
}

#[test]
fn max_parallel_one_never_overlaps() {
    let repo = TestRepo::new();
    let lock = repo.root.join("lock");
    repo.write(
        ".github/workflows/ci.yml",
        &r#"
on: push
jobs:
  serial:
    runs-on: ubuntu-latest
    strategy:
      max-parallel: 1
      matrix:
        n: [1, 2, 3]
    steps:
      - run: |
          mkdir "@LOCK@" || exit 1
          sleep 0.2
          rmdir "@LOCK@"
"#
        .replace("@LOCK@", lock.to_str().unwrap()),
    );
    let sha = repo.commit("Add the workflow");

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    for leg in 1..=3 {
        assert_eq!(
            repo.job(&sha, &format!("ci.serial.{leg}"))["status"],
            "success"
        );
    }
}

#[test]
fn independent_jobs_run_in_parallel() {
    if run_support::host_only("the jobs meet in a host directory that sandboxed steps cannot see") {
        return;
    }
    let repo = TestRepo::new();
    let meeting = repo.root.join("meeting");
    repo.write(
        ".github/workflows/ci.yml",
        &r#"
on: push
jobs:
  left:
    runs-on: ubuntu-latest
    steps:
      - run: |
          touch "@DIR@/left"
          for i in $(seq 400); do test -e "@DIR@/right" && exit 0; sleep 0.05; done
          exit 1
  right:
    runs-on: ubuntu-latest
    steps:
      - run: |
          touch "@DIR@/right"
          for i in $(seq 400); do test -e "@DIR@/left" && exit 0; sleep 0.05; done
          exit 1
"#
        .replace("@DIR@", meeting.to_str().unwrap()),
    );
    std::fs::create_dir_all(&meeting).unwrap();
    let sha = repo.commit("Add the workflow");
    repo.set_limits(&[("max_concurrent_jobs", 2)]);

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    assert_eq!(repo.job(&sha, "ci.left")["status"], "success");
    assert_eq!(repo.job(&sha, "ci.right")["status"], "success");
}

#[test]
fn results_are_signed_and_complete() {
    let repo = TestRepo::with_workflow(
        r#"
name: signed
on: push
jobs:
  one:
    runs-on: ubuntu-latest
    outputs:
      value: ${{ steps.out.outputs.value }}
    steps:
      - id: out
        name: Print
        run: |
          echo "hello log"
          echo "value=42" >> "$GITHUB_OUTPUT"
          echo '## hello summary' >> "$GITHUB_STEP_SUMMARY"
"#,
    );
    let sha = repo.head();
    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    let dir = repo.result_dir(&sha);
    assert!(
        output.stdout.contains(&dir.display().to_string()),
        "{}",
        output.all()
    );

    let job = repo.job(&sha, "ci.one");
    assert_eq!(job["workflow"], "signed");
    assert_eq!(job["workflow_file"], ".github/workflows/ci.yml");
    assert_eq!(job["commit"], sha);
    assert_eq!(job["outputs"], json!({"value": "42"}));
    assert_eq!(
        job["runner_tags"],
        json!([
            "linux",
            std::env::consts::ARCH
                .replace("x86_64", "x64")
                .replace("aarch64", "arm64")
        ])
    );
    assert_eq!(job["signature"].as_str().unwrap().len(), 128);
    assert_eq!(ci_core::verify_value(&job), Ok(()));
    assert!(job["runner_npub"].as_str().unwrap().starts_with("npub1"));

    let log = repo.job_log(&sha, "ci.one");
    assert!(log.contains("hello log"), "{log}");
    let digest = sha256_hex(log.as_bytes());
    assert_eq!(job["logs_hash"], digest);

    let step = &job["steps"][0];
    assert_eq!(step["name"], "Print");
    assert_eq!(step["status"], "success");
    assert_eq!(step["exit_code"], 0);
    let step_log = std::fs::read(dir.join(step["log_path"].as_str().unwrap())).unwrap();
    let summary = std::fs::read_to_string(dir.join("logs/ci.one/summary.md")).unwrap();
    assert_eq!(summary, "## hello summary\n");
    assert_eq!(step["logs_hash"], sha256_hex(&step_log));

    let result = repo.result(&sha);
    assert_eq!(result["status"], "success");
    assert_eq!(result["signature"].as_str().unwrap().len(), 128);
    assert_eq!(ci_core::verify_value(&result), Ok(()));
    assert_eq!(result["jobs"][0]["path"], "jobs/ci.one/result.json");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
