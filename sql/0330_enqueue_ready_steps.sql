-- tasker.enqueue_ready_steps(limit, now): the step enqueuer's one call.
--
-- Picks up to p_limit dispatchable steps across all tasks -- pending with every parent satisfied,
-- or waiting_for_retry whose next_retry_at has come -- highest priority first, then oldest
-- ready_at, locking them FOR UPDATE SKIP LOCKED so concurrent callers (other servers) never take
-- the same step, and dispatches them with tasker._dispatch_steps in this transaction.
-- Cost: O(steps picked) through the partial index workflow_steps_ready.
-- Returns (step_uuid, task_uuid, queue_name) per step sent.
CREATE OR REPLACE FUNCTION tasker.enqueue_ready_steps(p_limit integer DEFAULT 1000, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (step_uuid uuid, task_uuid uuid, queue_name text)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_steps uuid[];
BEGIN
    SELECT array_agg(picked.step_uuid ORDER BY picked.step_uuid) INTO v_steps
      FROM (SELECT s.step_uuid
              FROM tasker.workflow_steps s
             WHERE s.ready_at IS NOT NULL
               AND s.ready_at <= v_now
             ORDER BY s.priority DESC, s.ready_at, s.step_uuid
             LIMIT greatest(p_limit, 0)
               FOR UPDATE SKIP LOCKED) AS picked;

    RETURN QUERY SELECT * FROM tasker._dispatch_steps(v_steps, v_now);
END;
$$;
COMMENT ON FUNCTION tasker.enqueue_ready_steps(integer, timestamptz) IS
    'The step enqueuer''s call: picks up to p_limit dispatchable steps (highest priority, then oldest ready_at) FOR UPDATE SKIP LOCKED and sends them to their namespace queues in this transaction, so a step is never dispatched twice nor lost. Returns one row per step sent.';
