//! `hashFiles` on real files in a temporary workspace. Expected digests are
//! computed here with `sha2` directly from the file contents.

use std::fs;
use std::path::Path;

use ci_workflow::expr::{Context, ExprError, Value, evaluate_str};
use sha2::{Digest, Sha256};

/// Computes the expected `hashFiles` result for files with these contents, given in
/// the sorted order of their paths.
fn expected_digest(contents: &[&[u8]]) -> String {
    let mut outer = Sha256::new();
    for content in contents {
        outer.update(Sha256::digest(content));
    }
    hex::encode(outer.finalize())
}

fn write(root: &Path, relative: &str, content: &[u8]) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// Creates a workspace with a lock file at the root and below, sources and a
/// nested directory.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "package-lock.json", b"root lock");
    write(root, "app/package-lock.json", b"app lock");
    write(root, "src/main.rs", b"fn main() {}");
    write(root, "src/lib.rs", b"pub fn lib() {}");
    write(root, "src/nested/deep.rs", b"// deep");
    write(root, "docs/readme.md", b"# docs");
    dir
}

fn hash(expression: &str, root: &Path) -> Result<Value, ExprError> {
    let context = Context::new().with_workspace(root);
    evaluate_str(expression, &context)
}

fn hash_ok(expression: &str, root: &Path) -> String {
    match hash(expression, root) {
        Ok(Value::String(text)) => text,
        other => panic!("{expression}: {other:?}"),
    }
}

#[test]
fn single_file() {
    let dir = workspace();
    assert_eq!(
        hash_ok("hashFiles('package-lock.json')", dir.path()),
        expected_digest(&[b"root lock"])
    );
}

#[test]
fn double_star_matches_root_and_nested() {
    let dir = workspace();
    // Sorted by path: app/package-lock.json, package-lock.json.
    assert_eq!(
        hash_ok("hashFiles('**/package-lock.json')", dir.path()),
        expected_digest(&[b"app lock", b"root lock"])
    );
}

#[test]
fn star_stays_in_one_directory() {
    let dir = workspace();
    // Sorted: src/lib.rs, src/main.rs; src/nested/deep.rs is not matched.
    assert_eq!(
        hash_ok("hashFiles('src/*.rs')", dir.path()),
        expected_digest(&[b"pub fn lib() {}", b"fn main() {}"])
    );
}

#[test]
fn leading_slash_means_workspace_root() {
    let dir = workspace();
    assert_eq!(
        hash_ok("hashFiles('/src/*.rs')", dir.path()),
        hash_ok("hashFiles('src/*.rs')", dir.path())
    );
}

#[test]
fn absolute_workspace_path_prefix() {
    let dir = workspace();
    let root = dir.path().canonicalize().unwrap();
    let expression = format!("hashFiles('{}/docs/readme.md')", root.display());
    assert_eq!(
        hash_ok(&expression, dir.path()),
        expected_digest(&[b"# docs"])
    );
}

#[test]
fn several_patterns_union_in_path_order() {
    let dir = workspace();
    // Sorted: docs/readme.md, package-lock.json, src/main.rs.
    assert_eq!(
        hash_ok(
            "hashFiles('src/main.rs', 'package-lock.json', 'docs/*.md')",
            dir.path()
        ),
        expected_digest(&[b"# docs", b"root lock", b"fn main() {}"])
    );
}

#[test]
fn same_file_counted_once() {
    let dir = workspace();
    assert_eq!(
        hash_ok("hashFiles('docs/readme.md', 'docs/*')", dir.path()),
        expected_digest(&[b"# docs"])
    );
}

#[test]
fn exclusion_pattern() {
    let dir = workspace();
    assert_eq!(
        hash_ok("hashFiles('**/*.rs', '!src/nested/**')", dir.path()),
        expected_digest(&[b"pub fn lib() {}", b"fn main() {}"])
    );
}

#[test]
fn later_pattern_includes_again() {
    let dir = workspace();
    assert_eq!(
        hash_ok(
            "hashFiles('src/**', '!src/**', 'src/nested/deep.rs')",
            dir.path()
        ),
        expected_digest(&[b"// deep"])
    );
}

#[test]
fn directory_pattern_matches_its_files() {
    let dir = workspace();
    // Sorted: src/lib.rs, src/main.rs, src/nested/deep.rs.
    assert_eq!(
        hash_ok("hashFiles('src')", dir.path()),
        expected_digest(&[b"pub fn lib() {}", b"fn main() {}", b"// deep"])
    );
}

#[test]
fn patterns_on_separate_lines() {
    let dir = workspace();
    assert_eq!(
        hash_ok(
            "hashFiles(format('docs/readme.md{0}package-lock.json', fromJSON('\"\\n\"')))",
            dir.path()
        ),
        expected_digest(&[b"# docs", b"root lock"])
    );
}

#[test]
fn no_match_is_empty_string() {
    let dir = workspace();
    assert_eq!(hash_ok("hashFiles('**/*.nothing')", dir.path()), "");
    assert_eq!(hash_ok("hashFiles('!**')", dir.path()), "");
}

#[test]
fn function_name_ignores_case() {
    let dir = workspace();
    assert_eq!(
        hash_ok("HASHFILES('docs/readme.md')", dir.path()),
        expected_digest(&[b"# docs"])
    );
}

#[test]
fn parent_directory_pattern_reads_nothing() {
    let outer = tempfile::tempdir().unwrap();
    write(outer.path(), "secret.txt", b"outside");
    write(outer.path(), "ws/inside.txt", b"inside");
    let root = outer.path().join("ws");
    assert_eq!(hash_ok("hashFiles('../secret.txt')", &root), "");
    assert_eq!(hash_ok("hashFiles('../*')", &root), "");
    let absolute = format!("hashFiles('{}/secret.txt')", outer.path().display());
    assert_eq!(hash_ok(&absolute, &root), "");
}

#[cfg(unix)]
#[test]
fn symlink_outside_workspace_not_read() {
    let outer = tempfile::tempdir().unwrap();
    write(outer.path(), "secret.txt", b"outside");
    write(outer.path(), "ws/inside.txt", b"inside");
    let root = outer.path().join("ws");
    std::os::unix::fs::symlink(outer.path().join("secret.txt"), root.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(outer.path(), root.join("escape")).unwrap();
    assert_eq!(hash_ok("hashFiles('link.txt')", &root), "");
    assert_eq!(hash_ok("hashFiles('escape/**')", &root), "");
    assert_eq!(
        hash_ok("hashFiles('**')", &root),
        expected_digest(&[b"inside"])
    );
}

#[cfg(unix)]
#[test]
fn symlink_inside_workspace_is_read() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "real.txt", b"real");
    std::os::unix::fs::symlink(dir.path().join("real.txt"), dir.path().join("alias.txt")).unwrap();
    assert_eq!(
        hash_ok("hashFiles('alias.txt')", dir.path()),
        expected_digest(&[b"real"])
    );
}

#[test]
fn missing_workspace_is_error() {
    let error = evaluate_str("hashFiles('*')", &Context::new()).unwrap_err();
    assert_eq!(error.kind(), "function");
    assert!(
        error.to_string().starts_with("hashFiles: no workspace"),
        "{error}"
    );
}

#[test]
fn workspace_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let error = hash("hashFiles('*')", &dir.path().join("absent")).unwrap_err();
    assert!(
        error.to_string().contains("cannot open the workspace"),
        "{error}"
    );
}

#[test]
fn invalid_glob_names_pattern() {
    let dir = workspace();
    let error = hash("hashFiles('src/[')", dir.path()).unwrap_err();
    assert!(
        error.to_string().contains("invalid pattern 'src/['"),
        "{error}"
    );
}

#[test]
fn binary_and_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.bin", &[0, 255, 1, 254]);
    write(dir.path(), "b.empty", b"");
    assert_eq!(
        hash_ok("hashFiles('*')", dir.path()),
        expected_digest(&[&[0, 255, 1, 254], b""])
    );
}

#[test]
fn github_workspace_is_default() {
    let dir = workspace();
    let context = Context::new().with(
        "github",
        serde_json::json!({ "workspace": dir.path().to_str().unwrap() }),
    );
    let value = evaluate_str("hashFiles('docs/readme.md')", &context).unwrap();
    assert_eq!(value, Value::String(expected_digest(&[b"# docs"])));
}

#[test]
fn explicit_workspace_wins_over_github() {
    let dir = workspace();
    let other = tempfile::tempdir().unwrap();
    let context = Context::new()
        .with(
            "github",
            serde_json::json!({ "workspace": other.path().to_str().unwrap() }),
        )
        .with_workspace(dir.path());
    let value = evaluate_str("hashFiles('docs/readme.md')", &context).unwrap();
    assert_eq!(value, Value::String(expected_digest(&[b"# docs"])));
}

#[cfg(unix)]
#[test]
fn directory_links_need_follow_option() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "real/a.txt", b"a");
    std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("alias")).unwrap();
    assert_eq!(hash_ok("hashFiles('alias/*.txt')", dir.path()), "");
    assert_eq!(
        hash_ok(
            "hashFiles('--follow-symbolic-links', 'alias/*.txt')",
            dir.path()
        ),
        expected_digest(&[b"a"])
    );
    // The file counts twice, once under the link and once under the real
    // directory, because the walk reaches it by both paths.
    assert_eq!(
        hash_ok(
            "hashFiles('--FOLLOW-SYMBOLIC-LINKS', '**/a.txt')",
            dir.path()
        ),
        expected_digest(&[b"a", b"a"])
    );
}

#[cfg(unix)]
#[test]
fn followed_link_outside_workspace_not_read() {
    let outer = tempfile::tempdir().unwrap();
    write(outer.path(), "secret/key.txt", b"outside");
    write(outer.path(), "ws/inside.txt", b"inside");
    let root = outer.path().join("ws");
    std::os::unix::fs::symlink(outer.path().join("secret"), root.join("escape")).unwrap();
    assert_eq!(
        hash_ok("hashFiles('--follow-symbolic-links', 'escape/**')", &root),
        ""
    );
    assert_eq!(
        hash_ok("hashFiles('--follow-symbolic-links', '**')", &root),
        expected_digest(&[b"inside"])
    );
}

#[cfg(unix)]
#[test]
fn link_cycle_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d/f.txt", b"f");
    std::os::unix::fs::symlink(dir.path().join("d"), dir.path().join("d/loop")).unwrap();
    assert_eq!(
        hash_ok(
            "hashFiles('--follow-symbolic-links', 'd/*.txt')",
            dir.path()
        ),
        expected_digest(&[b"f"])
    );
}

#[test]
fn unknown_option_is_error() {
    let dir = workspace();
    let error = hash("hashFiles('--fast', '*')", dir.path()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "hashFiles: invalid option '--fast'; the only option is '--follow-symbolic-links'"
    );
}
