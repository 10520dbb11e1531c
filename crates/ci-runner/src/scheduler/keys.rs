//! Result keys: the names under which the store keeps each job's result.
//!
//! The planner gives every leg a key that is unique in the plan
//! (`ci.yml/test/ubuntu-1.8`). The result store uses the one-segment keys
//! that `docs/RESULT_FORMAT.md` documents instead: `<workflow file
//! stem>.<job id>`, plus `.<N>` for the N-th leg of a matrix job
//! (`ci.test.2`), built by [`ci_store::job_key`]. Two workflows can map
//! onto the same store key, such as `ci.yml` and `ci.yaml`, or names that
//! differ only in characters the store replaces. [`check_unique`] rejects
//! such a plan before any job runs, because the store rejects a duplicate
//! key only when it writes the results, after the run.

use std::collections::HashMap;

use ci_workflow::matrix::MAX_COMBINATIONS;
use ci_workflow::plan::{JobPlan, Leg, Legs};

use super::SelectedWorkflow;

/// Two jobs of a run whose results would share one store key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "job `{first_job}` of {first_workflow} and job `{second_job}` of {second_workflow} would \
     both store their results as `{key}`; rename one of the workflow files or jobs"
)]
pub struct KeyCollision {
    pub key: String,
    pub first_workflow: String,
    pub first_job: String,
    pub second_workflow: String,
    pub second_job: String,
}

/// Returns the store key of `leg` of `job`, or of the whole job when `leg`
/// is `None` (a job that was skipped or failed before its legs existed).
pub fn store_key(workflow_path: &str, job: &JobPlan, leg: Option<&Leg>) -> String {
    let number = leg.and_then(|leg| leg.matrix.as_ref().map(|_| leg.index + 1));
    ci_store::job_key(workflow_path, &job.id, number)
}

/// Checks that no two jobs of the run can produce the same store key.
///
/// A deferred matrix is not expanded yet, so every key it could produce is
/// checked: one per leg up to the matrix limit of [`MAX_COMBINATIONS`].
pub fn check_unique(workflows: &[SelectedWorkflow]) -> Result<(), KeyCollision> {
    let mut owners: HashMap<String, (&str, &str)> = HashMap::new();
    for selected in workflows {
        let path = selected.info.path.as_str();
        for job in &selected.plan.jobs {
            for key in possible_keys(path, job) {
                let owner = (path, job.id.as_str());
                match owners.get(&key) {
                    Some(&other) if other != owner => {
                        return Err(KeyCollision {
                            key,
                            first_workflow: other.0.to_string(),
                            first_job: other.1.to_string(),
                            second_workflow: path.to_string(),
                            second_job: job.id.clone(),
                        });
                    }
                    Some(_) => {}
                    None => {
                        owners.insert(key, owner);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Lists every store key that `job` may write.
fn possible_keys(path: &str, job: &JobPlan) -> Vec<String> {
    let mut keys = vec![store_key(path, job, None)];
    match &job.legs {
        Legs::Expanded(legs) => {
            keys.extend(legs.iter().map(|leg| store_key(path, job, Some(leg))));
        }
        Legs::Deferred(_) => {
            let numbers = 1..=MAX_COMBINATIONS;
            keys.extend(numbers.map(|n| ci_store::job_key(path, &job.id, Some(n))));
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ci_workflow::load::load_workflow_str;
    use ci_workflow::plan::{Selection, plan};
    use ci_workflow::trigger::Event;
    use serde_json::json;

    use super::*;
    use crate::executor::contexts::WorkflowInfo;

    const BUILD: &str = "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    \
                         steps:\n      - run: 'true'\n";

    const MATRIX: &str = "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    \
                          strategy:\n      matrix:\n        n: [1, 2]\n    \
                          steps:\n      - run: 'true'\n";

    fn selected(files: &[(&str, &str)]) -> Vec<SelectedWorkflow> {
        let workflows: Vec<_> = files
            .iter()
            .map(|(path, text)| load_workflow_str(path, text).unwrap().workflow)
            .collect();
        let planned = plan(
            &workflows,
            &Event::push("refs/heads/main"),
            &Selection::default(),
        )
        .unwrap();
        planned
            .workflows
            .into_iter()
            .zip(workflows)
            .map(|(plan, workflow)| SelectedWorkflow {
                info: WorkflowInfo {
                    name: plan.name.clone(),
                    path: plan.path.clone(),
                    inputs: json!({}),
                },
                workflow: Arc::new(workflow),
                plan,
            })
            .collect()
    }

    #[test]
    fn matrix_legs_are_numbered() {
        let workflows = selected(&[(".github/workflows/ci.yml", MATRIX)]);
        let job = &workflows[0].plan.jobs[0];
        let Legs::Expanded(legs) = &job.legs else {
            panic!("literal matrix");
        };
        let path = ".github/workflows/ci.yml";
        assert_eq!(store_key(path, job, Some(&legs[0])), "ci.test.1");
        assert_eq!(store_key(path, job, Some(&legs[1])), "ci.test.2");
        assert_eq!(store_key(path, job, None), "ci.test");
    }

    #[test]
    fn distinct_workflows_pass() {
        let workflows = selected(&[
            (".github/workflows/ci.yml", BUILD),
            (".github/workflows/lint.yml", BUILD),
        ]);
        assert_eq!(check_unique(&workflows), Ok(()));
    }

    #[test]
    fn same_stem_collides() {
        let workflows = selected(&[
            (".github/workflows/ci.yaml", BUILD),
            (".github/workflows/ci.yml", BUILD),
        ]);
        let error = check_unique(&workflows).unwrap_err();
        assert_eq!(error.key, "ci.build");
        assert_eq!(
            error.to_string(),
            "job `build` of .github/workflows/ci.yaml and job `build` of \
             .github/workflows/ci.yml would both store their results as `ci.build`; rename one \
             of the workflow files or jobs"
        );
    }

    #[test]
    fn replaced_characters_collide() {
        let workflows = selected(&[
            (".github/workflows/my flow.yml", MATRIX),
            (".github/workflows/my_flow.yml", MATRIX),
        ]);
        let error = check_unique(&workflows).unwrap_err();
        assert_eq!(error.key, "my_flow.test");
    }

    #[test]
    fn deferred_legs_collide() {
        let deferred = "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    \
                        strategy:\n      matrix:\n        n: ['${{ github.sha }}']\n    \
                        steps:\n      - run: 'true'\n";
        let workflows = selected(&[
            (".github/workflows/ci.yml", deferred),
            (".github/workflows/ci.yaml", MATRIX),
        ]);
        let error = check_unique(&workflows).unwrap_err();
        assert_eq!(error.key, "ci.test");
        assert_eq!(error.first_workflow, ".github/workflows/ci.yml");
    }
}
