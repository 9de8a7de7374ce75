-- tasker.step_transitions(step_uuid): a step's state history, oldest first (read through its
-- task's history: O(history rows of the task)).
-- tasker.task_transitions_of(task_uuid): a task's state history, oldest first.
-- tasker.task_history_since: a task's and its steps' changes after given history ids.
-- Both return no rows for an unknown id.
CREATE OR REPLACE FUNCTION tasker.step_transitions(p_step_uuid uuid)
RETURNS TABLE (id bigint, from_state text, to_state text, event text, attempt integer, metadata jsonb,
               created_at timestamptz)
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    -- Through the history's key (task_uuid, xid, id): there is no index by step.
    SELECT h.id, h.from_state, h.to_state, h.event, h.attempt, h.metadata, h.created_at
      FROM tasker.workflow_step_transitions h
     WHERE h.task_uuid = (SELECT s.task_uuid FROM tasker.workflow_steps s WHERE s.step_uuid = p_step_uuid)
       AND h.step_uuid = p_step_uuid
     ORDER BY h.id;
$$;
COMMENT ON FUNCTION tasker.step_transitions(uuid) IS
    'A step''s state history, oldest first; no rows for an unknown step.';

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
COMMENT ON FUNCTION tasker.task_transitions_of(uuid) IS
    'A task''s state history, oldest first; no rows for an unknown task.';

-- tasker.task_history_since(task_uuid, after_task_id, after_step_id): every state change of a
-- task and of its steps recorded after the given history ids, in the order they happened
-- (time, then step changes before the task change of the same instant, then id). kind is
-- 'task' or 'step'; step columns are NULL for task rows. History ids come from sequences: they
-- are handed out in insertion order, not commit order, so a follower that must see every change
-- remembers the ids it has seen rather than only the highest (as task status streams do).
CREATE OR REPLACE FUNCTION tasker.task_history_since(
    p_task_uuid uuid, p_after_task_id bigint DEFAULT 0, p_after_step_id bigint DEFAULT 0)
RETURNS TABLE (kind text, id bigint, step_uuid uuid, step_name text, step_position integer, from_state text,
               to_state text, event text, attempt integer, metadata jsonb, created_at timestamptz)
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT x.kind, x.id, x.step_uuid, x.step_name, x.step_position, x.from_state, x.to_state, x.event,
           x.attempt, x.metadata, x.created_at
      FROM (SELECT 'task' AS kind, h.id, NULL::uuid AS step_uuid, NULL::text AS step_name,
                   NULL::integer AS step_position, h.from_state, h.to_state, h.event, NULL::integer AS attempt,
                   h.metadata, h.created_at, 1 AS kind_order
              FROM tasker.task_transitions h
             WHERE h.task_uuid = p_task_uuid AND h.id > coalesce(p_after_task_id, 0)
            UNION ALL
            SELECT 'step', h.id, h.step_uuid, s.name, s.position, h.from_state, h.to_state, h.event, h.attempt,
                   h.metadata, h.created_at, 0
              FROM tasker.workflow_step_transitions h
              JOIN tasker.workflow_steps s ON s.step_uuid = h.step_uuid
             WHERE h.task_uuid = p_task_uuid AND h.id > coalesce(p_after_step_id, 0)) x
     ORDER BY x.created_at, x.kind_order, x.id;
$$;
COMMENT ON FUNCTION tasker.task_history_since(uuid, bigint, bigint) IS
    'Every state change of a task and of its steps with a history id above the given ones, in the order they happened.';

-- tasker.task_history_after(task_uuid, after): the state changes of a task and of its steps that
-- became visible after the snapshot `after` was taken -- exactly those written by transactions
-- that `after` does not see as committed -- in the order of task_history_since. A follower takes
-- `pg_current_snapshot()` in the same REPEATABLE READ transaction as each read and passes it as
-- `after` to the next: every committed change is returned once, a change is never returned
-- before one that committed earlier, and the read scans only the transactions since `after`'s
-- xmin (the key (task_uuid, xid, id)), not the task's whole history. Rows written before history
-- carried transaction ids (xid 0) count as older than every snapshot.
CREATE OR REPLACE FUNCTION tasker.task_history_after(p_task_uuid uuid, p_after pg_snapshot)
RETURNS TABLE (kind text, id bigint, step_uuid uuid, step_name text, step_position integer, from_state text,
               to_state text, event text, attempt integer, metadata jsonb, created_at timestamptz)
LANGUAGE sql STABLE
SET search_path = ''
-- Planned without the parameters' values: keep it on the (task_uuid, xid, id) key even when the
-- statistics say a task owns much of the table.
SET enable_seqscan = off
SET jit = off
AS $$
    SELECT x.kind, x.id, x.step_uuid, x.step_name, x.step_position, x.from_state, x.to_state, x.event,
           x.attempt, x.metadata, x.created_at
      FROM (SELECT 'task' AS kind, h.id, NULL::uuid AS step_uuid, NULL::text AS step_name,
                   NULL::integer AS step_position, h.from_state, h.to_state, h.event, NULL::integer AS attempt,
                   h.metadata, h.created_at, 1 AS kind_order
              FROM tasker.task_transitions h
             WHERE h.task_uuid = p_task_uuid
               AND h.xid >= pg_catalog.pg_snapshot_xmin(p_after)
               AND NOT pg_catalog.pg_visible_in_snapshot(h.xid, p_after)
            UNION ALL
            SELECT 'step', h.id, h.step_uuid, s.name, s.position, h.from_state, h.to_state, h.event, h.attempt,
                   h.metadata, h.created_at, 0
              FROM tasker.workflow_step_transitions h
              JOIN tasker.workflow_steps s ON s.step_uuid = h.step_uuid
             WHERE h.task_uuid = p_task_uuid
               AND h.xid >= pg_catalog.pg_snapshot_xmin(p_after)
               AND NOT pg_catalog.pg_visible_in_snapshot(h.xid, p_after)) x
     ORDER BY x.created_at, x.kind_order, x.id;
$$;
COMMENT ON FUNCTION tasker.task_history_after(uuid, pg_snapshot) IS
    'The state changes of a task and its steps committed after the given snapshot (commit-ordered follower cursor).';
