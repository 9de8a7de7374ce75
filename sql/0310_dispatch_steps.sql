-- tasker._dispatch_steps(step_uuids, now): sends steps to their namespace queues. Internal.
--
-- Precondition: the caller holds the steps' row locks and every step is pending or
-- waiting_for_retry with all parents satisfied (the unfinished-parent counter may still count
-- parents completed in the caller's transaction: the enqueue writes it as 0).
-- Guarantees, in the caller's transaction: each step moves to enqueued (history row written) and
-- one message per step is sent to worker_<namespace>_queue (tasker._queue_send, as
-- pgmq.send_batch would), one batch per queue; tasks of those steps that were waiting or
-- initializing move to steps_in_process (through enqueuing_steps); at commit, channel
-- tasker_step_dispatched is notified with the queue name for the steps still enqueued then
-- (trigger tasker_notify_step_dispatched).
-- Because the state change and the send commit together, a step is never dispatched twice and
-- never lost.
-- Returns (step_uuid, task_uuid, queue_name) per step sent.
CREATE OR REPLACE FUNCTION tasker._dispatch_steps(p_step_uuids uuid[], p_now timestamptz DEFAULT NULL)
RETURNS TABLE (step_uuid uuid, task_uuid uuid, queue_name text)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_tasks uuid[];
BEGIN
    IF coalesce(cardinality(p_step_uuids), 0) = 0 THEN
        RETURN;
    END IF;

    PERFORM tasker._move_steps(p_step_uuids, 'enqueue', NULL, NULL, v_now);
    PERFORM tasker._send_step_messages(p_step_uuids);

    -- Tasks that were not already running move to steps_in_process. (Each step's task state by
    -- key, as a subquery: a join planned while the tables were analyzed empty would read the
    -- whole tasks key.)
    SELECT array_agg(DISTINCT s.task_uuid) INTO v_tasks
      FROM tasker.workflow_steps s
     WHERE s.step_uuid = ANY (p_step_uuids)
       AND (SELECT t.state FROM tasker.tasks t WHERE t.task_uuid = s.task_uuid)
           IN ('initializing', 'enqueuing_steps', 'waiting_for_retry', 'waiting_for_dependencies');
    IF v_tasks IS NOT NULL THEN
        PERFORM tasker._advance_tasks_to_in_process(v_tasks, v_now);
    END IF;

    RETURN QUERY
    SELECT s.step_uuid, s.task_uuid, n.queue_name
      FROM tasker.workflow_steps s
      JOIN tasker.namespaces n ON n.name = s.namespace
     WHERE s.step_uuid = ANY (p_step_uuids);
END;
$$;

-- tasker._send_step_messages(step_uuids): sends one dispatch message per step to its namespace
-- queue (tasker._queue_send, one batch per queue), for steps just moved to enqueued in the
-- caller's transaction. The message names the step and the attempt a claim will start
-- (attempts + 1). Returns the queues sent to. Internal.
CREATE OR REPLACE FUNCTION tasker._send_step_messages(p_step_uuids uuid[])
RETURNS SETOF text
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_queue record;
BEGIN
    FOR v_queue IN
        SELECT n.queue_name,
               array_agg(jsonb_build_object(
                   'step_uuid', s.step_uuid,
                   'task_uuid', s.task_uuid,
                   'namespace', s.namespace,
                   'step_name', s.name,
                   'handler', s.handler,
                   'attempt', s.attempts + 1) ORDER BY s.step_uuid) AS messages
          FROM tasker.workflow_steps s
          JOIN tasker.namespaces n ON n.name = s.namespace
         WHERE s.step_uuid = ANY (p_step_uuids)
         GROUP BY n.queue_name
    LOOP
        PERFORM tasker._queue_send(v_queue.queue_name, v_queue.messages);
        RETURN NEXT v_queue.queue_name;
    END LOOP;
END;
$$;

-- tasker._advance_tasks_to_in_process(task_uuids, now): moves tasks whose steps were just
-- dispatched to steps_in_process along the machine's path (initializing or waiting_* ->
-- enqueuing_steps -> steps_in_process). Tasks in any other state are left alone. Internal.
CREATE OR REPLACE FUNCTION tasker._advance_tasks_to_in_process(p_task_uuids uuid[], p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_task record;
BEGIN
    FOR v_task IN
        SELECT t.task_uuid, t.state FROM tasker.tasks t
         WHERE t.task_uuid = ANY (p_task_uuids)
           AND t.state IN ('initializing', 'enqueuing_steps', 'waiting_for_retry', 'waiting_for_dependencies')
         ORDER BY t.task_uuid
           FOR UPDATE
    LOOP
        PERFORM tasker._move_task(v_task.task_uuid,
            CASE WHEN v_task.state = 'enqueuing_steps' THEN ARRAY['steps_enqueued']
                 ELSE ARRAY['enqueue', 'steps_enqueued'] END,
            NULL, p_now);
    END LOOP;
END;
$$;
