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
SET jit = off
AS $$
DECLARE
    v_new record;
BEGIN
    SELECT * INTO v_new
      FROM tasker._insert_tasks(ARRAY[tasker._check_task_request(1, p_namespace, p_name, p_version, p_context, p_options)]);
    IF v_new.error_code IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = v_new.error_code, MESSAGE = v_new.error_message;
    END IF;
    IF v_new.created THEN
        PERFORM tasker._start_tasks(ARRAY[v_new.task_uuid]);
    END IF;
    RETURN v_new.task_uuid;
END;
$$;
COMMENT ON FUNCTION tasker.create_task(text, text, text, jsonb, jsonb) IS
    'Creates a task from a registered template and dispatches its root steps, in one transaction. An idempotency_key reused with the same request returns the first task (TK005 for a different request); TK002 unknown template, TK004 invalid context or options; nothing is written on error. Returns the task_uuid.';

-- tasker._check_task_request(ordinality, namespace, name, version, context, options): the guards
-- of task creation, which write nothing. Raises TK002 for an unknown template and TK004 for
-- options or a context that are not valid (the context against the template's input_schema);
-- otherwise returns the request as tasker._insert_tasks inserts it: a new task_uuid (uuid_v7, so
-- tasks of one session sort in the order their requests were checked), the template, the task's
-- columns and the hash that an idempotency key is matched with. Internal.
CREATE OR REPLACE FUNCTION tasker._check_task_request(
    p_ordinality integer,
    p_namespace  text,
    p_name       text,
    p_version    text,
    p_context    jsonb,
    p_options    jsonb)
RETURNS tasker.task_request
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_options  jsonb := coalesce(p_options, '{}');
    v_context  jsonb := coalesce(p_context, '{}');
    v_template tasker.task_templates;
    v_errors   text[];
    v_key      text;
    v_task     uuid := tasker.uuid_v7();
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

    RETURN ROW(p_ordinality, v_task, v_template.template_uuid, v_template.namespace, v_template.name,
               v_template.version, v_context, v_options, v_priority, v_tags,
               md5(jsonb_build_object('template', v_template.template_uuid, 'context', v_context,
                                      'options', v_options - 'idempotency_key')::text),
               jsonb_array_length(v_template.definition -> 'steps'))::tasker.task_request;
END;
$$;

-- tasker._insert_tasks(requests): inserts the tasks of checked requests (tasker._check_task_request),
-- one statement per table for the whole batch: the tasks, their state paths, their steps with the
-- roots' history, and their edges. Returns one row per request, in ordinality order:
--   * created: task_uuid is the request's new task;
--   * an idempotency key that an earlier task (committed, or inserted earlier in this transaction
--     or this batch) holds for the same request: task_uuid is that task, created false;
--   * the same key held for a different request: error_code TK005 with its message, nothing
--     inserted for it.
-- A task is inserted where its start leaves it, steps_in_process, with the four history rows of
-- the way there that the task state machine allows (create -> pending, initialize ->
-- initializing, enqueue -> enqueuing_steps, steps_enqueued -> steps_in_process): one row write
-- instead of an insert and a move. The root steps likewise are inserted enqueued, with the
-- history row of their enqueue (pending -> enqueued, attempt 0), as tasker._dispatch_steps would
-- leave them; the other steps pending, with their count of unfinished parents. The caller must
-- call tasker._start_tasks for the created tasks in the same transaction (both callers do), which
-- sends the roots' messages: nothing outside the transaction sees a task before they are sent.
-- Any other error (a constraint) raises and inserts nothing of the batch. Internal.
CREATE OR REPLACE FUNCTION tasker._insert_tasks(p_requests tasker.task_request[])
RETURNS TABLE (ordinality integer, task_uuid uuid, created boolean, error_code text, error_message text)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := now();
    v_new uuid[];
BEGIN
    -- Tasks, in request order (an idempotency key repeated within the batch keeps the first).
    WITH inserted AS (
        INSERT INTO tasker.tasks (task_uuid, template_uuid, namespace, name, version, state, context, priority, tags,
                                  initiator, source_system, reason, idempotency_key, request_hash, correlation_id,
                                  step_count, created_at, updated_at)
        SELECT r.task_uuid, r.template_uuid, r.namespace, r.name, r.version, 'steps_in_process', r.context,
               r.priority, r.tags, r.options ->> 'initiator', r.options ->> 'source_system', r.options ->> 'reason',
               r.options ->> 'idempotency_key', r.request_hash,
               coalesce((r.options ->> 'correlation_id')::uuid, r.task_uuid), r.step_count, v_now, v_now
          FROM unnest(p_requests) r
         ORDER BY r.ordinality
        ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING task_uuid
    )
    SELECT coalesce(array_agg(i.task_uuid), '{}') INTO v_new FROM inserted i;

    IF cardinality(v_new) > 0 THEN
        INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, created_at)
        SELECT t.u, p.from_state, p.to_state, p.event, v_now
          FROM unnest(v_new) WITH ORDINALITY t(u, n)
         CROSS JOIN (VALUES (1, NULL, 'pending', 'create'),
                            (2, 'pending', 'initializing', 'initialize'),
                            (3, 'initializing', 'enqueuing_steps', 'enqueue'),
                            (4, 'enqueuing_steps', 'steps_in_process', 'steps_enqueued')) p(seq, from_state, to_state, event)
         ORDER BY t.n, p.seq;

        -- Steps (roots enqueued; ready_at stays NULL: the ready index holds only steps waiting to
        -- be sent), the roots' enqueue history and the edges, from one read of the templates.
        WITH steps AS MATERIALIZED (
            SELECT tasker.uuid_v7(v_now) AS step_uuid, r.task_uuid, r.namespace, r.priority,
                   s.value AS def, s.ordinality::integer AS position,
                   jsonb_array_length(s.value -> 'depends_on') AS parents
              FROM unnest(p_requests) r
              JOIN tasker.task_templates t ON t.template_uuid = r.template_uuid
             CROSS JOIN jsonb_array_elements(t.definition -> 'steps') WITH ORDINALITY s
             WHERE r.task_uuid = ANY (v_new)
        ), inserted AS (
            INSERT INTO tasker.workflow_steps (step_uuid, task_uuid, name, handler, position, namespace, state, priority,
                                               max_attempts, backoff, backoff_base_ms, backoff_max_ms, timeout_seconds,
                                               parents_total, parents_pending, enqueued_at, inputs, created_at, updated_at)
            SELECT s.step_uuid, s.task_uuid, s.def ->> 'name', s.def ->> 'handler', s.position, s.namespace,
                   CASE WHEN s.parents = 0 THEN 'enqueued' ELSE 'pending' END, s.priority,
                   (s.def #>> '{retry,max_attempts}')::integer, s.def #>> '{retry,backoff}',
                   (s.def #>> '{retry,base_ms}')::integer, (s.def #>> '{retry,max_ms}')::integer,
                   (s.def ->> 'timeout_seconds')::integer,
                   s.parents, s.parents, CASE WHEN s.parents = 0 THEN v_now END,
                   s.def -> 'inputs', v_now, v_now
              FROM steps s
            RETURNING step_uuid, task_uuid, state
        ), enqueued AS (
            INSERT INTO tasker.workflow_step_transitions (step_uuid, task_uuid, from_state, to_state, event, attempt, created_at)
            SELECT i.step_uuid, i.task_uuid, 'pending', 'enqueued', 'enqueue', 0, v_now
              FROM inserted i
             WHERE i.state = 'enqueued'
        )
        INSERT INTO tasker.workflow_step_edges (from_step_uuid, to_step_uuid)
        SELECT parent.step_uuid, child.step_uuid
          FROM steps child
         CROSS JOIN jsonb_array_elements_text(child.def -> 'depends_on') d
          JOIN steps parent ON parent.task_uuid = child.task_uuid AND parent.def ->> 'name' = d;
    END IF;

    -- A request not inserted met an idempotency key: the same request gets that task.
    RETURN QUERY
    SELECT r.ordinality,
           CASE WHEN r.task_uuid = ANY (v_new) THEN r.task_uuid
                WHEN e.request_hash = r.request_hash THEN e.task_uuid END,
           r.task_uuid = ANY (v_new),
           CASE WHEN NOT (r.task_uuid = ANY (v_new)) AND e.request_hash IS DISTINCT FROM r.request_hash THEN 'TK005' END,
           CASE WHEN NOT (r.task_uuid = ANY (v_new)) AND e.request_hash IS DISTINCT FROM r.request_hash THEN
               format('idempotency key ''%s'' was already used for task %s with a different request',
                      r.options ->> 'idempotency_key', e.task_uuid) END
      FROM unnest(p_requests) r
      LEFT JOIN tasker.tasks e
        ON NOT (r.task_uuid = ANY (v_new))
       AND e.idempotency_key = r.options ->> 'idempotency_key' AND e.idempotency_key IS NOT NULL
     ORDER BY r.ordinality;
END;
$$;

-- tasker._start_tasks(task_uuids): sends the messages of the root steps tasker._insert_tasks has
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
SET jit = off
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
