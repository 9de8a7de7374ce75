-- tasker.process_step_results(limit, now): the result processor's one call.
--
-- Reads up to p_limit messages from the orchestration_step_results queue (pgmq.read skips
-- messages another caller holds), applies them with tasker.apply_step_results and deletes them,
-- in one transaction: if the transaction fails, the read rolls back with it and the messages are
-- visible again at once. Messages are idempotent, so a redelivered batch is harmless; a message
-- that apply_step_results cannot parse is ignored and deleted.
-- A poison message cannot jam the queue: when applying the batch raises, the batch is undone
-- (a subtransaction) and its messages are applied one at a time; a message that still raises is
-- moved to the queue's archive (pgmq.a_orchestration_step_results, for inspection) with a
-- WARNING naming the error, and counted as ignored.
-- Returns one row of counts (see tasker.apply_step_results).
CREATE OR REPLACE FUNCTION tasker.process_step_results(p_limit integer DEFAULT 500, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (results integer, completed integer, retried integer, failed integer, ignored integer,
               dispatched integer, tasks_flagged integer)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_ids   bigint[];
    v_msgs  jsonb;
    v_batch record;
    v_one   record;
    v_msg   record;
    v_done  bigint[] := '{}'::bigint[];
    v_sum   integer[] := ARRAY[0, 0, 0, 0, 0, 0, 0];
BEGIN
    SELECT array_agg(m.msg_id ORDER BY m.msg_id), jsonb_agg(m.message ORDER BY m.msg_id)
      INTO v_ids, v_msgs
      FROM pgmq.read('orchestration_step_results', 60, greatest(p_limit, 1)) m;
    IF v_ids IS NULL THEN
        RETURN QUERY SELECT 0, 0, 0, 0, 0, 0, 0;
        RETURN;
    END IF;

    BEGIN
        SELECT * INTO v_batch FROM tasker.apply_step_results(v_msgs, p_now);
        PERFORM pgmq.delete('orchestration_step_results', v_ids);
        RETURN QUERY SELECT v_batch.results, v_batch.completed, v_batch.retried, v_batch.failed, v_batch.ignored,
                            v_batch.dispatched, v_batch.tasks_flagged;
        RETURN;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'applying % step results failed (%); applying them one at a time', cardinality(v_ids), SQLERRM;
    END;

    FOR v_msg IN SELECT x.id, x.body FROM unnest(v_ids, ARRAY(SELECT jsonb_array_elements(v_msgs))) AS x (id, body) LOOP
        BEGIN
            SELECT * INTO v_one FROM tasker.apply_step_results(jsonb_build_array(v_msg.body), p_now);
            v_sum := ARRAY[v_sum[1] + v_one.results, v_sum[2] + v_one.completed, v_sum[3] + v_one.retried,
                           v_sum[4] + v_one.failed, v_sum[5] + v_one.ignored, v_sum[6] + v_one.dispatched,
                           v_sum[7] + v_one.tasks_flagged];
            v_done := v_done || v_msg.id;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'step result message % cannot be applied and is archived: %', v_msg.id, SQLERRM;
            PERFORM pgmq.archive('orchestration_step_results', v_msg.id);
            v_sum := ARRAY[v_sum[1] + 1, v_sum[2], v_sum[3], v_sum[4], v_sum[5] + 1, v_sum[6], v_sum[7]];
        END;
    END LOOP;
    IF cardinality(v_done) > 0 THEN
        PERFORM pgmq.delete('orchestration_step_results', v_done);
    END IF;
    RETURN QUERY SELECT v_sum[1], v_sum[2], v_sum[3], v_sum[4], v_sum[5], v_sum[6], v_sum[7];
END;
$$;
COMMENT ON FUNCTION tasker.process_step_results(integer, timestamptz) IS
    'The result processor''s call: reads up to p_limit messages of orchestration_step_results, applies them (apply_step_results) and deletes them, in one transaction; a message that cannot be applied is archived with a WARNING. Returns one row of counts.';
