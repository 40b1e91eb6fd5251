/* The hooks.d parse cache: hits, invalidation, distrust of damaged or foreign cache files.
 *
 * A hit is observed through the one thing a hit skips: the check that hook.path exists. A file
 * whose hook binary was removed after it was cached still loads from the cache, and fails when
 * read afresh. The racy-timestamp rule means files must be older than two seconds to be cached:
 * the fixture sleeps once for that. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"

#include "hooks_set.h"

struct fixture {
	char *root;	 /* everything below is inside */
	char *hooks_dir; /* 10-a.json (hook = bin/a), 20-b.json (hook = bin/b) */
	char *bin_dir;
	char *cache_dir;
	char *cache_file; /* found after the first load */
};

static char *hook_json(const char *bin, const char *arg)
{
	char *s = NULL;
	if (asprintf(&s,
		     "{\"version\":\"1.0.0\",\"hook\":{\"path\":\"%s\",\"args\":[\"x\",\"%s\"]},"
		     "\"when\":{\"annotations\":{\"^team$\":\"^rt$\"},\"commands\":[\"sh$\"]},"
		     "\"stages\":[\"prestart\",\"poststop\"]}",
		     bin, arg) < 0)
		abort();
	return s;
}

static void write_hook(struct fixture *f, const char *name, const char *bin_name, const char *arg)
{
	char *bin = tu_path(f->bin_dir, bin_name);
	free(tu_write_file(f->bin_dir, bin_name, "", 0));
	char *json = hook_json(bin, arg);
	free(tu_write_file(f->hooks_dir, name, json, strlen(json)));
	free(json);
	free(bin);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->root = tu_mkdtemp();
	f->hooks_dir = tu_path(f->root, "hooks.d");
	f->bin_dir = tu_path(f->root, "bin");
	f->cache_dir = tu_path(f->root, "cache");
	if (mkdir(f->hooks_dir, 0755) < 0 || mkdir(f->bin_dir, 0755) < 0)
		// cppcheck-suppress memleak ; a failed setup ends this test binary, f with it
		return -1;
	write_hook(f, "10-a.json", "a", "one");
	write_hook(f, "20-b.json", "b", "two");
	/* Files changed within the last two seconds are never cached. */
	sleep(3);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	tu_rm_rf(f->root);
	free(f->root);
	free(f->hooks_dir);
	free(f->bin_dir);
	free(f->cache_dir);
	free(f->cache_file);
	free(f);
	return 0;
}

static int load(struct fixture *f, bool cached, struct hooks_set **ret, struct nh_error **err)
{
	const char *dirs[] = {f->hooks_dir};
	return hooks_set_load(dirs, 1, HOOKS_LOAD_STRICT, cached ? f->cache_dir : NULL, ret, err);
}

/* Loads with the cache and returns "name:arg,name:arg" for comparison. */
static char *load_summary(struct fixture *f, bool cached)
{
	struct hooks_set *set = NULL;
	struct nh_error *err = NULL;
	int r = load(f, cached, &set, &err);
	if (r < 0) {
		char *msg = strdup(err->msg);
		nh_error_free(err);
		return msg;
	}
	char *out = strdup("");
	for (size_t i = 0; i < set->n; i++) {
		const struct hook_file *h = set->files[i];
		char *next = NULL;
		if (asprintf(&next, "%s%s%s:%s:%zu:%zu:%s", out, i ? "," : "", h->name,
			     h->hook.args[1], h->n_stages, h->when.n_annotations,
			     h->when.commands[0].src) < 0)
			abort();
		free(out);
		out = next;
	}
	hooks_set_free(set);
	return out;
}

static char *find_cache_file(struct fixture *f)
{
	char *cmd = NULL, line[4096] = "";
	if (asprintf(&cmd, "ls %s/hooks-*.cache 2>/dev/null", f->cache_dir) < 0)
		abort();
	FILE *p = popen(cmd, "r");
	free(cmd);
	if (!p)
		return NULL;
	char *got = fgets(line, sizeof(line), p);
	pclose(p);
	if (!got)
		return NULL;
	line[strcspn(line, "\n")] = '\0';
	return strdup(line);
}

static void test_cache_hit_skips_reparse(void **state)
{
	struct fixture *f = *state;
	char *fresh = load_summary(f, false);
	assert_string_equal(fresh, "10-a.json:one:2:1:sh$,20-b.json:two:2:1:sh$");

	char *first = load_summary(f, true);
	assert_string_equal(first, fresh);
	f->cache_file = find_cache_file(f);
	assert_non_null(f->cache_file);
	struct stat st;
	assert_int_equal(stat(f->cache_file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Remove a hook binary: a fresh load fails, a cached one is served from the cache. */
	char *bin = tu_path(f->bin_dir, "a");
	assert_int_equal(unlink(bin), 0);
	char *uncached = load_summary(f, false);
	assert_non_null(strstr(uncached, "faccessat"));
	char *cached = load_summary(f, true);
	assert_string_equal(cached, fresh);
	free(tu_write_file(f->bin_dir, "a", "", 0));

	free(bin);
	free(fresh);
	free(first);
	free(uncached);
	free(cached);
}

static void test_changed_file_is_reparsed(void **state)
{
	struct fixture *f = *state;
	free(load_summary(f, true)); /* warm */
	/* Same size, new content: mtime/ctime move, and the file is too recent to cache again. */
	write_hook(f, "20-b.json", "b", "TWO");
	char *s = load_summary(f, true);
	assert_string_equal(s, "10-a.json:one:2:1:sh$,20-b.json:TWO:2:1:sh$");
	free(s);
	write_hook(f, "20-b.json", "b", "two");
}

static void test_removed_and_added_files(void **state)
{
	struct fixture *f = *state;
	free(load_summary(f, true));
	char *b = tu_path(f->hooks_dir, "20-b.json");
	size_t saved_len = 0;
	char *saved = tu_read_file(b, &saved_len);
	assert_int_equal(unlink(b), 0);
	char *s = load_summary(f, true);
	assert_string_equal(s, "10-a.json:one:2:1:sh$");
	free(s);
	write_hook(f, "05-c.json", "c", "three");
	s = load_summary(f, true);
	assert_string_equal(s, "05-c.json:three:2:1:sh$,10-a.json:one:2:1:sh$");
	free(s);
	char *c = tu_path(f->hooks_dir, "05-c.json");
	assert_int_equal(unlink(c), 0);
	free(tu_write_file(f->hooks_dir, "20-b.json", saved, saved_len));
	free(c);
	free(b);
	free(saved);
}

/* Damages the cache file with fn, then checks that the cache is not trusted: a load with a
 * removed hook binary must fail as a fresh load does. */
static void assert_cache_distrusted(struct fixture *f, void (*damage)(const char *path))
{
	free(load_summary(f, true));
	char *path = find_cache_file(f);
	assert_non_null(path);
	damage(path);
	char *bin = tu_path(f->bin_dir, "a");
	assert_int_equal(unlink(bin), 0);
	char *s = load_summary(f, true);
	assert_non_null(strstr(s, "faccessat"));
	free(s);
	free(tu_write_file(f->bin_dir, "a", "", 0));
	free(bin);
	free(path);
}

static void flip_middle_byte(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	unsigned char c;
	off_t mid = st.st_size / 2;
	assert_int_equal(pread(fd, &c, 1, mid), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, mid), 1);
	close(fd);
}

static void truncate_half(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size / 2), 0);
}

static void make_world_writable(const char *path)
{
	assert_int_equal(chmod(path, 0666), 0);
}

static void replace_with_symlink(const char *path)
{
	char *moved = NULL;
	if (asprintf(&moved, "%s.real", path) < 0)
		abort();
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(symlink(moved, path), 0);
	free(moved);
}

static void test_corrupted_cache_ignored(void **state)
{
	assert_cache_distrusted(*state, flip_middle_byte);
}

static void test_truncated_cache_ignored(void **state)
{
	assert_cache_distrusted(*state, truncate_half);
}

static void test_writable_cache_ignored(void **state)
{
	assert_cache_distrusted(*state, make_world_writable);
}

static void test_symlinked_cache_ignored(void **state)
{
	assert_cache_distrusted(*state, replace_with_symlink);
}

static void test_unusable_cache_dir(void **state)
{
	struct fixture *f = *state;
	/* A cache dir path below a regular file cannot be created: loading still works. */
	char *file = tu_write_file(f->root, "plain", "", 0);
	char *saved = f->cache_dir;
	f->cache_dir = tu_path(file, "cache");
	char *s = load_summary(f, true);
	assert_string_equal(s, "10-a.json:one:2:1:sh$,20-b.json:two:2:1:sh$");
	free(s);
	free(f->cache_dir);
	f->cache_dir = saved;
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cache_hit_skips_reparse),
	    cmocka_unit_test(test_changed_file_is_reparsed),
	    cmocka_unit_test(test_removed_and_added_files),
	    cmocka_unit_test(test_corrupted_cache_ignored),
	    cmocka_unit_test(test_truncated_cache_ignored),
	    cmocka_unit_test(test_writable_cache_ignored),
	    cmocka_unit_test(test_symlinked_cache_ignored),
	    cmocka_unit_test(test_unusable_cache_dir),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
