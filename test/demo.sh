#!/usr/bin/env bash
# The demo: installs what is missing, builds and installs qilin_rbac, starts a
# throwaway cluster and plays the agency/merchant story (test/demo.sql),
# showing what each key may and may not see.  Run as root from anywhere.
# QILIN_RBAC_KEEP=1 keeps the cluster's directory afterwards.
cd "$(dirname "$0")/.."
. test/lib.sh

qr_install_packages
qr_build
qr_start_cluster
psql -X -q -v ON_ERROR_STOP=1 -f test/demo.sql
