# qilin_rbac: PGXS build
EXTENSION = qilin_rbac
MODULE_big = qilin_rbac
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))
DATA = $(wildcard sql/qilin_rbac--*.sql)

TESTS = $(sort $(wildcard test/sql/*.sql))
REGRESS = $(patsubst test/sql/%.sql,%,$(TESTS))
REGRESS_OPTS = --inputdir=test --load-extension=dblink

PG_CPPFLAGS = -Isrc
SHLIB_LINK = -lsodium

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
