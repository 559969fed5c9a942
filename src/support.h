/*
 * support.h
 *		Planner support for rbac_has_permission.
 */
#ifndef QILIN_RBAC_SUPPORT_H
#define QILIN_RBAC_SUPPORT_H

/*
 * Offer an index on tenant_id only while the planning principal may see at
 * most this fraction of the tenants it holds anything in: beyond it a
 * sequential scan with the bit test is cheaper than the index.
 */
#define RBAC_INDEX_MAX_FRACTION 0.2

#endif
