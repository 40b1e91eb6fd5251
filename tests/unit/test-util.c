#include "test-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "xalloc.h"

/* Line-buffered stdout in every unit binary: cmocka prints its TAP there, and a binary that
 * crashes mid-run must still show the cases it finished (the rest count as never run). */
__attribute__((constructor)) static void tu_stdout_line_buffered(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

void tu_suite_add(struct tu_suite *s, const char *name, CMUnitTestFunction f, void *state,
		  void (*free_state)(void *))
{
	s->tests = xreallocarray(s->tests, s->n + 1, sizeof(*s->tests));
	s->names = xreallocarray(s->names, s->n + 1, sizeof(*s->names));
	s->free_state = xreallocarray(s->free_state, s->n + 1, sizeof(*s->free_state));
	s->names[s->n] = xstrdup(name);
	s->free_state[s->n] = free_state;
	s->tests[s->n] = (struct CMUnitTest){
	    .name = s->names[s->n],
	    .test_func = f,
	    .initial_state = state,
	};
	s->n++;
}

void tu_suite_add_with(struct tu_suite *s, const char *name, CMUnitTestFunction f,
		       CMFixtureFunction setup, CMFixtureFunction teardown)
{
	tu_suite_add(s, name, f, NULL, NULL);
	s->tests[s->n - 1].setup_func = setup;
	s->tests[s->n - 1].teardown_func = teardown;
}

int tu_suite_run(struct tu_suite *s, const char *group)
{
	int failed = _cmocka_run_group_tests(group, s->tests, s->n, NULL, NULL);
	for (size_t i = 0; i < s->n; i++) {
		if (s->free_state[i])
			s->free_state[i](s->tests[i].initial_state);
		free(s->names[i]);
	}
	free(s->tests);
	free(s->names);
	free(s->free_state);
	*s = (struct tu_suite){0};
	return failed;
}

char *tu_data_path(const char *name)
{
	const char *dir = getenv("NODEHOOK_TEST_DATA");
	return xasprintf("%s/%s", dir && *dir ? dir : "data", name);
}

void tu_record_free(void *p)
{
	struct tu_record *r = p;
	if (!r)
		return;
	free(r->where);
	free(r->title);
	for (size_t i = 0; i < r->n_lines; i++)
		free(r->lines[i]);
	free(r->lines);
	free(r->line_numbers);
	free(r);
}

static void record_add_line(struct tu_record *r, const char *line, size_t len, unsigned number)
{
	r->lines = xreallocarray(r->lines, r->n_lines + 1, sizeof(*r->lines));
	r->line_numbers = xreallocarray(r->line_numbers, r->n_lines + 1, sizeof(*r->line_numbers));
	r->lines[r->n_lines] = xstrndup(line, len);
	r->line_numbers[r->n_lines] = number;
	r->n_lines++;
}

static bool is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static void fail_no_records(void **state)
{
	fail_msg("%s holds no records: a data-driven test with no cases tests nothing",
		 (const char *)*state);
}

size_t tu_suite_add_records(struct tu_suite *s, const char *name, CMUnitTestFunction f)
{
	_cleanup_free_ char *path = tu_data_path(name);
	size_t len = 0;
	_cleanup_free_ char *buf = tu_read_file(path, &len);
	size_t count = 0;
	struct tu_record *cur = NULL;
	unsigned number = 0;
	for (const char *p = buf; p < buf + len;) {
		const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
		number++;
		bool blank = is_blank(p, n);
		if (!blank && !cur) {
			cur = xcalloc(1, sizeof(*cur));
			cur->where = xasprintf("%s:%u", name, number);
		}
		if (!blank && p[0] == '#') {
			if (!cur->title && cur->n_lines == 0) {
				_cleanup_free_ char *comment = xstrndup(p + 1, n - 1);
				cur->title = tu_strip(comment);
			}
		} else if (!blank) {
			record_add_line(cur, p, n, number);
		}
		bool last = !nl || nl + 1 >= buf + len;
		if ((blank || last) && cur) {
			if (cur->n_lines > 0) {
				_cleanup_free_ char *case_name =
				    xasprintf("%s %s", cur->where, cur->title ? cur->title : "");
				tu_suite_add(s, case_name, f, cur, tu_record_free);
				count++;
			} else {
				tu_record_free(cur); /* a block of comments only */
			}
			cur = NULL;
		}
		p += n + 1;
	}
	if (count == 0) {
		/* A data file that lost its records must not pass as "0 of 0 failed". */
		_cleanup_free_ char *case_name = xasprintf("%s: no records", name);
		tu_suite_add(s, case_name, fail_no_records, xstrdup(path), free);
	}
	return count;
}

void tu_check_lines(const struct tu_record *rec, size_t first,
		    char *(*check)(const char *line, void *ctx), void *ctx)
{
	size_t failures = 0;
	_cleanup_free_ char *file = xstrndup(rec->where, strcspn(rec->where, ":"));
	for (size_t i = first; i < rec->n_lines; i++) {
		_cleanup_free_ char *problem = check(rec->lines[i], ctx);
		if (problem) {
			print_error("%s:%u: %s\n", file, rec->line_numbers[i], problem);
			failures++;
		}
	}
	if (failures)
		fail_msg("%zu of %zu lines failed", failures, rec->n_lines - first);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *tu_unescape(const char *s, size_t *ret_len)
{
	if (strcmp(s, "(empty)") == 0) {
		*ret_len = 0;
		return xstrdup("");
	}
	char *out = xmalloc(strlen(s) + 1), *o = out;
	for (const char *p = s; *p; p++) {
		if (*p != '\\' || !p[1]) {
			*o++ = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'n':
			*o++ = '\n';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'v':
			*o++ = '\v';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 'x':
			if (hex_value(p[1]) >= 0 && hex_value(p[2]) >= 0) {
				*o++ = (char)(hex_value(p[1]) * 16 + hex_value(p[2]));
				p += 2;
				break;
			}
			*o++ = '\\';
			*o++ = *p;
			break;
		default:
			*o++ = *p;
			break;
		}
	}
	*o = '\0';
	*ret_len = (size_t)(o - out);
	return out;
}

char *tu_strip(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return xstrndup(s, n);
}

int tu_split_arrow(const char *line, char **ret_left, char **ret_right)
{
	const char *arrow = NULL;
	for (const char *p = strstr(line, "=>"); p; p = strstr(p + 1, "=>"))
		arrow = p;
	if (!arrow)
		return -1;
	_cleanup_free_ char *left = xstrndup(line, (size_t)(arrow - line));
	*ret_left = tu_strip(left);
	*ret_right = tu_strip(arrow + 2);
	return 0;
}

void tu_assert_error(int r, struct nh_error **err, int errnum, const char *msg, int msg_is_prefix,
		     const char *file, int line)
{
	if (r >= 0 || !*err) {
		print_error("expected error '%s', got r=%d\n", msg, r);
		_fail(file, line);
	}
	_cleanup_error_ struct nh_error *e = TAKE_PTR(*err);
	bool same =
	    msg_is_prefix ? strncmp(e->msg, msg, strlen(msg)) == 0 : strcmp(e->msg, msg) == 0;
	if (!same) {
		print_error("expected error %s\n  '%s'\ngot\n  '%s'\n",
			    msg_is_prefix ? "starting with" : "", msg, e->msg);
		_fail(file, line);
	}
	_assert_int_equal((LargestIntegralType)r, (LargestIntegralType)-errnum, file, line);
	_assert_int_equal((LargestIntegralType)e->errnum, (LargestIntegralType)errnum, file, line);
}

void tu_assert_ok(int r, struct nh_error **err, const char *file, int line)
{
	if (r < 0 || *err) {
		print_error("unexpected error r=%d: %s\n", r, *err ? (*err)->msg : "(no message)");
		*err = nh_error_free(*err);
		_fail(file, line);
	}
}

struct hook_file *tu_hook(const char *path, const char *json)
{
	struct hook_file *h = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	int r = hook_file_parse(path, json, strlen(json), &h, &err);
	if (r < 0)
		fail_msg("%s: %s", path, err ? err->msg : "(no message)");
	return h;
}

char *tu_mkdtemp(void)
{
	char *dir = xstrdup("/tmp/nodehook-unit-XXXXXX");
	if (!mkdtemp(dir))
		fail_msg("mkdtemp: %s", strerror(errno));
	return dir;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	if (remove(path) < 0 && errno != ENOENT)
		fprintf(stderr, "remove %s: %s\n", path, strerror(errno));
	return 0;
}

void tu_rm_rf(const char *path)
{
	if (path)
		(void)nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

char *tu_write_file(const char *dir, const char *name, const char *content, size_t len)
{
	char *path = tu_path(dir, name);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fail_msg("create %s: %s", path, strerror(errno));
	if (write_all(fd, content, len) < 0)
		fail_msg("write %s: %s", path, strerror(errno));
	return path;
}

size_t tu_count_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d)
		fail_msg("opendir %s: %s", dir, strerror(errno));
	size_t n = 0;
	for (struct dirent *de; (de = readdir(d));)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	return n;
}

char *tu_read_file(const char *path, size_t *ret_len)
{
	char *buf = NULL;
	_cleanup_error_ struct nh_error *err = NULL;
	if (read_file_at(AT_FDCWD, path, 64u << 20, &buf, ret_len, &err) < 0)
		fail_msg("%s", err->msg);
	return buf;
}
