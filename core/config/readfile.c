/*
 * readfile.c - reading a file a person named (a configuration, a policy, exitgate.lua):
 * only a regular file, and only up to a limit.
 *
 * A path can name a FIFO (opening it waits for a writer that may never come: the VMM would
 * hang in `run`, `check` or a reload), a device (/dev/zero never ends; /dev/tty waits for a
 * keyboard) or a directory. All are refused by what they are, before a byte is read; a
 * regular file larger than the limit is refused by its size, and reading stops one byte past
 * the limit in case it grows while being read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

const char *xg_file_kind(unsigned mode)
{
	if (S_ISDIR(mode))
		return "a directory, not a file";
	if (S_ISFIFO(mode))
		return "a FIFO (a named pipe), not a file";
	if (S_ISCHR(mode))
		return "a character device, not a file";
	if (S_ISBLK(mode))
		return "a block device, not a file";
	if (S_ISSOCK(mode))
		return "a socket, not a file";
	return "not a regular file";
}

int xg_file_read(const char *path, const char *what, size_t limit, char **text, size_t *len,
		 struct xg_error *err)
{
	struct stat st;
	char *b = NULL;
	size_t n = 0, cap;
	int fd;

	/* O_NONBLOCK: opening a FIFO for reading must not wait for a writer */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err->msg, sizeof(err->msg), "cannot open %s %s: %s", what, path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err->msg, sizeof(err->msg), "cannot stat %s %s: %s", what, path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err->msg, sizeof(err->msg), "%s %s is %s", what, path,
			 xg_file_kind(st.st_mode));
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > limit) {
		snprintf(err->msg, sizeof(err->msg), "%s: larger than %zu MiB, the limit for a %s",
			 path, limit >> 20, what);
		close(fd);
		return -1;
	}
	cap = (size_t)st.st_size + 2; /* one byte past the limit at most, and the NUL */
	b = malloc(cap);
	if (!b) {
		snprintf(err->msg, sizeof(err->msg), "out of memory reading %s %s", what, path);
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t got;
		if (n + 1 >= cap) {
			char *nb;
			if (n > limit)
				break;
			nb = realloc(b, cap = cap * 2 > limit + 2 ? limit + 2 : cap * 2);
			if (!nb) {
				free(b);
				close(fd);
				snprintf(err->msg, sizeof(err->msg), "out of memory reading %s %s",
					 what, path);
				return -1;
			}
			b = nb;
		}
		got = read(fd, b + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err->msg, sizeof(err->msg), "cannot read %s %s: %s", what, path,
				 strerror(errno));
			free(b);
			close(fd);
			return -1;
		}
		if (!got)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (n > limit) {
		snprintf(err->msg, sizeof(err->msg), "%s: larger than %zu MiB, the limit for a %s",
			 path, limit >> 20, what);
		free(b);
		return -1;
	}
	b[n] = 0;
	*text = b;
	*len = n;
	return 0;
}
