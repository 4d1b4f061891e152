/*
 * sstrace: which of a program's instructions a command runs, and in what
 * order. A profiling aid for bench/launch-order.sh, not part of berth.
 *
 *   sstrace OUT LO HI EXE -- COMMAND [ARG...]
 *
 * Runs COMMAND under ptrace and follows every process and thread it starts
 * (fork, vfork, clone, exec). Processes whose executable is EXE are
 * single-stepped; the others run freely until they exec. Each instruction
 * address in [LO, HI) that such a process executes is written to OUT, in
 * hexadecimal, the first time it is seen (at a granularity of 16 bytes,
 * which is finer than any function's alignment). Stops when COMMAND's
 * process exits, and exits with its status: the processes it left running
 * (a detached container's monitor) are detached and go on untraced.
 *
 * Why single-stepping: sampling misses the many short functions that run
 * once per launch, and each one missed leaves a page of code to be faulted
 * in on its own. A launch is a few million instructions, so stepping it
 * takes about two minutes. Needs no PMU (these machines are VMs without
 * one). Run it as root when COMMAND execs a set-user-ID helper (newuidmap):
 * a traced exec loses set-user-ID unless the tracer is privileged.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

/* Per-tid flags; pids never exceed pid_max, whose ceiling is 2^22. */
#define MAX_PID (1 << 22)
static unsigned char *runs_exe; /* the thread's executable is EXE */
static unsigned char *state;    /* 0 unseen, 1 traced, 2 gone (exited or detached) */
static pid_t tids[65536];       /* every thread seen, for the final detach */
static int ntids;
static const char *exe;

static int is_exe(pid_t tid)
{
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/%d/exe", tid);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0)
        return 0;
    target[n] = 0;
    return strcmp(target, exe) == 0;
}

/* Steps a thread of EXE; lets any other run to its next event. */
static void resume(pid_t tid, int sig)
{
    ptrace(runs_exe[tid] ? PTRACE_SINGLESTEP : PTRACE_CONT, tid, 0, sig);
}

int main(int argc, char **argv)
{
    if (argc < 7 || strcmp(argv[5], "--") != 0) {
        fprintf(stderr, "usage: sstrace OUT LO HI EXE -- COMMAND [ARG...]\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 2;
    }
    unsigned long lo = strtoul(argv[2], NULL, 0), hi = strtoul(argv[3], NULL, 0);
    exe = argv[4];
    if (hi <= lo || hi - lo > (1UL << 32)) {
        fprintf(stderr, "sstrace: bad range %s-%s\n", argv[2], argv[3]);
        return 2;
    }
    unsigned char *seen = calloc((hi - lo) / 16 + 1, 1);
    runs_exe = calloc(MAX_PID, 1);
    state = calloc(MAX_PID, 1);
    if (!seen || !runs_exe || !state) {
        perror("calloc");
        return 2;
    }

    /* Seized (not PTRACE_TRACEME) so that PTRACE_INTERRUPT can stop a
     * thread blocked in a system call for the final detach; the child
     * waits on a pipe until it is seized, then execs. */
    int go[2];
    if (pipe(go) < 0) {
        perror("pipe");
        return 2;
    }
    pid_t child = fork();
    if (child == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) < 0)
            _exit(127);
        execvp(argv[6], argv + 6);
        perror(argv[6]);
        _exit(127);
    }
    close(go[0]);
    if (ptrace(PTRACE_SEIZE, child, NULL,
               PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                   PTRACE_O_TRACEEXEC) < 0) {
        perror("PTRACE_SEIZE");
        return 2;
    }
    state[child] = 1;
    tids[ntids++] = child;
    close(go[1]);

    long steps = 0, found = 0;
    int status, exit_status = 1, draining = 0;
    pid_t tid;
    for (;;) {
        if (draining) {
            int left = 0;
            for (int i = 0; i < ntids; i++)
                left += state[tids[i]] == 1 && runs_exe[tids[i]];
            if (!left) {
                /* A trap queued just before the last PTRACE_CONT still
                 * stops its thread: give those a moment to show. */
                usleep(200000);
                while ((tid = waitpid(-1, &status, __WALL | WNOHANG)) > 0)
                    if (WIFSTOPPED(status))
                        ptrace(PTRACE_DETACH, tid, NULL,
                               WSTOPSIG(status) == SIGTRAP || (status >> 16) ? 0 : WSTOPSIG(status));
                break; /* the rest runs untraced once we exit */
            }
        }
        tid = waitpid(-1, &status, __WALL);
        if (tid < 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: every traced process is gone */
        }
        if (tid >= MAX_PID)
            continue;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            state[tid] = 2;
            if (tid == child) {
                exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                /* Detach what is still stepped, each at its next stop:
                 * left stepping, its next instruction would trap with
                 * no tracer, and SIGTRAP would kill it. */
                draining = 1;
                for (int i = 0; i < ntids; i++)
                    if (state[tids[i]] == 1 && runs_exe[tids[i]])
                        ptrace(PTRACE_INTERRUPT, tids[i], NULL, NULL);
            }
            continue;
        }
        if (!WIFSTOPPED(status))
            continue;
        int sig = WSTOPSIG(status), event = status >> 16;
        if (state[tid] == 0) {
            state[tid] = 1;
            runs_exe[tid] = is_exe(tid);
            if (ntids < (int)(sizeof tids / sizeof tids[0]))
                tids[ntids++] = tid;
        }
        if (event == PTRACE_EVENT_EXEC)
            runs_exe[tid] = is_exe(tid);
        if (draining) {
            if (!event && sig == SIGTRAP) {
                /* a step's trap: detached with it suppressed */
                ptrace(PTRACE_DETACH, tid, NULL, 0);
                state[tid] = 2;
            } else {
                /* Run on unstepped (PTRACE_CONT clears the trap flag); a
                 * step's trap still queued stops it once more, above. */
                runs_exe[tid] = 0;
                ptrace(PTRACE_CONT, tid, NULL, event ? 0 : sig);
            }
            continue;
        }
        if (event) {
            /* fork, clone, exec, or a new thread's or a seized stop */
            resume(tid, 0);
            continue;
        }
        if (sig == SIGTRAP && runs_exe[tid]) {
            steps++;
            errno = 0;
            unsigned long rip =
                (unsigned long)ptrace(PTRACE_PEEKUSER, tid, offsetof(struct user, regs.rip), NULL);
            if (errno == 0 && rip >= lo && rip < hi && !seen[(rip - lo) / 16]) {
                seen[(rip - lo) / 16] = 1;
                fprintf(out, "%lx\n", rip);
                found++;
            }
            resume(tid, 0);
            continue;
        }
        resume(tid, sig);
    }
    fclose(out);
    fprintf(stderr, "sstrace: %ld steps, %ld addresses\n", steps, found);
    return exit_status;
}
