//! A binary search on the system call number in front of a seccompiler
//! program.
//!
//! seccompiler 0.5 compiles a filter to one block per system call that
//! has rules, in a chain: each block starts with `jeq NR` and a call whose
//! number matches no block walks the whole chain to the final return. The
//! kernel pays for that chain twice. When a filter is installed, the
//! kernel emulates the program once for every system call number, to find
//! the calls that the filter always allows. Each emulation walks the
//! chain, which for the default policy (92 blocks on x86_64) took about
//! 0.3 ms of every sandbox start here. Afterwards, every call that this
//! cache does not cover runs the chain again.
//!
//! [`dispatch_by_number`] keeps the blocks as they are and puts a binary
//! search in front of them, which jumps straight to the block of the
//! number, or returns the filter's mismatch action when no block has it.
//! For the default policy on x86_64, a number without a block now takes at
//! most 17 instructions instead of about 190.
//!
//! This file is also compiled into the crate's build script (with
//! `#[path]`), which precompiles the built-in policies, so it uses only
//! `std` and seccompiler's `sock_filter`.

use seccompiler::sock_filter;

// Classic BPF opcodes, from <linux/bpf_common.h>.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;

/// Offset of `nr` in `struct seccomp_data`.
const NR_OFFSET: u32 = 0;

/// Length of seccompiler's architecture check: load, compare, kill.
const ARCH_CHECK_LEN: usize = 3;

/// Ranges of at most this many numbers are searched linearly.
const LINEAR_SEARCH_MAX: usize = 3;

/// The kernel's limit on the length of a classic BPF program.
const BPF_MAXINSNS: usize = 4096;

/// Returns `program` with a binary search on the system call number in
/// front of its chain of blocks, or `None` when the program does not have
/// the layout of seccompiler 0.5 (then the caller keeps the original).
pub fn dispatch_by_number(program: &[sock_filter]) -> Option<Vec<sock_filter>> {
    let layout = Layout::of(program)?;

    let mut search = Vec::new();
    let mut targets = Vec::new();
    emit_search(&layout.blocks, &layout.mismatch, &mut search, &mut targets);

    // The chain moves behind the search. Its jumps are relative and stay
    // inside it, so it moves unchanged.
    let chain_start = ARCH_CHECK_LEN + 1;
    let moved_chain_start = chain_start + search.len();
    for (position, block_start) in targets {
        let target = moved_chain_start + (block_start - chain_start);
        let offset = target.checked_sub(chain_start + position + 1)?;
        search[position].k = u32::try_from(offset).ok()?;
    }

    let mut out = Vec::with_capacity(program.len() + search.len());
    out.extend_from_slice(&program[..chain_start]);
    out.extend(search);
    out.extend_from_slice(&program[chain_start..]);
    (out.len() < BPF_MAXINSNS).then_some(out)
}

/// Returns the numbers that have a block in `program`, sorted, or `None`
/// when the program does not have seccompiler's layout.
#[cfg(test)]
pub fn numbers_with_blocks(program: &[sock_filter]) -> Option<Vec<u32>> {
    let layout = Layout::of(program)?;
    Some(layout.blocks.iter().map(|(number, _)| *number).collect())
}

/// The positions of the blocks in a seccompiler program.
struct Layout {
    /// Number and index of the first instruction of each block, sorted by
    /// number.
    blocks: Vec<(u32, usize)>,
    /// The final return, reached when no block has the number.
    mismatch: sock_filter,
}

impl Layout {
    /// Reads the layout: the architecture check, a load of the number,
    /// then blocks of the form `jeq NR, 0, 1` whose false branch reaches
    /// the next block through unconditional jumps, and a final return.
    fn of(program: &[sock_filter]) -> Option<Self> {
        let load = program.get(ARCH_CHECK_LEN)?;
        if load.code != BPF_LD_W_ABS || load.k != NR_OFFSET {
            return None;
        }
        let mut blocks = Vec::new();
        let mut position = ARCH_CHECK_LEN + 1;
        loop {
            let insn = program.get(position)?;
            match insn.code {
                BPF_RET_K => break,
                BPF_JMP_JEQ_K if insn.jt == 0 && insn.jf == 1 => {
                    blocks.push((insn.k, position));
                    position = next_block(program, position + 2)?;
                }
                _ => return None,
            }
        }
        // The program ends with the mismatch return.
        if position + 1 != program.len() {
            return None;
        }
        let mismatch = program[position].clone();
        blocks.sort_unstable();
        let distinct = blocks.windows(2).all(|pair| pair[0].0 != pair[1].0);
        distinct.then_some(Self { blocks, mismatch })
    }
}

/// Follows the unconditional jumps that a number failing a block's `jeq`
/// takes, starting at `position`, to the start of the next block (or the
/// final return).
fn next_block(program: &[sock_filter], mut position: usize) -> Option<usize> {
    // Each hop moves forward, so the loop ends within the program.
    while program.get(position)?.code == BPF_JMP_JA {
        let offset = usize::try_from(program[position].k).ok()?;
        position = position.checked_add(1 + offset)?;
    }
    Some(position)
}

/// Emits a search over `blocks` (sorted by number) into `out`. The jumps
/// to blocks are recorded in `targets` as (position in `out`, block
/// start), for the caller to fill in their offsets.
fn emit_search(
    blocks: &[(u32, usize)],
    mismatch: &sock_filter,
    out: &mut Vec<sock_filter>,
    targets: &mut Vec<(usize, usize)>,
) {
    let op = |code, k, jt, jf| sock_filter { code, jt, jf, k };
    if blocks.len() <= LINEAR_SEARCH_MAX {
        for &(number, start) in blocks {
            // Equal: jump to the block; otherwise skip that jump.
            out.push(op(BPF_JMP_JEQ_K, number, 0, 1));
            targets.push((out.len(), start));
            out.push(op(BPF_JMP_JA, 0, 0, 0));
        }
        out.push(mismatch.clone());
        return;
    }
    let (low, high) = blocks.split_at(blocks.len() / 2);
    // Numbers from high[0] up jump over the low half with an
    // unconditional jump, whose offset has no 255 limit.
    out.push(op(BPF_JMP_JGE_K, high[0].0, 0, 1));
    let jump_to_high = out.len();
    out.push(op(BPF_JMP_JA, 0, 0, 0));
    emit_search(low, mismatch, out, targets);
    out[jump_to_high].k = (out.len() - jump_to_high - 1) as u32;
    emit_search(high, mismatch, out, targets);
}
