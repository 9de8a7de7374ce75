-- tasker.purge_queue_archives(older_than, limit): trims the pgmq archive tables (pgmq.a_<queue>)
-- of Tasker's queues: orchestration_step_results (poison result messages are archived there by
-- tasker.process_step_results) and every namespace's worker queue (archived by hand, if ever).
-- Queues Tasker does not own are not touched.
--
-- Deletes up to p_limit archived messages in all, whose archived_at is older than
-- now() - p_older_than, oldest message ids first, queue by queue in name order. One batch per
-- call: callers loop until it returns 0. Takes row locks only on the rows it deletes.
-- Raises TK004 for a NULL or negative p_older_than or a p_limit below 1.
-- Returns the number of archived messages deleted.
CREATE OR REPLACE FUNCTION tasker.purge_queue_archives(p_older_than interval, p_limit integer DEFAULT 10000)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_cutoff timestamptz;
    v_queue  text;
    v_left   integer := p_limit;
    v_n      integer;
BEGIN
    IF p_older_than IS NULL OR p_older_than < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('purge_queue_archives: older_than must be a non-negative interval, got %s',
                             coalesce(p_older_than::text, 'NULL'));
    END IF;
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('purge_queue_archives: limit must be at least 1, got %s', coalesce(p_limit::text, 'NULL'));
    END IF;
    v_cutoff := now() - p_older_than;

    FOR v_queue IN
        SELECT q FROM (SELECT 'orchestration_step_results' AS q UNION SELECT n.queue_name FROM tasker.namespaces n) x
         ORDER BY q
    LOOP
        EXIT WHEN v_left <= 0;
        CONTINUE WHEN to_regclass(format('pgmq.%I', 'a_' || v_queue)) IS NULL;
        EXECUTE format(
            'WITH gone AS (DELETE FROM pgmq.%1$I a WHERE a.msg_id IN (
                 SELECT o.msg_id FROM pgmq.%1$I o WHERE o.archived_at < $1 ORDER BY o.msg_id LIMIT $2)
               RETURNING 1)
             SELECT count(*)::integer FROM gone', 'a_' || v_queue)
          INTO v_n USING v_cutoff, v_left;
        v_left := v_left - v_n;
    END LOOP;
    RETURN p_limit - v_left;
END;
$$;
COMMENT ON FUNCTION tasker.purge_queue_archives(interval, integer) IS
    'Retention for queues: deletes up to p_limit archived messages older than p_older_than from the pgmq archive tables of Tasker''s own queues. Call it in a loop until it returns 0. TK004 for a NULL or negative interval or a limit below 1. Returns the number of messages deleted.';
