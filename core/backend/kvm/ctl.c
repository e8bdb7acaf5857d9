/*
 * ctl.c - the control socket of a run: a Unix stream socket where `exitgate ctl` sends one
 * command line and reads the answer, a line per vCPU concerned, then "ok" or a line
 * starting "error: ". One connection at a time, served on the main thread; a client that
 * sends nothing within two seconds is dropped, so a stuck client cannot stall the run.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/kvm/vmm.h"

struct xg_ctl {
	int fd;
	char path[108];
};

static int sun_of(struct sockaddr_un *a, const char *path, struct xg_error *err)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path)) {
		snprintf(err->msg, sizeof(err->msg),
			 "control socket path '%s' is longer than the %zu bytes a Unix socket "
			 "allows; choose a shorter --ctl path",
			 path, sizeof(a->sun_path) - 1);
		return -1;
	}
	memcpy(a->sun_path, path, strlen(path) + 1);
	return 0;
}

struct xg_ctl *xg_ctl_open(const char *path, struct xg_error *err)
{
	struct sockaddr_un a;
	struct xg_ctl *c;
	struct stat st;
	int probe;

	if (sun_of(&a, path, err))
		return NULL;
	/* A socket file left by a run that died is replaced; one a live run answers is not. */
	if (!stat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err->msg, sizeof(err->msg),
				 "control socket path '%s' exists and is not a socket", path);
			return NULL;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && !connect(probe, (struct sockaddr *)&a, sizeof(a))) {
			close(probe);
			snprintf(err->msg, sizeof(err->msg),
				 "control socket '%s' belongs to a run that is still going; "
				 "choose another --ctl path",
				 path);
			return NULL;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&a, sizeof(a)) || listen(c->fd, 8)) {
		snprintf(err->msg, sizeof(err->msg), "control socket '%s': %s", path,
			 strerror(errno));
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return NULL;
	}
	chmod(path, 0600); /* the socket can stop guests: its owner only */
	return c;
}

int xg_ctl_fd(struct xg_ctl *c)
{
	return c->fd;
}

void xg_ctl_serve(struct xg_ctl *c, struct xg_vmm *m)
{
	struct timeval tv = {2, 0};
	char line[256];
	size_t n = 0;
	FILE *f;
	int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (n < sizeof(line) - 1) {
		ssize_t r = read(fd, line + n, 1);
		if (r <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return;
	}
	if (!n)
		fprintf(f, "error: empty command\n");
	else if (!xg_vmm_command(m, line, f))
		fprintf(f, "ok\n");
	fclose(f);
}

void xg_ctl_close(struct xg_ctl *c)
{
	close(c->fd);
	unlink(c->path);
	free(c);
}
