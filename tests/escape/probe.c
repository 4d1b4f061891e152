/* The escape suite's probe (tests/escape.rs): one static program that
 * tries, from inside a container (or on the host, for the keyring
 * setup), what busybox cannot, and prints one word per attempt:
 * "denied ERRNO" when the kernel refused, "allowed" when it did not, or a
 * value. The test decides what is an escape. Built with `gcc -static`. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int result(long r) {
    if (r < 0)
        printf("denied %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    else
        printf("allowed\n");
    return 0;
}

/* The descriptors open in this process, but the one reading the list. */
static int fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        printf("error %s\n", strerror(errno));
        return 1;
    }
    int own = dirfd(d);
    struct dirent *e;
    int first = 1;
    int list[4096], n = 0;
    while ((e = readdir(d)) && n < 4096) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd != own)
            list[n++] = fd;
    }
    closedir(d);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (list[j] < list[i]) {
                int t = list[i];
                list[i] = list[j];
                list[j] = t;
            }
    for (int i = 0; i < n; i++) {
        printf("%s%d", first ? "" : " ", list[i]);
        first = 0;
    }
    printf("\n");
    return 0;
}

/* "inside" when the working directory is reachable from our root. */
static int cwd(void) {
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf)) {
        printf("OUTSIDE (getcwd: %s)\n", strerror(errno));
        return 0;
    }
    if (buf[0] != '/') {
        printf("OUTSIDE %s\n", buf);
        return 0;
    }
    printf("inside %s\n", buf);
    return 0;
}

/* Which of 0, 1, 2 and /dev/tty is a terminal, and whether TIOCSTI works
 * on any of them. */
static int tty(void) {
    for (int fd = 0; fd < 3; fd++)
        printf("fd%d %s\n", fd, isatty(fd) ? "terminal" : "not-a-terminal");
    int t = open("/dev/tty", O_RDWR | O_NOCTTY);
    printf("devtty %s\n", t >= 0 ? "opened" : "denied");
    int fds[4] = {0, 1, 2, t};
    int injected = 0;
    for (int i = 0; i < 4; i++) {
        char c = ' ';
        if (fds[i] >= 0 && isatty(fds[i]) && ioctl(fds[i], TIOCSTI, &c) == 0)
            injected = 1;
    }
    printf("tiocsti %s\n", injected ? "INJECTED" : "denied");
    return 0;
}

/* The session keyring: whether a key described `name` can be found. */
static int keyring_find(const char *name) {
    long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", name, 0);
    if (id < 0) {
        printf("not-found %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
        return 0;
    }
    char buf[256] = {0};
    long n = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof buf - 1);
    printf("FOUND %s\n", n > 0 ? buf : "(unreadable)");
    return 0;
}

/* On the host: a new session keyring holding the key `name` = `value`,
 * then exec the rest of argv in that session. */
static int keyring_host(const char *name, const char *value, char **argv) {
    if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0) {
        perror("keyctl join");
        return 125;
    }
    if (syscall(SYS_add_key, "user", name, value, strlen(value), KEY_SPEC_SESSION_KEYRING) < 0) {
        perror("add_key");
        return 125;
    }
    execvp(argv[0], argv);
    perror("exec");
    return 127;
}

/* Every process visible whose executable lies outside our root filesystem
 * (berth's own, say): whether it can be written through /proc/PID/exe. */
static int foreign_exes(void) {
    struct stat root;
    if (stat("/", &root) != 0)
        return 1;
    int seen = 0, writable = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0 || pid == getpid())
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/exe", pid);
        int fd = open(path, O_PATH);
        if (fd < 0)
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_dev != root.st_dev) {
            char self[64];
            snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
            struct stat me;
            /* Our own probe binary (bind-mounted) is not what we look for. */
            if (stat("/proc/self/exe", &me) == 0 && me.st_ino == st.st_ino && me.st_dev == st.st_dev) {
                close(fd);
                continue;
            }
            seen++;
            if (access(self, W_OK) == 0) {
                writable++;
                printf("WRITABLE /proc/%d/exe\n", pid);
            }
        }
        close(fd);
    }
    if (d)
        closedir(d);
    printf("seen %d writable %d\n", seen, writable);
    return 0;
}

/* Watches for `seconds` for processes with a foreign executable and
 * reports the first that is writable (or that none was). */
static int watch_exes(int seconds) {
    struct stat root;
    stat("/", &root);
    struct stat me;
    stat("/proc/self/exe", &me);
    int seen = 0;
    for (int round = 0; round < seconds * 1000; round++) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 0 || pid == getpid())
                continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/exe", pid);
            int fd = open(path, O_PATH);
            if (fd < 0)
                continue;
            struct stat st;
            if (fstat(fd, &st) == 0 && st.st_dev != root.st_dev &&
                !(st.st_ino == me.st_ino && st.st_dev == me.st_dev)) {
                char self[64];
                snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
                seen++;
                if (access(self, W_OK) == 0) {
                    printf("WRITABLE /proc/%d/exe\n", pid);
                    fflush(stdout);
                    closedir(d);
                    return 0;
                }
            }
            close(fd);
        }
        if (d)
            closedir(d);
        if (seen > 0) {
            printf("seen %d writable 0\n", seen);
            return 0;
        }
        usleep(1000);
    }
    printf("seen 0 writable 0\n");
    return 0;
}

/* Whether any process visible has `marker` in its environment, or a
 * descriptor beyond 2 (the monitor's, inherited). */
static int scan_environ(const char *marker) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/environ", pid);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        char buf[65536];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == 0)
                buf[i] = '\n';
        buf[n] = 0;
        if (strstr(buf, marker)) {
            printf("FOUND in %d\n", pid);
            found = 1;
        }
    }
    if (d)
        closedir(d);
    if (!found)
        printf("not-found\n");
    return 0;
}

/* Which process names are visible (their argv[0] and argv[1]). */
static int ps(void) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == 0)
                buf[i] = ' ';
        buf[n] = 0;
        printf("%d %s\n", pid, buf);
    }
    if (d)
        closedir(d);
    return 0;
}

/* Waits for `dir` to appear, then plants symlinks named f0000..f(n-1) in
 * it, all pointing at `target` (the volume copy-up race). */
static int plant(const char *dir, int n, const char *target) {
    for (int i = 0; i < 600000; i++) {
        struct stat st;
        if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            break;
        usleep(100);
    }
    int made = 0;
    for (int i = 0; i < n; i++) {
        char name[PATH_MAX];
        snprintf(name, sizeof name, "%s/f%04d", dir, i);
        if (symlink(target, name) == 0)
            made++;
    }
    printf("planted %d\n", made);
    fflush(stdout);
    pause();
    return 0;
}

/* Creates `n` files f0000.. holding `content` in `dir`. */
static int make_files(const char *dir, int n, const char *content) {
    mkdir(dir, 0755);
    for (int i = 0; i < n; i++) {
        char name[PATH_MAX];
        snprintf(name, sizeof name, "%s/f%04d", dir, i);
        int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            return 1;
        if (write(fd, content, strlen(content)) < 0)
            return 1;
        close(fd);
    }
    return 0;
}

static int connect_unix(const char *path, int abstract) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    socklen_t len;
    if (abstract) {
        a.sun_path[0] = 0;
        strncpy(a.sun_path + 1, path, sizeof a.sun_path - 2);
        len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path);
    } else {
        strncpy(a.sun_path, path, sizeof a.sun_path - 1);
        len = sizeof a;
    }
    return result(connect(s, (struct sockaddr *)&a, len));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: probe WHAT [ARGS]\n");
        return 2;
    }
    const char *w = argv[1];
    if (!strcmp(w, "fds"))
        return fds();
    if (!strcmp(w, "cwd"))
        return cwd();
    if (!strcmp(w, "tty"))
        return tty();
    if (!strcmp(w, "keyring-find") && argc == 3)
        return keyring_find(argv[2]);
    if (!strcmp(w, "keyring-host") && argc > 4)
        return keyring_host(argv[2], argv[3], argv + 4);
    if (!strcmp(w, "keyctl"))
        return result(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
    if (!strcmp(w, "add_key"))
        return result(syscall(SYS_add_key, "user", "probe", "x", 1, KEY_SPEC_PROCESS_KEYRING));
    if (!strcmp(w, "request_key"))
        return result(syscall(SYS_request_key, "user", "probe", NULL, 0));
    if (!strcmp(w, "bpf")) {
        /* BPF_MAP_CREATE of a tiny array map. */
        unsigned int attr[32] = {2, 4, 4, 1};
        return result(syscall(SYS_bpf, 0, attr, sizeof attr));
    }
    if (!strcmp(w, "io_uring_setup")) {
        unsigned char params[120] = {0};
        return result(syscall(SYS_io_uring_setup, 4, params));
    }
    if (!strcmp(w, "userfaultfd"))
        /* UFFD_USER_MODE_ONLY (1): allowed unprivileged where not filtered. */
        return result(syscall(SYS_userfaultfd, O_CLOEXEC | 1));
    if (!strcmp(w, "unshare-user"))
        return result(unshare(CLONE_NEWUSER));
    if (!strcmp(w, "mount") && argc == 3)
        return result(mount("none", argv[2], "tmpfs", 0, NULL));
    if (!strcmp(w, "umount") && argc == 3)
        return result(umount2(argv[2], MNT_DETACH));
    if (!strcmp(w, "ptrace") && argc == 3)
        return result(ptrace(PTRACE_ATTACH, atoi(argv[2]), NULL, NULL));
    if (!strcmp(w, "kill0") && argc == 3)
        return result(kill(atoi(argv[2]), 0));
    if (!strcmp(w, "write") && argc == 3) {
        /* Appends nothing: opening for writing is the question. */
        return result(open(argv[2], O_WRONLY | O_APPEND));
    }
    if (!strcmp(w, "write-same") && argc == 3) {
        /* Writes the file's current content back (a harmless write). */
        char buf[4096];
        int fd = open(argv[2], O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
        if (fd >= 0)
            close(fd);
        if (n <= 0)
            n = 0;
        fd = open(argv[2], O_WRONLY);
        if (fd < 0)
            return result(-1);
        return result(write(fd, buf, n > 0 ? n : 1));
    }
    if (!strcmp(w, "writable") && argc == 3)
        return result(access(argv[2], W_OK));
    if (!strcmp(w, "mknod-open") && argc == 6) {
        mode_t kind = argv[3][0] == 'b' ? S_IFBLK : S_IFCHR;
        dev_t dev = makedev(atoi(argv[4]), atoi(argv[5]));
        if (mknod(argv[2], kind | 0600, dev) != 0 && errno != EEXIST)
            return result(-1);
        struct stat st;
        if (stat(argv[2], &st) != 0 || (st.st_mode & S_IFMT) != kind || st.st_rdev != dev) {
            /* fakeroot: mknod "succeeded" without a node. */
            printf("denied no-node\n");
            return 0;
        }
        return result(open(argv[2], O_RDONLY));
    }
    if (!strcmp(w, "open-read") && argc == 3)
        return result(open(argv[2], O_RDONLY | O_NONBLOCK));
    if (!strcmp(w, "foreign-exes"))
        return foreign_exes();
    if (!strcmp(w, "watch-exes") && argc == 3)
        return watch_exes(atoi(argv[2]));
    if (!strcmp(w, "scan-environ") && argc == 3)
        return scan_environ(argv[2]);
    if (!strcmp(w, "ps"))
        return ps();
    if (!strcmp(w, "plant") && argc == 5)
        return plant(argv[2], atoi(argv[3]), argv[4]);
    if (!strcmp(w, "make-files") && argc == 5)
        return make_files(argv[2], atoi(argv[3]), argv[4]);
    if (!strcmp(w, "connect") && argc == 3)
        return connect_unix(argv[2], 0);
    if (!strcmp(w, "connect-abstract") && argc == 3)
        return connect_unix(argv[2], 1);
    if (!strcmp(w, "sleep") && argc == 3) {
        sleep(atoi(argv[2]));
        return 0;
    }
    fprintf(stderr, "probe: unknown %s\n", w);
    return 2;
}
