/* What nodehook knows about a container: the runtime's state (stdin of a hook) joined with the
 * bundle's config.json.
 *
 * Pod identity comes only from the annotations the CRI runtime itself writes:
 *   containerd: io.kubernetes.cri.container-type, .sandbox-namespace, .sandbox-name,
 *               .container-name
 *   CRI-O:      io.kubernetes.cri-o.ContainerType, io.kubernetes.pod.namespace,
 *               io.kubernetes.pod.name, io.kubernetes.container.name
 * Pod authors can add annotations of any name, and both runtimes pass them through. A container
 * that carries the marker of both runtimes is refused: one of them was written by the pod, and
 * nodehook cannot tell which. The node config can pin the runtime (`cri`), so that only its
 * family counts; a container that carries only the other runtime's marker (or, with `none`, any
 * marker) is then not taken for one outside a pod: its requests are refused
 * (foreign_cri_reason).
 *
 * Ownership rule: container_info owns every string and set in it; free with
 * container_info_free(). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cpuset.h"
#include "cleanup.h"
#include "error.h"
#include "node_config.h"
#include "oci_config.h"
#include "oci_state.h"

struct container_info {
	char *id;
	pid_t pid;
	char *bundle;
	enum cri_kind cri;   /* CRI_NONE for containers not created through a CRI */
	bool is_sandbox;     /* a pod's pause container */
	char *pod_namespace; /* NULL without a CRI */
	char *pod_name;
	char *container_name; /* NULL without a CRI, or for a sandbox */
	bool has_cpus;	      /* linux.resources.cpu.cpus set and non-empty */
	struct cpuset cpus;
	/* Whether the spec shows an exclusive whole-CPU set: see container_check_exclusive(). */
	bool exclusive;
	char *not_exclusive_reason;
	char *cgroups_path; /* linux.cgroupsPath, or NULL */
	/* With "cri" pinned (or "none"), why the container's pod markers belong to another runtime;
	 * NULL otherwise. Every request of such a container is refused with it. */
	char *foreign_cri_reason;
};

/* Builds the container's identity from config.json (already loaded) and the runtime's state.
 * cri: the node config's pinning, or CRI_AUTO. Fails on ids outside runc's alphabet, on a
 * malformed cpuset, and on ambiguous runtime annotations. */
int container_info_build(const struct oci_state *state, const struct oci_config *config,
			 enum cri_kind cri, struct container_info **ret, struct nh_error **err);

struct container_info *container_info_free(struct container_info *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct container_info *, container_info_free)
#define _cleanup_container_info_ _cleanup_(container_info_freep)
