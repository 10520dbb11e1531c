//! `htci expr`: evaluates one expression with contexts from the command
//! line and prints the result as JSON.

use std::path::PathBuf;
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

fn htci() -> PathBuf {
    std::env::var_os("HTCI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_htci")))
}

fn run(args: &[&str]) -> Output {
    Command::new(htci())
        .arg("expr")
        .args(args)
        .output()
        .expect("run htci expr")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8 stderr")
}

#[test]
fn literal_prints_json() {
    let output = run(&["1 == 1"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "true\n");
}

#[test]
fn delimiters_are_optional() {
    let output = run(&["${{ format('{0}-{1}', 'a', 2) }}"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "\"a-2\"\n");
}

#[test]
fn leading_minus_is_expression() {
    let output = run(&["-2.99e-2"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "-0.0299\n");
}

#[test]
fn contexts_from_options() {
    let output = run(&[
        "matrix.list.*",
        "--context",
        r#"matrix={"list":[1,"two",null]}"#,
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "[\n  1,\n  \"two\",\n  null\n]\n");
}

#[test]
fn several_contexts() {
    let output = run(&[
        "contains(needs.*.result, 'failure') && github.event_name",
        "--context",
        r#"needs={"a":{"result":"failure"}}"#,
        "--context",
        r#"GitHub={"event_name":"push"}"#,
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "\"push\"\n");
}

#[test]
fn syntax_error_exits_2() {
    let output = run(&["(1 == 1"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        "error: expected ')' at column 8, found end of expression\n"
    );
}

#[test]
fn unknown_context_exits_2() {
    let output = run(&["foo.bar"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("error: unrecognized named-value: 'foo' at column 1"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn evaluation_error_exits_2() {
    let output = run(&["fromJSON('{')"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("error: fromJSON: invalid JSON"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn invalid_context_json_names_context_not_value() {
    let output = run(&[
        "secrets.TOKEN",
        "--context",
        r#"secrets={"TOKEN": "hunter2""#,
    ]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.starts_with("error: invalid --context 'secrets': the value is not valid JSON"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn context_without_equals() {
    let output = run(&["1", "--context", "matrix"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: invalid --context value: expected NAME=JSON, found no '=' after 'matrix'\n"
    );
}

#[test]
fn unknown_context_name_option() {
    let output = run(&["1", "--context", "foo={}"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("error: invalid --context name 'foo'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn hash_files_in_workspace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Cargo.lock"), b"lock contents").unwrap();
    let output = run(&[
        "hashFiles('**/Cargo.lock')",
        "--workspace",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0));

    let mut outer = Sha256::new();
    outer.update(Sha256::digest(b"lock contents"));
    let expected = format!("\"{}\"\n", hex::encode(outer.finalize()));
    assert_eq!(stdout(&output), expected);
}

#[test]
fn hash_files_without_workspace() {
    let output = run(&["hashFiles('*')"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("error: hashFiles: no workspace"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn special_numbers_print_as_strings() {
    let output = run(&["NaN"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "\"NaN\"\n");
}

#[test]
fn context_from_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(&path, r#"{"event": {"pull_request": {"number": 7}}}"#).unwrap();
    let option = format!("github=@{}", path.display());
    let output = run(&["github.event.pull_request.number", "--context", &option]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "7\n");
}

#[test]
fn context_file_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.json");
    let option = format!("github=@{}", path.display());
    let output = run(&["github", "--context", &option]);
    assert_eq!(output.status.code(), Some(2));
    let expected = format!(
        "error: invalid --context 'github': cannot read {}: No such file or directory (os error 2)\n",
        path.display()
    );
    assert_eq!(stderr(&output), expected);
}

#[test]
fn closed_stdout_exits_without_panic() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);

    let output = Command::new(htci())
        .args(["expr", "format('{0}', 'a')"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run htci expr");

    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stderr(&output), "");
}

#[test]
fn text_around_expressions_is_interpolated() {
    let output = run(&[
        "refs/heads/${{ matrix.branch }} on ${{ matrix.os }}",
        "--context",
        r#"matrix={"branch":"main","os":"linux"}"#,
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "\"refs/heads/main on linux\"\n");
}

#[test]
fn dollar_braces_in_string_stay_expression() {
    let output = run(&["format('{0}${{{{ x }}}}', 'a')"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "\"a${{ x }}\"\n");
}
