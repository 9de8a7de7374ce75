-- Autovacuum settings for the tables with the most churn.
--
-- PostgreSQL's defaults (vacuum when 20% of a table is dead, analyze at 10%, cost limit 200 per
-- 2 ms delay) suit tables that change slowly. Tasker's hot tables do not:
--
-- * tasker.workflow_steps and tasker.tasks: every step row is rewritten about five times in its
--   life (enqueue, claim, result, its children's counters, finalization) and none of those
--   updates is HOT (each changes an indexed column: state, ready_at, claimed_at, ...), so every
--   one leaves a dead tuple in the heap and in the indexes. At 20%, a table of 10 million steps
--   carries 2 million dead rows before the first vacuum, and the partial ready index that the
--   enqueuer scans bloats with it. Vacuum at 2% (plus 1,000 rows, so tiny tables are not vacuumed
--   constantly), analyze at 2% (the ready-index and in-flight plans depend on fresh counts), and
--   a cost limit of 2,000 (ten times the default) so one vacuum of a large table finishes in
--   minutes instead of falling behind the churn.
-- * History (task_transitions, workflow_step_transitions): append-only apart from
--   tasker.purge_tasks. Inserts trigger a vacuum at 5% instead of 20%, which keeps the
--   visibility map current (index-only scans of the history by task) and freezes pages early;
--   deletes by purge_tasks trigger one at 5%.
-- * pgmq queue tables (pgmq.q_<queue>): every message is inserted, updated at least once
--   (read, heartbeat) and deleted, so the table is nearly all dead tuples while it stays small.
--   A scale factor is meaningless there: vacuum and analyze after every 1,000 dead/changed rows
--   (scale factor 0) with the same raised cost limit, so the queue's heap and its vt index do
--   not grow with throughput. A queue of a namespace registered later gets the same settings
--   from tasker.register_template (tasker._tune_queue_table in sql/0215_tune_queue_table.sql);
--   keep the two in step.
-- ALTER TABLE ... SET takes a SHARE UPDATE EXCLUSIVE lock only: it does not block reads or writes.

ALTER TABLE tasker.workflow_steps SET (
    autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000,
    autovacuum_vacuum_cost_limit = 2000);
ALTER TABLE tasker.tasks SET (
    autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000,
    autovacuum_vacuum_cost_limit = 2000);
ALTER TABLE tasker.task_transitions SET (
    autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_vacuum_cost_limit = 2000);
ALTER TABLE tasker.workflow_step_transitions SET (
    autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_vacuum_cost_limit = 2000);

DO $$
DECLARE
    v_queue text;
BEGIN
    FOR v_queue IN
        SELECT 'orchestration_step_results'
        UNION
        SELECT n.queue_name FROM tasker.namespaces n
    LOOP
        IF to_regclass(format('pgmq.%I', 'q_' || v_queue)) IS NOT NULL THEN
            EXECUTE format(
                'ALTER TABLE pgmq.%I SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, '
                'autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000, '
                'autovacuum_vacuum_cost_limit = 2000)', 'q_' || v_queue);
        END IF;
    END LOOP;
END;
$$;
