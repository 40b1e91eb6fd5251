#include "hooks_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "fileio.h"
#include "regex_go.h"
#include "xalloc.h"

#define CACHE_MAGIC "NHHOOKC\n"
#define CACHE_FORMAT 1u
#define CACHE_MAX_SIZE (64u << 20)
/* Timestamps this close to "now" may hide a rewrite in the same tick: such files are not cached. */
#define CACHE_RACY_SECONDS 2

/* File identity: what must be unchanged for a cached parse to be valid. */
struct file_key {
	uint64_t dev, ino;
	int64_t size, mtime_s, mtime_ns, ctime_s, ctime_ns;
};

struct cache_entry {
	char *path;
	struct file_key key;
	const unsigned char *record; /* into the loaded buffer */
	size_t record_len;
	uint32_t code_first, code_count;
	const struct hook_file *hook; /* set on a hit or a store: what commit writes */
};

struct hooks_cache {
	char *path;
	bool usable; /* false: never look up, never save */
	struct timespec now;
	unsigned char *buf;	     /* the loaded file */
	struct cache_entry *entries; /* loaded, sorted by path */
	size_t n_entries;
	pcre2_code **codes; /* decoded from the loaded file; NULL once handed out */
	size_t n_codes;
	struct cache_entry *stored; /* new this run */
	size_t n_stored;
	size_t n_hits;
};

/* --- byte buffers ---------------------------------------------------------------------- */

struct wbuf {
	unsigned char *p;
	size_t len, cap;
};

static void w_bytes(struct wbuf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 256;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void w_u8(struct wbuf *b, uint8_t v)
{
	w_bytes(b, &v, 1);
}

static void w_u32(struct wbuf *b, uint32_t v)
{
	w_bytes(b, &v, sizeof(v));
}

static void w_u64(struct wbuf *b, uint64_t v)
{
	w_bytes(b, &v, sizeof(v));
}

static void w_str(struct wbuf *b, const char *s)
{
	size_t n = strlen(s);
	w_u32(b, (uint32_t)n);
	w_bytes(b, s, n);
}

static void w_strv(struct wbuf *b, char **v)
{
	if (!v) {
		w_u32(b, UINT32_MAX);
		return;
	}
	uint32_t n = 0;
	while (v[n])
		n++;
	w_u32(b, n);
	for (uint32_t i = 0; i < n; i++)
		w_str(b, v[i]);
}

struct rbuf {
	const unsigned char *p;
	size_t left;
	bool bad;
};

static bool r_bytes(struct rbuf *b, void *out, size_t n)
{
	if (b->bad || n > b->left) {
		b->bad = true;
		return false;
	}
	memcpy(out, b->p, n);
	b->p += n;
	b->left -= n;
	return true;
}

static uint8_t r_u8(struct rbuf *b)
{
	uint8_t v = 0;
	r_bytes(b, &v, 1);
	return v;
}

static uint32_t r_u32(struct rbuf *b)
{
	uint32_t v = 0;
	r_bytes(b, &v, sizeof(v));
	return v;
}

static uint64_t r_u64(struct rbuf *b)
{
	uint64_t v = 0;
	r_bytes(b, &v, sizeof(v));
	return v;
}

/* Returns a view into the buffer (not NUL-terminated) through ret/ret_len. */
static bool r_view(struct rbuf *b, const unsigned char **ret, size_t *ret_len)
{
	uint32_t n = r_u32(b);
	if (b->bad || n > b->left) {
		b->bad = true;
		return false;
	}
	*ret = b->p;
	*ret_len = n;
	b->p += n;
	b->left -= n;
	return true;
}

/* A bump allocator over the single block that holds a cached hook_file and all its strings and
 * arrays: one malloc and one free per file instead of a dozen each. */
struct arena {
	char *base;
	size_t used, cap;
};

static void *a_alloc(struct arena *a, size_t n, bool *bad)
{
	size_t start = (a->used + 7) & ~(size_t)7;
	if (*bad || start > a->cap || n > a->cap - start) {
		*bad = true;
		return NULL;
	}
	a->used = start + n;
	return a->base + start;
}

static char *r_str(struct rbuf *b, struct arena *a)
{
	const unsigned char *s;
	size_t n;
	if (!r_view(b, &s, &n))
		return NULL;
	if (memchr(s, '\0', n)) {
		b->bad = true;
		return NULL;
	}
	char *out = a_alloc(a, n + 1, &b->bad);
	if (!out)
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

static char **r_strv(struct rbuf *b, struct arena *a)
{
	uint32_t n = r_u32(b);
	if (b->bad || n == UINT32_MAX)
		return NULL;
	if (n > b->left / 4) {
		b->bad = true;
		return NULL;
	}
	char **v = a_alloc(a, (n + 1) * sizeof(char *), &b->bad);
	if (!v)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		v[i] = r_str(b, a);
		if (!v[i]) {
			b->bad = true;
			return NULL;
		}
	}
	v[n] = NULL;
	return v;
}

/* Reads a string into a fresh heap allocation (for the cache file's own fields). */
static char *r_heap_str(struct rbuf *b)
{
	const unsigned char *s;
	size_t n;
	if (!r_view(b, &s, &n) || memchr(s, '\0', n)) {
		b->bad = true;
		return NULL;
	}
	return xstrndup((const char *)s, n);
}

/* A fast 64-bit checksum over 8-byte words; detects torn and corrupted files, not attacks
 * (the ownership and mode checks are for those). */
static uint64_t checksum(const unsigned char *p, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325) ^ n;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = (h ^ w) * UINT64_C(0x100000001b3);
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * UINT64_C(0x100000001b3);
	return h;
}

/* --- hook_file (de)serialisation -------------------------------------------------------- */

static void record_write(struct wbuf *b, const struct hook_file *h)
{
	w_str(b, h->version);
	w_str(b, h->hook.path);
	w_strv(b, h->hook.args);
	w_strv(b, h->hook.env);
	w_u8(b, h->hook.has_timeout);
	w_u64(b, (uint64_t)h->hook.timeout);
	w_u8(b, (uint8_t)(int8_t)h->when.always);
	w_u8(b, (uint8_t)(int8_t)h->when.has_bind_mounts);
	w_u8(b, h->when.or_mode);
	w_u8(b, h->when.annotations_set);
	w_u32(b, (uint32_t)h->when.n_annotations);
	for (size_t i = 0; i < h->when.n_annotations; i++) {
		w_str(b, h->when.annotations[i].key_src);
		w_str(b, h->when.annotations[i].value_src);
	}
	w_u32(b, (uint32_t)h->when.n_commands);
	for (size_t i = 0; i < h->when.n_commands; i++)
		w_str(b, h->when.commands[i].src);
	w_u32(b, (uint32_t)h->n_stages);
	for (size_t i = 0; i < h->n_stages; i++)
		w_u8(b, (uint8_t)h->stages[i]);
}

static size_t record_code_count(const struct hook_file *h)
{
	return h->when.n_annotations * 2 + h->when.n_commands;
}

static int8_t tristate(uint8_t v, bool *bad)
{
	int8_t t = (int8_t)v;
	if (t < -1 || t > 1)
		*bad = true;
	return t;
}

/* Rebuilds a hook_file from a record, as one block (see struct arena); takes
 * codes[0..n_codes) (ownership moves on success only). */
static struct hook_file *record_read(const char *path, const unsigned char *rec, size_t len,
				     pcre2_code **codes, size_t n_codes)
{
	/* Every 4-byte length prefix in the record yields at most a pointer, a NUL and padding,
	 * or one rule struct per 8 bytes: 8x the record bounds the block. */
	size_t path_len = strlen(path);
	size_t cap = sizeof(struct hook_file) + 8 * len + path_len + 64;
	struct arena a = {.base = xmalloc(cap), .cap = cap};
	struct rbuf b = {.p = rec, .left = len};
	/* The struct and its path open the block; cap leaves room for both. */
	struct hook_file *h = (struct hook_file *)a.base;
	*h = (struct hook_file){.single_block = true};
	h->path = a.base + sizeof(*h);
	memcpy(h->path, path, path_len + 1);
	a.used = sizeof(*h) + path_len + 1;
	const char *slash = strrchr(h->path, '/');
	h->name = slash ? (char *)slash + 1 : h->path;

	h->version = r_str(&b, &a);
	h->hook.path = r_str(&b, &a);
	h->hook.args = r_strv(&b, &a);
	h->hook.env = r_strv(&b, &a);
	h->hook.has_timeout = r_u8(&b) != 0;
	h->hook.timeout = (int64_t)r_u64(&b);
	// NOLINTNEXTLINE(bugprone-signed-char-misuse,cert-str34-c): tristate() is -1/0/1 by design, not a character
	h->when.always = tristate(r_u8(&b), &b.bad);
	// NOLINTNEXTLINE(bugprone-signed-char-misuse,cert-str34-c): tristate() is -1/0/1 by design, not a character
	h->when.has_bind_mounts = tristate(r_u8(&b), &b.bad);
	h->when.or_mode = r_u8(&b) != 0;
	h->when.annotations_set = r_u8(&b) != 0;
	uint32_t n_ann = r_u32(&b);
	if (n_ann > b.left / 8)
		b.bad = true;
	struct hook_annotation_rule *ann = a_alloc(&a, n_ann * sizeof(*ann), &b.bad);
	for (uint32_t i = 0; i < n_ann && !b.bad; i++) {
		ann[i] = (struct hook_annotation_rule){0};
		ann[i].key_src = r_str(&b, &a);
		ann[i].value_src = r_str(&b, &a);
	}
	uint32_t n_cmd = r_u32(&b);
	if (n_cmd > b.left / 4)
		b.bad = true;
	struct hook_command_rule *cmd = a_alloc(&a, n_cmd * sizeof(*cmd), &b.bad);
	for (uint32_t i = 0; i < n_cmd && !b.bad; i++) {
		cmd[i] = (struct hook_command_rule){0};
		cmd[i].src = r_str(&b, &a);
	}
	uint32_t n_stages = r_u32(&b);
	if (n_stages > b.left)
		b.bad = true;
	enum oci_stage *stages = a_alloc(&a, n_stages * sizeof(*stages), &b.bad);
	for (uint32_t i = 0; i < n_stages && !b.bad; i++) {
		uint8_t st = r_u8(&b);
		if (st >= OCI_STAGE__MAX)
			b.bad = true;
		stages[i] = (enum oci_stage)st;
	}
	if (b.bad || b.left != 0 || !h->version || !h->hook.path ||
	    (size_t)n_ann * 2 + n_cmd != n_codes) {
		free(a.base);
		return NULL;
	}

	/* Same order as append_codes(): key and value per annotation rule, then commands. */
	for (uint32_t i = 0; i < n_ann; i++) {
		ann[i].key = TAKE_PTR(codes[2 * (size_t)i]);
		ann[i].value = TAKE_PTR(codes[2 * (size_t)i + 1]);
	}
	for (uint32_t i = 0; i < n_cmd; i++)
		cmd[i].re = TAKE_PTR(codes[2 * n_ann + i]);
	h->when.annotations = ann;
	h->when.n_annotations = n_ann;
	h->when.commands = cmd;
	h->when.n_commands = n_cmd;
	h->stages = stages;
	h->n_stages = n_stages;
	return h;
}

/* --- the cache file ---------------------------------------------------------------------- */

static struct file_key key_of(const struct stat *st)
{
	return (struct file_key){
	    .dev = (uint64_t)st->st_dev,
	    .ino = (uint64_t)st->st_ino,
	    .size = (int64_t)st->st_size,
	    .mtime_s = (int64_t)st->st_mtim.tv_sec,
	    .mtime_ns = (int64_t)st->st_mtim.tv_nsec,
	    .ctime_s = (int64_t)st->st_ctim.tv_sec,
	    .ctime_ns = (int64_t)st->st_ctim.tv_nsec,
	};
}

static bool key_equal(const struct file_key *a, const struct file_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static const char *pcre2_version(void)
{
	static char version[64];
	if (!version[0] && pcre2_config(PCRE2_CONFIG_VERSION, version) < 0)
		strcpy(version, "unknown");
	return version;
}

static int compare_entries(const void *a, const void *b)
{
	return strcmp(((const struct cache_entry *)a)->path, ((const struct cache_entry *)b)->path);
}

static void cache_reset(struct hooks_cache *c)
{
	for (size_t i = 0; i < c->n_entries; i++)
		free(c->entries[i].path);
	free(c->entries);
	for (size_t i = 0; i < c->n_codes; i++)
		pcre2_code_free(c->codes[i]);
	free(c->codes);
	free(c->buf);
	c->entries = NULL;
	c->n_entries = 0;
	c->codes = NULL;
	c->n_codes = 0;
	c->buf = NULL;
}

static void read_key(struct rbuf *b, struct file_key *k)
{
	k->dev = r_u64(b);
	k->ino = r_u64(b);
	k->size = (int64_t)r_u64(b);
	k->mtime_s = (int64_t)r_u64(b);
	k->mtime_ns = (int64_t)r_u64(b);
	k->ctime_s = (int64_t)r_u64(b);
	k->ctime_ns = (int64_t)r_u64(b);
}

static void write_key(struct wbuf *b, const struct file_key *k)
{
	w_u64(b, k->dev);
	w_u64(b, k->ino);
	w_u64(b, (uint64_t)k->size);
	w_u64(b, (uint64_t)k->mtime_s);
	w_u64(b, (uint64_t)k->mtime_ns);
	w_u64(b, (uint64_t)k->ctime_s);
	w_u64(b, (uint64_t)k->ctime_ns);
}

/* Loads and checks the cache file; on any problem the cache stays empty. */
static void cache_load(struct hooks_cache *c)
{
	_cleanup_close_ int fd =
	    open(c->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)))
		return;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return;
	_cleanup_error_ struct nh_error *err = NULL;
	char *data = NULL;
	size_t len = 0;
	if (read_full_fd(fd, CACHE_MAX_SIZE, &data, &len, &err) < 0)
		return;
	c->buf = (unsigned char *)data;
	if (len < 8 + 8 || memcmp(data, CACHE_MAGIC, 8) != 0)
		return cache_reset(c);
	uint64_t sum;
	memcpy(&sum, c->buf + len - 8, 8);
	if (sum != checksum(c->buf, len - 8))
		return cache_reset(c);

	struct rbuf b = {.p = c->buf + 8, .left = len - 16};
	_cleanup_free_ char *version = NULL, *pcre_version = NULL;
	uint32_t format = r_u32(&b);
	version = r_heap_str(&b);
	pcre_version = r_heap_str(&b);
	if (b.bad || format != CACHE_FORMAT || strcmp(version, NODEHOOK_VERSION) != 0 ||
	    strcmp(pcre_version, pcre2_version()) != 0)
		return cache_reset(c);

	uint32_t n = r_u32(&b);
	if (b.bad || n > b.left / 64)
		return cache_reset(c);
	c->entries = xcalloc(n, sizeof(*c->entries));
	uint64_t total_codes = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct cache_entry *e = &c->entries[i];
		e->path = r_heap_str(&b);
		c->n_entries = i + 1;
		read_key(&b, &e->key);
		e->code_first = (uint32_t)total_codes;
		e->code_count = r_u32(&b);
		total_codes += e->code_count;
		if (!r_view(&b, &e->record, &e->record_len) || !e->path || total_codes > UINT32_MAX)
			return cache_reset(c);
		if (i > 0 && strcmp(c->entries[i - 1].path, e->path) >= 0)
			return cache_reset(
			    c); /* written sorted and unique; anything else is junk */
	}
	const unsigned char *blob = NULL;
	size_t blob_len = 0;
	if (!r_view(&b, &blob, &blob_len) || b.left != 0)
		return cache_reset(c);
	if (total_codes > 0) {
		if (blob_len < 16 ||
		    pcre2_serialize_get_number_of_codes(blob) != (int32_t)total_codes)
			return cache_reset(c);
		c->codes = xcalloc(total_codes, sizeof(pcre2_code *));
		if (pcre2_serialize_decode(c->codes, (int32_t)total_codes, blob, NULL) !=
		    (int32_t)total_codes)
			return cache_reset(c);
		c->n_codes = total_codes;
	}
}

static uint64_t dirs_hash(const char *const *dirs, size_t n_dirs)
{
	struct wbuf b = {0};
	for (size_t i = 0; i < n_dirs; i++)
		w_bytes(&b, dirs[i], strlen(dirs[i]) + 1);
	uint64_t h = checksum(b.p, b.len);
	free(b.p);
	return h;
}

struct hooks_cache *hooks_cache_open(const char *cache_dir, const char *const *dirs, size_t n_dirs)
{
	struct hooks_cache *c = xcalloc(1, sizeof(*c));
	(void)clock_gettime(CLOCK_REALTIME, &c->now);
	if (mkdir(cache_dir, 0700) < 0 && errno != EEXIST)
		return c;
	struct stat st;
	if (lstat(cache_dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)))
		return c;
	c->path = xasprintf("%s/hooks-%016llx.cache", cache_dir,
			    (unsigned long long)dirs_hash(dirs, n_dirs));
	c->usable = true;
	cache_load(c);
	return c;
}

int hooks_cache_lookup(struct hooks_cache *c, const char *path, const struct stat *st,
		       struct hook_file **ret)
{
	if (!c || !c->usable || c->n_entries == 0)
		return 0;
	struct cache_entry probe = {.path = (char *)path};
	struct cache_entry *e =
	    bsearch(&probe, c->entries, c->n_entries, sizeof(*c->entries), compare_entries);
	struct file_key k = key_of(st);
	if (!e || e->hook || !key_equal(&e->key, &k))
		return 0;
	if ((size_t)e->code_first + e->code_count > c->n_codes)
		return 0;
	pcre2_code **codes = c->codes + e->code_first;
	for (uint32_t i = 0; i < e->code_count; i++)
		if (!codes[i])
			return 0;
	struct hook_file *h = record_read(path, e->record, e->record_len, codes, e->code_count);
	if (!h)
		return 0;
	e->hook = h;
	c->n_hits++;
	*ret = h;
	return 1;
}

static bool too_recent(const struct hooks_cache *c, const struct stat *st)
{
	time_t limit = c->now.tv_sec - CACHE_RACY_SECONDS;
	return st->st_mtim.tv_sec >= limit || st->st_ctim.tv_sec >= limit;
}

void hooks_cache_store(struct hooks_cache *c, const char *path, const struct stat *st,
		       const struct hook_file *h)
{
	if (!c || !c->usable || too_recent(c, st))
		return;
	c->stored = xreallocarray(c->stored, c->n_stored + 1, sizeof(*c->stored));
	c->stored[c->n_stored++] = (struct cache_entry){
	    .path = xstrdup(path),
	    .key = key_of(st),
	    .hook = h,
	};
}

static void append_codes(pcre2_code ***codes, size_t *n, const struct hook_file *h)
{
	*codes = xreallocarray(*codes, *n + record_code_count(h), sizeof(pcre2_code *));
	for (size_t i = 0; i < h->when.n_annotations; i++) {
		(*codes)[(*n)++] = h->when.annotations[i].key;
		(*codes)[(*n)++] = h->when.annotations[i].value;
	}
	for (size_t i = 0; i < h->when.n_commands; i++)
		(*codes)[(*n)++] = h->when.commands[i].re;
}

void hooks_cache_commit(struct hooks_cache *c)
{
	if (!c || !c->usable)
		return;
	if (c->n_stored == 0 && c->n_hits == c->n_entries)
		return; /* nothing new, nothing gone */

	size_t n = 0;
	struct cache_entry *all = xcalloc(c->n_hits + c->n_stored, sizeof(*all));
	for (size_t i = 0; i < c->n_entries; i++)
		if (c->entries[i].hook)
			all[n++] = c->entries[i];
	for (size_t i = 0; i < c->n_stored; i++)
		all[n++] = c->stored[i];
	qsort(all, n, sizeof(*all), compare_entries);

	struct wbuf b = {0};
	w_bytes(&b, CACHE_MAGIC, 8);
	w_u32(&b, CACHE_FORMAT);
	w_str(&b, NODEHOOK_VERSION);
	w_str(&b, pcre2_version());
	w_u32(&b, (uint32_t)n);
	pcre2_code **codes = NULL;
	size_t n_codes = 0;
	struct wbuf rec = {0};
	for (size_t i = 0; i < n; i++) {
		w_str(&b, all[i].path);
		write_key(&b, &all[i].key);
		w_u32(&b, (uint32_t)record_code_count(all[i].hook));
		rec.len = 0;
		record_write(&rec, all[i].hook);
		w_u32(&b, (uint32_t)rec.len);
		w_bytes(&b, rec.p, rec.len);
		append_codes(&codes, &n_codes, all[i].hook);
	}
	free(rec.p);
	free(all);

	uint8_t *blob = NULL;
	PCRE2_SIZE blob_len = 0;
	bool ok = true;
	if (n_codes > 0)
		ok = pcre2_serialize_encode((const pcre2_code **)codes, (int32_t)n_codes, &blob,
					    &blob_len, NULL) == (int32_t)n_codes;
	free(codes);
	if (ok) {
		w_u32(&b, (uint32_t)blob_len);
		if (blob_len)
			w_bytes(&b, blob, blob_len);
		uint64_t sum = checksum(b.p, b.len);
		w_u64(&b, sum);
		_cleanup_error_ struct nh_error *err = NULL;
		/* A cache that cannot be written is only a slower next start. */
		(void)!write_file_replace(c->path, (const char *)b.p, b.len, 0600, &err);
	}
	if (blob)
		pcre2_serialize_free(blob);
	free(b.p);
}

struct hooks_cache *hooks_cache_close(struct hooks_cache *c)
{
	if (!c)
		return NULL;
	cache_reset(c);
	for (size_t i = 0; i < c->n_stored; i++)
		free(c->stored[i].path);
	free(c->stored);
	free(c->path);
	free(c);
	return NULL;
}
