-- tasker.sweep_stale_steps(grace_seconds, limit, now): the staleness sweeper's one call; a
-- safety net for steps whose dispatch message has vanished (a queue purged by hand, a message
-- deleted outside the protocol), which nothing else would ever move again.
--
-- Candidates are read through their tasks (tasks in a non-terminal state, tasker._active_task_states:
-- a step in flight always belongs to one), so the sweep's cost follows the work in progress.
-- A step enqueued or in_progress for longer than its timeout_seconds plus p_grace_seconds whose
-- dispatch message is no longer in its namespace queue is failed at once, under the step lock
-- this call holds: an in_progress step through tasker.apply_step_results -- a retryable_error of
-- class "Stale" while attempts remain, else a permanent_error -- so retries, failure and the
-- task's flag for finalization (then its error state and DLQ entry) follow as for any other
-- failure. A step whose message still exists is left alone: its redelivery after the visibility
-- timeout already recovers it. Enqueued steps (never claimed) are failed directly
-- (enqueued -> error) and their tasks flagged for finalization.
-- Locks the steps it changes (SKIP LOCKED: steps busy elsewhere are not stale), then their tasks
-- (apply_step_results). Returns the number of steps failed or scheduled for retry.
CREATE OR REPLACE FUNCTION tasker.sweep_stale_steps(
    p_grace_seconds integer DEFAULT 60, p_limit integer DEFAULT 100, p_now timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_now    timestamptz := coalesce(p_now, now());
    v_queue  record;
    v_lost   uuid[] := '{}'::uuid[];
    v_ids    uuid[];
    v_results jsonb;
    v_applied integer;
    v_failed uuid[];
    v_count  integer := 0;
BEGIN
    FOR v_queue IN
        SELECT n.queue_name, array_agg(s.step_uuid) AS steps, array_agg(s.dispatch_msg_id) AS msg_ids
          FROM (SELECT s.step_uuid, s.namespace, s.dispatch_msg_id
                  FROM tasker.workflow_steps s
                 -- The tasks first, as an array: the steps are then read through
                 -- workflow_steps_name_unique, never by a walk of the whole primary key.
                 WHERE s.task_uuid = ANY (ARRAY(SELECT t.task_uuid FROM tasker.tasks t
                                                 WHERE t.state = ANY (tasker._active_task_states())))
                   AND s.state IN ('enqueued', 'in_progress')
                   AND coalesce(s.claimed_at, s.enqueued_at) + make_interval(secs => s.timeout_seconds + p_grace_seconds) < v_now
                 ORDER BY s.step_uuid
                 LIMIT greatest(p_limit, 0)
                   FOR UPDATE SKIP LOCKED) s
          JOIN tasker.namespaces n ON n.name = s.namespace
         GROUP BY n.queue_name
    LOOP
        -- Enqueued steps have no dispatch_msg_id yet: their message is found by its body.
        EXECUTE format(
            'SELECT array_agg(u) FROM unnest($1::uuid[], $2::bigint[]) AS x (u, m)
              WHERE NOT EXISTS (SELECT 1 FROM pgmq.%I q
                                 WHERE q.msg_id = x.m OR (x.m IS NULL AND q.message ->> ''step_uuid'' = x.u::text))',
            'q_' || v_queue.queue_name)
          INTO v_ids USING v_queue.steps, v_queue.msg_ids;
        v_lost := v_lost || coalesce(v_ids, '{}');
    END LOOP;

    SELECT jsonb_agg(jsonb_build_object(
               'step_uuid', s.step_uuid, 'task_uuid', s.task_uuid, 'attempt', s.attempts,
               'msg_id', s.dispatch_msg_id,
               'status', CASE WHEN s.attempts < s.max_attempts THEN 'retryable_error' ELSE 'permanent_error' END,
               'error', jsonb_build_object('class', 'Stale',
                   'message', format('step %s: no result %s after its timeout and its queue message is gone',
                                     s.name, p_grace_seconds || 's'))) ORDER BY s.step_uuid)
      INTO v_results
      -- (OFFSET 0: read by primary key.)
      FROM (SELECT * FROM tasker.workflow_steps w WHERE w.step_uuid = ANY (v_lost) OFFSET 0) s
     WHERE s.state = 'in_progress';
    IF v_results IS NOT NULL THEN
        SELECT a.retried + a.failed INTO v_applied FROM tasker.apply_step_results(v_results, v_now) a;
        v_count := v_count + v_applied;
    END IF;

    SELECT array_agg(s.step_uuid ORDER BY s.step_uuid) INTO v_failed
      FROM (SELECT * FROM tasker.workflow_steps w WHERE w.step_uuid = ANY (v_lost) OFFSET 0) s
     WHERE s.state = 'enqueued';
    IF v_failed IS NOT NULL THEN
        PERFORM tasker.transition_steps(v_failed, 'fail',
            array_fill(jsonb_build_object('error', jsonb_build_object('class', 'Stale',
                'message', 'step was enqueued but its queue message is gone')), ARRAY[cardinality(v_failed)]),
            NULL, v_now);
        UPDATE tasker.tasks t SET finalization_requested_at = coalesce(t.finalization_requested_at, v_now)
         WHERE t.task_uuid IN (SELECT s.task_uuid FROM tasker.workflow_steps s WHERE s.step_uuid = ANY (v_failed));
        v_count := v_count + cardinality(v_failed);
        PERFORM pg_notify('tasker_task_finalize', '');
    END IF;
    RETURN v_count;
END;
$$;
COMMENT ON FUNCTION tasker.sweep_stale_steps(integer, integer, timestamptz) IS
    'The staleness sweeper''s call: fails steps enqueued or in_progress past their timeout plus p_grace_seconds whose queue message has vanished, at once under their row locks (apply_step_results for in-progress steps: a Stale retry while attempts remain, else a failure); steps locked elsewhere are skipped. Returns the number of steps failed or scheduled for retry.';
