-- Privileges: the worker protocol is a trust boundary (docs/worker-protocol.md, "Database role").
--
-- Applied last, after every function exists; re-applied whenever sql/ changes, so a function added
-- later is covered. The group role tasker_worker is created by the migrator before sql/ runs
-- (src/db/migrate.rs), so it exists here.
--
-- PUBLIC gets nothing: no function of schema tasker is executable by PUBLIC (PostgreSQL grants
-- EXECUTE to PUBLIC on every new function), no schema is usable by it, no table readable.
-- tasker_worker gets exactly the worker protocol: USAGE on schema tasker (to name the functions),
-- EXECUTE on claim_steps, extend_visibility, submit_step_results / submit_step_result,
-- submit_and_claim (an acknowledgement and a claim in one call) and list_namespaces (all SECURITY
-- DEFINER, restricted to the role's namespaces), and INSERT on the execution audit. It has no table of schema tasker and nothing of pgmq: it cannot read a queue,
-- send a result message or change a step except through those functions.
REVOKE ALL ON SCHEMA tasker FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA tasker FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA tasker FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA tasker FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA tasker REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
REVOKE ALL ON SCHEMA tasker_archive FROM PUBLIC;
REVOKE ALL ON SCHEMA tasker_audit FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA tasker_audit FROM PUBLIC;

-- pgmq: owned by the migrating role when installed from its embedded SQL (a non-owner's REVOKE is
-- a warning, not an error, where pgmq is a superuser's extension). Its pg_monitor grants stay.
REVOKE ALL ON SCHEMA pgmq FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA pgmq FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgmq FROM PUBLIC;

GRANT USAGE ON SCHEMA tasker TO tasker_worker;
GRANT EXECUTE ON FUNCTION
    tasker.claim_steps(text, integer, integer, text, timestamptz),
    tasker.extend_visibility(text, bigint[], integer),
    tasker.submit_step_results(jsonb, timestamptz),
    tasker.submit_step_result(uuid, integer, bigint, text, jsonb, jsonb, bigint),
    tasker.submit_and_claim(jsonb, text, integer, integer, text),
    tasker.list_namespaces()
    TO tasker_worker;
GRANT USAGE ON SCHEMA tasker_audit TO tasker_worker;
GRANT INSERT ON tasker_audit.step_executions TO tasker_worker;
