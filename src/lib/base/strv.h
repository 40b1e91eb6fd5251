/* NULL-terminated vectors of strings (char **), as the node config, the state store and the
 * status keep them. strv_free() and _cleanup_strv_ are in cleanup.h.
 *
 * Ownership rule: a vector owns its strings; strv_push() takes the one it is given. */
#pragma once

#include <stddef.h>

/* Appends s (taken) to *v, which may be NULL (an empty vector). */
void strv_push(char ***v, char *s);

size_t strv_length(char *const *v);

/* items[0..n) joined with sep between them; "" for none. Caller frees. */
char *strv_join(const char *const *items, size_t n, const char *sep);
