# chapter: 7
"""dkr's default seccomp profile: which system calls a container may make.

The decisions are Docker's, written here as data and grouped by what the
calls are for. A call no rule names gets ENOSYS, "no such call", as in
Podman's profile: a C library that meets ENOSYS for a call newer than the
profile (clone3, faccessat2) falls back to an older one, where EPERM would
be an error. The calls refused on purpose, Podman's list of them and the
keyring's, get EPERM instead, so that no program takes them for calls its
kernel lacks. (A call refused for its arguments, such as clone with a
namespace flag, falls to the default: ENOSYS.)

Some calls are allowed only to a container that holds a capability (mount
needs CAP_SYS_ADMIN, as the kernel's own check does), some only on one
machine (arch_prctl on x86), and three only with arguments the profile
checks. `default_profile` resolves all that for one container and returns
the plain OCI form, as `linux.seccomp` in config.json: every name is in one
rule, except that a name with argument conditions may be in several, all of
which allow. So the order of the rules never matters.
"""

from __future__ import annotations

import errno
import os
from typing import NamedTuple

from dkr.config import Seccomp, SeccompArg, SyscallRule
from dkr.errors import DkrError
from dkr.linux.sched import CloneFlags

ALLOW = "SCMP_ACT_ALLOW"
ERRNO = "SCMP_ACT_ERRNO"
EQ, LT, MASKED_EQ = "SCMP_CMP_EQ", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ"
EPERM = errno.EPERM  # 1: "Operation not permitted", refused on purpose
ENOSYS = errno.ENOSYS  # 38: "Function not implemented", as for an unknown call

# The calls every container may make, by what they are for.
ALLOWED: dict[str, tuple[str, ...]] = {
    # Open and close file descriptors, make pipes, lock files.
    "descriptors": (
        "open", "openat", "openat2", "creat", "close", "close_range", "dup", "dup2",
        "dup3", "fcntl", "fcntl64", "flock", "pipe", "pipe2", "ioctl",
    ),
    # Read and write files, move data between descriptors, flush to disk.
    "reading and writing": (
        "read", "readv", "pread64", "preadv", "preadv2", "write", "writev",
        "pwrite64", "pwritev", "pwritev2", "lseek", "_llseek", "sendfile",
        "sendfile64", "splice", "tee", "copy_file_range", "readahead", "fadvise64",
        "fadvise64_64", "fallocate", "truncate", "truncate64", "ftruncate",
        "ftruncate64", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
    ),
    # Look at files and directories: status, access, links, listings, cache.
    "file status": (
        "stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat64",
        "newfstatat", "statx", "statfs", "statfs64", "fstatfs", "fstatfs64",
        "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents",
        "getdents64", "getcwd", "chdir", "fchdir", "cachestat", "name_to_handle_at",
    ),
    # Look at the mount tree (changing it needs CAP_SYS_ADMIN, below).
    "mount tree": ("statmount", "listmount"),
    # Make, rename and remove names in the file tree.
    "names": (
        "mkdir", "mkdirat", "mknod", "mknodat", "rmdir", "rename", "renameat",
        "renameat2", "link", "linkat", "symlink", "symlinkat", "unlink", "unlinkat",
        "umask",
    ),
    # Change a file's owner, mode and times (the kernel checks who may).
    "owners and modes": (
        "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "chown32", "fchown",
        "fchown32", "fchownat", "lchown", "lchown32", "utime", "utimes", "utimensat",
        "utimensat_time64", "futimesat",
    ),
    # Extended attributes: read, write, list and remove them.
    "extended attributes": (
        "getxattr", "lgetxattr", "fgetxattr", "getxattrat", "setxattr", "lsetxattr",
        "fsetxattr", "setxattrat", "listxattr", "llistxattr", "flistxattr",
        "listxattrat", "removexattr", "lremovexattr", "fremovexattr",
        "removexattrat",
    ),
    # Wait for descriptors to be ready, watch files for changes.
    "waiting on descriptors": (
        "poll", "ppoll", "ppoll_time64", "select", "_newselect", "pselect6",
        "pselect6_time64", "epoll_create", "epoll_create1", "epoll_ctl",
        "epoll_ctl_old", "epoll_wait", "epoll_wait_old", "epoll_pwait",
        "epoll_pwait2", "eventfd", "eventfd2", "inotify_init", "inotify_init1",
        "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
    ),
    # Asynchronous I/O (io_uring's calls are left out: they get ENOSYS, and
    # a program falls back to epoll).
    "asynchronous I/O": (
        "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents",
        "ioprio_get", "ioprio_set",
    ),
    # Map, protect, lock and share memory.
    "memory": (
        "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore",
        "msync", "mlock", "mlock2", "mlockall", "munlock", "munlockall",
        "remap_file_pages", "memfd_create", "memfd_secret", "membarrier",
        "pkey_alloc", "pkey_free", "pkey_mprotect", "mseal", "map_shadow_stack",
    ),
    # Make, run and wait for processes; their groups, sessions and limits.
    "processes": (
        "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4",
        "waitid", "waitpid", "getpid", "getppid", "gettid", "getpgid", "setpgid",
        "getpgrp", "getsid", "setsid", "prctl", "getrlimit", "setrlimit",
        "ugetrlimit", "prlimit64", "getrusage", "times", "uname", "sysinfo",
        "getrandom", "pidfd_open", "process_mrelease", "restart_syscall",
    ),
    # Threads: futexes, thread-local storage, restartable sequences.
    "threads": (
        "futex", "futex_time64", "futex_waitv", "futex_wait", "futex_wake",
        "futex_requeue", "set_robust_list", "get_robust_list", "set_tid_address",
        "get_thread_area", "set_thread_area", "rseq",
    ),
    # Scheduling: priorities, policies, CPUs.
    "scheduling": (
        "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr",
        "sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler",
        "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
        "sched_rr_get_interval", "sched_rr_get_interval_time64", "getpriority",
        "setpriority", "getcpu",
    ),
    # Who the process is: user and group IDs, capabilities.
    "identity": (
        "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32",
        "getegid", "getegid32", "getresuid", "getresuid32", "getresgid",
        "getresgid32", "getgroups", "getgroups32", "setuid", "setuid32", "setgid",
        "setgid32", "setreuid", "setreuid32", "setregid", "setregid32", "setresuid",
        "setresuid32", "setresgid", "setresgid32", "setfsuid", "setfsuid32",
        "setfsgid", "setfsgid32", "setgroups", "setgroups32", "capget", "capset",
    ),
    # Confine oneself further: a filter of one's own, Landlock's rules.
    "self-confinement": (
        "seccomp", "landlock_create_ruleset", "landlock_add_rule",
        "landlock_restrict_self",
    ),
    # Send, block, wait for and handle signals.
    "signals": (
        "kill", "tkill", "tgkill", "pidfd_send_signal", "rt_sigaction",
        "rt_sigprocmask", "rt_sigpending", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
        "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
        "sigaltstack", "sigprocmask", "sigreturn", "signalfd", "signalfd4", "pause",
    ),
    # Read the clocks, sleep, set timers (setting a clock needs CAP_SYS_TIME,
    # which the kernel checks for adjtimex and clock_adjtime itself).
    "time": (
        "time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres",
        "clock_getres_time64", "clock_nanosleep", "clock_nanosleep_time64",
        "nanosleep", "alarm", "getitimer", "setitimer", "timer_create",
        "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
        "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
        "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "adjtimex",
        "clock_adjtime", "clock_adjtime64",
    ),
    # Use sockets (making one is checked, below; i386's socketcall does all of
    # these through one number, with arguments a filter cannot read).
    "sockets": (
        "socketpair", "bind", "connect", "listen", "accept", "accept4",
        "getsockname", "getpeername", "getsockopt", "setsockopt", "send", "sendto",
        "sendmsg", "sendmmsg", "recv", "recvfrom", "recvmsg", "recvmmsg",
        "recvmmsg_time64", "shutdown", "socketcall",
    ),
    # System V IPC and POSIX message queues (the IPC namespace is the
    # container's own).
    "IPC": (
        "ipc", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop",
        "semtimedop", "semtimedop_time64", "semctl", "shmget", "shmat", "shmdt",
        "shmctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64",
        "mq_timedreceive", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
    ),
    # Trace and debug one's own processes. Before Linux 4.8 a tracer could
    # change a call after the filter had passed it; since, the filter looks
    # again, and Docker allows these to every container.
    "debugging": ("ptrace", "process_vm_readv", "process_vm_writev", "uretprobe"),
}

# The calls a machine's ABIs have and the others do not: os.uname().machine ->
# names. x86's thread-pointer and segment-table calls; the 32-bit ARM ABI's own.
ARCH_ALLOWED: dict[str, tuple[str, ...]] = {
    "x86_64": ("arch_prctl", "modify_ldt"),
    "aarch64": ("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
                "breakpoint", "cacheflush", "set_tls"),
}

# The ABIs a filter on that machine decides; calls from any other are refused.
# x86_64 runs i386 and x32 programs too, aarch64 32-bit ARM ones.
ARCHITECTURES: dict[str, tuple[str, ...]] = {
    "x86_64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "aarch64": ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
}
MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64",
            "arm64": "aarch64"}

# The calls refused to every container, with EPERM, by what they would do.
REFUSED: dict[str, tuple[str, ...]] = {
    # Boot another kernel in place of the host's.
    "kexec": ("kexec_load", "kexec_file_load"),
    # Swap, and pages moved between NUMA nodes: the host's memory, not the
    # container's. userfaultfd stalls page faults, a tool of kernel exploits;
    # vmsplice maps a process's pages into a pipe.
    "host memory": ("swapon", "swapoff", "migrate_pages", "move_pages",
                    "userfaultfd", "vmsplice"),
    # PCI configuration space, and i386's virtual-8086 mode.
    "hardware": ("pciconfig_iobase", "pciconfig_read", "pciconfig_write", "vm86",
                 "vm86old"),
    # Old calls that newer ones replaced, for binaries from long ago.
    "obsolete": ("bdflush", "nfsservctl", "uselib", "ustat", "sysfs", "nice",
                 "sgetmask", "ssetmask", "oldstat", "oldfstat", "oldlstat",
                 "olduname", "oldolduname", "swapcontext"),
    # io_getevents with a signal mask: Podman refuses them, and dkr follows
    # (Docker allows them); io_getevents does the job.
    "aio with a signal mask": ("io_pgetevents", "io_pgetevents_time64"),
    # The kernel keyring is not namespaced: a key a container adds or finds
    # is in its user's keyring on the host, shared with every other process
    # of that uid, in or out of containers. Docker refuses these three too.
    "keyring": ("keyctl", "add_key", "request_key"),
}


class Gated(NamedTuple):
    """Calls allowed only to a container that holds one of `capabilities`;
    to any other, refused with EPERM, the kernel's own answer without it."""

    names: tuple[str, ...]
    capabilities: tuple[str, ...]


GATED: tuple[Gated, ...] = (
    # Mount and unmount, change the root: what the mount namespace is for.
    # (Docker refuses pivot_root even with CAP_SYS_ADMIN, which is all the
    # kernel asks for it, as for mount.)
    Gated(("mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig",
           "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr"),
          ("CAP_SYS_ADMIN",)),
    # Make and join namespaces (clone and clone3 are checked, below).
    Gated(("unshare", "setns"), ("CAP_SYS_ADMIN",)),
    # Name the host, set disk quotas, watch whole file systems, get and set
    # the process's LSM attributes.
    Gated(("sethostname", "setdomainname", "quotactl", "quotactl_fd",
           "fanotify_init", "lookup_dcookie", "lsm_get_self_attr",
           "lsm_set_self_attr", "lsm_list_modules"), ("CAP_SYS_ADMIN",)),
    # BPF programs, performance counters, the kernel log: CAP_SYS_ADMIN's, and
    # each also its own capability's (CAP_SYSLOG since 2.6.37, the others 5.8).
    Gated(("bpf",), ("CAP_SYS_ADMIN", "CAP_BPF")),
    Gated(("perf_event_open",), ("CAP_SYS_ADMIN", "CAP_PERFMON")),
    Gated(("syslog",), ("CAP_SYS_ADMIN", "CAP_SYSLOG")),
    # Open a file by its handle, past the directories' permissions.
    Gated(("open_by_handle_at",), ("CAP_DAC_READ_SEARCH",)),
    # Set the clock: the wall clock is the host's, no namespace has its own.
    Gated(("settimeofday", "stime", "clock_settime", "clock_settime64"),
          ("CAP_SYS_TIME",)),
    # Compare, take the descriptors of, advise on another process's memory.
    Gated(("kcmp", "pidfd_getfd", "process_madvise"), ("CAP_SYS_PTRACE",)),
    # Load and unload kernel modules.
    Gated(("init_module", "finit_module", "delete_module", "query_module"),
          ("CAP_SYS_MODULE",)),
    # Process accounting, to a file of one's choice.
    Gated(("acct",), ("CAP_SYS_PACCT",)),
    # I/O ports.
    Gated(("iopl", "ioperm"), ("CAP_SYS_RAWIO",)),
    # Reboot (in a PID namespace: end it).
    Gated(("reboot",), ("CAP_SYS_BOOT",)),
    # Hang up the terminal.
    Gated(("vhangup",), ("CAP_SYS_TTY_CONFIG",)),
    # Place memory on NUMA nodes.
    Gated(("get_mempolicy", "set_mempolicy", "set_mempolicy_home_node", "mbind"),
          ("CAP_SYS_NICE",)),
    # Change the root directory.
    Gated(("chroot",), ("CAP_SYS_CHROOT",)),
)

# personality(2): only the values Docker allows. 0 is Linux, 8 (PER_LINUX32)
# makes uname report a 32-bit machine (`linux32`), 0x20000 (UNAME26) makes it
# report 2.6, 0x20008 is both; 0xffffffff asks for the current value. The
# others would change how the kernel treats the process (READ_IMPLIES_EXEC
# makes all readable memory executable, ADDR_NO_RANDOMIZE turns address
# randomization off; other systems' ABIs).
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

# socket(2): every address family but AF_ALG (the kernel's crypto API) and
# AF_VSOCK (sockets to the hypervisor and its other guests), as Docker. Docker
# allows "above 40" in one rule; compared as 64 bits that lets 0x1_00000026
# through, which the kernel takes as the int 38, AF_ALG. So the families above
# AF_VSOCK are named: AF_KCM, AF_QIPCRTR, AF_SMC, AF_XDP, AF_MCTP.
AF_ALG, AF_NFC, AF_VSOCK = 38, 39, 40
FAMILIES_ABOVE_VSOCK = (41, 42, 43, 44, 45)

# clone(2) without CAP_SYS_ADMIN: only if it makes no namespace (CLONE_NEWTIME
# is 0x80, in clone's signal byte: only unshare and clone3 take it).
NAMESPACE_FLAGS = (CloneFlags.CLONE_NEWNS | CloneFlags.CLONE_NEWCGROUP
                   | CloneFlags.CLONE_NEWUTS | CloneFlags.CLONE_NEWIPC
                   | CloneFlags.CLONE_NEWUSER | CloneFlags.CLONE_NEWPID
                   | CloneFlags.CLONE_NEWNET)


def default_profile(capabilities: list[str], machine: str | None = None) -> Seccomp:
    """The default profile for a container whose bounding set is
    `capabilities` ("CAP_…" names), on `machine` (os.uname()'s, this one's
    by default)."""
    machine = machine or os.uname().machine
    if machine not in MACHINES:
        raise DkrError(f"dkr's default seccomp profile knows x86_64 and aarch64, "
                       f"not {machine}: give --security-opt seccomp=PROFILE.json")
    machine = MACHINES[machine]
    held = set(capabilities)
    allowed = [name for names in ALLOWED.values() for name in names]
    rules = [SyscallRule(allowed + list(ARCH_ALLOWED[machine]), ALLOW)]
    rules += [SyscallRule(list(names), ERRNO, EPERM) for names in REFUSED.values()]
    for gate in GATED:
        if held & set(gate.capabilities):
            rules.append(SyscallRule(list(gate.names), ALLOW))
        else:
            rules.append(SyscallRule(list(gate.names), ERRNO, EPERM))
    rules += argument_rules("CAP_SYS_ADMIN" in held)
    return Seccomp(default_action=ERRNO, default_errno_ret=ENOSYS,
                   architectures=list(ARCHITECTURES[machine]), syscalls=rules)


def argument_rules(sys_admin: bool) -> list[SyscallRule]:
    """The rules that look at arguments: personality's values, socket's
    families, and clone's flags unless the container may make namespaces.
    clone3 passes its flags in memory, which a filter cannot read: without
    CAP_SYS_ADMIN it gets ENOSYS, and the C library falls back to clone."""
    rules = [SyscallRule(["personality"], ALLOW, args=[SeccompArg(0, value, EQ)])
             for value in PERSONALITIES]
    rules += [SyscallRule(["socket"], ALLOW, args=[SeccompArg(0, AF_ALG, LT)]),
              SyscallRule(["socket"], ALLOW, args=[SeccompArg(0, AF_NFC, EQ)])]
    rules += [SyscallRule(["socket"], ALLOW, args=[SeccompArg(0, family, EQ)])
              for family in FAMILIES_ABOVE_VSOCK]
    if sys_admin:
        return rules + [SyscallRule(["clone", "clone3"], ALLOW)]
    no_namespace = SeccompArg(0, int(NAMESPACE_FLAGS), MASKED_EQ, 0)
    return rules + [SyscallRule(["clone"], ALLOW, args=[no_namespace]),
                    SyscallRule(["clone3"], ERRNO, ENOSYS)]

