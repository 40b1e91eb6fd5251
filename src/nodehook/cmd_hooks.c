#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "fileio.h"
#include "hooks_set.h"
#include "hooks_inject.h"
#include "hooks_match.h"
#include "json_util.h"
#include "log.h"
#include "node_config.h"
#include "oci_config.h"
#include "sysroot.h"
#include "xalloc.h"

static const char match_usage[] =
    "Usage: nodehook hooks match --config FILE [OPTIONS]\n"
    "       nodehook hooks inject --bundle DIR [OPTIONS]\n"
    "\n"
    "Decide which hooks.d hooks (oci-hooks(5)) apply to a container, as CRI-O and Podman do.\n"
    "'match' prints them as one JSON object, stage name -> array of OCI hooks; 'inject'\n"
    "appends them to DIR/config.json in place, atomically, and prints nothing.\n"
    "\n"
    "Options:\n"
    "  --config FILE          the container's config.json (match)\n"
    "  --bundle DIR           the container's bundle directory (inject)\n"
    "  --hooks-dir DIR        a hooks.d directory; repeat it, later ones take precedence\n"
    "                         (default /usr/share/containers/oci/hooks.d, then\n"
    "                         /etc/containers/oci/hooks.d)\n"
    "  --annotation KEY=VALUE add or override an annotation for matching (repeatable)\n"
    "  --bind-mounts          treat the container as having bind mounts\n"
    "  --no-bind-mounts       treat it as having none (default: detected from config.json)\n"
    "  --prestart-as STAGE    inject hooks.d 'prestart' as createRuntime (default, as CRI-O\n"
    "                         >= 1.31 and Podman >= 5) or as prestart (older releases)\n"
    "  --skip-invalid         warn about invalid hook files and go on without them, instead\n"
    "                         of failing\n"
    "  --cache-dir DIR        keep parsed hook files in DIR, revalidated by each file's\n"
    "                         identity and timestamps (default /run/nodehook/cache)\n"
    "  --no-cache             read and parse every hook file\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 success, 1 invalid hook file or config.json, 2 wrong usage.\n";

#define DEFAULT_CACHE_DIR NODE_CONFIG_DEFAULT_STATE_DIR "/cache"

enum hooks_verb {
	VERB_MATCH,
	VERB_INJECT,
};

struct hooks_options {
	enum hooks_verb verb;
	const char *config;
	const char *bundle;
	const char **dirs;
	size_t n_dirs;
	const char **annotations; /* KEY=VALUE */
	size_t n_annotations;
	int bind_mounts; /* -1 detect */
	enum prestart_mapping prestart;
	enum hooks_load_mode load_mode;
	const char *cache_dir; /* NULL: no cache */
};

static void hooks_options_clear(struct hooks_options *o)
{
	free(o->dirs);
	free(o->annotations);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_error("%s; see 'nodehook hooks --help'", msg);
	return EXIT_USAGE;
}

/* Returns -1 when parsing succeeded, else the exit code to return now. */
static int parse_options(int argc, char **argv, struct hooks_options *o)
{
	enum {
		OPT_CONFIG = 256,
		OPT_BUNDLE,
		OPT_HOOKS_DIR,
		OPT_ANNOTATION,
		OPT_BIND,
		OPT_NO_BIND,
		OPT_PRESTART_AS,
		OPT_SKIP_INVALID,
		OPT_CACHE_DIR,
		OPT_NO_CACHE
	};
	static const struct option options[] = {
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"bundle", required_argument, NULL, OPT_BUNDLE},
	    {"hooks-dir", required_argument, NULL, OPT_HOOKS_DIR},
	    {"annotation", required_argument, NULL, OPT_ANNOTATION},
	    {"bind-mounts", no_argument, NULL, OPT_BIND},
	    {"no-bind-mounts", no_argument, NULL, OPT_NO_BIND},
	    {"prestart-as", required_argument, NULL, OPT_PRESTART_AS},
	    {"skip-invalid", no_argument, NULL, OPT_SKIP_INVALID},
	    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
	    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(match_usage, stdout);
			return 0;
		case OPT_CONFIG:
			o->config = optarg;
			break;
		case OPT_BUNDLE:
			o->bundle = optarg;
			break;
		case OPT_HOOKS_DIR:
			o->dirs = xreallocarray(o->dirs, o->n_dirs + 1, sizeof(char *));
			o->dirs[o->n_dirs++] = optarg;
			break;
		case OPT_ANNOTATION:
			if (!strchr(optarg, '='))
				return usage_error("--annotation '%s': expected KEY=VALUE", optarg);
			o->annotations =
			    xreallocarray(o->annotations, o->n_annotations + 1, sizeof(char *));
			o->annotations[o->n_annotations++] = optarg;
			break;
		case OPT_BIND:
			o->bind_mounts = 1;
			break;
		case OPT_NO_BIND:
			o->bind_mounts = 0;
			break;
		case OPT_PRESTART_AS:
			if (strcmp(optarg, "createRuntime") == 0)
				o->prestart = PRESTART_AS_CREATE_RUNTIME;
			else if (strcmp(optarg, "prestart") == 0)
				o->prestart = PRESTART_AS_PRESTART;
			else
				return usage_error("--prestart-as '%s': expected createRuntime or "
						   "prestart",
						   optarg);
			break;
		case OPT_SKIP_INVALID:
			o->load_mode = HOOKS_LOAD_SKIP_INVALID;
			break;
		case OPT_CACHE_DIR:
			o->cache_dir = optarg;
			break;
		case OPT_NO_CACHE:
			o->cache_dir = NULL;
			break;
		default:
			fputs(match_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->verb == VERB_MATCH && !o->config)
		return usage_error("%s", "hooks match needs --config FILE");
	if (o->verb == VERB_INJECT && !o->bundle)
		return usage_error("%s", "hooks inject needs --bundle DIR");
	if (o->verb == VERB_MATCH && o->bundle)
		return usage_error("%s", "--bundle belongs to hooks inject; match takes --config");
	if (o->verb == VERB_INJECT && o->config)
		return usage_error("%s", "--config belongs to hooks match; inject takes --bundle");
	return -1;
}

static int run(const struct hooks_options *o, struct nh_error **err)
{
	_cleanup_free_ char *config_path =
	    o->verb == VERB_INJECT ? xasprintf("%s/config.json", o->bundle) : xstrdup(o->config);

	_cleanup_oci_config_ struct oci_config *config = NULL;
	int r = oci_config_load(config_path, &config, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < o->n_annotations; i++) {
		const char *eq = strchr(o->annotations[i], '=');
		_cleanup_free_ char *key =
		    xstrndup(o->annotations[i], (size_t)(eq - o->annotations[i]));
		oci_config_override_annotation(config, key, eq + 1);
	}
	if (o->bind_mounts >= 0)
		config->facts.has_bind_mounts = o->bind_mounts;

	char *default_dirs[2] = {NULL, NULL};
	const char *const *dirs = o->dirs;
	size_t n_dirs = o->n_dirs;
	if (n_dirs == 0) {
		default_dirs[0] = sysroot_path(HOOKS_DIR_SYSTEM);
		default_dirs[1] = sysroot_path(HOOKS_DIR_ADMIN);
		dirs = (const char *const *)default_dirs;
		n_dirs = 2;
	}
	_cleanup_hooks_set_ struct hooks_set *set = NULL;
	r = hooks_set_load(dirs, n_dirs, o->load_mode, o->cache_dir, &set, err);
	free(default_dirs[0]);
	free(default_dirs[1]);
	if (r < 0)
		return r;
	for (size_t i = 0; i < set->n_skipped; i++)
		log_warning("%s, ignoring", set->skipped[i]->msg);

	if (o->verb == VERB_INJECT) {
		r = hooks_inject_file(config, set, o->prestart, config_path, err);
		return r < 0 ? r : 0;
	}

	_cleanup_hooks_result_ struct hooks_result result = {0};
	r = hooks_match(set, &config->facts, o->prestart, &result, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_object *out = hooks_result_to_json(&result);
	size_t len = 0;
	const char *s = json_to_string(out, &len);
	if (fwrite(s, 1, len, stdout) != len || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
		return nh_error_set_errno(err, errno, "writing to stdout");
	return 0;
}

int cmd_hooks(int argc, char **argv, struct nh_error **err)
{
	if (argc < 2) {
		fputs(match_usage, stderr);
		return EXIT_USAGE;
	}
	const char *verb = argv[1];
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
		fputs(match_usage, stdout);
		return 0;
	}
	_cleanup_(hooks_options_clear) struct hooks_options o = {
	    .bind_mounts = -1,
	    .prestart = PRESTART_AS_CREATE_RUNTIME,
	    .load_mode = HOOKS_LOAD_STRICT,
	    .cache_dir = DEFAULT_CACHE_DIR,
	};
	if (strcmp(verb, "match") == 0)
		o.verb = VERB_MATCH;
	else if (strcmp(verb, "inject") == 0)
		o.verb = VERB_INJECT;
	else
		return usage_error("unknown hooks command '%s'", verb);

	int r = parse_options(argc - 1, argv + 1, &o);
	if (r >= 0)
		return r;
	return run(&o, err);
}
