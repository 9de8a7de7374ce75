-- tasker.stale_steps(grace_seconds, limit, now): what the staleness sweeper would look at, read
-- only. Steps enqueued or in_progress for longer than their timeout_seconds plus
-- p_grace_seconds (the sweeper's candidates), at most p_limit per namespace, oldest first, with
-- whether the dispatch message is still in its namespace queue. `message_present = false` rows are the ones tasker.sweep_stale_steps
-- fails (an in_progress step with attempts left as a retryable "Stale" error, otherwise
-- permanently); the others are waiting for their message's redelivery. Takes no locks and
-- changes nothing, so an operator can look before a sweep or instead of one. Reads the steps of
-- tasks in a non-terminal state, as the sweep does.
-- Raises TK004 for a negative p_grace_seconds or a p_limit below 1.
CREATE OR REPLACE FUNCTION tasker.stale_steps(
    p_grace_seconds integer DEFAULT 60, p_limit integer DEFAULT 100, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (step_uuid uuid, task_uuid uuid, namespace text, step_name text, state text, attempts integer,
               max_attempts integer, since timestamptz, overdue interval, dispatch_msg_id bigint,
               message_present boolean)
LANGUAGE plpgsql STABLE
SET search_path = ''
AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_queue record;
BEGIN
    IF p_grace_seconds IS NULL OR p_grace_seconds < 0 OR p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('stale_steps: grace_seconds must be >= 0 and limit >= 1, got %s and %s',
                             coalesce(p_grace_seconds::text, 'NULL'), coalesce(p_limit::text, 'NULL'));
    END IF;
    FOR v_queue IN
        SELECT n.name AS namespace, n.queue_name
          FROM tasker.namespaces n ORDER BY n.name
    LOOP
        RETURN QUERY EXECUTE format(
            'SELECT s.step_uuid, s.task_uuid, s.namespace, s.name, s.state, s.attempts, s.max_attempts,
                    coalesce(s.claimed_at, s.enqueued_at),
                    $2 - (coalesce(s.claimed_at, s.enqueued_at) + make_interval(secs => s.timeout_seconds + $3)),
                    s.dispatch_msg_id,
                    EXISTS (SELECT 1 FROM pgmq.%I q
                             WHERE q.msg_id = s.dispatch_msg_id
                                OR (s.dispatch_msg_id IS NULL AND q.message ->> ''step_uuid'' = s.step_uuid::text))
               FROM tasker.workflow_steps s
              WHERE s.task_uuid = ANY (ARRAY(SELECT t.task_uuid FROM tasker.tasks t
                                              WHERE t.state = ANY (tasker._active_task_states())))
                AND s.namespace = $1 AND s.state IN (''enqueued'', ''in_progress'')
                AND coalesce(s.claimed_at, s.enqueued_at) + make_interval(secs => s.timeout_seconds + $3) < $2
              ORDER BY coalesce(s.claimed_at, s.enqueued_at)
              LIMIT $4',
            'q_' || v_queue.queue_name)
          USING v_queue.namespace, v_now, p_grace_seconds, p_limit;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION tasker.stale_steps(integer, integer, timestamptz) IS
    'Read-only: steps enqueued or in_progress past their timeout plus grace, oldest first per namespace, with whether their dispatch message still exists (what tasker.sweep_stale_steps would fail). TK004 bad arguments.';
