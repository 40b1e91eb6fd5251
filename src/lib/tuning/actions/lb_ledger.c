#include "lb_ledger.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "utf8.h"
#include "xalloc.h"

/* Cgroup names are bytes; a ledger is JSON, read back as UTF-8. A "cgroup" string that is not
 * valid UTF-8 is written as "cgroup_bytes", percent-encoded: '%', control bytes and every byte
 * >= 0x7f as %XX, the rest as it is. Reading turns it back into "cgroup". Any name round-trips,
 * and ledgers of earlier versions (plain "cgroup") read as before. */
#define CGROUP_KEY "cgroup"
#define CGROUP_BYTES_KEY "cgroup_bytes"

char *lb_cgroup_encode(const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(name);
	char *out = xmalloc(3 * len + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p == '%' || *p < 0x20 || *p >= 0x7f) {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 0xf];
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int lb_cgroup_decode(const char *encoded, char **ret)
{
	size_t len = strlen(encoded);
	_cleanup_free_ char *out = xmalloc(len + 1);
	char *o = out;
	for (const char *p = encoded; *p; p++) {
		if (*p != '%') {
			*o++ = *p;
			continue;
		}
		int hi = hex_digit(p[1]), lo = hi < 0 ? -1 : hex_digit(p[2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -EBADMSG;
		*o++ = (char)(hi << 4 | lo);
		p += 2;
	}
	*o = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}

/* Every object below o with a "cgroup" that is not UTF-8 gets "cgroup_bytes" instead (o is a
 * copy, the caller's document stays as it is). */
static void encode_names(json_object *o)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			encode_names(json_object_array_get_idx(o, i));
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object *cg = NULL;
	if (json_object_object_get_ex(o, CGROUP_KEY, &cg) &&
	    json_object_is_type(cg, json_type_string) &&
	    !utf8_valid(json_object_get_string(cg), (size_t)json_object_get_string_len(cg))) {
		_cleanup_free_ char *enc = lb_cgroup_encode(json_object_get_string(cg));
		json_object_object_add(o, CGROUP_BYTES_KEY, json_object_new_string(enc));
		json_object_object_del(o, CGROUP_KEY);
	}
	json_object_object_foreach (o, key, v) {
		(void)key;
		encode_names(v);
	}
}

/* The reverse, in place, on a document just read. */
static int decode_names(json_object *o, const char *name, struct nh_error **err)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			int r = decode_names(json_object_array_get_idx(o, i), name, err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (!json_object_is_type(o, json_type_object))
		return 0;
	json_object *enc = NULL;
	if (json_object_object_get_ex(o, CGROUP_BYTES_KEY, &enc)) {
		_cleanup_free_ char *raw = NULL;
		if (!json_object_is_type(enc, json_type_string) ||
		    lb_cgroup_decode(json_object_get_string(enc), &raw) < 0)
			return nh_error_set(err, EBADMSG, "%s: invalid \"" CGROUP_BYTES_KEY "\"",
					    name);
		json_object_object_add(o, CGROUP_KEY, json_object_new_string(raw));
		json_object_object_del(o, CGROUP_BYTES_KEY);
	}
	json_object_object_foreach (o, key, v) {
		(void)key;
		int r = decode_names(v, name, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int lb_ledger_read(struct state_store *store, const char *name, bool create, json_object **ret,
		   struct nh_error **err)
{
	json_object *doc = NULL;
	int r = state_doc_read(store, name, &doc, err);
	if (r < 0)
		return r;
	if (r > 0) {
		int d = decode_names(doc, name, err);
		if (d < 0) {
			json_object_put(doc);
			return d;
		}
	}
	if (r == 0)
		doc = create ? json_object_new_object() : NULL;
	*ret = doc;
	return r;
}

int lb_ledger_write(struct state_store *store, const char *name, json_object *doc,
		    struct nh_error **err)
{
	json_object *copy = NULL;
	if (json_object_deep_copy(doc, &copy, NULL) < 0)
		return nh_error_set(err, ENOMEM, "%s: copying the document", name);
	encode_names(copy);
	int r = state_doc_write(store, name, copy, err);
	json_object_put(copy);
	return r;
}

json_object *lb_json_child(json_object *doc, const char *key, json_type type)
{
	json_object *v = NULL;
	if (json_object_object_get_ex(doc, key, &v) && json_object_is_type(v, type))
		return v;
	v = type == json_type_array ? json_object_new_array() : json_object_new_object();
	json_object_object_add(doc, key, v);
	return v;
}

char **lb_json_keys(json_object *o)
{
	size_t n = 0;
	char **keys = xcalloc(1, sizeof(char *));
	if (!o)
		return keys;
	json_object_object_foreach (o, key, v) {
		(void)v;
		keys = xreallocarray(keys, n + 2, sizeof(char *));
		keys[n++] = xstrdup(key);
		keys[n] = NULL;
	}
	return keys;
}

int lb_isolated_union(json_object *isolated, const char *ledger, struct cpuset *ret,
		      struct nh_error **err)
{
	(void)ledger;
	(void)err;
	_cleanup_cpuset_ struct cpuset all = {0};
	int skipped = 0;
	json_object_object_foreach (isolated, id, v) {
		(void)id;
		_cleanup_cpuset_ struct cpuset one = {0};
		_cleanup_error_ struct nh_error *parse_err = NULL;
		if (!json_object_is_type(v, json_type_string) ||
		    cpuset_parse_list(json_object_get_string(v), &one, &parse_err) < 0) {
			skipped++;
			continue;
		}
		cpuset_union(&all, &one);
	}
	*ret = all;
	all = (struct cpuset){0};
	return skipped;
}
