#!/usr/bin/env bash
# README's "Delegating to an agency" must run as written: its ```sql blocks,
# concatenated, must be the text that test/sql/34_agency_walkthrough.sql
# runs between its README markers (blank lines aside).  The regression
# suite executes that text; this checks the README did not drift from it.
set -euo pipefail
cd "$(dirname "$0")/../.."

readme_sql() {
    awk '/^## /{in_section = ($0 == "## Delegating to an agency")}
         in_section && in_block && /^```$/{in_block = 0; next}
         in_section && /^```sql$/{in_block = 1; next}
         in_section && in_block' README.md
}
test_sql() {
    awk '/^-- README end$/{on = 0} on; /^-- README begin$/{on = 1}' test/sql/34_agency_walkthrough.sql
}

if [ -z "$(test_sql)" ]; then
    echo "no walkthrough found between the README markers of test/sql/34_agency_walkthrough.sql"
    echo "0 passed, 1 failed"
    exit 1
fi
if diff -u <(test_sql | grep -v '^[[:space:]]*$') <(readme_sql | grep -v '^[[:space:]]*$'); then
    echo "ok: the README walkthrough is the SQL the regression test runs"
    echo "1 passed, 0 failed"
else
    echo "the README walkthrough differs from test/sql/34_agency_walkthrough.sql (diff above)"
    echo "0 passed, 1 failed"
    exit 1
fi
