-- tasker.submit_step_results applies results in the worker's own transaction and takes a second,
-- optional argument (p_now, the owning role's time travel, as tasker.claim_steps has). A function's
-- argument list is part of its identity, so the one-argument version is dropped here, once, and
-- sql/0420_submit_step_results.sql creates the new one (sql/0990_privileges.sql grants it to
-- tasker_worker again). Calls with one argument keep working: the second has a default.
-- tasker.submit_step_result (sql, same file) is re-created with it; its body is resolved when it runs.
DROP FUNCTION IF EXISTS tasker.submit_step_results(jsonb);
