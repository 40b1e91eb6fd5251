/* irqbalance's side of irq-load-balancing: the daemon must agree with nodehook's bans, or it
 * moves the IRQs back onto the container's CPUs at its next rebalance.
 *
 * - The config file (node config "irqbalance_config"; by default the first of Debian's
 *   /etc/default/irqbalance and RHEL's /etc/sysconfig/irqbalance that exists, under the sysroot;
 *   none: no irqbalance handling) gets IRQBALANCE_BANNED_CPULIST=<the banned CPUs>, and loses
 *   every IRQBALANCE_BANNED_CPUS line (the old mask wins over the list when both are set). Every
 *   other byte stays as it was. When nothing is banned any more, the file's original content is
 *   put back byte for byte (or, if someone edited the file meanwhile, only our line goes and
 *   the original lines of the two variables come back).
 * - The original content is kept, before the first change, in <persistent_dir>/irqbalance.json
 *   (node config "persistent_dir", default /var/lib/nodehook): the file outlives a reboot, the
 *   records on /run do not. The copy carries the boot id; the first run in another boot (and
 *   gc) puts the file back.
 * - A running daemon (a process named irqbalance) is told through its socket, the one
 *   irqbalance-ui uses: "settings cpus <list>" (or "NULL": back to what its environment said),
 *   then "setup", whose "BANNED <mask>" must show the new set. Where that fails and systemd runs
 *   it, `systemctl restart irqbalance`, at most once per IRQBALANCE_RESTART_INTERVAL seconds (a
 *   restart asked for sooner is left pending, for the next run or gc); else the report says that
 *   it must be restarted.
 *
 * Ownership rule: strings returned belong to the caller. */
#pragma once

#include <stddef.h>

#include "cpuset.h"
#include "error.h"
#include "node_config.h"
#include "state_store.h"

#define IRQBALANCE_RESTART_INTERVAL 5
#define IRQBALANCE_BACKUP "irqbalance.json"

/* The config file to handle (a node path), or NULL when there is none. */
char *irqbalance_config_path(const struct node_config *config);

/* text with the banned list set: every IRQBALANCE_BANNED_CPUS and IRQBALANCE_BANNED_CPULIST
 * assignment removed, and IRQBALANCE_BANNED_CPULIST=<cpulist> put where the first of them was
 * (else appended), unless cpulist is NULL. Pure; the result is NUL-terminated. */
char *irqbalance_config_render(const char *text, size_t len, const char *cpulist, size_t *ret_len);

/* Makes the config file and the daemon follow `banned` (the union over running containers).
 * *ret_report (may be NULL) says what was done, for status. Errors about the daemon are not
 * failures: they go into the report. */
int irqbalance_sync(const struct node_config *config, struct state_store *store,
		    const struct cpuset *banned, char **ret_report, struct nh_error **err)
    __attribute__((warn_unused_result));

/* The reboot restore: if the kept copy is from another boot, the config file gets its original
 * content back and the copy goes. Also runs a pending restart that is due. Returns 1 when the
 * file was put back, 0 when there was nothing to do. */
int irqbalance_boot_check(const struct node_config *config, struct state_store *store,
			  struct nh_error **err) __attribute__((warn_unused_result));
