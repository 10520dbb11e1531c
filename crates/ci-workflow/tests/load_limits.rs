//! Hostile and unusual input: oversized files, deep nesting, alias bombs,
//! invalid UTF-8, unreadable paths, and workflow discovery.

use std::fs;
use std::path::PathBuf;

use ci_workflow::load::{
    LoadError, discover_workflows, load_with_limits, load_workflow_file, load_workflow_str,
};
use ci_workflow::yaml::Limits;

const VALID: &str = "on: push\njobs:\n  build:\n    runs-on: x\n    steps:\n      - run: make\n";

fn error_lines(result: Result<ci_workflow::load::Loaded, LoadError>) -> Vec<String> {
    match result {
        Ok(loaded) => panic!("loaded: {:#?}", loaded.workflow),
        Err(error) => error
            .diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

#[test]
fn oversized_text_is_rejected() {
    let mut text = VALID.to_string();
    text.push_str(&format!("# {}\n", "x".repeat(1024 * 1024)));
    assert_eq!(
        error_lines(load_workflow_str("big.yml", &text)),
        [format!(
            "big.yml:1:1: error: file is {} bytes, larger than the limit of 1048576 bytes",
            text.len()
        )]
    );
}

#[test]
fn oversized_file_is_rejected_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yml");
    let file = fs::File::create(&path).unwrap();
    // A sparse file: the loader must look at its size, not read it.
    file.set_len(64 * 1024 * 1024).unwrap();

    assert_eq!(
        error_lines(load_workflow_file(&path)),
        [format!(
            "{}:1:1: error: file is 67108864 bytes, larger than the limit of 1048576 bytes",
            path.display()
        )]
    );
}

#[test]
fn deep_flow_nesting_is_an_error() {
    // 500 000 brackets: far beyond any limit, within the size limit. The
    // scanner of yaml_rust2 stops at 256 open brackets, before the tree
    // builder receives the events.
    let depth = 500_000;
    let text = format!("{VALID}x: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    assert_eq!(
        error_lines(load_workflow_str("deep.yml", &text)),
        ["deep.yml:7:259: error: nesting is deeper than the limit of 64 levels"]
    );

    // 100 brackets pass the scanner and stop at the tree's depth limit.
    let text = format!("{VALID}x: {}{}\n", "[".repeat(100), "]".repeat(100));
    assert_eq!(
        error_lines(load_workflow_str("deep.yml", &text)),
        ["deep.yml:7:67: error: nesting is deeper than the limit of 64 levels"]
    );
}

#[test]
fn deep_block_nesting_is_an_error() {
    let mut text = VALID.to_string();
    for level in 0..200 {
        text.push_str(&format!("{}k:\n", " ".repeat(level)));
    }
    assert_eq!(
        error_lines(load_workflow_str("deep.yml", &text)),
        ["deep.yml:71:66: error: nesting is deeper than the limit of 64 levels"]
    );
}

#[test]
fn alias_bomb_is_an_error() {
    let mut text = "on: push\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n".to_string();
    for level in 1..12 {
        let previous = level - 1;
        let items = vec![format!("*a{previous}"); 10].join(", ");
        text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    text.push_str("jobs:\n  b:\n    runs-on: x\n    steps: [{run: make}]\n");

    assert_eq!(
        error_lines(load_workflow_str("bomb.yml", &text)),
        ["bomb.yml:6:9: error: document has more than 200000 nodes after expanding aliases"]
    );
}

#[test]
fn long_string_alias_bomb_is_an_error() {
    // 100 KiB of text copied by 1000 aliases would be 100 MiB.
    let long = "x".repeat(100 * 1024);
    let aliases = vec!["*s"; 1000].join(", ");
    let text = format!("on: push\ns: &s {long}\nt: [{aliases}]\njobs: {{}}\n");
    assert_eq!(
        error_lines(load_workflow_str("bomb.yml", &text)),
        [
            "bomb.yml:3:649: error: document has more than 16777216 bytes of scalar text after expanding aliases"
        ]
    );
}

#[test]
fn custom_limits_apply() {
    let limits = Limits {
        max_bytes: 1024,
        max_depth: 4,
        max_nodes: 30,
        max_scalar_bytes: 1024,
    };
    assert_eq!(
        error_lines(load_with_limits("l.yml", VALID, &limits)),
        ["l.yml:6:12: error: nesting is deeper than the limit of 4 levels"]
    );

    let limits = Limits {
        max_bytes: 1024,
        max_depth: 10,
        max_nodes: 10,
        max_scalar_bytes: 1024,
    };
    assert_eq!(
        error_lines(load_with_limits("l.yml", VALID, &limits)),
        ["l.yml:6:7: error: document has more than 10 nodes after expanding aliases"]
    );

    let limits = Limits {
        max_bytes: 10,
        ..Limits::default()
    };
    assert_eq!(
        error_lines(load_with_limits("l.yml", VALID, &limits)),
        ["l.yml:1:1: error: file is 68 bytes, larger than the limit of 10 bytes"]
    );
}

#[test]
fn aliases_within_limits_expand() {
    let text = "on: push\nx: &x [a, b]\ny: [*x, *x, *x]\njobs:\n  b:\n    runs-on: x\n    steps: [{run: make}]\n";
    let loaded = load_workflow_str("a.yml", text).unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "a.yml:2:1: warning: unknown key \"x\" in the workflow",
            "a.yml:3:1: warning: unknown key \"y\" in the workflow",
        ]
    );
}

#[test]
fn invalid_utf8_points_at_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.yml");
    let mut bytes = b"on: push\nname: caf".to_vec();
    bytes.push(0xE9);
    bytes.extend_from_slice(b"\njobs: {}\n");
    fs::write(&path, bytes).unwrap();

    assert_eq!(
        error_lines(load_workflow_file(&path)),
        [format!(
            "{}:2:10: error: file is not valid UTF-8; save it as UTF-8",
            path.display()
        )]
    );
}

#[test]
fn missing_file_is_read_error() {
    let path = PathBuf::from("/nonexistent/dir/ci.yml");
    let error = load_workflow_file(&path).unwrap_err();
    assert!(matches!(&error, LoadError::Read { path: p, .. } if p == &path));
    assert!(error.diagnostics().is_empty());
    assert_eq!(
        error.to_string(),
        "failed to read workflow file /nonexistent/dir/ci.yml: No such file or directory (os error 2)"
    );
}

#[test]
fn file_loads_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ci.yml");
    fs::write(&path, VALID).unwrap();
    let loaded = load_workflow_file(&path).unwrap();
    assert_eq!(loaded.workflow.path, path.display().to_string());
    assert!(loaded.warnings.is_empty());
}

#[test]
fn discovery_lists_yml_and_yaml_sorted() {
    let repo = tempfile::tempdir().unwrap();
    let workflows = repo.path().join(".github/workflows");
    fs::create_dir_all(workflows.join("nested")).unwrap();
    for name in [
        "b.yaml",
        "a.yml",
        "c.yml",
        "notes.md",
        "d.yml.bak",
        "nested/e.yml",
    ] {
        fs::write(workflows.join(name), VALID).unwrap();
    }
    fs::create_dir(workflows.join("dir.yml")).unwrap();

    let found = discover_workflows(repo.path());

    assert_eq!(
        found,
        [
            workflows.join("a.yml"),
            workflows.join("b.yaml"),
            workflows.join("c.yml"),
        ]
    );
}

#[test]
fn discovery_without_directory_is_empty() {
    let repo = tempfile::tempdir().unwrap();
    assert!(discover_workflows(repo.path()).is_empty());
    assert!(discover_workflows(&repo.path().join("missing")).is_empty());
}

#[test]
fn device_pipe_and_directory_are_not_workflows() {
    let dir = tempfile::tempdir().unwrap();
    // Opening a pipe without a writer would block forever.
    let pipe = dir.path().join("pipe.yml");
    let status = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .unwrap();
    assert!(status.success());

    for path in [PathBuf::from("/dev/zero"), dir.path().to_path_buf(), pipe] {
        assert_eq!(
            error_lines(load_workflow_file(&path)),
            [format!(
                "{}:1:1: error: not a regular file: a workflow must be a file, not a directory, device or pipe",
                path.display()
            )]
        );
    }
}

#[test]
fn discovery_skips_links_leaving_repository() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("runner.toml");
    fs::write(&secret, "nsec = \"do-not-read\"\n").unwrap();

    let repo = tempfile::tempdir().unwrap();
    let workflows = repo.path().join(".github/workflows");
    fs::create_dir_all(&workflows).unwrap();
    fs::write(repo.path().join("shared.yml"), VALID).unwrap();
    fs::write(workflows.join("ci.yml"), VALID).unwrap();
    std::os::unix::fs::symlink(&secret, workflows.join("leak.yml")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", workflows.join("zero.yml")).unwrap();
    std::os::unix::fs::symlink("../../shared.yml", workflows.join("inside.yml")).unwrap();
    std::os::unix::fs::symlink("missing.yml", workflows.join("dangling.yml")).unwrap();

    let found = discover_workflows(repo.path());

    assert_eq!(
        found,
        [workflows.join("ci.yml"), workflows.join("inside.yml")]
    );
}

#[test]
fn control_characters_are_rejected() {
    let text = "on: push\njobs:\n  build:\n    runs-on: x\n    steps:\n      - run: echo \0 done\n";
    assert_eq!(
        error_lines(load_workflow_str("nul.yml", text)),
        [
            "nul.yml:6:19: error: file contains the control character U+0000, which YAML does not allow; remove it or write it as an escape such as \"\\x00\" in a double-quoted string"
        ]
    );

    let text = "on: push\njobs:\n  build:\n    runs-on: x\x1b[31m\n    steps:\n      - run: make\n";
    assert_eq!(
        error_lines(load_workflow_str("esc.yml", text)),
        [
            "esc.yml:4:15: error: file contains the control character U+001B, which YAML does not allow; remove it or write it as an escape such as \"\\x1b\" in a double-quoted string"
        ]
    );
}

#[test]
fn tab_cr_and_escaped_controls_load() {
    let text = "on: push\r\njobs:\r\n  build:\r\n    runs-on: x\r\n    steps:\r\n      - run: \"printf '\\x1b[1m\\tbold'\"\r\n";
    let loaded = load_workflow_str("ok.yml", text).unwrap();
    assert_eq!(loaded.warnings, []);
}

#[test]
fn discovery_skips_linked_directories_leaving_repository() {
    let outside = tempfile::tempdir().unwrap();
    fs::create_dir_all(outside.path().join("workflows")).unwrap();
    fs::write(outside.path().join("workflows/host.yml"), VALID).unwrap();

    // `.github/workflows` is a link out of the repository.
    let repo = tempfile::tempdir().unwrap();
    fs::create_dir_all(repo.path().join(".github")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("workflows"),
        repo.path().join(".github/workflows"),
    )
    .unwrap();
    assert_eq!(discover_workflows(repo.path()), Vec::<PathBuf>::new());

    // `.github` is a link out of the repository.
    let repo = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path().join(".github")).unwrap();
    assert_eq!(discover_workflows(repo.path()), Vec::<PathBuf>::new());

    // A link that stays inside the repository is followed.
    let repo = tempfile::tempdir().unwrap();
    fs::create_dir_all(repo.path().join("ci/workflows")).unwrap();
    fs::write(repo.path().join("ci/workflows/ci.yml"), VALID).unwrap();
    fs::create_dir_all(repo.path().join(".github")).unwrap();
    std::os::unix::fs::symlink("../ci/workflows", repo.path().join(".github/workflows")).unwrap();
    assert_eq!(
        discover_workflows(repo.path()),
        [repo.path().join(".github/workflows/ci.yml")]
    );
}
