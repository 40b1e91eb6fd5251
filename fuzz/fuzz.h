/* libFuzzer entry points, shared by the fuzz targets and their replay runner.
 *
 * A target is one .c file defining LLVMFuzzerTestOneInput(). With -Dfuzz=true (clang) it is
 * linked with libFuzzer's main(); in every build it is also linked with replay.c, whose main()
 * feeds it each file of a corpus directory, so the corpus runs as an ordinary meson test.
 *
 * Ownership rule: the input belongs to the caller and is only valid during the call; a target
 * frees everything it allocates per input (LeakSanitizer runs on every input when fuzzing). */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a message: a property the target checks does not hold for this input. */
__attribute__((noreturn, format(printf, 1, 2))) void fuzz_fail(const char *fmt, ...);
