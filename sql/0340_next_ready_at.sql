-- tasker.next_ready_at(now): when the step enqueuer next has work without being told: the
-- earliest ready_at still in the future (a retry coming due), or NULL when none is scheduled.
-- The enqueuer sleeps until then (or its fallback tick, whichever is sooner). Reads the partial
-- index of dispatchable steps only.
CREATE OR REPLACE FUNCTION tasker.next_ready_at(p_now timestamptz DEFAULT NULL)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT min(s.ready_at) FROM tasker.workflow_steps s
     WHERE s.ready_at IS NOT NULL AND s.ready_at > coalesce(p_now, now());
$$;
COMMENT ON FUNCTION tasker.next_ready_at(timestamptz) IS
    'The earliest ready_at still in the future (a retry coming due), or NULL: when the step enqueuer next has work without being notified.';
