/*
 * What root may still do in a container: each subcommand makes one kernel
 * call that only a capability (or a shared namespace) allows, and prints
 * "ok" or the errno's name. The tests build it statically with the host's
 * gcc, so that it runs in the busybox root file system.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/acct.h>
#include <stdlib.h>
#include <sys/klog.h>
#include <sys/personality.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int report(long result) {
    if (result < 0) {
        printf("%s\n", strerrorname_np(errno));
        return 1;
    }
    printf("ok\n");
    return 0;
}

/* "shocker": a handle forged for inode 2, the root of most file systems. */
static long open_by_handle(void) {
    struct { struct file_handle handle; unsigned int words[2]; } forged;
    forged.handle.handle_bytes = 8;
    forged.handle.handle_type = 1; /* FILEID_INO32_GEN */
    forged.words[0] = 2;
    forged.words[1] = 0;
    int mount_fd = open("/", O_RDONLY | O_DIRECTORY);
    return open_by_handle_at(mount_fd, &forged.handle, O_RDONLY);
}

/* A tracing program: "return 0", as a kprobe. */
static long bpf_load(void) {
    struct bpf_insn program[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT},
    };
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_KPROBE;
    attr.insn_cnt = 2;
    attr.insns = (unsigned long)program;
    attr.license = (unsigned long)"GPL";
    return syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
}

/* Every CPU-0 event of the whole system, not just this process's. */
static long perf_system_wide(void) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    return syscall(SYS_perf_event_open, &attr, -1, 0, -1, 0);
}

static long set_clock(void) { /* to the time it is: harmless if it works */
    struct timeval now;
    gettimeofday(&now, NULL);
    return settimeofday(&now, NULL);
}

static long set_clock_realtime(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return clock_settime(CLOCK_REALTIME, &now);
}

static long read_kernel_log(void) {
    char buffer[256];
    return klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buffer, sizeof buffer);
}

/* The keyrings are the kernel's, not a namespace's: the session keyring. */
static long read_keyring(void) {
    return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* SESSION */, 0);
}

static long add_a_key(void) {
    return syscall(SYS_add_key, "user", "dkr-probe", "x", 1, -3 /* SESSION */);
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "open_by_handle_at")) return report(open_by_handle());
    if (!strcmp(what, "bpf")) return report(bpf_load());
    if (!strcmp(what, "perf_event_open")) return report(perf_system_wide());
    if (!strcmp(what, "settimeofday")) return report(set_clock());
    if (!strcmp(what, "clock_settime")) return report(set_clock_realtime());
    if (!strcmp(what, "swapon")) return report(swapon("/nonexistent", 0));
    if (!strcmp(what, "acct")) return report(acct("/nonexistent"));
    if (!strcmp(what, "syslog")) return report(read_kernel_log());
    if (!strcmp(what, "euid")) return printf("%d\n", (int)geteuid()) < 0;
    if (!strcmp(what, "keyctl")) return report(read_keyring());
    if (!strcmp(what, "add_key")) return report(add_a_key());
    if (!strcmp(what, "personality") && argc > 2) /* the probe ends right after */
        return report(personality(strtoul(argv[2], NULL, 0)));
    fprintf(stderr, "probe: unknown call %s\n", what);
    return 2;
}
