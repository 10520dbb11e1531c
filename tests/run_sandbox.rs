//! End-to-end tests of `htci run --sandbox`: every step runs in its own
//! rootless sandbox over real git repositories. CI runs these as root and
//! again as an unprivileged user, where fewer limits can be enforced.

mod run_support;

use std::fs;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use run_support::{RunOutput, TestRepo, marker, processes_with, step, wait_for};
use serde_json::Value;

/// Runs `htci init` unless runner.toml exists, and sets `[runner.container]` keys and
/// `[runner.images]` entries in the new runner.toml.
fn configure(repo: &TestRepo, container: &[(&str, &str)], images: &[(&str, &str)]) {
    let path = repo.config_home().join("hashtree-ci/runner.toml");
    if !path.exists() {
        let output = repo.htci(&["init"]);
        assert_eq!(output.code, 0, "htci init: {}", output.all());
    }
    let text = fs::read_to_string(&path).unwrap();

    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let key = line
            .trim_start_matches("# ")
            .split(" =")
            .next()
            .unwrap_or("");
        match container.iter().find(|(k, _)| *k == key) {
            Some((k, v)) => lines.push(format!("{k} = {v}")),
            None => lines.push(line.to_string()),
        }
        if line == "[runner.images]" {
            for (label, image) in images {
                lines.push(format!("\"{label}\" = \"{image}\""));
            }
        }
    }
    fs::write(&path, lines.join("\n") + "\n").unwrap();
}

/// Returns the lines the steps of job `key` printed, without `##[` header lines.
fn step_lines(repo: &TestRepo, sha: &str, key: &str) -> Vec<String> {
    repo.job_log(sha, key)
        .lines()
        .filter(|line| !line.starts_with("##["))
        .map(str::to_string)
        .collect()
}

fn run_sandboxed(repo: &TestRepo, args: &[&str]) -> RunOutput {
    let mut all = vec!["--sandbox"];
    all.extend_from_slice(args);
    repo.run(&all)
}

fn stderr_lines(output: &RunOutput) -> Vec<&str> {
    output.stderr.lines().filter(|l| !l.is_empty()).collect()
}

#[test]
fn steps_run_as_sandbox_user() {
    let repo = TestRepo::new();
    repo.write("committed.txt", "from the commit\n");
    repo.write(
        ".github/workflows/ci.yml",
        r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: Identity
        run: |
          echo "uid=$(id -u) gid=$(id -g) home=$HOME"
          if touch /probe 2>/dev/null; then echo "root is writable"; exit 1; fi
          echo "root is read-only"
      - name: Workspace
        run: |
          cat committed.txt
          echo "workspace=$GITHUB_WORKSPACE pwd=$PWD"
          echo "written in step two" > made.txt
      - name: Set
        id: set
        run: |
          echo "value=42" >> "$GITHUB_OUTPUT"
          echo "CARRIED=yes" >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/bin"
          printf '#!/bin/sh\necho tool ran\n' > "$RUNNER_TEMP/bin/mytool"
          chmod +x "$RUNNER_TEMP/bin/mytool"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
      - name: Read back
        run: |
          cat made.txt
          echo "carried=$CARRIED value=${{ steps.set.outputs.value }}"
          mytool
          git log --format=%s -1
"#,
    );
    let sha = repo.commit("Add the workflow");

    let output = run_sandboxed(&repo, &[]);
    assert_eq!(output.code, 0, "{}", output.all());

    let job = repo.job(&sha, "ci.build");
    assert_eq!(job["status"], "success");
    assert_eq!(job["isolation"]["kind"], "sandbox");
    assert_eq!(job["isolation"]["image"], "host");
    assert_eq!(job["isolation"]["network"], "none");
    assert_eq!(job["isolation"]["seccomp"], "default");
    for name in ["Identity", "Workspace", "Set", "Read back"] {
        assert_eq!(step(&job, name)["status"], "success", "{name}");
    }

    let lines = step_lines(&repo, &sha, "ci.build");
    let expected = [
        "uid=1000 gid=1000 home=/home/runner",
        "root is read-only",
        "from the commit",
        "workspace=/workspace pwd=/workspace",
        "written in step two",
        "carried=yes value=42",
        "tool ran",
        "Add the workflow",
    ];
    for line in expected {
        assert!(
            lines.iter().any(|l| l == line),
            "no line {line:?} in {lines:#?}"
        );
    }
}

#[test]
fn network_none_blocks_host_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let repo = TestRepo::with_workflow(
        &r#"
on: push
jobs:
  probe:
    runs-on: ubuntu-latest
    steps:
      - name: Connect
        shell: bash
        run: |
          if (exec 3<>/dev/tcp/127.0.0.1/@PORT@) 2>/dev/null; then
            echo "reached the host"
            exit 1
          fi
          echo "host loopback unreachable"
"#
        .replace("@PORT@", &port.to_string()),
    );
    let sha = repo.head();

    let output = run_sandboxed(&repo, &["--network", "none"]);
    assert_eq!(output.code, 0, "{}", output.all());
    assert!(step_lines(&repo, &sha, "ci.probe").contains(&"host loopback unreachable".to_string()));

    listener.set_nonblocking(true).unwrap();
    let accepted = listener.accept();
    assert_eq!(
        accepted.err().map(|e| e.kind()),
        Some(ErrorKind::WouldBlock),
        "the sandbox connected to the host's listener"
    );
}

/// Returns the names of the limits that `ci_sandbox::probe()` reports
/// this host cannot enforce, for a run that requests pids, memory and CPU limits.
fn expected_unenforced() -> Vec<String> {
    use ci_sandbox::CgroupSupport;

    let support = ci_sandbox::probe();
    let has = |controller: &str| match &support.cgroups {
        CgroupSupport::V1Root { controllers } | CgroupSupport::V2Delegated { controllers, .. } => {
            controllers.iter().any(|c| c == controller)
        }
        CgroupSupport::Unavailable { .. } => false,
    };
    let mut names = Vec::new();
    if !has("pids") && !support.rlimit_nproc {
        names.push("pids".to_string());
    }
    for name in ["memory", "cpu"] {
        if !has(name) {
            names.push(name.to_string());
        }
    }
    names
}

#[test]
fn isolation_records_limits_in_force() {
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  one:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - run: echo one
      - run: echo two
  two:
    runs-on: ubuntu-latest
    steps:
      - run: echo three
"#,
    );
    let sha = repo.head();
    configure(
        &repo,
        &[("memory_limit", "\"512m\""), ("cpu_limit", "\"1.5\"")],
        &[],
    );

    let output = run_sandboxed(&repo, &[]);
    assert_eq!(output.code, 0, "{}", output.all());

    let expected = expected_unenforced();
    let isolation = &repo.job(&sha, "ci.one")["isolation"];
    let unenforced: Vec<String> = isolation["unenforced"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let text = entry.as_str().unwrap();
            let (name, reason) = text.split_once(": ").unwrap();
            assert!(!reason.is_empty(), "{text}");
            name.to_string()
        })
        .collect();
    assert_eq!(unenforced, expected, "{isolation:#}");

    let limits = &isolation["limits"];
    assert_eq!(limits["wall_time_secs"], 300.0);
    assert_eq!(limits["tmp_size_bytes"], 1u64 << 30);
    assert!(
        limits["open_files"].as_u64().is_some_and(|n| n >= 3),
        "{limits}"
    );
    let memory = if expected.contains(&"memory".to_string()) {
        Value::Null
    } else {
        Value::from(512u64 << 20)
    };
    assert_eq!(limits["memory_bytes"], memory, "{limits}");
    let cpus = if expected.contains(&"cpu".to_string()) {
        Value::Null
    } else {
        Value::from(1.5)
    };
    assert_eq!(limits["cpus"], cpus, "{limits}");

    // Each unenforced limit is warned about once per run, not per step.
    for name in &expected {
        let warnings = output
            .stderr
            .lines()
            .filter(|l| {
                l.contains("sandbox limit not enforced") && l.contains(&format!("{name}: "))
            })
            .count();
        assert_eq!(warnings, 1, "{}", output.all());
    }
    let second = &repo.job(&sha, "ci.two")["isolation"];
    assert_eq!(second["unenforced"], isolation["unenforced"]);
}

/// Builds a root filesystem that holds only `/bin/sh`, the libraries it
/// loads (found with ldd) and `/etc/image-marker`.
fn build_tiny_image(dir: &Path) -> PathBuf {
    let image = dir.join("tiny-image");
    let shell = fs::canonicalize("/bin/sh").unwrap();
    let ldd = Command::new("ldd").arg(&shell).output().expect("ldd runs");
    let text = String::from_utf8_lossy(&ldd.stdout);
    let mut files = vec![(shell.clone(), PathBuf::from("bin/sh"))];
    for line in text.lines() {
        let path = line
            .split_whitespace()
            .find(|word| word.starts_with('/'))
            .map(PathBuf::from);
        if let Some(path) = path {
            let inside = path.strip_prefix("/").unwrap().to_path_buf();
            files.push((fs::canonicalize(&path).unwrap(), inside));
        }
    }
    for (source, inside) in files {
        let target = image.join(inside);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(&source, &target).unwrap();
    }
    fs::create_dir_all(image.join("etc")).unwrap();
    fs::write(image.join("etc/image-marker"), "tiny image\n").unwrap();
    image
}

#[test]
fn image_dir_from_flag_and_labels() {
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  tiny:
    runs-on: [self-hosted, tiny]
    steps:
      - name: Inside
        run: |
          read line < /etc/image-marker
          echo "marker=$line"
          if [ -e /usr/bin/python3 ]; then echo "host /usr is visible"; exit 1; fi
          echo "only the image"
  host:
    runs-on: ubuntu-latest
    steps:
      - name: Host root
        run: test -e /usr/bin/env && echo "host root"
"#,
    );
    let sha = repo.head();
    let image = build_tiny_image(&repo.root);
    let image_text = image.to_str().unwrap();
    configure(&repo, &[], &[("tiny", image_text)]);

    let output = run_sandboxed(&repo, &[]);
    assert_eq!(output.code, 0, "{}", output.all());
    let canonical = fs::canonicalize(&image).unwrap();
    let tiny = repo.job(&sha, "ci.tiny");
    assert_eq!(tiny["isolation"]["image"], canonical.to_str().unwrap());
    assert!(step_lines(&repo, &sha, "ci.tiny").contains(&"marker=tiny image".to_string()));
    assert!(step_lines(&repo, &sha, "ci.tiny").contains(&"only the image".to_string()));
    let host = repo.job(&sha, "ci.host");
    assert_eq!(host["isolation"]["image"], "host");

    // --image wins over the default image of runner.toml.
    let second = TestRepo::with_workflow(
        r#"
on: push
jobs:
  any:
    runs-on: ubuntu-latest
    steps:
      - run: |
          read line < /etc/image-marker
          echo "marker=$line"
"#,
    );
    let second_sha = second.head();
    let output = run_sandboxed(&second, &["--image", image_text]);
    assert_eq!(output.code, 0, "{}", output.all());
    let any = second.job(&second_sha, "ci.any");
    assert_eq!(any["isolation"]["image"], canonical.to_str().unwrap());
    assert!(step_lines(&second, &second_sha, "ci.any").contains(&"marker=tiny image".to_string()));
}

#[test]
fn invalid_sandbox_settings_exit_2() {
    let repo = TestRepo::with_workflow(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo never\n",
    );

    let output = run_sandboxed(&repo, &["--image", "/nonexistent/htci-image"]);
    assert_eq!(output.code, 2, "{}", output.all());
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{}", output.all());
    assert!(lines[0].contains("/nonexistent/htci-image"), "{}", lines[0]);

    let output = run_sandboxed(&repo, &["--network", "wifi"]);
    assert_eq!(output.code, 2, "{}", output.all());
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{}", output.all());
    assert!(lines[0].contains("`wifi`"), "{}", lines[0]);
    assert!(lines[0].contains("none, host or pasta"), "{}", lines[0]);

    configure(&repo, &[("runtime", "\"lxc\"")], &[]);
    let output = run_sandboxed(&repo, &[]);
    assert_eq!(output.code, 2, "{}", output.all());
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{}", output.all());
    assert!(lines[0].contains("\"lxc\""), "{}", lines[0]);
    assert!(
        lines[0].contains("\"sandbox\", \"docker\" or \"podman\""),
        "{}",
        lines[0]
    );

    configure(
        &repo,
        &[("runtime", "\"sandbox\""), ("network", "\"bridge\"")],
        &[],
    );
    let output = run_sandboxed(&repo, &[]);
    assert_eq!(output.code, 2, "{}", output.all());
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{}", output.all());
    assert!(lines[0].contains("\"bridge\""), "{}", lines[0]);
    assert!(
        lines[0].contains("\"none\", \"pasta\", \"host\""),
        "{}",
        lines[0]
    );
}

#[test]
fn missing_label_image_exits_2() {
    let repo = TestRepo::with_workflow(
        "on: push\njobs:\n  a:\n    runs-on: [gpu]\n    steps:\n      - run: echo never\n",
    );
    configure(&repo, &[], &[("gpu", "/nonexistent/gpu-image")]);
    let output = run_sandboxed(&repo, &[]);
    assert_eq!(output.code, 2, "{}", output.all());
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{}", output.all());
    assert!(lines[0].contains("/nonexistent/gpu-image"), "{}", lines[0]);
    assert!(lines[0].contains("[runner.images] gpu"), "{}", lines[0]);
}

#[test]
fn docker_runtime_warns_and_sandboxes() {
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo "uid=$(id -u)"
      - run: echo again
  b:
    runs-on: ubuntu-latest
    steps:
      - run: echo "uid=$(id -u)"
"#,
    );
    let sha = repo.head();
    configure(
        &repo,
        &[
            ("enabled", "true"),
            ("runtime", "\"docker\""),
            ("network", "\"host\""),
        ],
        &[],
    );

    // No --sandbox: `enabled = true` turns it on.
    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());
    let warnings = output
        .stderr
        .lines()
        .filter(|l| l.contains("runtime = \"docker\""))
        .count();
    assert_eq!(warnings, 1, "{}", output.all());
    for key in ["ci.a", "ci.b"] {
        assert_eq!(repo.job(&sha, key)["isolation"]["kind"], "sandbox");
        assert_eq!(repo.job(&sha, key)["isolation"]["network"], "host");
        assert!(step_lines(&repo, &sha, key).contains(&"uid=1000".to_string()));
    }
}

#[test]
fn timeout_kills_whole_sandbox() {
    let tag = marker(41);
    let repo = TestRepo::with_workflow(
        &r#"
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - name: Hang
        timeout-minutes: 0.03
        run: |
          sleep @TAG@ &
          (sleep @TAG@ &)
          sleep @TAG@
"#
        .replace("@TAG@", &tag),
    );
    let sha = repo.head();

    let output = run_sandboxed(&repo, &[]);
    assert_eq!(output.code, 1, "{}", output.all());
    let job = repo.job(&sha, "ci.slow");
    assert_eq!(job["status"], "failure");
    assert_eq!(step(&job, "Hang")["status"], "failure");
    assert!(
        wait_for(Duration::from_secs(5), || processes_with(&format!(
            "sleep {tag}"
        ))
        .is_empty()),
        "sleep {tag} outlived the run: {:?}",
        processes_with(&format!("sleep {tag}"))
    );
}

#[test]
fn memory_limit_stops_large_allocation() {
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  hog:
    runs-on: ubuntu-latest
    steps:
      - name: Allocate
        run: python3 -c 'data = b"x" * (512 * 1024 * 1024); print("allocated", len(data))'
"#,
    );
    let sha = repo.head();
    configure(&repo, &[("memory_limit", "\"64m\"")], &[]);

    let output = run_sandboxed(&repo, &[]);
    let job = repo.job(&sha, "ci.hog");
    let unenforced = job["isolation"]["unenforced"].to_string();
    if expected_unenforced().contains(&"memory".to_string()) {
        // This host cannot enforce it, so the result must list it.
        assert!(unenforced.contains("\"memory: "), "{unenforced}");
        assert_eq!(job["isolation"]["limits"]["memory_bytes"], Value::Null);
        return;
    }
    assert_eq!(output.code, 1, "{}", output.all());
    assert_eq!(job["isolation"]["limits"]["memory_bytes"], 64u64 << 20);
    let allocate = step(&job, "Allocate");
    assert_eq!(allocate["status"], "failure");
    assert_eq!(allocate["exit_code"], 128 + 9, "{}", output.all());
    assert!(
        !step_lines(&repo, &sha, "ci.hog")
            .iter()
            .any(|line| line.starts_with("allocated")),
        "{}",
        output.all()
    );
}

#[test]
fn sandbox_options_need_sandbox() {
    let repo = TestRepo::with_workflow(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo never\n",
    );
    // Built without the test helper's run arguments, so that
    // HTCI_TEST_SANDBOX=1 does not add --sandbox.
    let output = repo
        .command(&[])
        .args(["run", repo.repo.to_str().unwrap(), "--network", "host"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("add --sandbox"), "{stderr}");
}

#[test]
fn pasta_network_recorded() {
    use nix::unistd::{AccessFlags, access};

    let tun = access("/dev/net/tun", AccessFlags::R_OK | AccessFlags::W_OK);
    if ci_sandbox::probe().pasta.is_none() || tun.is_err() {
        // Without a usable pasta the flag must be rejected up front.
        let repo = TestRepo::with_workflow(
            "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo never\n",
        );
        let output = run_sandboxed(&repo, &["--network", "pasta"]);
        assert_eq!(output.code, 2, "{}", output.all());
        assert_eq!(stderr_lines(&output).len(), 1, "{}", output.all());
        assert!(output.stderr.contains("pasta"), "{}", output.all());
        return;
    }
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  net:
    runs-on: ubuntu-latest
    steps:
      - name: Interfaces
        run: |
          count=$(tail -n +3 /proc/net/dev | wc -l)
          echo "interfaces=$count"
          test "$count" -ge 2
"#,
    );
    let sha = repo.head();
    let output = run_sandboxed(&repo, &["--network", "pasta"]);
    assert_eq!(output.code, 0, "{}", output.all());
    let job = repo.job(&sha, "ci.net");
    assert_eq!(job["isolation"]["network"], "pasta");
    assert_eq!(step(&job, "Interfaces")["status"], "success");
}

#[test]
fn fail_fast_kills_running_sandbox() {
    let tag = marker(42);
    let repo = TestRepo::with_workflow(
        &r#"
on: push
jobs:
  grid:
    runs-on: ubuntu-latest
    strategy:
      max-parallel: 2
      matrix:
        n: [1, 2]
    steps:
      - name: Work
        run: |
          if [ "${{ matrix.n }}" = 1 ]; then sleep 5; exit 1; fi
          sleep @TAG@ &
          sleep @TAG@
"#
        .replace("@TAG@", &tag),
    );
    let sha = repo.head();
    configure(&repo, &[("max_concurrent_jobs", "2")], &[]);

    let output = run_sandboxed(&repo, &[]);
    assert_eq!(output.code, 1, "{}", output.all());
    assert_eq!(repo.job(&sha, "ci.grid.1")["status"], "failure");
    let second = repo.job(&sha, "ci.grid.2");
    assert_eq!(second["status"], "cancelled");
    assert_eq!(step(&second, "Work")["status"], "cancelled");
    // This line comes only from a step whose process was running.
    assert!(
        repo.job_log(&sha, "ci.grid.2")
            .contains("##[error]the run was cancelled"),
        "{}",
        output.all()
    );
    assert!(
        wait_for(Duration::from_secs(5), || processes_with(&format!(
            "sleep {tag}"
        ))
        .is_empty()),
        "sleep {tag} outlived the run"
    );
}

#[test]
fn step_cannot_bind_host_paths() {
    // A step rewrites the git alternates file of its workspace, which the
    // launcher reads to bind the source repository's objects. Later steps
    // must not see the host directory it names.
    let repo = TestRepo::new();
    let secret_dir = repo.root.join("host-secret/objects");
    fs::create_dir_all(&secret_dir).unwrap();
    fs::write(secret_dir.join("secret.txt"), "host secret\n").unwrap();
    repo.write(
        ".github/workflows/ci.yml",
        &r#"
on: push
jobs:
  attack:
    runs-on: ubuntu-latest
    steps:
      - name: Plant
        run: echo "@DIR@" >> .git/objects/info/alternates
      - name: Read
        run: |
          if cat "@DIR@/secret.txt"; then exit 1; fi
          echo "host directory hidden"
"#
        .replace("@DIR@", secret_dir.to_str().unwrap()),
    );
    let sha = repo.commit("Add the workflow");

    let output = run_sandboxed(&repo, &[]);
    assert_eq!(output.code, 0, "{}", output.all());
    let job = repo.job(&sha, "ci.attack");
    assert_eq!(step(&job, "Plant")["status"], "success");
    assert_eq!(step(&job, "Read")["status"], "success");
    let lines = step_lines(&repo, &sha, "ci.attack");
    assert!(
        lines.contains(&"host directory hidden".to_string()),
        "{lines:#?}"
    );
    assert!(!lines.contains(&"host secret".to_string()), "{lines:#?}");
}

#[test]
fn planted_links_stay_inside() {
    // A step plants symbolic links where the runner writes the next step
    // scripts and step files, and turns its own output files into a link
    // to a host secret and a FIFO. The runner, outside the sandbox, must
    // neither write through the links nor read the secret, nor hang.
    let repo = TestRepo::new();
    let victim = repo.root.join("victim.txt");
    fs::write(&victim, "untouched\n").unwrap();
    let secret = repo.root.join("secret.txt");
    fs::write(&secret, "host-secret-value\n").unwrap();
    repo.write(
        ".github/workflows/ci.yml",
        &r#"
on: push
jobs:
  plant:
    runs-on: ubuntu-latest
    steps:
      - name: Plant
        run: |
          files=$(dirname "$GITHUB_OUTPUT")
          for i in $(seq 3 20); do
            ln -sf "@VICTIM@" "$RUNNER_TEMP/step-$i.sh"
            for name in output env path step_summary; do
              ln -sf "@VICTIM@" "$files/${name}_$i" 2>/dev/null || true
            done
          done
      - name: Runs anyway
        run: echo "second step ran"
      - name: Leak
        run: ln -sf "@SECRET@" "$GITHUB_OUTPUT"
      - name: Hang
        if: always()
        run: rm -f "$GITHUB_ENV" && mkfifo "$GITHUB_ENV"
"#
        .replace("@VICTIM@", victim.to_str().unwrap())
        .replace("@SECRET@", secret.to_str().unwrap()),
    );
    let sha = repo.commit("Add the workflow");

    let mut child = repo.spawn_run(&["--sandbox"]);
    let mut status = None;
    let finished = wait_for(Duration::from_secs(60), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if !finished {
        let _ = child.kill();
    }
    assert!(finished, "htci run hung on a FIFO step file");
    assert_eq!(status.unwrap().code(), Some(1));

    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched\n");
    assert!(fs::symlink_metadata(&victim).unwrap().is_file());
    let job = repo.job(&sha, "ci.plant");
    assert_eq!(step(&job, "Plant")["status"], "success");
    assert_eq!(step(&job, "Runs anyway")["status"], "success");
    assert_eq!(step(&job, "Leak")["status"], "failure");
    assert_eq!(step(&job, "Hang")["status"], "failure");
    let log = repo.job_log(&sha, "ci.plant");
    assert!(log.contains("second step ran"), "{log}");
    assert!(log.contains("is a symbolic link"), "{log}");
    assert!(log.contains("is not a regular file"), "{log}");
    assert_eq!(
        repo.files_containing("host-secret-value"),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn home_persists_across_steps() {
    let repo = TestRepo::with_workflow(
        r#"
on: push
jobs:
  home:
    runs-on: ubuntu-latest
    steps:
      - name: Write
        run: |
          git config --global user.name "Sandbox Tester"
          echo "kept" > "$HOME/note.txt"
      - name: Read
        run: |
          echo "name=$(git config --global user.name)"
          echo "note=$(cat "$HOME/note.txt")"
"#,
    );
    let sha = repo.head();
    let output = run_sandboxed(&repo, &[]);
    assert_eq!(output.code, 0, "{}", output.all());
    let lines = step_lines(&repo, &sha, "ci.home");
    assert!(
        lines.contains(&"name=Sandbox Tester".to_string()),
        "{lines:#?}"
    );
    assert!(lines.contains(&"note=kept".to_string()), "{lines:#?}");
}
