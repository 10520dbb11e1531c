//! `htci init` and `htci whoami` through the real binary, with HOME and
//! the XDG directories pointing into a temporary folder.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn htci() -> PathBuf {
    std::env::var_os("HTCI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_htci")))
}

/// A temporary home with its own configuration and data folders.
struct Home {
    _dir: tempfile::TempDir,
    home: PathBuf,
    config: PathBuf,
    data: PathBuf,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        Home {
            home,
            config: dir.path().join("config"),
            data: dir.path().join("data"),
            _dir: dir,
        }
    }

    fn runner_toml(&self) -> PathBuf {
        self.config.join("hashtree-ci/runner.toml")
    }

    fn htci(&self, args: &[&str]) -> Output {
        Command::new(htci())
            .args(args)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.config)
            .env("XDG_DATA_HOME", &self.data)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Returns the value of `nsec = "..."` in runner.toml.
fn nsec_in(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with("nsec = "))
        .expect("runner.toml has an nsec line");
    line.trim_start_matches("nsec = ")
        .trim_matches('"')
        .to_string()
}

/// Returns the value after `prefix` on the first line that starts with it.
fn line_value(text: &str, prefix: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in {text:?}"))
        .to_string()
}

fn assert_no_secret(output: &Output, nsec: &str) {
    assert!(!stdout(output).contains(nsec), "nsec in stdout");
    assert!(!stderr(output).contains(nsec), "nsec in stderr");
    // The bech32 payload without its prefix must not leak either.
    let payload = &nsec["nsec1".len()..];
    assert!(!stdout(output).contains(payload), "nsec payload in stdout");
    assert!(!stderr(output).contains(payload), "nsec payload in stderr");
}

#[test]
fn init_writes_private_identity() {
    let home = Home::new();
    let output = home.htci(&["init", "--name", "ci-1", "--tags", "linux,x64,gpu"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let path = home.runner_toml();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);

    let nsec = nsec_in(&path);
    assert!(nsec.starts_with("nsec1"), "{nsec}");
    assert_no_secret(&output, &nsec);

    let text = stdout(&output);
    assert!(line_value(&text, "npub: ").starts_with("npub1"), "{text}");
    assert_eq!(line_value(&text, "tags: "), "linux, x64, gpu");
    assert!(
        line_value(&text, "file: ").starts_with(&path.display().to_string()),
        "{text}"
    );

    let toml = std::fs::read_to_string(&path).unwrap();
    assert!(toml.contains("name = \"ci-1\""), "{toml}");
    assert!(
        toml.contains("tags = [\"linux\", \"x64\", \"gpu\"]"),
        "{toml}"
    );
    assert!(toml.contains("job_timeout_secs = 21600"), "{toml}");
    assert!(toml.contains("network = \"none\""), "{toml}");
    assert!(toml.contains("enabled = false"), "{toml}");
}

#[test]
fn init_refuses_overwrite_without_force() {
    let home = Home::new();
    assert_eq!(
        home.htci(&["init", "--name", "first"]).status.code(),
        Some(0)
    );
    let before = std::fs::read_to_string(home.runner_toml()).unwrap();

    let output = home.htci(&["init", "--name", "second"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains(&home.runner_toml().display().to_string()),
        "{message}"
    );
    assert!(message.contains("already exists"), "{message}");
    assert!(message.contains("--force"), "{message}");
    assert_eq!(std::fs::read_to_string(home.runner_toml()).unwrap(), before);
}

#[test]
fn init_force_replaces_the_key() {
    let home = Home::new();
    let first = home.htci(&["init", "--name", "first"]);
    let first_npub = line_value(&stdout(&first), "npub: ");
    let first_nsec = nsec_in(&home.runner_toml());

    let second = home.htci(&["init", "--name", "second", "--force"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let second_npub = line_value(&stdout(&second), "npub: ");
    assert_ne!(first_npub, second_npub);
    assert_ne!(first_nsec, nsec_in(&home.runner_toml()));
    assert_no_secret(&second, &first_nsec);

    let mode = std::fs::metadata(home.runner_toml())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn init_defaults_and_container_flag() {
    let home = Home::new();
    let output = home.htci(&["init", "--container"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let tags = line_value(&stdout(&output), "tags: ");
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(tags, format!("linux, {arch}"));
    let toml = std::fs::read_to_string(home.runner_toml()).unwrap();
    assert!(toml.contains("enabled = true"), "{toml}");
}

#[test]
fn init_rejects_bad_tags() {
    let home = Home::new();
    let output = home.htci(&["init", "--tags", "linux,,x64"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("invalid tag \"\""),
        "{}",
        stderr(&output)
    );
    assert!(!home.runner_toml().exists());
}

#[test]
fn whoami_prints_identity_without_secret() {
    let home = Home::new();
    let init = home.htci(&["init", "--name", "ci-7", "--tags", "linux,arm64"]);
    let npub = line_value(&stdout(&init), "npub: ");
    let nsec = nsec_in(&home.runner_toml());

    let output = home.htci(&["whoami"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(line_value(&text, "npub: "), npub);
    assert_eq!(line_value(&text, "name: "), "ci-7");
    assert_eq!(line_value(&text, "tags: "), "linux, arm64");
    assert_no_secret(&output, &nsec);

    let json_output = home.htci(&["whoami", "--json"]);
    assert_eq!(json_output.status.code(), Some(0));
    assert_no_secret(&json_output, &nsec);
    let document: serde_json::Value = serde_json::from_slice(&json_output.stdout).unwrap();
    assert_eq!(document["npub"], npub.as_str());
    assert_eq!(document["name"], "ci-7");
    assert_eq!(document["tags"], serde_json::json!(["linux", "arm64"]));
    assert_eq!(document.as_object().unwrap().len(), 4);
}

#[test]
fn whoami_without_identity_says_how_to_create_one() {
    let home = Home::new();
    let output = home.htci(&["whoami"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("run htci init"), "{message}");
    assert!(
        message.contains(&home.runner_toml().display().to_string()),
        "{message}"
    );
}

#[test]
fn corrupt_runner_toml_is_one_line_error() {
    let home = Home::new();
    assert_eq!(home.htci(&["init"]).status.code(), Some(0));
    let nsec = nsec_in(&home.runner_toml());
    let corrupt = format!("[runner\nname = \"x\"\nnsec = \"{nsec}\"\n");
    std::fs::write(home.runner_toml(), &corrupt).unwrap();

    let output = home.htci(&["whoami"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with(&format!("error: {}: ", home.runner_toml().display())),
        "{message}"
    );
    assert!(message.contains("invalid TOML at line 1"), "{message}");
    assert_no_secret(&output, &nsec);
    assert!(stdout(&output).is_empty());
    // The corrupt file is kept for the user to repair, never replaced.
    assert_eq!(
        std::fs::read_to_string(home.runner_toml()).unwrap(),
        corrupt
    );
}

#[test]
fn wrong_type_in_runner_toml_names_key() {
    let home = Home::new();
    assert_eq!(home.htci(&["init"]).status.code(), Some(0));
    let nsec = nsec_in(&home.runner_toml());
    std::fs::write(
        home.runner_toml(),
        format!("[runner]\nname = \"x\"\nnsec = \"{nsec}\"\ntags = \"linux\"\n"),
    )
    .unwrap();

    let output = home.htci(&["whoami"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output).trim_end(),
        format!(
            "error: {}: [runner] tags: expected a list of strings, like tags = [\"linux\", \"x64\"]",
            home.runner_toml().display()
        )
    );
}

#[test]
fn broken_nsec_is_not_echoed() {
    let home = Home::new();
    let broken = "nsec1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqps52s3rX";
    std::fs::create_dir_all(home.runner_toml().parent().unwrap()).unwrap();
    std::fs::write(
        home.runner_toml(),
        format!("[runner]\nname = \"x\"\nnsec = \"{broken}\"\n"),
    )
    .unwrap();
    let output = home.htci(&["whoami"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("[runner] nsec: invalid secret key"));
    assert_no_secret(&output, broken);
}

#[test]
fn whoami_warns_about_shared_identity_file() {
    let home = Home::new();
    assert_eq!(home.htci(&["init"]).status.code(), Some(0));
    let path = home.runner_toml();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let output = home.htci(&["whoami"]);
    assert_eq!(output.status.code(), Some(0));
    let message = stderr(&output);
    assert!(message.starts_with("warning: "), "{message}");
    assert!(message.contains("mode 644"), "{message}");
    assert!(
        message.contains(&format!("run chmod 600 {}", path.display())),
        "{message}"
    );
    assert_no_secret(&output, &nsec_in(&path));
}
