//! The typed model the loader builds: every shorthand normalized, every
//! value typed, every position pointing at its source.

use ci_workflow::load::{Loaded, load_workflow_str};
use ci_workflow::model::{
    CallSecrets, InputType, JobKind, Matrix, MatrixRows, MatrixValues, OrExpression,
    PermissionLevel, Permissions, Position, RunsOn, StepAction, TriggerConfig, Workflow,
};
use serde_json::json;

fn load(text: &str) -> Loaded {
    match load_workflow_str("ci.yml", text) {
        Ok(loaded) => loaded,
        Err(error) => panic!("{:#?}", error.diagnostics()),
    }
}

fn load_ok(text: &str) -> Workflow {
    let loaded = load(text);
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    loaded.workflow
}

const STEPS: &str = "    runs-on: ubuntu-latest\n    steps:\n      - run: make\n";

fn one_job(on: &str, job_body: &str) -> String {
    format!("on: {on}\njobs:\n  build:\n{job_body}")
}

#[test]
fn on_string_is_one_trigger() {
    let workflow = load_ok(&one_job("push", STEPS));
    assert_eq!(workflow.on.triggers.len(), 1);
    let trigger = &workflow.on.triggers[0];
    assert_eq!(trigger.event, "push");
    assert_eq!(trigger.pos, Position::new(1, 5));
    assert_eq!(trigger.filter, Default::default());
    assert_eq!(trigger.config, TriggerConfig::None);
}

#[test]
fn on_list_keeps_order() {
    let workflow = load_ok(&one_job("[pull_request, push, workflow_dispatch]", STEPS));
    let events: Vec<&str> = workflow
        .on
        .triggers
        .iter()
        .map(|t| t.event.as_str())
        .collect();
    assert_eq!(events, ["pull_request", "push", "workflow_dispatch"]);
    assert_eq!(workflow.on.triggers[1].pos, Position::new(1, 20));
    assert_eq!(
        workflow.on.triggers[2].config,
        TriggerConfig::WorkflowDispatch(Default::default())
    );
}

#[test]
fn on_key_is_string_not_boolean() {
    // YAML 1.1 reads a bare `on` key as `true`; GitHub, and this loader,
    // read it as the string "on". Quoted and plain forms are the same.
    for text in [
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: make}]\n",
        "\"on\": push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: make}]\n",
    ] {
        let workflow = load_ok(text);
        assert_eq!(workflow.on.triggers[0].event, "push");
    }
}

#[test]
fn on_mapping_reads_filters() {
    let text = "on:
  push:
    branches: [main, 'release/**']
    tags: v*
    paths-ignore: ['docs/**']
  pull_request:
    types: [opened, labeled]
    paths: ['src/**']
jobs:
  build:
"
    .to_string()
        + STEPS;
    let workflow = load_ok(&text);

    let push = workflow.on.trigger("push").unwrap();
    assert_eq!(push.pos, Position::new(2, 3));
    assert_eq!(
        push.filter.branches,
        Some(vec!["main".to_string(), "release/**".to_string()])
    );
    assert_eq!(push.filter.tags, Some(vec!["v*".to_string()]));
    assert_eq!(push.filter.paths_ignore, Some(vec!["docs/**".to_string()]));
    assert_eq!(push.filter.paths, None);
    assert_eq!(push.filter.types, None);

    let pull_request = workflow.on.trigger("pull_request").unwrap();
    assert_eq!(
        pull_request.filter.types,
        Some(vec!["opened".to_string(), "labeled".to_string()])
    );
    assert_eq!(pull_request.filter.paths, Some(vec!["src/**".to_string()]));
}

#[test]
fn empty_event_value_has_no_filter() {
    let workflow = load_ok(&one_job(
        "\n  push:\n  pull_request: {}\n  release:\n    types: [published]",
        STEPS,
    ));
    assert_eq!(
        workflow.on.trigger("push").unwrap().filter,
        Default::default()
    );
    assert_eq!(
        workflow.on.trigger("pull_request").unwrap().filter,
        Default::default()
    );
    assert_eq!(
        workflow.on.trigger("release").unwrap().filter.types,
        Some(vec!["published".to_string()])
    );
}

#[test]
fn schedule_reads_crons() {
    let workflow = load_ok(&one_job(
        "\n  schedule:\n    - cron: '0 3 * * 1'\n    - cron: \"*/5 * * * *\"",
        STEPS,
    ));
    let TriggerConfig::Schedule(crons) = &workflow.on.trigger("schedule").unwrap().config else {
        panic!("not a schedule");
    };
    assert_eq!(crons.len(), 2);
    assert_eq!(crons[0].value, "0 3 * * 1");
    assert_eq!(crons[0].pos, Position::new(3, 13));
    assert_eq!(crons[1].value, "*/5 * * * *");
}

#[test]
fn workflow_dispatch_inputs() {
    let on = "
  workflow_dispatch:
    inputs:
      level:
        description: Log level
        required: true
        default: warning
        type: choice
        options: [info, warning]
      dry-run:
        type: boolean
        default: false
      count:
        type: number
        default: 2.5
      plain:";
    let workflow = load_ok(&one_job(on, STEPS));
    let TriggerConfig::WorkflowDispatch(inputs) =
        &workflow.on.trigger("workflow_dispatch").unwrap().config
    else {
        panic!("not workflow_dispatch");
    };
    assert_eq!(
        inputs.keys().collect::<Vec<_>>(),
        ["level", "dry-run", "count", "plain"]
    );

    let level = inputs.get("level").unwrap();
    assert_eq!(level.description.as_ref().unwrap().value, "Log level");
    assert!(level.required);
    assert_eq!(level.input_type, InputType::Choice);
    assert_eq!(level.default.as_ref().unwrap().value, json!("warning"));
    let options: Vec<&str> = level.options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(options, ["info", "warning"]);

    let dry_run = inputs.get("dry-run").unwrap();
    assert_eq!(dry_run.input_type, InputType::Boolean);
    assert_eq!(dry_run.default.as_ref().unwrap().value, json!(false));
    assert!(!dry_run.required);

    let count = inputs.get("count").unwrap();
    assert_eq!(count.default.as_ref().unwrap().value, json!(2.5));

    let plain = inputs.get("plain").unwrap();
    assert_eq!(plain.input_type, InputType::String);
    assert_eq!(plain.default, None);
    assert_eq!(inputs.entry("plain").unwrap().key_pos, Position::new(16, 7));
}

#[test]
fn workflow_call_interface() {
    let on = "
  workflow_call:
    inputs:
      target:
        type: string
        required: true
      debug:
        type: boolean
        default: true
    outputs:
      digest:
        description: Image digest
        value: ${{ jobs.build.outputs.digest }}
    secrets:
      token:
        required: true";
    let workflow = load_ok(&one_job(on, STEPS));
    let TriggerConfig::WorkflowCall(call) = &workflow.on.trigger("workflow_call").unwrap().config
    else {
        panic!("not workflow_call");
    };
    assert_eq!(
        call.inputs.get("target").unwrap().input_type,
        InputType::String
    );
    assert!(call.inputs.get("target").unwrap().required);
    assert_eq!(
        call.inputs
            .get("debug")
            .unwrap()
            .default
            .as_ref()
            .unwrap()
            .value,
        json!(true)
    );
    let digest = call.outputs.get("digest").unwrap();
    assert_eq!(digest.value.value, "${{ jobs.build.outputs.digest }}");
    assert!(digest.value.has_expressions());
    assert!(call.secrets.get("token").unwrap().required);
}

#[test]
fn workflow_run_lists_workflows() {
    let on = "\n  workflow_run:\n    workflows: [CI]\n    types: [completed]\n    branches: [main]";
    let workflow = load_ok(&one_job(on, STEPS));
    let trigger = workflow.on.trigger("workflow_run").unwrap();
    let TriggerConfig::WorkflowRun(workflows) = &trigger.config else {
        panic!("not workflow_run");
    };
    assert_eq!(workflows[0].value, "CI");
    assert_eq!(trigger.filter.branches, Some(vec!["main".to_string()]));
}

#[test]
fn top_level_settings() {
    let text = "name: CI
run-name: Deploy by @${{ github.actor }}
on: push
env:
  A: one
  B: 2
  C: true
  D:
  E: ${{ github.sha }}
defaults:
  run:
    shell: bash
    working-directory: app
concurrency: ci-${{ github.ref }}
permissions:
  contents: read
  id-token: write
  issues: none
jobs:
  build:
"
    .to_string()
        + STEPS;
    let workflow = load_ok(&text);

    assert_eq!(workflow.path, "ci.yml");
    assert_eq!(workflow.name.as_ref().unwrap().value, "CI");
    assert_eq!(workflow.name.as_ref().unwrap().pos, Position::new(1, 7));
    let run_name = workflow.run_name.as_ref().unwrap();
    assert_eq!(run_name.value, "Deploy by @${{ github.actor }}");

    let env: Vec<(&str, &str)> = workflow
        .env
        .iter()
        .map(|(k, v)| (k, v.value.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("A", "one"),
            ("B", "2"),
            ("C", "true"),
            ("D", ""),
            ("E", "${{ github.sha }}")
        ]
    );
    assert_eq!(workflow.env.get("B").unwrap().pos, Position::new(6, 6));
    assert_eq!(
        workflow.env.entry("B").unwrap().key_pos,
        Position::new(6, 3)
    );

    let run = &workflow.defaults.as_ref().unwrap().run;
    assert_eq!(run.shell.as_ref().unwrap().value, "bash");
    assert_eq!(run.working_directory.as_ref().unwrap().value, "app");

    let concurrency = workflow.concurrency.as_ref().unwrap();
    assert_eq!(concurrency.group.value, "ci-${{ github.ref }}");
    assert_eq!(concurrency.cancel_in_progress, None);

    let Some(Permissions::Scopes(scopes)) = &workflow.permissions else {
        panic!("not scopes");
    };
    let levels: Vec<(&str, PermissionLevel)> = scopes.iter().map(|(k, v)| (k, v.value)).collect();
    assert_eq!(
        levels,
        [
            ("contents", PermissionLevel::Read),
            ("id-token", PermissionLevel::Write),
            ("issues", PermissionLevel::None)
        ]
    );
}

#[test]
fn permissions_shorthands() {
    for (value, expected) in [
        ("read-all", Permissions::ReadAll(Position::new(2, 14))),
        ("write-all", Permissions::WriteAll(Position::new(2, 14))),
        ("{}", Permissions::Scopes(Default::default())),
    ] {
        let text = format!("on: push\npermissions: {value}\njobs:\n  build:\n{STEPS}");
        assert_eq!(load_ok(&text).permissions, Some(expected), "{value}");
    }
}

#[test]
fn concurrency_mapping() {
    let text = one_job(
        "push",
        &format!(
            "{STEPS}    concurrency:\n      group: g\n      cancel-in-progress: ${{{{ github.ref != 'main' }}}}\n"
        ),
    );
    let workflow = load_ok(&text);
    let concurrency = workflow.job("build").unwrap().concurrency.clone().unwrap();
    assert_eq!(concurrency.group.value, "g");
    assert_eq!(
        concurrency.cancel_in_progress.unwrap().value,
        OrExpression::Expression("${{ github.ref != 'main' }}".to_string())
    );
}

#[test]
fn jobs_keep_file_order() {
    let mut text = "on: push\njobs:\n".to_string();
    for id in ["zeta", "alpha", "mid_dle", "_x"] {
        text += &format!("  {id}:\n{STEPS}");
    }
    let workflow = load_ok(&text);
    assert_eq!(
        workflow.jobs.keys().collect::<Vec<_>>(),
        ["zeta", "alpha", "mid_dle", "_x"]
    );
    let alpha = workflow.job("alpha").unwrap();
    assert_eq!(alpha.id, "alpha");
    assert_eq!(alpha.pos, Position::new(7, 3));
}

#[test]
fn runs_on_forms() {
    let cases: [(&str, Option<&str>, &[&str]); 5] = [
        ("ubuntu-latest", None, &["ubuntu-latest"]),
        ("[self-hosted, linux]", None, &["self-hosted", "linux"]),
        ("{group: big, labels: gpu}", Some("big"), &["gpu"]),
        ("{group: big}", Some("big"), &[]),
        ("${{ matrix.os }}", None, &["${{ matrix.os }}"]),
    ];
    for (value, expected_group, expected_labels) in cases {
        let text = one_job(
            "push",
            &format!(
                "    runs-on: {value}\n    steps:\n      - run: make\n    strategy:\n      matrix:\n        os: [linux]\n"
            ),
        );
        let workflow = load_ok(&text);
        let runs_on = workflow.job("build").unwrap().runs_on.clone().unwrap();
        let (group, labels) = match &runs_on {
            RunsOn::Labels(labels) => (None, labels),
            RunsOn::Group { group, labels } => {
                (Some(group.as_ref().unwrap().value.as_str()), labels)
            }
        };
        let labels: Vec<&str> = labels.iter().map(|l| l.value.as_str()).collect();
        assert_eq!(group, expected_group, "{value}");
        assert_eq!(labels, expected_labels, "{value}");
    }
}

#[test]
fn needs_string_and_list() {
    let text = format!(
        "on: push\njobs:\n  a:\n{STEPS}  b:\n    needs: a\n{STEPS}  c:\n    needs: [a, b]\n{STEPS}"
    );
    let workflow = load_ok(&text);
    let b_needs: Vec<&str> = workflow
        .job("b")
        .unwrap()
        .needs
        .iter()
        .map(|n| n.value.as_str())
        .collect();
    assert_eq!(b_needs, ["a"]);
    let c = workflow.job("c").unwrap();
    let c_needs: Vec<&str> = c.needs.iter().map(|n| n.value.as_str()).collect();
    assert_eq!(c_needs, ["a", "b"]);
    assert_eq!(c.needs[1].pos, Position::new(13, 16));
}

#[test]
fn job_settings() {
    let body = "    name: Build ${{ matrix.os }}
    runs-on: ubuntu-latest
    if: github.event_name == 'push'
    env:
      LEVEL: job
    defaults:
      run:
        shell: pwsh
    continue-on-error: true
    timeout-minutes: 12.5
    outputs:
      version: ${{ steps.v.outputs.version }}
    environment: production
    steps:
      - id: v
        run: make
    strategy:
      matrix:
        os: [linux]
";
    let workflow = load_ok(&one_job("push", body));
    let job = workflow.job("build").unwrap();
    assert_eq!(job.name.as_ref().unwrap().value, "Build ${{ matrix.os }}");
    let condition = job.condition.as_ref().unwrap();
    assert_eq!(condition.raw, "github.event_name == 'push'");
    assert_eq!(condition.pos, Position::new(6, 9));
    assert_eq!(job.env.get("LEVEL").unwrap().value, "job");
    assert_eq!(
        job.defaults
            .as_ref()
            .unwrap()
            .run
            .shell
            .as_ref()
            .unwrap()
            .value,
        "pwsh"
    );
    assert_eq!(
        job.continue_on_error.as_ref().unwrap().value,
        OrExpression::Literal(true)
    );
    assert_eq!(
        job.timeout_minutes.as_ref().unwrap().value,
        OrExpression::Literal(12.5)
    );
    assert_eq!(
        job.outputs.get("version").unwrap().value,
        "${{ steps.v.outputs.version }}"
    );
    let environment = job.environment.as_ref().unwrap();
    assert_eq!(environment.name.value, "production");
    assert_eq!(environment.url, None);
}

#[test]
fn expression_valued_settings() {
    let body = "    runs-on: ubuntu-latest
    continue-on-error: ${{ matrix.experimental }}
    timeout-minutes: ${{ fromJSON(vars.TIMEOUT) }}
    strategy:
      fail-fast: ${{ github.ref == 'refs/heads/main' }}
      max-parallel: ${{ fromJSON(vars.PARALLEL) }}
      matrix:
        experimental: [false]
    steps:
      - run: make
        continue-on-error: false
        timeout-minutes: 3
";
    let workflow = load_ok(&one_job("push", body));
    let job = workflow.job("build").unwrap();
    assert_eq!(
        job.continue_on_error.as_ref().unwrap().value,
        OrExpression::Expression("${{ matrix.experimental }}".to_string())
    );
    assert_eq!(
        job.timeout_minutes.as_ref().unwrap().value,
        OrExpression::Expression("${{ fromJSON(vars.TIMEOUT) }}".to_string())
    );
    let strategy = job.strategy.as_ref().unwrap();
    assert_eq!(
        strategy.fail_fast.as_ref().unwrap().value,
        OrExpression::Expression("${{ github.ref == 'refs/heads/main' }}".to_string())
    );
    assert_eq!(
        strategy.max_parallel.as_ref().unwrap().value,
        OrExpression::Expression("${{ fromJSON(vars.PARALLEL) }}".to_string())
    );
    let step = &job.steps()[0];
    assert_eq!(
        step.continue_on_error.as_ref().unwrap().value,
        OrExpression::Literal(false)
    );
    assert_eq!(
        step.timeout_minutes.as_ref().unwrap().value,
        OrExpression::Literal(3.0)
    );
}

#[test]
fn matrix_axes_include_exclude() {
    let body = "    runs-on: ${{ matrix.os }}
    strategy:
      fail-fast: false
      max-parallel: 2
      matrix:
        os: [ubuntu-latest, windows-latest]
        node: [18, 20.5, '22']
        flags: [{lto: true}, [a, b], null]
        exclude:
          - os: windows-latest
            node: 18
        include:
          - os: ubuntu-latest
            experimental: true
    steps:
      - run: make
";
    let workflow = load_ok(&one_job("push", body));
    let strategy = workflow.job("build").unwrap().strategy.clone().unwrap();
    assert_eq!(
        strategy.fail_fast.unwrap().value,
        OrExpression::Literal(false)
    );
    assert_eq!(
        strategy.max_parallel.unwrap().value,
        OrExpression::Literal(2)
    );

    let Some(Matrix::Axes(matrix)) = strategy.matrix else {
        panic!("not axes");
    };
    assert_eq!(
        matrix.axes.keys().collect::<Vec<_>>(),
        ["os", "node", "flags"]
    );
    let MatrixValues::List(node) = matrix.axes.get("node").unwrap() else {
        panic!("not a list");
    };
    let node_values: Vec<_> = node.iter().map(|d| d.value.clone()).collect();
    assert_eq!(node_values, [json!(18), json!(20.5), json!("22")]);
    assert_eq!(node[1].pos, Position::new(10, 20));
    let MatrixValues::List(flags) = matrix.axes.get("flags").unwrap() else {
        panic!("not a list");
    };
    let flag_values: Vec<_> = flags.iter().map(|d| d.value.clone()).collect();
    assert_eq!(
        flag_values,
        [json!({"lto": true}), json!(["a", "b"]), json!(null)]
    );

    let Some(MatrixRows::List(exclude)) = &matrix.exclude else {
        panic!("no exclude list");
    };
    assert_eq!(exclude.len(), 1);
    assert_eq!(exclude[0].values.get("node").unwrap().value, json!(18));
    assert_eq!(exclude[0].pos, Position::new(13, 13));
    let Some(MatrixRows::List(include)) = &matrix.include else {
        panic!("no include list");
    };
    assert_eq!(
        include[0].values.get("experimental").unwrap().value,
        json!(true)
    );
}

#[test]
fn matrix_expressions() {
    let body = "    runs-on: x
    strategy:
      matrix:
        package: ${{ fromJSON(needs.setup.outputs.packages) }}
        include: ${{ fromJSON(needs.setup.outputs.extra) }}
        exclude: ${{ fromJSON('[]') }}
    steps:
      - run: make
";
    let workflow = load_ok(&one_job("push", body));
    let Some(Matrix::Axes(matrix)) = workflow
        .job("build")
        .unwrap()
        .strategy
        .clone()
        .unwrap()
        .matrix
    else {
        panic!("not axes");
    };
    assert!(matches!(
        matrix.axes.get("package").unwrap(),
        MatrixValues::Expression(t) if t.value == "${{ fromJSON(needs.setup.outputs.packages) }}"
    ));
    assert!(matches!(&matrix.include, Some(MatrixRows::Expression(_))));
    assert!(matches!(&matrix.exclude, Some(MatrixRows::Expression(_))));

    let whole = one_job(
        "push",
        "    runs-on: x\n    strategy:\n      matrix: ${{ fromJSON(needs.a.outputs.m) }}\n    steps:\n      - run: make\n",
    );
    let whole_workflow = load_ok(&whole);
    let matrix = whole_workflow
        .job("build")
        .unwrap()
        .strategy
        .clone()
        .unwrap()
        .matrix;
    let Some(Matrix::Expression(template)) = matrix else {
        panic!("not an expression");
    };
    assert_eq!(template.value, "${{ fromJSON(needs.a.outputs.m) }}");
    assert_eq!(template.pos, Position::new(6, 15));
}

#[test]
fn container_and_services() {
    let body = "    runs-on: ubuntu-latest
    container:
      image: node:20
      credentials:
        username: bot
        password: ${{ secrets.PW }}
      env:
        NODE_ENV: test
      ports: [80, '8080:80']
      volumes: [/data]
      options: --cpus 1
    services:
      db:
        image: postgres:16
        ports:
          - 5432:5432
      cache: redis:7
    steps:
      - run: make
";
    let workflow = load_ok(&one_job("push", body));
    let job = workflow.job("build").unwrap();
    let container = job.container.as_ref().unwrap();
    assert_eq!(container.image.value, "node:20");
    assert_eq!(container.pos, Position::new(6, 7));
    let credentials = container.credentials.as_ref().unwrap();
    assert_eq!(credentials.username.value, "bot");
    assert_eq!(credentials.password.value, "${{ secrets.PW }}");
    assert_eq!(container.env.get("NODE_ENV").unwrap().value, "test");
    let ports: Vec<&str> = container.ports.iter().map(|p| p.value.as_str()).collect();
    assert_eq!(ports, ["80", "8080:80"]);
    assert_eq!(container.volumes[0].value, "/data");
    assert_eq!(container.options.as_ref().unwrap().value, "--cpus 1");

    assert_eq!(job.services.keys().collect::<Vec<_>>(), ["db", "cache"]);
    let db = job.services.get("db").unwrap();
    assert_eq!(db.image.value, "postgres:16");
    // 5432:5432 is a sexagesimal integer in YAML 1.1 but a string in 1.2.
    assert_eq!(db.ports[0].value, "5432:5432");
    assert_eq!(job.services.get("cache").unwrap().image.value, "redis:7");
}

#[test]
fn container_string_shorthand() {
    let body = "    runs-on: ubuntu-latest\n    container: alpine:3.20\n    environment:\n      name: prod\n      url: https://example.com/${{ github.sha }}\n    steps:\n      - run: make\n";
    let workflow = load_ok(&one_job("push", body));
    let job = workflow.job("build").unwrap();
    let container = job.container.as_ref().unwrap();
    assert_eq!(container.image.value, "alpine:3.20");
    assert_eq!(container.image.pos, Position::new(5, 16));
    assert!(container.credentials.is_none());
    let environment = job.environment.as_ref().unwrap();
    assert_eq!(environment.name.value, "prod");
    assert_eq!(
        environment.url.as_ref().unwrap().value,
        "https://example.com/${{ github.sha }}"
    );
}

#[test]
fn steps_run_and_uses() {
    let body = "    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
          token: ${{ secrets.TOKEN }}
      - id: build
        name: Build it
        if: success()
        run: |
          make
          make install
        shell: bash -e {0}
        working-directory: src
        env:
          CC: clang
      - uses: ./local/action
      - uses: docker://alpine:3
      - uses: owner/repo/path/to/action@0123abc
";
    let workflow = load_ok(&one_job("push", body));
    let steps = workflow.job("build").unwrap().steps();
    assert_eq!(steps.len(), 5);

    let StepAction::Uses { uses, with } = &steps[0].action else {
        panic!("not uses");
    };
    assert_eq!(uses.value, "actions/checkout@v4");
    assert_eq!(uses.pos, Position::new(6, 15));
    assert_eq!(with.get("fetch-depth").unwrap().value, "0");
    assert_eq!(with.get("token").unwrap().value, "${{ secrets.TOKEN }}");
    assert_eq!(steps[0].index, 0);
    assert_eq!(steps[0].pos, Position::new(6, 9));

    let build = &steps[1];
    assert_eq!(build.index, 1);
    assert_eq!(build.id.as_ref().unwrap().value, "build");
    assert_eq!(build.name.as_ref().unwrap().value, "Build it");
    assert_eq!(build.condition.as_ref().unwrap().raw, "success()");
    assert_eq!(build.env.get("CC").unwrap().value, "clang");
    let StepAction::Run {
        run,
        shell,
        working_directory,
    } = &build.action
    else {
        panic!("not run");
    };
    assert_eq!(run.value, "make\nmake install\n");
    assert_eq!(shell.as_ref().unwrap().value, "bash -e {0}");
    assert_eq!(working_directory.as_ref().unwrap().value, "src");

    for (index, expected) in [
        (2, "./local/action"),
        (3, "docker://alpine:3"),
        (4, "owner/repo/path/to/action@0123abc"),
    ] {
        let StepAction::Uses { uses, .. } = &steps[index].action else {
            panic!("not uses");
        };
        assert_eq!(uses.value, expected);
    }
}

#[test]
fn reusable_workflow_job() {
    let text = "on: push
jobs:
  call:
    uses: octo/repo/.github/workflows/build.yml@v1
    needs: []
    with:
      level: 3
      name: ${{ github.ref }}
    secrets: inherit
  named:
    uses: ./.github/workflows/b.yaml
    secrets:
      token: ${{ secrets.T }}
";
    let workflow = load_ok(text);
    let call = workflow.job("call").unwrap();
    assert!(call.runs_on.is_none());
    assert!(call.steps().is_empty());
    let JobKind::Call(call_job) = &call.kind else {
        panic!("not a call");
    };
    assert_eq!(
        call_job.uses.value,
        "octo/repo/.github/workflows/build.yml@v1"
    );
    assert_eq!(call_job.with.get("level").unwrap().value, "3");
    assert_eq!(
        call_job.secrets,
        Some(CallSecrets::Inherit(Position::new(9, 14)))
    );

    let JobKind::Call(named) = &workflow.job("named").unwrap().kind else {
        panic!("not a call");
    };
    let Some(CallSecrets::Map(secrets)) = &named.secrets else {
        panic!("not a map");
    };
    assert_eq!(secrets.get("token").unwrap().value, "${{ secrets.T }}");
}

#[test]
fn numbers_convert_like_github_with_warning() {
    let text = one_job(
        "push",
        "    runs-on: x\n    env:\n      V: 3.10\n      HEX: 0x1F\n      E: 1e3\n      KEEP: '3.10'\n    steps:\n      - run: make\n",
    );
    let loaded = load(&text);
    let env = &loaded.workflow.job("build").unwrap().env;
    let v = env.get("V").unwrap();
    assert_eq!(v.value, "3.1");
    assert_eq!(v.source, "3.10");
    assert_eq!(env.get("HEX").unwrap().value, "31");
    assert_eq!(env.get("E").unwrap().value, "1000");
    assert_eq!(env.get("KEEP").unwrap().value, "3.10");

    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "ci.yml:6:10: warning: env \"V\" in job \"build\" is the number 3.1, not the text \"3.10\"; quote it to keep the text",
            "ci.yml:7:12: warning: env \"HEX\" in job \"build\" is the number 31, not the text \"0x1F\"; quote it to keep the text",
            "ci.yml:8:10: warning: env \"E\" in job \"build\" is the number 1000, not the text \"1e3\"; quote it to keep the text",
        ]
    );
}

#[test]
fn if_boolean_is_kept_as_text() {
    let body =
        "    runs-on: x\n    if: false\n    steps:\n      - run: make\n        if: ${{ true }}\n";
    let workflow = load_ok(&one_job("push", body));
    let job = workflow.job("build").unwrap();
    assert_eq!(job.condition.as_ref().unwrap().raw, "false");
    assert_eq!(
        job.steps()[0].condition.as_ref().unwrap().raw,
        "${{ true }}"
    );
}

#[test]
fn aliases_copy_anchored_values() {
    let text = "on: push
env: &shared
  A: '1'
jobs:
  one:
    runs-on: x
    env: *shared
    steps:
      - &step
        run: make
  two:
    runs-on: x
    steps:
      - *step
";
    let workflow = load_ok(text);
    assert_eq!(
        workflow.job("one").unwrap().env.get("A").unwrap().value,
        "1"
    );
    let StepAction::Run { run, .. } = &workflow.job("two").unwrap().steps()[0].action else {
        panic!("not run");
    };
    assert_eq!(run.value, "make");
}

#[test]
fn template_helpers() {
    let workflow = load_ok(&one_job("push", STEPS));
    let StepAction::Run { run, .. } = &workflow.job("build").unwrap().steps()[0].action else {
        panic!("not run");
    };
    assert!(!run.has_expressions());
    assert_eq!(run.as_literal(), Some("make"));
    assert_eq!(run.to_string(), "make");
}

#[test]
fn large_numbers_print_like_github() {
    let text = one_job(
        "push",
        "    runs-on: x\n    env:\n      BIG: '1e20'\n      HUGE: 1e20\n      LONG: 12345678901234567\n      SMALL: 0.000001\n    steps:\n      - run: make\n",
    );
    let loaded = load(&text);
    let env = &loaded.workflow.job("build").unwrap().env;
    assert_eq!(env.get("BIG").unwrap().value, "1e20");
    assert_eq!(env.get("HUGE").unwrap().value, "1E+20");
    assert_eq!(env.get("LONG").unwrap().value, "1.23456789012346E+16");
    assert_eq!(env.get("SMALL").unwrap().value, "1E-06");
    assert_eq!(loaded.warnings.len(), 3);
}
