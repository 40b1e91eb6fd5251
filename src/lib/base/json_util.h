/* Strict JSON parsing and small typed helpers over json-c.
 *
 * Ownership rule: json_parse_strict() returns a new reference (json_object_put() it). Getters
 * lend: the objects they return belong to the parent and live as long as it does. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"
#include "error.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Size caps for the JSON nodehook reads from others. */
#define NH_HOOK_FILE_MAX (1u << 20)   /* a hooks.d file */
#define NH_OCI_CONFIG_MAX (16u << 20) /* a bundle's config.json */
#define NH_STATE_JSON_MAX (1u << 20)  /* the runtime's state on a hook's stdin */
#define NH_JSON_DEPTH_MAX 64

/* Parses exactly one JSON value from buf[0..len): UTF-8 validated, no comments, no trailing
 * commas, nothing but white space after the value, at most `depth` levels of nesting.
 * A document that is JSON `null` yields *ret = NULL and returns 0. */
int json_parse_strict(const char *buf, size_t len, int depth, json_object **ret,
		      struct nh_error **err);

/* Finds \u0000 escapes in JSON text: json-c cuts object keys at a NUL without a trace (and
 * C strings would cut values), so this can only be seen in the text. Sets *ret_in_key when an
 * object key holds one, *ret_in_value when any other string does. Meant for text that
 * json_parse_strict() accepted. */
void json_scan_nul(const char *buf, size_t len, bool *ret_in_key, bool *ret_in_value);

/* Fails with EBADMSG if the tree holds a number that is not finite (json-c accepts NaN and
 * Infinity, JSON does not). */
int json_check_finite(json_object *o, struct nh_error **err);

/* The JSON type name Go's encoding/json would use in a type error ("string", "number", ...). */
const char *json_type_label(json_object *o);

/* o[key] if it is a JSON string, else NULL (absent, null, another type, or o NULL). Lent. */
const char *json_get_str(json_object *o, const char *key);

/* v's text if v is a JSON string: 1, or 0 when it is not a string (or NULL); -EBADMSG when it
 * holds a NUL character (a C string would cut it). Lent. */
int json_string_value(json_object *v, const char **ret);

/* Serialises without escaping '/', which json-c would otherwise write as "\/". */
const char *json_to_string(json_object *o, size_t *ret_len);
