-- tasker._complete_tasks(task_uuids, now): completes tasks whose every step is complete or
-- resolved_manually, all of them in one statement: what tasker._evaluate_task(task, now, true)
-- does for each of them, set by set. Internal; tasker._apply_results calls it for the tasks its
-- results have just finished.
--
-- Precondition: the caller holds the tasks' row locks, taken in task_uuid order, and has found
-- every step of each task complete or resolved_manually under them (every step transition of a
-- task except a claim happens under its task's lock, and a claim never makes a step done, so
-- that stays true).
-- Guarantees, in the caller's transaction, for each task:
--   * in a state with an evaluate move (steps_in_process, enqueuing_steps, waiting_for_*,
--     blocked_by_failures): one row write to complete (updated_at = now, completed_at = now,
--     the finalization flag cleared) and the two history rows of evaluate -> evaluating_results
--     -> complete, in that order, with the step counts tasker._evaluate_task records; channel
--     tasker_task_changed is notified with '<task_uuid>:complete', as tasker._move_task does;
--   * in any other state (evaluating_results, error, or one that evaluation leaves alone):
--     tasker._evaluate_task(task, now, true), exactly as before.
-- A state is on the first path only when tasker.task_state_transitions has both its evaluate
-- move and evaluating_results' complete move.
CREATE OR REPLACE FUNCTION tasker._complete_tasks(p_task_uuids uuid[], p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_moved uuid[];
BEGIN
    WITH path AS (
        SELECT t.task_uuid, t.state, e.to_state AS via,
               -- The task's own steps, counted through workflow_steps_name_unique (task_uuid, name).
               (SELECT count(*) FROM tasker.workflow_steps s WHERE s.task_uuid = t.task_uuid) AS total
          FROM tasker.tasks t
          JOIN tasker.task_state_transitions e ON e.from_state = t.state AND e.event = 'evaluate'
          JOIN tasker.task_state_transitions c
            ON c.from_state = e.to_state AND c.event = 'complete' AND c.to_state = 'complete'
         WHERE t.task_uuid = ANY (p_task_uuids)
    ), moved AS (
        UPDATE tasker.tasks t
           SET state = 'complete',
               updated_at = p_now,
               completed_at = coalesce(t.completed_at, p_now),
               finalization_requested_at = NULL
          FROM path
         WHERE t.task_uuid = path.task_uuid
        RETURNING t.task_uuid, path.state AS from_state, path.via, path.total
    ), history AS (
        INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, metadata, created_at)
        SELECT m.task_uuid, x.from_state, x.to_state, x.event,
               tasker._evaluation_metadata(m.total, m.total, 0, 0, 0, 0),
               p_now
          FROM moved m
          CROSS JOIN LATERAL (VALUES (1, m.from_state, m.via, 'evaluate'),
                                     (2, m.via, 'complete', 'complete')) AS x (n, from_state, to_state, event)
         ORDER BY m.task_uuid, x.n
    )
    -- One notification per task moved, as tasker._move_task sends it.
    SELECT array_agg(m.task_uuid)
      INTO v_moved
      FROM moved m
     CROSS JOIN LATERAL (SELECT pg_notify('tasker_task_changed', m.task_uuid::text || ':complete')) n;

    -- The rare states outside that path take the general one.
    IF coalesce(cardinality(v_moved), 0) < cardinality(p_task_uuids) THEN
        PERFORM tasker._evaluate_task(d.task_uuid, p_now, true)
           FROM unnest(p_task_uuids) AS d (task_uuid)
          WHERE NOT d.task_uuid = ANY (coalesce(v_moved, '{}'))
          ORDER BY d.task_uuid;
    END IF;
END;
$$;
