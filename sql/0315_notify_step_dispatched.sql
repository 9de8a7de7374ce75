-- Trigger tasker_notify_step_dispatched on tasker.workflow_steps: tells workers that a queue has
-- work, at commit, for the steps that are still waiting then.
--
-- Every move to enqueued (tasker._dispatch_steps: creation, released children, retries, resets)
-- queues one deferred event; when the transaction commits, each event whose step is still
-- enqueued notifies tasker_step_dispatched with the step's queue name (PostgreSQL delivers one
-- notification per queue and transaction: identical ones are folded). A step that the same
-- transaction already claimed -- the chained claim of docs/worker-protocol.md, where the worker
-- that acknowledged a parent claims the children in the acknowledgement's transaction -- wakes
-- nobody: every worker woken for it would find nothing to claim. A rolled-back transaction
-- notifies nothing, as before.
-- SECURITY DEFINER: a deferred trigger fires at COMMIT as the session's role (a worker login may
-- not read the steps or namespaces). Its look-up is by primary key whatever the statistics say
-- (enable_seqscan off, as in the engine's other functions).
CREATE OR REPLACE FUNCTION tasker._notify_step_dispatched()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
BEGIN
    PERFORM pg_notify('tasker_step_dispatched', n.queue_name)
       FROM tasker.workflow_steps s
       JOIN tasker.namespaces n ON n.name = s.namespace
      WHERE s.step_uuid = NEW.step_uuid AND s.state = 'enqueued';
    RETURN NULL;
END;
$$;

-- A constraint trigger cannot be replaced in place: it is created once (its logic lives in the
-- function above, which is replaced at every start).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                    WHERE tgrelid = 'tasker.workflow_steps'::regclass AND tgname = 'tasker_notify_step_dispatched') THEN
        CREATE CONSTRAINT TRIGGER tasker_notify_step_dispatched
            AFTER UPDATE OF state ON tasker.workflow_steps
            DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW
            WHEN (NEW.state = 'enqueued')
            EXECUTE FUNCTION tasker._notify_step_dispatched();
    END IF;
END;
$$;
