-- tasker._move_task(task_uuid, events, metadata, now, finalized): the writer of tasks.state (besides
-- task creation, tasker._insert_tasks, and the set-by-set completion, tasker._complete_tasks).
--
-- Guarantees:
--   * locks the task row;
--   * walks p_events in order through tasker.task_state_transitions starting from the task's
--     current state; if any (state, event) pair is not allowed nothing changes and SQLSTATE TK001
--     is raised naming the task, the state, the event and the events that state allows; an
--     unknown task raises TK002;
--   * writes the final state, updated_at and completed_at (set on entering a final state, cleared
--     on leaving one) in one UPDATE and appends one tasker.task_transitions row per event, so a
--     path such as initialize -> enqueue -> steps_enqueued costs one row write plus its history;
--   * with p_finalized (the finalizer's evaluation), clears finalization_requested_at in the
--     same row write: a finalized task is written once, not once for the flag and once for the move;
--   * notifies channel tasker_task_changed with '<task_uuid>:<state>'.
-- Returns the task's state afterwards.
CREATE OR REPLACE FUNCTION tasker._move_task(
    p_task_uuid uuid,
    p_events    text[],
    p_metadata  jsonb DEFAULT NULL,
    p_now       timestamptz DEFAULT NULL,
    p_finalized boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_state text;
    v_to    text;
    v_event text;
    v_froms text[] := '{}'::text[];
    v_tos   text[] := '{}'::text[];
BEGIN
    SELECT t.state INTO v_state FROM tasker.tasks t WHERE t.task_uuid = p_task_uuid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('task %s not found', p_task_uuid);
    END IF;

    FOREACH v_event IN ARRAY p_events LOOP
        SELECT m.to_state INTO v_to FROM tasker.task_state_transitions m
         WHERE m.from_state = v_state AND m.event = v_event;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING
                ERRCODE = 'TK001',
                MESSAGE = format('task %s cannot take event ''%s'' in state ''%s''', p_task_uuid, v_event, v_state),
                HINT = coalesce('events allowed in state ''' || v_state || ''': ' ||
                         (SELECT string_agg(m.event, ', ' ORDER BY m.event)
                            FROM tasker.task_state_transitions m WHERE m.from_state = v_state),
                         'state ''' || v_state || ''' is final');
        END IF;
        v_froms := v_froms || v_state;
        v_tos := v_tos || v_to;
        v_state := v_to;
    END LOOP;
    IF cardinality(v_tos) = 0 THEN
        RETURN v_state;
    END IF;

    UPDATE tasker.tasks t
       SET state = v_state,
           updated_at = v_now,
           completed_at = CASE WHEN v_state IN ('complete', 'error', 'cancelled', 'resolved_manually')
                               THEN coalesce(t.completed_at, v_now) END,
           finalization_requested_at = CASE WHEN p_finalized THEN NULL ELSE t.finalization_requested_at END
     WHERE t.task_uuid = p_task_uuid;
    INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, metadata, created_at)
    SELECT p_task_uuid, x.f, x.t, x.e, p_metadata, v_now
      FROM unnest(v_froms, v_tos, p_events) AS x (f, t, e);
    PERFORM pg_notify('tasker_task_changed', p_task_uuid::text || ':' || v_state);
    RETURN v_state;
END;
$$;

-- tasker.transition_tasks(task_uuids, event, metadata, now): applies one event to several tasks.
--
-- Guarantees: the tasks are moved in task_uuid order with tasker._move_task, all or nothing:
-- an illegal move of any of them (TK001) or an unknown task (TK002) raises and the caller's
-- transaction changes nothing. Returns one row per task moved: (task_uuid, from_state, to_state).
CREATE OR REPLACE FUNCTION tasker.transition_tasks(
    p_task_uuids uuid[],
    p_event      text,
    p_metadata   jsonb DEFAULT NULL,
    p_now        timestamptz DEFAULT NULL)
RETURNS TABLE (task_uuid uuid, from_state text, to_state text)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_id   uuid;
    v_from text;
BEGIN
    FOR v_id IN SELECT DISTINCT u FROM unnest(p_task_uuids) AS u ORDER BY u LOOP
        SELECT t.state INTO v_from FROM tasker.tasks t WHERE t.task_uuid = v_id;
        task_uuid := v_id;
        to_state := tasker._move_task(v_id, ARRAY[p_event], p_metadata, p_now);
        from_state := v_from;
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION tasker.transition_tasks(uuid[], text, jsonb, timestamptz) IS
    'Applies one event to several tasks, in task_uuid order, through the task state machine; all or nothing (TK001 illegal move, TK002 unknown task). Returns (task_uuid, from_state, to_state) per task moved.';

-- tasker._active_task_states(): the task states that are not terminal (task_states.is_terminal),
-- as an array for `t.state = ANY (...)` through the tasks_state index. A step enqueued or in
-- progress always belongs to a task in one of them: cancelling a task cancels its steps in
-- flight, and a task ends complete, error or resolved only once nothing of it is in flight.
-- Queries that look for steps in flight (the staleness sweep) start from these tasks, since no
-- index of workflow_steps names its state (HOT updates). Internal.
CREATE OR REPLACE FUNCTION tasker._active_task_states()
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT array_agg(ts.state ORDER BY ts.state) FROM tasker.task_states ts WHERE NOT ts.is_terminal;
$$;
