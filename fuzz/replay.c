/* Replays a corpus through a fuzz target without libFuzzer: every regular file of each
 * directory argument (in name order, dot files skipped) and every file argument is fed once to
 * LLVMFuzzerTestOneInput(). Runs under any compiler; the sanitizers of the build catch what the
 * inputs trigger. Exits 0 when all inputs ran, 1 when an argument could not be read or named no
 * input at all (an empty corpus must not pass silently), 2 on wrong usage. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "fileio.h"
#include "fuzz.h"
#include "json_util.h"

/* libFuzzer runs inputs of up to -max_len bytes; the largest thing a target reads is a
 * config.json. */
#define REPLAY_INPUT_MAX NH_OCI_CONFIG_MAX

/* Feeds one file. The input is copied into a buffer of exactly its size, so that ASan sees a
 * read one byte past the end, as it does under libFuzzer. */
static int replay_file(int dirfd, const char *dir, const char *name)
{
	struct nh_error *err = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	if (read_file_at(dirfd, name, REPLAY_INPUT_MAX, &buf, &len, &err) < 0) {
		fprintf(stderr, "replay: %s%s%s\n", dir ? dir : "", dir ? "/" : "", err->msg);
		nh_error_free(err);
		return -1;
	}
	_cleanup_free_ uint8_t *input = malloc(len ? len : 1);
	if (!input) {
		fputs("replay: out of memory\n", stderr);
		return -1;
	}
	memcpy(input, buf, len);
	fprintf(stderr, "replay: %s%s%s (%zu bytes)\n", dir ? dir : "", dir ? "/" : "", name, len);
	(void)LLVMFuzzerTestOneInput(input, len);
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns the number of inputs replayed, or -1. */
static int replay_dir(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	_cleanup_strv_ char **names = NULL;
	size_t n = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno) {
				fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
				return -1;
			}
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		char **grown = realloc(names, (n + 2) * sizeof(char *));
		if (!grown) {
			fputs("replay: out of memory\n", stderr);
			return -1;
		}
		names = grown;
		names[n] = strdup(de->d_name);
		names[n + 1] = NULL;
		if (!names[n]) {
			fputs("replay: out of memory\n", stderr);
			return -1;
		}
		n++;
	}
	if (n > 1)
		qsort(names, n, sizeof(char *), compare_names);
	for (size_t i = 0; i < n; i++)
		if (replay_file(dirfd(d), dir, names[i]) < 0)
			return -1;
	return (int)n;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "Usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	int total = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		int n;
		if (S_ISDIR(st.st_mode))
			n = replay_dir(argv[i]);
		else
			n = replay_file(AT_FDCWD, NULL, argv[i]) < 0 ? -1 : 1;
		if (n < 0)
			return 1;
		if (n == 0) {
			fprintf(stderr, "replay: %s: no inputs\n", argv[i]);
			return 1;
		}
		total += n;
	}
	printf("%d inputs replayed\n", total);
	return 0;
}
