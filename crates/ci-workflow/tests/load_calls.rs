//! Calls between the workflows of one repository: local reusable
//! workflows must exist, be reusable, and receive exactly the inputs and
//! secrets they declare.

use std::fs;

use ci_workflow::load::{check_local_calls, load_workflow_str};
use ci_workflow::model::Workflow;

const CALLED: &str = "on:
  workflow_call:
    inputs:
      target:
        type: string
        required: true
      level:
        type: number
        required: true
        default: 1
      debug:
        type: boolean
    secrets:
      token:
        required: true
      extra:
jobs:
  build:
    runs-on: x
    steps: [{run: make}]
";

fn load(path: &str, text: &str) -> Workflow {
    load_workflow_str(path, text).unwrap().workflow
}

/// Writes the files to a repository, loads them and checks their calls.
fn call_diagnostics(files: &[(&str, &str)]) -> Vec<String> {
    let repo = tempfile::tempdir().unwrap();
    fs::create_dir_all(repo.path().join(".github/workflows")).unwrap();
    for (path, text) in files {
        fs::write(repo.path().join(path), text).unwrap();
    }
    let workflows: Vec<Workflow> = files.iter().map(|(path, text)| load(path, text)).collect();
    let references: Vec<&Workflow> = workflows.iter().collect();
    check_local_calls(repo.path(), &references)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn correct_call_passes() {
    let caller = "on: push
jobs:
  call:
    uses: ./.github/workflows/called.yml
    with:
      target: linux
    secrets:
      token: ${{ secrets.TOKEN }}
";
    let diagnostics = call_diagnostics(&[
        (".github/workflows/caller.yml", caller),
        (".github/workflows/called.yml", CALLED),
    ]);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
}

#[test]
fn inherited_secrets_satisfy_required() {
    let caller = "on: push
jobs:
  call:
    uses: ./.github/workflows/called.yml
    with: {target: linux}
    secrets: inherit
";
    let diagnostics = call_diagnostics(&[
        (".github/workflows/caller.yml", caller),
        (".github/workflows/called.yml", CALLED),
    ]);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
}

#[test]
fn wrong_inputs_and_secrets() {
    let caller = "on: push
jobs:
  call:
    uses: ./.github/workflows/called.yml
    with:
      targte: linux
    secrets:
      tokn: x
";
    assert_eq!(
        call_diagnostics(&[
            (".github/workflows/caller.yml", caller),
            (".github/workflows/called.yml", CALLED),
        ]),
        [
            ".github/workflows/caller.yml:6:7: error: input \"targte\" in job \"call\" is not defined by \"./.github/workflows/called.yml\"; it defines \"target\", \"level\", \"debug\"",
            ".github/workflows/caller.yml:4:11: error: job \"call\" does not pass the required input \"target\" of \"./.github/workflows/called.yml\"",
            ".github/workflows/caller.yml:8:7: error: secret \"tokn\" in job \"call\" is not defined by \"./.github/workflows/called.yml\"; it defines \"token\", \"extra\"",
            ".github/workflows/caller.yml:4:11: error: job \"call\" does not pass the required secret \"token\" of \"./.github/workflows/called.yml\"; pass it under \"secrets\" or use \"secrets: inherit\"",
        ]
    );
}

#[test]
fn missing_and_not_reusable_workflows() {
    let caller = "on: push
jobs:
  missing:
    uses: ./.github/workflows/missing.yml
  plain:
    uses: ./.github/workflows/plain.yml
  remote:
    uses: octo/repo/.github/workflows/x.yml@v1
";
    let plain = "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: make}]\n";
    assert_eq!(
        call_diagnostics(&[
            (".github/workflows/caller.yml", caller),
            (".github/workflows/plain.yml", plain),
        ]),
        [
            ".github/workflows/caller.yml:4:11: error: reusable workflow \"./.github/workflows/missing.yml\" called by job \"missing\" does not exist",
            ".github/workflows/caller.yml:6:11: error: workflow \"./.github/workflows/plain.yml\" called by job \"plain\" is not reusable: it has no \"workflow_call\" trigger",
        ]
    );
}

#[test]
fn broken_called_workflow_is_not_checked_again() {
    let caller = "on: push\njobs:\n  call:\n    uses: ./.github/workflows/broken.yml\n";
    let repo = tempfile::tempdir().unwrap();
    fs::create_dir_all(repo.path().join(".github/workflows")).unwrap();
    fs::write(repo.path().join(".github/workflows/broken.yml"), "on: [").unwrap();
    let workflow = load(".github/workflows/caller.yml", caller);

    assert!(check_local_calls(repo.path(), &[&workflow]).is_empty());
}
