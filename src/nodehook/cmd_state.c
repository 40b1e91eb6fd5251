/* `nodehook restore`, `nodehook gc`: the ways to undo by hand what nodehook changed on the node.
 * The library does the work (status_restore, status_gc in status.h) and says, per container, what
 * happened; this file parses the options and prints one line per container.
 *
 * Both take the store lock exclusively (gc --dry-run: shared), as the hooks do, so they never
 * interleave with an apply or an undo. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "log.h"
#include "node_context.h"
#include "oci_state.h"
#include "status.h"

static const char restore_usage[] =
    "Usage: nodehook restore ID\n"
    "       nodehook restore --all\n"
    "\n"
    "Undo now what nodehook applied for container ID (or for every container), whether or\n"
    "not the container still runs, and remove its record. A container restored while it runs\n"
    "keeps running without its tuning. Prints one line per container.\n"
    "\n"
    "Options:\n"
    "  --all       every container with a record, and every orphaned ledger entry\n"
    "  -h, --help  show this help\n"
    "\n"
    "Exit status: 0 success, 1 failure (unknown or invalid id, an undo failed), 2 wrong usage.\n";

static const char gc_usage[] =
    "Usage: nodehook gc [--dry-run]\n"
    "\n"
    "Undo what nodehook applied for containers that are gone: the runtime that created one\n"
    "no longer knows its id, and its process has exited (a zombie counts as exited) or its\n"
    "pid now belongs to another process. Also releases ledger entries that no record\n"
    "accounts for, and brings the ledgers' settings back in line with the records.\n"
    "Prints one line per container: gone and restored, running and kept, or orphaned and\n"
    "released; \"nothing to collect\" when there are none.\n"
    "\n"
    "Options:\n"
    "  --dry-run   say what would be done, change nothing\n"
    "  -h, --help  show this help\n"
    "\n"
    "Exit status: 0 success, 1 failure (a record could not be read or undone), 2 wrong usage.\n";

struct tally {
	const char *orphan_released; /* restore and gc word it differently */
	size_t seen, failed;
};

/* One line per container: stdout for what was done, an error line for what failed. */
static void print_item(const struct status_item *it, void *userdata)
{
	struct tally *t = userdata;
	t->seen++;
	switch (it->outcome) {
	case STATUS_RESTORED:
		printf("%s: restored (%s)\n", it->id, it->actions);
		break;
	case STATUS_ORPHAN_RELEASED:
		printf("%s: %s (%s)\n", it->id, t->orphan_released, it->actions);
		break;
	case STATUS_GONE_RESTORED:
		printf("%s: gone, restored (%s)\n", it->id, it->actions);
		break;
	case STATUS_GONE_WOULD_RESTORE:
		printf("%s: gone, would restore (%s)\n", it->id, it->actions);
		break;
	case STATUS_ORPHAN_WOULD_RELEASE:
		printf("%s: no record, would release orphaned ledger entries (%s)\n", it->id,
		       it->actions);
		break;
	case STATUS_RUNNING_KEPT:
		printf("%s: running, kept\n", it->id);
		break;
	case STATUS_READ_FAILED:
		t->failed++;
		log_error("record of container '%s': %s; what the ledgers hold for it counts as "
			  "orphaned (restore and gc release it), what only this record describes "
			  "cannot be undone",
			  it->id, it->err->msg);
		break;
	case STATUS_UNDO_FAILED:
		t->failed++;
		log_error("container '%s': %s; the record stays for a later restore or gc", it->id,
			  it->err->msg);
		break;
	case STATUS_GONE_UNKNOWN:
		t->failed++;
		log_error("container '%s': cannot tell whether it is gone: %s", it->id,
			  it->err->msg);
		break;
	default:
		break;
	}
}

int cmd_restore(int argc, char **argv, struct nh_error **err)
{
	bool all = false;
	int rc = cli_parse_flag(argc, argv, "all", restore_usage, &all);
	if (rc >= 0)
		return rc;
	int n_args = argc - optind;
	if (all ? n_args != 0 : n_args != 1) {
		log_error("restore: give one container id or --all; see 'nodehook restore --help'");
		return EXIT_USAGE;
	}
	const char *id = all ? NULL : argv[optind];
	if (id && !container_id_valid(id))
		return nh_error_set(
		    err, EINVAL,
		    "invalid container id '%.64s': expected [A-Za-z0-9_+.-], at most "
		    "%d characters, not '.' or '..'",
		    id, CONTAINER_ID_MAX);

	_cleanup_node_context_ struct node_context *node = NULL;
	int r = node_context_open(&node, err);
	if (r < 0)
		return r;
	struct tally t = {.orphan_released = "released orphaned ledger entries"};
	r = status_restore(node, id, print_item, &t, err);
	if (r < 0)
		return r;
	if (all && t.seen == 0)
		puts("nothing applied");
	return t.failed ? 1 : 0;
}

int cmd_gc(int argc, char **argv, struct nh_error **err)
{
	bool dry_run = false;
	int rc = cli_parse_flag(argc, argv, "dry-run", gc_usage, &dry_run);
	if (rc >= 0)
		return rc;
	if (optind < argc) {
		log_error("gc: unexpected argument '%s'; see 'nodehook gc --help'", argv[optind]);
		return EXIT_USAGE;
	}

	_cleanup_node_context_ struct node_context *node = NULL;
	int r = node_context_open(&node, err);
	if (r < 0)
		return r;
	struct tally t = {.orphan_released = "no record, released orphaned ledger entries"};
	r = status_gc(node, dry_run, print_item, &t, err);
	if (r < 0)
		return r;
	if (t.seen == 0)
		puts("nothing to collect");
	return t.failed ? 1 : 0;
}
