//! Seccomp system call filters, loaded from policy files.
//!
//! A seccomp filter is a small classic-BPF program that the kernel runs on
//! every system call of a process. It sees the call's number, the
//! architecture and the six raw arguments (never the memory they point
//! to), and returns an action: allow, fail with an errno, or kill. A
//! process may stack several filters, and the kernel applies the most
//! restrictive answer. Filters survive `fork` and `execve` and can never be
//! removed, which is why the sandbox installs them last, just before it
//! executes the job's command.
//!
//! # Policy files
//!
//! A policy is a JSON file in the format of the `seccompiler` crate
//! (version 0.5): an object that maps a filter name to a filter with a
//! `mismatch_action`, a `match_action` and a list of rules, each rule
//! naming a system call and, optionally, conditions on its arguments.
//! Argument conditions of type `dword` compare the low 32 bits only, which
//! is what the kernel uses for 32-bit parameters such as the request of
//! `ioctl`.
//!
//! `seccompiler` compiles a whole file for one architecture, but system
//! call names and numbers differ between architectures. This module
//! therefore prefixes every filter name with its architecture
//! (`x86_64.deny`, `aarch64.enosys`) and compiles only the filters of the
//! architecture it targets, so a name that exists on one architecture only
//! (`iopl` on x86_64) does not break the other.
//!
//! The built-in policies `default` and `strict` live in `policies/` at the
//! root of the repository and are embedded in the binary, so an installed
//! `htci` needs no data directory. `docs/SECCOMP.md` explains every choice.
//!
//! # Guard filter
//!
//! Besides the policy's own filters, [`CompiledPolicy`] always carries a
//! guard filter built here, because a deny list cannot name what its
//! syscall table does not know:
//!
//! - On x86_64, system call numbers with bit 30 set select the x32 ABI,
//!   which reaches the same kernel code under numbers that no rule names.
//!   The guard fails them with `EPERM`.
//! - System calls newer than `seccompiler`'s table (Linux 6.12) fail with
//!   `ENOSYS`, as on an older kernel. `open_tree_attr` (Linux 6.15) is such
//!   a mount call. Programs treat `ENOSYS` as "not implemented" and fall
//!   back to older calls.
//!
//! Every filter also kills the process when the architecture of the call
//! does not match, so 32-bit calls through `int 0x80` on x86_64 cannot
//! bypass the rules.
//!
//! # Use
//!
//! [`load_policy`] compiles the policy to BPF before any fork. The
//! built-in policies are compiled once, by the crate's build script, and
//! embedded as BPF ([`precompiled_policy`]), so a sandbox start only
//! compiles a policy file given by path. Each compiled filter gets a
//! binary search on the system call number in front (see `dispatch`),
//! which makes it faster to install and to run. [`apply`] installs the
//! compiled filters without allocating, so the sandbox can call it in the
//! child between `fork` and `execve`.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use seccompiler::{BpfProgram, TargetArch, sock_filter};
use serde::{Deserialize, Serialize};

mod dispatch;

/// The `default` policy: Docker's default deny list and more.
pub const DEFAULT_POLICY_JSON: &str = include_str!("../../../policies/default.json");

/// The `strict` policy: `default` plus socket family, personality, NUMA
/// and terminal line discipline restrictions.
pub const STRICT_POLICY_JSON: &str = include_str!("../../../policies/strict.json");

/// Architectures that a policy file may name, as `std::env::consts::ARCH`
/// spells them.
pub const SUPPORTED_ARCHES: [&str; 2] = ["x86_64", "aarch64"];

/// Highest system call number in `seccompiler` 0.5's tables (`mseal`,
/// Linux 6.12), the same on x86_64 and aarch64. The guard filter fails
/// higher numbers with `ENOSYS`.
pub const NEWEST_KNOWN_SYSCALL: u32 = 462;

/// Bit that selects the x32 ABI in x86_64 system call numbers.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `AUDIT_ARCH_X86_64` from `<linux/audit.h>`.
const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;

/// `AUDIT_ARCH_AARCH64` from `<linux/audit.h>`.
const AUDIT_ARCH_AARCH64: u32 = 183 | 0x8000_0000 | 0x4000_0000;

/// Name of the filter that [`CompiledPolicy`] adds to every policy.
pub const GUARD_FILTER_NAME: &str = "guard";

/// Error of loading, compiling or installing a policy.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The name is neither a built-in policy nor an existing file.
    #[error(
        "seccomp policy {name:?} not found: \
         use `default`, `strict` or the path of a policy JSON file"
    )]
    NotFound {
        /// The name or path as given.
        name: String,
    },

    /// The policy file could not be read.
    #[error("failed to read seccomp policy {path}: {source}")]
    Read {
        /// Path of the policy file.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: io::Error,
    },

    /// The file is not valid JSON or does not match the policy format.
    #[error("invalid seccomp policy {policy}: {message}")]
    Format {
        /// Built-in name or path of the policy.
        policy: String,
        /// Description of the problem, with the filter name, key or line where known.
        message: String,
    },

    /// A filter names a system call that the target architecture lacks,
    /// or seccompiler rejected it for another reason.
    #[error("invalid seccomp policy {policy}: filter {filter:?} for {arch}: {message}")]
    Compile {
        /// Built-in name or path of the policy.
        policy: String,
        /// Name of the filter in the file.
        filter: String,
        /// Target architecture.
        arch: &'static str,
        /// seccompiler's message, naming the system call.
        message: String,
    },

    /// The policy has no filter for the architecture.
    #[error(
        "seccomp policy {policy} has no filter for architecture {arch}: \
         add a filter named `{arch}.<name>`"
    )]
    NoFilterForArch {
        /// Built-in name or path of the policy.
        policy: String,
        /// Target architecture.
        arch: String,
    },

    /// The architecture is not one this module compiles for.
    #[error("seccomp is not supported on architecture {arch}: supported are x86_64 and aarch64")]
    UnsupportedArch {
        /// The architecture name.
        arch: String,
    },

    /// The kernel rejected a compiled filter.
    #[error("failed to install seccomp filter {filter:?} of policy {policy}: {source}")]
    Install {
        /// Built-in name or path of the policy.
        policy: Arc<str>,
        /// Name of the filter that failed.
        filter: Arc<str>,
        /// The error of `prctl(PR_SET_NO_NEW_PRIVS)` or `seccomp(2)`.
        #[source]
        source: io::Error,
    },
}

/// A policy compiled to BPF for one architecture, ready for [`apply`].
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    source: Arc<str>,
    arch: &'static str,
    filters: Vec<CompiledFilter>,
}

#[derive(Clone, Debug)]
struct CompiledFilter {
    name: Arc<str>,
    program: BpfProgram,
}

impl CompiledPolicy {
    /// Built-in name (`default`, `strict`) or path of the policy file.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Architecture the filters were compiled for.
    pub fn arch(&self) -> &'static str {
        self.arch
    }

    /// Names of the filters in installation order: the guard first, then
    /// the policy's filters in file order, with their architecture prefix.
    pub fn filter_names(&self) -> impl Iterator<Item = &str> {
        self.filters.iter().map(|filter| &*filter.name)
    }

    /// The BPF program of the filter called `name`.
    pub fn program(&self, name: &str) -> Option<&[sock_filter]> {
        self.filters
            .iter()
            .find(|filter| &*filter.name == name)
            .map(|filter| filter.program.as_slice())
    }
}

/// The text of a policy and where it came from, read on the host before
/// the sandbox exists.
///
/// A policy path names a file of the host. The sandbox's processes see
/// another file system, where the path may be missing or, worse, point
/// into the job's workspace. So the runner reads the policy with
/// [`read_policy`], sends this value to the sandbox (it is serializable),
/// and the sandbox compiles it with [`PolicyText::compile`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyText {
    /// Built-in name (`default`, `strict`) or path of the policy file.
    pub source: String,
    /// The policy's JSON.
    pub json: String,
}

impl PolicyText {
    /// Compiles the policy for the running architecture.
    pub fn compile(&self) -> Result<CompiledPolicy, SeccompError> {
        compile_policy(&self.source, &self.json, std::env::consts::ARCH)
    }
}

/// Reads a policy: `default`, `strict` or the path of a policy file.
///
/// It does not compile the policy; call [`load_policy`] to check it too.
pub fn read_policy(name_or_path: &str) -> Result<PolicyText, SeccompError> {
    if let Some(json) = builtin_policy(name_or_path) {
        return Ok(PolicyText {
            source: name_or_path.to_owned(),
            json: json.to_owned(),
        });
    }

    let path = Path::new(name_or_path);
    if !path.exists() {
        return Err(SeccompError::NotFound {
            name: name_or_path.to_owned(),
        });
    }
    let json = std::fs::read_to_string(path).map_err(|source| SeccompError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(PolicyText {
        source: name_or_path.to_owned(),
        json,
    })
}

/// Reads and compiles a policy for the running architecture.
///
/// `name_or_path` is `default`, `strict` or the path of a policy file,
/// read in the calling process's file system: see [`PolicyText`] for why
/// the sandbox itself should get the text instead.
pub fn load_policy(name_or_path: &str) -> Result<CompiledPolicy, SeccompError> {
    if let Some(policy) = precompiled_policy(name_or_path, std::env::consts::ARCH) {
        return Ok(policy);
    }
    read_policy(name_or_path)?.compile()
}

// Defines `BUILTIN_PROGRAMS`, the built-in policies that build.rs compiled.
include!(concat!(env!("OUT_DIR"), "/builtin_policies.rs"));

/// The built-in policy `name` for `arch` as build.rs compiled it, with the
/// guard filter in front, or `None` when `name` is not built in.
///
/// This skips parsing and compiling the JSON, the slowest step of a
/// sandbox start. It gives the same programs as [`compile_policy`] on the
/// built-in text.
pub fn precompiled_policy(name: &str, arch: &str) -> Option<CompiledPolicy> {
    let (arch, target) = target_arch(arch).ok()?;
    let (_, _, programs) = BUILTIN_PROGRAMS
        .iter()
        .find(|(policy, policy_arch, _)| *policy == name && *policy_arch == arch)?;
    let mut filters = Vec::with_capacity(programs.len() + 1);
    filters.push(CompiledFilter {
        name: Arc::from(GUARD_FILTER_NAME),
        program: guard_program(target),
    });
    filters.extend(programs.iter().map(|(name, program)| CompiledFilter {
        name: Arc::from(*name),
        program: program.to_vec(),
    }));
    Some(CompiledPolicy {
        source: Arc::from(name),
        arch,
        filters,
    })
}

/// Returns the JSON of a built-in policy.
pub fn builtin_policy(name: &str) -> Option<&'static str> {
    match name {
        "default" => Some(DEFAULT_POLICY_JSON),
        "strict" => Some(STRICT_POLICY_JSON),
        _ => None,
    }
}

/// Compiles the policy text `json` for `arch` (`x86_64` or `aarch64`).
///
/// `source` names the policy in errors. The architecture may differ from
/// the running one, which lets tests check every policy for every target.
pub fn compile_policy(
    source: &str,
    json: &str,
    arch: &str,
) -> Result<CompiledPolicy, SeccompError> {
    let (arch, target) = target_arch(arch)?;
    let filters = parse_policy(source, json)?;

    let mut compiled = vec![CompiledFilter {
        name: Arc::from(GUARD_FILTER_NAME),
        program: guard_program(target),
    }];
    for (name, filter) in filters {
        let Some((filter_arch, _)) = name.split_once('.') else {
            unreachable!("parse_policy checked the prefix of {name}");
        };
        if filter_arch != arch {
            continue;
        }
        compiled.push(CompiledFilter {
            program: compile_filter(source, arch, target, &name, &filter)?,
            name: Arc::from(name),
        });
    }

    if compiled.len() == 1 {
        return Err(SeccompError::NoFilterForArch {
            policy: source.to_owned(),
            arch: arch.to_owned(),
        });
    }
    Ok(CompiledPolicy {
        source: Arc::from(source),
        arch,
        filters: compiled,
    })
}

/// Installs every filter of `policy` in the calling thread.
///
/// Sets no_new_privs first, as the kernel requires of a process without
/// `CAP_SYS_ADMIN`. The filters apply to the calling thread and to every
/// process it starts later, so call it in the single-threaded child right
/// before `execve`. It does not allocate: the errors carry reference-counted
/// names and an `io::Error` built from the errno.
pub fn apply(policy: &CompiledPolicy) -> Result<(), SeccompError> {
    for filter in &policy.filters {
        seccompiler::apply_filter(&filter.program).map_err(|error| SeccompError::Install {
            policy: Arc::clone(&policy.source),
            filter: Arc::clone(&filter.name),
            source: install_error(error),
        })?;
    }
    Ok(())
}

/// Converts seccompiler's install error to the `io::Error` it carries.
fn install_error(error: seccompiler::Error) -> io::Error {
    match error {
        seccompiler::Error::Prctl(source) | seccompiler::Error::Seccomp(source) => source,
        // An empty program cannot occur because every compiled program
        // starts with the architecture check, and TSYNC is never asked for.
        _ => io::Error::from_raw_os_error(libc::EINVAL),
    }
}

fn target_arch(arch: &str) -> Result<(&'static str, TargetArch), SeccompError> {
    match arch {
        "x86_64" => Ok(("x86_64", TargetArch::x86_64)),
        "aarch64" => Ok(("aarch64", TargetArch::aarch64)),
        _ => Err(SeccompError::UnsupportedArch {
            arch: arch.to_owned(),
        }),
    }
}

/// One filter of a policy file, mirroring seccompiler's JSON format so that
/// structural errors name the filter and the key before seccompiler sees
/// the file. The actions are only checked for presence here; seccompiler
/// parses them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct FilterSpec {
    mismatch_action: serde_json::Value,
    match_action: serde_json::Value,
    filter: Vec<RuleSpec>,
}

/// One rule of a filter: a system call and optional argument conditions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    syscall: String,
    #[serde(default)]
    args: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    #[allow(dead_code)]
    comment: Option<String>,
}

/// Parses the policy file into its filters, in file order.
fn parse_policy(
    source: &str,
    json: &str,
) -> Result<Vec<(String, serde_json::Value)>, SeccompError> {
    let format_error = |message: String| SeccompError::Format {
        policy: source.to_owned(),
        message,
    };

    let top: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|error| format_error(error.to_string()))?;

    let mut filters = Vec::with_capacity(top.len());
    for (name, value) in top {
        check_filter_name(&name).map_err(format_error)?;
        let spec = FilterSpec::deserialize(&value)
            .map_err(|error| format_error(format!("filter {name:?}: {error}")))?;
        check_rules(&name, &spec).map_err(format_error)?;
        filters.push((name, value));
    }
    Ok(filters)
}

fn check_filter_name(name: &str) -> Result<(), String> {
    match name.split_once('.') {
        Some((arch, rest)) if SUPPORTED_ARCHES.contains(&arch) && !rest.is_empty() => Ok(()),
        _ => Err(format!(
            "filter name {name:?} must be `<arch>.<name>` with arch x86_64 or aarch64"
        )),
    }
}

/// Rejects a system call listed both with and without conditions.
///
/// seccompiler drops the unconditional rule in that case, so the call
/// would match only with the conditions: a deny list would silently let
/// the call through.
fn check_rules(name: &str, spec: &FilterSpec) -> Result<(), String> {
    let unconditional: HashSet<&str> = spec
        .filter
        .iter()
        .filter(|rule| rule.args.is_none())
        .map(|rule| rule.syscall.as_str())
        .collect();
    for rule in &spec.filter {
        match &rule.args {
            Some(args) if args.is_empty() => {
                return Err(format!(
                    "filter {name:?}: rule for {} has an empty `args` list: \
                     drop `args` to match every call",
                    rule.syscall
                ));
            }
            Some(_) if unconditional.contains(rule.syscall.as_str()) => {
                return Err(format!(
                    "filter {name:?}: {} is listed both with and without `args`; \
                     seccompiler would drop the rule without `args`",
                    rule.syscall
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Compiles one filter of the file with seccompiler.
fn compile_filter(
    source: &str,
    arch: &'static str,
    target: TargetArch,
    name: &str,
    filter: &serde_json::Value,
) -> Result<BpfProgram, SeccompError> {
    let compile_error = |message: String| SeccompError::Compile {
        policy: source.to_owned(),
        filter: name.to_owned(),
        arch,
        message,
    };

    let mut single = serde_json::Map::new();
    single.insert(name.to_owned(), filter.clone());
    let text = serde_json::Value::Object(single).to_string();

    let mut programs = seccompiler::compile_from_json(text.as_bytes(), target)
        .map_err(|error| compile_error(error.to_string()))?;
    let program = programs
        .remove(name)
        .ok_or_else(|| compile_error("seccompiler returned no program".to_owned()))?;
    Ok(dispatch::dispatch_by_number(&program).unwrap_or(program))
}

/// Builds the guard filter described in the module documentation.
fn guard_program(target: TargetArch) -> BpfProgram {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    // Offsets of `nr` and `arch` in `struct seccomp_data`.
    const NR_OFFSET: u32 = 0;
    const ARCH_OFFSET: u32 = 4;

    let audit_arch = match target {
        TargetArch::x86_64 => AUDIT_ARCH_X86_64,
        _ => AUDIT_ARCH_AARCH64,
    };
    let op = |code: u16, k: u32, jt: u8, jf: u8| sock_filter { code, jt, jf, k };

    vec![
        op(LD_W_ABS, ARCH_OFFSET, 0, 0),
        op(JEQ_K, audit_arch, 1, 0),
        op(RET_K, libc::SECCOMP_RET_KILL_PROCESS, 0, 0),
        op(LD_W_ABS, NR_OFFSET, 0, 0),
        // On aarch64 no valid number has bit 30 set, so the check is
        // harmless there and keeps one program for both.
        op(JGE_K, X32_SYSCALL_BIT, 0, 1),
        op(RET_K, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32, 0, 0),
        op(JGT_K, NEWEST_KNOWN_SYSCALL, 0, 1),
        op(RET_K, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32, 0, 0),
        op(RET_K, libc::SECCOMP_RET_ALLOW, 0, 0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `struct seccomp_data` as the BPF program sees it.
    struct SeccompData {
        nr: u32,
        arch: u32,
        args: [u64; 6],
    }

    impl SeccompData {
        fn word(&self, offset: u32) -> u32 {
            match offset {
                0 => self.nr,
                4 => self.arch,
                16..=63 => {
                    let arg = self.args[((offset - 16) / 8) as usize];
                    if offset % 8 == 0 {
                        arg as u32
                    } else {
                        (arg >> 32) as u32
                    }
                }
                _ => panic!("load from unexpected seccomp_data offset {offset}"),
            }
        }
    }

    /// Runs a classic BPF program as the kernel's seccomp does, for the
    /// instructions seccompiler and the guard emit.
    fn run_bpf(program: &[sock_filter], data: &SeccompData) -> u32 {
        run_bpf_counting(program, data).0
    }

    /// [`run_bpf`], also returning how many instructions ran.
    fn run_bpf_counting(program: &[sock_filter], data: &SeccompData) -> (u32, usize) {
        let mut accumulator = 0u32;
        let mut pc = 0usize;
        let mut steps = 0;
        loop {
            let insn = &program[pc];
            let code = u32::from(insn.code);
            pc += 1;
            steps += 1;
            match code {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                    accumulator = data.word(insn.k);
                }
                c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => accumulator &= insn.k,
                c if c == libc::BPF_RET | libc::BPF_K => return (insn.k, steps),
                c if c == libc::BPF_JMP | libc::BPF_JA => pc += insn.k as usize,
                c if c & 0x07 == libc::BPF_JMP => {
                    let taken = match c & 0xf0 {
                        op if op == libc::BPF_JEQ => accumulator == insn.k,
                        op if op == libc::BPF_JGT => accumulator > insn.k,
                        op if op == libc::BPF_JGE => accumulator >= insn.k,
                        op if op == libc::BPF_JSET => accumulator & insn.k != 0,
                        op => panic!("unexpected jump {op:#x}"),
                    };
                    pc += usize::from(if taken { insn.jt } else { insn.jf });
                }
                c => panic!("unexpected BPF instruction {c:#x}"),
            }
        }
    }

    /// System call numbers used by the tests, per architecture.
    fn nr(arch: &str, name: &str) -> u32 {
        let table: &[(&str, u32, u32)] = &[
            // (name, x86_64, aarch64)
            ("ioctl", 16, 29),
            ("clone", 56, 220),
            ("clone3", 435, 435),
            ("personality", 135, 92),
            ("mount", 165, 40),
            ("socket", 41, 198),
            ("socketpair", 53, 199),
            ("getpid", 39, 172),
            ("keyctl", 250, 219),
            ("ptrace", 101, 117),
            ("fchmod", 91, 52),
            ("fchmodat", 268, 53),
            ("openat", 257, 56),
            ("openat2", 437, 437),
        ];
        let (_, x86_64, aarch64) = table
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("no number for {name}"));
        if arch == "x86_64" { *x86_64 } else { *aarch64 }
    }

    fn audit_arch(arch: &str) -> u32 {
        if arch == "x86_64" {
            AUDIT_ARCH_X86_64
        } else {
            AUDIT_ARCH_AARCH64
        }
    }

    /// The strongest action of all filters, as the kernel combines them:
    /// the lowest action value wins, KILL_PROCESS (0x80000000 as signed)
    /// above all.
    fn verdict(policy: &CompiledPolicy, name: &str, args: [u64; 6]) -> u32 {
        verdict_nr(
            policy,
            nr(policy.arch(), name),
            audit_arch(policy.arch()),
            args,
        )
    }

    fn verdict_nr(policy: &CompiledPolicy, nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        let data = SeccompData { nr, arch, args };
        policy
            .filters
            .iter()
            .map(|filter| run_bpf(&filter.program, &data))
            .min_by_key(|action| (action & 0xffff_0000) as i32)
            .expect("a policy has filters")
    }

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

    fn compiled(name: &str, arch: &str) -> CompiledPolicy {
        compile_policy(name, builtin_policy(name).unwrap(), arch)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    fn all_policies() -> Vec<CompiledPolicy> {
        let mut policies = Vec::new();
        for name in ["default", "strict"] {
            for arch in SUPPORTED_ARCHES {
                policies.push(compiled(name, arch));
            }
        }
        policies
    }

    #[test]
    fn builtin_policies_compile_for_both_arches() {
        for policy in all_policies() {
            let arch = policy.arch();
            let names: Vec<&str> = policy.filter_names().collect();
            assert_eq!(
                names,
                [
                    "guard".to_owned(),
                    format!("{arch}.deny"),
                    format!("{arch}.enosys")
                ],
                "{} for {arch}",
                policy.source()
            );
        }
    }

    #[test]
    fn precompiled_policies_equal_runtime_compilation() {
        for name in ["default", "strict"] {
            for arch in SUPPORTED_ARCHES {
                let built = precompiled_policy(name, arch).unwrap();
                let runtime = compiled(name, arch);
                assert_eq!(built.source(), runtime.source());
                assert_eq!(built.arch(), runtime.arch());
                let names: Vec<&str> = built.filter_names().collect();
                assert_eq!(names, runtime.filter_names().collect::<Vec<_>>());
                assert!(names.len() > 1, "{name} for {arch} has no policy filter");
                for filter in names {
                    assert_eq!(
                        built.program(filter),
                        runtime.program(filter),
                        "{name} {filter}"
                    );
                }
            }
        }
        assert!(precompiled_policy("missing", "x86_64").is_none());
        assert!(precompiled_policy("default", "riscv64").is_none());
    }

    #[test]
    fn load_policy_finds_builtin_names() {
        for name in ["default", "strict"] {
            let policy = load_policy(name).unwrap();
            assert_eq!(policy.source(), name);
            assert_eq!(policy.arch(), std::env::consts::ARCH);
        }
    }

    #[test]
    fn tiocsti_matches_with_high_bits_set() {
        for policy in all_policies() {
            for request in [0x5412, 0xffff_ffff_0000_5412, 0x1_0000_5412] {
                assert_eq!(
                    verdict(&policy, "ioctl", [0, request, 0, 0, 0, 0]),
                    EPERM,
                    "TIOCSTI {request:#x} in {} for {}",
                    policy.source(),
                    policy.arch()
                );
            }
        }
    }

    #[test]
    fn tioclinux_is_denied() {
        for policy in all_policies() {
            let args = [0, 0xdead_0000_0000_541c, 0, 0, 0, 0];
            assert_eq!(verdict(&policy, "ioctl", args), EPERM, "{}", policy.arch());
        }
    }

    #[test]
    fn other_ioctls_are_allowed() {
        for policy in all_policies() {
            for request in [0x5413, 0x5401, 0x541b] {
                // TIOCGWINSZ, TCGETS, FIONREAD
                let args = [1, request, 0, 0, 0, 0];
                assert_eq!(verdict(&policy, "ioctl", args), ALLOW, "{request:#x}");
            }
        }
    }

    #[test]
    fn tiocsetd_is_denied_only_in_strict() {
        for arch in SUPPORTED_ARCHES {
            let args = [0, 0x5423, 0, 0, 0, 0];
            assert_eq!(verdict(&compiled("default", arch), "ioctl", args), ALLOW);
            assert_eq!(verdict(&compiled("strict", arch), "ioctl", args), EPERM);
        }
    }

    #[test]
    fn clone_with_namespace_flags_is_denied() {
        let flags = [
            0x0000_0080u64,
            0x0002_0000,
            0x0200_0000,
            0x0400_0000,
            0x0800_0000,
            0x1000_0000,
            0x2000_0000,
            0x4000_0000,
        ];
        for policy in all_policies() {
            for flag in flags {
                let with_fork_flags = flag | 0x0120_0011;
                let args = [with_fork_flags, 0, 0, 0, 0, 0];
                assert_eq!(verdict(&policy, "clone", args), EPERM, "flag {flag:#x}");
            }
        }
    }

    #[test]
    fn clone_for_fork_and_threads_is_allowed() {
        // glibc's fork: CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD.
        // pthread_create: CLONE_VM | FS | FILES | SIGHAND | THREAD | SYSVSEM
        // | SETTLS | PARENT_SETTID | CHILD_CLEARTID.
        for policy in all_policies() {
            for flags in [0x0120_0011u64, 0x003d_0f00] {
                let args = [flags, 0, 0, 0, 0, 0];
                assert_eq!(verdict(&policy, "clone", args), ALLOW, "{flags:#x}");
            }
        }
    }

    #[test]
    fn clone3_fails_with_enosys() {
        for policy in all_policies() {
            assert_eq!(
                verdict(&policy, "clone3", [0; 6]),
                ENOSYS,
                "{}",
                policy.arch()
            );
        }
    }

    #[test]
    fn set_id_mode_bits_are_denied() {
        const O_CREAT: u64 = 0o100;
        const O_TMPFILE: u64 = 0o20_200_000;
        for policy in all_policies() {
            for mode in [0o4755u64, 0o2755, 0o6777, 0o104755] {
                let at_fdcwd = (-100i64) as u64;
                assert_eq!(verdict(&policy, "fchmod", [3, mode, 0, 0, 0, 0]), EPERM);
                let args = [at_fdcwd, 0, mode, 0, 0, 0];
                assert_eq!(verdict(&policy, "fchmodat", args), EPERM, "{mode:o}");
                for flags in [O_CREAT | 1, O_TMPFILE | 2] {
                    let args = [at_fdcwd, 0, flags, mode, 0, 0];
                    assert_eq!(
                        verdict(&policy, "openat", args),
                        EPERM,
                        "{flags:o} {mode:o}"
                    );
                }
                // Without O_CREAT or O_TMPFILE the kernel ignores the mode.
                let args = [at_fdcwd, 0, 0, mode, 0, 0];
                assert_eq!(verdict(&policy, "openat", args), ALLOW, "{mode:o}");
            }
            for mode in [0o755u64, 0o1777, 0o644] {
                assert_eq!(verdict(&policy, "fchmod", [3, mode, 0, 0, 0, 0]), ALLOW);
                let args = [0, 0, O_CREAT | 1, mode, 0, 0];
                assert_eq!(verdict(&policy, "openat", args), ALLOW, "{mode:o}");
            }
            assert_eq!(verdict(&policy, "openat2", [0; 6]), ENOSYS);
        }
    }

    #[test]
    fn personality_allows_only_safe_values_in_default() {
        for arch in SUPPORTED_ARCHES {
            let policy = compiled("default", arch);
            for allowed in [0u64, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff] {
                let args = [allowed, 0, 0, 0, 0, 0];
                assert_eq!(verdict(&policy, "personality", args), ALLOW, "{allowed:#x}");
            }
            // ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC.
            for denied in [0x4_0000u64, 0x40_0000] {
                let args = [denied, 0, 0, 0, 0, 0];
                assert_eq!(verdict(&policy, "personality", args), EPERM, "{denied:#x}");
            }
        }
    }

    #[test]
    fn personality_is_denied_entirely_in_strict() {
        for arch in SUPPORTED_ARCHES {
            let policy = compiled("strict", arch);
            for value in [0u64, 0xffff_ffff] {
                let args = [value, 0, 0, 0, 0, 0];
                assert_eq!(verdict(&policy, "personality", args), EPERM, "{value:#x}");
            }
        }
    }

    #[test]
    fn strict_limits_socket_families() {
        // (family, type, protocol, expected)
        let cases = [
            (1u64, 1u64, 0u64, ALLOW),  // AF_UNIX stream
            (2, 1 | 0x80000, 0, ALLOW), // AF_INET stream with SOCK_CLOEXEC
            (10, 2, 0, ALLOW),          // AF_INET6 datagram
            (2, 2, 1, ALLOW),           // ICMP datagram socket (ping)
            (16, 3, 0, ALLOW),          // NETLINK_ROUTE
            (16, 3, 12, EPERM),         // NETLINK_NETFILTER
            (17, 3, 0, EPERM),          // AF_PACKET
            (40, 1, 0, EPERM),          // AF_VSOCK
            (2, 3 | 0x800, 255, EPERM), // raw IPv4, SOCK_NONBLOCK
            (10, 3, 58, EPERM),         // raw IPv6
        ];
        for arch in SUPPORTED_ARCHES {
            let strict = compiled("strict", arch);
            let default = compiled("default", arch);
            for (family, kind, protocol, expected) in cases {
                let args = [family, kind, protocol, 0, 0, 0];
                assert_eq!(verdict(&strict, "socket", args), expected, "{args:?}");
                // The default policy denies only AF_VSOCK.
                let default_expected = if family == 40 { EPERM } else { ALLOW };
                assert_eq!(
                    verdict(&default, "socket", args),
                    default_expected,
                    "{args:?}"
                );
            }
            let pair = [2, 1, 0, 0, 0, 0];
            assert_eq!(verdict(&strict, "socketpair", pair), EPERM);
        }
    }

    #[test]
    fn unconditional_denials_match_any_arguments() {
        for policy in all_policies() {
            for name in ["mount", "keyctl", "ptrace"] {
                let args = [u64::MAX, 1, 2, 3, 4, 5];
                assert_eq!(verdict(&policy, name, args), EPERM, "{name}");
            }
            assert_eq!(verdict(&policy, "getpid", [0; 6]), ALLOW);
        }
    }

    #[test]
    fn guard_denies_x32_and_unknown_syscalls() {
        for policy in all_policies() {
            let arch = audit_arch(policy.arch());
            // x32 mount, open_tree_attr (Linux 6.15), the newest known call.
            assert_eq!(
                verdict_nr(&policy, X32_SYSCALL_BIT | 165, arch, [0; 6]),
                EPERM
            );
            assert_eq!(verdict_nr(&policy, 467, arch, [0; 6]), ENOSYS);
            assert_eq!(
                verdict_nr(&policy, NEWEST_KNOWN_SYSCALL, arch, [0; 6]),
                ALLOW
            );
        }
    }

    #[test]
    fn foreign_arch_kills_the_process() {
        const AUDIT_ARCH_I386: u32 = 3 | 0x4000_0000;
        for policy in all_policies() {
            let action = verdict_nr(&policy, 39, AUDIT_ARCH_I386, [0; 6]);
            assert_eq!(action, libc::SECCOMP_RET_KILL_PROCESS, "{}", policy.arch());
        }
    }

    /// Syscall names of the unconditional and conditional rules of a
    /// filter.
    fn denied_names(json: &str, filter: &str) -> Vec<String> {
        let top: serde_json::Value = serde_json::from_str(json).unwrap();
        let rules = top[filter]["filter"].as_array().unwrap();
        let mut names: Vec<String> = rules
            .iter()
            .map(|rule| rule["syscall"].as_str().unwrap().to_owned())
            .collect();
        names.dedup();
        names
    }

    #[test]
    fn arches_deny_the_same_calls() {
        let x86_only = [
            "chmod",
            "creat",
            "open",
            "mknod",
            "iopl",
            "ioperm",
            "modify_ldt",
            "uselib",
            "ustat",
            "sysfs",
            "_sysctl",
            "get_kernel_syms",
            "query_module",
            "create_module",
        ];
        for json in [DEFAULT_POLICY_JSON, STRICT_POLICY_JSON] {
            let x86: Vec<String> = denied_names(json, "x86_64.deny")
                .into_iter()
                .filter(|name| !x86_only.contains(&name.as_str()))
                .collect();
            assert_eq!(x86, denied_names(json, "aarch64.deny"));
        }
    }

    #[test]
    fn strict_denies_everything_default_denies() {
        for arch in SUPPORTED_ARCHES {
            let filter = format!("{arch}.deny");
            let strict = denied_names(STRICT_POLICY_JSON, &filter);
            for name in denied_names(DEFAULT_POLICY_JSON, &filter) {
                assert!(strict.contains(&name), "strict lacks {name} for {arch}");
            }
        }
    }

    #[test]
    fn unknown_syscall_names_policy_filter_and_syscall() {
        let json = r#"{
            "x86_64.deny": {"mismatch_action": "allow", "match_action": {"errno": 1},
                            "filter": [{"syscall": "iopl"}]},
            "aarch64.deny": {"mismatch_action": "allow", "match_action": {"errno": 1},
                             "filter": [{"syscall": "iopl"}]}
        }"#;
        assert!(compile_policy("p.json", json, "x86_64").is_ok());
        let error = compile_policy("p.json", json, "aarch64")
            .unwrap_err()
            .to_string();
        assert!(error.contains("p.json"), "{error}");
        assert!(error.contains("aarch64.deny"), "{error}");
        assert!(error.contains("iopl"), "{error}");
    }

    #[test]
    fn arch_only_syscall_does_not_break_other_arch() {
        let json = r#"{
            "x86_64.deny": {"mismatch_action": "allow", "match_action": {"errno": 1},
                            "filter": [{"syscall": "iopl"}]},
            "aarch64.deny": {"mismatch_action": "allow", "match_action": {"errno": 1},
                             "filter": [{"syscall": "mount"}]}
        }"#;
        assert!(compile_policy("p.json", json, "aarch64").is_ok());
        assert!(compile_policy("p.json", json, "x86_64").is_ok());
    }

    #[test]
    fn unknown_key_is_named() {
        let json = r#"{"x86_64.deny": {"mismatch_action": "allow", "match_action": "trap",
                        "filter": [{"syscall": "mount", "arg": []}]}}"#;
        let error = compile_policy("p.json", json, "x86_64")
            .unwrap_err()
            .to_string();
        assert!(error.contains("x86_64.deny"), "{error}");
        assert!(error.contains("unknown field `arg`"), "{error}");
    }

    #[test]
    fn invalid_json_names_line() {
        let json = "{\n  \"x86_64.deny\": {,\n}";
        let error = compile_policy("p.json", json, "x86_64")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("invalid seccomp policy p.json: "),
            "{error}"
        );
        assert!(error.contains("line 2"), "{error}");
    }

    #[test]
    fn filter_name_without_arch_is_rejected() {
        let json = r#"{"main": {"mismatch_action": "allow", "match_action": "trap",
                        "filter": [{"syscall": "mount"}]}}"#;
        let error = compile_policy("p.json", json, "x86_64")
            .unwrap_err()
            .to_string();
        assert!(error.contains("filter name \"main\""), "{error}");
    }

    #[test]
    fn mixed_conditional_and_unconditional_rule_is_rejected() {
        let json = r#"{"x86_64.deny": {"mismatch_action": "allow", "match_action": "trap",
            "filter": [
                {"syscall": "ioctl"},
                {"syscall": "ioctl", "args": [{"index": 1, "type": "dword", "op": "eq", "val": 1}]}
            ]}}"#;
        let error = compile_policy("p.json", json, "x86_64")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("ioctl is listed both with and without `args`"),
            "{error}"
        );
    }

    #[test]
    fn missing_arch_filter_is_reported() {
        let json = r#"{"x86_64.deny": {"mismatch_action": "allow", "match_action": "trap",
                        "filter": [{"syscall": "mount"}]}}"#;
        let error = compile_policy("p.json", json, "aarch64")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("has no filter for architecture aarch64"),
            "{error}"
        );
    }

    #[test]
    fn unsupported_arch_is_rejected() {
        let error = compile_policy("default", DEFAULT_POLICY_JSON, "riscv64").unwrap_err();
        assert!(error.to_string().contains("riscv64"), "{error}");
    }

    #[test]
    fn missing_policy_file_is_not_found() {
        let error = load_policy("/nonexistent/policy.json")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("\"/nonexistent/policy.json\" not found"),
            "{error}"
        );
        let error = load_policy("defualt").unwrap_err().to_string();
        assert!(error.contains("use `default`, `strict`"), "{error}");
    }

    #[test]
    fn policy_text_round_trips_and_compiles() {
        let text = read_policy("strict").unwrap();
        let json = serde_json::to_string(&text).unwrap();
        let back: PolicyText = serde_json::from_str(&json).unwrap();
        assert_eq!(back, text);
        assert_eq!(back.compile().unwrap().source(), "strict");
    }

    #[test]
    fn policy_file_is_read_from_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("custom.json");
        std::fs::write(&path, STRICT_POLICY_JSON).unwrap();
        let policy = load_policy(path.to_str().unwrap()).unwrap();
        assert_eq!(policy.source(), path.to_str().unwrap());
        assert!(policy.program(&format!("{}.deny", policy.arch())).is_some());
    }

    /// Compiles each filter of the built-in policies with seccompiler alone
    /// and with the number search in front: (name, arch, plain, searched).
    fn plain_and_searched() -> Vec<(String, &'static str, BpfProgram, BpfProgram)> {
        let mut out = Vec::new();
        for json in [DEFAULT_POLICY_JSON, STRICT_POLICY_JSON] {
            let top: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(json).unwrap();
            for arch in SUPPORTED_ARCHES {
                let (_, target) = target_arch(arch).unwrap();
                for (name, filter) in top.iter().filter(|(n, _)| n.starts_with(arch)) {
                    let mut single = serde_json::Map::new();
                    single.insert(name.clone(), filter.clone());
                    let text = serde_json::Value::Object(single).to_string();
                    let plain = seccompiler::compile_from_json(text.as_bytes(), target)
                        .unwrap()
                        .remove(name)
                        .unwrap();
                    let searched = compile_filter("test", arch, target, name, filter).unwrap();
                    out.push((name.clone(), arch, plain, searched));
                }
            }
        }
        out
    }

    /// Returns every constant the program compares with, and its
    /// neighbours: the argument values where a rule's verdict can change.
    fn edge_values(program: &[sock_filter]) -> Vec<u32> {
        let mut values = vec![0, 1, u32::MAX];
        for insn in program {
            if u32::from(insn.code) & 0x07 == libc::BPF_JMP
                || u32::from(insn.code) == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K
            {
                values.extend([insn.k.wrapping_sub(1), insn.k, insn.k.wrapping_add(1)]);
            }
        }
        values.sort_unstable();
        values.dedup();
        values
    }

    #[test]
    fn number_search_keeps_every_verdict() {
        let programs = plain_and_searched();
        assert_eq!(programs.len(), 8, "two policies, two arches, two filters");
        for (name, arch, plain, searched) in &programs {
            assert_ne!(plain, searched, "{name} ({arch}) got no number search");
            assert!(
                searched.len() < plain.len(),
                "{name} ({arch}): {} instructions with the search, {} without",
                searched.len(),
                plain.len()
            );
            let edges = edge_values(plain);
            // xorshift64: a fixed sequence of arbitrary argument values.
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            let mut random = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let listed = dispatch::numbers_with_blocks(plain).unwrap();
            let numbers = (0..1024).chain([X32_SYSCALL_BIT | 1, u32::MAX]);
            for nr in numbers {
                for arch_value in [audit_arch(arch), 0x4000_0003] {
                    let mut cases = vec![[0u64; 6], [u64::MAX; 6]];
                    // Only the blocks look at arguments.
                    let in_block = listed.contains(&nr) && arch_value == audit_arch(arch);
                    for index in (0..6).filter(|_| in_block) {
                        for &value in &edges {
                            let mut args = [0u64; 6];
                            args[index] = u64::from(value);
                            cases.push(args);
                            args[index] = u64::from(value) << 32 | u64::from(value);
                            cases.push(args);
                        }
                    }
                    let random_cases = if in_block { 64 } else { 2 };
                    cases.extend((0..random_cases).map(|_| std::array::from_fn(|_| random())));
                    for args in cases {
                        let data = SeccompData {
                            nr,
                            arch: arch_value,
                            args,
                        };
                        assert_eq!(
                            run_bpf(plain, &data),
                            run_bpf(searched, &data),
                            "{name} ({arch}): nr {nr}, arch {arch_value:#x}, args {args:x?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn number_search_decides_unlisted_numbers_in_few_steps() {
        // Levels of the search over `n` numbers: halves until at most
        // three remain, the larger half last.
        fn levels(n: usize) -> usize {
            if n <= 3 { 0 } else { 1 + levels(n - n / 2) }
        }
        for (name, arch, plain, searched) in plain_and_searched() {
            let listed = dispatch::numbers_with_blocks(&plain).unwrap();
            // Architecture check and load of the number (3), at most two
            // instructions per level, then at most three comparisons and
            // the return (4).
            let bound = 3 + 2 * levels(listed.len()) + 4;
            for nr in (0..1024).filter(|nr| !listed.contains(nr)) {
                let data = SeccompData {
                    nr,
                    arch: audit_arch(arch),
                    args: [0; 6],
                };
                let (plain_verdict, plain_steps) = run_bpf_counting(&plain, &data);
                let (verdict, steps) = run_bpf_counting(&searched, &data);
                assert_eq!(verdict, plain_verdict, "{name} ({arch}): nr {nr}");
                assert!(
                    steps <= bound,
                    "{name} ({arch}): nr {nr} took {steps} steps, more than {bound}"
                );
                assert!(
                    plain_steps >= 3 + 2 * listed.len(),
                    "{name} ({arch}): the plain chain took only {plain_steps} steps"
                );
            }
        }
    }

    #[test]
    fn programs_without_the_chain_layout_are_left_alone() {
        assert_eq!(
            dispatch::dispatch_by_number(&guard_program(TargetArch::x86_64)),
            None
        );
        let empty = r#"{"x86_64.none": {"mismatch_action": "allow", "match_action": {"errno": 1}, "filter": []}}"#;
        let program = seccompiler::compile_from_json(empty.as_bytes(), TargetArch::x86_64)
            .unwrap()
            .remove("x86_64.none")
            .unwrap();
        assert_eq!(dispatch::dispatch_by_number(&program), None);
    }
}
