/* SPDX-License-Identifier: BSD-3-Clause */
/* The control API's bearer token ([Control] TokenFile). Read by straitd
 * (at start and at each reload: a new token takes effect with the reload)
 * and by straitctl. Errors never quote the file's content. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strait/ctl.h"

/* Reads path into out; errors are reported against (file, line, field). */
static int read_token(const char *path, char *out, size_t len, const char *file, unsigned line,
		      const char *field, struct strait_error *err)
{
	char buf[STRAIT_TOKEN_MAX + 2];
	/* O_NONBLOCK: a FIFO must not wait for a writer */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		return strait_error_set(err, -e, file, line, field, "cannot open %s: %s (create it: umask 077; "
				 "openssl rand -hex 32 > FILE)", path, strerror(e));
	}
	struct stat st;
	int rc = 0;
	size_t got = 0;
	ssize_t n = 0;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		rc = strait_error_set(err, -e, file, line, field, "cannot stat %s: %s", path, strerror(e));
	} else if (!S_ISREG(st.st_mode)) {
		rc = strait_error_set(err, -EINVAL, file, line, field, "%s is not a regular file", path);
	} else if (st.st_mode & 077) {
		rc = strait_error_set(err, -EINVAL, file, line, field, "%s has mode %04o: group or others may "
			       "read it (chmod 600 %s)", path, (unsigned)(st.st_mode & 07777), path);
	} else {
		while (got < sizeof(buf) && (n = read(fd, buf + got, sizeof(buf) - got)) > 0)
			got += (size_t)n;
		if (n < 0) {
			int e = errno;
			rc = strait_error_set(err, -e, file, line, field, "cannot read %s: %s", path, strerror(e));
		}
	}
	close(fd);
	if (rc)
		goto out;
	while (got && isspace((unsigned char)buf[got - 1]))
		got--; /* a trailing newline (or blanks) */
	bool visible = true;
	for (size_t i = 0; i < got; i++)
		visible &= buf[i] > 0x20 && buf[i] < 0x7f;
	if (!visible || got < STRAIT_TOKEN_MIN || got > STRAIT_TOKEN_MAX || got >= len)
		rc = strait_error_set(err, -EINVAL, file, line, field, "%s does not hold a token: one line of "
			       "%d to %d visible ASCII characters (openssl rand -hex 32)", path,
			       STRAIT_TOKEN_MIN, STRAIT_TOKEN_MAX);
	else {
		memcpy(out, buf, got);
		out[got] = '\0';
	}
out:
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

int strait_token_load(const struct strait_appliance_cfg *a, char *out, size_t len,
		      struct strait_error *err)
{
	return read_token(a->control.token_file, out, len, a->file, a->control.token_line,
			  "[Control] TokenFile", err);
}

int strait_token_read(const char *path, char *out, size_t len, struct strait_error *err)
{
	return read_token(path, out, len, path, 0, "", err);
}
