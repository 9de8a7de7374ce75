-- tasker.create_tasks(requests): creates many tasks in one call and one transaction, as
-- tasker.create_task would one by one, so a burst of requests costs one round trip and one commit.
--
-- p_requests is a JSON array of {"namespace", "name", "version"?, "context"?, "options"?}.
-- Guarantees: each request is checked alone (tasker._check_task_request, in its own
-- subtransaction): a request that fails (not an object, unknown template, invalid context or
-- options) is reported and the others go on. The accepted requests are inserted together
-- (tasker._insert_tasks: one statement per table for the batch); should that raise, each is
-- inserted again in its own subtransaction, so that a request that fails there too is rolled back
-- alone and reported. Idempotency keys behave as in tasker.create_task, also between requests of
-- one batch (TK005 for the same key with a different request). The root steps of all new tasks
-- are then dispatched together (tasker._start_tasks: one pgmq send per queue). Returns one row
-- per request, in order: (ordinality, task_uuid) on success, or (ordinality, NULL, error_code (the
-- SQLSTATE), error_message) on failure.
CREATE OR REPLACE FUNCTION tasker.create_tasks(p_requests jsonb)
RETURNS TABLE (ordinality integer, task_uuid uuid, error_code text, error_message text)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_req      record;
    v_hint     text;
    v_n        integer := 0;
    v_checked  tasker.task_request[] := '{}'::tasker.task_request[];
    v_outcome  record;
    v_uuids    uuid[] := '{}'::uuid[];
    v_codes    text[] := '{}'::text[];
    v_messages text[] := '{}'::text[];
    v_created  uuid[] := '{}'::uuid[];
    v_one      tasker.task_request;
BEGIN
    IF jsonb_typeof(p_requests) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'create_tasks expects a JSON array of requests';
    END IF;
    FOR v_req IN SELECT e.value AS body, e.ordinality::integer AS n FROM jsonb_array_elements(p_requests) WITH ORDINALITY e LOOP
        v_n := v_req.n;
        BEGIN
            IF jsonb_typeof(v_req.body) <> 'object' THEN
                RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'a task request must be a JSON object';
            END IF;
            v_checked := v_checked || tasker._check_task_request(v_req.n,
                v_req.body ->> 'namespace', v_req.body ->> 'name', v_req.body ->> 'version',
                coalesce(v_req.body -> 'context', '{}'), coalesce(v_req.body -> 'options', '{}'));
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_hint = PG_EXCEPTION_HINT;
            v_codes[v_n] := SQLSTATE;
            v_messages[v_n] := CASE WHEN coalesce(v_hint, '') = '' THEN SQLERRM ELSE SQLERRM || ' (' || v_hint || ')' END;
        END;
    END LOOP;

    IF cardinality(v_checked) > 0 THEN
        BEGIN
            FOR v_outcome IN SELECT * FROM tasker._insert_tasks(v_checked) LOOP
                v_uuids[v_outcome.ordinality] := v_outcome.task_uuid;
                v_codes[v_outcome.ordinality] := v_outcome.error_code;
                v_messages[v_outcome.ordinality] := v_outcome.error_message;
                IF v_outcome.created THEN
                    v_created := v_created || v_outcome.task_uuid;
                END IF;
            END LOOP;
        EXCEPTION WHEN OTHERS THEN
            -- The batch is undone: each request alone, so that only a failing one is lost.
            v_created := '{}'::uuid[];
            FOREACH v_one IN ARRAY v_checked LOOP
                BEGIN
                    SELECT * INTO v_outcome FROM tasker._insert_tasks(ARRAY[v_one]);
                    v_uuids[v_one.ordinality] := v_outcome.task_uuid;
                    v_codes[v_one.ordinality] := v_outcome.error_code;
                    v_messages[v_one.ordinality] := v_outcome.error_message;
                    IF v_outcome.created THEN
                        v_created := v_created || v_outcome.task_uuid;
                    END IF;
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS v_hint = PG_EXCEPTION_HINT;
                    v_uuids[v_one.ordinality] := NULL;
                    v_codes[v_one.ordinality] := SQLSTATE;
                    v_messages[v_one.ordinality] :=
                        CASE WHEN coalesce(v_hint, '') = '' THEN SQLERRM ELSE SQLERRM || ' (' || v_hint || ')' END;
                END;
            END LOOP;
        END;
    END IF;

    -- Every new task's roots in one dispatch, before the rows are returned (a position no
    -- outcome was written to reads as NULL).
    IF cardinality(v_created) > 0 THEN
        PERFORM tasker._start_tasks(v_created);
    END IF;
    RETURN QUERY
    SELECT n::integer, v_uuids[n], v_codes[n], v_messages[n] FROM generate_series(1, v_n) AS n;
END;
$$;
COMMENT ON FUNCTION tasker.create_tasks(jsonb) IS
    'Creates many tasks in one call and one transaction, as create_task would one by one: each request is checked alone and the accepted ones inserted together (each alone if that fails), so a failing request is reported with its SQLSTATE and message and the others are created. Returns one row per request, in order.';
