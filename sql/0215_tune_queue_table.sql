-- tasker._tune_queue_table(queue): gives a pgmq queue table Tasker's autovacuum settings.
--
-- A queue table is nearly all dead tuples (every message is inserted, updated by reads and
-- heartbeats, then deleted) while it stays small, so it is vacuumed and analyzed after every
-- 1,000 changed rows rather than at a fraction of its size, with a cost limit ten times the
-- default (the reasoning is in migrations/20261202000002_autovacuum.sql, which applies the same
-- settings to the queues that existed when it ran; keep the two in step).
-- Called by tasker.register_template right after pgmq.create for a new namespace. Takes a SHARE
-- UPDATE EXCLUSIVE lock on the queue table (reads and writes go on). Does nothing when the queue
-- table does not exist. Internal.
CREATE OR REPLACE FUNCTION tasker._tune_queue_table(p_queue text)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF to_regclass(format('pgmq.%I', 'q_' || p_queue)) IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format(
        'ALTER TABLE pgmq.%I SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, '
        'autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000, '
        'autovacuum_vacuum_cost_limit = 2000)', 'q_' || p_queue);
END;
$$;
