/* UTF-8 as Go reads it: a sequence that is not valid UTF-8 (bad byte, overlong form, surrogate,
 * past U+10FFFF) decodes as U+FFFD, one byte at a time.
 *
 * Ownership rule: strings returned belong to the caller. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes one sequence at s[0..len); returns its length, or 0 for an invalid byte (then *ret is
 * U+FFFD and the caller skips one byte). len must be > 0. */
size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *ret);

/* Encodes a code point (at most 4 bytes). */
size_t utf8_encode(uint32_t c, char *out);

bool utf8_valid(const char *s, size_t len);

/* A copy of s[0..len) with every invalid byte replaced by U+FFFD, NUL-terminated (NULs inside
 * are kept; *ret_len counts them). */
char *utf8_sanitize(const char *s, size_t len, size_t *ret_len);

/* Quotes s as Go's %q verb does (strconv.Quote): backslash escapes for '"', '\\' and control
 * characters, \xHH for bytes that are not UTF-8. For messages that keep upstream's wording, and
 * so that a name from a file cannot break a log line. Returns a new string. */
char *utf8_go_quote(const char *s);
