/*
 * Attack program for the sandbox escape suite (tests/sandbox_escape.rs).
 *
 * Runs inside `htci sandbox -- escape ATTACK [ARGS...]` and tries one
 * class of escape. Every attempt prints one line `name: result`, where
 * result is `ok` (the attempt worked), an errno name such as `EPERM`, or
 * a value. The test compares these lines with the exact outcome it
 * expects. The exit status is 0 unless the program itself is misused.
 *
 * The program never aims at any network address except 127.0.0.1 and ::1,
 * and bounds every loop so that a broken sandbox cannot hurt the host.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <unistd.h>

/* Prints `name: ok` or `name: ERRNO` for a call that returned `ret`. */
static void report(const char *name, long ret)
{
	if (ret < 0)
		printf("%s: %s\n", name, strerrorname_np(errno));
	else
		printf("%s: ok\n", name);
	fflush(stdout);
}

/* Prints the result of a raw system call with six arguments. */
static void raw(const char *name, long nr, long a, long b, long c, long d, long e, long f)
{
	errno = 0;
	report(name, syscall(nr, a, b, c, d, e, f));
}

/* Numbers of calls that newer kernel headers may no longer name. */
#if defined(SYS_lookup_dcookie)
#define NR_LOOKUP_DCOOKIE SYS_lookup_dcookie
#elif defined(__x86_64__)
#define NR_LOOKUP_DCOOKIE 212
#else
#define NR_LOOKUP_DCOOKIE 18
#endif
#if defined(SYS_nfsservctl)
#define NR_NFSSERVCTL SYS_nfsservctl
#elif defined(__x86_64__)
#define NR_NFSSERVCTL 180
#else
#define NR_NFSSERVCTL 42
#endif

/* An address in the unmapped first page: the kernel faults on it. */
#define BAD 8L

/* Executes `path` in a child and returns 0 when execve succeeded, or -1
 * with errno set to execve's error. A close-on-exec pipe carries the
 * error back: end of file without data means execve succeeded. */
static long try_exec(const char *path)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char *args[] = { (char *)path, "--version", NULL };
		char *env[] = { NULL };
		execve(path, args, env);
		int error = errno;
		if (write(pipefd[1], &error, sizeof error) < 0)
			_exit(126);
		_exit(127);
	}
	close(pipefd[1]);
	int error = 0;
	ssize_t n = read(pipefd[0], &error, sizeof error);
	close(pipefd[0]);
	waitpid(pid, NULL, 0);
	if (n == sizeof error) {
		errno = error;
		return -1;
	}
	return 0;
}

/* CVE-2019-5736: overwrite the runtime's binary through /proc. */
static int attack_write_exe(int argc, char **argv)
{
	const char *paths[] = { "/proc/self/exe", "/proc/1/exe" };
	char name[PATH_MAX + 32];

	for (size_t i = 0; i < 2; i++) {
		snprintf(name, sizeof name, "open %s for writing", paths[i]);
		int fd = open(paths[i], O_WRONLY);
		report(name, fd);

		/* The runc exploit opens the link with O_PATH first and
		 * reopens it for writing through /proc/self/fd. */
		snprintf(name, sizeof name, "open %s with O_PATH", paths[i]);
		int path_fd = open(paths[i], O_PATH);
		report(name, path_fd);
		if (path_fd >= 0) {
			char reopen[64];
			snprintf(reopen, sizeof reopen, "/proc/self/fd/%d", path_fd);
			snprintf(name, sizeof name, "reopen %s for writing", paths[i]);
			report(name, open(reopen, O_WRONLY));
		}
	}
	report("execute /proc/1/exe", try_exec("/proc/1/exe"));
	for (int i = 0; i < argc; i++) {
		snprintf(name, sizeof name, "open %s for writing", argv[i]);
		report(name, open(argv[i], O_WRONLY));
	}
	return 0;
}

/* CVE-2024-21626: a descriptor of a host directory leaked into the sandbox. */
static int attack_leaked_fd(void)
{
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof cwd))
		printf("cwd: %s\n", cwd);
	else
		printf("cwd: %s\n", strerrorname_np(errno));

	DIR *dir = opendir("/proc/self/fd");
	if (!dir) {
		report("list /proc/self/fd", -1);
		return 0;
	}
	int own = dirfd(dir);
	printf("open descriptors:");
	struct dirent *entry;
	while ((entry = readdir(dir))) {
		if (entry->d_name[0] == '.')
			continue;
		int fd = atoi(entry->d_name);
		if (fd != own)
			printf(" %d", fd);
	}
	printf("\n");
	closedir(dir);

	for (int fd = 3; fd < 64; fd++) {
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			/* Walk up from the leaked directory to the host root. */
			printf("directory descriptor %d\n", fd);
			if (fchdir(fd) == 0 && chdir("../../../../../../..") == 0 &&
			    getcwd(cwd, sizeof cwd))
				printf("escaped to: %s\n", cwd);
		}
	}

	int reached = 0;
	for (int fd = 3; fd < 64; fd++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		if (chdir(path) == 0) {
			printf("chdir %s: ok\n", path);
			reached++;
		}
	}
	printf("chdir through /proc/self/fd reached: %d\n", reached);
	fflush(stdout);
	return 0;
}

/* Tracing any process of the sandbox. */
static int attack_ptrace(void)
{
	report("ptrace attach pid 1", ptrace(PTRACE_ATTACH, 1, 0, 0));
	report("ptrace seize pid 1", ptrace(PTRACE_SEIZE, 1, 0, 0));

	pid_t child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	report("ptrace attach own child", ptrace(PTRACE_ATTACH, child, 0, 0));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	int pipefd[2];
	if (pipe(pipefd) != 0)
		return 1;
	child = fork();
	if (child == 0) {
		errno = 0;
		long ret = ptrace(PTRACE_TRACEME, 0, 0, 0);
		int saved = errno;
		if (write(pipefd[1], &saved, sizeof saved) < 0 || ret == 0)
			_exit(1);
		_exit(0);
	}
	int child_errno = 0;
	if (read(pipefd[0], &child_errno, sizeof child_errno) != sizeof child_errno)
		child_errno = 0;
	waitpid(child, NULL, 0);
	errno = child_errno;
	report("ptrace traceme", child_errno ? -1 : 0);

	char buffer[16];
	struct iovec local = { buffer, sizeof buffer };
	struct iovec remote = { (void *)0x400000, sizeof buffer };
	report("process_vm_readv pid 1", process_vm_readv(1, &local, 1, &remote, 1, 0));
	report("open /proc/1/mem", open("/proc/1/mem", O_RDWR));
	return 0;
}

/* CVE-2017-5226 and CVE-2019-10063: typing into the terminal. */
static int attack_tiocsti(void)
{
	/* A session leader cannot call setsid again, and the sandbox may
	 * have made us one: fork so the child can start its own session. */
	pid_t pid = fork();
	if (pid != 0) {
		int status = 0;
		waitpid(pid, &status, 0);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
	report("isatty stdin", isatty(0) ? 0 : -1);
	report("setsid", setsid());
	report("TIOCSCTTY", ioctl(0, TIOCSCTTY, 0));

	char c = 'x';
	raw("TIOCSTI", SYS_ioctl, 0, TIOCSTI, (long)&c, 0, 0, 0);
	raw("TIOCSTI with high bits", SYS_ioctl, 0, (long)(0xffffffff00000000UL | TIOCSTI),
	    (long)&c, 0, 0, 0);
	raw("TIOCSTI with bit 32", SYS_ioctl, 0, (long)(0x100000000UL | TIOCSTI), (long)&c, 0, 0,
	    0);
	char linux_request[2] = { 2, 0 };
	raw("TIOCLINUX", SYS_ioctl, 0, TIOCLINUX, (long)linux_request, 0, 0, 0);
	struct winsize size;
	report("TIOCGWINSZ", ioctl(0, TIOCGWINSZ, &size));
	_exit(0);
}

/* Each call the default policy denies, with invalid arguments. */
static int attack_syscalls(void)
{
	raw("keyctl", SYS_keyctl, 0x7fffffff, 0, 0, 0, 0, 0);
	raw("add_key", SYS_add_key, BAD, BAD, BAD, 0, 0, 0);
	raw("request_key", SYS_request_key, BAD, BAD, BAD, 0, 0, 0);
	raw("bpf", SYS_bpf, 0, BAD, 8, 0, 0, 0);
	raw("perf_event_open", SYS_perf_event_open, BAD, 0, -1, -1, 0, 0);
	raw("userfaultfd", SYS_userfaultfd, 1 | 0x8000, 0, 0, 0, 0, 0);
	raw("open_by_handle_at", SYS_open_by_handle_at, -1, BAD, 0, 0, 0, 0);
	raw("name_to_handle_at", SYS_name_to_handle_at, -1, BAD, BAD, BAD, 0x7fff, 0);
	raw("mount", SYS_mount, BAD, BAD, BAD, 0, BAD, 0);
	raw("umount2", SYS_umount2, BAD, 0x100, 0, 0, 0, 0);
	raw("move_mount", SYS_move_mount, -1, BAD, -1, BAD, 0xffffffff, 0);
	raw("open_tree", SYS_open_tree, -1, BAD, 0xffffffff, 0, 0, 0);
	raw("fsopen", SYS_fsopen, BAD, 0xffff, 0, 0, 0, 0);
	raw("fsconfig", SYS_fsconfig, -1, 0xffff, BAD, BAD, 0, 0);
	raw("fsmount", SYS_fsmount, -1, 0xffff, 0xffff, 0, 0, 0);
	raw("fspick", SYS_fspick, -1, BAD, 0xffff, 0, 0, 0);
	raw("mount_setattr", SYS_mount_setattr, -1, BAD, 0xffffffff, BAD, 0, 0);
	raw("pivot_root", SYS_pivot_root, BAD, BAD, 0, 0, 0, 0);
	raw("chroot", SYS_chroot, BAD, 0, 0, 0, 0, 0);
	raw("ptrace", SYS_ptrace, 0xffff, 0, 0, 0, 0, 0);
	raw("process_vm_readv", SYS_process_vm_readv, 0, BAD, 1, BAD, 1, 0xff);
	raw("process_vm_writev", SYS_process_vm_writev, 0, BAD, 1, BAD, 1, 0xff);
	raw("pidfd_getfd", SYS_pidfd_getfd, -1, -1, 1, 0, 0, 0);
	raw("kcmp", SYS_kcmp, 0, 0, 99, 0, 0, 0);
	raw("kexec_load", SYS_kexec_load, 0, 0, BAD, 0xffffffff, 0, 0);
	raw("kexec_file_load", SYS_kexec_file_load, -1, -1, 0, BAD, 0xffff, 0);
	raw("init_module", SYS_init_module, BAD, 0, BAD, 0, 0, 0);
	raw("finit_module", SYS_finit_module, -1, BAD, 0xffff, 0, 0, 0);
	raw("delete_module", SYS_delete_module, BAD, 0, 0, 0, 0, 0);
	raw("setns", SYS_setns, -1, 0, 0, 0, 0, 0);
	raw("unshare", SYS_unshare, CLONE_NEWUSER, 0, 0, 0, 0, 0);
	raw("reboot", SYS_reboot, 0, 0, 0, 0, 0, 0);
	raw("swapon", SYS_swapon, BAD, 0, 0, 0, 0, 0);
	raw("swapoff", SYS_swapoff, BAD, 0, 0, 0, 0, 0);
	raw("acct", SYS_acct, BAD, 0, 0, 0, 0, 0);
	raw("lookup_dcookie", NR_LOOKUP_DCOOKIE, 0, BAD, 0, 0, 0, 0);
	raw("quotactl", SYS_quotactl, 0, BAD, 0, BAD, 0, 0);
	raw("quotactl_fd", SYS_quotactl_fd, -1, 0, 0, BAD, 0, 0);
	raw("nfsservctl", NR_NFSSERVCTL, 0, 0, 0, 0, 0, 0);
	raw("personality", SYS_personality, 0x0040000, 0, 0, 0, 0, 0);
	raw("syslog", SYS_syslog, 9999, 0, 0, 0, 0, 0);
	raw("settimeofday", SYS_settimeofday, BAD, BAD, 0, 0, 0, 0);
	raw("clock_settime", SYS_clock_settime, 0xffff, BAD, 0, 0, 0, 0);
	raw("clock_adjtime", SYS_clock_adjtime, 0xffff, BAD, 0, 0, 0, 0);
	raw("adjtimex", SYS_adjtimex, BAD, 0, 0, 0, 0, 0);
	raw("vhangup", SYS_vhangup, 0, 0, 0, 0, 0, 0);
	raw("fanotify_init", SYS_fanotify_init, 0xffffffff, 0, 0, 0, 0, 0);
	raw("io_uring_setup", SYS_io_uring_setup, 0, BAD, 0, 0, 0, 0);
	raw("io_uring_enter", SYS_io_uring_enter, -1, 0, 0, 0, 0, 0);
	raw("io_uring_register", SYS_io_uring_register, -1, 0, 0, 0, 0, 0);
	raw("ioctl TIOCSTI", SYS_ioctl, -1, TIOCSTI, BAD, 0, 0, 0);
	raw("ioctl TIOCLINUX", SYS_ioctl, -1, TIOCLINUX, BAD, 0, 0, 0);
	/* AF_VSOCK with an invalid type: creating the socket is the test. */
	raw("socket AF_VSOCK", SYS_socket, 40, 0xff, 0, 0, 0, 0);
	/* CLONE_SIGHAND without CLONE_VM is invalid, so a clone that got
	 * through would fail with EINVAL instead of creating a process. */
	raw("clone CLONE_NEWUSER", SYS_clone, CLONE_NEWUSER | CLONE_SIGHAND, 0, 0, 0, 0, 0);
	raw("clone CLONE_NEWNS", SYS_clone, CLONE_NEWNS | CLONE_SIGHAND, 0, 0, 0, 0, 0);
	raw("clone CLONE_NEWPID", SYS_clone, CLONE_NEWPID | CLONE_SIGHAND, 0, 0, 0, 0, 0);
	raw("clone CLONE_NEWNET", SYS_clone, CLONE_NEWNET | CLONE_SIGHAND, 0, 0, 0, 0, 0);
	raw("clone CLONE_NEWUTS", SYS_clone, CLONE_NEWUTS | CLONE_SIGHAND, 0, 0, 0, 0, 0);
	raw("clone CLONE_NEWIPC", SYS_clone, CLONE_NEWIPC | CLONE_SIGHAND, 0, 0, 0, 0, 0);
	raw("clone CLONE_NEWCGROUP", SYS_clone, CLONE_NEWCGROUP | CLONE_SIGHAND, 0, 0, 0, 0, 0);
	raw("clone CLONE_NEWTIME", SYS_clone, 0x80 | CLONE_SIGHAND, 0, 0, 0, 0, 0);
#ifdef __x86_64__
	raw("iopl", SYS_iopl, 99, 0, 0, 0, 0, 0);
	raw("ioperm", SYS_ioperm, LONG_MAX, 1, 1, 0, 0, 0);
	raw("uselib", SYS_uselib, BAD, 0, 0, 0, 0, 0);
	raw("ustat", SYS_ustat, 0, BAD, 0, 0, 0, 0);
	raw("sysfs", SYS_sysfs, 99, 0, 0, 0, 0, 0);
	raw("_sysctl", SYS__sysctl, BAD, 0, 0, 0, 0, 0);
	raw("create_module", 174, BAD, 0, 0, 0, 0, 0);
	raw("get_kernel_syms", 177, BAD, 0, 0, 0, 0, 0);
	raw("query_module", 178, BAD, 0, 0, 0, 0, 0);
#endif
	/* Not EPERM: clone3 fails with ENOSYS so that glibc uses clone. */
	raw("clone3", SYS_clone3, BAD, 88, 0, 0, 0, 0);
	return 0;
}

static char child_stack[64 * 1024];

static int nested_child(void *unused)
{
	(void)unused;
	return 0;
}

/* A nested user namespace would give back every capability. */
static int attack_userns(void)
{
	report("unshare CLONE_NEWUSER", unshare(CLONE_NEWUSER));
	report("unshare CLONE_NEWNS", unshare(CLONE_NEWNS));
	report("unshare CLONE_NEWNET", unshare(CLONE_NEWNET));
	int pid = clone(nested_child, child_stack + sizeof child_stack,
			CLONE_NEWUSER | SIGCHLD, NULL);
	report("clone CLONE_NEWUSER", pid);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	pid = clone(nested_child, child_stack + sizeof child_stack,
		    CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | SIGCHLD, NULL);
	report("clone CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID", pid);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	report("open /proc/self/ns/user", open("/proc/self/ns/user", O_RDONLY));
	int fd = open("/proc/self/ns/mnt", O_RDONLY);
	report("setns own mount namespace", setns(fd, 0));
	return 0;
}

/* Mounting anything, and the cgroup v1 release_agent escape. */
static int attack_mount(void)
{
	mkdir("/tmp/escape-mnt", 0755);
	report("mount tmpfs", mount("none", "/tmp/escape-mnt", "tmpfs", 0, NULL));
	report("mount proc", mount("proc", "/tmp/escape-mnt", "proc", 0, NULL));
	report("mount bind /", mount("/", "/tmp/escape-mnt", NULL, MS_BIND | MS_REC, NULL));
	report("remount / read-write", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL));
	report("mount cgroup v1 memory",
	       mount("cgroup", "/tmp/escape-mnt", "cgroup", 0, "memory"));
	report("mount cgroup v1 rdma", mount("cgroup", "/tmp/escape-mnt", "cgroup", 0, "rdma"));
	report("mount cgroup2", mount("cgroup2", "/tmp/escape-mnt", "cgroup2", 0, NULL));
	report("umount /proc", umount2("/proc", MNT_DETACH));
	raw("fsopen cgroup", SYS_fsopen, (long)"cgroup", 0, 0, 0, 0, 0);

	/* release_agent exists only at the root of a cgroup v1 hierarchy. */
	const char *agents[] = {
		"/sys/fs/cgroup/release_agent",
		"/sys/fs/cgroup/memory/release_agent",
		"/sys/fs/cgroup/pids/release_agent",
		"/sys/fs/cgroup/systemd/release_agent",
		"/tmp/escape-mnt/release_agent",
	};
	char name[128];
	for (size_t i = 0; i < sizeof agents / sizeof *agents; i++) {
		snprintf(name, sizeof name, "write %s", agents[i]);
		report(name, open(agents[i], O_WRONLY));
	}
	return 0;
}

/* Masked /proc and /sys paths: empty or denied. */
static int attack_masked(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		const char *path = argv[i];
		struct stat st;
		if (stat(path, &st) != 0) {
			printf("%s: %s\n", path, strerrorname_np(errno));
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			DIR *dir = opendir(path);
			if (!dir) {
				printf("%s: %s\n", path, strerrorname_np(errno));
				continue;
			}
			int entries = 0;
			struct dirent *entry;
			while ((entry = readdir(dir)))
				if (entry->d_name[0] != '.')
					entries++;
			closedir(dir);
			printf("%s: %d entries\n", path, entries);
			continue;
		}
		int fd = open(path, O_RDONLY);
		if (fd < 0) {
			printf("%s: %s\n", path, strerrorname_np(errno));
			continue;
		}
		char buffer[4096];
		long total = 0;
		ssize_t n;
		while ((n = read(fd, buffer, sizeof buffer)) > 0 && total < (1 << 20))
			total += n;
		if (n < 0)
			printf("%s: %s\n", path, strerrorname_np(errno));
		else
			printf("%s: %ld bytes\n", path, total);
		close(fd);
	}
	fflush(stdout);
	return 0;
}

/* Writes a byte to each path and reports the result. */
static int attack_write_paths(int argc, char **argv)
{
	char name[PATH_MAX + 16];
	for (int i = 0; i < argc; i++) {
		snprintf(name, sizeof name, "write %s", argv[i]);
		int fd = open(argv[i], O_WRONLY | O_CREAT, 0644);
		if (fd >= 0 && write(fd, "1", 1) != 1) {
			report(name, -1);
			close(fd);
			continue;
		}
		report(name, fd);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

/* Tries to leave a set-user-id or set-group-id file in the workspace,
 * which on the host is owned by the user running htci. */
static int attack_plant_setid(void)
{
	const char *created = "/workspace/setid-created";
	const char *plain = "/workspace/setid-chmod";

	report("open O_CREAT 04755", open(created, O_CREAT | O_WRONLY, 04755));
	report("open O_CREAT 02755", open(created, O_CREAT | O_WRONLY, 02755));
	report("open O_TMPFILE 04755", open("/workspace", O_TMPFILE | O_WRONLY, 04755));
	report("creat 04755", creat(created, 04755));
	report("mknod 04755", mknod(created, S_IFREG | 04755, 0));

	int fd = open(plain, O_CREAT | O_WRONLY, 0755);
	report("open O_CREAT 0755", fd);
	report("chmod 04755", chmod(plain, 04755));
	report("chmod 02755", chmod(plain, 02755));
	report("chmod 06777", chmod(plain, 06777));
	report("fchmod 04755", fchmod(fd, 04755));
	report("fchmodat 04755", fchmodat(AT_FDCWD, plain, 04755, 0));
	raw("fchmodat2 04755", 452, AT_FDCWD, (long)plain, 04755, 0, 0, 0);
	report("chmod 01777", chmod(plain, 01777));
	report("chmod 0700", chmod(plain, 0700));

	/* File capabilities would also survive on the host; setting them
	 * needs CAP_SETFCAP, which the sandbox drops. Version 2 data:
	 * magic with the effective flag, then every capability permitted. */
	uint32_t caps[5] = { 0x02000001, 0xffffffff, 0, 0xffffffff, 0 };
	report("setxattr security.capability",
	       setxattr(plain, "security.capability", caps, sizeof caps, 0));

	/* openat2 carries the mode in a structure seccomp cannot read. */
	struct {
		uint64_t flags, mode, resolve;
	} how = { O_CREAT | O_WRONLY, 04755, 0 };
	raw("openat2 O_CREAT 04755", SYS_openat2, AT_FDCWD, (long)created, (long)&how,
	    sizeof how, 0, 0);
	return 0;
}

/* Calls that the strict policy denies and the default policy allows. */
static int attack_strict_probe(void)
{
	report("personality query", personality(0xffffffff));
	report("socket NETLINK_AUDIT", socket(AF_NETLINK, SOCK_RAW, 9));
	report("socket NETLINK_ROUTE", socket(AF_NETLINK, SOCK_RAW, 0));
	report("socket AF_UNIX", socket(AF_UNIX, SOCK_STREAM, 0));
	report("socketpair AF_INET", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){ 0 }));
	report("mbind", syscall(SYS_mbind, 0, 0, 0, 0, 0, 0));
	return 0;
}

#ifdef __x86_64__
/* Other system call ABIs of x86_64: the i386 ABI through `int 0x80` and
 * the x32 ABI (bit 30 of the number), which a filter written for x86_64
 * numbers would not recognise. */
static int attack_abi(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		/* i386 getpid is 20. */
		long ret;
		__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
		_exit(ret > 0 ? 0 : 1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status))
		printf("int 0x80 getpid: killed by %s\n", sigabbrev_np(WTERMSIG(status)));
	else
		printf("int 0x80 getpid: exited %d\n", WEXITSTATUS(status));
	raw("x32 getpid", 0x40000000L | SYS_getpid, 0, 0, 0, 0, 0, 0);
	raw("x32 mount", 0x40000000L | SYS_mount, BAD, BAD, BAD, 0, BAD, 0);
	/* open_tree_attr, Linux 6.15: newer than the policy's syscall table. */
	raw("syscall 467", 467, -1, BAD, 0xffffffff, BAD, 0, 0);
	return 0;
}
#endif

/* Prints the privilege fields of /proc/self/status. */
static void print_status(void)
{
	FILE *status = fopen("/proc/self/status", "r");
	char line[256];
	while (status && fgets(line, sizeof line, status)) {
		if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) ||
		    !strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs:", 11) ||
		    !strncmp(line, "Seccomp", 7))
			fputs(line, stdout);
	}
	if (status)
		fclose(status);
	fflush(stdout);
}

/* A setuid-root program must not raise privilege. */
static int attack_setuid(int argc, char **argv)
{
	print_status();
	printf("euid: %d\n", geteuid());
	fflush(stdout);
	if (argc == 0)
		return 0;
	/* Runs the given setuid program and prints how it ended. */
	pid_t pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		printf("exec %s: %s\n", argv[0], strerrorname_np(errno));
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	printf("%s exit: %d\n", argv[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	fflush(stdout);
	return 0;
}

/* Connects to TCP ports of the loopback addresses 127.0.0.1 and ::1. */
static int attack_network(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		int port = atoi(argv[i]);
		char name[64];

		struct sockaddr_in v4 = { .sin_family = AF_INET, .sin_port = htons(port) };
		inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		snprintf(name, sizeof name, "connect 127.0.0.1:%d", port);
		report(name, connect(fd, (struct sockaddr *)&v4, sizeof v4));
		close(fd);

		struct sockaddr_in6 v6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
		inet_pton(AF_INET6, "::1", &v6.sin6_addr);
		fd = socket(AF_INET6, SOCK_STREAM, 0);
		snprintf(name, sizeof name, "connect [::1]:%d", port);
		report(name, connect(fd, (struct sockaddr *)&v6, sizeof v6));
		close(fd);
	}

	/* Interfaces of the sandbox's network namespace. */
	FILE *dev = fopen("/proc/net/dev", "r");
	char line[512];
	printf("interfaces:");
	for (int n = 0; dev && fgets(line, sizeof line, dev); n++) {
		if (n < 2)
			continue; /* two header lines */
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		char *interface = line;
		while (*interface == ' ')
			interface++;
		printf(" %s", interface);
	}
	printf("\n");
	fflush(stdout);
	return 0;
}

/* Prints the command line of every process visible in /proc. */
static int attack_processes(void)
{
	DIR *proc = opendir("/proc");
	struct dirent *entry;
	int count = 0;
	while (proc && (entry = readdir(proc))) {
		char *end;
		long pid = strtol(entry->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char path[64], cmdline[512] = { 0 };
		snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
		int fd = open(path, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, cmdline, sizeof cmdline - 1) : 0;
		for (ssize_t i = 0; i < n; i++)
			if (!cmdline[i])
				cmdline[i] = ' ';
		if (fd >= 0)
			close(fd);
		printf("process %ld: %s\n", pid, cmdline);
		count++;
	}
	printf("processes: %d\n", count);
	fflush(stdout);
	return 0;
}

/* Forks until fork fails, at most `limit` times, then cleans up. */
static int attack_fork_bomb(int argc, char **argv)
{
	int limit = argc > 0 ? atoi(argv[0]) : 1000;
	pid_t *children = calloc(limit, sizeof *children);
	int count = 0;
	int failure = 0;
	for (; count < limit; count++) {
		pid_t pid = fork();
		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid < 0) {
			failure = errno;
			break;
		}
		children[count] = pid;
	}
	for (int i = 0; i < count; i++)
		kill(children[i], SIGKILL);
	for (int i = 0; i < count; i++)
		waitpid(children[i], NULL, 0);
	if (failure)
		printf("fork failed after %d children: %s\n", count, strerrorname_np(failure));
	else
		printf("fork bomb not stopped after %d children\n", count);
	fflush(stdout);
	return 0;
}

/* Touches memory in 16 MiB steps up to `max_mib`. */
static int attack_memory_hog(int argc, char **argv)
{
	long max_mib = argc > 0 ? atol(argv[0]) : 1024;
	long step = 16L << 20;
	long total = 0;
	while (total < (max_mib << 20)) {
		char *block = malloc(step);
		if (!block) {
			printf("malloc failed after %ld MiB\n", total >> 20);
			fflush(stdout);
			return 0;
		}
		memset(block, 1, step);
		total += step;
		printf("touched %ld MiB\n", total >> 20);
		fflush(stdout);
	}
	printf("memory hog not stopped after %ld MiB\n", total >> 20);
	fflush(stdout);
	return 0;
}

/* Ignores SIGTERM and sleeps for at most `seconds`. */
static int attack_ignore_term(int argc, char **argv)
{
	int seconds = argc > 0 ? atoi(argv[0]) : 120;
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	printf("ignoring SIGTERM\n");
	fflush(stdout);
	for (int i = 0; i < seconds; i++)
		sleep(1);
	printf("still running after %d seconds\n", seconds);
	fflush(stdout);
	return 0;
}

/* Usage: linger MARKER SECONDS. Starts three children that ignore
 * SIGTERM (one in its own session) and sleep, then sleeps itself. They
 * inherit the command line with MARKER, by which the test finds them. */
static int attack_linger(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 120;
	for (int i = 0; i < 3; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			signal(SIGTERM, SIG_IGN);
			signal(SIGHUP, SIG_IGN);
			if (i == 2)
				setsid(); /* a daemon leaves the session */
			for (int s = 0; s < seconds; s++)
				sleep(1);
			_exit(0);
		}
	}
	printf("lingering children started\n");
	fflush(stdout);
	for (int s = 0; s < seconds; s++)
		sleep(1);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: escape ATTACK [ARGS...]\n");
		return 2;
	}
	const char *attack = argv[1];
	int rest = argc - 2;
	char **args = argv + 2;

	if (!strcmp(attack, "write-exe"))
		return attack_write_exe(rest, args);
	if (!strcmp(attack, "leaked-fd"))
		return attack_leaked_fd();
	if (!strcmp(attack, "ptrace"))
		return attack_ptrace();
	if (!strcmp(attack, "tiocsti"))
		return attack_tiocsti();
	if (!strcmp(attack, "syscalls"))
		return attack_syscalls();
	if (!strcmp(attack, "userns"))
		return attack_userns();
	if (!strcmp(attack, "mount"))
		return attack_mount();
	if (!strcmp(attack, "masked"))
		return attack_masked(rest, args);
	if (!strcmp(attack, "write"))
		return attack_write_paths(rest, args);
#ifdef __x86_64__
	if (!strcmp(attack, "abi"))
		return attack_abi();
#endif
	if (!strcmp(attack, "strict-probe"))
		return attack_strict_probe();
	if (!strcmp(attack, "plant-setid"))
		return attack_plant_setid();
	if (!strcmp(attack, "setuid"))
		return attack_setuid(rest, args);
	if (!strcmp(attack, "network"))
		return attack_network(rest, args);
	if (!strcmp(attack, "processes"))
		return attack_processes();
	if (!strcmp(attack, "fork-bomb"))
		return attack_fork_bomb(rest, args);
	if (!strcmp(attack, "memory-hog"))
		return attack_memory_hog(rest, args);
	if (!strcmp(attack, "ignore-term"))
		return attack_ignore_term(rest, args);
	if (!strcmp(attack, "linger"))
		return attack_linger(rest, args);
	fprintf(stderr, "escape: unknown attack %s\n", attack);
	return 2;
}
