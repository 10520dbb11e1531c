//! Benchmarks of the planning path: a generated 200-job workflow from YAML
//! text to a plan, and a typical `if:` condition.
//!
//! Run with `cargo bench -p ci-workflow --bench plan`. Results are recorded
//! in docs/BENCHMARKS.md.

use std::fmt::Write;
use std::hint::black_box;

use ci_workflow::expr::{Condition, Context, evaluate_condition};
use ci_workflow::load::load_workflow_str;
use ci_workflow::plan::{Legs, Selection, plan};
use ci_workflow::trigger::Event;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

const JOB_COUNT: usize = 200;

const CONDITION: &str = "github.event_name == 'push' && contains(github.ref, 'refs/heads/main') \
                         && matrix.os != 'windows'";

/// Generates a workflow of `JOB_COUNT` jobs. Job `i` needs job `i - 1` and
/// job `i / 2`, every tenth job has a 2 × 3 matrix, and each job has three
/// steps with `if:`, `env` and `with`.
fn generated_workflow() -> String {
    let mut yaml = String::from(
        "name: generated\non:\n  push:\n    branches: [main, 'releases/**']\n    paths-ignore: ['docs/**']\n  pull_request:\njobs:\n",
    );
    for index in 0..JOB_COUNT {
        writeln!(yaml, "  job{index:03}:").unwrap();
        writeln!(yaml, "    name: Job {index}").unwrap();
        if index > 0 {
            let half = index / 2;
            let previous = index - 1;
            if half == previous {
                writeln!(yaml, "    needs: [job{previous:03}]").unwrap();
            } else {
                writeln!(yaml, "    needs: [job{previous:03}, job{half:03}]").unwrap();
            }
        }
        yaml.push_str("    runs-on: ${{ matrix.os || 'ubuntu-latest' }}\n");
        if index % 10 == 0 {
            yaml.push_str(
                "    strategy:\n      matrix:\n        os: [ubuntu-latest, macos-latest]\n        rust: [1.80, stable, nightly]\n",
            );
        }
        yaml.push_str("    env:\n      CARGO_TERM_COLOR: always\n    steps:\n");
        yaml.push_str(
            "      - uses: actions/checkout@v4\n        with:\n          fetch-depth: 0\n",
        );
        writeln!(
            yaml,
            "      - name: build\n        if: github.event_name == 'push' && matrix.os != 'windows'\n        run: cargo build --package p{index}"
        )
        .unwrap();
        yaml.push_str(
            "      - name: test\n        if: ${{ success() && !cancelled() }}\n        env:\n          RUST_LOG: debug\n        run: cargo test\n",
        );
    }
    yaml
}

fn bench_workflow(c: &mut Criterion) {
    let text = generated_workflow();
    let event = Event::push("refs/heads/main").with_changed_paths(&["src/lib.rs"]);
    let selection = Selection::default();

    let workflow = load_workflow_str(".github/workflows/generated.yml", &text)
        .expect("the generated workflow loads")
        .workflow;
    let workflows = vec![workflow];
    let planned = plan(&workflows, &event, &selection).expect("the generated workflow plans");
    assert_eq!(planned.jobs().count(), JOB_COUNT);
    let leg_count: usize = planned
        .jobs()
        .map(|job| match &job.legs {
            Legs::Expanded(legs) => legs.len(),
            Legs::Deferred(_) => 0,
        })
        .sum();
    assert_eq!(leg_count, 300);

    c.bench_function("load 200-job workflow", |b| {
        b.iter(|| load_workflow_str(".github/workflows/generated.yml", black_box(&text)))
    });
    c.bench_function("plan 200-job workflow", |b| {
        b.iter(|| plan(black_box(&workflows), &event, &selection))
    });
    c.bench_function("load and plan 200-job workflow", |b| {
        b.iter(|| {
            let loaded = load_workflow_str(".github/workflows/generated.yml", black_box(&text))
                .expect("the generated workflow loads");
            plan(&[loaded.workflow], &event, &selection)
        })
    });
}

fn bench_condition(c: &mut Criterion) {
    let context = Context::new()
        .with(
            "github",
            json!({"event_name": "push", "ref": "refs/heads/main"}),
        )
        .with("matrix", json!({"os": "ubuntu-latest"}));
    assert_eq!(evaluate_condition(CONDITION, &context), Ok(true));
    let parsed = Condition::parse(CONDITION).expect("the condition parses");

    c.bench_function("if condition: parse and evaluate", |b| {
        b.iter(|| evaluate_condition(black_box(CONDITION), &context))
    });
    c.bench_function("if condition: evaluate parsed", |b| {
        b.iter(|| black_box(&parsed).evaluate(&context))
    });
}

criterion_group!(benches, bench_workflow, bench_condition);
criterion_main!(benches);
