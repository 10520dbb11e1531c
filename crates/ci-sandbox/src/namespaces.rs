//! Creating the sandbox's namespaces and mapping its single user.
//!
//! The init process unshares every namespace in one call. The kernel
//! creates the user namespace first and makes it the owner of the others.
//! That ownership gives the unprivileged init the capabilities to mount,
//! set the host name and configure the network inside them.

use std::fs;
use std::io;
use std::path::Path;

use crate::config::SANDBOX_UID;
use crate::init::InitError;
use crate::sys;

/// Returns the `CLONE_NEW*` flags for a sandbox. `own_network` adds a network
/// namespace (everything except `Network::Host`).
pub fn clone_flags(own_network: bool) -> libc::c_int {
    let mut flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWCGROUP;
    if own_network {
        flags |= libc::CLONE_NEWNET;
    }
    flags
}

/// Unshares the namespaces in `flags` (see [`clone_flags`]), explaining
/// a refusal by the host's settings.
pub fn unshare(flags: libc::c_int) -> Result<(), InitError> {
    sys::unshare(flags).map_err(|error| {
        let hint = explain_refusal(&error, Path::new("/proc/sys"));
        InitError::new("create user namespace (unshare)", error).with_hint(hint)
    })
}

/// Maps the caller's user and group to [`SANDBOX_UID`] inside the new
/// user namespace. Every other id shows as the overflow id (65534).
///
/// NOTE: the caller's supplementary groups stay attached to the sandbox's
/// processes (shown as the overflow group), because with setgroups denied
/// nothing inside can drop them. Files on bind mounts that those groups
/// may read stay readable, as with bubblewrap.
pub fn map_ids(outside_uid: u32, outside_gid: u32) -> Result<(), InitError> {
    // CVE-2014-8989: an unprivileged process may only write gid_map after
    // disabling setgroups(2), otherwise it could drop a supplementary
    // group that a deny rule on the host relies on. So "deny" comes first.
    write_proc("/proc/self/setgroups", "deny")?;
    write_proc(
        "/proc/self/uid_map",
        &format!("{SANDBOX_UID} {outside_uid} 1\n"),
    )?;
    write_proc(
        "/proc/self/gid_map",
        &format!("{SANDBOX_UID} {outside_gid} 1\n"),
    )
}

fn write_proc(path: &str, contents: &str) -> Result<(), InitError> {
    fs::write(path, contents).map_err(|e| InitError::at("write", Path::new(path), e))
}

/// Names the host setting that blocks unprivileged user namespaces, and
/// how to allow it, when `unshare` failed with EPERM, EACCES or ENOSPC.
/// `proc_sys` is `/proc/sys` except in tests.
pub fn explain_refusal(error: &io::Error, proc_sys: &Path) -> Option<String> {
    if !matches!(
        error.raw_os_error(),
        Some(libc::EPERM | libc::EACCES | libc::ENOSPC)
    ) {
        return None;
    }
    if let Some(setting) = blocking_setting(proc_sys) {
        return Some(setting);
    }
    if error.raw_os_error() == Some(libc::ENOSPC) {
        return Some(
            "the limit of user namespaces (user.max_user_namespaces) is reached; \
             raise it with sysctl or end other sandboxes"
                .to_owned(),
        );
    }
    if error.raw_os_error() == Some(libc::EPERM) {
        return Some(
            "the kernel refused a new user namespace; a seccomp filter (such as a \
             container runtime's) or a security module may forbid it"
                .to_owned(),
        );
    }
    None
}

/// Names the sysctl that forbids unprivileged user namespaces, with the
/// command that allows them, or `None` when none of the known ones does.
pub fn blocking_setting(proc_sys: &Path) -> Option<String> {
    let read = |name: &str| {
        fs::read_to_string(proc_sys.join(name))
            .ok()
            .map(|s| s.trim().to_owned())
    };
    if read("kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Some(
            "kernel.unprivileged_userns_clone is 0; allow unprivileged user namespaces with \
             `sysctl -w kernel.unprivileged_userns_clone=1`"
                .to_owned(),
        );
    }
    if read("user/max_user_namespaces").as_deref() == Some("0") {
        return Some(
            "user.max_user_namespaces is 0; allow user namespaces with \
             `sysctl -w user.max_user_namespaces=15000`"
                .to_owned(),
        );
    }
    if read("kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Some(
            "AppArmor restricts unprivileged user namespaces \
             (kernel.apparmor_restrict_unprivileged_userns=1); add an AppArmor profile \
             granting `userns` to the htci binary, or run \
             `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`"
                .to_owned(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_proc_sys(entries: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, value) in entries {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, format!("{value}\n")).unwrap();
        }
        dir
    }

    #[test]
    fn debian_sysctl_is_named() {
        let dir = fake_proc_sys(&[("kernel/unprivileged_userns_clone", "0")]);
        let error = io::Error::from_raw_os_error(libc::EPERM);
        let hint = explain_refusal(&error, dir.path()).unwrap();
        assert!(
            hint.contains("kernel.unprivileged_userns_clone=1"),
            "{hint}"
        );
    }

    #[test]
    fn max_user_namespaces_zero_is_named() {
        let dir = fake_proc_sys(&[("user/max_user_namespaces", "0")]);
        let error = io::Error::from_raw_os_error(libc::ENOSPC);
        let hint = explain_refusal(&error, dir.path()).unwrap();
        assert!(hint.contains("user.max_user_namespaces is 0"), "{hint}");
    }

    #[test]
    fn apparmor_restriction_is_named() {
        let dir = fake_proc_sys(&[
            ("kernel/apparmor_restrict_unprivileged_userns", "1"),
            ("user/max_user_namespaces", "1000"),
        ]);
        let error = io::Error::from_raw_os_error(libc::EACCES);
        let hint = explain_refusal(&error, dir.path()).unwrap();
        assert!(
            hint.contains("apparmor_restrict_unprivileged_userns"),
            "{hint}"
        );
    }

    #[test]
    fn other_errors_get_no_hint() {
        let dir = fake_proc_sys(&[]);
        let error = io::Error::from_raw_os_error(libc::EINVAL);
        assert_eq!(explain_refusal(&error, dir.path()), None);
    }
}
