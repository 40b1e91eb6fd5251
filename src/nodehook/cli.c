/* What the command-line parsers of several commands share. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "commands.h"
#include "log.h"

int cli_parse_flag(int argc, char **argv, const char *flag, const char *usage, bool *ret_flag)
{
	const struct option options[] = {
	    {flag, no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	opterr = 0; /* one line of our own instead of getopt's */
	int c;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			*ret_flag = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			log_error("%s: unknown option '%s'; see 'nodehook %s --help'", argv[0],
				  argv[optind - 1], argv[0]);
			return EXIT_USAGE;
		}
	}
	return -1;
}
