-- tasker.extend_visibility(namespace, msg_ids, vt_seconds): the worker heartbeat.
--
-- Pushes the visibility timeout of messages a worker holds p_vt_seconds into the future, so a
-- long-running handler keeps its step. Only a message that is the dispatch message of a step of
-- p_namespace in progress on it (what tasker.claim_steps handed out) is extended: an unclaimed
-- message, a stale one or an id of another queue is left alone, so a heartbeat can neither hide
-- waiting work nor make a running step's message visible to other workers. Returns the message
-- ids that were extended (a missing id was already acked, deleted as stale, or is not a running
-- step's). Locks the messages in msg_id order (the order of tasker.submit_step_results, so a
-- heartbeat and an ack of the same messages cannot deadlock).
-- Callable by the tasker_worker role (SECURITY DEFINER) for the namespaces
-- tasker.worker_namespaces allows it (42501 otherwise). Raises TK002 for an unknown namespace,
-- TK004 for a timeout outside 1 s .. 12 h (43200 s).
CREATE OR REPLACE FUNCTION tasker.extend_visibility(p_namespace text, p_msg_ids bigint[], p_vt_seconds integer DEFAULT 30)
RETURNS SETOF bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_queue   text;
    v_running bigint[];
    v_id      bigint;
BEGIN
    PERFORM tasker._require_worker_namespaces(ARRAY[p_namespace]);
    SELECT n.queue_name INTO v_queue FROM tasker.namespaces n WHERE n.name = p_namespace;
    IF v_queue IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('unknown namespace %s', p_namespace);
    END IF;
    IF p_vt_seconds IS NULL OR p_vt_seconds NOT BETWEEN 1 AND 43200 THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('extend_visibility: visibility timeout %s is outside 1 .. 43200 seconds', p_vt_seconds);
    END IF;
    -- The messages that are a running step's dispatch message (by the queue's primary key, then
    -- the step's).
    EXECUTE format(
        'SELECT array_agg(q.msg_id ORDER BY q.msg_id)
           FROM pgmq.%I q
           JOIN tasker.workflow_steps s
             ON s.step_uuid = CASE WHEN q.message ->> ''step_uuid'' ~* ''^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$''
                                   THEN (q.message ->> ''step_uuid'')::uuid END
          WHERE q.msg_id = ANY ($1)
            AND s.namespace = $2
            AND s.state = ''in_progress''
            AND s.dispatch_msg_id = q.msg_id',
        'q_' || v_queue)
      INTO v_running USING p_msg_ids, p_namespace;
    -- In msg_id order, the order in which tasker.submit_step_results locks messages.
    FOR v_id IN SELECT DISTINCT u FROM unnest(v_running) AS u ORDER BY u LOOP
        RETURN QUERY SELECT r.msg_id FROM pgmq.set_vt(v_queue, v_id, p_vt_seconds) r;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION tasker.extend_visibility(text, bigint[], integer) IS
    'The worker heartbeat: pushes the visibility timeout of the given messages p_vt_seconds into the future, for messages that are the dispatch message of a step of the namespace in progress on it. Returns the ids extended. Executable by tasker_worker for its namespaces (42501 otherwise). TK002 unknown namespace, TK004 timeout outside 1..43200 s.';
