/*
 * usage.h
 *		Last-used tracking of API keys.
 */
#ifndef QILIN_RBAC_USAGE_H
#define QILIN_RBAC_USAGE_H

extern void rbac_usage_init(void);
extern void rbac_usage_note(int64 key_id);

#endif
