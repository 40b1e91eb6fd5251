/* Go-profile regular expressions: regex_go_compile() on the input up to its first NUL byte
 * (patterns are C strings), and, when it compiles, regex_go_match() against fixed subjects and
 * against the rest of the input after that NUL. The Go-to-PCRE2 translation is hand-written;
 * this is where it meets arbitrary bytes. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "regex_go.h"
#include "xalloc.h"

static const char *const subjects[] = {
    "",
    "a",
    "io.kubernetes.cri-o.userns-mode",
    "/usr/bin/sleep",
    "line one\nline two\n",
    "caf\xc3\xa9 \xe2\x98\xba \xf0\x9f\x90\xb3",
    "\xff\xfe invalid UTF-8 \xc3",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
    "0123456789 _-+*/ ABCxyz \t\v\f\r",
};

static void match_one(const pcre2_code *re, const char *subject, size_t len)
{
	struct nh_error *err = NULL;
	int r = regex_go_match(re, subject, len, &err);
	if (r < 0) {
		if (!err)
			fuzz_fail("regex_go_match failed without an error");
		err = nh_error_free(err);
	} else if (r > 1) {
		fuzz_fail("regex_go_match returned %d", r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t pattern_len = nul ? (size_t)(nul - data) : size;
	_cleanup_free_ char *pattern = xstrndup((const char *)data, pattern_len);

	struct nh_error *err = NULL;
	_cleanup_pcre2_ pcre2_code *re = NULL;
	if (regex_go_compile(pattern, &re, &err) < 0) {
		if (!err || err->errnum <= 0 || !err->msg)
			fuzz_fail("regex_go_compile failed without a proper error");
		err = nh_error_free(err);
		return 0;
	}
	if (!re)
		fuzz_fail("regex_go_compile succeeded without a pattern");
	for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++)
		match_one(re, subjects[i], strlen(subjects[i]));
	if (nul) {
		/* The subject is matched in place, without a terminating NUL: ASan sees overreads.
		 */
		size_t subject_len = size - pattern_len - 1;
		_cleanup_free_ char *subject = xmalloc(subject_len ? subject_len : 1);
		memcpy(subject, nul + 1, subject_len);
		match_one(re, subject, subject_len);
	}
	return 0;
}
