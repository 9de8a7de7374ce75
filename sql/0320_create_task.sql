-- tasker.create_task(namespace, name, version, context, options): creates a task from a
-- registered template and dispatches its root steps, in one transaction.
--
-- version NULL means the most recently registered version of namespace/name.
-- options (all optional): priority (integer), tags (array of strings), initiator, source_system,
-- reason, idempotency_key (strings), correlation_id (uuid).
-- Guarantees:
--   * unknown template -> TK002; context not an object, context failing the template's
--     input_schema, unknown or mistyped option -> TK004; nothing is written on any error;
--   * idempotency: a second call with the same idempotency_key and the same request returns the
--     first task's uuid and creates nothing; the same key with a different request raises TK005.
--     Concurrent calls with one key are serialized by a unique index;
--   * the task, its steps (with unfinished-parent counters) and edges are inserted, the task goes
--     pending -> initializing -> enqueuing_steps, the root steps go pending -> enqueued and are
--     sent to the namespace queue, and the task is left in steps_in_process.
-- Returns the task_uuid.
CREATE OR REPLACE FUNCTION tasker.create_task(
    p_namespace text,
    p_name      text,
    p_version   text DEFAULT NULL,
    p_context   jsonb DEFAULT '{}',
    p_options   jsonb DEFAULT '{}')
RETURNS uuid
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
    v_new record;
BEGIN
    SELECT * INTO v_new FROM tasker._insert_task(p_namespace, p_name, p_version, p_context, p_options);
    IF v_new.o_created THEN
        PERFORM tasker._start_tasks(ARRAY[v_new.o_task_uuid]);
    END IF;
    RETURN v_new.o_task_uuid;
END;
$$;
COMMENT ON FUNCTION tasker.create_task(text, text, text, jsonb, jsonb) IS
    'Creates a task from a registered template and dispatches its root steps, in one transaction. An idempotency_key reused with the same request returns the first task (TK005 for a different request); TK002 unknown template, TK004 invalid context or options; nothing is written on error. Returns the task_uuid.';

-- tasker._insert_task(...): everything tasker.create_task does before dispatching: guards,
-- idempotency, the task, its steps and edges. The task is inserted where its start leaves it,
-- steps_in_process, with the four history rows of the way there that the task state machine
-- allows (create -> pending, initialize -> initializing, enqueue -> enqueuing_steps,
-- steps_enqueued -> steps_in_process): one row write instead of an insert and a move. The root
-- steps likewise are inserted enqueued, with the history row of their enqueue (pending ->
-- enqueued, attempt 0), as tasker._dispatch_steps would leave them; the other steps pending.
-- The caller must call tasker._start_tasks in the same transaction (both callers do), which
-- sends the roots' messages: nothing outside the transaction sees the task before they are sent.
-- o_created is false when an idempotency key matched an earlier identical request (o_task_uuid
-- is that task). Internal.
CREATE OR REPLACE FUNCTION tasker._insert_task(
    p_namespace text,
    p_name      text,
    p_version   text,
    p_context   jsonb,
    p_options   jsonb,
    OUT o_task_uuid uuid,
    OUT o_created   boolean)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
    v_now      timestamptz := now();
    v_options  jsonb := coalesce(p_options, '{}');
    v_context  jsonb := coalesce(p_context, '{}');
    v_template tasker.task_templates;
    v_errors   text[];
    v_key      text;
    v_hash     text;
    v_task     uuid := tasker.uuid_v7();
    v_existing tasker.tasks;
    v_priority integer;
    v_tags     text[];
BEGIN
    -- Guards -------------------------------------------------------------------------------
    IF p_version IS NULL THEN
        SELECT * INTO v_template FROM tasker.task_templates t
         WHERE t.namespace = p_namespace AND t.name = p_name
         ORDER BY t.created_at DESC, t.template_uuid DESC LIMIT 1;
    ELSE
        SELECT * INTO v_template FROM tasker.task_templates t
         WHERE t.namespace = p_namespace AND t.name = p_name AND t.version = p_version;
    END IF;
    IF v_template.template_uuid IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002',
            MESSAGE = format('unknown task template %s/%s/%s', p_namespace, p_name, coalesce(p_version, 'latest')),
            HINT = coalesce('registered versions: ' ||
                (SELECT string_agg(t.version, ', ' ORDER BY t.created_at) FROM tasker.task_templates t
                  WHERE t.namespace = p_namespace AND t.name = p_name),
                'register it with tasker.register_template(definition) or under config/tasks/');
    END IF;

    IF jsonb_typeof(v_options) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'options must be a JSON object';
    END IF;
    SELECT k INTO v_key FROM jsonb_object_keys(v_options) k
     WHERE k NOT IN ('priority', 'tags', 'initiator', 'source_system', 'reason', 'idempotency_key', 'correlation_id')
     LIMIT 1;
    IF v_key IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = format('unknown option ''%s''', v_key),
            HINT = 'options are priority, tags, initiator, source_system, reason, idempotency_key, correlation_id';
    END IF;
    IF v_options ? 'priority' AND (jsonb_typeof(v_options -> 'priority') <> 'number'
        OR (v_options ->> 'priority')::numeric % 1 <> 0
        OR (v_options ->> 'priority')::numeric NOT BETWEEN -1000000 AND 1000000) THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'priority must be an integer from -1000000 to 1000000';
    END IF;
    v_priority := coalesce((v_options ->> 'priority')::numeric::integer, 0);
    IF v_options ? 'tags' AND (jsonb_typeof(v_options -> 'tags') <> 'array'
        OR EXISTS (SELECT 1 FROM jsonb_array_elements(v_options -> 'tags') e WHERE jsonb_typeof(e) <> 'string')) THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'tags must be a list of strings';
    END IF;
    v_tags := coalesce(ARRAY(SELECT jsonb_array_elements_text(v_options -> 'tags')), '{}');
    SELECT k INTO v_key FROM unnest(ARRAY['initiator', 'source_system', 'reason', 'idempotency_key', 'correlation_id']) k
     WHERE v_options ? k AND jsonb_typeof(v_options -> k) NOT IN ('string', 'null')
     LIMIT 1;
    IF v_key IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = format('option %s must be a string', v_key);
    END IF;
    IF length(v_options ->> 'idempotency_key') NOT BETWEEN 1 AND 255 THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'idempotency_key must be 1 to 255 characters';
    END IF;
    IF v_options ->> 'correlation_id' IS NOT NULL
       AND v_options ->> 'correlation_id' !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'correlation_id must be a UUID';
    END IF;

    IF jsonb_typeof(v_context) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = format('task context must be a JSON object, got %s', jsonb_typeof(v_context));
    END IF;
    IF v_template.definition ? 'input_schema' THEN
        v_errors := tasker.json_schema_errors(v_template.definition -> 'input_schema', v_context, '$');
        IF cardinality(v_errors) > 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'TK004',
                MESSAGE = format('task context does not match the input_schema of %s/%s/%s: %s',
                                 v_template.namespace, v_template.name, v_template.version, array_to_string(v_errors, '; ')),
                DETAIL = array_to_json(v_errors)::text;
        END IF;
    END IF;

    -- Idempotency --------------------------------------------------------------------------
    v_hash := md5(jsonb_build_object(
        'template', v_template.template_uuid, 'context', v_context, 'options', v_options - 'idempotency_key')::text);

    INSERT INTO tasker.tasks (task_uuid, template_uuid, namespace, name, version, state, context, priority, tags,
                              initiator, source_system, reason, idempotency_key, request_hash, correlation_id,
                              step_count, created_at, updated_at)
    VALUES (v_task, v_template.template_uuid, v_template.namespace, v_template.name, v_template.version, 'steps_in_process',
            v_context, v_priority, v_tags, v_options ->> 'initiator', v_options ->> 'source_system',
            v_options ->> 'reason', v_options ->> 'idempotency_key', v_hash,
            coalesce((v_options ->> 'correlation_id')::uuid, v_task),
            jsonb_array_length(v_template.definition -> 'steps'), v_now, v_now)
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;

    IF NOT FOUND THEN
        SELECT * INTO v_existing FROM tasker.tasks t WHERE t.idempotency_key = v_options ->> 'idempotency_key';
        IF v_existing.request_hash = v_hash THEN
            o_task_uuid := v_existing.task_uuid;
            o_created := false;
            RETURN;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'TK005',
            MESSAGE = format('idempotency key ''%s'' was already used for task %s with a different request',
                             v_options ->> 'idempotency_key', v_existing.task_uuid);
    END IF;

    INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, created_at)
    VALUES (v_task, NULL, 'pending', 'create', v_now),
           (v_task, 'pending', 'initializing', 'initialize', v_now),
           (v_task, 'initializing', 'enqueuing_steps', 'enqueue', v_now),
           (v_task, 'enqueuing_steps', 'steps_in_process', 'steps_enqueued', v_now);

    -- Steps and edges ----------------------------------------------------------------------
    -- Roots enqueued (ready_at stays NULL: the ready index holds only steps waiting to be sent).
    WITH inserted AS (
        INSERT INTO tasker.workflow_steps (step_uuid, task_uuid, name, handler, position, namespace, state, priority,
                                           max_attempts, backoff, backoff_base_ms, backoff_max_ms, timeout_seconds,
                                           parents_total, parents_pending, enqueued_at, inputs, created_at, updated_at)
        SELECT tasker.uuid_v7(v_now), v_task, s.value ->> 'name', s.value ->> 'handler', s.ordinality::integer,
               v_template.namespace,
               CASE WHEN jsonb_array_length(s.value -> 'depends_on') = 0 THEN 'enqueued' ELSE 'pending' END, v_priority,
               (s.value #>> '{retry,max_attempts}')::integer, s.value #>> '{retry,backoff}',
               (s.value #>> '{retry,base_ms}')::integer, (s.value #>> '{retry,max_ms}')::integer,
               (s.value ->> 'timeout_seconds')::integer,
               jsonb_array_length(s.value -> 'depends_on'), jsonb_array_length(s.value -> 'depends_on'),
               CASE WHEN jsonb_array_length(s.value -> 'depends_on') = 0 THEN v_now END,
               s.value -> 'inputs', v_now, v_now
          FROM jsonb_array_elements(v_template.definition -> 'steps') WITH ORDINALITY s
        RETURNING step_uuid, state
    )
    INSERT INTO tasker.workflow_step_transitions (step_uuid, task_uuid, from_state, to_state, event, attempt, created_at)
    SELECT inserted.step_uuid, v_task, 'pending', 'enqueued', 'enqueue', 0, v_now
      FROM inserted
     WHERE inserted.state = 'enqueued';

    INSERT INTO tasker.workflow_step_edges (from_step_uuid, to_step_uuid)
    SELECT parent.step_uuid, child.step_uuid
      FROM jsonb_array_elements(v_template.definition -> 'steps') s
     CROSS JOIN jsonb_array_elements_text(s -> 'depends_on') d
      JOIN tasker.workflow_steps child ON child.task_uuid = v_task AND child.name = s ->> 'name'
      JOIN tasker.workflow_steps parent ON parent.task_uuid = v_task AND parent.name = d;

    o_task_uuid := v_task;
    o_created := true;
END;
$$;

-- tasker._start_tasks(task_uuids): sends the messages of the root steps tasker._insert_task has
-- just inserted enqueued, in its transaction (tasker._send_step_messages: one batch per queue),
-- notifies tasker_step_dispatched per queue (immediately: nobody can claim them before the
-- commit) and tasker_task_changed with '<task_uuid>:steps_in_process' per task, as a move there
-- would (the task and its steps are new: that one notification announces both). Internal.
CREATE OR REPLACE FUNCTION tasker._start_tasks(p_task_uuids uuid[])
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
    v_roots uuid[];
    v_queue text;
    v_task  uuid;
BEGIN
    SELECT array_agg(s.step_uuid ORDER BY s.step_uuid) INTO v_roots
      FROM tasker.workflow_steps s
     WHERE s.task_uuid = ANY (p_task_uuids) AND s.parents_total = 0;
    FOR v_queue IN SELECT q FROM tasker._send_step_messages(v_roots) AS q LOOP
        PERFORM pg_notify('tasker_step_dispatched', v_queue);
    END LOOP;
    FOR v_task IN SELECT DISTINCT u FROM unnest(p_task_uuids) AS u ORDER BY u LOOP
        PERFORM pg_notify('tasker_task_changed', v_task::text || ':steps_in_process');
    END LOOP;
END;
$$;
