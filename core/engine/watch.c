/*
 * watch.c - reload by itself: inotify on the configuration and policy files, and SIGHUP.
 *
 * Editors save by writing a new file and renaming it over the old one, so the watches are
 * on the directories and events are matched by directory and file name. A file reached
 * through a symlink is also watched where the link resolves to (its target edited in place
 * changes nothing in the link's directory); the links are resolved again at every re-arm.
 * A watched directory that goes away (removed, renamed: IN_DELETE_SELF, IN_MOVE_SELF,
 * IN_IGNORED, inotify(7)) is looked for again every XG_WATCH_REARM_MS; when it is back the
 * watches are re-armed and the policies reloaded, since what it holds may be new.
 *
 * A file renamed over a watched name (IN_MOVED_TO, what editors and deploy tools do) is
 * complete when the event comes: rename(2) is atomic, so it is reloaded at once, with no
 * wait. A file written in place (IN_CREATE, IN_CLOSE_WRITE) may come in a burst of writes
 * (a shell's `>` then `>>`, a tool closing and reopening it): those are folded into one
 * reload after a quiet period of settle_ms (XG_WATCH_SETTLE_MS, default 10), restarted by
 * each event. A rename reloads everything, so it ends a quiet period in progress too.
 *
 * SIGHUP reaches the watcher through a flag and a self-pipe: the handler sets the flag and
 * writes a byte (async-signal-safe); the pipe is only a wakeup, so a storm of signals is one
 * reload and a full pipe loses nothing. The watcher is stopped by closing the pipe's write
 * end, which no number of pending bytes can hide.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine_int.h"

#define XG_WATCH_REARM_MS   200
#define XG_WATCH_SETTLE_MS  10 /* the quiet period after an in-place write */
#define XG_WATCH_SETTLE_MAX 60000
#define XG_WATCH_EVENTS	    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF)

/* Shared with the handler, which runs on whatever thread the signal lands on, and the
 * watcher thread: lock-free atomics, which a handler may touch (C11 7.14.1.1) and which
 * order the flag against the wakeup it is read after. */
static atomic_int sighup_fd = -1;
/* What SIGHUP did before an engine took it (restored when that engine stops watching, so
 * an embedder's own handler, or the default, is back once the engine is gone). */
static struct sigaction sighup_before;
static int sighup_taken;
static atomic_int sighup_pending;

static void on_sighup(int sig)
{
	int saved = errno, fd = atomic_load(&sighup_fd);
	char c = 'h';

	(void)sig;
	atomic_store(&sighup_pending, 1);
	if (fd >= 0 && write(fd, &c, 1) < 0) {
		/* the pipe is full: a wakeup is pending anyway */
	}
	errno = saved;
}

/* What the watcher thread keeps: the directories it watches and the files it looks for. */
struct wdir {
	int wd;
	char path[PATH_MAX];
};

struct wfile {
	char dir[PATH_MAX];
	char name[NAME_MAX + 1];
};

struct watchset {
	struct xg_engine *e;
	struct wdir *d;
	size_t nd;
	struct wfile *f;
	size_t nf;
	int lost;      /* a directory is missing: try again every XG_WATCH_REARM_MS */
	int settle_ms; /* quiet period folding a burst of in-place writes */
};

static void split(const char *file, char *dir, char *name)
{
	const char *s = strrchr(file, '/');

	if (s) {
		snprintf(dir, PATH_MAX, "%.*s", (int)(s - file), file);
		if (!dir[0])
			snprintf(dir, PATH_MAX, "/");
		snprintf(name, NAME_MAX + 1, "%s", s + 1);
	} else {
		snprintf(dir, PATH_MAX, ".");
		snprintf(name, NAME_MAX + 1, "%s", file);
	}
}

static int add_file(struct watchset *w, const char *file)
{
	struct wfile *f = realloc(w->f, (w->nf + 1) * sizeof(*w->f));

	if (!f)
		return -1;
	w->f = f;
	split(file, f[w->nf].dir, f[w->nf].name);
	w->nf++;
	return 0;
}

/* The file as named, and where it resolves to when that differs (a symlink on the way). */
static int add_path(struct watchset *w, const char *file)
{
	char real[PATH_MAX];

	if (add_file(w, file))
		return -1;
	if (realpath(file, real) && strcmp(real, file))
		return add_file(w, real);
	return 0;
}

static int has_wd(const struct wdir *d, size_t n, int wd)
{
	for (size_t i = 0; i < n; i++)
		if (d[i].wd == wd)
			return 1;
	return 0;
}

/* (Re)build the watches from the configuration in force; sets w->lost if a directory is
 * missing. Watches no longer needed are removed. */
static void arm(struct watchset *w)
{
	struct xg_engine *e = w->e;
	struct wdir *nd;
	size_t n = 0;

	w->nf = 0;
	pthread_mutex_lock(&e->lock);
	if (e->cfg->path)
		add_path(w, e->cfg->path);
	for (size_t i = 0; i < e->cfg->n; i++)
		add_path(w, e->cfg->guests[i].policy);
	pthread_mutex_unlock(&e->lock);
	nd = calloc(w->nf + 1, sizeof(*nd));
	if (!nd) {
		w->lost = 1; /* try again later */
		return;
	}
	w->lost = 0;
	for (size_t i = 0; i < w->nf; i++) {
		int wd = inotify_add_watch(e->inotify, w->f[i].dir, XG_WATCH_EVENTS);
		if (wd < 0) {
			w->lost = 1;
			continue;
		}
		nd[n].wd = wd;
		snprintf(nd[n].path, sizeof(nd[n].path), "%s", w->f[i].dir);
		n++;
	}
	for (size_t i = 0; i < w->nd; i++)
		if (!has_wd(nd, n, w->d[i].wd) && !has_wd(w->d, i, w->d[i].wd))
			inotify_rm_watch(e->inotify, w->d[i].wd);
	free(w->d);
	w->d = nd;
	w->nd = n;
}

/*
 * The quiet period after an in-place write: XG_WATCH_SETTLE_MS in the environment (0 ..
 * XG_WATCH_SETTLE_MAX ms), else the default. 0 or -1 with a message.
 */
static int settle_ms(int *out, struct xg_error *err)
{
	const char *s = getenv("XG_WATCH_SETTLE_MS");
	char *end;
	long v;

	*out = XG_WATCH_SETTLE_MS;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > XG_WATCH_SETTLE_MAX) {
		snprintf(err->msg, sizeof(err->msg),
			 "XG_WATCH_SETTLE_MS='%.40s': want whole milliseconds, 0 to %d", s,
			 XG_WATCH_SETTLE_MAX);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int is_ours(const struct watchset *w, int wd, const char *name)
{
	for (size_t i = 0; i < w->nd; i++) {
		if (w->d[i].wd != wd)
			continue;
		for (size_t k = 0; k < w->nf; k++)
			if (!strcmp(w->f[k].dir, w->d[i].path) && !strcmp(w->f[k].name, name))
				return 1;
	}
	return 0;
}

static void do_reload(struct watchset *w, const char *why)
{
	struct xg_error err;

	if (xg_engine_reload(w->e, &err))
		xg_engine_log(w->e, "reload (%s) failed, the running policies stay: %s", why,
			      err.msg);
	else
		xg_engine_log(w->e, "reloaded (%s)", why);
	arm(w);
}

static void *watcher(void *arg)
{
	struct watchset *w = arg;
	struct xg_engine *e = w->e;
	_Alignas(struct inotify_event) char buf[4096];
	int pending = 0;

	for (;;) {
		struct pollfd p[2] = {{e->wake[0], POLLIN, 0}, {e->inotify, POLLIN, 0}};
		int renamed = 0;
		int n = poll(p, 2, pending ? w->settle_ms : w->lost ? XG_WATCH_REARM_MS : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && pending) {
			pending = 0;
			do_reload(w, "file changed");
			continue;
		}
		if (n == 0 && w->lost) {
			arm(w);
			if (!w->lost) /* everything is back, maybe with new contents */
				do_reload(w, "watched directory back");
			continue;
		}
		if (p[0].revents) {
			char c[64];
			ssize_t r;
			while ((r = read(e->wake[0], c, sizeof(c))) > 0)
				;
			if (r == 0)
				break; /* xg_watch_stop closed the write end */
			if (atomic_exchange(&sighup_pending, 0))
				do_reload(w, "SIGHUP");
		}
		if (p[1].revents) {
			ssize_t len = read(e->inotify, buf, sizeof(buf));
			for (ssize_t off = 0; len > 0 && off < len;) {
				const struct inotify_event *ev = (const void *)(buf + off);
				/* IN_IGNORED of a watch arm() dropped is no loss */
				if ((ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) &&
				     has_wd(w->d, w->nd, ev->wd)) ||
				    (ev->mask & IN_Q_OVERFLOW))
					w->lost = 1;
				/* after IN_MOVE_SELF it would watch the moved directory */
				if (ev->mask & IN_MOVE_SELF)
					inotify_rm_watch(e->inotify, ev->wd);
				if (ev->len && is_ours(w, ev->wd, ev->name)) {
					if (ev->mask & IN_MOVED_TO)
						renamed = 1; /* complete: no quiet period */
					else
						pending = 1;
				}
				off += (ssize_t)(sizeof(*ev) + ev->len);
			}
		}
		if (renamed) {
			/* the reload reads every file: writes before it are in; a write
			 * still open gives its IN_CLOSE_WRITE later, and a reload then */
			pending = 0;
			do_reload(w, "file changed");
		}
	}
	free(w->d);
	free(w->f);
	free(w);
	return NULL;
}

int xg_engine_watch(xg_engine *e, int handle_sighup, struct xg_error *err)
{
	struct watchset *w;

	if (e->watching)
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -1;
	}
	w->e = e;
	if (settle_ms(&w->settle_ms, err)) {
		free(w);
		return -1;
	}
	if (pipe2(e->wake, O_CLOEXEC | O_NONBLOCK)) {
		snprintf(err->msg, sizeof(err->msg), "pipe: %s", strerror(errno));
		free(w);
		return -1;
	}
	e->inotify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (e->inotify < 0) {
		snprintf(err->msg, sizeof(err->msg), "inotify: %s", strerror(errno));
		goto fail;
	}
	arm(w);
	if (pthread_create(&e->watcher, NULL, watcher, w)) {
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
		atomic_store(&sighup_fd, e->wake[1]);
		sigaction(SIGHUP, &sa, sighup_taken ? NULL : &sighup_before);
		sighup_taken = 1;
	}
	return 0;
fail:
	close(e->wake[0]);
	close(e->wake[1]);
	if (e->inotify >= 0)
		close(e->inotify);
	e->wake[0] = e->wake[1] = e->inotify = -1;
	free(w->d);
	free(w->f);
	free(w);
	return -1;
}

/* Tell the watcher to stop: closing the write end is seen however many bytes wait. */
static void tell_stop(struct xg_engine *e)
{
	if (e->wake[1] < 0)
		return;
	if (atomic_load(&sighup_fd) == e->wake[1]) {
		/* the last engine that took SIGHUP gives it back to what had it before */
		sigaction(SIGHUP, &sighup_before, NULL);
		sighup_taken = 0;
		atomic_store(&sighup_fd, -1);
	}
	close(e->wake[1]);
	e->wake[1] = -1;
}

static void stopped(struct xg_engine *e)
{
	close(e->wake[0]);
	close(e->inotify);
	e->wake[0] = e->inotify = -1;
	e->watching = 0;
}

int xg_engine_unwatch(xg_engine *e, double grace)
{
	struct timespec ts;

	if (!e->watching)
		return 0;
	tell_stop(e);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)grace;
	ts.tv_nsec += (long)((grace - (double)(time_t)grace) * 1e9);
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	if (pthread_timedjoin_np(e->watcher, NULL, &ts))
		return -1; /* inside a reload that has not ended */
	stopped(e);
	return 0;
}

void xg_watch_stop(struct xg_engine *e)
{
	if (!e->watching)
		return;
	tell_stop(e);
	pthread_join(e->watcher, NULL);
	stopped(e);
}
