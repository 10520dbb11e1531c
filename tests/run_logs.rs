//! `htci run` with step output far larger than memory should hold: the
//! logs are streamed to disk, so they arrive in the store whole, with
//! signed hashes that match the stored bytes. Also the late masking of a
//! streamed log (`::add-mask::` in a later step).

mod run_support;

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;
use std::process::Stdio;

use run_support::{TestRepo, step};
use sha2::{Digest, Sha256};

/// Bytes that the step printed without newlines.
const PRINTED: usize = 200_000_000;

/// Length of the pieces a line longer than this is logged in (the
/// runner's `MAX_LINE_BYTES`).
const PIECE: usize = 64 * 1024;

/// Returns the SHA-256 and size of a file, read in pieces.
fn file_digest(path: &Path) -> (String, u64) {
    let mut file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    let mut size = 0;
    loop {
        let read = file.read(&mut buffer).unwrap();
        if read == 0 {
            return (hex::encode(hasher.finalize()), size);
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
}

/// Returns the SHA-256 and size of `header` followed by one line of `a`
/// per entry of `lines`, of that length, each ending in a newline.
fn expected_digest(header: &str, lines: &[usize]) -> (String, u64) {
    let mut hasher = Sha256::new();
    hasher.update(header.as_bytes());
    let mut size = header.len() as u64;
    let mut line = vec![b'a'; PIECE];
    for &length in lines {
        line.truncate(length);
        line.push(b'\n');
        hasher.update(&line);
        size += line.len() as u64;
        line.pop();
    }
    (hex::encode(hasher.finalize()), size)
}

/// Checks that the stored step and job logs of job `key` are the given
/// lines of `a`, and that their signed hashes match the stored bytes.
fn assert_logs(repo: &TestRepo, sha: &str, key: &str, step_name: &str, lines: &[usize]) {
    let dir = repo.result_dir(sha);
    let job = repo.job(sha, key);
    assert_eq!(job["status"], "success", "{key}");
    let record = step(&job, step_name);

    let (step_hash, step_size) = file_digest(&dir.join(record["log_path"].as_str().unwrap()));
    let expected = expected_digest("", lines);
    assert_eq!((step_hash.clone(), step_size), expected, "{key} step log");
    assert_eq!(record["logs_hash"], step_hash);

    let job_log = dir.join("logs").join(key).join("job.log");
    let (job_hash, job_size) = file_digest(&job_log);
    let header = format!("##[step] {step_name}\n");
    assert_eq!(
        (job_hash.clone(), job_size),
        expected_digest(&header, lines),
        "{key} job log"
    );
    assert_eq!(job["logs_hash"], job_hash);
}

#[test]
fn huge_logs_stored_whole() {
    let repo = TestRepo::with_workflow(include_str!("data/logs/huge.yml"));
    let sha = repo.head();

    // htci prints every line to stdout too, so stdout is discarded and
    // stderr goes to a file rather than to this test's memory.
    let stderr_path = repo.root.join("htci-stderr.txt");
    let repo_arg = repo.repo.to_string_lossy().into_owned();
    let status = repo
        .command(&["run", &repo_arg])
        .stdout(Stdio::null())
        .stderr(File::create(&stderr_path).unwrap())
        .status()
        .unwrap();
    let stderr = fs::read_to_string(&stderr_path).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");

    // `fold -w 100`: lines of 100 bytes.
    let lines = vec![100; PRINTED / 100];
    assert_logs(&repo, &sha, "ci.lines", "Print lines", &lines);

    // One line without a newline: logged in pieces of 64 KiB, the last
    // one shorter.
    let mut pieces = vec![PIECE; PRINTED / PIECE];
    pieces.push(PRINTED % PIECE);
    assert_logs(&repo, &sha, "ci.one-line", "Print one line", &pieces);
}

#[test]
fn late_mask_hides_earlier_logs() {
    let repo = TestRepo::with_workflow(include_str!("data/logs/late-mask.yml"));
    let sha = repo.head();
    let output = repo.run(&[]);
    assert_eq!(output.code, 0, "{}", output.all());

    let dir = repo.result_dir(&sha);
    let job = repo.job(&sha, "ci.late");
    let mut expected = b"value *** here\n".to_vec();
    expected.extend_from_slice(&[b'b'; PIECE]);
    expected.push(b'\n');
    expected.extend_from_slice(&[b'b'; 100_000 - PIECE]);
    expected.extend_from_slice(b"***\n");

    let printed = step(&job, "Print a value");
    let stored = fs::read(dir.join(printed["log_path"].as_str().unwrap())).unwrap();
    assert_eq!(stored, expected);
    assert_eq!(printed["logs_hash"], ci_core::hash::sha256_hex(&expected));

    let masking = step(&job, "Mask it later");
    let stored = fs::read(dir.join(masking["log_path"].as_str().unwrap())).unwrap();
    assert_eq!(stored, b"::add-mask::***\n");
    assert_eq!(masking["logs_hash"], ci_core::hash::sha256_hex(&stored));

    let mut job_log = b"##[step] Print a value\n".to_vec();
    job_log.extend_from_slice(&expected);
    job_log.extend_from_slice(b"##[step] Mask it later\n::add-mask::***\n");
    assert_eq!(repo.job_log(&sha, "ci.late").into_bytes(), job_log);
    assert_eq!(job["logs_hash"], ci_core::hash::sha256_hex(&job_log));
    assert!(repo.files_containing("late-secret-4711").is_empty());
}
