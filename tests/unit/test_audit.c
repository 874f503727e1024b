/* test_audit.c: when records reach the log, and in what pieces. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"

static void write_host(struct audit *a, const char *host, const char *rule, bool soon)
{
	struct audit_rec r = audit_rec_init("connect", "decision");

	r.host = host;
	r.rule = rule;
	r.decision = "allow";
	assert_int_equal(soon ? audit_write_soon(a, &r) : audit_write(a, &r), 0);
}

/* The hosts of the lines in text, space-separated, each line parsed. */
static void hosts_of(const char *text, size_t len, char *out, size_t size)
{
	const char *p = text, *end = text + len;

	out[0] = '\0';
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(nl);
		json_error_t err;
		json_t *o = json_loadb(p, (size_t)(nl - p), 0, &err);
		assert_non_null(o);
		const char *h = json_string_value(json_object_get(o, "host"));
		assert_non_null(h);
		if (out[0])
			strncat(out, " ", size - strlen(out) - 1);
		strncat(out, h, size - strlen(out) - 1);
		json_decref(o);
		p = nl + 1;
	}
}

static size_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (size_t)st.st_size;
}

/* audit_write_soon: nothing reaches the file until the loop runs; then all of
 * the pass's records, in order; an immediate record writes what waits first. */
static void test_soon_waits_for_the_loop(void **state)
{
	(void)state;
	char path[] = "/tmp/sluice-audit-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct event_base *base = event_base_new();
	struct audit *a;
	assert_int_equal(audit_open(path, "t", &a), 0);
	assert_int_equal(audit_use_loop(a, base), 0);

	write_host(a, "one.test", NULL, true);
	write_host(a, "two.test", NULL, true);
	assert_int_equal(file_size(path), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	size_t after_pass = file_size(path);
	assert_true(after_pass > 0);
	write_host(a, "three.test", NULL, true);
	write_host(a, "four.test", NULL, false);
	assert_true(file_size(path) > after_pass);

	char text[4096], hosts[256];
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof(text), f);
	fclose(f);
	hosts_of(text, n, hosts, sizeof(hosts));
	assert_string_equal(hosts, "one.test two.test three.test four.test");
	audit_close(a);
	event_base_free(base);
	unlink(path);
}

/* To a pipe (stderr), a batch goes in writes of whole lines of at most
 * PIPE_BUF bytes, so lines of other processes' writes cannot split them. A
 * packet-mode pipe returns one write per read, which shows the pieces. */
static void test_pipe_pieces_are_whole_lines(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe2(p, O_DIRECT | O_CLOEXEC), 0);
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	dup2(p[1], STDERR_FILENO);

	struct audit *a;
	assert_int_equal(audit_open(NULL, "t", &a), 0);
	char *long_rule = malloc(6001);
	assert_non_null(long_rule);
	memset(long_rule, 'r', 6000);
	long_rule[6000] = '\0';
	char want[8192] = "", host[32];
	audit_hold(a);
	for (int i = 0; i < 120; i++) {
		snprintf(host, sizeof(host), "h%03d.test", i);
		write_host(a, host, i == 60 ? long_rule : NULL, false);
		if (want[0])
			strcat(want, " ");
		strcat(want, host);
	}
	assert_int_equal(audit_release(a), 0);
	dup2(saved, STDERR_FILENO);
	close(saved);
	audit_close(a);
	free(long_rule);

	static char all[1 << 16];
	size_t total = 0;
	int pieces = 0, cut = 0;
	for (;;) {
		char piece[1 << 16];
		ssize_t n = read(p[0], piece, sizeof(piece));
		if (n <= 0)
			break;
		assert_true(n <= PIPE_BUF);
		/* a piece ends a line, except where the kernel cut the one long line */
		if (piece[n - 1] != '\n') {
			assert_int_equal(n, PIPE_BUF);
			cut++;
		}
		assert_true(total + (size_t)n <= sizeof(all));
		memcpy(all + total, piece, (size_t)n);
		total += (size_t)n;
		pieces++;
	}
	close(p[0]);
	close(p[1]);
	assert_true(pieces > 3);
	assert_int_equal(cut, 1);
	char *hosts = malloc(8192);
	assert_non_null(hosts);
	hosts_of(all, total, hosts, 8192);
	assert_string_equal(hosts, want);
	free(hosts);
}

static void read_file(const char *path, char *buf, size_t size, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, size);
	assert_true(n >= 0 && (size_t)n < size);
	*len = (size_t)n;
	close(fd);
}

/* logrotate's move: the held batch goes to the moved file, later records to
 * the new one, none in both; a reopen that fails keeps the old file. */
static void test_reopen_after_move(void **state)
{
	(void)state;
	char dir[] = "/tmp/sluice-audit-XXXXXX", path[64], moved[64], buf[8192], hosts[1024];
	size_t len;
	struct audit *a;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(moved, sizeof(moved), "%s/log.1", dir);
	assert_int_equal(audit_open(path, "t", &a), 0);
	write_host(a, "a.test", NULL, false);
	audit_hold(a);
	write_host(a, "b.test", NULL, false); /* waiting in the batch */
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(audit_reopen(a), 0);
	write_host(a, "c.test", NULL, false);
	assert_int_equal(audit_release(a), 0);
	write_host(a, "d.test", NULL, false);
	read_file(moved, buf, sizeof(buf), &len);
	hosts_of(buf, len, hosts, sizeof(hosts));
	assert_string_equal(hosts, "a.test b.test");
	read_file(path, buf, sizeof(buf), &len);
	hosts_of(buf, len, hosts, sizeof(hosts));
	assert_string_equal(hosts, "c.test d.test");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* the path is now a directory (even root cannot open it for writing):
	 * the reopen fails and records go on to the file it had */
	assert_int_equal(unlink(moved), 0);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(audit_reopen(a), -EISDIR);
	write_host(a, "e.test", NULL, false);
	read_file(moved, buf, sizeof(buf), &len);
	hosts_of(buf, len, hosts, sizeof(hosts));
	assert_string_equal(hosts, "c.test d.test e.test");
	rmdir(path);
	audit_close(a);
	unlink(moved);
	unlink(path);
	rmdir(dir);
}

struct seen {
	char server[16];
	int n;
};

static void observe_cb(void *arg, const char *server, const struct audit_rec *r)
{
	struct seen *s = arg;
	(void)r;
	snprintf(s->server, sizeof(s->server), "%s", server);
	s->n++;
}

static void test_observer_sees_every_record(void **state)
{
	(void)state;
	struct audit *a;
	struct seen s = { "", 0 };
	assert_int_equal(audit_open("/dev/null", "srv", &a), 0);
	audit_set_observer(a, observe_cb, &s);
	write_host(a, "a.test", NULL, false);
	audit_hold(a);
	write_host(a, "b.test", NULL, false);
	audit_release(a);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.server, "srv");
	assert_string_equal(audit_server(a), "srv");
	audit_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soon_waits_for_the_loop),
		cmocka_unit_test(test_pipe_pieces_are_whole_lines),
		cmocka_unit_test(test_reopen_after_move),
		cmocka_unit_test(test_observer_sees_every_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
