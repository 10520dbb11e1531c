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

/// Reads a timestamp of a stored job result.
fn timestamp(job: &serde_json::Value, field: &str) -> time::OffsetDateTime {
    let text = job[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {job:#}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("parse {field} {text:?}: {e}"))
}

#[test]
fn independent_jobs_run_in_parallel() {
    // Each job sleeps, so jobs that run one after the other cannot
    // overlap, whatever the load; the check reads the stored times, so it
    // works for sandboxed steps too.
    let job = "\n    runs-on: ubuntu-latest\n    steps:\n      - run: sleep 1\n";
    let repo = TestRepo::with_workflow(&format!("on: push\njobs:\n  left:{job}  right:{job}"));
    let sha = repo.head();
    repo.set_limits(&[("max_concurrent_jobs", 2)]);

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    let left = repo.job(&sha, "ci.left");
    let right = repo.job(&sha, "ci.right");
    assert_eq!(left["status"], "success");
    assert_eq!(right["status"], "success");
    assert!(
        timestamp(&left, "started_at") < timestamp(&right, "finished_at"),
        "left started after right finished: {left:#} {right:#}"
    );
    assert!(
        timestamp(&right, "started_at") < timestamp(&left, "finished_at"),
        "right started after left finished: {left:#} {right:#}"
    );
}

#[test]
fn serial_jobs_do_not_overlap() {
    // The same check with one job at a time, so the check above can fail.
    let job = "\n    runs-on: ubuntu-latest\n    steps:\n      - run: sleep 1\n";
    let repo = TestRepo::with_workflow(&format!("on: push\njobs:\n  left:{job}  right:{job}"));
    let sha = repo.head();
    repo.set_limits(&[("max_concurrent_jobs", 1)]);

    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    let left = repo.job(&sha, "ci.left");
    let right = repo.job(&sha, "ci.right");
    let overlap = timestamp(&left, "started_at") < timestamp(&right, "finished_at")
        && timestamp(&right, "started_at") < timestamp(&left, "finished_at");
    assert!(!overlap, "serial jobs overlapped: {left:#} {right:#}");
}

#[test]
fn job_continue_on_error_passes_the_run() {
    // GitHub: a failed job with `continue-on-error: true` keeps its
    // `failure` conclusion, the run passes, and jobs that need it read
    // `needs.<id>.result` as `success`.
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  allowed:
    runs-on: ubuntu-latest
    continue-on-error: true
    steps:
      - run: exit 4
  after:
    needs: allowed
    runs-on: ubuntu-latest
    outputs:
      seen: ${{ steps.read.outputs.seen }}
    steps:
      - id: read
        run: echo "seen=${{ needs.allowed.result }}" >> "$GITHUB_OUTPUT"
"#,
    );
    let sha = repo.head();
    let output = repo.run(&["--json"]);
    assert_eq!(output.code, 0, "{}", output.all());

    let allowed = repo.job(&sha, "ci.allowed");
    assert_eq!(allowed["status"], "failure");
    assert_eq!(allowed["continue_on_error"], true);
    assert_eq!(allowed["steps"][0]["exit_code"], 4);
    let commit = repo.result(&sha);
    assert_eq!(commit["status"], "success");
    let after = repo.job(&sha, "ci.after");
    assert_eq!(after["status"], "success");
    assert_eq!(after["outputs"], json!({"seen": "success"}));

    let summary: serde_json::Value = serde_json::from_str(output.stdout.trim()).unwrap();
    assert_eq!(summary["success"], true, "{}", output.stdout);
    assert_eq!(summary["status"], "success", "{}", output.stdout);
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

#[test]
fn matrix_expressions_reach_the_legs() {
    // `${{ }}` in matrix list values and include rows is evaluated before
    // the legs start. A matrix read from a job output is data: the `${{`
    // that the output contains stays text in the leg's matrix and name.
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  setup:
    runs-on: ubuntu-latest
    outputs:
      grid: ${{ steps.grid.outputs.grid }}
    steps:
      - id: grid
        # printf builds the `${{` so that the script itself has none.
        run: |
          printf 'grid={"tool":["lint","$%s github.event_name }}"],"include":[{"tool":"lint","level":2}]}\n' '{{' >> "$GITHUB_OUTPUT"
  evaluated:
    runs-on: ubuntu-latest
    outputs:
      seen: ${{ steps.read.outputs.seen }}
    strategy:
      matrix:
        event: ['${{ github.event_name }}']
        include:
          - event: '${{ github.event_name }}'
            branch: 'on ${{ github.ref_name }}'
    steps:
      - id: read
        env:
          EVENT: ${{ matrix.event }}
          BRANCH: ${{ matrix.branch }}
        run: echo "seen=$EVENT $BRANCH" >> "$GITHUB_OUTPUT"
  from-output:
    needs: setup
    runs-on: ubuntu-latest
    outputs:
      seen: ${{ steps.read.outputs.seen }}
    strategy:
      matrix: ${{ fromJSON(needs.setup.outputs.grid) }}
    steps:
      - id: read
        env:
          TOOL: ${{ matrix.tool }}
          LEVEL: ${{ matrix.level }}
        run: echo "seen=$TOOL/$LEVEL/${{ strategy.job-index }}" >> "$GITHUB_OUTPUT"
"#,
    );
    let sha = repo.head();
    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());

    let evaluated = repo.job(&sha, "ci.evaluated.1");
    assert_eq!(evaluated["status"], "success");
    assert_eq!(
        evaluated["matrix"],
        json!({"event": "push", "branch": "on main"})
    );
    assert_eq!(evaluated["outputs"], json!({"seen": "push on main"}));
    assert_eq!(evaluated["job_name"], "evaluated (push, on main)");

    let lint = repo.job(&sha, "ci.from-output.1");
    assert_eq!(lint["status"], "success");
    assert_eq!(lint["matrix"], json!({"tool": "lint", "level": 2}));
    assert_eq!(lint["outputs"], json!({"seen": "lint/2/0"}));
    assert_eq!(lint["job_name"], "from-output (lint, 2)");

    let literal = repo.job(&sha, "ci.from-output.2");
    assert_eq!(literal["status"], "success");
    let text = "${{ github.event_name }}";
    assert_eq!(literal["matrix"], json!({ "tool": text }));
    assert_eq!(literal["outputs"], json!({ "seen": format!("{text}//1") }));
    assert_eq!(literal["job_name"], format!("from-output ({text})"));

    let result = repo.result(&sha);
    assert_eq!(result["jobs"].as_array().unwrap().len(), 4);
}

#[test]
fn fail_fast_runs_cleanup_of_cancelled_leg() {
    // Leg 1 fails while leg 2 runs (or, on a slow machine, before its
    // first step): fail-fast cancels leg 2, whose `if: always()` step
    // still runs and sees `job.status` cancelled.
    let sleeper = run_support::marker(21);
    let repo = TestRepo::with_workflow(
        &r#"
on: push
jobs:
  grid:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2]
    steps:
      - name: Work
        run: |
          if [ "${{ matrix.n }}" = 1 ]; then
            sleep 2
            exit 1
          fi
          sleep @MARKER@
      - name: Cleanup
        if: always()
        run: echo "cleanup leg=${{ matrix.n }} job.status=${{ job.status }}"
"#
        .replace("@MARKER@", &sleeper),
    );
    let sha = repo.head();
    repo.set_limits(&[("max_concurrent_jobs", 2)]);

    let output = repo.run(&[]);
    assert_eq!(output.code, 1, "{}", output.all());
    assert_eq!(
        run_support::processes_with(&format!("sleep {sleeper}")),
        Vec::<u32>::new()
    );

    let failed = repo.job(&sha, "ci.grid.1");
    assert_eq!(failed["status"], "failure");
    let cancelled = repo.job(&sha, "ci.grid.2");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["steps"][0]["status"], "cancelled");
    assert_eq!(cancelled["steps"][1]["status"], "success");
    let log = repo.job_log(&sha, "ci.grid.2");
    assert!(log.contains("cleanup leg=2 job.status=cancelled"), "{log}");
    let log = repo.job_log(&sha, "ci.grid.1");
    assert!(log.contains("cleanup leg=1 job.status=failure"), "{log}");
}
