/* qilin_rbac 1.0 -> 1.1 */

\echo Use "ALTER EXTENSION qilin_rbac UPDATE TO '1.1'" to load this file. \quit
