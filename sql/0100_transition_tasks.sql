-- tasker.transition_tasks(task_uuids, event, metadata, now): the one writer of tasks.state.
--
-- Guarantees:
--   * locks the tasks in task_uuid order;
--   * every listed task has an allowed (state, event) move in tasker.task_state_transitions,
--     otherwise nothing changes and SQLSTATE TK001 is raised naming the task, its state and the
--     events that state allows; an unknown task raises TK002;
--   * writes the new state, updated_at, completed_at (set on entering a final state, cleared on
--     leaving one) and appends one tasker.task_transitions row per task, all in the caller's
--     transaction;
--   * notifies channel tasker_task_changed with '<task_uuid>:<state>' per task.
-- Returns one row per task moved: (task_uuid, from_state, to_state).
CREATE OR REPLACE FUNCTION tasker.transition_tasks(
    p_task_uuids uuid[],
    p_event      text,
    p_metadata   jsonb DEFAULT NULL,
    p_now        timestamptz DEFAULT NULL)
RETURNS TABLE (task_uuid uuid, from_state text, to_state text)
LANGUAGE plpgsql
SET search_path = ''
AS $$
#variable_conflict use_column
DECLARE
    v_now     timestamptz := coalesce(p_now, now());
    v_missing uuid;
    v_bad     record;
BEGIN
    PERFORM 1 FROM tasker.tasks t
     WHERE t.task_uuid = ANY (p_task_uuids)
     ORDER BY t.task_uuid
       FOR UPDATE;

    SELECT u INTO v_missing
      FROM unnest(p_task_uuids) AS u
     WHERE NOT EXISTS (SELECT 1 FROM tasker.tasks t WHERE t.task_uuid = u)
     LIMIT 1;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('task %s not found', v_missing);
    END IF;

    SELECT t.task_uuid, t.state INTO v_bad
      FROM tasker.tasks t
     WHERE t.task_uuid = ANY (p_task_uuids)
       AND NOT EXISTS (SELECT 1 FROM tasker.task_state_transitions m
                        WHERE m.from_state = t.state AND m.event = p_event)
     ORDER BY t.task_uuid
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'TK001',
            MESSAGE = format('task %s cannot take event ''%s'' in state ''%s''', v_bad.task_uuid, p_event, v_bad.state),
            HINT = coalesce('events allowed in state ''' || v_bad.state || ''': ' ||
                     (SELECT string_agg(m.event, ', ' ORDER BY m.event)
                        FROM tasker.task_state_transitions m WHERE m.from_state = v_bad.state),
                     'state ''' || v_bad.state || ''' is final');
    END IF;

    RETURN QUERY
    WITH old AS (
        SELECT t.task_uuid, t.state
          FROM tasker.tasks t
         WHERE t.task_uuid = ANY (p_task_uuids)
    ), moved AS (
        UPDATE tasker.tasks t
           SET state = m.to_state,
               updated_at = v_now,
               completed_at = CASE WHEN s.is_terminal THEN coalesce(t.completed_at, v_now) END
          FROM old
          JOIN tasker.task_state_transitions m ON m.from_state = old.state AND m.event = p_event
          JOIN tasker.task_states s ON s.state = m.to_state
         WHERE t.task_uuid = old.task_uuid
        RETURNING t.task_uuid, old.state AS from_state, t.state AS to_state
    ), history AS (
        INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, metadata, created_at)
        SELECT moved.task_uuid, moved.from_state, moved.to_state, p_event, p_metadata, v_now
          FROM moved
    )
    SELECT moved.task_uuid, moved.from_state, moved.to_state FROM moved;

    PERFORM pg_notify('tasker_task_changed', t.task_uuid::text || ':' || t.state)
       FROM tasker.tasks t
      WHERE t.task_uuid = ANY (p_task_uuids);
END;
$$;
