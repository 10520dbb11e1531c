//! The values of the `github` and `runner` contexts, the event payload
//! and the standard environment variables of a step.
//!
//! A step's environment is built from scratch. From the runner's own
//! environment only these pass through: `PATH`, `HOME`, `LANG`, `LC_ALL`,
//! `LC_CTYPE`, `TZ`, `TERM`, `USER`, `LOGNAME`, and the toolchain
//! locations `CARGO_HOME` and `RUSTUP_HOME`. Everything else the runner
//! has (tokens, keys, cloud credentials) never reaches a step unless a
//! workflow passes it in as a secret.

use serde_json::{Value, json};

use crate::git::RepoInfo;
use crate::launcher::Launcher;
use crate::workspace::JobDirs;

/// Variables copied from the runner's environment into every step.
pub const PASSTHROUGH_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TERM",
    "USER",
    "LOGNAME",
    "CARGO_HOME",
    "RUSTUP_HOME",
];

/// Base URL in `github.server_url`. No request is ever sent to it; it is
/// what workflows expect to read there.
pub const SERVER_URL: &str = "https://github.com";
pub const API_URL: &str = "https://api.github.com";
pub const GRAPHQL_URL: &str = "https://api.github.com/graphql";

/// Facts about the whole run, shared by every job.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub repo: RepoInfo,
    pub event_name: String,
    pub run_id: u64,
    pub run_number: u64,
    pub run_attempt: u32,
    pub actor: String,
    pub runner_name: String,
    /// `X64` or `ARM64`, as GitHub names architectures.
    pub arch: String,
    pub debug: bool,
    /// Variables copied from the runner's environment ([`PASSTHROUGH_ENV`]).
    pub passthrough_env: Vec<(String, String)>,
}

impl RunInfo {
    /// Collects the pass-through variables from this process's environment.
    pub fn passthrough_from_env() -> Vec<(String, String)> {
        PASSTHROUGH_ENV
            .iter()
            .filter_map(|name| {
                std::env::var(name)
                    .ok()
                    .map(|value| (name.to_string(), value))
            })
            .collect()
    }

    pub fn passthrough(&self, name: &str) -> Option<&str> {
        self.passthrough_env
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// GitHub's name of this machine's architecture.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "X64",
        "aarch64" => "ARM64",
        "x86" => "X86",
        "arm" => "ARM",
        other => other,
    }
}

/// Facts about one workflow, for `github.workflow` and friends.
#[derive(Debug, Clone)]
pub struct WorkflowInfo {
    /// `name:`, or the file path when the workflow has none.
    pub name: String,
    /// Path relative to the repository root, such as `.github/workflows/ci.yml`.
    pub path: String,
    /// `workflow_dispatch` inputs with their defaults.
    pub inputs: Value,
}

/// The event payload written to `GITHUB_EVENT_PATH` and shown as
/// `github.event`. Push events get the fields workflows commonly read.
pub fn event_payload(run: &RunInfo, workflow: &WorkflowInfo) -> Value {
    let repo = &run.repo;
    let repository = json!({
        "full_name": repo.repository,
        "name": repo.repository.rsplit('/').next().unwrap_or_default(),
        "owner": { "login": repo.owner, "name": repo.owner },
        "default_branch": if repo.ref_type == "branch" { repo.ref_name.as_str() } else { "main" },
    });
    let head_commit = json!({
        "id": repo.sha,
        "tree_id": "",
        "message": repo.commit_message,
        "timestamp": repo.commit_timestamp,
        "author": { "name": repo.author_name, "email": repo.author_email },
        "committer": { "name": repo.author_name, "email": repo.author_email },
    });

    match run.event_name.as_str() {
        "push" => json!({
            "ref": repo.git_ref,
            "before": repo.before,
            "after": repo.sha,
            "created": false,
            "deleted": false,
            "forced": false,
            "base_ref": null,
            "compare": "",
            "commits": [head_commit.clone()],
            "head_commit": head_commit,
            "pusher": { "name": run.actor },
            "repository": repository,
            "sender": { "login": run.actor },
        }),
        "workflow_dispatch" => json!({
            "ref": repo.git_ref,
            "inputs": workflow.inputs,
            "workflow": workflow.path,
            "repository": repository,
            "sender": { "login": run.actor },
        }),
        _ => json!({
            "repository": repository,
            "sender": { "login": run.actor },
        }),
    }
}

/// The `github` context of a job.
pub fn github_context(
    run: &RunInfo,
    workflow: &WorkflowInfo,
    job_id: &str,
    workspace: &str,
    event: &Value,
) -> Value {
    let repo = &run.repo;
    json!({
        "action": "",
        "action_path": "",
        "action_ref": "",
        "action_repository": "",
        "actor": run.actor,
        "actor_id": "0",
        "api_url": API_URL,
        "base_ref": "",
        "event": event,
        "event_name": run.event_name,
        "event_path": "",
        "graphql_url": GRAPHQL_URL,
        "head_ref": "",
        "job": job_id,
        "ref": repo.git_ref,
        "ref_name": repo.ref_name,
        "ref_protected": false,
        "ref_type": repo.ref_type,
        "repository": repo.repository,
        "repository_id": "",
        "repository_owner": repo.owner,
        "repository_owner_id": "",
        "repositoryUrl": format!("{SERVER_URL}/{}.git", repo.repository),
        "retention_days": "0",
        "run_attempt": run.run_attempt.to_string(),
        "run_id": run.run_id.to_string(),
        "run_number": run.run_number.to_string(),
        "secret_source": "None",
        "server_url": SERVER_URL,
        "sha": repo.sha,
        "token": "",
        "triggering_actor": run.actor,
        "workflow": workflow.name,
        "workflow_ref": workflow_ref(run, workflow),
        "workflow_sha": repo.sha,
        "workspace": workspace,
    })
}

fn workflow_ref(run: &RunInfo, workflow: &WorkflowInfo) -> String {
    format!(
        "{}/{}@{}",
        run.repo.repository, workflow.path, run.repo.git_ref
    )
}

/// The `runner` context of a job, with paths as the step sees them.
pub fn runner_context(run: &RunInfo, dirs: &JobDirs, launcher: &dyn Launcher) -> Value {
    json!({
        "name": run.runner_name,
        "os": "Linux",
        "arch": run.arch,
        "temp": launcher.visible_path(&dirs.temp).to_string_lossy(),
        "tool_cache": launcher.visible_path(&dirs.tool_cache).to_string_lossy(),
        "debug": if run.debug { "1" } else { "" },
        "environment": "self-hosted",
    })
}

/// The standard variables of every step (`CI`, `GITHUB_*`, `RUNNER_*`),
/// without the per-step file paths. `github` is the job's `github`
/// context and `runner` its `runner` context.
pub fn standard_env(
    run: &RunInfo,
    github: &Value,
    runner: &Value,
    event_path: &str,
) -> Vec<(String, String)> {
    let text = |value: &Value, key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mut env = vec![
        ("CI".to_string(), "true".to_string()),
        ("GITHUB_ACTIONS".to_string(), "true".to_string()),
    ];
    for (name, key) in [
        ("GITHUB_SHA", "sha"),
        ("GITHUB_REF", "ref"),
        ("GITHUB_REF_NAME", "ref_name"),
        ("GITHUB_REF_TYPE", "ref_type"),
        ("GITHUB_REPOSITORY", "repository"),
        ("GITHUB_REPOSITORY_OWNER", "repository_owner"),
        ("GITHUB_WORKSPACE", "workspace"),
        ("GITHUB_EVENT_NAME", "event_name"),
        ("GITHUB_RUN_ID", "run_id"),
        ("GITHUB_RUN_NUMBER", "run_number"),
        ("GITHUB_RUN_ATTEMPT", "run_attempt"),
        ("GITHUB_JOB", "job"),
        ("GITHUB_ACTOR", "actor"),
        ("GITHUB_TRIGGERING_ACTOR", "triggering_actor"),
        ("GITHUB_WORKFLOW", "workflow"),
        ("GITHUB_WORKFLOW_REF", "workflow_ref"),
        ("GITHUB_WORKFLOW_SHA", "workflow_sha"),
        ("GITHUB_SERVER_URL", "server_url"),
        ("GITHUB_API_URL", "api_url"),
        ("GITHUB_GRAPHQL_URL", "graphql_url"),
        ("GITHUB_HEAD_REF", "head_ref"),
        ("GITHUB_BASE_REF", "base_ref"),
        ("GITHUB_RETENTION_DAYS", "retention_days"),
    ] {
        let value = text(github, key);
        // GitHub sets the ref variables only when a branch or tag is known,
        // so a detached checkout has none rather than empty ones.
        if value.is_empty() && name.starts_with("GITHUB_REF") {
            continue;
        }
        env.push((name.to_string(), value));
    }
    env.push(("GITHUB_EVENT_PATH".to_string(), event_path.to_string()));
    for (name, key) in [
        ("RUNNER_NAME", "name"),
        ("RUNNER_OS", "os"),
        ("RUNNER_ARCH", "arch"),
        ("RUNNER_TEMP", "temp"),
        ("RUNNER_TOOL_CACHE", "tool_cache"),
        ("RUNNER_ENVIRONMENT", "environment"),
    ] {
        env.push((name.to_string(), text(runner, key)));
    }
    if run.debug {
        env.push(("RUNNER_DEBUG".to_string(), "1".to_string()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_info(event: &str) -> RunInfo {
        RunInfo {
            repo: RepoInfo {
                root: "/src/repo".into(),
                sha: "a".repeat(40),
                before: "b".repeat(40),
                git_ref: "refs/heads/main".into(),
                ref_name: "main".into(),
                ref_type: "branch".into(),
                repository: "octo/repo".into(),
                owner: "octo".into(),
                commit_message: "Initial".into(),
                commit_timestamp: "2026-01-01T00:00:00Z".into(),
                author_name: "A".into(),
                author_email: "a@example.invalid".into(),
                dirty: false,
            },
            event_name: event.into(),
            run_id: 7,
            run_number: 3,
            run_attempt: 1,
            actor: "dev".into(),
            runner_name: "htci".into(),
            arch: "X64".into(),
            debug: false,
            passthrough_env: vec![],
        }
    }

    fn workflow() -> WorkflowInfo {
        WorkflowInfo {
            name: "CI".into(),
            path: ".github/workflows/ci.yml".into(),
            inputs: json!({"level": "low"}),
        }
    }

    #[test]
    fn push_payload_fields() {
        let payload = event_payload(&run_info("push"), &workflow());
        assert_eq!(payload["ref"], "refs/heads/main");
        assert_eq!(payload["after"], "a".repeat(40));
        assert_eq!(payload["before"], "b".repeat(40));
        assert_eq!(payload["head_commit"]["message"], "Initial");
        assert_eq!(payload["repository"]["full_name"], "octo/repo");
    }

    #[test]
    fn dispatch_payload_has_inputs() {
        let payload = event_payload(&run_info("workflow_dispatch"), &workflow());
        assert_eq!(payload["inputs"]["level"], "low");
    }

    #[test]
    fn github_context_values() {
        let run = run_info("push");
        let github = github_context(&run, &workflow(), "build", "/w", &json!({}));
        assert_eq!(
            github["workflow_ref"],
            "octo/repo/.github/workflows/ci.yml@refs/heads/main"
        );
        assert_eq!(github["run_id"], "7");
        assert_eq!(github["token"], "");
        let env = standard_env(&run, &github, &json!({"os": "Linux"}), "/t/event.json");
        assert!(env.contains(&("GITHUB_JOB".into(), "build".into())));
        assert!(env.contains(&("RUNNER_OS".into(), "Linux".into())));
        assert!(env.contains(&("GITHUB_EVENT_PATH".into(), "/t/event.json".into())));
        assert!(env.contains(&("GITHUB_REF".into(), "refs/heads/main".into())));
    }

    #[test]
    fn detached_head_sets_no_ref_variables() {
        let mut run = run_info("push");
        run.repo.git_ref = String::new();
        run.repo.ref_name = String::new();
        run.repo.ref_type = String::new();
        let github = github_context(&run, &workflow(), "build", "/w", &json!({}));
        let env = standard_env(&run, &github, &json!({"os": "Linux"}), "/t/event.json");
        let names: Vec<&str> = env.iter().map(|(name, _)| name.as_str()).collect();
        assert!(!names.contains(&"GITHUB_REF"), "{names:?}");
        assert!(!names.contains(&"GITHUB_REF_NAME"), "{names:?}");
        assert!(!names.contains(&"GITHUB_REF_TYPE"), "{names:?}");
        assert!(names.contains(&"GITHUB_SHA"), "{names:?}");
    }
}
