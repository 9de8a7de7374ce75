-- Trigger tasker._notify_step_results on pgmq.q_orchestration_step_results: after any statement
-- that inserts result messages (a process with queue access posting results, pgmq.send or
-- pgmq.send_batch), notifies tasker_step_results once, so the result processor applies them at
-- once instead of at its next polling tick. Notifications are delivered on commit; the
-- worker's own tasker.submit_step_results applies its results directly and sends nothing here.
CREATE OR REPLACE FUNCTION tasker._notify_step_results()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    PERFORM pg_notify('tasker_step_results', '');
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER tasker_notify_step_results
    AFTER INSERT ON pgmq.q_orchestration_step_results
    FOR EACH STATEMENT EXECUTE FUNCTION tasker._notify_step_results();
