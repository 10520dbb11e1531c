//! Compiles the built-in seccomp policies to BPF while the crate builds.
//!
//! Compiling `policies/default.json` with seccompiler takes about a
//! millisecond, which every sandbox start would otherwise pay. This
//! script compiles the built-in policies for every architecture that
//! `src/seccomp.rs` supports and writes the programs as Rust statics to
//! `$OUT_DIR/builtin_policies.rs`. It compiles as that module does at run
//! time: one filter at a time, only the filters whose name starts with
//! the architecture, each with the number search of
//! `src/seccomp/dispatch.rs` in front. Policy files given by path are still compiled at run
//! time. A unit test in `src/seccomp.rs` checks that the embedded programs
//! equal the run-time compilation.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use seccompiler::TargetArch;

#[path = "src/seccomp/dispatch.rs"]
mod dispatch;

/// Built-in policies: name and path relative to this crate.
const POLICIES: [(&str, &str); 2] = [
    ("default", "../../policies/default.json"),
    ("strict", "../../policies/strict.json"),
];

/// Architectures as `std::env::consts::ARCH` spells them.
const ARCHES: [(&str, TargetArch); 2] = [
    ("x86_64", TargetArch::x86_64),
    ("aarch64", TargetArch::aarch64),
];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let mut code = String::from(
        "/// A filter name and its BPF program.\n\
         pub(crate) type BuiltinFilter = (&'static str, &'static [seccompiler::sock_filter]);\n\
         /// A built-in policy for one architecture: policy name, arch, filters.\n\
         pub(crate) type BuiltinPolicy = (&'static str, &'static str, &'static [BuiltinFilter]);\n\
         /// The built-in policies that build.rs compiled.\n\
         pub(crate) static BUILTIN_PROGRAMS: &[BuiltinPolicy] = &[\n",
    );
    for (policy, relative) in POLICIES {
        let path = manifest_dir.join(relative);
        println!("cargo:rerun-if-changed={}", path.display());
        let json = read(&path);
        for (arch, target) in ARCHES {
            writeln!(code, "    ({policy:?}, {arch:?}, &[").unwrap();
            for (name, filter) in filters_of(&json, &path, arch) {
                let program = compile(&name, filter, target, &path);
                writeln!(code, "        ({name:?}, &[").unwrap();
                for op in program {
                    writeln!(
                        code,
                        "            seccompiler::sock_filter {{ code: {}, jt: {}, jf: {}, k: {} }},",
                        op.code, op.jt, op.jf, op.k
                    )
                    .unwrap();
                }
                code.push_str("        ]),\n");
            }
            code.push_str("    ]),\n");
        }
    }
    code.push_str("];\n");

    let out = PathBuf::from(env("OUT_DIR")).join("builtin_policies.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("failed to write {}: {e}", out.display()));
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|e| panic!("cargo did not set {name}: {e}"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("failed to read seccomp policy {}: {e}", path.display()))
}

/// Returns the filters of the policy named `<arch>.<name>`, in file order.
fn filters_of(json: &str, path: &Path, arch: &str) -> Vec<(String, serde_json::Value)> {
    let top: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("invalid seccomp policy {}: {e}", path.display()));
    top.into_iter()
        .filter(|(name, _)| {
            name.split_once('.')
                .is_some_and(|(prefix, _)| prefix == arch)
        })
        .collect()
}

/// Compiles one filter on its own and adds the number search, as
/// `seccomp::compile_filter` does.
fn compile(
    name: &str,
    filter: serde_json::Value,
    target: TargetArch,
    path: &Path,
) -> seccompiler::BpfProgram {
    let mut single = serde_json::Map::new();
    single.insert(name.to_owned(), filter);
    let text = serde_json::Value::Object(single).to_string();
    let mut programs =
        seccompiler::compile_from_json(text.as_bytes(), target).unwrap_or_else(|e| {
            panic!(
                "invalid seccomp policy {}: filter {name}: {e}",
                path.display()
            )
        });
    let program = programs
        .remove(name)
        .unwrap_or_else(|| panic!("seccompiler returned no program for filter {name}"));
    dispatch::dispatch_by_number(&program).unwrap_or(program)
}
