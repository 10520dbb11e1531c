//! The job graph: which jobs wait for which, from `needs:`.
//!
//! Every job may list other jobs of the same workflow under `needs`, and
//! starts only after all of them finish. The jobs and their needs form a
//! directed graph that must be acyclic and may only name existing jobs.
//! [`JobGraph::new`] checks both and computes a topological order that is
//! stable: among the jobs whose needs are met, the one written first in
//! the file comes first. [`JobGraph::ready`] lists what can start once a
//! set of jobs has finished.

use std::collections::{BTreeSet, HashMap, HashSet};

/// Errors in the `needs` of a workflow's jobs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("job {job:?} is defined more than once; job ids must be unique in a workflow")]
    DuplicateJob { job: String },

    #[error("job {job:?} needs {need:?}, which does not exist (jobs: {known})")]
    UnknownNeed {
        job: String,
        need: String,
        known: String,
    },

    #[error("jobs form a cycle: {}", cycle.join(" -> "))]
    Cycle {
        /// The jobs on the cycle, starting and ending with the same job.
        cycle: Vec<String>,
    },
}

/// Jobs of one workflow and the dependencies between them.
#[derive(Debug, Clone)]
pub struct JobGraph {
    ids: Vec<String>,
    /// `needs[i]` lists the indices job `i` needs, in written order
    /// without duplicates.
    needs: Vec<Vec<usize>>,
    order: Vec<usize>,
}

impl JobGraph {
    /// Builds the graph from `(job id, needs)` pairs in file order.
    pub fn new<I, S>(jobs: I) -> Result<Self, GraphError>
    where
        I: IntoIterator<Item = (S, Vec<S>)>,
        S: AsRef<str>,
    {
        let jobs: Vec<(String, Vec<String>)> = jobs
            .into_iter()
            .map(|(id, needs)| {
                let needs = needs.iter().map(|need| need.as_ref().to_string()).collect();
                (id.as_ref().to_string(), needs)
            })
            .collect();

        let mut index_of = HashMap::new();
        for (index, (id, _)) in jobs.iter().enumerate() {
            if index_of.insert(id.clone(), index).is_some() {
                return Err(GraphError::DuplicateJob { job: id.clone() });
            }
        }

        let mut needs = Vec::with_capacity(jobs.len());
        for (id, job_needs) in &jobs {
            let mut resolved: Vec<usize> = Vec::new();
            for need in job_needs {
                let Some(&target) = index_of.get(need) else {
                    let known: Vec<&str> = jobs.iter().map(|(id, _)| id.as_str()).collect();
                    return Err(GraphError::UnknownNeed {
                        job: id.clone(),
                        need: need.clone(),
                        known: known.join(", "),
                    });
                };
                if !resolved.contains(&target) {
                    resolved.push(target);
                }
            }
            needs.push(resolved);
        }

        let ids = jobs.into_iter().map(|(id, _)| id).collect();
        let mut graph = Self {
            ids,
            needs,
            order: Vec::new(),
        };
        graph.order = graph.stable_topological_order()?;
        Ok(graph)
    }

    /// Kahn's algorithm, always taking the earliest job in file order
    /// among those whose needs are met.
    fn stable_topological_order(&self) -> Result<Vec<usize>, GraphError> {
        let count = self.ids.len();
        let mut waiting_on: Vec<usize> = self.needs.iter().map(Vec::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (job, needs) in self.needs.iter().enumerate() {
            for &need in needs {
                dependents[need].push(job);
            }
        }

        let mut available: BTreeSet<usize> =
            (0..count).filter(|&job| waiting_on[job] == 0).collect();
        let mut order = Vec::with_capacity(count);
        while let Some(job) = available.pop_first() {
            order.push(job);
            for &dependent in &dependents[job] {
                waiting_on[dependent] -= 1;
                if waiting_on[dependent] == 0 {
                    available.insert(dependent);
                }
            }
        }
        if order.len() < count {
            return Err(GraphError::Cycle {
                cycle: self.find_cycle(),
            });
        }
        Ok(order)
    }

    /// Finds one cycle by depth-first search from the jobs in file order.
    /// Called only when a cycle exists.
    fn find_cycle(&self) -> Vec<String> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        let mut marks = vec![Mark::New; self.ids.len()];
        for start in 0..self.ids.len() {
            if marks[start] != Mark::New {
                continue;
            }
            // Each stack frame is a job and the position of the next need
            // to visit.
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            marks[start] = Mark::OnPath;
            while let Some(&mut (job, ref mut next)) = stack.last_mut() {
                let Some(&need) = self.needs[job].get(*next) else {
                    marks[job] = Mark::Done;
                    stack.pop();
                    continue;
                };
                *next += 1;
                match marks[need] {
                    Mark::New => {
                        marks[need] = Mark::OnPath;
                        stack.push((need, 0));
                    }
                    Mark::OnPath => return self.cycle_from_stack(&stack, need),
                    Mark::Done => {}
                }
            }
        }
        Vec::new()
    }

    /// Turns the search path into `a -> b -> ... -> a`, in the direction
    /// of `needs`: each job needs the one after it.
    fn cycle_from_stack(&self, stack: &[(usize, usize)], repeated: usize) -> Vec<String> {
        let start = stack
            .iter()
            .position(|(job, _)| *job == repeated)
            .expect("a job marked on the path is on the stack");
        let mut cycle: Vec<String> = stack[start..]
            .iter()
            .map(|(job, _)| self.ids[*job].clone())
            .collect();
        cycle.push(self.ids[repeated].clone());
        cycle
    }

    /// Returns the job ids in file order.
    pub fn job_ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }

    /// Returns the job ids in dependency order: every job after the jobs
    /// it needs, otherwise in file order.
    pub fn topological_order(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(|&job| self.ids[job].as_str())
    }

    /// Returns the ids `job` needs directly, or `None` for an unknown job.
    pub fn needs(&self, job: &str) -> Option<Vec<&str>> {
        let index = self.index(job)?;
        Some(
            self.needs[index]
                .iter()
                .map(|&need| self.ids[need].as_str())
                .collect(),
        )
    }

    /// Returns `jobs` together with everything they need, directly or
    /// through other jobs, in dependency order. Unknown ids are ignored.
    pub fn with_dependencies<S: AsRef<str>>(&self, jobs: &[S]) -> Vec<&str> {
        let mut selected = vec![false; self.ids.len()];
        let mut pending: Vec<usize> = jobs
            .iter()
            .filter_map(|job| self.index(job.as_ref()))
            .collect();
        while let Some(job) = pending.pop() {
            if selected[job] {
                continue;
            }
            selected[job] = true;
            pending.extend(&self.needs[job]);
        }
        self.order
            .iter()
            .filter(|&&job| selected[job])
            .map(|&job| self.ids[job].as_str())
            .collect()
    }

    /// Lists the jobs that can start now: not yet finished, and every job
    /// they need has finished. The caller removes jobs already running.
    /// The result is in dependency order.
    pub fn ready(&self, finished: &HashSet<&str>) -> Vec<&str> {
        self.order
            .iter()
            .filter(|&&job| !finished.contains(self.ids[job].as_str()))
            .filter(|&&job| {
                self.needs[job]
                    .iter()
                    .all(|&need| finished.contains(self.ids[need].as_str()))
            })
            .map(|&job| self.ids[job].as_str())
            .collect()
    }

    fn index(&self, job: &str) -> Option<usize> {
        self.ids.iter().position(|id| id == job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(jobs: &[(&str, &[&str])]) -> Result<JobGraph, GraphError> {
        JobGraph::new(jobs.iter().map(|(id, needs)| (*id, needs.to_vec())))
    }

    #[test]
    fn order_follows_needs_then_file_order() {
        let graph = graph(&[
            ("deploy", &["build", "test"]),
            ("lint", &[]),
            ("test", &["build"]),
            ("build", &[]),
            ("docs", &[]),
        ])
        .unwrap();
        let order: Vec<&str> = graph.topological_order().collect();
        assert_eq!(order, ["lint", "build", "test", "deploy", "docs"]);
    }

    #[test]
    fn file_order_without_needs() {
        let graph = graph(&[("c", &[]), ("a", &[]), ("b", &[])]).unwrap();
        let order: Vec<&str> = graph.topological_order().collect();
        assert_eq!(order, ["c", "a", "b"]);
        let ids: Vec<&str> = graph.job_ids().collect();
        assert_eq!(ids, ["c", "a", "b"]);
    }

    #[test]
    fn unknown_need_names_both_jobs() {
        let error = graph(&[("build", &[]), ("deploy", &["buidl"])]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "job \"deploy\" needs \"buidl\", which does not exist (jobs: build, deploy)"
        );
    }

    #[test]
    fn cycle_names_the_path() {
        let error = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]).unwrap_err();
        assert_eq!(error.to_string(), "jobs form a cycle: a -> b -> c -> a");
    }

    #[test]
    fn cycle_behind_other_jobs() {
        let error = graph(&[
            ("start", &[]),
            ("x", &["start", "y"]),
            ("y", &["z"]),
            ("z", &["y"]),
        ])
        .unwrap_err();
        assert_eq!(
            error,
            GraphError::Cycle {
                cycle: vec!["y".to_string(), "z".to_string(), "y".to_string()]
            }
        );
    }

    #[test]
    fn self_need_is_a_cycle() {
        let error = graph(&[("a", &["a"])]).unwrap_err();
        assert_eq!(error.to_string(), "jobs form a cycle: a -> a");
    }

    #[test]
    fn duplicate_job_is_an_error() {
        let error = graph(&[("a", &[]), ("a", &[])]).unwrap_err();
        assert_eq!(
            error,
            GraphError::DuplicateJob {
                job: "a".to_string()
            }
        );
    }

    #[test]
    fn duplicate_needs_are_merged() {
        let graph = graph(&[("a", &[]), ("b", &["a", "a"])]).unwrap();
        assert_eq!(graph.needs("b"), Some(vec!["a"]));
        assert_eq!(graph.needs("missing"), None);
    }

    #[test]
    fn ready_jobs_follow_finished_ones() {
        let graph = graph(&[
            ("build", &[]),
            ("lint", &[]),
            ("test", &["build"]),
            ("deploy", &["test", "lint"]),
        ])
        .unwrap();
        let mut finished = HashSet::new();
        assert_eq!(graph.ready(&finished), ["build", "lint"]);
        finished.insert("build");
        assert_eq!(graph.ready(&finished), ["lint", "test"]);
        finished.insert("test");
        assert_eq!(graph.ready(&finished), ["lint"]);
        finished.insert("lint");
        assert_eq!(graph.ready(&finished), ["deploy"]);
        finished.insert("deploy");
        assert!(graph.ready(&finished).is_empty());
    }

    #[test]
    fn dependencies_of_selection() {
        let graph = graph(&[
            ("build", &[]),
            ("lint", &[]),
            ("test", &["build"]),
            ("deploy", &["test"]),
        ])
        .unwrap();
        assert_eq!(
            graph.with_dependencies(&["deploy"]),
            ["build", "test", "deploy"]
        );
        assert_eq!(graph.with_dependencies(&["lint", "nope"]), ["lint"]);
    }

    #[test]
    fn long_chain_has_no_recursion_limit() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("j{i}")).collect();
        let jobs = ids.iter().enumerate().map(|(i, id)| {
            let needs = if i == 0 {
                vec![]
            } else {
                vec![ids[i - 1].as_str()]
            };
            (id.as_str(), needs)
        });
        let graph = JobGraph::new(jobs).unwrap();
        assert_eq!(graph.topological_order().last(), Some("j19999"));

        let cyclic = ids.iter().enumerate().map(|(i, id)| {
            let previous = if i == 0 { ids.len() - 1 } else { i - 1 };
            (id.as_str(), vec![ids[previous].as_str()])
        });
        let error = JobGraph::new(cyclic).unwrap_err();
        let GraphError::Cycle { cycle } = error else {
            panic!("expected a cycle, got {error}");
        };
        assert_eq!(cycle.len(), 20_001);
    }
}
