#include "json_util.h"

#include <errno.h>
#include <math.h>
#include <string.h>

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_tokener *, json_tokener_free)

int json_parse_strict(const char *buf, size_t len, int depth, json_object **ret,
		      struct nh_error **err)
{
	_cleanup_(json_tokener_freep) struct json_tokener *tok = json_tokener_new_ex(depth);
	if (!tok)
		return nh_error_set(err, ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

	json_object *obj = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	/* json-c counts offsets in the chunk it was last given. */
	size_t end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* A top-level scalar (or a truncated document) needs the end of input signalled:
		 * an empty final chunk does that. The whole buffer has been consumed. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
		if (jerr == json_tokener_continue ||
		    (jerr == json_tokener_success && !obj && len == 0))
			return nh_error_set(err, EBADMSG, "invalid JSON: unexpected end of input");
	}
	if (jerr != json_tokener_success)
		return nh_error_set(err, EBADMSG, "invalid JSON at byte %zu: %s", end,
				    json_tokener_error_desc(jerr));
	_cleanup_json_ json_object *owned = obj;
	for (; end < len; end++) {
		char c = buf[end];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return nh_error_set(
			    err, EBADMSG,
			    "invalid JSON at byte %zu: data after the top-level value", end);
	}
	*ret = TAKE_PTR(owned);
	return 0;
}

int json_check_finite(json_object *o, struct nh_error **err)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		if (!isfinite(json_object_get_double(o)))
			return nh_error_set(err, EBADMSG, "invalid JSON: number is not finite");
		return 0;
	case json_type_object: {
		json_object_object_foreach (o, key, val) {
			(void)key;
			int r = json_check_finite(val, err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	case json_type_array: {
		size_t n = json_object_array_length(o);
		for (size_t i = 0; i < n; i++) {
			int r = json_check_finite(json_object_array_get_idx(o, i), err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	// NOLINTNEXTLINE(bugprone-branch-clone): -Wswitch-enum wants each type named, -Wswitch-default a default
	case json_type_null:
	case json_type_boolean:
	case json_type_int:
	case json_type_string:
		return 0;
	default:
		return 0;
	}
}

const char *json_type_label(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "bool";
	case json_type_double:
	case json_type_int:
		return "number";
	case json_type_string:
		return "string";
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	default:
		return "unknown";
	}
}

const char *json_to_string(json_object *o, size_t *ret_len)
{
	return json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, ret_len);
}

void json_scan_nul(const char *buf, size_t len, bool *ret_in_key, bool *ret_in_value)
{
	bool in_key = false, in_value = false;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '"')
			continue;
		bool nul = false;
		for (i++; i < len && buf[i] != '"'; i++) {
			if (buf[i] != '\\')
				continue;
			if (i + 5 < len && memcmp(buf + i + 1, "u0000", 5) == 0)
				nul = true;
			i++; /* the escaped character: \" does not end the string */
		}
		if (!nul)
			continue;
		size_t j = i + 1;
		while (j < len &&
		       (buf[j] == ' ' || buf[j] == '\t' || buf[j] == '\n' || buf[j] == '\r'))
			j++;
		if (j < len && buf[j] == ':')
			in_key = true;
		else
			in_value = true;
	}
	*ret_in_key = in_key;
	*ret_in_value = in_value;
}

const char *json_get_str(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int json_string_value(json_object *v, const char **ret)
{
	if (!v || !json_object_is_type(v, json_type_string))
		return 0;
	const char *s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s))
		return -EBADMSG;
	*ret = s;
	return 1;
}
