//! Writes the BPF programs of a seccomp policy to files, one per filter in
//! installation order (`0.bpf`, `1.bpf`, ...), as arrays of the kernel's
//! `struct sock_filter`. `scripts/bench-sandbox.sh` gives them to
//! bubblewrap (`--add-seccomp-fd`), so that bubblewrap runs with the same
//! filters as `htci sandbox`.
//!
//! Usage: `cargo run --release -p ci-sandbox --example seccomp_bpf -- POLICY DIR`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [policy, dir] = args.as_slice() else {
        eprintln!("usage: seccomp_bpf POLICY DIR (POLICY: default, strict or a policy file)");
        return ExitCode::from(2);
    };
    let compiled = match ci_sandbox::seccomp::load_policy(policy) {
        Ok(compiled) => compiled,
        Err(error) => {
            eprintln!("seccomp_bpf: {error}");
            return ExitCode::from(1);
        }
    };
    let dir = PathBuf::from(dir);
    for (index, name) in compiled.filter_names().enumerate() {
        let program = compiled
            .program(name)
            .expect("every listed filter has a program");
        let mut bytes = Vec::with_capacity(program.len() * 8);
        for insn in program {
            bytes.extend_from_slice(&insn.code.to_ne_bytes());
            bytes.push(insn.jt);
            bytes.push(insn.jf);
            bytes.extend_from_slice(&insn.k.to_ne_bytes());
        }
        let path = dir.join(format!("{index}.bpf"));
        if let Err(error) = std::fs::write(&path, bytes) {
            eprintln!("seccomp_bpf: failed to write {}: {error}", path.display());
            return ExitCode::from(1);
        }
        println!("{} {name} ({} instructions)", path.display(), program.len());
    }
    ExitCode::SUCCESS
}
