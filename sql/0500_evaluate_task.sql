-- tasker._evaluation_metadata(total, done, in_flight, failed, retrying, ready): the step counts a
-- task's evaluation records in the metadata of its history rows, written in one place for
-- tasker._evaluate_task and tasker._complete_tasks. One expression with pg_catalog-qualified
-- names and no SET clause, so the planner inlines it. Internal.
CREATE OR REPLACE FUNCTION tasker._evaluation_metadata(p_total bigint, p_done bigint, p_in_flight bigint,
                                                       p_failed bigint, p_retrying bigint, p_ready bigint)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.jsonb_build_object('steps_total', p_total, 'steps_done', p_done, 'steps_in_flight', p_in_flight,
                                         'steps_failed', p_failed, 'steps_retrying', p_retrying, 'steps_ready', p_ready)
$$;

-- tasker._evaluate_task(task_uuid, now, finalized): derives a task's state from its steps' states and
-- moves it there through the task state machine. Internal; the caller holds the task's lock.
--
-- The rule, first match wins:
--   every step complete or resolved_manually                      -> complete
--   a step in error, and something still in flight/ready/retrying -> blocked_by_failures
--   a step in error, nothing else can progress                    -> error (+ a DLQ entry)
--   a step enqueued or in_progress                                -> steps_in_process
--   a step pending with all parents satisfied                     -> enqueuing_steps (+ tasker_steps_ready)
--   a step waiting_for_retry                                      -> waiting_for_retry
--   otherwise                                                     -> waiting_for_dependencies
-- Path: <state> -evaluate-> evaluating_results -<event>-> target (from error: -retry-> instead,
-- and the task's open DLQ entries are marked retried).
-- Tasks in pending, initializing or a final state other than error are left alone, and a task
-- already in its target state is not moved (no history row). With p_finalized (the finalizer's
-- call) the task's finalization flag is cleared too, in the same row write as the move when there
-- is one. Returns the task's state afterwards.
CREATE OR REPLACE FUNCTION tasker._evaluate_task(p_task_uuid uuid, p_now timestamptz DEFAULT NULL,
                                                 p_finalized boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_now    timestamptz := coalesce(p_now, now());
    v_state  text;
    v_target text;
    v_event  text;
    c        record;
    v_reason text;
BEGIN
    SELECT t.state INTO v_state FROM tasker.tasks t WHERE t.task_uuid = p_task_uuid;
    IF v_state IS NULL OR v_state IN ('pending', 'initializing', 'complete', 'cancelled', 'resolved_manually') THEN
        IF p_finalized THEN
            UPDATE tasker.tasks t SET finalization_requested_at = NULL
             WHERE t.task_uuid = p_task_uuid AND t.finalization_requested_at IS NOT NULL;
        END IF;
        RETURN v_state;
    END IF;

    SELECT count(*) AS total,
           count(*) FILTER (WHERE s.state IN ('complete', 'resolved_manually')) AS done,
           count(*) FILTER (WHERE s.state IN ('enqueued', 'in_progress')) AS in_flight,
           count(*) FILTER (WHERE s.state = 'error') AS failed,
           count(*) FILTER (WHERE s.state = 'waiting_for_retry') AS retrying,
           count(*) FILTER (WHERE s.state = 'pending' AND s.ready_at IS NOT NULL) AS ready
      INTO c
      FROM tasker.workflow_steps s
     WHERE s.task_uuid = p_task_uuid;

    IF c.done = c.total THEN
        v_target := 'complete'; v_event := 'complete';
    ELSIF c.failed > 0 AND c.in_flight + c.ready + c.retrying > 0 THEN
        v_target := 'blocked_by_failures'; v_event := 'block';
    ELSIF c.failed > 0 THEN
        v_target := 'error'; v_event := 'fail';
    ELSIF c.in_flight > 0 THEN
        v_target := 'steps_in_process'; v_event := 'continue';
    ELSIF c.ready > 0 THEN
        v_target := 'enqueuing_steps'; v_event := 'enqueue';
    ELSIF c.retrying > 0 THEN
        v_target := 'waiting_for_retry'; v_event := 'wait_for_retry';
    ELSE
        v_target := 'waiting_for_dependencies'; v_event := 'wait_for_dependencies';
    END IF;

    IF v_target = v_state THEN
        IF p_finalized THEN
            UPDATE tasker.tasks t SET finalization_requested_at = NULL
             WHERE t.task_uuid = p_task_uuid AND t.finalization_requested_at IS NOT NULL;
        END IF;
        RETURN v_state;
    END IF;

    IF v_state = 'error' THEN
        UPDATE tasker.dlq_entries d
           SET resolution_status = 'retried', updated_at = v_now, resolved_at = v_now
         WHERE d.task_uuid = p_task_uuid AND d.resolution_status IN ('pending', 'investigating');
    END IF;
    PERFORM tasker._move_task(p_task_uuid,
        CASE WHEN v_state = 'error' THEN ARRAY['retry', v_event]
             WHEN v_state = 'evaluating_results' THEN ARRAY[v_event]
             ELSE ARRAY['evaluate', v_event] END,
        tasker._evaluation_metadata(c.total, c.done, c.in_flight, c.failed, c.retrying, c.ready),
        v_now, p_finalized);

    IF v_target = 'error' THEN
        SELECT string_agg(format('step %s failed after %s attempt(s): %s', s.name, s.attempts,
                                 coalesce(s.last_error ->> 'message', 'no message')), '; ' ORDER BY s.position)
          INTO v_reason
          FROM tasker.workflow_steps s
         WHERE s.task_uuid = p_task_uuid AND s.state = 'error';
        INSERT INTO tasker.dlq_entries (task_uuid, reason, task_state, snapshot, created_at, updated_at)
        SELECT t.task_uuid, v_reason, t.state,
               jsonb_build_object(
                   'task', to_jsonb(t),
                   'steps', (SELECT jsonb_agg(jsonb_build_object(
                                 'step_uuid', s.step_uuid, 'name', s.name, 'handler', s.handler, 'state', s.state,
                                 'attempts', s.attempts, 'max_attempts', s.max_attempts, 'results', s.results,
                                 'last_error', s.last_error) ORDER BY s.position)
                               FROM tasker.workflow_steps s WHERE s.task_uuid = t.task_uuid)),
               v_now, v_now
          FROM tasker.tasks t WHERE t.task_uuid = p_task_uuid;
        PERFORM pg_notify('tasker_dlq', p_task_uuid::text);
    ELSIF v_target = 'enqueuing_steps' THEN
        PERFORM pg_notify('tasker_steps_ready', '');
    END IF;
    RETURN v_target;
END;
$$;
