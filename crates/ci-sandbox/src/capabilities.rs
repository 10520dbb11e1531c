//! Dropping every Linux capability before the job's command runs.
//!
//! A thread carries five capability sets. The effective set is what the
//! kernel checks, the permitted set limits what may become effective, the
//! inheritable and ambient sets decide what survives `execve`, and the
//! bounding set caps what any later `execve` (of a file with file
//! capabilities, say) can ever grant. Inside its new user namespace the
//! sandbox's init starts with every capability of that namespace, so the
//! command must lose all five sets before it runs, or it could mount, trace
//! or reconfigure the namespace.
//!
//! [`drop_all`] clears the sets in the order the kernel requires: the
//! bounding set and the secure bits need `CAP_SETPCAP` in the effective
//! set, so they go before `capset` empties the effective set. It then reads
//! every set back and fails unless all are empty.
//!
//! The `caps` crate covers these calls, but it builds a `HashSet` for every
//! read and a `String` for every error, and its list of capabilities ends
//! at the ones it knows, while the kernel may know more. The sandbox calls
//! [`drop_all`] between `fork` and `execve`, where allocating is best
//! avoided, so this module issues `prctl` and `capget`/`capset` directly
//! and probes the kernel for the highest capability number. The tests
//! cross-check the result with `caps`.

use std::io;

use crate::sys;

/// `_LINUX_CAPABILITY_VERSION_3` from `<linux/capability.h>`: 64-bit sets
/// passed as two 32-bit halves.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Highest capability number probed; capabilities are numbered below 64
/// because the sets are 64-bit masks.
const MAX_CAPABILITY_PROBED: u32 = 63;

/// Secure bits that stop uid 0 from regaining capabilities through
/// `execve` or `setuid`, each with its lock bit.
const LOCKED_SECURE_BITS: libc::c_ulong = (libc::SECBIT_NOROOT
    | libc::SECBIT_NOROOT_LOCKED
    | libc::SECBIT_NO_SETUID_FIXUP
    | libc::SECBIT_NO_SETUID_FIXUP_LOCKED
    | libc::SECBIT_KEEP_CAPS_LOCKED
    | libc::SECBIT_NO_CAP_AMBIENT_RAISE
    | libc::SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)
    as libc::c_ulong;

/// `CAP_SETPCAP`, needed to change the bounding set and the secure bits.
const CAP_SETPCAP: u32 = 8;

/// A capability set of a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapabilitySet {
    /// Limits what any `execve` can grant.
    Bounding,
    /// Kept across `execve` of unprivileged programs.
    Ambient,
    /// Passed to programs with matching file capabilities.
    Inheritable,
    /// The upper limit of the effective set.
    Permitted,
    /// Checked by the kernel on each privileged operation.
    Effective,
}

impl std::fmt::Display for CapabilitySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::Bounding => "bounding",
            Self::Ambient => "ambient",
            Self::Inheritable => "inheritable",
            Self::Permitted => "permitted",
            Self::Effective => "effective",
        };
        f.write_str(name)
    }
}

/// Error of dropping the capabilities.
#[derive(Debug, thiserror::Error)]
pub enum CapabilityError {
    /// A `prctl`, `capget` or `capset` call failed.
    #[error("failed to {operation}: {source}")]
    Syscall {
        /// The call and its argument.
        operation: &'static str,
        /// The errno.
        #[source]
        source: io::Error,
    },

    /// A set still contains capabilities after it was cleared.
    #[error("{set} capability set still holds {mask:#x} after dropping every capability")]
    NotEmpty {
        /// The set that is not empty.
        set: CapabilitySet,
        /// Remaining capabilities as a bit mask (bit n is capability n).
        mask: u64,
    },
}

/// The 64-bit capability masks of the current thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapabilityMasks {
    /// Bounding set.
    pub bounding: u64,
    /// Ambient set.
    pub ambient: u64,
    /// Inheritable set.
    pub inheritable: u64,
    /// Permitted set.
    pub permitted: u64,
    /// Effective set.
    pub effective: u64,
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`; version 3 passes an array of two, the
/// low and the high 32 bits.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Drops every capability of the calling thread and verifies that all
/// five sets are empty.
///
/// Also locks the secure bits that stop uid 0 from regaining capabilities
/// when the thread holds `CAP_SETPCAP`, as it does in a new user namespace.
/// It does not allocate. Call it in the single-threaded child before
/// loading the seccomp filter, which may deny some of these calls.
pub fn drop_all() -> Result<(), CapabilityError> {
    let last = last_capability()?;

    let has_setpcap = has_effective(CAP_SETPCAP)?;
    if has_setpcap {
        lock_secure_bits()?;
    }
    drop_bounding(last, has_setpcap)?;
    clear_ambient()?;
    clear_base_sets()?;

    // /proc/self/status reports all five sets in one read, where the
    // system calls take two per capability. Without /proc the calls do.
    let masks = match masks_from_status() {
        Ok(masks) => masks,
        Err(_) => read_masks_up_to(last)?,
    };
    verify_empty(&masks)
}

/// Reads the five sets from `/proc/self/status`, without allocating.
fn masks_from_status() -> io::Result<CapabilityMasks> {
    let mut values = [0u64; 5];
    sys::read_status_masks(
        &["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"],
        &mut values,
    )?;
    let [inheritable, permitted, effective, bounding, ambient] = values;
    Ok(CapabilityMasks {
        inheritable,
        permitted,
        effective,
        bounding,
        ambient,
    })
}

/// Reads the five capability sets of the calling thread.
pub fn read_masks() -> Result<CapabilityMasks, CapabilityError> {
    read_masks_up_to(last_capability()?)
}

/// Reads the five sets, with the bounding and ambient sets read for the
/// capabilities `0..=last`.
fn read_masks_up_to(last: u32) -> Result<CapabilityMasks, CapabilityError> {
    let mut masks = CapabilityMasks::default();
    for cap in 0..=last {
        if prctl(
            libc::PR_CAPBSET_READ,
            cap.into(),
            0,
            "read the bounding set",
        )? == 1
        {
            masks.bounding |= 1 << cap;
        }
        if ambient_is_set(cap)? {
            masks.ambient |= 1 << cap;
        }
    }

    let data = capget()?;
    let join = |low: u32, high: u32| u64::from(high) << 32 | u64::from(low);
    masks.effective = join(data[0].effective, data[1].effective);
    masks.permitted = join(data[0].permitted, data[1].permitted);
    masks.inheritable = join(data[0].inheritable, data[1].inheritable);
    Ok(masks)
}

/// Fails with the first set of `masks` that is not empty.
fn verify_empty(masks: &CapabilityMasks) -> Result<(), CapabilityError> {
    let sets = [
        (CapabilitySet::Bounding, masks.bounding),
        (CapabilitySet::Ambient, masks.ambient),
        (CapabilitySet::Inheritable, masks.inheritable),
        (CapabilitySet::Permitted, masks.permitted),
        (CapabilitySet::Effective, masks.effective),
    ];
    match sets.into_iter().find(|(_, mask)| *mask != 0) {
        Some((set, mask)) => Err(CapabilityError::NotEmpty { set, mask }),
        None => Ok(()),
    }
}

/// Finds the highest capability number the kernel knows, which
/// `PR_CAPBSET_READ` reports by failing with `EINVAL` above it.
///
/// A binary search takes seven calls where counting up takes one per
/// capability, and it needs no `/proc/sys/kernel/cap_last_cap`, which a
/// sandbox may not have mounted.
fn last_capability() -> Result<u32, CapabilityError> {
    if !capability_known(0)? {
        return Err(CapabilityError::Syscall {
            operation: "read the bounding set (PR_CAPBSET_READ)",
            source: io::Error::from_raw_os_error(libc::EINVAL),
        });
    }
    // Invariant: `low` is known to the kernel, every number above `high`
    // is not.
    let (mut low, mut high) = (0, MAX_CAPABILITY_PROBED);
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        if capability_known(middle)? {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    Ok(low)
}

/// Whether the kernel knows capability number `cap`.
fn capability_known(cap: u32) -> Result<bool, CapabilityError> {
    // SAFETY: PR_CAPBSET_READ takes an integer argument only.
    let ret = unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap), 0, 0, 0) };
    if ret >= 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EINVAL) {
        return Ok(false);
    }
    Err(CapabilityError::Syscall {
        operation: "read the bounding set (PR_CAPBSET_READ)",
        source: error,
    })
}

fn has_effective(cap: u32) -> Result<bool, CapabilityError> {
    let data = capget()?;
    let word = data[(cap / 32) as usize].effective;
    Ok(word & (1 << (cap % 32)) != 0)
}

fn lock_secure_bits() -> Result<(), CapabilityError> {
    prctl(
        libc::PR_SET_SECUREBITS,
        LOCKED_SECURE_BITS,
        0,
        "lock the secure bits (PR_SET_SECUREBITS)",
    )
    .map(drop)
}

/// Drops each capability still in the bounding set.
///
/// With `CAP_SETPCAP` every capability is dropped without reading the set
/// first, one call each. Without it the kernel refuses even a capability
/// already gone, so only present ones are dropped (and fail).
fn drop_bounding(last: u32, has_setpcap: bool) -> Result<(), CapabilityError> {
    const DROP_OPERATION: &str = "drop a capability from the bounding set (PR_CAPBSET_DROP needs \
                                  CAP_SETPCAP, which a new user namespace grants)";
    if has_setpcap {
        for cap in 0..=last {
            prctl(libc::PR_CAPBSET_DROP, cap.into(), 0, DROP_OPERATION)?;
        }
        return Ok(());
    }
    for cap in 0..=last {
        let present = prctl(
            libc::PR_CAPBSET_READ,
            cap.into(),
            0,
            "read the bounding set",
        )?;
        if present == 1 {
            prctl(libc::PR_CAPBSET_DROP, cap.into(), 0, DROP_OPERATION)?;
        }
    }
    Ok(())
}

fn clear_ambient() -> Result<(), CapabilityError> {
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        0,
        "clear the ambient set (PR_CAP_AMBIENT_CLEAR_ALL)",
    )
    .map(drop)
}

fn ambient_is_set(cap: u32) -> Result<bool, CapabilityError> {
    let ret = prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_IS_SET as libc::c_ulong,
        cap.into(),
        "read the ambient set (PR_CAP_AMBIENT_IS_SET)",
    )?;
    Ok(ret == 1)
}

/// Empties the effective, permitted and inheritable sets with one `capset`.
fn clear_base_sets() -> Result<(), CapabilityError> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: `header` and `data` are valid for the call and have the
    // layout of the kernel's version 3 structures (a header and two data
    // entries); capset only reads them.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if ret != 0 {
        return Err(CapabilityError::Syscall {
            operation: "clear the effective, permitted and inheritable sets (capset)",
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

fn capget() -> Result<[CapData; 2], CapabilityError> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: `header` and `data` are valid, writable and have the layout
    // of the kernel's version 3 structures; pid 0 means the caller.
    let ret = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if ret != 0 {
        return Err(CapabilityError::Syscall {
            operation: "read the capability sets (capget)",
            source: io::Error::last_os_error(),
        });
    }
    Ok(data)
}

/// Calls `prctl(option, arg2, arg3, 0, 0)` and returns its non-negative
/// result.
fn prctl(
    option: libc::c_int,
    arg2: libc::c_ulong,
    arg3: libc::c_ulong,
    operation: &'static str,
) -> Result<libc::c_int, CapabilityError> {
    // SAFETY: every option passed here takes integer arguments only.
    let ret = unsafe { libc::prctl(option, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    if ret < 0 {
        return Err(CapabilityError::Syscall {
            operation,
            source: io::Error::last_os_error(),
        });
    }
    Ok(ret)
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::fd::FromRawFd;

    use caps::CapSet;

    use super::*;

    /// Forks; the child gets full capabilities (a new user namespace when
    /// not root), runs `body` with the write end of a pipe and exits with
    /// its return value. Returns the child's output and raw wait status.
    fn in_child_with_capabilities(body: impl FnOnce(&mut std::fs::File) -> i32) -> (String, i32) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: glibc's fork resets the allocator locks in the child, and
        // the child only touches its own pipe before _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: the child owns its copies of both descriptors.
            unsafe { libc::close(fds[0]) };
            // SAFETY: `fds[1]` is an open descriptor owned by the child.
            let mut output = unsafe { std::fs::File::from_raw_fd(fds[1]) };
            // SAFETY: geteuid and unshare take no pointers.
            if unsafe { libc::geteuid() } != 0 && unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0
            {
                // SAFETY: ends the child.
                unsafe { libc::_exit(90) };
            }
            let code = body(&mut output);
            drop(output);
            // SAFETY: ends the child without running test harness code.
            unsafe { libc::_exit(code) };
        }
        // SAFETY: the parent's copy of the write end is not needed.
        unsafe { libc::close(fds[1]) };
        // SAFETY: `fds[0]` is an open descriptor owned by the parent.
        let mut input = unsafe { std::fs::File::from_raw_fd(fds[0]) };
        let mut text = String::new();
        input.read_to_string(&mut text).unwrap();
        let mut status = 0;
        // SAFETY: `status` is writable and `pid` is our child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        (text, status)
    }

    fn line<'a>(text: &'a str, key: &str) -> &'a str {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {text}"))
            .trim()
    }

    #[test]
    fn drop_all_empties_every_set() {
        let (text, status) = in_child_with_capabilities(|output| {
            use std::io::Write;
            let before = read_masks().unwrap();
            let result = drop_all();
            let after = read_masks().unwrap();
            let caps_sets = [
                CapSet::Bounding,
                CapSet::Ambient,
                CapSet::Inheritable,
                CapSet::Permitted,
                CapSet::Effective,
            ]
            .map(|set| caps::read(None, set).unwrap().len());
            // SAFETY: PR_GET_SECUREBITS takes no arguments.
            let secure_bits = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) };
            writeln!(output, "before_effective: {:#x}", before.effective).unwrap();
            writeln!(output, "before_bounding: {:#x}", before.bounding).unwrap();
            writeln!(output, "result: {result:?}").unwrap();
            writeln!(output, "after: {after:?}").unwrap();
            writeln!(output, "caps_crate: {caps_sets:?}").unwrap();
            writeln!(output, "secure_bits: {secure_bits:#x}").unwrap();
            0
        });
        assert_eq!(status, 0, "{text}");
        assert_ne!(line(&text, "before_effective:"), "0x0", "{text}");
        assert_ne!(line(&text, "before_bounding:"), "0x0", "{text}");
        assert_eq!(line(&text, "result:"), "Ok(())");
        assert_eq!(
            line(&text, "after:"),
            format!("{:?}", CapabilityMasks::default())
        );
        assert_eq!(line(&text, "caps_crate:"), "[0, 0, 0, 0, 0]");
        assert_eq!(
            line(&text, "secure_bits:"),
            format!("{LOCKED_SECURE_BITS:#x}")
        );
    }

    #[test]
    fn exec_after_drop_regains_nothing() {
        let (text, status) = in_child_with_capabilities(|output| {
            if drop_all().is_err() {
                return 91;
            }
            // SAFETY: `output` is an open descriptor; dup2 makes it stdout.
            unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(output), 1) };
            let program = c"/bin/cat";
            let argv = [
                program.as_ptr(),
                c"/proc/self/status".as_ptr(),
                std::ptr::null(),
            ];
            // SAFETY: both strings and the null-terminated argv outlive the
            // call; on success execv does not return.
            unsafe { libc::execv(program.as_ptr(), argv.as_ptr()) };
            92
        });
        assert_eq!(status, 0, "{text}");
        for key in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
            assert_eq!(line(&text, key), "0000000000000000", "{key}");
        }
    }

    #[test]
    fn drop_all_without_setpcap_names_the_call() {
        let (text, status) = in_child_with_capabilities(|output| {
            use std::io::Write;
            caps::drop(None, CapSet::Effective, caps::Capability::CAP_SETPCAP).unwrap();
            let error = drop_all().unwrap_err().to_string();
            writeln!(output, "error: {error}").unwrap();
            0
        });
        assert_eq!(status, 0, "{text}");
        let error = line(&text, "error:");
        assert!(
            error.starts_with("failed to drop a capability from the bounding set"),
            "{error}"
        );
        assert!(error.contains("Operation not permitted"), "{error}");
    }

    #[test]
    fn verify_empty_names_the_first_set() {
        let masks = CapabilityMasks {
            permitted: 1 << 21,
            effective: 1 << 21,
            ..CapabilityMasks::default()
        };
        let error = verify_empty(&masks).unwrap_err().to_string();
        assert_eq!(
            error,
            "permitted capability set still holds 0x200000 after dropping every capability"
        );
    }

    #[test]
    fn last_capability_matches_the_kernel() {
        let text = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap();
        assert_eq!(
            last_capability().unwrap(),
            text.trim().parse::<u32>().unwrap()
        );
    }
}
