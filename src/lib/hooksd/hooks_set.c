#include "hooks_set.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <wctype.h>

#include "cleanup.h"
#include "hooks_cache.h"
#include "utf8.h"
#include "xalloc.h"

/* C.UTF-8's case tables, for towlower_l(); NULL where the locale is missing (then only ASCII
 * letters are lowered). */
static locale_t utf8_locale(void)
{
	static locale_t loc;
	static bool tried;
	if (!tried) {
		tried = true;
		loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	return loc;
}

char *hooks_sort_key(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t n = strlen(name);
	/* Lowering never more than triples a byte: an invalid byte becomes U+FFFD (3 bytes). */
	char *out = xmalloc(3 * n + 1), *o = out;
	while (*p) {
		if (*p < 0x80) { /* file names are nearly always ASCII */
			*o++ = (char)(*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
			p++;
			continue;
		}
		uint32_t c;
		size_t len = utf8_decode(p, strlen((const char *)p), &c);
		p += len ? len : 1;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		else if (c >= 0x80 && utf8_locale()) /* loaded at the first non-ASCII name */
			c = (uint32_t)towlower_l((wint_t)c, utf8_locale());
		o += utf8_encode(c, o);
	}
	*o = '\0';
	return out;
}

int hooks_name_compare(const char *a, const char *b)
{
	_cleanup_free_ char *ka = hooks_sort_key(a);
	_cleanup_free_ char *kb = hooks_sort_key(b);
	int r = strcmp(ka, kb);
	return r ? (r < 0 ? -1 : 1) : strcmp(a, b);
}

static bool is_hook_file_name(const char *name)
{
	size_t n = strlen(name);
	return n >= 5 && strcmp(name + n - 5, ".json") == 0;
}

/* A directory's *.json names, unsorted. A missing directory yields none. */
static int list_dir(const char *dir, int *ret_fd, char ***ret_names, size_t *ret_n,
		    struct nh_error **err)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*ret_fd = -1;
			*ret_names = NULL;
			*ret_n = 0;
			return 0;
		}
		return nh_error_set_errno(err, errno, "hooks directory %s", dir);
	}
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return nh_error_set_errno(err, errno, "hooks directory %s", dir);
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		int e = errno;
		close(dup_fd);
		return nh_error_set_errno(err, e, "hooks directory %s", dir);
	}
	_cleanup_strv_ char **names = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno)
				return nh_error_set_errno(err, errno, "hooks directory %s", dir);
			break;
		}
		if (!is_hook_file_name(de->d_name))
			continue;
		if (n + 2 > cap) {
			cap = cap ? cap * 2 : 16;
			names = xreallocarray(names, cap, sizeof(char *));
		}
		names[n++] = xstrdup(de->d_name);
		names[n] = NULL;
	}
	*ret_fd = TAKE_FD(fd);
	*ret_names = TAKE_PTR(names);
	*ret_n = n;
	return 0;
}

struct sort_item {
	char *key; /* the lowercased name: compared with strcmp, not lowered per comparison */
	struct hook_file *file;
};

static int compare_sort_items(const void *a, const void *b)
{
	const struct sort_item *x = a, *y = b;
	int r = strcmp(x->key, y->key);
	return r ? r : strcmp(x->file->name, y->file->name);
}

/* Puts files in injection order: by lowercased name, then by raw name for a stable result. */
static void sort_files(struct hooks_set *s)
{
	struct sort_item *items = xcalloc(s->n, sizeof(*items));
	for (size_t i = 0; i < s->n; i++) {
		items[i].file = s->files[i];
		items[i].key = hooks_sort_key(s->files[i]->name);
	}
	qsort(items, s->n, sizeof(*items), compare_sort_items);
	for (size_t i = 0; i < s->n; i++) {
		s->files[i] = items[i].file;
		free(items[i].key);
	}
	free(items);
}

static int compare_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names loaded so far, sorted for bsearch: masking costs O(log n) a file, not O(n). */
static const char **taken_names(const struct hooks_set *s)
{
	const char **names = xcalloc(s->n, sizeof(char *));
	for (size_t i = 0; i < s->n; i++)
		names[i] = s->files[i]->name;
	qsort(names, s->n, sizeof(char *), compare_str_ptr);
	return names;
}

/* Loads one entry through the cache when there is one: a stat instead of a read and a parse. */
static int load_entry(struct hooks_cache *cache, int dfd, const char *dir, const char *name,
		      struct hook_file **ret, struct nh_error **err)
{
	if (!cache)
		return hook_file_load(dfd, dir, name, ret, NULL, err);
	/* Not xasprintf: this runs once per file on every container start. */
	size_t dir_len = strlen(dir), name_len = strlen(name);
	_cleanup_free_ char *path = xmalloc(dir_len + name_len + 2);
	memcpy(path, dir, dir_len);
	path[dir_len] = '/';
	memcpy(path + dir_len + 1, name, name_len + 1);
	struct stat st;
	if (fstatat(dfd, name, &st, 0) == 0 && S_ISREG(st.st_mode) &&
	    hooks_cache_lookup(cache, path, &st, ret) > 0)
		return 1;
	struct hook_file *h = NULL;
	int r = hook_file_load(dfd, dir, name, &h, &st, err);
	if (r <= 0)
		return r;
	hooks_cache_store(cache, path, &st, h);
	*ret = h;
	return 1;
}

int hooks_set_load(const char *const *dirs, size_t n_dirs, enum hooks_load_mode mode,
		   const char *cache_dir, struct hooks_set **ret, struct nh_error **err)
{
	_cleanup_hooks_set_ struct hooks_set *set = xcalloc(1, sizeof(*set));
	_cleanup_hooks_cache_ struct hooks_cache *cache =
	    cache_dir ? hooks_cache_open(cache_dir, dirs, n_dirs) : NULL;
	size_t cap = 0;

	/* Highest precedence first: a name already taken by a loaded file is masked below. */
	for (size_t di = n_dirs; di-- > 0;) {
		_cleanup_close_ int dfd = -1;
		_cleanup_strv_ char **names = NULL;
		size_t n_names = 0;
		int r = list_dir(dirs[di], &dfd, &names, &n_names, err);
		if (r < 0)
			return r;
		/* In name order, as upstream reads a directory: which invalid file fails a strict
		 * load, and the order of skipped files, must not depend on the file system. */
		if (n_names > 1)
			qsort(names, n_names, sizeof(*names), compare_str_ptr);
		_cleanup_free_ const char **taken = taken_names(set);
		size_t n_taken = set->n;
		for (size_t i = 0; i < n_names; i++) {
			const char *key = names[i];
			if (n_taken &&
			    bsearch(&key, taken, n_taken, sizeof(char *), compare_str_ptr))
				continue;
			struct hook_file *h = NULL;
			struct nh_error *file_err = NULL;
			r = load_entry(cache, dfd, dirs[di], names[i], &h, &file_err);
			if (r < 0) {
				if (mode == HOOKS_LOAD_STRICT) {
					*err = file_err;
					return r;
				}
				// NOLINTBEGIN(bugprone-sizeof-expression): an array of pointers: the element is a pointer
				set->skipped = xreallocarray(set->skipped, set->n_skipped + 1,
							     sizeof(*set->skipped));
				// NOLINTEND(bugprone-sizeof-expression)
				set->skipped[set->n_skipped++] = file_err;
				continue;
			}
			if (r == 0)
				continue;
			if (set->n == cap) {
				cap = cap ? cap * 2 : 16;
				// NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers: the element is a pointer
				set->files = xreallocarray(set->files, cap, sizeof(*set->files));
			}
			set->files[set->n++] = h;
		}
	}
	if (set->n > 1)
		sort_files(set);
	hooks_cache_commit(cache);
	*ret = TAKE_PTR(set);
	return 0;
}

struct hooks_set *hooks_set_free(struct hooks_set *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		hook_file_free(s->files[i]);
	free(s->files);
	for (size_t i = 0; i < s->n_skipped; i++)
		nh_error_free(s->skipped[i]);
	free(s->skipped);
	free(s);
	return NULL;
}
