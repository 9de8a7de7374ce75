-- tasker.create_tasks(requests): creates many tasks in one call and one transaction, as
-- tasker.create_task would one by one, so a burst of requests costs one round trip and one commit.
--
-- p_requests is a JSON array of {"namespace", "name", "version"?, "context"?, "options"?}.
-- Guarantees: each request is inserted in its own subtransaction (tasker._insert_task): a request
-- that fails (unknown template, invalid context, idempotency conflict, ...) is rolled back alone
-- and reported, the others are created. Idempotency keys behave as in tasker.create_task, also between requests of
-- one batch. The root steps of all new tasks are then dispatched together (tasker._start_tasks:
-- one state change per step, one pgmq.send_batch per queue), and each new task moves to
-- steps_in_process. Returns one row per request, in order: (ordinality, task_uuid) on success, or
-- (ordinality, NULL, error_code (the SQLSTATE), error_message) on failure.
CREATE OR REPLACE FUNCTION tasker.create_tasks(p_requests jsonb)
RETURNS TABLE (ordinality integer, task_uuid uuid, error_code text, error_message text)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_req     record;
    v_hint    text;
    v_new     record;
    v_created uuid[] := '{}'::uuid[];
BEGIN
    IF jsonb_typeof(p_requests) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'create_tasks expects a JSON array of requests';
    END IF;
    FOR v_req IN SELECT e.value AS body, e.ordinality::integer AS n FROM jsonb_array_elements(p_requests) WITH ORDINALITY e LOOP
        ordinality := v_req.n;
        BEGIN
            IF jsonb_typeof(v_req.body) <> 'object' THEN
                RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'a task request must be a JSON object';
            END IF;
            SELECT * INTO v_new FROM tasker._insert_task(
                v_req.body ->> 'namespace', v_req.body ->> 'name', v_req.body ->> 'version',
                coalesce(v_req.body -> 'context', '{}'), coalesce(v_req.body -> 'options', '{}'));
            task_uuid := v_new.o_task_uuid;
            IF v_new.o_created THEN
                v_created := v_created || v_new.o_task_uuid;
            END IF;
            error_code := NULL;
            error_message := NULL;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_hint = PG_EXCEPTION_HINT;
            task_uuid := NULL;
            error_code := SQLSTATE;
            error_message := CASE WHEN coalesce(v_hint, '') = '' THEN SQLERRM ELSE SQLERRM || ' (' || v_hint || ')' END;
        END;
        RETURN NEXT;
    END LOOP;
    -- Every new task's roots in one dispatch (rows returned above are sent at the end anyway).
    IF cardinality(v_created) > 0 THEN
        PERFORM tasker._start_tasks(v_created);
    END IF;
END;
$$;
COMMENT ON FUNCTION tasker.create_tasks(jsonb) IS
    'Creates many tasks in one call and one transaction, as create_task would one by one: each request runs in its own subtransaction, so a failing one is reported with its SQLSTATE and message and the others are created. Returns one row per request, in order.';
