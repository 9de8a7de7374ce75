-- tasker.extend_visibility(namespace, msg_ids, vt_seconds): the worker heartbeat.
--
-- Pushes the visibility timeout of messages a worker holds p_vt_seconds into the future, so a
-- long-running handler keeps its step. Returns the message ids that were extended (a missing id
-- was already acked or deleted as stale). Locks the messages in msg_id order (the order of
-- tasker.submit_step_results, so a heartbeat and an ack of the same messages cannot deadlock).
-- Raises TK002 for an unknown namespace.
CREATE OR REPLACE FUNCTION tasker.extend_visibility(p_namespace text, p_msg_ids bigint[], p_vt_seconds integer DEFAULT 30)
RETURNS SETOF bigint
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
    v_queue text;
    v_id    bigint;
BEGIN
    SELECT n.queue_name INTO v_queue FROM tasker.namespaces n WHERE n.name = p_namespace;
    IF v_queue IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('unknown namespace %s', p_namespace);
    END IF;
    -- In msg_id order, the order in which tasker.submit_step_results locks messages.
    FOR v_id IN SELECT DISTINCT u FROM unnest(p_msg_ids) AS u WHERE u IS NOT NULL ORDER BY u LOOP
        RETURN QUERY SELECT r.msg_id FROM pgmq.set_vt(v_queue, v_id, p_vt_seconds) r;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION tasker.extend_visibility(text, bigint[], integer) IS
    'The worker heartbeat: pushes the visibility timeout of the given messages p_vt_seconds into the future. Returns the ids extended. TK002 unknown namespace.';
