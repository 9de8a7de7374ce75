-- tasker.process_step_results(limit, now): the result processor's one call.
--
-- Reads up to p_limit messages from the orchestration_step_results queue (pgmq.read skips
-- messages another caller holds), applies them with tasker.apply_step_results and deletes them,
-- all in one transaction: if anything fails, the read rolls back with it, the messages are
-- visible again at once and nothing was applied. Messages are idempotent, so a redelivered batch
-- is harmless; a message that apply_step_results cannot parse is ignored and deleted, never retried.
-- Returns one row of counts (see tasker.apply_step_results).
CREATE OR REPLACE FUNCTION tasker.process_step_results(p_limit integer DEFAULT 500, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (results integer, completed integer, retried integer, failed integer, ignored integer,
               dispatched integer, tasks_flagged integer)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
    v_ids  bigint[];
    v_msgs jsonb;
BEGIN
    SELECT array_agg(m.msg_id ORDER BY m.msg_id), jsonb_agg(m.message ORDER BY m.msg_id)
      INTO v_ids, v_msgs
      FROM pgmq.read('orchestration_step_results', 60, greatest(p_limit, 1)) m;
    IF v_ids IS NULL THEN
        RETURN QUERY SELECT 0, 0, 0, 0, 0, 0, 0;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM tasker.apply_step_results(v_msgs, p_now);
    PERFORM pgmq.delete('orchestration_step_results', v_ids);
END;
$$;
