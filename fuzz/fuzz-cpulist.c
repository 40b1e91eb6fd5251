/* CPU sets: cpuset_parse_list() and cpuset_parse_mask() on the input (as a C string, up to its
 * first NUL). What parses must survive a round trip through both text forms: format as a list
 * and parse again, format as a mask and parse again, and come back equal. */
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cpuset.h"
#include "fuzz.h"
#include "xalloc.h"

/* Both text forms of s must parse back to s. */
static void check_round_trip(const struct cpuset *s, const char *input)
{
	struct nh_error *err = NULL;
	_cleanup_free_ char *list = cpuset_format_list(s);
	_cleanup_cpuset_ struct cpuset from_list = {0};
	if (cpuset_parse_list(list, &from_list, &err) < 0)
		fuzz_fail("'%s' formats as list '%s', which does not parse: %s", input, list,
			  err->msg);
	if (!cpuset_equal(s, &from_list))
		fuzz_fail("'%s': list '%s' parses to a different set", input, list);

	int last = cpuset_last(s);
	if (last < 0 ? !cpuset_is_empty(s) || cpuset_count(s) != 0
		     : cpuset_is_empty(s) || cpuset_count(s) > (size_t)last + 1 ||
			   !cpuset_has(s, (unsigned)last))
		fuzz_fail("'%s': last CPU %d, count %zu disagree", input, last, cpuset_count(s));
	_cleanup_free_ char *mask = cpuset_format_mask(s, last < 0 ? 1 : (unsigned)last + 1);
	_cleanup_cpuset_ struct cpuset from_mask = {0};
	if (cpuset_parse_mask(mask, &from_mask, &err) < 0)
		fuzz_fail("'%s' formats as mask '%s', which does not parse: %s", input, mask,
			  err->msg);
	if (!cpuset_equal(s, &from_mask))
		fuzz_fail("'%s': mask '%s' parses to a different set", input, mask);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *input = xstrndup((const char *)data, size);
	struct nh_error *err = NULL;

	_cleanup_cpuset_ struct cpuset list = {0};
	if (cpuset_parse_list(input, &list, &err) < 0) {
		if (!err || err->errnum <= 0 || !err->msg)
			fuzz_fail("cpuset_parse_list failed without a proper error");
		err = nh_error_free(err);
	} else {
		check_round_trip(&list, input);
	}

	_cleanup_cpuset_ struct cpuset mask = {0};
	if (cpuset_parse_mask(input, &mask, &err) < 0) {
		if (!err || err->errnum <= 0 || !err->msg)
			fuzz_fail("cpuset_parse_mask failed without a proper error");
		err = nh_error_free(err);
	} else {
		check_round_trip(&mask, input);
	}
	return 0;
}
