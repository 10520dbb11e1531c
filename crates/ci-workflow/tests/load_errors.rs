//! Diagnostics of the loader: each kind of mistake gives exactly the
//! expected message at the expected line and column, and a file with an
//! error yields no workflow.

use ci_workflow::diagnostic::Severity;
use ci_workflow::load::{LoadError, load_workflow_str};

/// Loads `text` as `w.yml` and returns every diagnostic as a line, or
/// "ok" followed by the warnings when the workflow loaded.
fn diagnostics(text: &str) -> Vec<String> {
    match load_workflow_str("w.yml", text) {
        Ok(loaded) => std::iter::once("ok".to_string())
            .chain(loaded.warnings.iter().map(ToString::to_string))
            .collect(),
        Err(error) => error
            .diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

/// Builds a workflow with `body` as the job `build`, triggered by push.
fn job(body: &str) -> String {
    format!("on: push\njobs:\n  build:\n{body}")
}

const RUN: &str = "    steps:\n      - run: make\n";

#[test]
fn error_carries_all_diagnostics() {
    let text = job("    runs_on: x\n    timeout-minutes: long\n    steps:\n      - {}\n");
    let Err(LoadError::Invalid {
        path,
        errors,
        warnings,
    }) = load_workflow_str("w.yml", &text)
    else {
        panic!("expected an invalid workflow");
    };
    assert_eq!(path, "w.yml");
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "w.yml:3:3: error: \"runs-on\" is required in job \"build\"",
            "w.yml:5:22: error: \"timeout-minutes\" in job \"build\" must be a number or a ${{ }} expression, found the string \"long\"",
            "w.yml:7:9: error: step 1 of job \"build\" needs \"run\" (a command) or \"uses\" (an action)",
        ]
    );
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].severity, Severity::Warning);
    assert_eq!(warnings[0].line, 4);
    assert_eq!(warnings[0].column, 5);
}

#[test]
fn load_error_display_names_first_error() {
    let error = load_workflow_str("w.yml", "on: push\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "workflow file w.yml has 1 error(s), the first: w.yml:1:1: error: \"jobs\" is required in the workflow: it lists the jobs to run"
    );
}

#[test]
fn type_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "name: [a]\non: push\njobs:\n  b:\n    runs-on: x\n    steps: [{run: make}]\n",
            "w.yml:1:7: error: \"name\" in the workflow must be a string, found a sequence",
        ),
        (
            "on: {push: [main]}\njobs:\n  b:\n    runs-on: x\n    steps: [{run: make}]\n",
            "w.yml:1:12: error: \"push\" in event \"push\" must be a mapping, found a sequence",
        ),
        (
            "on: push\njobs: [build]\n",
            "w.yml:2:7: error: \"jobs\" in the workflow must be a mapping, found a sequence",
        ),
        (
            "on: push\njobs:\n  build: make\n",
            "w.yml:3:10: error: job \"build\" in \"jobs\" must be a mapping, found the string \"make\"",
        ),
        (
            "on: push\njobs:\n  build:\n    runs-on: x\n    steps:\n      - make\n",
            "w.yml:6:9: error: step 1 in job \"build\" must be a mapping, found the string \"make\"",
        ),
        (
            "on: push\njobs:\n  build:\n    runs-on: {labels: {a: b}}\n    steps: [{run: make}]\n",
            "w.yml:4:23: error: \"labels\" in \"runs-on\" of job \"build\" must be a string or a list of strings, found a mapping",
        ),
        (
            "on: push\njobs:\n  build:\n    runs-on: x\n    needs: {a: b}\n    steps: [{run: make}]\n",
            "w.yml:5:12: error: \"needs\" in job \"build\" must be a string or a list of strings, found a mapping",
        ),
        (
            "on: push\njobs:\n  build:\n    runs-on: x\n    steps:\n      - run: [make]\n",
            "w.yml:6:14: error: \"run\" in step 1 of job \"build\" must be a string, found a sequence",
        ),
        (
            "on: push\njobs:\n  build:\n    runs-on: x\n    steps:\n      - run:\n",
            "w.yml:7:1: error: \"run\" in step 1 of job \"build\" must not be empty",
        ),
        (
            "on: push\njobs:\n  build:\n    runs-on: x\n    if: [a]\n    steps: [{run: make}]\n",
            "w.yml:5:9: error: \"if\" in job \"build\" must be an expression or a boolean, found a sequence",
        ),
        (
            "on: push\njobs:\n  build:\n    runs-on: x\n    env: ${{ fromJSON('{}') }}\n    steps: [{run: make}]\n",
            "w.yml:5:10: error: \"env\" in job \"build\" must be a mapping of variable names to values, found the string \"${{ fromJSON('{}') }}\"",
        ),
        (
            "on: push\njobs:\n  build:\n    runs-on: x\n    strategy:\n      max-parallel: 1.5\n    steps: [{run: make}]\n",
            "w.yml:6:21: error: \"max-parallel\" in \"strategy\" of job \"build\" must be a positive integer or a ${{ }} expression, found the number 1.5",
        ),
        (
            "on: push\njobs:\n  build:\n    runs-on: x\n    continue-on-error: \"true\"\n    steps: [{run: make}]\n",
            "w.yml:5:24: error: \"continue-on-error\" in job \"build\" must be a boolean or a ${{ }} expression, found the string \"true\"",
        ),
        (
            "on: push\njobs:\n  build:\n    uses: ./.github/workflows/x.yml\n    secrets: all\n",
            "w.yml:5:14: error: \"secrets\" in job \"build\" must be \"inherit\" or a mapping, found the string \"all\"",
        ),
        (
            "on: push\njobs:\n  build:\n    runs-on: x\n    services:\n      db:\n        image: [pg]\n    steps: [{run: make}]\n",
            "w.yml:7:16: error: \"image\" in service \"db\" of job \"build\" must be a string, found a sequence",
        ),
        (
            "on:\n  schedule:\n    cron: '* * * * *'\njobs:\n  b:\n    runs-on: x\n    steps: [{run: make}]\n",
            "w.yml:3:5: error: \"schedule\" in event \"schedule\" must be a list of \"cron\" entries, found a mapping",
        ),
        (
            "on: schedule\njobs:\n  b:\n    runs-on: x\n    steps: [{run: make}]\n",
            "w.yml:1:5: error: event \"schedule\" needs a list of cron entries, such as \"schedule: [{cron: '0 3 * * *'}]\"",
        ),
        (
            "on: push\njobs:\n  build:\n    runs-on: x\n    steps: [{run: make}]\n    ? [complex]\n    : key\n",
            "w.yml:6:7: error: keys in job \"build\" must be strings, found a sequence",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(diagnostics(text), [*expected], "{text}");
    }
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let cases: &[(&str, &str)] = &[
        (
            "on: push\njobs:\n  build:\n    runs-on: [x\n",
            "w.yml:5:1: error: invalid YAML: while parsing a flow sequence, expected ',' or ']'",
        ),
        (
            "on: push\njobs:\n\tbuild: {}\n",
            "w.yml:3:2: error: invalid YAML: tabs disallowed within this context (block indentation)",
        ),
        (
            "on: push\njobs: *missing\n",
            "w.yml:2:7: error: invalid YAML: while parsing node, found unknown anchor",
        ),
        (
            "on: push\n---\njobs: {}\n",
            "w.yml:2:1: error: a workflow file must contain one YAML document, found a second one",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(diagnostics(text), [*expected], "{text:?}");
    }
}

#[test]
fn unknown_keys_warn_with_suggestions() {
    let text = "on: push
nmae: CI
jobs:
  build:
    runs-on: x
    enviroment: prod
    steps:
      - run: make
        working_directory: src
        wtih: {}
        completely-unrelated: 1
";
    assert_eq!(
        diagnostics(text),
        [
            "ok",
            "w.yml:2:1: warning: unknown key \"nmae\" in the workflow, did you mean \"name\"?",
            "w.yml:6:5: warning: unknown key \"enviroment\" in job \"build\", did you mean \"environment\"?",
            "w.yml:9:9: warning: unknown key \"working_directory\" in step 1 of job \"build\", did you mean \"working-directory\"?",
            "w.yml:10:9: warning: unknown key \"wtih\" in step 1 of job \"build\", did you mean \"with\"?",
            "w.yml:11:9: warning: unknown key \"completely-unrelated\" in step 1 of job \"build\"",
        ]
    );
}

#[test]
fn duplicate_keys_at_any_depth() {
    let text = "on: push
jobs:
  build:
    runs-on: x
    env:
      A: 1
      A: 2
    steps:
      - run: make
        run: make again
";
    assert_eq!(
        diagnostics(text),
        [
            "w.yml:7:7: error: duplicate key \"A\" (first defined at line 6)",
            "w.yml:10:9: error: duplicate key \"run\" (first defined at line 9)",
        ]
    );
}

#[test]
fn needs_checks() {
    let text = "on: push
jobs:
  build:
    needs: build
    runs-on: x
    steps: [{run: make}]
  deploy:
    needs: [Build, tests]
    runs-on: x
    steps: [{run: make}]
  tests:
    runs-on: x
    steps: [{run: make}]
";
    assert_eq!(
        diagnostics(text),
        [
            "w.yml:4:12: error: job \"build\" needs itself",
            "w.yml:8:13: error: job \"deploy\" needs unknown job \"Build\", did you mean \"build\"?",
        ]
    );
}

#[test]
fn expression_errors_point_inside_scalars() {
    let text = "on: push
jobs:
  build:
    runs-on: x
    steps:
      - run: echo ${{ github.sha ) }}
      - name: 'quoted ${{ 1 +  }}'
        run: make
      - run: |
          echo ok
          echo ${{ nope }}
";
    assert_eq!(
        diagnostics(text),
        [
            "w.yml:6:34: error: invalid expression in \"run\" of step 1 of job \"build\": expected an operator or the end of the expression, found ')'",
            "w.yml:7:29: error: invalid expression in \"name\" of step 2 of job \"build\": unexpected symbol '+' (not a valid number)",
            "w.yml:11:20: error: invalid expression in \"run\" of step 3 of job \"build\": unrecognized named-value: 'nope'; expressions can read github, env, vars, secrets, inputs, job, jobs, steps, runner, strategy, matrix and needs",
        ]
    );
}

#[test]
fn unclosed_expression_in_if_and_name() {
    let text = "on: push
jobs:
  build:
    name: ci ${{ matrix.os
    if: ${{ success()
    runs-on: x
    steps: [{run: make}]
";
    assert_eq!(
        diagnostics(text),
        [
            "w.yml:4:14: error: unclosed expression in \"name\" of job \"build\": \"${{\" without \"}}\"",
            "w.yml:5:9: error: unclosed expression in \"if\" of job \"build\": \"${{\" without \"}}\"",
        ]
    );
}

#[test]
fn closing_braces_inside_string_literal() {
    let text = job(&format!(
        "    runs-on: x\n    env:\n      A: ${{{{ format('{{0}}}}', github.sha) }}}}\n{RUN}"
    ));
    assert_eq!(diagnostics(&text), ["ok"]);
}

#[test]
fn call_job_rejects_step_keys() {
    let text = "on: push
jobs:
  call:
    uses: ./.github/workflows/x.yml
    env:
      A: b
    container: node:20
";
    assert_eq!(
        diagnostics(text),
        [
            "w.yml:5:5: error: \"env\" cannot be used in job \"call\", which calls a reusable workflow",
            "w.yml:7:5: error: \"container\" cannot be used in job \"call\", which calls a reusable workflow",
        ]
    );
}

#[test]
fn steps_job_rejects_with_and_secrets() {
    let text = job(&format!(
        "    runs-on: x\n    with:\n      a: b\n    secrets: inherit\n{RUN}"
    ));
    assert_eq!(
        diagnostics(&text),
        [
            "w.yml:5:5: error: \"with\" in job \"build\" is only valid with \"uses\"; for an action, put it on a step",
            "w.yml:7:5: error: \"secrets\" in job \"build\" is only valid with \"uses\"; for an action, put it on a step",
        ]
    );
}

#[test]
fn credentials_need_both_fields() {
    let text = job(&format!(
        "    runs-on: x\n    container:\n      image: a\n      credentials:\n        password: p\n{RUN}"
    ));
    assert_eq!(
        diagnostics(&text),
        [
            "w.yml:8:9: error: \"username\" is required in \"credentials\" of \"container\" of job \"build\""
        ]
    );
}

#[test]
fn matrix_needs_axis_or_include() {
    let text = job(&format!(
        "    runs-on: x\n    strategy:\n      matrix:\n        exclude: [{{a: 1}}]\n{RUN}"
    ));
    assert_eq!(
        diagnostics(&text),
        [
            "w.yml:7:9: error: the matrix of job \"build\" needs at least one axis (such as \"os: [...]\") or \"include\""
        ]
    );
}

#[test]
fn bad_permission_scope_level() {
    let text = "on: push\npermissions:\n  contents: [read]\njobs:\n  b:\n    runs-on: x\n    steps: [{run: make}]\n";
    assert_eq!(
        diagnostics(text),
        [
            "w.yml:3:13: error: permission \"contents\" in the workflow must be read, write or none, found a sequence"
        ]
    );
}

#[test]
fn empty_and_comment_only_files() {
    for text in ["", "\n\n", "# nothing\n", "---\n"] {
        assert_eq!(
            diagnostics(text),
            ["w.yml:1:1: error: workflow file is empty; it needs at least \"on\" and \"jobs\""],
            "{text:?}"
        );
    }
}

#[test]
fn top_level_scalar() {
    assert_eq!(
        diagnostics("just text\n"),
        [
            "w.yml:1:1: error: a workflow must be a mapping with keys such as \"on\" and \"jobs\", found a string"
        ]
    );
}

#[test]
fn valid_ids_accepted() {
    let text = "on: push
jobs:
  _private:
    runs-on: x
    steps:
      - id: a-b_c9
        run: make
      - id: _x
        run: make
  Build-2:
    runs-on: x
    steps: [{run: make}]
";
    assert_eq!(diagnostics(text), ["ok"]);
}

#[test]
fn crlf_line_endings_and_bom() {
    let text = "\u{feff}on: push\r\njobs:\r\n  build:\r\n    runs-on: x\r\n    steps:\r\n      - run: |\r\n          echo one\r\n          echo ${{ nope }}\r\n";
    assert_eq!(
        diagnostics(text),
        [
            "w.yml:8:20: error: invalid expression in \"run\" of step 1 of job \"build\": unrecognized named-value: 'nope'; expressions can read github, env, vars, secrets, inputs, job, jobs, steps, runner, strategy, matrix and needs"
        ]
    );

    let fixed = text.replace("nope", "github.sha");
    let loaded = load_workflow_str("w.yml", &fixed).unwrap();
    let steps = loaded.workflow.job("build").unwrap().steps();
    let ci_workflow::model::StepAction::Run { run, .. } = &steps[0].action else {
        panic!("not a run step");
    };
    assert_eq!(run.value, "echo one\necho ${{ github.sha }}\n");
}

#[test]
fn references_to_nothing_warn() {
    let text = "on: push
jobs:
  setup:
    runs-on: x
    steps: [{run: make}]
  build:
    needs: setup
    if: needs.setup.result == 'success' && needs.setpu.result != 'failure'
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [linux]
        include:
          - os: linux
            extra: true
    outputs:
      version: ${{ steps.version.outputs.value }}
      missing: ${{ steps.nope.outputs.value }}
    steps:
      - run: echo ${{ steps.version.outputs.value }} ${{ matrix.extra }} ${{ matrix.arch }}
      - id: version
        run: echo value=1 >> $GITHUB_OUTPUT
      - run: echo ${{ steps.version.outputs.value }} ${{ steps['version'].outcome }}
  plain:
    runs-on: x
    steps:
      - run: echo ${{ matrix.os }}
  dynamic:
    runs-on: x
    strategy:
      matrix: ${{ fromJSON(vars.MATRIX) }}
    steps:
      - run: echo ${{ matrix.anything }}
";
    assert_eq!(
        diagnostics(text),
        [
            "ok",
            "w.yml:8:44: warning: \"needs.setpu\" in job \"build\" is always null: \"setpu\" is not in its \"needs\"",
            "w.yml:18:20: warning: \"steps.nope\" in job \"build\" is always null: no step has the id \"nope\"",
            "w.yml:20:23: warning: \"steps.version\" in job \"build\" is always null: no step before this step has the id \"version\"",
            "w.yml:20:78: warning: \"matrix.arch\" in job \"build\" is always null: the matrix has no key \"arch\" (keys: os, extra)",
            "w.yml:27:23: warning: \"matrix.os\" in job \"plain\" is always null: the job has no matrix",
        ]
    );
}

#[test]
fn always_true_condition_warns() {
    let text = "on: push
jobs:
  build:
    runs-on: x
    steps:
      - if: ${{ github.ref }} == 'refs/heads/main'
        run: make
      - if: ${{ github.ref == 'refs/heads/main' }}
        run: make
";
    assert_eq!(
        diagnostics(text),
        [
            "ok",
            "w.yml:6:13: warning: \"if\" of step 1 of job \"build\" is always true: text outside ${{ }} makes it a non-empty string; put the whole condition inside ${{ }} or drop the ${{ }}",
        ]
    );
}

#[test]
fn lossy_matrix_numbers_warn() {
    let text = "on: push
jobs:
  build:
    runs-on: x
    strategy:
      matrix:
        python: [3.9, 3.10, '3.11']
        include:
          - python: 3.10
            node: 20
    steps: [{run: make}]
";
    assert_eq!(
        diagnostics(text),
        [
            "ok",
            "w.yml:7:23: warning: axis \"python\" in the matrix of job \"build\" is the number 3.1, not the text \"3.10\"; quote it to keep the text",
            "w.yml:9:21: warning: \"include\" in the matrix of job \"build\" is the number 3.1, not the text \"3.10\"; quote it to keep the text",
        ]
    );
}
