-- tasker.state_counts(): how many tasks and steps are in each state, for dashboards and the
-- /metrics endpoint. One row per (kind, state) that has rows; kind is 'task' or 'step'.
-- Cost: an index scan of tasks (by state) and a scan of workflow_steps -- for dashboards and
-- scrapes, not for hot paths.
CREATE OR REPLACE FUNCTION tasker.state_counts()
RETURNS TABLE (kind text, state text, count bigint)
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT 'task', t.state, count(*) FROM tasker.tasks t GROUP BY t.state
    UNION ALL
    SELECT 'step', s.state, count(*) FROM tasker.workflow_steps s GROUP BY s.state;
$$;
COMMENT ON FUNCTION tasker.state_counts() IS
    'How many tasks and steps are in each state: one row per (kind, state) that has rows. For dashboards, not hot paths.';
