-- tasker.finalize_tasks(limit, now): the task finalizer's one call.
--
-- Takes up to p_limit tasks flagged for finalization (oldest flag first), locking them
-- FOR UPDATE SKIP LOCKED so concurrent finalizers never evaluate one task twice, and re-derives
-- each task's state with tasker._evaluate_task (complete, error + DLQ entry, blocked_by_failures,
-- waiting_for_retry, ...), which clears the task's flag in the same row write as its move (one
-- write per finalized task). O(steps of the tasks taken).
-- Durability: commits asynchronously (synchronous_commit off for the rest of the caller's
-- transaction; the finalizer makes this call alone): a finalization lost to a crash of
-- PostgreSQL within the WAL writer's delay leaves its tasks flagged, and they are finalized again
-- to the same state (the state is derived from the steps, which are durable).
-- Returns (task_uuid, from_state, to_state) for each task taken, changed or not.
CREATE OR REPLACE FUNCTION tasker.finalize_tasks(p_limit integer DEFAULT 100, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (task_uuid uuid, from_state text, to_state text)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_ids  uuid[];
    v_row  record;
BEGIN
    SELECT array_agg(x.task_uuid ORDER BY x.task_uuid) INTO v_ids
      FROM (SELECT t.task_uuid FROM tasker.tasks t
             WHERE t.finalization_requested_at IS NOT NULL
             ORDER BY t.finalization_requested_at, t.task_uuid
             LIMIT greatest(p_limit, 0)
               FOR UPDATE SKIP LOCKED) x;
    IF v_ids IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);

    -- Each task's flag is cleared by its evaluation, in the same row write as its move.
    FOR v_row IN SELECT t.task_uuid, t.state FROM tasker.tasks t WHERE t.task_uuid = ANY (v_ids) ORDER BY t.task_uuid LOOP
        task_uuid := v_row.task_uuid;
        from_state := v_row.state;
        to_state := tasker._evaluate_task(v_row.task_uuid, p_now, true);
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION tasker.finalize_tasks(integer, timestamptz) IS
    'The task finalizer''s call: takes up to p_limit flagged tasks FOR UPDATE SKIP LOCKED, clears the flag and re-derives each task''s state from its steps (a task entering error gets a DLQ entry). Returns (task_uuid, from_state, to_state) per task taken.';

-- tasker.finalize_task(task_uuid, now): re-derives one task's state now (waits for its lock).
-- For operators and tests; returns the state afterwards. Raises TK002 for an unknown task.
CREATE OR REPLACE FUNCTION tasker.finalize_task(p_task_uuid uuid, p_now timestamptz DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
BEGIN
    PERFORM 1 FROM tasker.tasks t WHERE t.task_uuid = p_task_uuid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('task %s not found', p_task_uuid);
    END IF;
    RETURN tasker._evaluate_task(p_task_uuid, p_now, true);
END;
$$;
COMMENT ON FUNCTION tasker.finalize_task(uuid, timestamptz) IS
    'Re-derives one task''s state now, waiting for its lock; for operators and tests. TK002 unknown task. Returns the state afterwards.';
