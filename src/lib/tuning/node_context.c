#include "node_context.h"

#include <stdlib.h>

#include "kernel.h"
#include "sysroot.h"
#include "xalloc.h"

int node_context_open(struct node_context **ret, struct nh_error **err)
{
	_cleanup_node_config_ struct node_config *config = NULL;
	if (node_config_load(&config, err) < 0)
		return nh_error_wrap(err, "node config");
	sysroot_set_default(config->sysroot);
	struct node_context *n = xcalloc(1, sizeof(*n));
	n->config = TAKE_PTR(config);
	*ret = n;
	return 0;
}

int node_context_open_store(struct node_context *n, enum node_store_mode mode, bool exclusive,
			    struct nh_error **err)
{
	if (n->store)
		return 1;
	if (!n->boot_id) {
		int r = kernel_boot_id(&n->boot_id, err);
		if (r < 0)
			return r;
	}
	_cleanup_state_store_ struct state_store *store = NULL;
	int r = mode == NODE_STORE_CREATE
		    ? state_store_open(n->config->state_dir, n->boot_id, &store, err)
		    : state_store_open_existing(n->config->state_dir, n->boot_id, &store, err);
	if (r < 0)
		return r;
	if (!store)
		return 0;
	r = state_store_lock(store, exclusive, err);
	if (r < 0)
		return r;
	n->store = TAKE_PTR(store);
	return 1;
}

void node_context_close_store(struct node_context *n)
{
	n->store = state_store_close(n->store);
}

struct node_context *node_context_free(struct node_context *n)
{
	if (!n)
		return NULL;
	state_store_close(n->store);
	free(n->boot_id);
	node_config_free(n->config);
	free(n);
	return NULL;
}
