-- tasker.purge_tasks(older_than, limit, dry_run, archive): retention for finished work.
--
-- Removes up to p_limit final tasks (complete, error, cancelled, resolved_manually) whose finish
-- time (completed_at) is older than now() - p_older_than, oldest first, with everything hanging
-- off them: steps, edges, task and step history, DLQ entries. With p_archive, every one of those
-- rows is first copied to its mirror table in schema tasker_archive with archived_at = now().
-- With p_dry_run, nothing is locked or changed and the function returns how many tasks a real
-- call with the same arguments would take at most.
-- One batch per call, in the caller's transaction: callers loop until it returns 0 (each call in
-- its own transaction, so no lock is held long).
-- Locks: never waits. The candidate tasks are locked FOR UPDATE SKIP LOCKED, then their steps and
-- DLQ entries, also SKIP LOCKED; a task any of whose rows another transaction holds (an operator
-- retrying or updating it right now) is left for a later call. Not waiting is what lets this
-- function take tasks before steps, against the engine's steps-then-tasks order, without being
-- able to deadlock.
-- Queue messages that still name a purged step (a cancelled task's undelivered dispatch, say)
-- are discarded as stale by the next claim; results naming one are ignored.
-- Raises TK004 for a NULL or negative p_older_than or a p_limit below 1.
-- Returns the number of tasks purged (or, with p_dry_run, that would be).
CREATE OR REPLACE FUNCTION tasker.purge_tasks(
    p_older_than interval,
    p_limit      integer DEFAULT 1000,
    p_dry_run    boolean DEFAULT false,
    p_archive    boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_now    timestamptz := now();
    v_cutoff timestamptz;
    v_tasks  uuid[];
    v_steps  uuid[];
    v_busy   uuid[];
BEGIN
    IF p_older_than IS NULL OR p_older_than < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('purge_tasks: older_than must be a non-negative interval, got %s', coalesce(p_older_than::text, 'NULL'));
    END IF;
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('purge_tasks: limit must be at least 1, got %s', coalesce(p_limit::text, 'NULL'));
    END IF;
    v_cutoff := v_now - p_older_than;

    IF coalesce(p_dry_run, false) THEN
        RETURN (SELECT count(*)::integer
                  FROM (SELECT 1 FROM tasker.tasks t
                         WHERE t.completed_at < v_cutoff
                           AND t.state IN ('complete', 'error', 'cancelled', 'resolved_manually')
                         ORDER BY t.completed_at
                         LIMIT p_limit) x);
    END IF;

    -- The batch: oldest finished first, skipping tasks another transaction holds.
    v_tasks := ARRAY(
        SELECT t.task_uuid FROM tasker.tasks t
         WHERE t.completed_at < v_cutoff
           AND t.state IN ('complete', 'error', 'cancelled', 'resolved_manually')
         ORDER BY t.completed_at, t.task_uuid
         LIMIT p_limit
           FOR UPDATE SKIP LOCKED);
    IF cardinality(v_tasks) = 0 THEN
        RETURN 0;
    END IF;

    -- Their steps and DLQ entries, without waiting: a task with a row held elsewhere is busy.
    WITH locked_steps AS (
        SELECT s.step_uuid, s.task_uuid FROM tasker.workflow_steps s
         WHERE s.task_uuid = ANY (v_tasks)
         ORDER BY s.step_uuid
           FOR UPDATE SKIP LOCKED
    ), locked_dlq AS (
        SELECT d.id, d.task_uuid FROM tasker.dlq_entries d
         WHERE d.task_uuid = ANY (v_tasks)
         ORDER BY d.id
           FOR UPDATE SKIP LOCKED
    )
    SELECT ARRAY(
               SELECT x.task_uuid FROM tasker.workflow_steps x
                WHERE x.task_uuid = ANY (v_tasks)
                GROUP BY x.task_uuid
               HAVING count(*) > (SELECT count(*) FROM locked_steps l WHERE l.task_uuid = x.task_uuid)
               UNION
               SELECT x.task_uuid FROM tasker.dlq_entries x
                WHERE x.task_uuid = ANY (v_tasks)
                GROUP BY x.task_uuid
               HAVING count(*) > (SELECT count(*) FROM locked_dlq l WHERE l.task_uuid = x.task_uuid)),
           ARRAY(SELECT l.step_uuid FROM locked_steps l)
      INTO v_busy, v_steps;
    IF cardinality(v_busy) > 0 THEN
        v_tasks := ARRAY(SELECT u FROM unnest(v_tasks) AS u WHERE u <> ALL (v_busy));
        v_steps := ARRAY(SELECT s.step_uuid FROM tasker.workflow_steps s
                          WHERE s.step_uuid = ANY (v_steps) AND s.task_uuid = ANY (v_tasks));
        IF cardinality(v_tasks) = 0 THEN
            RETURN 0;
        END IF;
    END IF;

    IF coalesce(p_archive, false) THEN
        INSERT INTO tasker_archive.tasks
        SELECT t.*, v_now FROM tasker.tasks t WHERE t.task_uuid = ANY (v_tasks);
        INSERT INTO tasker_archive.workflow_steps
        SELECT s.*, v_now FROM tasker.workflow_steps s WHERE s.step_uuid = ANY (v_steps);
        INSERT INTO tasker_archive.workflow_step_edges
        SELECT e.*, v_now FROM tasker.workflow_step_edges e WHERE e.from_step_uuid = ANY (v_steps);
        INSERT INTO tasker_archive.task_transitions
               (id, task_uuid, from_state, to_state, event, metadata, created_at, xid, archived_at)
        SELECT h.id, h.task_uuid, h.from_state, h.to_state, h.event, h.metadata, h.created_at, h.xid, v_now
          FROM tasker.task_transitions h WHERE h.task_uuid = ANY (v_tasks);
        INSERT INTO tasker_archive.workflow_step_transitions
               (id, step_uuid, task_uuid, from_state, to_state, event, attempt, metadata, created_at, xid,
                archived_at)
        SELECT h.id, h.step_uuid, h.task_uuid, h.from_state, h.to_state, h.event, h.attempt, h.metadata,
               h.created_at, h.xid, v_now
          FROM tasker.workflow_step_transitions h WHERE h.task_uuid = ANY (v_tasks);
        INSERT INTO tasker_archive.dlq_entries
        SELECT d.*, v_now FROM tasker.dlq_entries d WHERE d.task_uuid = ANY (v_tasks);
    END IF;

    -- Children first, each through its index, so the ON DELETE CASCADE checks find nothing left.
    DELETE FROM tasker.workflow_step_edges e WHERE e.from_step_uuid = ANY (v_steps);
    DELETE FROM tasker.workflow_step_transitions h WHERE h.task_uuid = ANY (v_tasks);
    DELETE FROM tasker.task_transitions h WHERE h.task_uuid = ANY (v_tasks);
    DELETE FROM tasker.dlq_entries d WHERE d.task_uuid = ANY (v_tasks);
    DELETE FROM tasker.workflow_steps s WHERE s.step_uuid = ANY (v_steps);
    DELETE FROM tasker.tasks t WHERE t.task_uuid = ANY (v_tasks);
    RETURN cardinality(v_tasks);
END;
$$;
COMMENT ON FUNCTION tasker.purge_tasks(interval, integer, boolean, boolean) IS
    'Retention: removes up to p_limit final tasks finished more than p_older_than ago, with their steps, edges, history and DLQ entries (copied to tasker_archive first with p_archive; nothing changed with p_dry_run). Never waits for a lock; call it in a loop until it returns 0. TK004 for a NULL or negative interval or a limit below 1. Returns the number of tasks purged (or that would be).';
