//! `capabilities::drop_all` and `seccomp::apply` run between `fork` and
//! `execve`, where another thread of the parent may have held the
//! allocator's lock at the moment of the fork. This test counts the
//! allocations they make with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ci_sandbox::{capabilities, seccomp};

/// The system allocator, counting every allocation.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Exit codes of the child.
const CHILD_OK: i32 = 0;
const CHILD_UNSHARE_FAILED: i32 = 10;
const CHILD_DROP_FAILED: i32 = 11;
const CHILD_APPLY_FAILED: i32 = 12;
const CHILD_ALLOCATED: i32 = 13;

#[test]
fn drop_and_apply_do_not_allocate() {
    let policy = seccomp::load_policy("default").unwrap();

    // SAFETY: the child makes system calls, reads an atomic and exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // A new user namespace gives an unprivileged child the
        // capabilities that dropping the bounding set needs.
        // SAFETY: geteuid and unshare take no pointers.
        if unsafe { libc::geteuid() } != 0 && unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
            // SAFETY: ends the child.
            unsafe { libc::_exit(CHILD_UNSHARE_FAILED) };
        }
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        let code = if capabilities::drop_all().is_err() {
            CHILD_DROP_FAILED
        } else if seccomp::apply(&policy).is_err() {
            CHILD_APPLY_FAILED
        } else if ALLOCATIONS.load(Ordering::SeqCst) != before {
            CHILD_ALLOCATED
        } else {
            CHILD_OK
        };
        // SAFETY: ends the child without running test harness code.
        unsafe { libc::_exit(code) };
    }

    let mut status = 0;
    // SAFETY: `status` is writable and `pid` is our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), CHILD_OK);
}
