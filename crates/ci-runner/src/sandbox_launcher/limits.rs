//! The limits of sandboxed steps: which of them this host enforces, and
//! how results record them.

use std::time::Duration;

use ci_sandbox::{CgroupSupport, Enforcement, HostSupport, LimitKind, Limits};
use serde_json::{Map, Value, json};

/// Returns the name of a limit in results and warnings.
pub(super) fn limit_name(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::WallTime => "wall_time",
        LimitKind::Pids => "pids",
        LimitKind::OpenFiles => "open_files",
        LimitKind::TmpSize => "tmp_size",
        LimitKind::Memory => "memory",
        LimitKind::Cpu => "cpu",
    }
}

/// Predicts which of `limits` a sandbox on this host enforces, with the
/// same rules as the sandbox. Wall time, open files and /tmp size are
/// always enforced. Pids, memory and CPU need a cgroup controller, and
/// pids fall back to RLIMIT_NPROC where the kernel applies it.
pub(super) fn predict_enforcement(limits: &Limits, support: &HostSupport) -> Enforcement {
    let mut enforcement = Enforcement::default();
    let fixed = [
        (
            LimitKind::WallTime,
            limits.wall_time.is_some(),
            "pid 1 timer",
        ),
        (
            LimitKind::TmpSize,
            limits.tmp_size_bytes.is_some(),
            "tmpfs size",
        ),
        (
            LimitKind::OpenFiles,
            limits.open_files.is_some(),
            "RLIMIT_NOFILE",
        ),
    ];
    for (kind, requested, how) in fixed {
        if requested {
            enforcement.enforced.push((kind, how.to_string()));
        }
    }

    let by_cgroup = [
        (LimitKind::Pids, limits.pids.is_some(), "pids"),
        (LimitKind::Memory, limits.memory_bytes.is_some(), "memory"),
        (LimitKind::Cpu, limits.cpu_quota.is_some(), "cpu"),
    ];
    for (kind, requested, controller) in by_cgroup {
        if !requested {
            continue;
        }
        let (available, reason, how) = match &support.cgroups {
            CgroupSupport::V1Root { controllers } => (
                controllers.iter().any(|c| c == controller),
                "the cgroup v1 controller is not mounted".to_string(),
                "cgroup v1",
            ),
            CgroupSupport::V2Delegated { controllers, .. } => (
                controllers.iter().any(|c| c == controller),
                "the cgroup v2 controller is not delegated".to_string(),
                "cgroup v2",
            ),
            CgroupSupport::Unavailable { reason } => (false, reason.clone(), ""),
        };
        if available {
            enforcement.enforced.push((kind, how.to_string()));
        } else if kind == LimitKind::Pids && support.rlimit_nproc {
            enforcement
                .enforced
                .push((kind, "RLIMIT_NPROC".to_string()));
        } else {
            enforcement.not_enforced.push((kind, reason));
        }
    }
    enforcement
}

/// Returns the key of a limit in the `limits` object of a result, with
/// its unit.
fn limit_key(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::WallTime => "wall_time_secs",
        LimitKind::Pids => "pids",
        LimitKind::OpenFiles => "open_files",
        LimitKind::TmpSize => "tmp_size_bytes",
        LimitKind::Memory => "memory_bytes",
        LimitKind::Cpu => "cpus",
    }
}

/// Builds the `limits` object of a result: each limit in force with its
/// value, `timeout` standing for the wall time.
pub(super) fn limits_record(
    limits: &Limits,
    enforcement: &Enforcement,
    timeout: Option<Duration>,
) -> Value {
    let mut record = Map::new();
    for (kind, _) in &enforcement.enforced {
        let value = match kind {
            LimitKind::WallTime => timeout.map(|t| json!(t.as_secs_f64())),
            LimitKind::Pids => limits.pids.map(|v| json!(v)),
            LimitKind::OpenFiles => limits.open_files.map(|v| json!(v)),
            LimitKind::TmpSize => limits.tmp_size_bytes.map(|v| json!(v)),
            LimitKind::Memory => limits.memory_bytes.map(|v| json!(v)),
            LimitKind::Cpu => limits.cpu_quota.map(|v| json!(v)),
        };
        if let Some(value) = value {
            record.insert(limit_key(*kind).to_string(), value);
        }
    }
    Value::Object(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox_launcher::settings::fixtures::{settings, support};

    #[test]
    fn enforcement_follows_cgroup_support() {
        let limits = settings(support(
            CgroupSupport::Unavailable { reason: "r".into() },
            true,
        ))
        .limits;
        let v1 = CgroupSupport::V1Root {
            controllers: vec!["pids".into(), "memory".into()],
        };
        let enforcement = predict_enforcement(&limits, &support(v1, false));
        assert!(enforcement.is_enforced(LimitKind::Memory));
        assert!(enforcement.is_enforced(LimitKind::Pids));
        let missing: Vec<_> = enforcement.not_enforced.iter().map(|(k, _)| *k).collect();
        assert_eq!(missing, vec![LimitKind::Cpu]);

        let none = CgroupSupport::Unavailable {
            reason: "no cgroup".into(),
        };
        let enforcement = predict_enforcement(&limits, &support(none.clone(), true));
        assert!(enforcement.is_enforced(LimitKind::Pids));
        let missing: Vec<_> = enforcement.not_enforced.iter().map(|(k, _)| *k).collect();
        assert_eq!(missing, vec![LimitKind::Memory, LimitKind::Cpu]);

        let enforcement = predict_enforcement(&limits, &support(none, false));
        let missing: Vec<_> = enforcement.not_enforced.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            missing,
            vec![LimitKind::Pids, LimitKind::Memory, LimitKind::Cpu]
        );
    }
}
