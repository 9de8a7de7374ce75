-- tasker.cancel_task(task_uuid, reason): cancels a task and every step that has not finished.
--
-- Guarantees: locks the task's steps (step_uuid order) then the task; steps pending, enqueued,
-- in_progress, waiting_for_retry or error move to cancelled, the task to cancelled, with the
-- reason in each history row. Messages already in worker queues are discarded when a worker
-- tries to claim them, and late results of running steps are ignored, so nothing further is
-- dispatched or applied. Cancelling a cancelled task returns 'cancelled' and changes nothing;
-- cancelling a complete or resolved_manually task raises TK006; an unknown task TK002.
-- Returns the task's state afterwards.
CREATE OR REPLACE FUNCTION tasker.cancel_task(p_task_uuid uuid, p_reason text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_state text;
    v_steps uuid[];
    v_meta  jsonb := jsonb_build_object('reason', coalesce(p_reason, 'cancelled'));
BEGIN
    PERFORM 1 FROM tasker.workflow_steps s WHERE s.task_uuid = p_task_uuid ORDER BY s.step_uuid FOR UPDATE;
    SELECT t.state INTO v_state FROM tasker.tasks t WHERE t.task_uuid = p_task_uuid FOR UPDATE;
    IF v_state IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('task %s not found', p_task_uuid);
    ELSIF v_state = 'cancelled' THEN
        RETURN v_state;
    ELSIF v_state IN ('complete', 'resolved_manually') THEN
        RAISE EXCEPTION USING ERRCODE = 'TK006',
            MESSAGE = format('task %s is %s and cannot be cancelled', p_task_uuid, v_state);
    END IF;

    SELECT array_agg(s.step_uuid ORDER BY s.step_uuid) INTO v_steps
      FROM tasker.workflow_steps s
     WHERE s.task_uuid = p_task_uuid
       AND s.state IN ('pending', 'enqueued', 'in_progress', 'waiting_for_retry', 'error');
    IF v_steps IS NOT NULL THEN
        PERFORM tasker.transition_steps(v_steps, 'cancel', NULL, v_meta);
    END IF;
    PERFORM tasker.transition_tasks(ARRAY[p_task_uuid], 'cancel', v_meta);
    UPDATE tasker.tasks t SET finalization_requested_at = NULL WHERE t.task_uuid = p_task_uuid;
    UPDATE tasker.dlq_entries d SET resolution_status = 'discarded', updated_at = now(), resolved_at = now(),
           resolution_notes = coalesce(d.resolution_notes || E'\n', '') || 'task cancelled: ' || coalesce(p_reason, '')
     WHERE d.task_uuid = p_task_uuid AND d.resolution_status IN ('pending', 'investigating');
    RETURN 'cancelled';
END;
$$;
COMMENT ON FUNCTION tasker.cancel_task(uuid, text) IS
    'Cancels a task and every unfinished step (steps in step_uuid order, then the task) and discards its open DLQ entries. A cancelled task is left as is; TK006 when complete or resolved_manually, TK002 unknown. Returns the task''s state afterwards.';
