/*
 * vm_util.h - small helpers for the programs that run inside a VM lane (static, no shell,
 * no libraries): header-only, as each program is built from one .c file plus tests/tap.c.
 */
#ifndef XG_VM_UTIL_H
#define XG_VM_UTIL_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Runs argv[0] with argv (no shell: the initramfs has none), stdout and stderr into buf
 * (NUL-terminated, truncated to n - 1 bytes; the rest is read and dropped so the child never
 * blocks). Returns the exit status, or -1 if it did not exit normally.
 */
static inline int xg_vm_run_argv(char *const argv[], char *buf, size_t n)
{
	char drop[4096];
	size_t len = 0;
	int fd[2], st;
	ssize_t r;
	pid_t pid;

	buf[0] = 0;
	if (pipe(fd) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fd[1], 1);
		dup2(fd[1], 2);
		close(fd[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		if (len < n - 1)
			r = read(fd[0], buf + len, n - 1 - len);
		else
			r = read(fd[0], drop, sizeof(drop));
		if (r <= 0)
			break;
		if (len < n - 1)
			len += r;
	}
	buf[len] = 0;
	close(fd[0]);
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
