-- tasker.step_transitions(step_uuid): a step's state history, oldest first.
-- tasker.task_transitions_of(task_uuid): a task's state history, oldest first.
-- Both return no rows for an unknown id.
CREATE OR REPLACE FUNCTION tasker.step_transitions(p_step_uuid uuid)
RETURNS TABLE (id bigint, from_state text, to_state text, event text, attempt integer, metadata jsonb,
               created_at timestamptz)
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT h.id, h.from_state, h.to_state, h.event, h.attempt, h.metadata, h.created_at
      FROM tasker.workflow_step_transitions h
     WHERE h.step_uuid = p_step_uuid
     ORDER BY h.id;
$$;

CREATE OR REPLACE FUNCTION tasker.task_transitions_of(p_task_uuid uuid)
RETURNS TABLE (id bigint, from_state text, to_state text, event text, metadata jsonb, created_at timestamptz)
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT h.id, h.from_state, h.to_state, h.event, h.metadata, h.created_at
      FROM tasker.task_transitions h
     WHERE h.task_uuid = p_task_uuid
     ORDER BY h.id;
$$;
