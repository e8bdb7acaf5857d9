/*
 * init.c - /init of a VM lane's initramfs (static, built for the lane's architecture).
 *
 * Mounts /dev, /proc and /sys, then runs every executable in /tests in name order, one at a
 * time, each with a time limit, and prints on the console:
 *
 *	#xg-vm begin NAME
 *	...the test's TAP (stdout as it is, stderr lines as "# " comments)...
 *	#xg-vm end NAME exit 0 | exit N | signal N | timeout S
 *	#xg-vm done FAILED
 *
 * tests/vm/lane.sh on the host turns that into one TAP stream for prove. Each output line
 * goes out in one write(), so kernel messages interleave between lines, not inside them.
 * At the end /init powers the machine off: on x86 through qemu's isa-debug-exit port (qemu
 * then exits with (FAILED ? 1 : 0) << 1 | 1), elsewhere with reboot(RB_POWER_OFF) (PSCI
 * SYSTEM_OFF on arm64). PID 1 never returns: the kernel would panic.
 *
 * The kernel command line may set xg_vm.timeout=SECONDS (per test, default 300).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <sys/io.h>
#endif

#define XG_VM_TESTS	      "/tests"
#define XG_VM_MAX_TESTS	      256
#define XG_VM_DEFAULT_TIMEOUT 300

static void put_line(const char *prefix, const char *s, size_t n)
{
	char buf[4096];
	size_t p = strlen(prefix);

	if (n > sizeof(buf) - p - 1)
		n = sizeof(buf) - p - 1;
	memcpy(buf, prefix, p);
	memcpy(buf + p, s, n);
	buf[p + n] = '\n';
	if (write(1, buf, p + n + 1) < 0) {
		/* nowhere else to say it */
	}
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	put_line("", buf, n);
}

/* The console as fds 0-2, from devtmpfs if the initramfs's /dev/console was not there. */
static void setup_console(void)
{
	int fd;

	if (fcntl(1, F_GETFD) >= 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

static void mount_fs(const char *type, const char *dir)
{
	mkdir(dir, 0755);
	if (mount(type, dir, type, 0, NULL) < 0 && errno != EBUSY)
		say("#xg-vm mount %s on %s: %s", type, dir, strerror(errno));
}

static unsigned int cmdline_timeout(void)
{
	char buf[4096], *p;
	ssize_t n;
	int fd;
	long v;

	fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0)
		return XG_VM_DEFAULT_TIMEOUT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return XG_VM_DEFAULT_TIMEOUT;
	buf[n] = '\0';
	p = strstr(buf, "xg_vm.timeout=");
	if (!p)
		return XG_VM_DEFAULT_TIMEOUT;
	v = strtol(p + strlen("xg_vm.timeout="), NULL, 10);
	return v > 0 ? (unsigned int)v : XG_VM_DEFAULT_TIMEOUT;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A pipe's pending bytes, emitted a whole line at a time. */
struct xg_vm_stream {
	int fd;
	const char *prefix;
	char buf[4096];
	size_t len;
};

static void stream_flush(struct xg_vm_stream *s, int all)
{
	char *nl;
	size_t n;

	while ((nl = memchr(s->buf, '\n', s->len)) || (all && s->len)) {
		n = nl ? (size_t)(nl - s->buf) : s->len;
		put_line(s->prefix, s->buf, n);
		n = nl ? n + 1 : n;
		memmove(s->buf, s->buf + n, s->len - n);
		s->len -= n;
	}
	/* a line longer than the buffer goes out in pieces */
	if (s->len == sizeof(s->buf)) {
		put_line(s->prefix, s->buf, s->len);
		s->len = 0;
	}
}

/* Reads from the stream once; returns 0 at end of file. */
static int stream_read(struct xg_vm_stream *s)
{
	ssize_t n = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0) {
		stream_flush(s, 1);
		close(s->fd);
		s->fd = -1;
		return 0;
	}
	s->len += n;
	stream_flush(s, 0);
	return 1;
}

/* Runs one test; returns 1 when it passed (exit 0). */
static int run_test(const char *name, unsigned int timeout)
{
	struct xg_vm_stream out = {.prefix = ""}, err = {.prefix = "# "};
	char path[512];
	int po[2], pe[2], status, timed_out = 0;
	double deadline;
	pid_t pid;

	snprintf(path, sizeof(path), XG_VM_TESTS "/%s", name);
	say("#xg-vm begin %s", name);
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		say("#xg-vm end %s setup-failed pipe: %s", name, strerror(errno));
		return 0;
	}
	pid = fork();
	if (pid < 0) {
		say("#xg-vm end %s setup-failed fork: %s", name, strerror(errno));
		return 0;
	}
	if (pid == 0) {
		char *argv[] = {path, NULL};

		dup2(po[1], 1);
		dup2(pe[1], 2);
		setpgid(0, 0);
		execv(path, argv);
		dprintf(2, "cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	out.fd = po[0];
	err.fd = pe[0];
	deadline = now() + timeout;
	while (out.fd >= 0 || err.fd >= 0) {
		struct pollfd p[2] = {{.fd = out.fd, .events = POLLIN},
				      {.fd = err.fd, .events = POLLIN}};
		double left = deadline - now();

		if (left <= 0) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, 2, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		if (out.fd >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			stream_read(&out);
		if (err.fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			stream_read(&err);
	}
	if (out.fd >= 0) {
		stream_flush(&out, 1);
		close(out.fd);
	}
	if (err.fd >= 0) {
		stream_flush(&err, 1);
		close(err.fd);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out) {
		say("#xg-vm end %s timeout %u", name, timeout);
		return 0;
	}
	if (WIFSIGNALED(status)) {
		say("#xg-vm end %s signal %d (%s)", name, WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
		return 0;
	}
	say("#xg-vm end %s exit %d", name, WEXITSTATUS(status));
	return WEXITSTATUS(status) == 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void power_off(int failed)
{
	sync();
	/* What was written to the console may still sit in the UART's queue: qemu's exit would
	 * drop it (seen with two CPUs: the last lines, "#xg-vm done" among them, lost). */
	tcdrain(1);
#if defined(__x86_64__)
	/* qemu's isa-debug-exit at port 0xf4 (the lane's qemu command line) */
	if (ioperm(0xf4, 1, 1) == 0)
		outb(failed ? 1 : 0, 0xf4);
	else
		say("#xg-vm ioperm(0xf4): %s; powering off instead", strerror(errno));
#endif
	(void)failed;
	reboot(RB_POWER_OFF);
	say("#xg-vm power off failed: %s", strerror(errno));
	for (;;)
		pause();
}

int main(void)
{
	char *names[XG_VM_MAX_TESTS];
	unsigned int timeout;
	int n = 0, failed = 0, i;
	struct dirent *de;
	DIR *d;

	mount_fs("devtmpfs", "/dev");
	setup_console();
	mount_fs("proc", "/proc");
	mount_fs("sysfs", "/sys");
	setenv("PATH", "/bin:/tests", 1);
	setenv("HOME", "/", 1);
	signal(SIGPIPE, SIG_IGN);
	timeout = cmdline_timeout();

	d = opendir(XG_VM_TESTS);
	if (!d) {
		say("#xg-vm cannot open " XG_VM_TESTS ": %s", strerror(errno));
		say("#xg-vm done 1");
		power_off(1);
	}
	while ((de = readdir(d)) && n < XG_VM_MAX_TESTS) {
		char path[512];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), XG_VM_TESTS "/%s", de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
			continue;
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), by_name);
	say("#xg-vm tests %d, timeout %u s each", n, timeout);
	for (i = 0; i < n; i++)
		failed += !run_test(names[i], timeout);
	say("#xg-vm done %d", failed);
	power_off(failed);
	return 0;
}
