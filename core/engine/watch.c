/*
 * watch.c - reload by itself: inotify on the configuration and policy files, and SIGHUP.
 *
 * Editors save by writing a new file and renaming it over the old one, so the watches are
 * on the directories and events are matched by file name. A burst of events (write, then
 * rename) is folded into one reload after a short quiet period. SIGHUP reaches the watcher
 * through a self-pipe: the handler only writes a byte (async-signal-safe).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "engine/engine_int.h"

static int sighup_fd = -1;

static void on_sighup(int sig)
{
	int saved = errno;
	char c = 'h';

	if (sighup_fd >= 0 && write(sighup_fd, &c, 1) < 0) {
		/* the pipe is full: a reload is pending anyway */
	}
	errno = saved;
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void add_watch(struct xg_engine *e, const char *file)
{
	char dir[PATH_MAX];
	const char *s = strrchr(file, '/');

	if (s) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(s - file), file);
		if (!dir[0])
			snprintf(dir, sizeof(dir), "/");
	} else {
		snprintf(dir, sizeof(dir), ".");
	}
	inotify_add_watch(e->inotify, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
}

static void watch_files(struct xg_engine *e)
{
	pthread_mutex_lock(&e->lock);
	if (e->cfg->path)
		add_watch(e, e->cfg->path);
	for (size_t i = 0; i < e->cfg->n; i++)
		add_watch(e, e->cfg->guests[i].policy);
	pthread_mutex_unlock(&e->lock);
}

static int is_ours(struct xg_engine *e, const char *name)
{
	int r = 0;

	pthread_mutex_lock(&e->lock);
	if (e->cfg->path && !strcmp(base(e->cfg->path), name))
		r = 1;
	for (size_t i = 0; i < e->cfg->n && !r; i++)
		r = !strcmp(base(e->cfg->guests[i].policy), name);
	pthread_mutex_unlock(&e->lock);
	return r;
}

static void do_reload(struct xg_engine *e, const char *why)
{
	struct xg_error err;

	if (xg_engine_reload(e, &err))
		xg_engine_log(e, "reload (%s) failed, the running policies stay: %s", why, err.msg);
	else
		xg_engine_log(e, "reloaded (%s)", why);
	watch_files(e);
}

static void *watcher(void *arg)
{
	struct xg_engine *e = arg;
	_Alignas(struct inotify_event) char buf[4096];
	int pending = 0;

	for (;;) {
		struct pollfd p[2] = {{e->wake[0], POLLIN, 0}, {e->inotify, POLLIN, 0}};
		int n = poll(p, 2, pending ? 10 : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && pending) {
			pending = 0;
			do_reload(e, "file changed");
			continue;
		}
		if (p[0].revents) {
			char c;
			if (read(e->wake[0], &c, 1) <= 0 || c == 'q')
				break;
			do_reload(e, "SIGHUP");
		}
		if (p[1].revents) {
			ssize_t len = read(e->inotify, buf, sizeof(buf));
			for (ssize_t off = 0; len > 0 && off < len;) {
				const struct inotify_event *ev = (const void *)(buf + off);
				if (ev->len && is_ours(e, ev->name))
					pending = 1;
				off += (ssize_t)(sizeof(*ev) + ev->len);
			}
		}
	}
	return NULL;
}

int xg_engine_watch(xg_engine *e, int handle_sighup, struct xg_error *err)
{
	if (e->watching)
		return 0;
	if (pipe2(e->wake, O_CLOEXEC | O_NONBLOCK)) {
		snprintf(err->msg, sizeof(err->msg), "pipe: %s", strerror(errno));
		return -1;
	}
	e->inotify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (e->inotify < 0) {
		snprintf(err->msg, sizeof(err->msg), "inotify: %s", strerror(errno));
		goto fail;
	}
	watch_files(e);
	if (pthread_create(&e->watcher, NULL, watcher, e)) {
		snprintf(err->msg, sizeof(err->msg), "cannot start the watcher thread");
		goto fail;
	}
	e->watching = 1;
	if (handle_sighup) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sighup;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sighup_fd = e->wake[1];
		sigaction(SIGHUP, &sa, NULL);
	}
	return 0;
fail:
	close(e->wake[0]);
	close(e->wake[1]);
	if (e->inotify >= 0)
		close(e->inotify);
	e->wake[0] = e->wake[1] = e->inotify = -1;
	return -1;
}

void xg_watch_stop(struct xg_engine *e)
{
	char q = 'q';

	if (!e->watching)
		return;
	if (sighup_fd == e->wake[1]) {
		signal(SIGHUP, SIG_DFL);
		sighup_fd = -1;
	}
	while (write(e->wake[1], &q, 1) < 0 && errno == EINTR)
		;
	pthread_join(e->watcher, NULL);
	close(e->wake[0]);
	close(e->wake[1]);
	close(e->inotify);
	e->wake[0] = e->wake[1] = e->inotify = -1;
	e->watching = 0;
}
