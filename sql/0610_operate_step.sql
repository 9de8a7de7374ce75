-- Operator actions on one step: tasker.resolve_step, tasker.complete_step, tasker.reset_step.
--
-- Shared guarantees (tasker._operate_step): locks the step, its children (step_uuid order), then
-- the task; refuses with TK006 when the task is complete, cancelled or resolved_manually, and with
-- TK001 when the step's state does not allow the action; writes the reason in the step's history
-- row; re-derives the task's state at once (an errored task whose only failure is resolved goes on
-- running), and notifies tasker_steps_ready so the enqueuer dispatches what became ready.
-- Unknown step: TK002. Returns the step's state afterwards.

-- tasker._operate_step(step_uuid, event, payload, reason): the shared body. Internal.
CREATE OR REPLACE FUNCTION tasker._operate_step(p_step_uuid uuid, p_event text, p_payload jsonb, p_reason text)
RETURNS text
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_step       tasker.workflow_steps;
    v_task_state text;
    v_satisfied  boolean;
    v_now        timestamptz := now();
BEGIN
    SELECT * INTO v_step FROM tasker.workflow_steps s WHERE s.step_uuid = p_step_uuid;
    IF v_step.step_uuid IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('workflow step %s not found', p_step_uuid);
    END IF;
    PERFORM 1 FROM tasker.workflow_steps s
     WHERE s.step_uuid = p_step_uuid
        OR s.step_uuid IN (SELECT e.to_step_uuid FROM tasker.workflow_step_edges e WHERE e.from_step_uuid = p_step_uuid)
     ORDER BY s.step_uuid FOR UPDATE;
    SELECT t.state INTO v_task_state FROM tasker.tasks t WHERE t.task_uuid = v_step.task_uuid FOR UPDATE;
    IF v_task_state IN ('complete', 'cancelled', 'resolved_manually') THEN
        RAISE EXCEPTION USING ERRCODE = 'TK006',
            MESSAGE = format('task %s is %s; its steps can no longer be changed', v_step.task_uuid, v_task_state);
    END IF;
    SELECT * INTO v_step FROM tasker.workflow_steps s WHERE s.step_uuid = p_step_uuid;
    v_satisfied := v_step.state IN ('complete', 'resolved_manually');

    PERFORM tasker.transition_steps(ARRAY[p_step_uuid], p_event, ARRAY[coalesce(p_payload, '{}'::jsonb)],
                                    jsonb_build_object('reason', coalesce(p_reason, p_event), 'operator', true), v_now);

    -- A step that now satisfies its dependents releases its children.
    IF NOT v_satisfied AND p_event IN ('resolve', 'complete_manually') THEN
        UPDATE tasker.workflow_steps c
           SET parents_pending = c.parents_pending - 1,
               ready_at = CASE WHEN c.parents_pending = 1 AND c.state = 'pending' THEN v_now ELSE c.ready_at END,
               updated_at = v_now
          FROM tasker.workflow_step_edges e
         WHERE e.from_step_uuid = p_step_uuid AND c.step_uuid = e.to_step_uuid;
    END IF;

    PERFORM tasker._evaluate_task(v_step.task_uuid, v_now);
    PERFORM pg_notify('tasker_steps_ready', '');
    RETURN (SELECT s.state FROM tasker.workflow_steps s WHERE s.step_uuid = p_step_uuid);
END;
$$;

-- tasker.resolve_step(step_uuid, reason): marks a step resolved_manually. It satisfies its
-- dependents as a completed step would, without results.
CREATE OR REPLACE FUNCTION tasker.resolve_step(p_step_uuid uuid, p_reason text DEFAULT NULL)
RETURNS text
LANGUAGE sql
SET search_path = ''
AS $$ SELECT tasker._operate_step(p_step_uuid, 'resolve', NULL, p_reason); $$;
COMMENT ON FUNCTION tasker.resolve_step(uuid, text) IS
    'Marks a step resolved_manually: it satisfies its dependents, without results; the task''s state is re-derived. TK001, TK002, TK006. Returns the step''s state afterwards.';

-- tasker.complete_step(step_uuid, result, reason): completes a step by hand with the given
-- result, which its children receive as the step's results.
CREATE OR REPLACE FUNCTION tasker.complete_step(p_step_uuid uuid, p_result jsonb DEFAULT NULL, p_reason text DEFAULT NULL)
RETURNS text
LANGUAGE sql
SET search_path = ''
AS $$
    SELECT tasker._operate_step(p_step_uuid, 'complete_manually',
                                jsonb_build_object('results', coalesce(p_result, 'null'::jsonb)), p_reason);
$$;
COMMENT ON FUNCTION tasker.complete_step(uuid, jsonb, text) IS
    'Completes a step by hand with p_result, which its children receive as its results; the task''s state is re-derived. TK001, TK002, TK006. Returns the step''s state afterwards.';

-- tasker.reset_step(step_uuid, reason): puts a failed step back to pending with its attempt
-- count at zero, to be dispatched again as soon as its parents are satisfied.
CREATE OR REPLACE FUNCTION tasker.reset_step(p_step_uuid uuid, p_reason text DEFAULT NULL)
RETURNS text
LANGUAGE sql
SET search_path = ''
AS $$ SELECT tasker._operate_step(p_step_uuid, 'reset', NULL, p_reason); $$;
COMMENT ON FUNCTION tasker.reset_step(uuid, text) IS
    'Puts a failed step back to pending with attempts at 0, dispatched again once its parents are satisfied; the task''s state is re-derived. TK001, TK002, TK006. Returns the step''s state afterwards.';
