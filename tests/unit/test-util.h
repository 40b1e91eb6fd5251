/* Helpers shared by the unit test binaries: data-driven cases, error assertions, temp trees.
 *
 * Ownership rule: a tu_suite owns the names and states of the cases added to it and frees them
 * in tu_suite_run(). Strings returned by tu_* functions belong to the caller (free()). */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "error.h"
#include "hook_file.h"

/* An existing file every test machine has, for hook.path. */
#define TU_HOOK_PATH "/bin/sh"

/* A list of cmocka cases built at run time, so that each record of a data file is a case. */
struct tu_suite {
	struct CMUnitTest *tests;
	size_t n;
	void (**free_state)(void *);
	char **names;
};

/* Adds a case. name is copied; state is handed to the case as *state and released after the run
 * with free_state (may be NULL). */
void tu_suite_add(struct tu_suite *s, const char *name, CMUnitTestFunction f, void *state,
		  void (*free_state)(void *));
#define tu_suite_add_test(s, f) tu_suite_add((s), #f, (f), NULL, NULL)

/* Adds a case with cmocka setup and teardown functions (they own *state between them). */
void tu_suite_add_with(struct tu_suite *s, const char *name, CMUnitTestFunction f,
		       CMFixtureFunction setup, CMFixtureFunction teardown);
#define tu_suite_add_fixture(s, f, setup, teardown)                                                \
	tu_suite_add_with((s), #f, (f), (setup), (teardown))

/* Skips the current case, saying why. cmocka 1.1.5's skip() takes no reason and prints its TAP
 * line as "not ok N # SKIP name"; tests/unit/cmocka-tap turns the reason printed here and that
 * line into "ok N - name # SKIP reason". Like skip(), leaves the case at once. */
#define tu_skip(reason)                                                                            \
	do {                                                                                       \
		print_message("# skip reason: %s\n", (reason));                                    \
		skip();                                                                            \
	} while (0)

/* Runs every case, frees the suite, returns the number of failures (main's exit code). */
int tu_suite_run(struct tu_suite *s, const char *group);

/* One record of a data file: a run of non-blank lines. '#' lines are comments; the first comment
 * of a record is its title. Lines keep their leading white space. */
struct tu_record {
	char *where; /* "file:line" of the first line */
	char *title;
	char **lines;
	unsigned *line_numbers;
	size_t n_lines;
};

void tu_record_free(void *r);

/* Reads $NODEHOOK_TEST_DATA/name (or data/name) and adds one case per record, named
 * "file:line title", running f with the record as its state. Returns the number of records;
 * with none, adds a case that fails saying so. */
size_t tu_suite_add_records(struct tu_suite *s, const char *name, CMUnitTestFunction f);

/* Checks rec->lines[first..] with check(line, ctx), which returns NULL or what went wrong (freed
 * here). Every failing line is reported with its file and line number, then the case fails. */
void tu_check_lines(const struct tu_record *rec, size_t first,
		    char *(*check)(const char *line, void *ctx), void *ctx);

/* Path of a data file: $NODEHOOK_TEST_DATA/name, or data/name. */
char *tu_data_path(const char *name);

/* Decodes \n \t \v \f \r \\ \" \xHH in s (test notation for subjects); "(empty)" is "". */
char *tu_unescape(const char *s, size_t *ret_len);

/* Returns a copy of s with leading and trailing white space removed. */
char *tu_strip(const char *s);

/* Splits "left => right" at the last " => "; returns 0, or -1 if there is none. */
int tu_split_arrow(const char *line, char **ret_left, char **ret_right);

/* Asserts that a call failed with -errnum and set *err to exactly msg (msg_is_prefix: msg starts
 * it), then frees *err. Failures are reported at the caller's line. */
void tu_assert_error(int r, struct nh_error **err, int errnum, const char *msg, int msg_is_prefix,
		     const char *file, int line);
#define assert_error(r, err, errnum, msg)                                                          \
	tu_assert_error((r), (err), (errnum), (msg), 0, __FILE__, __LINE__)
#define assert_error_prefix(r, err, errnum, msg)                                                   \
	tu_assert_error((r), (err), (errnum), (msg), 1, __FILE__, __LINE__)

/* Asserts r >= 0 and no error, reporting the error text otherwise. */
void tu_assert_ok(int r, struct nh_error **err, const char *file, int line);
#define assert_ok(r, err) tu_assert_ok((r), (err), __FILE__, __LINE__)

/* Parses a hook file from a string, asserting success. path also names the file. */
struct hook_file *tu_hook(const char *path, const char *json);

/* Temporary directories under /tmp; tu_rm_rf removes a tree without following symlinks. */
char *tu_mkdtemp(void);
void tu_rm_rf(const char *path);
/* Creates dir/name with content (mode 0644) and returns its path. */
char *tu_write_file(const char *dir, const char *name, const char *content, size_t len);
char *tu_path(const char *dir, const char *name);
/* Number of entries in dir, "." and ".." excluded. */
size_t tu_count_entries(const char *dir);
/* Reads a whole file, asserting success. */
char *tu_read_file(const char *path, size_t *ret_len);
