/* Go regexp (RE2 syntax) semantics on top of PCRE2.
 *
 * hooks.d files are written for CRI-O and Podman, which match them with Go's regexp package:
 * unanchored search, ASCII \d \w \s \b, `$` only at the end of text unless (?m). PCRE2 with the
 * flags below agrees with Go on the patterns Go accepts; this module rejects, at load, the
 * constructs Go rejects but PCRE2 would accept (backreferences, lookaround, possessive and nested
 * quantifiers, \Z, \e, repeat counts over 1000, PCRE verbs), and translates the few escapes whose
 * meaning differs (\v, octal escapes).
 *
 * PCRE2 backtracks and annotation values come from pod authors: matching runs under a match and
 * depth limit, and hitting it is an error, never a silent "no match".
 *
 * Ownership rule: regex_go_compile() returns a pcre2_code the caller frees (pcre2_code_free). */
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>

#include "cleanup.h"
#include "error.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(pcre2_code *, pcre2_code_free)
#define _cleanup_pcre2_ _cleanup_(pcre2_code_freep)

#define REGEX_GO_MATCH_LIMIT 100000u
#define REGEX_GO_DEPTH_LIMIT 10000u
#define REGEX_GO_REPEAT_MAX 1000u

/* Compiles pattern (NUL-terminated). Errors read like Go's: "error parsing regexp: ...". */
int regex_go_compile(const char *pattern, pcre2_code **ret, struct nh_error **err);

/* Unanchored search in subject[0..len). Returns 1 on a match, 0 on none, -errno on failure
 * (E2BIG when the match or depth limit was hit). A subject that is not valid UTF-8 is read as
 * Go reads it: each invalid byte is U+FFFD. */
int regex_go_match(const pcre2_code *re, const char *subject, size_t len, struct nh_error **err);

/* The same for a subject the caller knows to be valid UTF-8 (utf8_valid()), which saves the
 * check on every match. An invalid subject here is undefined behaviour in PCRE2. */
int regex_go_match_utf8(const pcre2_code *re, const char *subject, size_t len,
			struct nh_error **err);
