--
-- Name: tasker; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA tasker;

--
-- Name: tasker_audit; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA tasker_audit;

--
-- Name: task_request; Type: TYPE; Schema: tasker; Owner: -
--

CREATE TYPE tasker.task_request AS (
	ordinality integer,
	task_uuid uuid,
	template_uuid uuid,
	namespace text,
	name text,
	version text,
	context jsonb,
	options jsonb,
	priority integer,
	tags text[],
	request_hash text,
	step_count integer
);

--
-- Name: TYPE task_request; Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON TYPE tasker.task_request IS 'A task request tasker._check_task_request accepted: what tasker._insert_tasks inserts.';

--
-- Name: _active_task_states(); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._active_task_states() RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    SELECT array_agg(ts.state ORDER BY ts.state) FROM tasker.task_states ts WHERE NOT ts.is_terminal;
$$;

--
-- Name: _advance_tasks_to_in_process(uuid[], timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._advance_tasks_to_in_process(p_task_uuids uuid[], p_now timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_task record;
BEGIN
    FOR v_task IN
        SELECT t.task_uuid, t.state FROM tasker.tasks t
         WHERE t.task_uuid = ANY (p_task_uuids)
           AND t.state IN ('initializing', 'enqueuing_steps', 'waiting_for_retry', 'waiting_for_dependencies')
         ORDER BY t.task_uuid
           FOR UPDATE
    LOOP
        PERFORM tasker._move_task(v_task.task_uuid,
            CASE WHEN v_task.state = 'enqueuing_steps' THEN ARRAY['steps_enqueued']
                 ELSE ARRAY['enqueue', 'steps_enqueued'] END,
            NULL, p_now);
    END LOOP;
END;
$$;

--
-- Name: _apply_results(uuid[], text[], jsonb[], jsonb[], bigint[], timestamp with time zone, text, integer, integer, text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._apply_results(p_step_uuids uuid[], p_statuses text[], p_results jsonb[], p_errors jsonb[], p_retry_after_ms bigint[], p_now timestamp with time zone, p_claim_namespace text DEFAULT NULL::text, p_claim_limit integer DEFAULT 0, p_vt_seconds integer DEFAULT NULL::integer, p_worker text DEFAULT NULL::text) RETURNS TABLE(completed integer, retried integer, failed integer, dispatched integer, tasks_flagged integer, claimed uuid[])
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
#variable_conflict use_column
DECLARE
    v_now       timestamptz := coalesce(p_now, now());
    v_ok        uuid[];
    v_ok_p      jsonb[];
    v_retry     uuid[];
    v_retry_p   jsonb[];
    v_fail      uuid[];
    v_fail_p    jsonb[];
    v_ready     uuid[];
    v_tasks     uuid[];
    v_flag      uuid[];
    v_done      uuid[];
    v_dispatched integer := 0;
    v_claimed   uuid[];
BEGIN
    IF coalesce(cardinality(p_step_uuids), 0) = 0 THEN
        RETURN QUERY SELECT 0, 0, 0, 0, 0, NULL::uuid[];
        RETURN;
    END IF;

    WITH r AS (
        SELECT x.step_uuid, x.status, x.result, x.error, x.retry_after_ms, s.attempts, s.max_attempts, s.backoff,
               s.backoff_base_ms, s.backoff_max_ms, s.name, s.task_uuid
          FROM unnest(p_step_uuids, p_statuses, p_results, p_errors, p_retry_after_ms)
                   AS x (step_uuid, status, result, error, retry_after_ms)
          JOIN tasker.workflow_steps s ON s.step_uuid = x.step_uuid
         -- The steps' own keys as well (see tasker._move_steps).
         WHERE s.step_uuid = ANY (p_step_uuids)
    ), d AS (
        SELECT r.*,
               CASE WHEN r.status = 'success' THEN 'complete'
                    WHEN r.status = 'retryable_error' AND r.attempts < r.max_attempts THEN 'retry'
                    ELSE 'fail' END AS event,
               coalesce(r.error, '{}'::jsonb) || jsonb_build_object('step', r.name, 'attempt', r.attempts, 'at', v_now)
                   || CASE WHEN r.status = 'retryable_error' AND r.attempts >= r.max_attempts
                           THEN jsonb_build_object('attempts_exhausted', true) ELSE '{}'::jsonb END AS err
          FROM r
    )
    SELECT array_agg(d.step_uuid ORDER BY d.step_uuid) FILTER (WHERE d.event = 'complete'),
           array_agg(jsonb_build_object('results', coalesce(d.result, 'null'::jsonb)) ORDER BY d.step_uuid)
               FILTER (WHERE d.event = 'complete'),
           array_agg(d.step_uuid ORDER BY d.step_uuid) FILTER (WHERE d.event = 'retry'),
           array_agg(jsonb_build_object('error', d.err, 'next_retry_at',
                         v_now + make_interval(secs => tasker.retry_delay_ms(d.backoff, d.backoff_base_ms, d.backoff_max_ms,
                                                                             d.attempts, d.retry_after_ms) / 1000.0))
                     ORDER BY d.step_uuid) FILTER (WHERE d.event = 'retry'),
           array_agg(d.step_uuid ORDER BY d.step_uuid) FILTER (WHERE d.event = 'fail'),
           array_agg(jsonb_build_object('error', d.err) ORDER BY d.step_uuid) FILTER (WHERE d.event = 'fail'),
           array_agg(DISTINCT d.task_uuid)
      INTO v_ok, v_ok_p, v_retry, v_retry_p, v_fail, v_fail_p, v_tasks
      FROM d;

    -- Tasks next, in task_uuid order, before anything below touches them (dispatch, flags).
    PERFORM 1 FROM tasker.tasks t WHERE t.task_uuid = ANY (v_tasks) ORDER BY t.task_uuid FOR UPDATE;

    IF v_ok IS NOT NULL THEN
        PERFORM tasker._move_steps(v_ok, 'complete', v_ok_p, NULL, v_now);
    END IF;
    IF v_retry IS NOT NULL THEN
        PERFORM tasker._move_steps(v_retry, 'retry', v_retry_p, NULL, v_now);
    END IF;
    IF v_fail IS NOT NULL THEN
        PERFORM tasker._move_steps(v_fail, 'fail', v_fail_p, NULL, v_now);
    END IF;

    -- Unblock children of completed steps; dispatch those whose last parent just finished.
    IF v_ok IS NOT NULL THEN
        -- A pending child whose last parent just completed is dispatched directly: its enqueue
        -- (tasker._move_steps) zeroes the counter in the same row write. Every other child
        -- has its counter decremented here. (Children read by key: the ids as an array.)
        WITH dec AS (
            SELECT e.to_step_uuid AS step_uuid, count(*)::integer AS n
              FROM tasker.workflow_step_edges e
             WHERE e.from_step_uuid = ANY (v_ok)
             GROUP BY e.to_step_uuid
        ), kids AS (
            SELECT c.step_uuid, c.state = 'pending' AND c.parents_pending - dec.n = 0 AS ready
              FROM tasker.workflow_steps c
              JOIN dec ON dec.step_uuid = c.step_uuid
             WHERE c.step_uuid = ANY (ARRAY(SELECT dec.step_uuid FROM dec))
        ), upd AS (
            UPDATE tasker.workflow_steps c
               SET parents_pending = c.parents_pending - dec.n,
                   updated_at = v_now
              FROM dec
             WHERE c.step_uuid = dec.step_uuid
               AND c.step_uuid IN (SELECT kids.step_uuid FROM kids WHERE NOT kids.ready)
            RETURNING c.step_uuid
        )
        SELECT array_agg(kids.step_uuid ORDER BY kids.step_uuid) FILTER (WHERE kids.ready)
          INTO v_ready
          FROM kids;
        -- The chained claim takes its share first (one write per child, no message to read
        -- back); the rest go to the queues for anyone.
        IF v_ready IS NOT NULL AND p_claim_limit > 0 THEN
            v_claimed := tasker._claim_released(v_ready, p_claim_namespace, p_claim_limit, p_vt_seconds, p_worker);
            IF v_claimed IS NOT NULL THEN
                v_ready := ARRAY(SELECT u FROM unnest(v_ready) AS u WHERE u <> ALL (v_claimed) ORDER BY u);
                v_dispatched := cardinality(v_claimed);
            END IF;
        END IF;
        IF cardinality(v_ready) > 0 THEN
            v_dispatched := v_dispatched
                + (SELECT count(*)::integer FROM tasker._dispatch_steps(v_ready, v_now));
        END IF;
    END IF;

    -- Tasks this call may have finished. A task whose every step is now done is finalized here,
    -- under the task lock held since above: it moves to complete in this transaction, all such
    -- tasks in one statement (tasker._complete_tasks; the finalizer would derive the same
    -- state from the same rows, one commit later). A task with a failure or a retry among these
    -- results, or with nothing left in flight otherwise, is flagged for the finalizer, which owns
    -- every other outcome (error and its DLQ entry, blocked_by_failures, waiting).
    IF v_tasks IS NOT NULL THEN
        SELECT array_agg(t.task_uuid ORDER BY t.task_uuid) INTO v_done
          FROM unnest(v_tasks) AS t (task_uuid)
         WHERE (SELECT 1 FROM tasker.workflow_steps s
                 WHERE s.task_uuid = t.task_uuid AND s.state NOT IN ('complete', 'resolved_manually')
                 LIMIT 1) IS NULL;
        IF v_done IS NOT NULL THEN
            PERFORM tasker._complete_tasks(v_done, v_now);
        END IF;

        WITH flagged AS (
            UPDATE tasker.tasks t
               SET finalization_requested_at = coalesce(t.finalization_requested_at, v_now),
                   last_error = coalesce(
                       (SELECT s.last_error FROM tasker.workflow_steps s
                         WHERE s.task_uuid = t.task_uuid
                           AND s.step_uuid = ANY (coalesce(v_fail, '{}') || coalesce(v_retry, '{}'))
                         ORDER BY s.step_uuid LIMIT 1),
                       t.last_error)
             WHERE t.task_uuid = ANY (v_tasks)
               AND NOT t.task_uuid = ANY (coalesce(v_done, '{}'))
               AND (EXISTS (SELECT 1 FROM tasker.workflow_steps s
                             WHERE s.task_uuid = t.task_uuid
                               AND s.step_uuid = ANY (coalesce(v_fail, '{}') || coalesce(v_retry, '{}')))
                    -- Nothing of the task left in flight: the task's own steps, read through
                    -- workflow_steps_name_unique (task_uuid, name). A scalar subquery, not NOT
                    -- EXISTS: inside an OR the planner may turn NOT EXISTS into a hashed subplan
                    -- that reads every in-flight step of every task.
                    OR (SELECT 1 FROM tasker.workflow_steps s
                         WHERE s.task_uuid = t.task_uuid AND s.state IN ('enqueued', 'in_progress')
                         LIMIT 1) IS NULL)
            RETURNING t.task_uuid
        )
        SELECT array_agg(flagged.task_uuid) INTO v_flag FROM flagged;
        IF v_flag IS NOT NULL THEN
            PERFORM pg_notify('tasker_task_finalize', '');
        END IF;
    END IF;

    RETURN QUERY SELECT coalesce(cardinality(v_ok), 0), coalesce(cardinality(v_retry), 0),
                        coalesce(cardinality(v_fail), 0), v_dispatched, coalesce(cardinality(v_flag), 0), v_claimed;
END;
$$;

--
-- Name: _check_task_request(integer, text, text, text, jsonb, jsonb); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._check_task_request(p_ordinality integer, p_namespace text, p_name text, p_version text, p_context jsonb, p_options jsonb) RETURNS tasker.task_request
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $_$
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
$_$;

--
-- Name: _claim_released(uuid[], text, integer, integer, text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._claim_released(p_step_uuids uuid[], p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text) RETURNS uuid[]
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
#variable_conflict use_column
DECLARE
    v_now      timestamptz := pg_catalog.clock_timestamp();
    v_queue    text;
    v_steps    uuid[];
    v_messages jsonb[];
    v_msg_ids  bigint[];
    v_moved    uuid[];
    v_tasks    uuid[];
BEGIN
    SELECT n.queue_name INTO v_queue FROM tasker.namespaces n WHERE n.name = p_namespace;
    -- Nothing to claim with: the caller's claim (tasker._claim_steps) raises for these.
    IF v_queue IS NULL OR coalesce(p_limit, 0) < 1 OR coalesce(p_vt_seconds NOT BETWEEN 1 AND 43200, true) THEN
        RETURN NULL;
    END IF;

    SELECT array_agg(c.step_uuid ORDER BY c.step_uuid),
           array_agg(jsonb_build_object(
               'step_uuid', c.step_uuid,
               'task_uuid', c.task_uuid,
               'namespace', c.namespace,
               'step_name', c.name,
               'handler', c.handler,
               'attempt', c.attempts + 1) ORDER BY c.step_uuid)
      INTO v_steps, v_messages
      FROM (SELECT s.step_uuid, s.task_uuid, s.namespace, s.name, s.handler, s.attempts
              FROM tasker.workflow_steps s
             WHERE s.step_uuid = ANY (p_step_uuids) AND s.namespace = p_namespace
             ORDER BY s.step_uuid
             LIMIT p_limit) c;
    IF v_steps IS NULL THEN
        RETURN NULL;
    END IF;

    SELECT array_agg(m.msg_id ORDER BY (m.message ->> 'step_uuid')::uuid) INTO v_msg_ids
      FROM tasker._queue_send_read(v_queue, v_messages, p_vt_seconds) m;

    -- One write per step along two moves of the state machine, both joined from
    -- tasker.step_state_transitions as tasker._move_steps joins one (enqueue from the step's
    -- state, then claim), with a history row for each, in that order.
    WITH moved AS (
        UPDATE tasker.workflow_steps s
           SET state = claim.to_state,
               updated_at = v_now,
               attempts = s.attempts + 1,
               enqueued_at = v_now,
               claimed_at = v_now,
               parents_pending = 0,
               ready_at = NULL,
               next_retry_at = NULL,
               dispatch_msg_id = c.msg_id
          FROM unnest(v_steps, v_msg_ids) AS c (step_uuid, msg_id)
          JOIN tasker.step_state_transitions enqueue ON enqueue.event = 'enqueue'
          JOIN tasker.step_state_transitions claim ON claim.event = 'claim' AND claim.from_state = enqueue.to_state
         WHERE s.step_uuid = c.step_uuid
           AND s.step_uuid = ANY (v_steps)
           AND s.state = 'pending'
           AND enqueue.from_state = s.state
        RETURNING s.step_uuid, s.task_uuid, s.attempts, enqueue.from_state, enqueue.to_state AS via, claim.to_state
    ), history AS (
        INSERT INTO tasker.workflow_step_transitions
               (step_uuid, task_uuid, from_state, to_state, event, attempt, metadata, created_at)
        SELECT moved.step_uuid, moved.task_uuid, p.from_state, p.to_state, p.event, p.attempt, p.metadata, v_now
          FROM moved
         CROSS JOIN LATERAL (VALUES (1, moved.from_state, moved.via, 'enqueue', moved.attempts - 1, NULL::jsonb),
                                    (2, moved.via, moved.to_state, 'claim', moved.attempts,
                                     CASE WHEN p_worker IS NOT NULL THEN jsonb_build_object('worker', p_worker) END))
                 AS p (ord, from_state, to_state, event, attempt, metadata)
         ORDER BY moved.step_uuid, p.ord
    )
    SELECT array_agg(moved.step_uuid), array_agg(DISTINCT moved.task_uuid) INTO v_moved, v_tasks FROM moved;

    IF coalesce(cardinality(v_moved), 0) < cardinality(v_steps) THEN
        PERFORM tasker._raise_unmovable_step(
            ARRAY(SELECT u FROM unnest(v_steps) AS u WHERE u <> ALL (coalesce(v_moved, '{}'))), 'enqueue');
    END IF;
    FOR i IN 1 .. coalesce(cardinality(v_tasks), 0) BY 200 LOOP
        PERFORM pg_notify('tasker_steps_changed', array_to_string(v_tasks[i : i + 199], ','));
    END LOOP;

    -- Tasks that were not already running move to steps_in_process (the function leaves the
    -- others alone).
    PERFORM tasker._advance_tasks_to_in_process(v_tasks, v_now);
    RETURN v_steps;
END;
$$;

--
-- Name: _claim_steps(text, integer, integer, text, timestamp with time zone, uuid[]); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._claim_steps(p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text, p_now timestamp with time zone, p_claimed uuid[]) RETURNS TABLE(msg_id bigint, step_uuid uuid, task_uuid uuid, attempt integer, max_attempts integer, namespace text, task_name text, task_version text, step_name text, handler text, timeout_seconds integer, context jsonb, inputs jsonb, parent_results jsonb)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $_$
#variable_conflict use_column
DECLARE
    -- p_now (tests' time travel) only for the owning role: a worker role cannot date its claims.
    v_fixed    boolean := p_now IS NOT NULL AND pg_catalog.pg_has_role(session_user, current_user, 'MEMBER');
    v_now      timestamptz := CASE WHEN v_fixed THEN p_now ELSE now() END;
    v_queue    text;
    v_claim    uuid[];
    v_claim_p  jsonb[];
    v_reclaim  uuid[];
    v_reclaim_p jsonb[];
    v_stale    bigint[];
    v_exhausted jsonb;
    v_msg_ids  bigint[];
    v_msg_steps uuid[];
    v_meta     jsonb := CASE WHEN p_worker IS NULL THEN NULL ELSE jsonb_build_object('worker', p_worker) END;
    -- Nothing written yet in this transaction: the claim may commit asynchronously.
    v_alone    boolean := pg_catalog.pg_current_xact_id_if_assigned() IS NULL;
    v_room     integer := p_limit - coalesce(cardinality(p_claimed), 0);
BEGIN
    PERFORM tasker._require_worker_namespaces(ARRAY[p_namespace]);
    SELECT n.queue_name INTO v_queue FROM tasker.namespaces n WHERE n.name = p_namespace;
    IF v_queue IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('unknown namespace %s', p_namespace);
    END IF;
    IF p_limit IS NULL OR p_limit < 1 OR p_vt_seconds IS NULL OR p_vt_seconds NOT BETWEEN 1 AND 43200 THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = 'claim_steps: limit must be at least 1 and the visibility timeout between 1 and 43200 seconds';
    END IF;

    -- The messages, in msg_id order, for the slots the steps already claimed in this transaction
    -- (p_claimed) left; a message that names no step (malformed) keeps a NULL step.
    IF v_room > 0 THEN
        SELECT array_agg(m.msg_id ORDER BY m.msg_id),
               array_agg(CASE WHEN m.message ->> 'step_uuid' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                              THEN (m.message ->> 'step_uuid')::uuid END ORDER BY m.msg_id)
          INTO v_msg_ids, v_msg_steps
          FROM tasker._queue_read(v_queue, p_vt_seconds, v_room) m;
    END IF;
    IF v_msg_ids IS NULL AND p_claimed IS NULL THEN
        RETURN;
    END IF;
    -- Messages read: claim their steps (the steps of p_claimed are claimed already).
    IF v_msg_ids IS NOT NULL THEN
        IF v_alone THEN
            PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
        END IF;

        -- Lock the steps in step_uuid order and decide on the locked rows, in one statement: one
        -- decision per message, the first message of a step decides, any other is stale. The lists
        -- come out in step_uuid order (the engine's lock order).
        WITH locked AS MATERIALIZED (
            SELECT s.step_uuid, s.state, s.attempts, s.max_attempts, s.task_uuid, s.name, s.dispatch_msg_id
              FROM tasker.workflow_steps s
             WHERE s.step_uuid = ANY (v_msg_steps)
             ORDER BY s.step_uuid
               FOR UPDATE
        ), d AS (
            SELECT x.msg_id, l.step_uuid, l.attempts, l.task_uuid, l.name, l.dispatch_msg_id,
                   CASE WHEN l.step_uuid IS NULL OR x.rn > 1 THEN 'stale'
                        WHEN l.state = 'enqueued' THEN 'claim'
                        WHEN l.state = 'in_progress' AND l.attempts < l.max_attempts THEN 'reclaim'
                        WHEN l.state = 'in_progress' THEN 'exhausted'
                        ELSE 'stale' END AS action
              FROM (SELECT u.msg_id, u.step_uuid, row_number() OVER (PARTITION BY u.step_uuid ORDER BY u.msg_id) AS rn
                      FROM unnest(v_msg_ids, v_msg_steps) AS u (msg_id, step_uuid)) x
              LEFT JOIN locked l ON l.step_uuid = x.step_uuid
             ORDER BY l.step_uuid, x.msg_id
        )
        SELECT array_agg(d.step_uuid) FILTER (WHERE d.action = 'claim'),
               array_agg(jsonb_build_object('dispatch_msg_id', d.msg_id)) FILTER (WHERE d.action = 'claim'),
               array_agg(d.step_uuid) FILTER (WHERE d.action = 'reclaim'),
               array_agg(jsonb_build_object('dispatch_msg_id', d.msg_id, 'metadata',
                         jsonb_build_object('reason', 'visibility timeout expired; previous attempt presumed lost')))
                         FILTER (WHERE d.action = 'reclaim'),
               array_agg(d.msg_id) FILTER (WHERE d.action IN ('stale', 'exhausted')),
               -- Lost attempts with none left, as results for the path below.
               jsonb_agg(jsonb_build_object(
                   'step_uuid', d.step_uuid,
                   'task_uuid', d.task_uuid,
                   'attempt', d.attempts,
                   'msg_id', d.dispatch_msg_id,
                   'status', 'permanent_error',
                   'error', jsonb_build_object(
                       'message', format('step %s exhausted its attempts: attempt %s did not report before its visibility timeout',
                                         d.name, d.attempts),
                       'class', 'VisibilityTimeout'))) FILTER (WHERE d.action = 'exhausted')
          INTO v_claim, v_claim_p, v_reclaim, v_reclaim_p, v_stale, v_exhausted
          FROM d;

        -- A claim is dated when its messages were read and its steps locked, not when its
        -- transaction began: a transaction begun before a parent's result was applied can read the
        -- child's message once that commits, and claimed_at must not precede the parent's completion.
        IF NOT v_fixed THEN
            v_now := pg_catalog.clock_timestamp();
        END IF;

        -- Lost attempts with none left: fail them now, through the result path, under the step locks
        -- held since above. Leaving them in_progress until a result processor ran would let the lost
        -- attempt's worker ack a success that is then dropped.
        IF v_exhausted IS NOT NULL THEN
            PERFORM 1 FROM tasker.apply_step_results(v_exhausted, v_now);
        END IF;

        IF v_stale IS NOT NULL THEN
            PERFORM tasker._queue_delete(v_queue, v_stale);
        END IF;

        IF v_claim IS NOT NULL THEN
            PERFORM tasker._move_steps(v_claim, 'claim', v_claim_p, v_meta, v_now);
        END IF;
        IF v_reclaim IS NOT NULL THEN
            PERFORM tasker._move_steps(v_reclaim, 'reclaim', v_reclaim_p, v_meta, v_now);
        END IF;
    END IF;

    RETURN QUERY
    SELECT s.dispatch_msg_id, s.step_uuid, s.task_uuid, s.attempts, s.max_attempts, s.namespace,
           t.name, t.version, s.name, s.handler, s.timeout_seconds, t.context, s.inputs,
           coalesce((SELECT jsonb_object_agg(p.name, coalesce(p.results, 'null'::jsonb))
                       FROM tasker.workflow_step_edges e
                       JOIN tasker.workflow_steps p ON p.step_uuid = e.from_step_uuid
                      WHERE e.to_step_uuid = s.step_uuid), '{}'::jsonb)
      FROM tasker.workflow_steps s
      -- Each step's task by key (OFFSET 0 keeps this a per-step look-up: a join planned while
      -- the tables were analyzed empty would read the whole tasks key).
      CROSS JOIN LATERAL (SELECT x.name, x.version, x.context FROM tasker.tasks x
                           WHERE x.task_uuid = s.task_uuid OFFSET 0) t
     WHERE s.step_uuid = ANY (coalesce(p_claimed, '{}') || coalesce(v_claim, '{}') || coalesce(v_reclaim, '{}'))
     ORDER BY s.step_uuid;
END;
$_$;

--
-- Name: _compile_queue_statements(); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._compile_queue_statements() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
DECLARE
    v_op       record;
    v_static   text;
    v_branches text;
    v_dynamic  text;
    v_exec     text;
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('tasker._compile_queue_statements'));
    FOR v_op IN
        SELECT * FROM (VALUES
            ('_queue_send', 'p_queue text, p_messages jsonb[]', 'SETOF bigint', 'query', 'p_messages', NULL,
             'INSERT INTO pgmq.%1$I (vt, message) SELECT pg_catalog.clock_timestamp(), m FROM unnest($1) AS m RETURNING msg_id'),
            ('_queue_read', 'p_queue text, p_vt_seconds integer, p_limit integer', 'TABLE (msg_id bigint, message jsonb)',
             'query', 'p_limit', 'pg_catalog.make_interval(secs => p_vt_seconds)',
             'WITH cte AS (
             SELECT q.msg_id FROM pgmq.%1$I q
              WHERE q.vt <= pg_catalog.clock_timestamp()
              ORDER BY q.msg_id
              LIMIT $1
                FOR UPDATE SKIP LOCKED)
         UPDATE pgmq.%1$I m
            SET last_read_at = pg_catalog.clock_timestamp(),
                vt = pg_catalog.clock_timestamp() + $2,
                read_ct = m.read_ct + 1
           FROM cte
          WHERE m.msg_id = cte.msg_id
         RETURNING m.msg_id, m.message'),
            ('_queue_send_read', 'p_queue text, p_messages jsonb[], p_vt_seconds integer',
             'TABLE (msg_id bigint, message jsonb)', 'query', 'p_messages', 'pg_catalog.make_interval(secs => p_vt_seconds)',
             'INSERT INTO pgmq.%1$I (vt, read_ct, last_read_at, message)
         SELECT pg_catalog.clock_timestamp() + $2, 1, pg_catalog.clock_timestamp(), m FROM unnest($1) AS m
         RETURNING msg_id, message'),
            ('_queue_lock', 'p_queue text, p_msg_ids bigint[]', 'void', 'perform', 'p_msg_ids', NULL,
             'SELECT 1 FROM pgmq.%1$I q WHERE q.msg_id = ANY ($1) ORDER BY q.msg_id FOR UPDATE'),
            ('_queue_delete', 'p_queue text, p_msg_ids bigint[]', 'integer', 'count', 'p_msg_ids', NULL,
             'DELETE FROM pgmq.%1$I q WHERE q.msg_id = ANY ($1)'))
          AS o (name, args, returns, kind, arg1, arg2, statement)
    LOOP
        -- The statement with the function's own parameters in place of $1 and $2.
        v_static := replace(replace(v_op.statement, '$1', v_op.arg1), '$2', coalesce(v_op.arg2, '$2'));
        v_exec := format('EXECUTE format(%L, %L || p_queue) USING %s', v_op.statement, 'q_',
                         concat_ws(', ', v_op.arg1, v_op.arg2));
        SELECT string_agg(format(E'    IF p_queue = %L THEN\n        %s;\n        %s\n    END IF;\n',
                                 n.queue_name,
                                 CASE v_op.kind
                                     WHEN 'query' THEN 'RETURN QUERY ' || format(v_static, 'q_' || n.queue_name)
                                     WHEN 'perform' THEN regexp_replace(format(v_static, 'q_' || n.queue_name), '^SELECT', 'PERFORM')
                                     ELSE format(v_static, 'q_' || n.queue_name) END,
                                 CASE v_op.kind
                                     WHEN 'count' THEN 'GET DIAGNOSTICS v_count = ROW_COUNT; RETURN v_count;'
                                     ELSE 'RETURN;' END),
                          '' ORDER BY n.queue_name)
          INTO v_branches
          FROM tasker.namespaces n;
        v_dynamic := CASE v_op.kind
                         WHEN 'query' THEN 'RETURN QUERY ' || v_exec || ';'
                         WHEN 'perform' THEN v_exec || ';'
                         ELSE v_exec || '; GET DIAGNOSTICS v_count = ROW_COUNT; RETURN v_count;' END;
        EXECUTE format(
            E'CREATE OR REPLACE FUNCTION tasker.%I(%s)\nRETURNS %s\nLANGUAGE plpgsql\nSET search_path = %L\nAS $body$\n'
            || E'#variable_conflict use_column\n'
            || CASE WHEN v_op.kind = 'count' THEN E'DECLARE\n    v_count integer;\n' ELSE '' END || E'BEGIN\n'
            || E'    -- Written by tasker._compile_queue_statements() (sql/0305_queue_messages.sql): one\n'
            || E'    -- branch per queue of tasker.namespaces, then the dynamic statement for any other queue.\n'
            || E'%s    %s\nEND;\n$body$',
            v_op.name, v_op.args, v_op.returns, '', coalesce(v_branches, ''), v_dynamic);
    END LOOP;
END;
$_$;

--
-- Name: _complete_tasks(uuid[], timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._complete_tasks(p_task_uuids uuid[], p_now timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_moved uuid[];
BEGIN
    WITH path AS (
        SELECT t.task_uuid, t.state, e.to_state AS via,
               -- The task's own steps, counted through workflow_steps_name_unique (task_uuid, name).
               (SELECT count(*) FROM tasker.workflow_steps s WHERE s.task_uuid = t.task_uuid) AS total
          FROM tasker.tasks t
          JOIN tasker.task_state_transitions e ON e.from_state = t.state AND e.event = 'evaluate'
          JOIN tasker.task_state_transitions c
            ON c.from_state = e.to_state AND c.event = 'complete' AND c.to_state = 'complete'
         WHERE t.task_uuid = ANY (p_task_uuids)
    ), moved AS (
        UPDATE tasker.tasks t
           SET state = 'complete',
               updated_at = p_now,
               completed_at = coalesce(t.completed_at, p_now),
               finalization_requested_at = NULL
          FROM path
         WHERE t.task_uuid = path.task_uuid
        RETURNING t.task_uuid, path.state AS from_state, path.via, path.total
    ), history AS (
        INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, metadata, created_at)
        SELECT m.task_uuid, x.from_state, x.to_state, x.event,
               tasker._evaluation_metadata(m.total, m.total, 0, 0, 0, 0),
               p_now
          FROM moved m
          CROSS JOIN LATERAL (VALUES (1, m.from_state, m.via, 'evaluate'),
                                     (2, m.via, 'complete', 'complete')) AS x (n, from_state, to_state, event)
         ORDER BY m.task_uuid, x.n
    )
    -- One notification per task moved, as tasker._move_task sends it.
    SELECT array_agg(m.task_uuid)
      INTO v_moved
      FROM moved m
     CROSS JOIN LATERAL (SELECT pg_notify('tasker_task_changed', m.task_uuid::text || ':complete')) n;

    -- The rare states outside that path take the general one.
    IF coalesce(cardinality(v_moved), 0) < cardinality(p_task_uuids) THEN
        PERFORM tasker._evaluate_task(d.task_uuid, p_now, true)
           FROM unnest(p_task_uuids) AS d (task_uuid)
          WHERE NOT d.task_uuid = ANY (coalesce(v_moved, '{}'))
          ORDER BY d.task_uuid;
    END IF;
END;
$$;

--
-- Name: _dispatch_steps(uuid[], timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._dispatch_steps(p_step_uuids uuid[], p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(step_uuid uuid, task_uuid uuid, queue_name text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
#variable_conflict use_column
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_tasks uuid[];
BEGIN
    IF coalesce(cardinality(p_step_uuids), 0) = 0 THEN
        RETURN;
    END IF;

    PERFORM tasker._move_steps(p_step_uuids, 'enqueue', NULL, NULL, v_now);
    PERFORM tasker._send_step_messages(p_step_uuids);

    -- Tasks that were not already running move to steps_in_process. (Each step's task state by
    -- key, as a subquery: a join planned while the tables were analyzed empty would read the
    -- whole tasks key.)
    SELECT array_agg(DISTINCT s.task_uuid) INTO v_tasks
      FROM tasker.workflow_steps s
     WHERE s.step_uuid = ANY (p_step_uuids)
       AND (SELECT t.state FROM tasker.tasks t WHERE t.task_uuid = s.task_uuid)
           IN ('initializing', 'enqueuing_steps', 'waiting_for_retry', 'waiting_for_dependencies');
    IF v_tasks IS NOT NULL THEN
        PERFORM tasker._advance_tasks_to_in_process(v_tasks, v_now);
    END IF;

    RETURN QUERY
    SELECT s.step_uuid, s.task_uuid, n.queue_name
      FROM tasker.workflow_steps s
      JOIN tasker.namespaces n ON n.name = s.namespace
     WHERE s.step_uuid = ANY (p_step_uuids);
END;
$$;

--
-- Name: _evaluate_task(uuid, timestamp with time zone, boolean); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._evaluate_task(p_task_uuid uuid, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone, p_finalized boolean DEFAULT false) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_now    timestamptz := coalesce(p_now, now());
    v_state  text;
    v_target text;
    v_event  text;
    c        record;
    v_reason text;
BEGIN
    SELECT t.state INTO v_state FROM tasker.tasks t WHERE t.task_uuid = p_task_uuid;
    IF v_state IS NULL OR v_state IN ('pending', 'initializing', 'complete', 'cancelled', 'resolved_manually') THEN
        IF p_finalized THEN
            UPDATE tasker.tasks t SET finalization_requested_at = NULL
             WHERE t.task_uuid = p_task_uuid AND t.finalization_requested_at IS NOT NULL;
        END IF;
        RETURN v_state;
    END IF;

    SELECT count(*) AS total,
           count(*) FILTER (WHERE s.state IN ('complete', 'resolved_manually')) AS done,
           count(*) FILTER (WHERE s.state IN ('enqueued', 'in_progress')) AS in_flight,
           count(*) FILTER (WHERE s.state = 'error') AS failed,
           count(*) FILTER (WHERE s.state = 'waiting_for_retry') AS retrying,
           count(*) FILTER (WHERE s.state = 'pending' AND s.ready_at IS NOT NULL) AS ready
      INTO c
      FROM tasker.workflow_steps s
     WHERE s.task_uuid = p_task_uuid;

    IF c.done = c.total THEN
        v_target := 'complete'; v_event := 'complete';
    ELSIF c.failed > 0 AND c.in_flight + c.ready + c.retrying > 0 THEN
        v_target := 'blocked_by_failures'; v_event := 'block';
    ELSIF c.failed > 0 THEN
        v_target := 'error'; v_event := 'fail';
    ELSIF c.in_flight > 0 THEN
        v_target := 'steps_in_process'; v_event := 'continue';
    ELSIF c.ready > 0 THEN
        v_target := 'enqueuing_steps'; v_event := 'enqueue';
    ELSIF c.retrying > 0 THEN
        v_target := 'waiting_for_retry'; v_event := 'wait_for_retry';
    ELSE
        v_target := 'waiting_for_dependencies'; v_event := 'wait_for_dependencies';
    END IF;

    IF v_target = v_state THEN
        IF p_finalized THEN
            UPDATE tasker.tasks t SET finalization_requested_at = NULL
             WHERE t.task_uuid = p_task_uuid AND t.finalization_requested_at IS NOT NULL;
        END IF;
        RETURN v_state;
    END IF;

    IF v_state = 'error' THEN
        UPDATE tasker.dlq_entries d
           SET resolution_status = 'retried', updated_at = v_now, resolved_at = v_now
         WHERE d.task_uuid = p_task_uuid AND d.resolution_status IN ('pending', 'investigating');
    END IF;
    PERFORM tasker._move_task(p_task_uuid,
        CASE WHEN v_state = 'error' THEN ARRAY['retry', v_event]
             WHEN v_state = 'evaluating_results' THEN ARRAY[v_event]
             ELSE ARRAY['evaluate', v_event] END,
        tasker._evaluation_metadata(c.total, c.done, c.in_flight, c.failed, c.retrying, c.ready),
        v_now, p_finalized);

    IF v_target = 'error' THEN
        SELECT string_agg(format('step %s failed after %s attempt(s): %s', s.name, s.attempts,
                                 coalesce(s.last_error ->> 'message', 'no message')), '; ' ORDER BY s.position)
          INTO v_reason
          FROM tasker.workflow_steps s
         WHERE s.task_uuid = p_task_uuid AND s.state = 'error';
        INSERT INTO tasker.dlq_entries (task_uuid, reason, task_state, snapshot, created_at, updated_at)
        SELECT t.task_uuid, v_reason, t.state,
               jsonb_build_object(
                   'task', to_jsonb(t),
                   'steps', (SELECT jsonb_agg(jsonb_build_object(
                                 'step_uuid', s.step_uuid, 'name', s.name, 'handler', s.handler, 'state', s.state,
                                 'attempts', s.attempts, 'max_attempts', s.max_attempts, 'results', s.results,
                                 'last_error', s.last_error) ORDER BY s.position)
                               FROM tasker.workflow_steps s WHERE s.task_uuid = t.task_uuid)),
               v_now, v_now
          FROM tasker.tasks t WHERE t.task_uuid = p_task_uuid;
        PERFORM pg_notify('tasker_dlq', p_task_uuid::text);
    ELSIF v_target = 'enqueuing_steps' THEN
        PERFORM pg_notify('tasker_steps_ready', '');
    END IF;
    RETURN v_target;
END;
$$;

--
-- Name: _evaluation_metadata(bigint, bigint, bigint, bigint, bigint, bigint); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._evaluation_metadata(p_total bigint, p_done bigint, p_in_flight bigint, p_failed bigint, p_retrying bigint, p_ready bigint) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT pg_catalog.jsonb_build_object('steps_total', p_total, 'steps_done', p_done, 'steps_in_flight', p_in_flight,
                                         'steps_failed', p_failed, 'steps_retrying', p_retrying, 'steps_ready', p_ready)
$$;

--
-- Name: _input_schema_problem(jsonb, text, integer); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._input_schema_problem(p_schema jsonb, p_path text, p_depth integer DEFAULT 0) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $$
DECLARE
    c_types   CONSTANT text[] := ARRAY['string', 'number', 'integer', 'object', 'array', 'boolean', 'null'];
    c_max_depth CONSTANT integer := 32;
    v_kw      text;
    v_val     jsonb;
    v_key     text;
    v_sub     jsonb;
    v_problem text;
BEGIN
    IF jsonb_typeof(p_schema) = 'boolean' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_schema) IS DISTINCT FROM 'object' THEN
        RETURN format('%s: a schema must be an object, got %s', p_path, coalesce(jsonb_typeof(p_schema), 'nothing'));
    END IF;
    IF p_depth > c_max_depth THEN
        RETURN format('%s: schemas nest deeper than %s levels', p_path, c_max_depth);
    END IF;

    IF p_schema ? 'type' THEN
        v_val := p_schema -> 'type';
        IF NOT (
            (jsonb_typeof(v_val) = 'string' AND (v_val #>> '{}') = ANY (c_types))
            OR (jsonb_typeof(v_val) = 'array' AND jsonb_array_length(v_val) > 0
                AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v_val) t
                                 WHERE jsonb_typeof(t) <> 'string' OR NOT (t #>> '{}') = ANY (c_types)))
        ) THEN
            RETURN format('%s.type: must be one of %s, or a list of them; got %s',
                          p_path, array_to_string(c_types, ', '), v_val);
        END IF;
    END IF;
    IF p_schema ? 'enum' AND jsonb_typeof(p_schema -> 'enum') <> 'array' THEN
        RETURN format('%s.enum: must be a list of values, got %s', p_path, jsonb_typeof(p_schema -> 'enum'));
    END IF;
    IF p_schema ? 'required' AND (jsonb_typeof(p_schema -> 'required') <> 'array'
        OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_schema -> 'required') r WHERE jsonb_typeof(r) <> 'string')) THEN
        RETURN format('%s.required: must be a list of property names', p_path);
    END IF;
    FOREACH v_kw IN ARRAY ARRAY['minItems', 'maxItems', 'minLength', 'maxLength'] LOOP
        v_val := p_schema -> v_kw;
        IF v_val IS NOT NULL AND NOT (jsonb_typeof(v_val) = 'number'
            AND (v_val #>> '{}')::numeric % 1 = 0
            AND (v_val #>> '{}')::numeric BETWEEN 0 AND 2147483647) THEN
            RETURN format('%s.%s: must be an integer from 0 to 2147483647, got %s', p_path, v_kw, v_val);
        END IF;
    END LOOP;
    FOREACH v_kw IN ARRAY ARRAY['minimum', 'maximum'] LOOP
        v_val := p_schema -> v_kw;
        IF v_val IS NOT NULL AND jsonb_typeof(v_val) <> 'number' THEN
            RETURN format('%s.%s: must be a number, got %s', p_path, v_kw, v_val);
        END IF;
    END LOOP;
    IF p_schema ? 'pattern' THEN
        IF jsonb_typeof(p_schema -> 'pattern') <> 'string' THEN
            RETURN format('%s.pattern: must be a string, got %s', p_path, p_schema -> 'pattern');
        END IF;
        BEGIN
            PERFORM '' ~ (p_schema ->> 'pattern');
        EXCEPTION WHEN invalid_regular_expression THEN
            RETURN format('%s.pattern: not a valid regular expression: %s', p_path, SQLERRM);
        END;
    END IF;

    IF p_schema ? 'properties' THEN
        IF jsonb_typeof(p_schema -> 'properties') <> 'object' THEN
            RETURN format('%s.properties: must be an object of schemas, got %s', p_path, jsonb_typeof(p_schema -> 'properties'));
        END IF;
        FOR v_key, v_sub IN SELECT e.key, e.value FROM jsonb_each(p_schema -> 'properties') e LOOP
            v_problem := tasker._input_schema_problem(v_sub, p_path || '.properties.' || v_key, p_depth + 1);
            IF v_problem IS NOT NULL THEN
                RETURN v_problem;
            END IF;
        END LOOP;
    END IF;
    FOREACH v_kw IN ARRAY ARRAY['additionalProperties', 'items'] LOOP
        IF p_schema ? v_kw THEN
            v_problem := tasker._input_schema_problem(p_schema -> v_kw, p_path || '.' || v_kw, p_depth + 1);
            IF v_problem IS NOT NULL THEN
                RETURN v_problem;
            END IF;
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

--
-- Name: FUNCTION _input_schema_problem(p_schema jsonb, p_path text, p_depth integer); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker._input_schema_problem(p_schema jsonb, p_path text, p_depth integer) IS 'Checks a template input_schema against the JSON Schema subset json_schema_errors applies (keyword types, valid regex, 32 levels at most). Pure. Returns NULL when usable, else a message naming the keyword path.';

--
-- Name: _insert_tasks(tasker.task_request[]); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._insert_tasks(p_requests tasker.task_request[]) RETURNS TABLE(ordinality integer, task_uuid uuid, created boolean, error_code text, error_message text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
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

--
-- Name: _move_steps(uuid[], text, jsonb[], jsonb, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._move_steps(p_step_uuids uuid[], p_event text, p_payloads jsonb[] DEFAULT NULL::jsonb[], p_metadata jsonb DEFAULT NULL::jsonb, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
#variable_conflict use_column
DECLARE
    v_now     timestamptz := coalesce(p_now, now());
    v_moved   uuid[];
    v_tasks   uuid[];
    v_unmoved uuid[];
BEGIN
    IF p_payloads IS NOT NULL AND cardinality(p_payloads) <> cardinality(p_step_uuids) THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('transition_steps: %s payloads for %s steps', cardinality(p_payloads), cardinality(p_step_uuids));
    END IF;

    WITH input AS (
        SELECT DISTINCT ON (i.step_uuid) i.step_uuid, coalesce(i.payload, '{}'::jsonb) AS payload
          FROM unnest(p_step_uuids, p_payloads) AS i (step_uuid, payload)
         ORDER BY i.step_uuid
    ), moved AS (
        UPDATE tasker.workflow_steps s
           SET state = m.to_state,
               updated_at = v_now,
               attempts = CASE
                   WHEN p_event IN ('claim', 'reclaim') THEN s.attempts + 1
                   WHEN p_event = 'reset' THEN 0
                   ELSE s.attempts END,
               claimed_at = CASE WHEN p_event IN ('claim', 'reclaim') THEN v_now ELSE s.claimed_at END,
               enqueued_at = CASE WHEN m.to_state = 'enqueued' THEN v_now ELSE s.enqueued_at END,
               parents_pending = CASE WHEN m.to_state = 'enqueued' THEN 0 ELSE s.parents_pending END,
               completed_at = CASE WHEN m.to_state IN ('complete', 'resolved_manually') THEN v_now END,
               next_retry_at = CASE WHEN m.to_state = 'waiting_for_retry'
                   THEN coalesce((input.payload ->> 'next_retry_at')::timestamptz, v_now) END,
               ready_at = CASE
                   WHEN m.to_state = 'waiting_for_retry'
                       THEN coalesce((input.payload ->> 'next_retry_at')::timestamptz, v_now)
                   WHEN m.to_state = 'pending' AND s.parents_pending = 0 THEN v_now
                   END,
               results = CASE
                   WHEN input.payload ? 'results' THEN input.payload -> 'results'
                   WHEN p_event = 'reset' THEN NULL
                   ELSE s.results END,
               last_error = CASE
                   WHEN input.payload ? 'error' THEN input.payload -> 'error'
                   ELSE s.last_error END,
               dispatch_msg_id = CASE
                   WHEN input.payload ? 'dispatch_msg_id' THEN (input.payload ->> 'dispatch_msg_id')::bigint
                   WHEN m.to_state = 'enqueued' THEN NULL
                   ELSE s.dispatch_msg_id END
          FROM input
          JOIN tasker.step_state_transitions m ON m.event = p_event
         WHERE s.step_uuid = input.step_uuid
           -- The steps' own keys as well: a plan prepared while the table was analyzed (nearly)
           -- empty would otherwise read its whole primary key to find them.
           AND s.step_uuid = ANY (p_step_uuids)
           AND m.from_state = s.state
        -- The old state is the matched move's from_state: no second read of the rows.
        RETURNING s.step_uuid, s.task_uuid, m.from_state, s.state AS to_state, s.attempts, input.payload
    ), history AS (
        INSERT INTO tasker.workflow_step_transitions
               (step_uuid, task_uuid, from_state, to_state, event, attempt, metadata, created_at)
        SELECT moved.step_uuid, moved.task_uuid, moved.from_state, moved.to_state, p_event, moved.attempts,
               CASE WHEN p_metadata IS NULL AND NOT (moved.payload ? 'metadata' OR moved.payload ? 'error')
                    THEN NULL
                    ELSE coalesce(p_metadata, '{}'::jsonb)
                         || coalesce(moved.payload -> 'metadata', '{}'::jsonb)
                         || CASE WHEN moved.payload ? 'error'
                                 THEN jsonb_build_object('error', moved.payload -> 'error')
                                 ELSE '{}'::jsonb END
               END,
               v_now
          FROM moved
    )
    SELECT array_agg(moved.step_uuid), array_agg(DISTINCT moved.task_uuid)
      INTO v_moved, v_tasks
      FROM moved;

    -- Every listed step moved, or the call fails: the error names a step that did not move (it
    -- is still in the state that refused the event) and undoes the moves above.
    -- (Fewer moves than listed uuids is either that or a step listed twice.)
    IF coalesce(cardinality(v_moved), 0) < coalesce(cardinality(p_step_uuids), 0) THEN
        v_unmoved := ARRAY(SELECT u FROM unnest(p_step_uuids) AS u WHERE u <> ALL (coalesce(v_moved, '{}')));
        IF cardinality(v_unmoved) > 0 THEN
            PERFORM tasker._raise_unmovable_step(v_unmoved, p_event);
        END IF;
    END IF;

    -- One notification per 200 tasks, each a plain expression rather than a query.
    FOR i IN 1 .. coalesce(cardinality(v_tasks), 0) BY 200 LOOP
        PERFORM pg_notify('tasker_steps_changed', array_to_string(v_tasks[i : i + 199], ','));
    END LOOP;
    RETURN coalesce(cardinality(v_moved), 0);
END;
$$;

--
-- Name: _move_task(uuid, text[], jsonb, timestamp with time zone, boolean); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._move_task(p_task_uuid uuid, p_events text[], p_metadata jsonb DEFAULT NULL::jsonb, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone, p_finalized boolean DEFAULT false) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_state text;
    v_to    text;
    v_event text;
    v_froms text[] := '{}'::text[];
    v_tos   text[] := '{}'::text[];
BEGIN
    SELECT t.state INTO v_state FROM tasker.tasks t WHERE t.task_uuid = p_task_uuid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('task %s not found', p_task_uuid);
    END IF;

    FOREACH v_event IN ARRAY p_events LOOP
        SELECT m.to_state INTO v_to FROM tasker.task_state_transitions m
         WHERE m.from_state = v_state AND m.event = v_event;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING
                ERRCODE = 'TK001',
                MESSAGE = format('task %s cannot take event ''%s'' in state ''%s''', p_task_uuid, v_event, v_state),
                HINT = coalesce('events allowed in state ''' || v_state || ''': ' ||
                         (SELECT string_agg(m.event, ', ' ORDER BY m.event)
                            FROM tasker.task_state_transitions m WHERE m.from_state = v_state),
                         'state ''' || v_state || ''' is final');
        END IF;
        v_froms := v_froms || v_state;
        v_tos := v_tos || v_to;
        v_state := v_to;
    END LOOP;
    IF cardinality(v_tos) = 0 THEN
        RETURN v_state;
    END IF;

    UPDATE tasker.tasks t
       SET state = v_state,
           updated_at = v_now,
           completed_at = CASE WHEN v_state IN ('complete', 'error', 'cancelled', 'resolved_manually')
                               THEN coalesce(t.completed_at, v_now) END,
           finalization_requested_at = CASE WHEN p_finalized THEN NULL ELSE t.finalization_requested_at END
     WHERE t.task_uuid = p_task_uuid;
    INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, metadata, created_at)
    SELECT p_task_uuid, x.f, x.t, x.e, p_metadata, v_now
      FROM unnest(v_froms, v_tos, p_events) AS x (f, t, e);
    PERFORM pg_notify('tasker_task_changed', p_task_uuid::text || ':' || v_state);
    RETURN v_state;
END;
$$;

--
-- Name: _notify_step_dispatched(); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._notify_step_dispatched() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
BEGIN
    PERFORM pg_notify('tasker_step_dispatched', n.queue_name)
       FROM tasker.workflow_steps s
       JOIN tasker.namespaces n ON n.name = s.namespace
      WHERE s.step_uuid = NEW.step_uuid AND s.state = 'enqueued';
    RETURN NULL;
END;
$$;

--
-- Name: _notify_step_results(); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._notify_step_results() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
BEGIN
    PERFORM pg_notify('tasker_step_results', '');
    RETURN NULL;
END;
$$;

--
-- Name: _operate_step(uuid, text, jsonb, text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._operate_step(p_step_uuid uuid, p_event text, p_payload jsonb, p_reason text) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
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

--
-- Name: _queue_delete(text, bigint[]); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._queue_delete(p_queue text, p_msg_ids bigint[]) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
#variable_conflict use_column
DECLARE
    v_count integer;
BEGIN
    -- Written by tasker._compile_queue_statements() (sql/0305_queue_messages.sql): one
    -- branch per queue of tasker.namespaces, then the dynamic statement for any other queue.
    EXECUTE format('DELETE FROM pgmq.%1$I q WHERE q.msg_id = ANY ($1)', 'q_' || p_queue) USING p_msg_ids; GET DIAGNOSTICS v_count = ROW_COUNT; RETURN v_count;
END;
$_$;

--
-- Name: _queue_lock(text, bigint[]); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._queue_lock(p_queue text, p_msg_ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
#variable_conflict use_column
BEGIN
    -- Written by tasker._compile_queue_statements() (sql/0305_queue_messages.sql): one
    -- branch per queue of tasker.namespaces, then the dynamic statement for any other queue.
    EXECUTE format('SELECT 1 FROM pgmq.%1$I q WHERE q.msg_id = ANY ($1) ORDER BY q.msg_id FOR UPDATE', 'q_' || p_queue) USING p_msg_ids;
END;
$_$;

--
-- Name: _queue_read(text, integer, integer); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._queue_read(p_queue text, p_vt_seconds integer, p_limit integer) RETURNS TABLE(msg_id bigint, message jsonb)
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
#variable_conflict use_column
BEGIN
    -- Written by tasker._compile_queue_statements() (sql/0305_queue_messages.sql): one
    -- branch per queue of tasker.namespaces, then the dynamic statement for any other queue.
    RETURN QUERY EXECUTE format('WITH cte AS (
             SELECT q.msg_id FROM pgmq.%1$I q
              WHERE q.vt <= pg_catalog.clock_timestamp()
              ORDER BY q.msg_id
              LIMIT $1
                FOR UPDATE SKIP LOCKED)
         UPDATE pgmq.%1$I m
            SET last_read_at = pg_catalog.clock_timestamp(),
                vt = pg_catalog.clock_timestamp() + $2,
                read_ct = m.read_ct + 1
           FROM cte
          WHERE m.msg_id = cte.msg_id
         RETURNING m.msg_id, m.message', 'q_' || p_queue) USING p_limit, pg_catalog.make_interval(secs => p_vt_seconds);
END;
$_$;

--
-- Name: _queue_send(text, jsonb[]); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._queue_send(p_queue text, p_messages jsonb[]) RETURNS SETOF bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
#variable_conflict use_column
BEGIN
    -- Written by tasker._compile_queue_statements() (sql/0305_queue_messages.sql): one
    -- branch per queue of tasker.namespaces, then the dynamic statement for any other queue.
    RETURN QUERY EXECUTE format('INSERT INTO pgmq.%1$I (vt, message) SELECT pg_catalog.clock_timestamp(), m FROM unnest($1) AS m RETURNING msg_id', 'q_' || p_queue) USING p_messages;
END;
$_$;

--
-- Name: _queue_send_read(text, jsonb[], integer); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._queue_send_read(p_queue text, p_messages jsonb[], p_vt_seconds integer) RETURNS TABLE(msg_id bigint, message jsonb)
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
#variable_conflict use_column
BEGIN
    -- Written by tasker._compile_queue_statements() (sql/0305_queue_messages.sql): one
    -- branch per queue of tasker.namespaces, then the dynamic statement for any other queue.
    RETURN QUERY EXECUTE format('INSERT INTO pgmq.%1$I (vt, read_ct, last_read_at, message)
         SELECT pg_catalog.clock_timestamp() + $2, 1, pg_catalog.clock_timestamp(), m FROM unnest($1) AS m
         RETURNING msg_id, message', 'q_' || p_queue) USING p_messages, pg_catalog.make_interval(secs => p_vt_seconds);
END;
$_$;

--
-- Name: _raise_unmovable_step(uuid[], text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._raise_unmovable_step(p_step_uuids uuid[], p_event text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
DECLARE
    v_missing uuid;
    v_bad     record;
BEGIN
    SELECT u INTO v_missing
      FROM unnest(p_step_uuids) AS u
     WHERE NOT EXISTS (SELECT 1 FROM tasker.workflow_steps s WHERE s.step_uuid = u)
     LIMIT 1;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('workflow step %s not found', v_missing);
    END IF;

    SELECT s.step_uuid, s.name, s.state INTO v_bad
      FROM tasker.workflow_steps s
     WHERE s.step_uuid = ANY (p_step_uuids)
       AND NOT EXISTS (SELECT 1 FROM tasker.step_state_transitions m
                        WHERE m.from_state = s.state AND m.event = p_event)
     ORDER BY s.step_uuid
     LIMIT 1;
    RAISE EXCEPTION USING
        ERRCODE = 'TK001',
        MESSAGE = format('step %s (%s) cannot take event ''%s'' in state ''%s''',
                         v_bad.step_uuid, v_bad.name, p_event, v_bad.state),
        HINT = coalesce('events allowed in state ''' || v_bad.state || ''': ' ||
                 (SELECT string_agg(m.event, ', ' ORDER BY m.event)
                    FROM tasker.step_state_transitions m WHERE m.from_state = v_bad.state),
                 'state ''' || v_bad.state || ''' is final');
END;
$$;

--
-- Name: _require_worker_namespaces(text[]); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._require_worker_namespaces(p_namespaces text[]) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
DECLARE
    v_denied text;
BEGIN
    SELECT n INTO v_denied FROM unnest(p_namespaces) AS n
     WHERE n IS NOT NULL AND NOT tasker._worker_may_serve(n)
     ORDER BY n LIMIT 1;
    IF v_denied IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('role %s may not serve namespace %s', session_user, v_denied),
            HINT = 'an operator allows it with tasker.set_worker_namespaces(role, namespaces)';
    END IF;
END;
$$;

--
-- Name: FUNCTION _require_worker_namespaces(p_namespaces text[]); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker._require_worker_namespaces(p_namespaces text[]) IS 'Raises 42501 naming the first of p_namespaces the session user may not serve (tasker._worker_may_serve).';

--
-- Name: _send_step_messages(uuid[]); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._send_step_messages(p_step_uuids uuid[]) RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_queue record;
BEGIN
    FOR v_queue IN
        SELECT n.queue_name,
               array_agg(jsonb_build_object(
                   'step_uuid', s.step_uuid,
                   'task_uuid', s.task_uuid,
                   'namespace', s.namespace,
                   'step_name', s.name,
                   'handler', s.handler,
                   'attempt', s.attempts + 1) ORDER BY s.step_uuid) AS messages
          FROM tasker.workflow_steps s
          JOIN tasker.namespaces n ON n.name = s.namespace
         WHERE s.step_uuid = ANY (p_step_uuids)
         GROUP BY n.queue_name
    LOOP
        PERFORM tasker._queue_send(v_queue.queue_name, v_queue.messages);
        RETURN NEXT v_queue.queue_name;
    END LOOP;
END;
$$;

--
-- Name: _start_tasks(uuid[]); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._start_tasks(p_task_uuids uuid[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
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

--
-- Name: _submit_step_results(jsonb, timestamp with time zone, text, integer, integer, text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._submit_step_results(p_results jsonb, p_now timestamp with time zone, p_claim_namespace text, p_claim_limit integer, p_vt_seconds integer, p_worker text) RETURNS TABLE(step_uuid uuid, accepted boolean)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $_$
#variable_conflict use_column
DECLARE
    v_fixed    boolean := p_now IS NOT NULL AND pg_catalog.pg_has_role(session_user, current_user, 'MEMBER');
    v_now      timestamptz;
    v_bad      jsonb;
    v_ids      uuid[];
    v_named    uuid[];
    v_accepted boolean[];
    v_steps    uuid[];
    v_statuses text[];
    v_results  jsonb[];
    v_errors   jsonb[];
    v_retry_after bigint[];
    v_queues   text[];
    v_msg_ids  bigint[];
    v_queue    record;
    v_claimed  uuid[];
BEGIN
    IF jsonb_typeof(p_results) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'submit_step_results expects a JSON array of results';
    END IF;
    SELECT e INTO v_bad FROM jsonb_array_elements(p_results) e
     WHERE jsonb_typeof(e) <> 'object'
        OR coalesce(e ->> 'step_uuid', '') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        OR coalesce(e ->> 'attempt', '') !~ '^[0-9]{1,9}$'
        OR coalesce(e ->> 'msg_id', '') !~ '^[0-9]{1,18}$'
        OR coalesce(e ->> 'status', '') NOT IN ('success', 'retryable_error', 'permanent_error')
        OR (e ? 'retry_after_ms' AND jsonb_typeof(e -> 'retry_after_ms') <> 'null'
            AND coalesce(e ->> 'retry_after_ms', '') !~ '^[0-9]{1,12}$')
        OR (e ->> 'status' <> 'success' AND jsonb_typeof(e -> 'error') IS DISTINCT FROM 'object')
     LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('invalid step result %s', left(v_bad::text, 500)),
            HINT = 'each result needs step_uuid, attempt, msg_id, status (success, retryable_error, permanent_error) and, for failures, an error object';
    END IF;

    v_ids := ARRAY(SELECT (e ->> 'step_uuid')::uuid FROM jsonb_array_elements(p_results) e);

    -- Only steps of the caller's namespaces (a worker role's, see tasker.worker_namespaces).
    PERFORM tasker._require_worker_namespaces(ARRAY(
        SELECT DISTINCT w.namespace FROM tasker.workflow_steps w WHERE w.step_uuid = ANY (v_ids)));

    -- Locks before the decision: messages (a concurrent claim holds the ones it re-read), then
    -- steps. Namespace and queue of a step never change, so they are read without a lock.
    FOR v_queue IN
        SELECT n.queue_name, array_agg(DISTINCT (e.value ->> 'msg_id')::bigint) AS msg_ids
          FROM jsonb_array_elements(p_results) e
          JOIN (SELECT w.step_uuid, w.namespace FROM tasker.workflow_steps w WHERE w.step_uuid = ANY (v_ids)) s
            ON s.step_uuid = (e.value ->> 'step_uuid')::uuid
          JOIN tasker.namespaces n ON n.name = s.namespace
         GROUP BY n.queue_name
         ORDER BY n.queue_name
    LOOP
        PERFORM tasker._queue_lock(v_queue.queue_name, v_queue.msg_ids);
    END LOOP;
    -- The steps and their children (edges never change) in one step_uuid-ordered pass: applying
    -- a success below locks the children too, and taking them out of order could deadlock.
    PERFORM 1 FROM tasker.workflow_steps s
     WHERE s.step_uuid = ANY (v_ids || ARRAY(
               SELECT e.to_step_uuid FROM tasker.workflow_step_edges e WHERE e.from_step_uuid = ANY (v_ids)))
     ORDER BY s.step_uuid FOR UPDATE;
    v_now := CASE WHEN v_fixed THEN p_now ELSE pg_catalog.clock_timestamp() END;

    -- Decided on the locked rows (a new statement sees what the waited-for claim committed). Only
    -- the first element naming a step can be accepted: a repeat in the same call is refused. The
    -- accepted results go to tasker._apply_results as they are, in step_uuid order: the locks
    -- are held and the decision made, so nothing is parsed, locked or decided again.
    WITH d AS (
        SELECT e.ordinality AS ord,
               (e.value ->> 'step_uuid')::uuid AS step_uuid,
               coalesce(e.first
                        AND s.state = 'in_progress'
                        AND s.attempts = (e.value ->> 'attempt')::integer
                        AND s.dispatch_msg_id = (e.value ->> 'msg_id')::bigint, false) AS accepted,
               s.queue_name,
               (e.value ->> 'msg_id')::bigint AS msg_id,
               e.value ->> 'status' AS status,
               e.value -> 'result' AS result,
               CASE WHEN jsonb_typeof(e.value -> 'error') = 'object' THEN e.value -> 'error' END AS error,
               (e.value ->> 'retry_after_ms')::bigint AS retry_after_ms
          FROM (SELECT x.value, x.ordinality,
                       row_number() OVER (PARTITION BY x.value ->> 'step_uuid' ORDER BY x.ordinality) = 1 AS first
                  FROM jsonb_array_elements(p_results) WITH ORDINALITY x) e
          LEFT JOIN (SELECT w.step_uuid, w.state, w.attempts, w.dispatch_msg_id, n.queue_name
                       FROM tasker.workflow_steps w
                       JOIN tasker.namespaces n ON n.name = w.namespace
                      WHERE w.step_uuid = ANY (v_ids)) s ON s.step_uuid = (e.value ->> 'step_uuid')::uuid
    )
    SELECT array_agg(d.step_uuid ORDER BY d.ord), array_agg(d.accepted ORDER BY d.ord),
           array_agg(d.step_uuid ORDER BY d.step_uuid) FILTER (WHERE d.accepted),
           array_agg(d.status ORDER BY d.step_uuid) FILTER (WHERE d.accepted),
           array_agg(d.result ORDER BY d.step_uuid) FILTER (WHERE d.accepted),
           array_agg(d.error ORDER BY d.step_uuid) FILTER (WHERE d.accepted),
           array_agg(d.retry_after_ms ORDER BY d.step_uuid) FILTER (WHERE d.accepted),
           array_agg(d.queue_name ORDER BY d.step_uuid) FILTER (WHERE d.accepted),
           array_agg(d.msg_id ORDER BY d.step_uuid) FILTER (WHERE d.accepted)
      INTO v_named, v_accepted, v_steps, v_statuses, v_results, v_errors, v_retry_after, v_queues, v_msg_ids
      FROM d;

    -- Apply every accepted result, then one delete per queue: all in this transaction.
    IF v_steps IS NOT NULL THEN
        SELECT a.claimed INTO v_claimed
          FROM tasker._apply_results(v_steps, v_statuses, v_results, v_errors, v_retry_after, v_now,
                                     p_claim_namespace, p_claim_limit, p_vt_seconds, p_worker) a;
        FOR v_queue IN
            SELECT q.queue_name, array_agg(q.msg_id) AS msg_ids
              FROM unnest(v_queues, v_msg_ids) AS q (queue_name, msg_id)
             GROUP BY q.queue_name
        LOOP
            PERFORM tasker._queue_delete(v_queue.queue_name, v_queue.msg_ids);
        END LOOP;
    END IF;

    RETURN QUERY
    SELECT r.step_uuid, r.accepted
      FROM unnest(v_named, v_accepted) WITH ORDINALITY AS r (step_uuid, accepted, ord)
     ORDER BY r.ord;
    IF v_claimed IS NOT NULL THEN
        RETURN QUERY SELECT c.step_uuid, NULL::boolean FROM unnest(v_claimed) AS c (step_uuid);
    END IF;
END;
$_$;

--
-- Name: _tune_queue_table(text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._tune_queue_table(p_queue text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
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

--
-- Name: _worker_may_serve(text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker._worker_may_serve(p_namespace text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
BEGIN
    IF pg_catalog.pg_has_role(session_user, current_user, 'MEMBER') THEN
        RETURN true;
    END IF;
    RETURN EXISTS (SELECT 1
                     FROM tasker.worker_namespaces w
                     JOIN pg_catalog.pg_roles r ON r.rolname = w.role_name
                    WHERE w.namespace IN (p_namespace, '*')
                      AND pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER'));
END;
$$;

--
-- Name: FUNCTION _worker_may_serve(p_namespace text); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker._worker_may_serve(p_namespace text) IS 'Whether the session user may serve p_namespace: the owning role, its members and superusers always; a worker role when tasker.worker_namespaces allows it (or a role it belongs to) that namespace or ''*''.';

--
-- Name: apply_step_results(jsonb, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.apply_step_results(p_results jsonb, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(results integer, completed integer, retried integer, failed integer, ignored integer, dispatched integer, tasks_flagged integer)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $_$
#variable_conflict use_column
DECLARE
    v_now       timestamptz := coalesce(p_now, now());
    v_parsed    jsonb;
    v_ids       uuid[];
    v_lock      uuid[];
    v_steps     uuid[];
    v_statuses  text[];
    v_results   jsonb[];
    v_errors    jsonb[];
    v_retry_after bigint[];
    v_counts    record;
BEGIN
    IF jsonb_typeof(p_results) IS DISTINCT FROM 'array' OR jsonb_array_length(p_results) = 0 THEN
        RETURN QUERY SELECT coalesce(jsonb_array_length(CASE WHEN jsonb_typeof(p_results) = 'array' THEN p_results END), 0),
                            0, 0, 0, 0, 0, 0;
        RETURN;
    END IF;

    -- Parse defensively: a malformed message must not poison the batch.
    SELECT jsonb_agg(jsonb_build_object(
               'ord', e.ordinality,
               'step_uuid', CASE WHEN e.value ->> 'step_uuid' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                 THEN e.value ->> 'step_uuid' END,
               'attempt', CASE WHEN e.value ->> 'attempt' ~ '^[0-9]{1,9}$' THEN (e.value ->> 'attempt')::integer END,
               'msg_id', CASE WHEN e.value ->> 'msg_id' ~ '^[0-9]{1,18}$' THEN (e.value ->> 'msg_id')::bigint END,
               'status', e.value ->> 'status',
               'result', e.value -> 'result',
               'error', CASE WHEN jsonb_typeof(e.value -> 'error') = 'object' THEN e.value -> 'error'
                             WHEN e.value ? 'error' THEN jsonb_build_object('message', e.value -> 'error') END,
               'retry_after_ms', CASE WHEN e.value ->> 'retry_after_ms' ~ '^[0-9]{1,12}$'
                                      THEN (e.value ->> 'retry_after_ms')::bigint END))
      INTO v_parsed
      FROM jsonb_array_elements(p_results) WITH ORDINALITY e
     WHERE jsonb_typeof(e.value) = 'object';

    -- Lock the result steps and their children in one ordered pass, as every other function
    -- that locks several steps of a task does, so concurrent callers cannot deadlock.
    -- (Ids as arrays, so the planner reads steps and edges through their indexes.)
    v_ids := ARRAY(SELECT r.step_uuid FROM jsonb_to_recordset(coalesce(v_parsed, '[]')) AS r (step_uuid uuid)
                    WHERE r.step_uuid IS NOT NULL);
    v_lock := v_ids || ARRAY(
        SELECT e.to_step_uuid FROM tasker.workflow_step_edges e
         WHERE e.from_step_uuid = ANY (ARRAY(
               SELECT r.step_uuid FROM jsonb_to_recordset(coalesce(v_parsed, '[]')) AS r (step_uuid uuid, status text)
                WHERE r.status = 'success' AND r.step_uuid IS NOT NULL)));
    PERFORM 1 FROM tasker.workflow_steps s
     WHERE s.step_uuid = ANY (v_lock)
     ORDER BY s.step_uuid FOR UPDATE;

    -- The decision: per step, the first valid result for its current attempt and dispatch message.
    SELECT array_agg(r.step_uuid ORDER BY r.step_uuid), array_agg(r.status ORDER BY r.step_uuid),
           array_agg(r.result ORDER BY r.step_uuid), array_agg(r.error ORDER BY r.step_uuid),
           array_agg(r.retry_after_ms ORDER BY r.step_uuid)
      INTO v_steps, v_statuses, v_results, v_errors, v_retry_after
      FROM (SELECT DISTINCT ON (x.step_uuid) x.step_uuid, x.status, x.result, x.error, x.retry_after_ms
              FROM jsonb_to_recordset(coalesce(v_parsed, '[]')) AS x (
                       ord bigint, step_uuid uuid, attempt integer, msg_id bigint, status text, result jsonb, error jsonb,
                       retry_after_ms bigint)
              -- OFFSET 0 keeps the state test out of this read by primary key.
              JOIN (SELECT * FROM tasker.workflow_steps w WHERE w.step_uuid = ANY (v_ids) OFFSET 0) s
                ON s.step_uuid = x.step_uuid
             WHERE s.state = 'in_progress'
               AND s.attempts = x.attempt
               AND s.dispatch_msg_id = x.msg_id
               AND x.status IN ('success', 'retryable_error', 'permanent_error')
             ORDER BY x.step_uuid, x.ord) r;

    SELECT * INTO v_counts FROM tasker._apply_results(v_steps, v_statuses, v_results, v_errors, v_retry_after, v_now);
    RETURN QUERY SELECT jsonb_array_length(p_results), v_counts.completed, v_counts.retried, v_counts.failed,
                        jsonb_array_length(p_results) - coalesce(cardinality(v_steps), 0),
                        v_counts.dispatched, v_counts.tasks_flagged;
END;
$_$;

--
-- Name: FUNCTION apply_step_results(p_results jsonb, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.apply_step_results(p_results jsonb, p_now timestamp with time zone) IS 'Applies a batch of result messages: a result counts only for a step in_progress on that attempt and dispatch message (msg_id), so applying a batch twice changes nothing; completes, schedules a retry or fails each step, releases and dispatches children, completes a task whose steps are all done and flags other tasks that need finalizing. Returns one row of counts (tasks_flagged: tasks left flagged for the finalizer).';

--
-- Name: cancel_task(uuid, text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.cancel_task(p_task_uuid uuid, p_reason text DEFAULT NULL::text) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_state text;
    v_steps uuid[];
    v_meta  jsonb := jsonb_build_object('reason', coalesce(p_reason, 'cancelled'));
BEGIN
    PERFORM 1 FROM tasker.workflow_steps s WHERE s.task_uuid = p_task_uuid ORDER BY s.step_uuid FOR UPDATE;
    SELECT t.state INTO v_state FROM tasker.tasks t WHERE t.task_uuid = p_task_uuid FOR UPDATE;
    IF v_state IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('task %s not found', p_task_uuid);
    ELSIF v_state = 'cancelled' THEN
        RETURN v_state;
    ELSIF v_state IN ('complete', 'resolved_manually') THEN
        RAISE EXCEPTION USING ERRCODE = 'TK006',
            MESSAGE = format('task %s is %s and cannot be cancelled', p_task_uuid, v_state);
    END IF;

    SELECT array_agg(s.step_uuid ORDER BY s.step_uuid) INTO v_steps
      FROM tasker.workflow_steps s
     WHERE s.task_uuid = p_task_uuid
       AND s.state IN ('pending', 'enqueued', 'in_progress', 'waiting_for_retry', 'error');
    IF v_steps IS NOT NULL THEN
        PERFORM tasker.transition_steps(v_steps, 'cancel', NULL, v_meta);
    END IF;
    PERFORM tasker.transition_tasks(ARRAY[p_task_uuid], 'cancel', v_meta);
    UPDATE tasker.tasks t SET finalization_requested_at = NULL WHERE t.task_uuid = p_task_uuid;
    UPDATE tasker.dlq_entries d SET resolution_status = 'discarded', updated_at = now(), resolved_at = now(),
           resolution_notes = coalesce(d.resolution_notes || E'\n', '') || 'task cancelled: ' || coalesce(p_reason, '')
     WHERE d.task_uuid = p_task_uuid AND d.resolution_status IN ('pending', 'investigating');
    RETURN 'cancelled';
END;
$$;

--
-- Name: FUNCTION cancel_task(p_task_uuid uuid, p_reason text); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.cancel_task(p_task_uuid uuid, p_reason text) IS 'Cancels a task and every unfinished step (steps in step_uuid order, then the task) and discards its open DLQ entries. A cancelled task is left as is; TK006 when complete or resolved_manually, TK002 unknown. Returns the task''s state afterwards.';

--
-- Name: claim_steps(text, integer, integer, text, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.claim_steps(p_namespace text, p_limit integer DEFAULT 10, p_vt_seconds integer DEFAULT 30, p_worker text DEFAULT NULL::text, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(msg_id bigint, step_uuid uuid, task_uuid uuid, attempt integer, max_attempts integer, namespace text, task_name text, task_version text, step_name text, handler text, timeout_seconds integer, context jsonb, inputs jsonb, parent_results jsonb)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
    RETURN QUERY SELECT * FROM tasker._claim_steps(p_namespace, p_limit, p_vt_seconds, p_worker, p_now, NULL);
END;
$$;

--
-- Name: FUNCTION claim_steps(p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.claim_steps(p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text, p_now timestamp with time zone) IS 'The worker''s call to get work: reads up to p_limit messages of the namespace queue (hidden for p_vt_seconds) and claims their steps (enqueued -> in_progress, or a new attempt when a message came back); stale messages are deleted. Returns, per claimed step, everything its handler needs. Executable by tasker_worker for the namespaces tasker.worker_namespaces allows (42501 otherwise). TK002 unknown namespace, TK004 limit below 1 or visibility timeout outside 1..43200 s.';

--
-- Name: complete_step(uuid, jsonb, text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.complete_step(p_step_uuid uuid, p_result jsonb DEFAULT NULL::jsonb, p_reason text DEFAULT NULL::text) RETURNS text
    LANGUAGE sql
    SET search_path TO ''
    AS $$
    SELECT tasker._operate_step(p_step_uuid, 'complete_manually',
                                jsonb_build_object('results', coalesce(p_result, 'null'::jsonb)), p_reason);
$$;

--
-- Name: FUNCTION complete_step(p_step_uuid uuid, p_result jsonb, p_reason text); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.complete_step(p_step_uuid uuid, p_result jsonb, p_reason text) IS 'Completes a step by hand with p_result, which its children receive as its results; the task''s state is re-derived. TK001, TK002, TK006. Returns the step''s state afterwards.';

--
-- Name: create_task(text, text, text, jsonb, jsonb); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.create_task(p_namespace text, p_name text, p_version text DEFAULT NULL::text, p_context jsonb DEFAULT '{}'::jsonb, p_options jsonb DEFAULT '{}'::jsonb) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
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

--
-- Name: FUNCTION create_task(p_namespace text, p_name text, p_version text, p_context jsonb, p_options jsonb); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.create_task(p_namespace text, p_name text, p_version text, p_context jsonb, p_options jsonb) IS 'Creates a task from a registered template and dispatches its root steps, in one transaction. An idempotency_key reused with the same request returns the first task (TK005 for a different request); TK002 unknown template, TK004 invalid context or options; nothing is written on error. Returns the task_uuid.';

--
-- Name: create_tasks(jsonb); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.create_tasks(p_requests jsonb) RETURNS TABLE(ordinality integer, task_uuid uuid, error_code text, error_message text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
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

--
-- Name: FUNCTION create_tasks(p_requests jsonb); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.create_tasks(p_requests jsonb) IS 'Creates many tasks in one call and one transaction, as create_task would one by one: each request is checked alone and the accepted ones inserted together (each alone if that fails), so a failing request is reported with its SQLSTATE and message and the others are created. Returns one row per request, in order.';

--
-- Name: enqueue_ready_steps(integer, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.enqueue_ready_steps(p_limit integer DEFAULT 1000, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(step_uuid uuid, task_uuid uuid, queue_name text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
#variable_conflict use_column
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_steps uuid[];
BEGIN
    SELECT array_agg(picked.step_uuid ORDER BY picked.step_uuid) INTO v_steps
      FROM (SELECT s.step_uuid
              FROM tasker.workflow_steps s
             WHERE s.ready_at IS NOT NULL
               AND s.ready_at <= v_now
             ORDER BY s.priority DESC, s.ready_at, s.step_uuid
             LIMIT greatest(p_limit, 0)
               FOR UPDATE SKIP LOCKED) AS picked;

    RETURN QUERY SELECT * FROM tasker._dispatch_steps(v_steps, v_now);
END;
$$;

--
-- Name: FUNCTION enqueue_ready_steps(p_limit integer, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.enqueue_ready_steps(p_limit integer, p_now timestamp with time zone) IS 'The step enqueuer''s call: picks up to p_limit dispatchable steps (highest priority, then oldest ready_at) FOR UPDATE SKIP LOCKED and sends them to their namespace queues in this transaction, so a step is never dispatched twice nor lost. Returns one row per step sent.';

--
-- Name: ensure_worker_login(name, text, text[]); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.ensure_worker_login(p_role name, p_password text, p_namespaces text[]) RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
DECLARE
    v_role pg_catalog.pg_roles%ROWTYPE;
BEGIN
    IF p_role IS NULL OR p_role !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = format('invalid worker role name %s', coalesce(p_role, 'NULL')),
            HINT = 'lower-case letters, digits and _ (^[a-z_][a-z0-9_]{0,62}$)';
    END IF;
    IF coalesce(p_password, '') = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = format('worker role %s needs a password', p_role);
    END IF;
    SELECT * INTO v_role FROM pg_catalog.pg_roles r WHERE r.rolname = p_role;
    IF NOT FOUND THEN
        EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE tasker_worker', p_role, p_password);
    ELSIF v_role.rolsuper OR v_role.rolcreaterole OR v_role.rolcreatedb OR v_role.rolreplication
          OR v_role.rolbypassrls
          OR pg_catalog.pg_has_role(v_role.oid,
                 (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname = 'tasker'), 'MEMBER') THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('role %s exists and can do more than a worker; choose another name', p_role);
    ELSE
        EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', p_role, p_password);
        EXECUTE format('GRANT tasker_worker TO %I', p_role);
    END IF;
    RETURN QUERY SELECT * FROM tasker.set_worker_namespaces(p_role, p_namespaces);
END;
$_$;

--
-- Name: FUNCTION ensure_worker_login(p_role name, p_password text, p_namespaces text[]); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.ensure_worker_login(p_role name, p_password text, p_namespaces text[]) IS 'Creates or updates a tasker_worker login with a password and its namespaces (idempotent). 42501 for a role that can do more than a worker; TK004 bad name, empty password or namespace.';

--
-- Name: extend_visibility(text, bigint[], integer); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.extend_visibility(p_namespace text, p_msg_ids bigint[], p_vt_seconds integer DEFAULT 30) RETURNS SETOF bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $_$
DECLARE
    v_queue   text;
    v_running bigint[];
    v_id      bigint;
BEGIN
    PERFORM tasker._require_worker_namespaces(ARRAY[p_namespace]);
    SELECT n.queue_name INTO v_queue FROM tasker.namespaces n WHERE n.name = p_namespace;
    IF v_queue IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('unknown namespace %s', p_namespace);
    END IF;
    IF p_vt_seconds IS NULL OR p_vt_seconds NOT BETWEEN 1 AND 43200 THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('extend_visibility: visibility timeout %s is outside 1 .. 43200 seconds', p_vt_seconds);
    END IF;
    -- The messages that are a running step's dispatch message (by the queue's primary key, then
    -- the step's).
    EXECUTE format(
        'SELECT array_agg(q.msg_id ORDER BY q.msg_id)
           FROM pgmq.%I q
           JOIN tasker.workflow_steps s
             ON s.step_uuid = CASE WHEN q.message ->> ''step_uuid'' ~* ''^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$''
                                   THEN (q.message ->> ''step_uuid'')::uuid END
          WHERE q.msg_id = ANY ($1)
            AND s.namespace = $2
            AND s.state = ''in_progress''
            AND s.dispatch_msg_id = q.msg_id',
        'q_' || v_queue)
      INTO v_running USING p_msg_ids, p_namespace;
    -- In msg_id order, the order in which tasker.submit_step_results locks messages.
    FOR v_id IN SELECT DISTINCT u FROM unnest(v_running) AS u ORDER BY u LOOP
        RETURN QUERY SELECT r.msg_id FROM pgmq.set_vt(v_queue, v_id, p_vt_seconds) r;
    END LOOP;
END;
$_$;

--
-- Name: FUNCTION extend_visibility(p_namespace text, p_msg_ids bigint[], p_vt_seconds integer); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.extend_visibility(p_namespace text, p_msg_ids bigint[], p_vt_seconds integer) IS 'The worker heartbeat: pushes the visibility timeout of the given messages p_vt_seconds into the future, for messages that are the dispatch message of a step of the namespace in progress on it. Returns the ids extended. Executable by tasker_worker for its namespaces (42501 otherwise). TK002 unknown namespace, TK004 timeout outside 1..43200 s.';

--
-- Name: finalize_task(uuid, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.finalize_task(p_task_uuid uuid, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
BEGIN
    PERFORM 1 FROM tasker.tasks t WHERE t.task_uuid = p_task_uuid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('task %s not found', p_task_uuid);
    END IF;
    RETURN tasker._evaluate_task(p_task_uuid, p_now, true);
END;
$$;

--
-- Name: FUNCTION finalize_task(p_task_uuid uuid, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.finalize_task(p_task_uuid uuid, p_now timestamp with time zone) IS 'Re-derives one task''s state now, waiting for its lock; for operators and tests. TK002 unknown task. Returns the state afterwards.';

--
-- Name: finalize_tasks(integer, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.finalize_tasks(p_limit integer DEFAULT 100, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(task_uuid uuid, from_state text, to_state text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
#variable_conflict use_column
DECLARE
    v_ids  uuid[];
    v_row  record;
BEGIN
    SELECT array_agg(x.task_uuid ORDER BY x.task_uuid) INTO v_ids
      FROM (SELECT t.task_uuid FROM tasker.tasks t
             WHERE t.finalization_requested_at IS NOT NULL
             ORDER BY t.finalization_requested_at, t.task_uuid
             LIMIT greatest(p_limit, 0)
               FOR UPDATE SKIP LOCKED) x;
    IF v_ids IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);

    -- Each task's flag is cleared by its evaluation, in the same row write as its move.
    FOR v_row IN SELECT t.task_uuid, t.state FROM tasker.tasks t WHERE t.task_uuid = ANY (v_ids) ORDER BY t.task_uuid LOOP
        task_uuid := v_row.task_uuid;
        from_state := v_row.state;
        to_state := tasker._evaluate_task(v_row.task_uuid, p_now, true);
        RETURN NEXT;
    END LOOP;
END;
$$;

--
-- Name: FUNCTION finalize_tasks(p_limit integer, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.finalize_tasks(p_limit integer, p_now timestamp with time zone) IS 'The task finalizer''s call: takes up to p_limit flagged tasks FOR UPDATE SKIP LOCKED, clears the flag and re-derives each task''s state from its steps (a task entering error gets a DLQ entry). Returns (task_uuid, from_state, to_state) per task taken.';

--
-- Name: json_schema_errors(jsonb, jsonb, text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.json_schema_errors(p_schema jsonb, p_doc jsonb, p_path text DEFAULT '$'::text) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_errors text[] := '{}'::text[];
    v_types  text[];
    v_type   text := jsonb_typeof(p_doc);
    v_ok     boolean;
    v_key    text;
    v_sub    jsonb;
    v_elem   jsonb;
    v_idx    bigint;
BEGIN
    IF p_schema IS NULL OR jsonb_typeof(p_schema) <> 'object' THEN
        RETURN v_errors;
    END IF;

    IF p_schema ? 'type' THEN
        v_types := CASE jsonb_typeof(p_schema -> 'type')
            WHEN 'array' THEN ARRAY(SELECT jsonb_array_elements_text(p_schema -> 'type'))
            ELSE ARRAY[p_schema ->> 'type'] END;
        v_ok := v_type = ANY (v_types)
             OR (v_type = 'number' AND 'integer' = ANY (v_types) AND (p_doc #>> '{}')::numeric % 1 = 0);
        IF NOT v_ok THEN
            RETURN array_append(v_errors, format('%s: expected %s, got %s', p_path, array_to_string(v_types, ' or '), v_type));
        END IF;
    END IF;

    IF p_schema ? 'enum' AND NOT (p_schema -> 'enum') @> jsonb_build_array(p_doc) THEN
        v_errors := array_append(v_errors, format('%s: must be one of %s', p_path, p_schema -> 'enum'));
    END IF;
    IF p_schema ? 'const' AND p_schema -> 'const' <> p_doc THEN
        v_errors := array_append(v_errors, format('%s: must equal %s', p_path, p_schema -> 'const'));
    END IF;

    IF v_type = 'object' THEN
        IF jsonb_typeof(p_schema -> 'required') = 'array' THEN
            FOR v_key IN SELECT jsonb_array_elements_text(p_schema -> 'required') LOOP
                IF NOT p_doc ? v_key THEN
                    v_errors := array_append(v_errors, format('%s: missing required property ''%s''', p_path, v_key));
                END IF;
            END LOOP;
        END IF;
        FOR v_key, v_elem IN SELECT e.key, e.value FROM jsonb_each(p_doc) e LOOP
            v_sub := p_schema -> 'properties' -> v_key;
            IF v_sub IS NOT NULL THEN
                v_errors := v_errors || tasker.json_schema_errors(v_sub, v_elem, p_path || '.' || v_key);
            ELSIF p_schema -> 'additionalProperties' = 'false'::jsonb THEN
                v_errors := array_append(v_errors, format('%s: unexpected property ''%s''', p_path, v_key));
            ELSIF jsonb_typeof(p_schema -> 'additionalProperties') = 'object' THEN
                v_errors := v_errors || tasker.json_schema_errors(p_schema -> 'additionalProperties', v_elem, p_path || '.' || v_key);
            END IF;
        END LOOP;
    ELSIF v_type = 'array' THEN
        IF p_schema ? 'minItems' AND jsonb_array_length(p_doc) < (p_schema ->> 'minItems')::integer THEN
            v_errors := array_append(v_errors, format('%s: expected at least %s items', p_path, p_schema ->> 'minItems'));
        END IF;
        IF p_schema ? 'maxItems' AND jsonb_array_length(p_doc) > (p_schema ->> 'maxItems')::integer THEN
            v_errors := array_append(v_errors, format('%s: expected at most %s items', p_path, p_schema ->> 'maxItems'));
        END IF;
        IF jsonb_typeof(p_schema -> 'items') = 'object' THEN
            FOR v_elem, v_idx IN SELECT e.value, e.ordinality - 1 FROM jsonb_array_elements(p_doc) WITH ORDINALITY e LOOP
                v_errors := v_errors || tasker.json_schema_errors(p_schema -> 'items', v_elem, format('%s[%s]', p_path, v_idx));
            END LOOP;
        END IF;
    ELSIF v_type = 'string' THEN
        IF p_schema ? 'minLength' AND length(p_doc #>> '{}') < (p_schema ->> 'minLength')::integer THEN
            v_errors := array_append(v_errors, format('%s: shorter than %s characters', p_path, p_schema ->> 'minLength'));
        END IF;
        IF p_schema ? 'maxLength' AND length(p_doc #>> '{}') > (p_schema ->> 'maxLength')::integer THEN
            v_errors := array_append(v_errors, format('%s: longer than %s characters', p_path, p_schema ->> 'maxLength'));
        END IF;
        IF p_schema ? 'pattern' AND NOT (p_doc #>> '{}') ~ (p_schema ->> 'pattern') THEN
            v_errors := array_append(v_errors, format('%s: does not match pattern %s', p_path, p_schema ->> 'pattern'));
        END IF;
    ELSIF v_type = 'number' THEN
        IF p_schema ? 'minimum' AND (p_doc #>> '{}')::numeric < (p_schema ->> 'minimum')::numeric THEN
            v_errors := array_append(v_errors, format('%s: less than minimum %s', p_path, p_schema ->> 'minimum'));
        END IF;
        IF p_schema ? 'maximum' AND (p_doc #>> '{}')::numeric > (p_schema ->> 'maximum')::numeric THEN
            v_errors := array_append(v_errors, format('%s: greater than maximum %s', p_path, p_schema ->> 'maximum'));
        END IF;
    END IF;
    RETURN v_errors;
END;
$$;

--
-- Name: FUNCTION json_schema_errors(p_schema jsonb, p_doc jsonb, p_path text); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.json_schema_errors(p_schema jsonb, p_doc jsonb, p_path text) IS 'Validates a JSON document against the JSON Schema subset of template input_schema. Pure. Returns one message per violation, each starting with the JSON path; an empty array means valid.';

--
-- Name: list_namespaces(); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.list_namespaces() RETURNS TABLE(name text, queue_name text, created_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT n.name, n.queue_name, n.created_at FROM tasker.namespaces n
     WHERE tasker._worker_may_serve(n.name)
     ORDER BY n.name;
$$;

--
-- Name: FUNCTION list_namespaces(); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.list_namespaces() IS 'Every namespace with its worker queue (worker_<namespace>_queue), by name; for a worker role (tasker_worker), only the namespaces it may serve.';

--
-- Name: next_ready_at(timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.next_ready_at(p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    SELECT min(s.ready_at) FROM tasker.workflow_steps s
     WHERE s.ready_at IS NOT NULL AND s.ready_at > coalesce(p_now, now());
$$;

--
-- Name: FUNCTION next_ready_at(p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.next_ready_at(p_now timestamp with time zone) IS 'The earliest ready_at still in the future (a retry coming due), or NULL: when the step enqueuer next has work without being notified.';

--
-- Name: normalize_template(jsonb); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.normalize_template(p_definition jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    SET enable_nestloop TO 'off'
    AS $_$
DECLARE
    v_ns      text := p_definition ->> 'namespace';
    v_name    text := p_definition ->> 'name';
    v_version text := p_definition ->> 'version';
    v_label   text;
    v_problem text;
    v_max_steps  integer;
    v_max_fan_in integer;
    v_n       integer;
    v_out     jsonb[] := '{}'::jsonb[];
    v_steps   jsonb;
    v_step    jsonb;
    v_retry   jsonb;
    v_names   text[] := '{}'::text[];
    v_sname   text;
    v_dep     text;
    v_deps    jsonb;
    v_timeout jsonb;
    v_pos     integer := 0;
    v_bad     record;
    v_indeg   integer[];
    v_start   integer[];
    v_adj     integer[];
    v_queue   integer[];
    v_head    integer := 1;
    v_p       integer;
    v_c       integer;
    v_i       integer;
BEGIN
    IF p_definition IS NULL OR jsonb_typeof(p_definition) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = 'template definition must be a JSON object';
    END IF;
    IF v_ns IS NULL OR jsonb_typeof(p_definition -> 'namespace') <> 'string' OR v_ns !~ '^[a-z][a-z0-9_]{0,33}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template namespace %s is invalid', coalesce(p_definition ->> 'namespace', '(missing)')),
            HINT = 'a namespace is 1-34 characters: a lowercase letter, then lowercase letters, digits or _';
    END IF;
    IF v_name IS NULL OR jsonb_typeof(p_definition -> 'name') <> 'string' OR v_name !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template name %s is invalid', coalesce(p_definition ->> 'name', '(missing)')),
            HINT = 'a name is 1-128 characters: letters, digits, _ . -';
    END IF;
    IF v_version IS NULL OR jsonb_typeof(p_definition -> 'version') <> 'string' OR v_version !~ '^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template version %s is invalid', coalesce(p_definition ->> 'version', '(missing)')),
            HINT = 'a version is a string such as "1.0.0"';
    END IF;
    v_label := v_ns || '/' || v_name || '/' || v_version;
    SELECT k INTO v_sname FROM jsonb_object_keys(p_definition) k
     WHERE k NOT IN ('namespace', 'name', 'version', 'description', 'input_schema', 'steps') LIMIT 1;
    IF v_sname IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: unknown key ''%s''', v_label, v_sname),
            HINT = 'template keys are namespace, name, version, description, input_schema, steps';
    END IF;
    IF p_definition ? 'description' AND jsonb_typeof(p_definition -> 'description') NOT IN ('string', 'null') THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: description must be a string', v_label);
    END IF;

    IF jsonb_typeof(p_definition -> 'steps') IS DISTINCT FROM 'array' OR jsonb_array_length(p_definition -> 'steps') = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s has no steps', v_label);
    END IF;
    IF p_definition ? 'input_schema' AND jsonb_typeof(p_definition -> 'input_schema') NOT IN ('object', 'null') THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: input_schema must be an object', v_label);
    END IF;
    IF jsonb_typeof(p_definition -> 'input_schema') = 'object' THEN
        v_problem := tasker._input_schema_problem(p_definition -> 'input_schema', 'input_schema');
        IF v_problem IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: %s', v_label, v_problem),
                HINT = 'input_schema supports type, enum, const, required, properties, additionalProperties, items, '
                       'minItems, maxItems, minLength, maxLength, pattern, minimum, maximum (docs/templates.md)';
        END IF;
    END IF;

    -- Limits (tasker.settings; the defaults apply when a row is missing).
    v_max_steps := coalesce((SELECT (st.value #>> '{}')::integer FROM tasker.settings st WHERE st.key = 'template.max_steps'), 10000);
    v_max_fan_in := coalesce((SELECT (st.value #>> '{}')::integer FROM tasker.settings st WHERE st.key = 'template.max_fan_in'), 1000);
    v_n := jsonb_array_length(p_definition -> 'steps');
    IF v_n > v_max_steps THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template %s has %s steps, more than the limit of %s (setting template.max_steps)',
                             v_label, v_n, v_max_steps),
            HINT = 'split the workflow into several templates, or raise the limit in tasker.settings';
    END IF;

    FOR v_step IN SELECT e FROM jsonb_array_elements(p_definition -> 'steps') e LOOP
        v_pos := v_pos + 1;
        IF jsonb_typeof(v_step) <> 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: step #%s is not an object', v_label, v_pos);
        END IF;
        SELECT k INTO v_dep FROM jsonb_object_keys(v_step) k
         WHERE k NOT IN ('name', 'handler', 'description', 'depends_on', 'retry', 'timeout_seconds', 'inputs') LIMIT 1;
        IF v_dep IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step #%s (%s): unknown key ''%s''', v_label, v_pos, coalesce(v_step ->> 'name', '?'), v_dep),
                HINT = 'step keys are name, handler, description, depends_on, retry, timeout_seconds, inputs';
        END IF;
        v_sname := v_step ->> 'name';
        IF v_sname IS NULL OR jsonb_typeof(v_step -> 'name') <> 'string' OR v_sname !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step #%s has an invalid name %s', v_label, v_pos, coalesce(v_step ->> 'name', '(missing)'));
        END IF;
        -- Duplicate names are found for all steps at once, after this loop.
        v_names := array_append(v_names, v_sname);
        IF jsonb_typeof(v_step -> 'handler') IS DISTINCT FROM 'string' OR length(v_step ->> 'handler') = 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: step ''%s'' has no handler', v_label, v_sname);
        END IF;

        v_deps := coalesce(v_step -> 'depends_on', '[]');
        IF jsonb_typeof(v_deps) <> 'array' OR EXISTS (SELECT 1 FROM jsonb_array_elements(v_deps) d WHERE jsonb_typeof(d) <> 'string') THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': depends_on must be a list of step names', v_label, v_sname);
        END IF;
        IF jsonb_array_length(v_deps) > v_max_fan_in THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'' has %s dependencies, more than the limit of %s (setting template.max_fan_in)',
                                 v_label, v_sname, jsonb_array_length(v_deps), v_max_fan_in),
                HINT = 'join through intermediate steps, or raise the limit in tasker.settings';
        END IF;
        IF (SELECT count(*) <> count(DISTINCT d) FROM jsonb_array_elements_text(v_deps) d) THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'' lists a dependency twice', v_label, v_sname);
        END IF;

        v_retry := coalesce(v_step -> 'retry', '{}');
        IF jsonb_typeof(v_retry) <> 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: step ''%s'': retry must be an object', v_label, v_sname);
        END IF;
        SELECT k INTO v_dep FROM jsonb_object_keys(v_retry) k
         WHERE k NOT IN ('max_attempts', 'backoff', 'base_ms', 'max_ms') LIMIT 1;
        IF v_dep IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': unknown retry key ''%s''', v_label, v_sname, v_dep),
                HINT = 'retry keys are max_attempts, backoff, base_ms, max_ms';
        END IF;
        v_retry := jsonb_build_object(
            'max_attempts', coalesce(v_retry -> 'max_attempts', '3'),
            'backoff', coalesce(v_retry -> 'backoff', '"exponential"'),
            'base_ms', coalesce(v_retry -> 'base_ms', '1000'),
            'max_ms', coalesce(v_retry -> 'max_ms', '60000'));
        IF jsonb_typeof(v_retry -> 'max_attempts') <> 'number' OR (v_retry ->> 'max_attempts')::numeric % 1 <> 0
           OR (v_retry ->> 'max_attempts')::numeric NOT BETWEEN 1 AND 1000 THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': retry.max_attempts must be an integer from 1 to 1000', v_label, v_sname);
        END IF;
        IF v_retry ->> 'backoff' NOT IN ('none', 'linear', 'exponential') OR jsonb_typeof(v_retry -> 'backoff') <> 'string' THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': retry.backoff must be none, linear or exponential', v_label, v_sname);
        END IF;
        IF jsonb_typeof(v_retry -> 'base_ms') <> 'number' OR jsonb_typeof(v_retry -> 'max_ms') <> 'number'
           OR (v_retry ->> 'base_ms')::numeric % 1 <> 0 OR (v_retry ->> 'max_ms')::numeric % 1 <> 0
           OR (v_retry ->> 'base_ms')::numeric NOT BETWEEN 0 AND 86400000
           OR (v_retry ->> 'max_ms')::numeric NOT BETWEEN 0 AND 86400000
           OR (v_retry ->> 'max_ms')::numeric < (v_retry ->> 'base_ms')::numeric THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': retry.base_ms and retry.max_ms must be integers from 0 to 86400000 with base_ms <= max_ms', v_label, v_sname);
        END IF;

        v_timeout := coalesce(v_step -> 'timeout_seconds', '300');
        IF jsonb_typeof(v_timeout) <> 'number' OR (v_timeout #>> '{}')::numeric % 1 <> 0
           OR (v_timeout #>> '{}')::numeric NOT BETWEEN 1 AND 604800 THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': timeout_seconds must be an integer from 1 to 604800', v_label, v_sname);
        END IF;
        IF v_step ? 'inputs' AND jsonb_typeof(v_step -> 'inputs') <> 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: step ''%s'': inputs must be an object', v_label, v_sname);
        END IF;

        -- Integers written as 5.0 are stored as 5.
        v_retry := jsonb_build_object(
            'max_attempts', (v_retry ->> 'max_attempts')::numeric::integer,
            'backoff', v_retry -> 'backoff',
            'base_ms', (v_retry ->> 'base_ms')::numeric::integer,
            'max_ms', (v_retry ->> 'max_ms')::numeric::integer);
        v_out := array_append(v_out,
            jsonb_build_object(
                'name', v_sname,
                'handler', v_step -> 'handler',
                'depends_on', v_deps,
                'retry', v_retry,
                'timeout_seconds', (v_timeout #>> '{}')::numeric::integer,
                'inputs', coalesce(v_step -> 'inputs', '{}'))
            || CASE WHEN jsonb_typeof(v_step -> 'description') = 'string'
                    THEN jsonb_build_object('description', v_step -> 'description') ELSE '{}'::jsonb END);
    END LOOP;

    v_steps := to_jsonb(v_out);

    -- Names are unique (hash aggregate; the first duplicate in template order is reported).
    SELECT u.name INTO v_sname
      FROM unnest(v_names) WITH ORDINALITY AS u (name, pos)
     GROUP BY u.name HAVING count(*) > 1
     ORDER BY min(u.pos) LIMIT 1;
    IF v_sname IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: duplicate step name ''%s''', v_label, v_sname);
    END IF;

    -- Every dependency names another step (one hash join of all dependencies with all names;
    -- the first problem in template order is reported).
    SELECT e.child_name, e.dep, e.parent INTO v_bad
      FROM (SELECT s.pos AS child, s.step ->> 'name' AS child_name, d.dep, d.dpos, n.pos AS parent
              FROM jsonb_array_elements(v_steps) WITH ORDINALITY AS s (step, pos)
             CROSS JOIN LATERAL jsonb_array_elements_text(s.step -> 'depends_on') WITH ORDINALITY AS d (dep, dpos)
              LEFT JOIN unnest(v_names) WITH ORDINALITY AS n (name, pos) ON n.name = d.dep) e
     WHERE e.parent IS NULL OR e.parent = e.child
     ORDER BY e.child, e.dpos LIMIT 1;
    IF v_bad.dep IS NOT NULL AND v_bad.parent IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template %s: step ''%s'' depends on itself', v_label, v_bad.child_name);
    ELSIF v_bad.dep IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template %s: step ''%s'' depends on unknown step ''%s''', v_label, v_bad.child_name, v_bad.dep),
            HINT = 'steps are: ' || array_to_string(v_names[1:50], ', ')
                   || CASE WHEN v_n > 50 THEN format(' ... (%s steps)', v_n) ELSE '' END;
    END IF;

    -- No cycles: one topological pass (Kahn). Steps are numbered by position; v_indeg counts
    -- each step's unvisited parents, v_adj lists children grouped by parent, v_start[p] is
    -- where parent p's children begin in v_adj. Whatever is never visited is on or behind a
    -- cycle.
    SELECT array_agg(coalesce(k.n, 0)::integer ORDER BY p.pos), array_agg(coalesce(o.n, 0)::integer ORDER BY p.pos)
      INTO v_indeg, v_start
      FROM generate_series(1, v_n) AS p (pos)
      LEFT JOIN (SELECT s.pos, jsonb_array_length(s.step -> 'depends_on') AS n
                   FROM jsonb_array_elements(v_steps) WITH ORDINALITY AS s (step, pos)) k ON k.pos = p.pos
      LEFT JOIN (SELECT n.pos, count(*) AS n
                   FROM jsonb_array_elements(v_steps) WITH ORDINALITY AS s (step, pos)
                  CROSS JOIN LATERAL jsonb_array_elements_text(s.step -> 'depends_on') AS d (dep)
                   JOIN unnest(v_names) WITH ORDINALITY AS n (name, pos) ON n.name = d.dep
                  GROUP BY n.pos) o ON o.pos = p.pos;
    SELECT coalesce(array_agg(s.pos::integer ORDER BY n.pos, s.pos), '{}')
      INTO v_adj
      FROM jsonb_array_elements(v_steps) WITH ORDINALITY AS s (step, pos)
     CROSS JOIN LATERAL jsonb_array_elements_text(s.step -> 'depends_on') AS d (dep)
      JOIN unnest(v_names) WITH ORDINALITY AS n (name, pos) ON n.name = d.dep;
    -- Out-degrees to start offsets (v_start[n + 1] is one past the end).
    v_c := 1;
    FOR v_i IN 1 .. v_n LOOP
        v_p := v_start[v_i];
        v_start[v_i] := v_c;
        v_c := v_c + v_p;
    END LOOP;
    v_start[v_n + 1] := v_c;

    v_queue := ARRAY(SELECT p.pos::integer FROM unnest(v_indeg) WITH ORDINALITY AS p (n, pos) WHERE p.n = 0 ORDER BY p.pos);
    WHILE v_head <= cardinality(v_queue) LOOP
        v_p := v_queue[v_head];
        v_head := v_head + 1;
        FOR v_i IN v_start[v_p] .. v_start[v_p + 1] - 1 LOOP
            v_c := v_adj[v_i];
            v_indeg[v_c] := v_indeg[v_c] - 1;
            IF v_indeg[v_c] = 0 THEN
                v_queue := array_append(v_queue, v_c);
            END IF;
        END LOOP;
    END LOOP;
    IF cardinality(v_queue) < v_n THEN
        SELECT count(*)::integer,
               string_agg(v_names[p.pos], ', ' ORDER BY p.pos) FILTER (WHERE p.rank <= 50)
          INTO v_i, v_sname
          FROM (SELECT x.pos, row_number() OVER (ORDER BY x.pos) AS rank
                  FROM unnest(v_indeg) WITH ORDINALITY AS x (n, pos) WHERE x.n > 0) p;
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template %s: dependency cycle among steps %s%s', v_label, v_sname,
                             CASE WHEN v_i > 50 THEN format(' ... (%s steps on or behind a cycle)', v_i) ELSE '' END);
    END IF;

    RETURN jsonb_build_object('namespace', v_ns, 'name', v_name, 'version', v_version, 'steps', v_steps)
        || CASE WHEN jsonb_typeof(p_definition -> 'description') = 'string'
                THEN jsonb_build_object('description', p_definition -> 'description') ELSE '{}'::jsonb END
        || CASE WHEN jsonb_typeof(p_definition -> 'input_schema') = 'object'
                THEN jsonb_build_object('input_schema', p_definition -> 'input_schema') ELSE '{}'::jsonb END;
END;
$_$;

--
-- Name: FUNCTION normalize_template(p_definition jsonb); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.normalize_template(p_definition jsonb) IS 'Validates a task template and returns it with every default filled in; raises TK003 naming the template and the problem. Pure.';

--
-- Name: performance_metrics(integer, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.performance_metrics(p_hours integer DEFAULT 24, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(hours integer, tasks_created bigint, tasks_completed bigint, tasks_failed bigint, tasks_cancelled bigint, tasks_active bigint, completion_rate double precision, error_rate double precision, mean_task_duration_ms double precision, mean_step_duration_ms double precision, steps_completed bigint, steps_per_second double precision, tasks_per_hour double precision)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    WITH w AS (SELECT coalesce(p_now, now()) - make_interval(hours => p_hours) AS since,
                      greatest(p_hours, 1) * 3600.0 AS secs),
    t AS (
        SELECT count(*) FILTER (WHERE x.created_at >= w.since) AS created,
               count(*) FILTER (WHERE x.state = 'complete' AND x.completed_at >= w.since) AS completed,
               count(*) FILTER (WHERE x.state = 'error' AND x.completed_at >= w.since) AS failed,
               count(*) FILTER (WHERE x.state = 'cancelled' AND x.completed_at >= w.since) AS cancelled,
               count(*) FILTER (WHERE x.created_at >= w.since AND x.completed_at IS NULL) AS active,
               avg(extract(epoch FROM x.completed_at - x.created_at) * 1000)
                   FILTER (WHERE x.state = 'complete' AND x.completed_at >= w.since) AS mean_ms
          FROM tasker.tasks x, w
         WHERE x.created_at >= w.since OR x.completed_at >= w.since
    ),
    s AS (
        SELECT count(*) AS completed,
               avg(extract(epoch FROM x.completed_at - x.claimed_at) * 1000) AS mean_ms
          FROM tasker.workflow_steps x, w
         WHERE x.state = 'complete' AND x.completed_at >= w.since AND x.claimed_at IS NOT NULL
    )
    SELECT p_hours, t.created, t.completed, t.failed, t.cancelled, t.active,
           CASE WHEN t.completed + t.failed = 0 THEN 0 ELSE t.completed::float8 / (t.completed + t.failed) END,
           CASE WHEN t.completed + t.failed = 0 THEN 0 ELSE t.failed::float8 / (t.completed + t.failed) END,
           t.mean_ms::float8, s.mean_ms::float8, s.completed,
           s.completed / w.secs, t.completed / (w.secs / 3600.0)
      FROM t, s, w;
$$;

--
-- Name: FUNCTION performance_metrics(p_hours integer, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.performance_metrics(p_hours integer, p_now timestamp with time zone) IS 'Throughput and outcomes over the last p_hours hours, in one row.';

--
-- Name: process_step_results(integer, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.process_step_results(p_limit integer DEFAULT 500, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(results integer, completed integer, retried integer, failed integer, ignored integer, dispatched integer, tasks_flagged integer)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
#variable_conflict use_column
DECLARE
    v_ids   bigint[];
    v_msgs  jsonb;
    v_batch record;
    v_one   record;
    v_msg   record;
    v_done  bigint[] := '{}'::bigint[];
    v_sum   integer[] := ARRAY[0, 0, 0, 0, 0, 0, 0];
BEGIN
    SELECT array_agg(m.msg_id ORDER BY m.msg_id), jsonb_agg(m.message ORDER BY m.msg_id)
      INTO v_ids, v_msgs
      FROM pgmq.read('orchestration_step_results', 60, greatest(p_limit, 1)) m;
    IF v_ids IS NULL THEN
        RETURN QUERY SELECT 0, 0, 0, 0, 0, 0, 0;
        RETURN;
    END IF;

    BEGIN
        SELECT * INTO v_batch FROM tasker.apply_step_results(v_msgs, p_now);
        PERFORM pgmq.delete('orchestration_step_results', v_ids);
        RETURN QUERY SELECT v_batch.results, v_batch.completed, v_batch.retried, v_batch.failed, v_batch.ignored,
                            v_batch.dispatched, v_batch.tasks_flagged;
        RETURN;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'applying % step results failed (%); applying them one at a time', cardinality(v_ids), SQLERRM;
    END;

    FOR v_msg IN SELECT x.id, x.body FROM unnest(v_ids, ARRAY(SELECT jsonb_array_elements(v_msgs))) AS x (id, body) LOOP
        BEGIN
            SELECT * INTO v_one FROM tasker.apply_step_results(jsonb_build_array(v_msg.body), p_now);
            v_sum := ARRAY[v_sum[1] + v_one.results, v_sum[2] + v_one.completed, v_sum[3] + v_one.retried,
                           v_sum[4] + v_one.failed, v_sum[5] + v_one.ignored, v_sum[6] + v_one.dispatched,
                           v_sum[7] + v_one.tasks_flagged];
            v_done := v_done || v_msg.id;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'step result message % cannot be applied and is archived: %', v_msg.id, SQLERRM;
            PERFORM pgmq.archive('orchestration_step_results', v_msg.id);
            v_sum := ARRAY[v_sum[1] + 1, v_sum[2], v_sum[3], v_sum[4], v_sum[5] + 1, v_sum[6], v_sum[7]];
        END;
    END LOOP;
    IF cardinality(v_done) > 0 THEN
        PERFORM pgmq.delete('orchestration_step_results', v_done);
    END IF;
    RETURN QUERY SELECT v_sum[1], v_sum[2], v_sum[3], v_sum[4], v_sum[5], v_sum[6], v_sum[7];
END;
$$;

--
-- Name: FUNCTION process_step_results(p_limit integer, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.process_step_results(p_limit integer, p_now timestamp with time zone) IS 'The result processor''s call: reads up to p_limit messages of orchestration_step_results, applies them (apply_step_results) and deletes them, in one transaction; a message that cannot be applied is archived with a WARNING. Returns one row of counts.';

--
-- Name: purge_queue_archives(interval, integer); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.purge_queue_archives(p_older_than interval, p_limit integer DEFAULT 10000) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
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
$_$;

--
-- Name: FUNCTION purge_queue_archives(p_older_than interval, p_limit integer); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.purge_queue_archives(p_older_than interval, p_limit integer) IS 'Retention for queues: deletes up to p_limit archived messages older than p_older_than from the pgmq archive tables of Tasker''s own queues. Call it in a loop until it returns 0. TK004 for a NULL or negative interval or a limit below 1. Returns the number of messages deleted.';

--
-- Name: purge_tasks(interval, integer, boolean, boolean); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.purge_tasks(p_older_than interval, p_limit integer DEFAULT 1000, p_dry_run boolean DEFAULT false, p_archive boolean DEFAULT false) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_now    timestamptz := now();
    v_cutoff timestamptz;
    v_tasks  uuid[];
    v_steps  uuid[];
    v_busy   uuid[];
BEGIN
    IF p_older_than IS NULL OR p_older_than < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('purge_tasks: older_than must be a non-negative interval, got %s', coalesce(p_older_than::text, 'NULL'));
    END IF;
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('purge_tasks: limit must be at least 1, got %s', coalesce(p_limit::text, 'NULL'));
    END IF;
    v_cutoff := v_now - p_older_than;

    IF coalesce(p_dry_run, false) THEN
        RETURN (SELECT count(*)::integer
                  FROM (SELECT 1 FROM tasker.tasks t
                         WHERE t.completed_at < v_cutoff
                           AND t.state IN ('complete', 'error', 'cancelled', 'resolved_manually')
                         ORDER BY t.completed_at
                         LIMIT p_limit) x);
    END IF;

    -- The batch: oldest finished first, skipping tasks another transaction holds.
    v_tasks := ARRAY(
        SELECT t.task_uuid FROM tasker.tasks t
         WHERE t.completed_at < v_cutoff
           AND t.state IN ('complete', 'error', 'cancelled', 'resolved_manually')
         ORDER BY t.completed_at, t.task_uuid
         LIMIT p_limit
           FOR UPDATE SKIP LOCKED);
    IF cardinality(v_tasks) = 0 THEN
        RETURN 0;
    END IF;

    -- Their steps and DLQ entries, without waiting: a task with a row held elsewhere is busy.
    WITH locked_steps AS (
        SELECT s.step_uuid, s.task_uuid FROM tasker.workflow_steps s
         WHERE s.task_uuid = ANY (v_tasks)
         ORDER BY s.step_uuid
           FOR UPDATE SKIP LOCKED
    ), locked_dlq AS (
        SELECT d.id, d.task_uuid FROM tasker.dlq_entries d
         WHERE d.task_uuid = ANY (v_tasks)
         ORDER BY d.id
           FOR UPDATE SKIP LOCKED
    )
    SELECT ARRAY(
               SELECT x.task_uuid FROM tasker.workflow_steps x
                WHERE x.task_uuid = ANY (v_tasks)
                GROUP BY x.task_uuid
               HAVING count(*) > (SELECT count(*) FROM locked_steps l WHERE l.task_uuid = x.task_uuid)
               UNION
               SELECT x.task_uuid FROM tasker.dlq_entries x
                WHERE x.task_uuid = ANY (v_tasks)
                GROUP BY x.task_uuid
               HAVING count(*) > (SELECT count(*) FROM locked_dlq l WHERE l.task_uuid = x.task_uuid)),
           ARRAY(SELECT l.step_uuid FROM locked_steps l)
      INTO v_busy, v_steps;
    IF cardinality(v_busy) > 0 THEN
        v_tasks := ARRAY(SELECT u FROM unnest(v_tasks) AS u WHERE u <> ALL (v_busy));
        v_steps := ARRAY(SELECT s.step_uuid FROM tasker.workflow_steps s
                          WHERE s.step_uuid = ANY (v_steps) AND s.task_uuid = ANY (v_tasks));
        IF cardinality(v_tasks) = 0 THEN
            RETURN 0;
        END IF;
    END IF;

    IF coalesce(p_archive, false) THEN
        INSERT INTO tasker_archive.tasks
        SELECT t.*, v_now FROM tasker.tasks t WHERE t.task_uuid = ANY (v_tasks);
        INSERT INTO tasker_archive.workflow_steps
        SELECT s.*, v_now FROM tasker.workflow_steps s WHERE s.step_uuid = ANY (v_steps);
        INSERT INTO tasker_archive.workflow_step_edges
        SELECT e.*, v_now FROM tasker.workflow_step_edges e WHERE e.from_step_uuid = ANY (v_steps);
        INSERT INTO tasker_archive.task_transitions
               (id, task_uuid, from_state, to_state, event, metadata, created_at, xid, archived_at)
        SELECT h.id, h.task_uuid, h.from_state, h.to_state, h.event, h.metadata, h.created_at, h.xid, v_now
          FROM tasker.task_transitions h WHERE h.task_uuid = ANY (v_tasks);
        INSERT INTO tasker_archive.workflow_step_transitions
               (id, step_uuid, task_uuid, from_state, to_state, event, attempt, metadata, created_at, xid,
                archived_at)
        SELECT h.id, h.step_uuid, h.task_uuid, h.from_state, h.to_state, h.event, h.attempt, h.metadata,
               h.created_at, h.xid, v_now
          FROM tasker.workflow_step_transitions h WHERE h.task_uuid = ANY (v_tasks);
        INSERT INTO tasker_archive.dlq_entries
        SELECT d.*, v_now FROM tasker.dlq_entries d WHERE d.task_uuid = ANY (v_tasks);
    END IF;

    -- Children first, each through its index, so the ON DELETE CASCADE checks find nothing left.
    DELETE FROM tasker.workflow_step_edges e WHERE e.from_step_uuid = ANY (v_steps);
    DELETE FROM tasker.workflow_step_transitions h WHERE h.task_uuid = ANY (v_tasks);
    DELETE FROM tasker.task_transitions h WHERE h.task_uuid = ANY (v_tasks);
    DELETE FROM tasker.dlq_entries d WHERE d.task_uuid = ANY (v_tasks);
    DELETE FROM tasker.workflow_steps s WHERE s.step_uuid = ANY (v_steps);
    DELETE FROM tasker.tasks t WHERE t.task_uuid = ANY (v_tasks);
    RETURN cardinality(v_tasks);
END;
$$;

--
-- Name: FUNCTION purge_tasks(p_older_than interval, p_limit integer, p_dry_run boolean, p_archive boolean); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.purge_tasks(p_older_than interval, p_limit integer, p_dry_run boolean, p_archive boolean) IS 'Retention: removes up to p_limit final tasks finished more than p_older_than ago, with their steps, edges, history and DLQ entries (copied to tasker_archive first with p_archive; nothing changed with p_dry_run). Never waits for a lock; call it in a loop until it returns 0. TK004 for a NULL or negative interval or a limit below 1. Returns the number of tasks purged (or that would be).';

--
-- Name: register_template(jsonb); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.register_template(p_definition jsonb) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_def   jsonb := tasker.normalize_template(p_definition);
    v_ns    text := v_def ->> 'namespace';
    v_queue text := 'worker_' || (v_def ->> 'namespace') || '_queue';
    v_uuid  uuid;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM tasker.namespaces n WHERE n.name = v_ns) THEN
        PERFORM pgmq.create(v_queue);
        PERFORM tasker._tune_queue_table(v_queue);
        INSERT INTO tasker.namespaces (name, queue_name) VALUES (v_ns, v_queue)
        ON CONFLICT (name) DO NOTHING;
        PERFORM tasker._compile_queue_statements();
    END IF;

    INSERT INTO tasker.task_templates AS t (template_uuid, namespace, name, version, description, definition)
    VALUES (tasker.uuid_v7(), v_ns, v_def ->> 'name', v_def ->> 'version', v_def ->> 'description', v_def)
    ON CONFLICT (namespace, name, version) DO UPDATE
       SET definition = EXCLUDED.definition,
           description = EXCLUDED.description,
           updated_at = CASE WHEN t.definition IS DISTINCT FROM EXCLUDED.definition THEN now() ELSE t.updated_at END
    RETURNING t.template_uuid INTO v_uuid;
    RETURN v_uuid;
END;
$$;

--
-- Name: FUNCTION register_template(p_definition jsonb); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.register_template(p_definition jsonb) IS 'Validates (TK003, nothing written) and stores a task template; creates the namespace and its worker queue on first use; registering the same (namespace, name, version) again replaces the definition and keeps the template_uuid. Returns the template_uuid.';

--
-- Name: reset_step(uuid, text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.reset_step(p_step_uuid uuid, p_reason text DEFAULT NULL::text) RETURNS text
    LANGUAGE sql
    SET search_path TO ''
    AS $$ SELECT tasker._operate_step(p_step_uuid, 'reset', NULL, p_reason); $$;

--
-- Name: FUNCTION reset_step(p_step_uuid uuid, p_reason text); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.reset_step(p_step_uuid uuid, p_reason text) IS 'Puts a failed step back to pending with attempts at 0, dispatched again once its parents are satisfied; the task''s state is re-derived. TK001, TK002, TK006. Returns the step''s state afterwards.';

--
-- Name: resolve_step(uuid, text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.resolve_step(p_step_uuid uuid, p_reason text DEFAULT NULL::text) RETURNS text
    LANGUAGE sql
    SET search_path TO ''
    AS $$ SELECT tasker._operate_step(p_step_uuid, 'resolve', NULL, p_reason); $$;

--
-- Name: FUNCTION resolve_step(p_step_uuid uuid, p_reason text); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.resolve_step(p_step_uuid uuid, p_reason text) IS 'Marks a step resolved_manually: it satisfies its dependents, without results; the task''s state is re-derived. TK001, TK002, TK006. Returns the step''s state afterwards.';

--
-- Name: retry_delay_ms(text, integer, integer, integer, bigint); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.retry_delay_ms(p_backoff text, p_base_ms integer, p_max_ms integer, p_attempt integer, p_retry_after_ms bigint DEFAULT NULL::bigint) RETURNS bigint
    LANGUAGE sql
    SET search_path TO ''
    AS $$
    SELECT CASE
        WHEN p_retry_after_ms IS NOT NULL THEN least(greatest(p_retry_after_ms, 0), greatest(p_max_ms, 0))
        ELSE floor(d * (1 - 0.25 * random()))::bigint
    END
    FROM (SELECT least(p_max_ms::numeric, CASE p_backoff
                WHEN 'none' THEN 0
                WHEN 'linear' THEN p_base_ms::numeric * greatest(p_attempt, 1)
                ELSE p_base_ms::numeric * power(2::numeric, least(greatest(p_attempt, 1) - 1, 40))
            END) AS d) AS delay;
$$;

--
-- Name: FUNCTION retry_delay_ms(p_backoff text, p_base_ms integer, p_max_ms integer, p_attempt integer, p_retry_after_ms bigint); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.retry_delay_ms(p_backoff text, p_base_ms integer, p_max_ms integer, p_attempt integer, p_retry_after_ms bigint) IS 'Milliseconds a step that failed on attempt p_attempt waits before its next dispatch: the retry-after hint when given (floored at 0, capped at p_max_ms), else none, linear or exponential backoff capped at p_max_ms and jittered down by up to 25%.';

--
-- Name: retry_failed_steps(jsonb); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.retry_failed_steps(p_filter jsonb DEFAULT '{}'::jsonb) RETURNS TABLE(step_uuid uuid, task_uuid uuid, namespace text, task_name text, step_name text, previous_attempts integer, last_error jsonb, task_state_before text, task_state_after text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $_$
#variable_conflict use_column
DECLARE
    f        jsonb := coalesce(p_filter, '{}');
    v_key    text;
    v_limit  integer;
    v_dry    boolean;
    v_steps  uuid[];
    v_tasks  uuid[];
    v_task   uuid;
    v_before jsonb;
BEGIN
    IF jsonb_typeof(f) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'retry filter must be a JSON object';
    END IF;
    SELECT k INTO v_key FROM jsonb_object_keys(f) k
     WHERE k NOT IN ('namespace', 'name', 'version', 'task_uuids', 'step_names', 'error_contains', 'error_class',
                     'failed_after', 'failed_before', 'limit', 'dry_run', 'reason')
     LIMIT 1;
    IF v_key IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = format('unknown retry filter key ''%s''', v_key),
            HINT = 'keys are namespace, name, version, task_uuids, step_names, error_contains, error_class, failed_after, failed_before, limit, dry_run, reason';
    END IF;
    SELECT k INTO v_key FROM unnest(ARRAY['namespace', 'name', 'version', 'error_contains', 'error_class',
                                          'failed_after', 'failed_before', 'reason']) k
     WHERE f ? k AND jsonb_typeof(f -> k) <> 'string' LIMIT 1;
    IF v_key IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = format('retry filter %s must be a string', v_key);
    END IF;
    IF f ? 'task_uuids' AND (jsonb_typeof(f -> 'task_uuids') <> 'array' OR EXISTS (
            SELECT 1 FROM jsonb_array_elements(f -> 'task_uuids') e
             WHERE jsonb_typeof(e) <> 'string'
                OR e #>> '{}' !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')) THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'retry filter task_uuids must be a list of UUIDs';
    END IF;
    IF f ? 'step_names' AND (jsonb_typeof(f -> 'step_names') <> 'array' OR EXISTS (
            SELECT 1 FROM jsonb_array_elements(f -> 'step_names') e WHERE jsonb_typeof(e) <> 'string')) THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'retry filter step_names must be a list of strings';
    END IF;
    IF f ? 'limit' AND (jsonb_typeof(f -> 'limit') <> 'number' OR (f ->> 'limit')::numeric % 1 <> 0
                        OR (f ->> 'limit')::numeric NOT BETWEEN 1 AND 100000) THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'retry filter limit must be an integer from 1 to 100000';
    END IF;
    IF f ? 'dry_run' AND jsonb_typeof(f -> 'dry_run') <> 'boolean' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'retry filter dry_run must be true or false';
    END IF;
    BEGIN
        PERFORM (f ->> 'failed_after')::timestamptz, (f ->> 'failed_before')::timestamptz;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_text_representation THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = 'retry filter failed_after / failed_before must be timestamps (ISO 8601)';
    END;
    v_limit := coalesce((f ->> 'limit')::integer, 1000);
    v_dry := coalesce((f ->> 'dry_run')::boolean, false);

    SELECT array_agg(x.step_uuid ORDER BY x.step_uuid) INTO v_steps
      FROM (SELECT s.step_uuid
              FROM tasker.workflow_steps s
              JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
             -- Through the tasks (tasks_state): no index of workflow_steps names its state.
             WHERE s.task_uuid = ANY (ARRAY(SELECT x.task_uuid FROM tasker.tasks x
                                             WHERE x.state = ANY (tasker._active_task_states() || 'error'::text)))
               AND s.state = 'error'
               AND (NOT f ? 'namespace' OR t.namespace = f ->> 'namespace')
               AND (NOT f ? 'name' OR t.name = f ->> 'name')
               AND (NOT f ? 'version' OR t.version = f ->> 'version')
               AND (NOT f ? 'task_uuids' OR s.task_uuid IN (SELECT (e #>> '{}')::uuid FROM jsonb_array_elements(f -> 'task_uuids') e))
               AND (NOT f ? 'step_names' OR s.name IN (SELECT jsonb_array_elements_text(f -> 'step_names')))
               AND (NOT f ? 'error_contains' OR strpos(lower(coalesce(s.last_error ->> 'message', '')), lower(f ->> 'error_contains')) > 0)
               AND (NOT f ? 'error_class' OR s.last_error ->> 'class' = f ->> 'error_class')
               AND (NOT f ? 'failed_after' OR s.updated_at >= (f ->> 'failed_after')::timestamptz)
               AND (NOT f ? 'failed_before' OR s.updated_at < (f ->> 'failed_before')::timestamptz)
             ORDER BY s.step_uuid
             LIMIT v_limit) x;
    IF v_steps IS NULL THEN
        RETURN;
    END IF;

    IF v_dry THEN
        RETURN QUERY
        SELECT s.step_uuid, s.task_uuid, t.namespace, t.name, s.name, s.attempts, s.last_error, t.state, t.state
          FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
         WHERE s.step_uuid = ANY (v_steps)
         ORDER BY s.step_uuid;
        RETURN;
    END IF;

    -- Lock order: steps, then tasks.
    PERFORM 1 FROM tasker.workflow_steps s WHERE s.step_uuid = ANY (v_steps) ORDER BY s.step_uuid FOR UPDATE;
    SELECT array_agg(DISTINCT s.task_uuid) INTO v_tasks FROM tasker.workflow_steps s WHERE s.step_uuid = ANY (v_steps);
    PERFORM 1 FROM tasker.tasks t WHERE t.task_uuid = ANY (v_tasks) ORDER BY t.task_uuid FOR UPDATE;
    -- Re-check under the locks: only steps still in error.
    SELECT array_agg(s.step_uuid ORDER BY s.step_uuid) INTO v_steps
      FROM tasker.workflow_steps s WHERE s.step_uuid = ANY (v_steps) AND s.state = 'error';
    IF v_steps IS NULL THEN
        RETURN;
    END IF;

    SELECT jsonb_object_agg(s.step_uuid::text, jsonb_build_object(
               'attempts', s.attempts, 'last_error', s.last_error, 'task_state', t.state))
      INTO v_before
      FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
     WHERE s.step_uuid = ANY (v_steps);

    PERFORM tasker.transition_steps(v_steps, 'reset', NULL,
        jsonb_build_object('reason', coalesce(f ->> 'reason', 'batch retry'), 'filter', f - 'reason'));
    FOREACH v_task IN ARRAY v_tasks LOOP
        PERFORM tasker._evaluate_task(v_task);
    END LOOP;
    PERFORM pg_notify('tasker_steps_ready', '');

    RETURN QUERY
    SELECT s.step_uuid, s.task_uuid, t.namespace, t.name, s.name,
           (v_before -> s.step_uuid::text ->> 'attempts')::integer,
           v_before -> s.step_uuid::text -> 'last_error',
           v_before -> s.step_uuid::text ->> 'task_state',
           t.state
      FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
     WHERE s.step_uuid = ANY (v_steps)
     ORDER BY s.step_uuid;
END;
$_$;

--
-- Name: FUNCTION retry_failed_steps(p_filter jsonb); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.retry_failed_steps(p_filter jsonb) IS 'Batch retry: resets every failed step matching the filter (error -> pending, attempts 0) and makes its task run again; dry_run only reports. TK004 for an unknown key or a mistyped value. A second identical call finds nothing. Returns one row per step reset (or that would be).';

--
-- Name: set_worker_namespaces(name, text[]); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.set_worker_namespaces(p_role name, p_namespaces text[]) RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
DECLARE
    v_bad text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = p_role) THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('unknown role %s', p_role);
    END IF;
    SELECT n INTO v_bad FROM unnest(coalesce(p_namespaces, '{}')) AS n
     WHERE n IS NULL OR (n <> '*' AND n !~ '^[a-z][a-z0-9_]{0,33}$') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = format('invalid namespace %s', coalesce(v_bad, 'NULL')),
            HINT = 'a namespace name (^[a-z][a-z0-9_]{0,33}$) or ''*'' for every namespace';
    END IF;
    DELETE FROM tasker.worker_namespaces w WHERE w.role_name = p_role;
    INSERT INTO tasker.worker_namespaces (role_name, namespace)
    SELECT DISTINCT p_role, n FROM unnest(coalesce(p_namespaces, '{}')) AS n;
    RETURN QUERY SELECT w.namespace FROM tasker.worker_namespaces w WHERE w.role_name = p_role ORDER BY w.namespace;
END;
$_$;

--
-- Name: FUNCTION set_worker_namespaces(p_role name, p_namespaces text[]); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.set_worker_namespaces(p_role name, p_namespaces text[]) IS 'The namespaces a worker role may serve, replacing its previous list: ''*'' for every namespace, an empty array for none. Returns the namespaces now allowed. TK002 unknown role, TK004 invalid namespace.';

--
-- Name: slowest_steps(integer, integer, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.slowest_steps(p_limit integer DEFAULT 10, p_hours integer DEFAULT 24, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(namespace text, task_name text, step_name text, executions bigint, mean_ms double precision, p95_ms double precision, error_rate double precision)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    SELECT s.namespace, t.name, s.name,
           count(*) FILTER (WHERE s.state = 'complete' AND s.claimed_at IS NOT NULL),
           coalesce(avg(extract(epoch FROM s.completed_at - s.claimed_at) * 1000)
               FILTER (WHERE s.state = 'complete' AND s.claimed_at IS NOT NULL), 0)::float8,
           coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM s.completed_at - s.claimed_at) * 1000)
               FILTER (WHERE s.state = 'complete' AND s.claimed_at IS NOT NULL), 0)::float8,
           (count(*) FILTER (WHERE s.state = 'error'))::float8 / count(*)
      FROM tasker.tasks t
      JOIN tasker.workflow_steps s ON s.task_uuid = t.task_uuid
     WHERE t.created_at >= coalesce(p_now, now()) - make_interval(hours => p_hours)
     GROUP BY s.namespace, t.name, s.name
     ORDER BY 5 DESC, 4 DESC
     LIMIT greatest(p_limit, 0);
$$;

--
-- Name: FUNCTION slowest_steps(p_limit integer, p_hours integer, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.slowest_steps(p_limit integer, p_hours integer, p_now timestamp with time zone) IS 'The slowest steps (by namespace, template and step name) of tasks created in the last p_hours hours: mean and p95 claim-to-completion time and error rate, slowest first.';

--
-- Name: slowest_templates(integer, integer, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.slowest_templates(p_limit integer DEFAULT 10, p_hours integer DEFAULT 24, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(namespace text, name text, version text, tasks bigint, mean_ms double precision, p95_ms double precision)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    SELECT t.namespace, t.name, t.version, count(*),
           avg(extract(epoch FROM t.completed_at - t.created_at) * 1000)::float8,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM t.completed_at - t.created_at) * 1000)::float8
      FROM tasker.tasks t
     WHERE t.state = 'complete' AND t.created_at >= coalesce(p_now, now()) - make_interval(hours => p_hours)
     GROUP BY t.namespace, t.name, t.version
     ORDER BY 5 DESC
     LIMIT greatest(p_limit, 0);
$$;

--
-- Name: FUNCTION slowest_templates(p_limit integer, p_hours integer, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.slowest_templates(p_limit integer, p_hours integer, p_now timestamp with time zone) IS 'The slowest templates of complete tasks created in the last p_hours hours: mean and p95 task duration, slowest first.';

--
-- Name: stale_steps(integer, integer, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.stale_steps(p_grace_seconds integer DEFAULT 60, p_limit integer DEFAULT 100, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(step_uuid uuid, task_uuid uuid, namespace text, step_name text, state text, attempts integer, max_attempts integer, since timestamp with time zone, overdue interval, dispatch_msg_id bigint, message_present boolean)
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $_$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_queue record;
BEGIN
    IF p_grace_seconds IS NULL OR p_grace_seconds < 0 OR p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('stale_steps: grace_seconds must be >= 0 and limit >= 1, got %s and %s',
                             coalesce(p_grace_seconds::text, 'NULL'), coalesce(p_limit::text, 'NULL'));
    END IF;
    FOR v_queue IN
        SELECT n.name AS namespace, n.queue_name
          FROM tasker.namespaces n ORDER BY n.name
    LOOP
        RETURN QUERY EXECUTE format(
            'SELECT s.step_uuid, s.task_uuid, s.namespace, s.name, s.state, s.attempts, s.max_attempts,
                    coalesce(s.claimed_at, s.enqueued_at),
                    $2 - (coalesce(s.claimed_at, s.enqueued_at) + make_interval(secs => s.timeout_seconds + $3)),
                    s.dispatch_msg_id,
                    EXISTS (SELECT 1 FROM pgmq.%I q
                             WHERE q.msg_id = s.dispatch_msg_id
                                OR (s.dispatch_msg_id IS NULL AND q.message ->> ''step_uuid'' = s.step_uuid::text))
               FROM tasker.workflow_steps s
              WHERE s.task_uuid = ANY (ARRAY(SELECT t.task_uuid FROM tasker.tasks t
                                              WHERE t.state = ANY (tasker._active_task_states())))
                AND s.namespace = $1 AND s.state IN (''enqueued'', ''in_progress'')
                AND coalesce(s.claimed_at, s.enqueued_at) + make_interval(secs => s.timeout_seconds + $3) < $2
              ORDER BY coalesce(s.claimed_at, s.enqueued_at)
              LIMIT $4',
            'q_' || v_queue.queue_name)
          USING v_queue.namespace, v_now, p_grace_seconds, p_limit;
    END LOOP;
END;
$_$;

--
-- Name: FUNCTION stale_steps(p_grace_seconds integer, p_limit integer, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.stale_steps(p_grace_seconds integer, p_limit integer, p_now timestamp with time zone) IS 'Read-only: steps enqueued or in_progress past their timeout plus grace, oldest first per namespace, with whether their dispatch message still exists (what tasker.sweep_stale_steps would fail). TK004 bad arguments.';

--
-- Name: state_counts(); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.state_counts() RETURNS TABLE(kind text, state text, count bigint)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    SELECT 'task', t.state, count(*) FROM tasker.tasks t GROUP BY t.state
    UNION ALL
    SELECT 'step', s.state, count(*) FROM tasker.workflow_steps s GROUP BY s.state;
$$;

--
-- Name: FUNCTION state_counts(); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.state_counts() IS 'How many tasks and steps are in each state: one row per (kind, state) that has rows. For dashboards, not hot paths.';

--
-- Name: step_transitions(uuid); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.step_transitions(p_step_uuid uuid) RETURNS TABLE(id bigint, from_state text, to_state text, event text, attempt integer, metadata jsonb, created_at timestamp with time zone)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    -- Through the history's key (task_uuid, xid, id): there is no index by step.
    SELECT h.id, h.from_state, h.to_state, h.event, h.attempt, h.metadata, h.created_at
      FROM tasker.workflow_step_transitions h
     WHERE h.task_uuid = (SELECT s.task_uuid FROM tasker.workflow_steps s WHERE s.step_uuid = p_step_uuid)
       AND h.step_uuid = p_step_uuid
     ORDER BY h.id;
$$;

--
-- Name: FUNCTION step_transitions(p_step_uuid uuid); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.step_transitions(p_step_uuid uuid) IS 'A step''s state history, oldest first; no rows for an unknown step.';

--
-- Name: submit_and_claim(jsonb, text, integer, integer, text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.submit_and_claim(p_results jsonb, p_namespace text, p_limit integer DEFAULT 10, p_vt_seconds integer DEFAULT 30, p_worker text DEFAULT NULL::text) RETURNS TABLE(step_uuid uuid, accepted boolean, msg_id bigint, task_uuid uuid, attempt integer, max_attempts integer, namespace text, task_name text, task_version text, step_name text, handler text, timeout_seconds integer, context jsonb, inputs jsonb, parent_results jsonb)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
#variable_conflict use_column
DECLARE
    v_named    uuid[];
    v_accepted boolean[];
    v_claimed  uuid[];
BEGIN
    SELECT array_agg(r.step_uuid ORDER BY r.ord) FILTER (WHERE r.accepted IS NOT NULL),
           array_agg(r.accepted ORDER BY r.ord) FILTER (WHERE r.accepted IS NOT NULL),
           array_agg(r.step_uuid ORDER BY r.step_uuid) FILTER (WHERE r.accepted IS NULL)
      INTO v_named, v_accepted, v_claimed
      FROM tasker._submit_step_results(p_results, NULL, p_namespace, p_limit, p_vt_seconds, p_worker)
           WITH ORDINALITY AS r (step_uuid, accepted, ord);
    RETURN QUERY
    SELECT r.step_uuid, r.accepted, NULL::bigint, NULL::uuid, NULL::integer, NULL::integer, NULL::text,
           NULL::text, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb, NULL::jsonb, NULL::jsonb
      FROM unnest(v_named, v_accepted) WITH ORDINALITY AS r (step_uuid, accepted, ord)
     ORDER BY r.ord;
    RETURN QUERY
    SELECT c.step_uuid, NULL::boolean, c.msg_id, c.task_uuid, c.attempt, c.max_attempts, c.namespace,
           c.task_name, c.task_version, c.step_name, c.handler, c.timeout_seconds, c.context, c.inputs,
           c.parent_results
      FROM tasker._claim_steps(p_namespace, p_limit, p_vt_seconds, p_worker, NULL, v_claimed) c;
END;
$$;

--
-- Name: FUNCTION submit_and_claim(p_results jsonb, p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.submit_and_claim(p_results jsonb, p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text) IS 'A worker''s acknowledgement and its next claim in one transaction and one durable commit: submit_step_results(p_results), then up to p_limit steps of p_namespace claimed, first the children these results released (claimed as they are released), then from the queue as claim_steps(p_namespace, ..., p_vt_seconds, p_worker) does. Returns one row per result (step_uuid, accepted; other columns NULL), then one per claimed step (accepted NULL). Any error undoes the whole call: submit the results again alone. Executable by tasker_worker.';

--
-- Name: submit_step_result(uuid, integer, bigint, text, jsonb, jsonb, bigint); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.submit_step_result(p_step_uuid uuid, p_attempt integer, p_msg_id bigint, p_status text, p_result jsonb DEFAULT NULL::jsonb, p_error jsonb DEFAULT NULL::jsonb, p_retry_after_ms bigint DEFAULT NULL::bigint) RETURNS boolean
    LANGUAGE sql
    SET search_path TO ''
    AS $$
    SELECT r.accepted
      FROM tasker.submit_step_results(jsonb_build_array(
               jsonb_build_object('step_uuid', p_step_uuid, 'attempt', p_attempt, 'msg_id', p_msg_id, 'status', p_status)
               || CASE WHEN p_result IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('result', p_result) END
               || CASE WHEN p_error IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('error', p_error) END
               || CASE WHEN p_retry_after_ms IS NULL THEN '{}'::jsonb
                       ELSE jsonb_build_object('retry_after_ms', p_retry_after_ms) END)) r;
$$;

--
-- Name: FUNCTION submit_step_result(p_step_uuid uuid, p_attempt integer, p_msg_id bigint, p_status text, p_result jsonb, p_error jsonb, p_retry_after_ms bigint); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.submit_step_result(p_step_uuid uuid, p_attempt integer, p_msg_id bigint, p_status text, p_result jsonb, p_error jsonb, p_retry_after_ms bigint) IS 'One result; see tasker.submit_step_results. Returns accepted.';

--
-- Name: submit_step_results(jsonb, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.submit_step_results(p_results jsonb, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(step_uuid uuid, accepted boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
    RETURN QUERY SELECT * FROM tasker._submit_step_results(p_results, p_now, NULL, 0, NULL, NULL);
END;
$$;

--
-- Name: FUNCTION submit_step_results(p_results jsonb, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.submit_step_results(p_results jsonb, p_now timestamp with time zone) IS 'The worker''s acknowledgement, applied in its own transaction: per result, when the step is in_progress on that attempt with that dispatch message, applies it (apply_step_results: complete, retry or fail, dispatch ready children, complete the task with its last step or flag it for the finalizer) and deletes the dispatch message, all or nothing (accepted); otherwise touches nothing. p_now is honoured for the owning role only. Executable by tasker_worker for steps of its namespaces (42501 otherwise). Malformed input raises TK004 and applies nothing. Returns (step_uuid, accepted) per element.';

--
-- Name: sweep_stale_steps(integer, integer, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.sweep_stale_steps(p_grace_seconds integer DEFAULT 60, p_limit integer DEFAULT 100, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $_$
DECLARE
    v_now    timestamptz := coalesce(p_now, now());
    v_queue  record;
    v_lost   uuid[] := '{}'::uuid[];
    v_ids    uuid[];
    v_results jsonb;
    v_applied integer;
    v_failed uuid[];
    v_count  integer := 0;
BEGIN
    FOR v_queue IN
        SELECT n.queue_name, array_agg(s.step_uuid) AS steps, array_agg(s.dispatch_msg_id) AS msg_ids
          FROM (SELECT s.step_uuid, s.namespace, s.dispatch_msg_id
                  FROM tasker.workflow_steps s
                 -- The tasks first, as an array: the steps are then read through
                 -- workflow_steps_name_unique, never by a walk of the whole primary key.
                 WHERE s.task_uuid = ANY (ARRAY(SELECT t.task_uuid FROM tasker.tasks t
                                                 WHERE t.state = ANY (tasker._active_task_states())))
                   AND s.state IN ('enqueued', 'in_progress')
                   AND coalesce(s.claimed_at, s.enqueued_at) + make_interval(secs => s.timeout_seconds + p_grace_seconds) < v_now
                 ORDER BY s.step_uuid
                 LIMIT greatest(p_limit, 0)
                   FOR UPDATE SKIP LOCKED) s
          JOIN tasker.namespaces n ON n.name = s.namespace
         GROUP BY n.queue_name
    LOOP
        -- Enqueued steps have no dispatch_msg_id yet: their message is found by its body.
        EXECUTE format(
            'SELECT array_agg(u) FROM unnest($1::uuid[], $2::bigint[]) AS x (u, m)
              WHERE NOT EXISTS (SELECT 1 FROM pgmq.%I q
                                 WHERE q.msg_id = x.m OR (x.m IS NULL AND q.message ->> ''step_uuid'' = x.u::text))',
            'q_' || v_queue.queue_name)
          INTO v_ids USING v_queue.steps, v_queue.msg_ids;
        v_lost := v_lost || coalesce(v_ids, '{}');
    END LOOP;

    SELECT jsonb_agg(jsonb_build_object(
               'step_uuid', s.step_uuid, 'task_uuid', s.task_uuid, 'attempt', s.attempts,
               'msg_id', s.dispatch_msg_id,
               'status', CASE WHEN s.attempts < s.max_attempts THEN 'retryable_error' ELSE 'permanent_error' END,
               'error', jsonb_build_object('class', 'Stale',
                   'message', format('step %s: no result %s after its timeout and its queue message is gone',
                                     s.name, p_grace_seconds || 's'))) ORDER BY s.step_uuid)
      INTO v_results
      -- (OFFSET 0: read by primary key.)
      FROM (SELECT * FROM tasker.workflow_steps w WHERE w.step_uuid = ANY (v_lost) OFFSET 0) s
     WHERE s.state = 'in_progress';
    IF v_results IS NOT NULL THEN
        SELECT a.retried + a.failed INTO v_applied FROM tasker.apply_step_results(v_results, v_now) a;
        v_count := v_count + v_applied;
    END IF;

    SELECT array_agg(s.step_uuid ORDER BY s.step_uuid) INTO v_failed
      FROM (SELECT * FROM tasker.workflow_steps w WHERE w.step_uuid = ANY (v_lost) OFFSET 0) s
     WHERE s.state = 'enqueued';
    IF v_failed IS NOT NULL THEN
        PERFORM tasker.transition_steps(v_failed, 'fail',
            array_fill(jsonb_build_object('error', jsonb_build_object('class', 'Stale',
                'message', 'step was enqueued but its queue message is gone')), ARRAY[cardinality(v_failed)]),
            NULL, v_now);
        UPDATE tasker.tasks t SET finalization_requested_at = coalesce(t.finalization_requested_at, v_now)
         WHERE t.task_uuid IN (SELECT s.task_uuid FROM tasker.workflow_steps s WHERE s.step_uuid = ANY (v_failed));
        v_count := v_count + cardinality(v_failed);
        PERFORM pg_notify('tasker_task_finalize', '');
    END IF;
    RETURN v_count;
END;
$_$;

--
-- Name: FUNCTION sweep_stale_steps(p_grace_seconds integer, p_limit integer, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.sweep_stale_steps(p_grace_seconds integer, p_limit integer, p_now timestamp with time zone) IS 'The staleness sweeper''s call: fails steps enqueued or in_progress past their timeout plus p_grace_seconds whose queue message has vanished, at once under their row locks (apply_step_results for in-progress steps: a Stale retry while attempts remain, else a failure); steps locked elsewhere are skipped. Returns the number of steps failed or scheduled for retry.';

--
-- Name: task_history_after(uuid, pg_snapshot); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.task_history_after(p_task_uuid uuid, p_after pg_snapshot) RETURNS TABLE(kind text, id bigint, step_uuid uuid, step_name text, step_position integer, from_state text, to_state text, event text, attempt integer, metadata jsonb, created_at timestamp with time zone)
    LANGUAGE sql STABLE
    SET search_path TO ''
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
    SELECT x.kind, x.id, x.step_uuid, x.step_name, x.step_position, x.from_state, x.to_state, x.event,
           x.attempt, x.metadata, x.created_at
      FROM (SELECT 'task' AS kind, h.id, NULL::uuid AS step_uuid, NULL::text AS step_name,
                   NULL::integer AS step_position, h.from_state, h.to_state, h.event, NULL::integer AS attempt,
                   h.metadata, h.created_at, 1 AS kind_order
              FROM tasker.task_transitions h
             WHERE h.task_uuid = p_task_uuid
               AND h.xid >= pg_catalog.pg_snapshot_xmin(p_after)
               AND NOT pg_catalog.pg_visible_in_snapshot(h.xid, p_after)
            UNION ALL
            SELECT 'step', h.id, h.step_uuid, s.name, s.position, h.from_state, h.to_state, h.event, h.attempt,
                   h.metadata, h.created_at, 0
              FROM tasker.workflow_step_transitions h
              JOIN tasker.workflow_steps s ON s.step_uuid = h.step_uuid
             WHERE h.task_uuid = p_task_uuid
               AND h.xid >= pg_catalog.pg_snapshot_xmin(p_after)
               AND NOT pg_catalog.pg_visible_in_snapshot(h.xid, p_after)) x
     ORDER BY x.created_at, x.kind_order, x.id;
$$;

--
-- Name: FUNCTION task_history_after(p_task_uuid uuid, p_after pg_snapshot); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.task_history_after(p_task_uuid uuid, p_after pg_snapshot) IS 'The state changes of a task and its steps committed after the given snapshot (commit-ordered follower cursor).';

--
-- Name: task_history_since(uuid, bigint, bigint); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.task_history_since(p_task_uuid uuid, p_after_task_id bigint DEFAULT 0, p_after_step_id bigint DEFAULT 0) RETURNS TABLE(kind text, id bigint, step_uuid uuid, step_name text, step_position integer, from_state text, to_state text, event text, attempt integer, metadata jsonb, created_at timestamp with time zone)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    SELECT x.kind, x.id, x.step_uuid, x.step_name, x.step_position, x.from_state, x.to_state, x.event,
           x.attempt, x.metadata, x.created_at
      FROM (SELECT 'task' AS kind, h.id, NULL::uuid AS step_uuid, NULL::text AS step_name,
                   NULL::integer AS step_position, h.from_state, h.to_state, h.event, NULL::integer AS attempt,
                   h.metadata, h.created_at, 1 AS kind_order
              FROM tasker.task_transitions h
             WHERE h.task_uuid = p_task_uuid AND h.id > coalesce(p_after_task_id, 0)
            UNION ALL
            SELECT 'step', h.id, h.step_uuid, s.name, s.position, h.from_state, h.to_state, h.event, h.attempt,
                   h.metadata, h.created_at, 0
              FROM tasker.workflow_step_transitions h
              JOIN tasker.workflow_steps s ON s.step_uuid = h.step_uuid
             WHERE h.task_uuid = p_task_uuid AND h.id > coalesce(p_after_step_id, 0)) x
     ORDER BY x.created_at, x.kind_order, x.id;
$$;

--
-- Name: FUNCTION task_history_since(p_task_uuid uuid, p_after_task_id bigint, p_after_step_id bigint); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.task_history_since(p_task_uuid uuid, p_after_task_id bigint, p_after_step_id bigint) IS 'Every state change of a task and of its steps with a history id above the given ones, in the order they happened.';

--
-- Name: task_transitions_of(uuid); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.task_transitions_of(p_task_uuid uuid) RETURNS TABLE(id bigint, from_state text, to_state text, event text, metadata jsonb, created_at timestamp with time zone)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    SELECT h.id, h.from_state, h.to_state, h.event, h.metadata, h.created_at
      FROM tasker.task_transitions h
     WHERE h.task_uuid = p_task_uuid
     ORDER BY h.id;
$$;

--
-- Name: FUNCTION task_transitions_of(p_task_uuid uuid); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.task_transitions_of(p_task_uuid uuid) IS 'A task''s state history, oldest first; no rows for an unknown task.';

--
-- Name: throughput_series(integer, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.throughput_series(p_hours integer DEFAULT 24, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(bucket_start timestamp with time zone, tasks_created bigint, tasks_completed bigint, tasks_failed bigint)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    WITH w AS (
        SELECT date_trunc('hour', coalesce(p_now, now())) AS last_bucket,
               date_trunc('hour', coalesce(p_now, now()))
                   - make_interval(hours => least(greatest(p_hours, 1), 2160) - 1) AS first_bucket
    ),
    b AS (
        SELECT g AS bucket_start FROM w, generate_series(w.first_bucket, w.last_bucket, interval '1 hour') AS g
    ),
    created AS (
        SELECT date_trunc('hour', x.created_at) AS bucket_start, count(*) AS n
          FROM tasker.tasks x, w
         WHERE x.created_at >= w.first_bucket
         GROUP BY 1
    ),
    finished AS (
        SELECT date_trunc('hour', x.completed_at) AS bucket_start,
               count(*) FILTER (WHERE x.state = 'complete') AS completed,
               count(*) FILTER (WHERE x.state = 'error') AS failed
          FROM tasker.tasks x, w
         WHERE x.completed_at >= w.first_bucket
         GROUP BY 1
    )
    SELECT b.bucket_start, coalesce(c.n, 0), coalesce(f.completed, 0), coalesce(f.failed, 0)
      FROM b
      LEFT JOIN created c ON c.bucket_start = b.bucket_start
      LEFT JOIN finished f ON f.bucket_start = b.bucket_start
     ORDER BY b.bucket_start;
$$;

--
-- Name: FUNCTION throughput_series(p_hours integer, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.throughput_series(p_hours integer, p_now timestamp with time zone) IS 'Tasks created, completed and failed per hour over the last p_hours hours (1-2160), one row per hour, oldest first, zeros included.';

--
-- Name: transition_steps(uuid[], text, jsonb[], jsonb, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.transition_steps(p_step_uuids uuid[], p_event text, p_payloads jsonb[] DEFAULT NULL::jsonb[], p_metadata jsonb DEFAULT NULL::jsonb, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(step_uuid uuid, task_uuid uuid, from_state text, to_state text, attempts integer)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
#variable_conflict use_column
DECLARE
    v_check record;
BEGIN
    -- Lock in step_uuid order and check every move in one pass; the old states are kept for
    -- the rows returned.
    SELECT count(*) AS found,
           coalesce(bool_and(x.allowed), true) AS allowed,
           (SELECT count(DISTINCT u) FROM unnest(p_step_uuids) AS u) AS wanted,
           array_agg(x.step_uuid) AS steps, array_agg(x.task_uuid) AS tasks, array_agg(x.state) AS states
      INTO v_check
      FROM (SELECT s.step_uuid, s.task_uuid, s.state,
                   EXISTS (SELECT 1 FROM tasker.step_state_transitions m
                            WHERE m.from_state = s.state AND m.event = p_event) AS allowed
              FROM tasker.workflow_steps s
             WHERE s.step_uuid = ANY (p_step_uuids)
             ORDER BY s.step_uuid
               FOR UPDATE) x;
    IF v_check.found < v_check.wanted OR NOT v_check.allowed THEN
        PERFORM tasker._raise_unmovable_step(p_step_uuids, p_event);
    END IF;

    PERFORM tasker._move_steps(p_step_uuids, p_event, p_payloads, p_metadata, p_now);

    RETURN QUERY
    SELECT x.step_uuid, x.task_uuid, x.from_state, s.state, s.attempts
      FROM unnest(v_check.steps, v_check.tasks, v_check.states) AS x (step_uuid, task_uuid, from_state)
      JOIN tasker.workflow_steps s ON s.step_uuid = x.step_uuid
     ORDER BY x.step_uuid;
END;
$$;

--
-- Name: FUNCTION transition_steps(p_step_uuids uuid[], p_event text, p_payloads jsonb[], p_metadata jsonb, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.transition_steps(p_step_uuids uuid[], p_event text, p_payloads jsonb[], p_metadata jsonb, p_now timestamp with time zone) IS 'The public entry to a step''s state machine: locks the steps in step_uuid order, checks every move against tasker.step_state_transitions (TK001; TK002 for an unknown step; nothing changes on error), then moves them (tasker._move_steps: the event''s side effects, one history row per step, tasker_steps_changed). Returns one row per step moved.';

--
-- Name: transition_tasks(uuid[], text, jsonb, timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.transition_tasks(p_task_uuids uuid[], p_event text, p_metadata jsonb DEFAULT NULL::jsonb, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(task_uuid uuid, from_state text, to_state text)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_id   uuid;
    v_from text;
BEGIN
    FOR v_id IN SELECT DISTINCT u FROM unnest(p_task_uuids) AS u ORDER BY u LOOP
        SELECT t.state INTO v_from FROM tasker.tasks t WHERE t.task_uuid = v_id;
        task_uuid := v_id;
        to_state := tasker._move_task(v_id, ARRAY[p_event], p_metadata, p_now);
        from_state := v_from;
        RETURN NEXT;
    END LOOP;
END;
$$;

--
-- Name: FUNCTION transition_tasks(p_task_uuids uuid[], p_event text, p_metadata jsonb, p_now timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.transition_tasks(p_task_uuids uuid[], p_event text, p_metadata jsonb, p_now timestamp with time zone) IS 'Applies one event to several tasks, in task_uuid order, through the task state machine; all or nothing (TK001 illegal move, TK002 unknown task). Returns (task_uuid, from_state, to_state) per task moved.';

--
-- Name: dlq_entries; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.dlq_entries (
    id bigint NOT NULL,
    task_uuid uuid NOT NULL,
    reason text NOT NULL,
    task_state text NOT NULL,
    snapshot jsonb NOT NULL,
    resolution_status text DEFAULT 'pending'::text NOT NULL,
    resolution_notes text,
    resolved_by text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    resolved_at timestamp with time zone,
    CONSTRAINT dlq_entries_status_known CHECK ((resolution_status = ANY (ARRAY['pending'::text, 'investigating'::text, 'resolved'::text, 'retried'::text, 'discarded'::text])))
);

--
-- Name: update_dlq_entry(bigint, text, text, text); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.update_dlq_entry(p_id bigint, p_status text DEFAULT NULL::text, p_notes text DEFAULT NULL::text, p_resolved_by text DEFAULT NULL::text) RETURNS tasker.dlq_entries
    LANGUAGE plpgsql
    SET search_path TO ''
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_entry tasker.dlq_entries;
BEGIN
    IF p_status IS NOT NULL AND p_status NOT IN ('pending', 'investigating', 'resolved', 'retried', 'discarded') THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('unknown DLQ status ''%s''', p_status),
            HINT = 'statuses are pending, investigating, resolved, retried, discarded';
    END IF;
    UPDATE tasker.dlq_entries d
       SET resolution_status = coalesce(p_status, d.resolution_status),
           resolution_notes = CASE WHEN p_notes IS NULL THEN d.resolution_notes
                                   ELSE coalesce(d.resolution_notes || E'\n', '') || p_notes END,
           resolved_by = coalesce(p_resolved_by, d.resolved_by),
           resolved_at = CASE WHEN coalesce(p_status, d.resolution_status) IN ('resolved', 'retried', 'discarded')
                              THEN coalesce(d.resolved_at, now()) END,
           updated_at = now()
     WHERE d.id = p_id
    RETURNING d.* INTO v_entry;
    IF v_entry.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('DLQ entry %s not found', p_id);
    END IF;
    RETURN v_entry;
END;
$$;

--
-- Name: FUNCTION update_dlq_entry(p_id bigint, p_status text, p_notes text, p_resolved_by text); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.update_dlq_entry(p_id bigint, p_status text, p_notes text, p_resolved_by text) IS 'Records an investigation of a DLQ entry: status (TK004 if unknown), notes appended, resolved_by; the task is not touched. TK002 unknown id. Returns the updated entry.';

--
-- Name: uuid_v7(timestamp with time zone); Type: FUNCTION; Schema: tasker; Owner: -
--

CREATE FUNCTION tasker.uuid_v7(p_ts timestamp with time zone DEFAULT clock_timestamp()) RETURNS uuid
    LANGUAGE sql PARALLEL SAFE
    AS $$
    -- 15 hex digits of time in 1/4096 ms (48 bits of milliseconds, 12 of fraction), the version
    -- digit 7 inserted between them, then the last 16 hex digits of a random version 4 UUID (its
    -- variant bits included). p_ts appears once, so even the default clock_timestamp() inlines.
    SELECT (overlay(pg_catalog.lpad(pg_catalog.to_hex(
                        pg_catalog.floor(pg_catalog.date_part('epoch', p_ts) * 4096000)::bigint), 15, '0')
                    PLACING '7' FROM 13 FOR 0)
            || pg_catalog.right(pg_catalog.encode(pg_catalog.uuid_send(pg_catalog.gen_random_uuid()), 'hex'), 16))::uuid
$$;

--
-- Name: FUNCTION uuid_v7(p_ts timestamp with time zone); Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON FUNCTION tasker.uuid_v7(p_ts timestamp with time zone) IS 'A time-ordered UUID (RFC 9562 version 7): the first 48 bits are the Unix time of p_ts in milliseconds, the next 12 its fraction of a millisecond, the rest random, so ids sort by creation time.';

--
-- Name: dlq_entries_id_seq; Type: SEQUENCE; Schema: tasker; Owner: -
--

ALTER TABLE tasker.dlq_entries ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME tasker.dlq_entries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: tasks; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.tasks (
    task_uuid uuid NOT NULL,
    template_uuid uuid NOT NULL,
    namespace text NOT NULL,
    name text NOT NULL,
    version text NOT NULL,
    state text NOT NULL,
    context jsonb DEFAULT '{}'::jsonb NOT NULL,
    priority integer DEFAULT 0 NOT NULL,
    tags text[] DEFAULT '{}'::text[] NOT NULL,
    initiator text,
    source_system text,
    reason text,
    idempotency_key text,
    request_hash text NOT NULL,
    correlation_id uuid NOT NULL,
    step_count integer NOT NULL,
    last_error jsonb,
    finalization_requested_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    CONSTRAINT tasks_completed_at_iff_final CHECK (((completed_at IS NOT NULL) = (state = ANY (ARRAY['complete'::text, 'error'::text, 'cancelled'::text, 'resolved_manually'::text])))),
    CONSTRAINT tasks_state_known CHECK ((state = ANY (ARRAY['pending'::text, 'initializing'::text, 'enqueuing_steps'::text, 'steps_in_process'::text, 'evaluating_results'::text, 'waiting_for_dependencies'::text, 'waiting_for_retry'::text, 'blocked_by_failures'::text, 'complete'::text, 'error'::text, 'cancelled'::text, 'resolved_manually'::text]))),
    CONSTRAINT tasks_step_count_positive CHECK ((step_count > 0))
)
WITH (autovacuum_vacuum_scale_factor='0.02', autovacuum_vacuum_threshold='1000', autovacuum_analyze_scale_factor='0.02', autovacuum_analyze_threshold='1000', autovacuum_vacuum_cost_limit='2000');

--
-- Name: dlq_overview; Type: VIEW; Schema: tasker; Owner: -
--

CREATE VIEW tasker.dlq_overview AS
 SELECT d.id,
    d.task_uuid,
    t.namespace,
    t.name,
    t.version,
    d.task_state AS state_at_entry,
    t.state AS task_state_now,
    d.reason,
    d.resolution_status,
    d.resolution_notes,
    d.resolved_by,
    d.snapshot,
    ARRAY( SELECT (x.value ->> 'name'::text)
           FROM jsonb_array_elements((d.snapshot -> 'steps'::text)) x(value)
          WHERE ((x.value ->> 'state'::text) = 'error'::text)) AS failed_steps,
    (now() - d.created_at) AS age,
    d.created_at,
    d.updated_at,
    d.resolved_at
   FROM (tasker.dlq_entries d
     JOIN tasker.tasks t ON ((t.task_uuid = d.task_uuid)));

--
-- Name: VIEW dlq_overview; Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON VIEW tasker.dlq_overview IS 'The dead letter queue: one row per entry with the task''s state then and now, the reason, the investigation and the snapshot.';

--
-- Name: namespaces; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.namespaces (
    name text NOT NULL,
    queue_name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT namespaces_name_format CHECK ((name ~ '^[a-z][a-z0-9_]{0,33}$'::text))
);

--
-- Name: settings; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.settings (
    key text NOT NULL,
    value jsonb NOT NULL,
    description text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT settings_template_limits_positive_integers CHECK (((key <> ALL (ARRAY['template.max_steps'::text, 'template.max_fan_in'::text])) OR ((jsonb_typeof(value) = 'number'::text) AND (((value)::numeric % (1)::numeric) = (0)::numeric) AND (((value)::numeric >= (1)::numeric) AND ((value)::numeric <= (1000000)::numeric)))))
);

--
-- Name: sql_applied; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.sql_applied (
    file_name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: workflow_step_edges; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.workflow_step_edges (
    from_step_uuid uuid NOT NULL,
    to_step_uuid uuid NOT NULL,
    CONSTRAINT workflow_step_edges_no_self_loop CHECK ((from_step_uuid <> to_step_uuid))
);

--
-- Name: workflow_steps; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.workflow_steps (
    step_uuid uuid NOT NULL,
    task_uuid uuid NOT NULL,
    name text NOT NULL,
    handler text NOT NULL,
    "position" integer NOT NULL,
    namespace text NOT NULL,
    state text NOT NULL,
    priority integer DEFAULT 0 NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    max_attempts integer NOT NULL,
    backoff text NOT NULL,
    backoff_base_ms integer NOT NULL,
    backoff_max_ms integer NOT NULL,
    timeout_seconds integer NOT NULL,
    parents_total integer NOT NULL,
    parents_pending integer NOT NULL,
    ready_at timestamp with time zone,
    next_retry_at timestamp with time zone,
    inputs jsonb DEFAULT '{}'::jsonb NOT NULL,
    results jsonb,
    last_error jsonb,
    dispatch_msg_id bigint,
    enqueued_at timestamp with time zone,
    claimed_at timestamp with time zone,
    completed_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT workflow_steps_attempts_range CHECK ((attempts >= 0)),
    CONSTRAINT workflow_steps_backoff_known CHECK ((backoff = ANY (ARRAY['none'::text, 'linear'::text, 'exponential'::text]))),
    CONSTRAINT workflow_steps_completed_at_iff_satisfied CHECK (((completed_at IS NOT NULL) = (state = ANY (ARRAY['complete'::text, 'resolved_manually'::text])))),
    CONSTRAINT workflow_steps_max_attempts_positive CHECK ((max_attempts >= 1)),
    CONSTRAINT workflow_steps_parents_pending_range CHECK (((parents_pending >= 0) AND (parents_pending <= parents_total))),
    CONSTRAINT workflow_steps_ready_only_when_dispatchable CHECK (((ready_at IS NULL) OR ((state = ANY (ARRAY['pending'::text, 'waiting_for_retry'::text])) AND (parents_pending = 0)))),
    CONSTRAINT workflow_steps_retry_time_iff_waiting CHECK (((next_retry_at IS NOT NULL) = (state = 'waiting_for_retry'::text))),
    CONSTRAINT workflow_steps_state_known CHECK ((state = ANY (ARRAY['pending'::text, 'enqueued'::text, 'in_progress'::text, 'waiting_for_retry'::text, 'complete'::text, 'error'::text, 'cancelled'::text, 'resolved_manually'::text])))
)
WITH (autovacuum_vacuum_scale_factor='0.02', autovacuum_vacuum_threshold='1000', autovacuum_analyze_scale_factor='0.02', autovacuum_analyze_threshold='1000', autovacuum_vacuum_cost_limit='2000', fillfactor='50');

--
-- Name: step_overview; Type: VIEW; Schema: tasker; Owner: -
--

CREATE VIEW tasker.step_overview AS
 SELECT s.step_uuid,
    s.task_uuid,
    s.namespace,
    t.name AS task_name,
    t.state AS task_state,
    s.name AS step_name,
    s.handler,
    s."position",
    s.state,
    s.attempts,
    s.max_attempts,
    ARRAY( SELECT p.name
           FROM (tasker.workflow_step_edges e
             JOIN tasker.workflow_steps p ON ((p.step_uuid = e.from_step_uuid)))
          WHERE (e.to_step_uuid = s.step_uuid)
          ORDER BY p."position") AS depends_on,
    s.parents_total,
    s.parents_pending,
    ((s.ready_at IS NOT NULL) AND (s.ready_at <= now())) AS ready,
    s.ready_at,
    s.next_retry_at,
    (s.last_error ->> 'message'::text) AS last_error_message,
    s.last_error,
    s.results,
    s.timeout_seconds,
    s.enqueued_at,
    s.claimed_at,
    s.completed_at,
    (s.completed_at - s.claimed_at) AS last_run_duration,
    s.created_at,
    s.updated_at
   FROM (tasker.workflow_steps s
     JOIN tasker.tasks t ON ((t.task_uuid = s.task_uuid)));

--
-- Name: VIEW step_overview; Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON VIEW tasker.step_overview IS 'One row per step: state, attempts, parents and readiness (ready: the step enqueuer would dispatch it now), next retry, last error, results and timings.';

--
-- Name: step_state_transitions; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.step_state_transitions (
    from_state text NOT NULL,
    event text NOT NULL,
    to_state text NOT NULL
);

--
-- Name: step_states; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.step_states (
    state text NOT NULL,
    is_terminal boolean NOT NULL,
    satisfies_deps boolean NOT NULL,
    description text NOT NULL
);

--
-- Name: task_overview; Type: VIEW; Schema: tasker; Owner: -
--

CREATE VIEW tasker.task_overview AS
 SELECT t.task_uuid,
    t.namespace,
    t.name,
    t.version,
    t.state,
    t.priority,
    t.tags,
    t.initiator,
    t.source_system,
    t.reason,
    t.idempotency_key,
    t.correlation_id,
    t.context,
    t.step_count AS steps_total,
    c.pending AS steps_pending,
    c.enqueued AS steps_enqueued,
    c.in_progress AS steps_in_progress,
    c.waiting_for_retry AS steps_waiting_for_retry,
    c.complete AS steps_complete,
    c.error AS steps_error,
    c.cancelled AS steps_cancelled,
    c.resolved_manually AS steps_resolved_manually,
    round(((100.0 * ((c.complete + c.resolved_manually))::numeric) / (t.step_count)::numeric), 1) AS completion_pct,
    (now() - t.created_at) AS age,
    (t.completed_at - t.created_at) AS duration,
    (t.last_error ->> 'message'::text) AS last_error_message,
    t.last_error,
    t.created_at,
    t.updated_at,
    t.completed_at
   FROM (tasker.tasks t
     CROSS JOIN LATERAL ( SELECT count(*) FILTER (WHERE (s.state = 'pending'::text)) AS pending,
            count(*) FILTER (WHERE (s.state = 'enqueued'::text)) AS enqueued,
            count(*) FILTER (WHERE (s.state = 'in_progress'::text)) AS in_progress,
            count(*) FILTER (WHERE (s.state = 'waiting_for_retry'::text)) AS waiting_for_retry,
            count(*) FILTER (WHERE (s.state = 'complete'::text)) AS complete,
            count(*) FILTER (WHERE (s.state = 'error'::text)) AS error,
            count(*) FILTER (WHERE (s.state = 'cancelled'::text)) AS cancelled,
            count(*) FILTER (WHERE (s.state = 'resolved_manually'::text)) AS resolved_manually
           FROM tasker.workflow_steps s
          WHERE (s.task_uuid = t.task_uuid)) c);

--
-- Name: VIEW task_overview; Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON VIEW tasker.task_overview IS 'One row per task: identity, state, options, step counts per state, completion percentage, age, duration and last error. Filter by task_uuid, state or namespace.';

--
-- Name: task_state_transitions; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.task_state_transitions (
    from_state text NOT NULL,
    event text NOT NULL,
    to_state text NOT NULL
);

--
-- Name: task_states; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.task_states (
    state text NOT NULL,
    is_terminal boolean NOT NULL,
    description text NOT NULL
);

--
-- Name: task_templates; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.task_templates (
    template_uuid uuid NOT NULL,
    namespace text NOT NULL,
    name text NOT NULL,
    version text NOT NULL,
    description text,
    definition jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: task_transitions; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.task_transitions (
    id bigint NOT NULL,
    task_uuid uuid NOT NULL,
    from_state text,
    to_state text NOT NULL,
    event text NOT NULL,
    metadata jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL
)
WITH (autovacuum_vacuum_insert_scale_factor='0.05', autovacuum_vacuum_scale_factor='0.05', autovacuum_vacuum_cost_limit='2000');

--
-- Name: task_transitions_id_seq; Type: SEQUENCE; Schema: tasker; Owner: -
--

ALTER TABLE tasker.task_transitions ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME tasker.task_transitions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: template_overview; Type: VIEW; Schema: tasker; Owner: -
--

CREATE VIEW tasker.template_overview AS
 SELECT t.template_uuid,
    t.namespace,
    t.name,
    t.version,
    t.description,
    jsonb_array_length((t.definition -> 'steps'::text)) AS step_count,
    t.definition,
    t.created_at,
    t.updated_at
   FROM tasker.task_templates t;

--
-- Name: VIEW template_overview; Type: COMMENT; Schema: tasker; Owner: -
--

COMMENT ON VIEW tasker.template_overview IS 'One row per registered template with its step count and normalized definition.';

--
-- Name: worker_namespaces; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.worker_namespaces (
    role_name name NOT NULL,
    namespace text NOT NULL,
    granted_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT worker_namespaces_namespace_format CHECK (((namespace = '*'::text) OR (namespace ~ '^[a-z][a-z0-9_]{0,33}$'::text)))
);

--
-- Name: workflow_step_transitions; Type: TABLE; Schema: tasker; Owner: -
--

CREATE TABLE tasker.workflow_step_transitions (
    id bigint NOT NULL,
    step_uuid uuid NOT NULL,
    task_uuid uuid NOT NULL,
    from_state text,
    to_state text NOT NULL,
    event text NOT NULL,
    attempt integer NOT NULL,
    metadata jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL
)
WITH (autovacuum_vacuum_insert_scale_factor='0.05', autovacuum_vacuum_scale_factor='0.05', autovacuum_vacuum_cost_limit='2000');

--
-- Name: workflow_step_transitions_id_seq; Type: SEQUENCE; Schema: tasker; Owner: -
--

ALTER TABLE tasker.workflow_step_transitions ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME tasker.workflow_step_transitions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: step_executions; Type: TABLE; Schema: tasker_audit; Owner: -
--

CREATE TABLE tasker_audit.step_executions (
    id bigint NOT NULL,
    step_uuid uuid NOT NULL,
    task_uuid uuid NOT NULL,
    attempt integer NOT NULL,
    handler text NOT NULL,
    worker_id text NOT NULL,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone NOT NULL,
    outcome text NOT NULL,
    error jsonb
);

--
-- Name: step_executions_id_seq; Type: SEQUENCE; Schema: tasker_audit; Owner: -
--

ALTER TABLE tasker_audit.step_executions ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME tasker_audit.step_executions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: dlq_entries dlq_entries_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.dlq_entries
    ADD CONSTRAINT dlq_entries_pkey PRIMARY KEY (id);

--
-- Name: namespaces namespaces_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.namespaces
    ADD CONSTRAINT namespaces_pkey PRIMARY KEY (name);

--
-- Name: namespaces namespaces_queue_name_key; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.namespaces
    ADD CONSTRAINT namespaces_queue_name_key UNIQUE (queue_name);

--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (key);

--
-- Name: sql_applied sql_applied_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.sql_applied
    ADD CONSTRAINT sql_applied_pkey PRIMARY KEY (file_name);

--
-- Name: step_state_transitions step_state_transitions_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.step_state_transitions
    ADD CONSTRAINT step_state_transitions_pkey PRIMARY KEY (from_state, event);

--
-- Name: step_states step_states_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.step_states
    ADD CONSTRAINT step_states_pkey PRIMARY KEY (state);

--
-- Name: task_state_transitions task_state_transitions_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.task_state_transitions
    ADD CONSTRAINT task_state_transitions_pkey PRIMARY KEY (from_state, event);

--
-- Name: task_states task_states_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.task_states
    ADD CONSTRAINT task_states_pkey PRIMARY KEY (state);

--
-- Name: task_templates task_templates_identity; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.task_templates
    ADD CONSTRAINT task_templates_identity UNIQUE (namespace, name, version);

--
-- Name: task_templates task_templates_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.task_templates
    ADD CONSTRAINT task_templates_pkey PRIMARY KEY (template_uuid);

--
-- Name: task_transitions task_transitions_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.task_transitions
    ADD CONSTRAINT task_transitions_pkey PRIMARY KEY (task_uuid, xid, id);

--
-- Name: tasks tasks_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.tasks
    ADD CONSTRAINT tasks_pkey PRIMARY KEY (task_uuid);

--
-- Name: worker_namespaces worker_namespaces_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.worker_namespaces
    ADD CONSTRAINT worker_namespaces_pkey PRIMARY KEY (role_name, namespace);

--
-- Name: workflow_step_edges workflow_step_edges_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.workflow_step_edges
    ADD CONSTRAINT workflow_step_edges_pkey PRIMARY KEY (from_step_uuid, to_step_uuid);

--
-- Name: workflow_step_transitions workflow_step_transitions_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.workflow_step_transitions
    ADD CONSTRAINT workflow_step_transitions_pkey PRIMARY KEY (task_uuid, xid, id);

--
-- Name: workflow_steps workflow_steps_name_unique; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.workflow_steps
    ADD CONSTRAINT workflow_steps_name_unique UNIQUE (task_uuid, name);

--
-- Name: workflow_steps workflow_steps_pkey; Type: CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.workflow_steps
    ADD CONSTRAINT workflow_steps_pkey PRIMARY KEY (step_uuid);

--
-- Name: step_executions step_executions_pkey; Type: CONSTRAINT; Schema: tasker_audit; Owner: -
--

ALTER TABLE ONLY tasker_audit.step_executions
    ADD CONSTRAINT step_executions_pkey PRIMARY KEY (id);

--
-- Name: dlq_entries_status; Type: INDEX; Schema: tasker; Owner: -
--

CREATE INDEX dlq_entries_status ON tasker.dlq_entries USING btree (resolution_status, created_at);

--
-- Name: dlq_entries_task; Type: INDEX; Schema: tasker; Owner: -
--

CREATE INDEX dlq_entries_task ON tasker.dlq_entries USING btree (task_uuid, id);

--
-- Name: tasks_completed_at; Type: INDEX; Schema: tasker; Owner: -
--

CREATE INDEX tasks_completed_at ON tasker.tasks USING btree (completed_at) WHERE (completed_at IS NOT NULL);

--
-- Name: tasks_created_at; Type: INDEX; Schema: tasker; Owner: -
--

CREATE INDEX tasks_created_at ON tasker.tasks USING btree (created_at, task_uuid);

--
-- Name: tasks_finalization_requested; Type: INDEX; Schema: tasker; Owner: -
--

CREATE INDEX tasks_finalization_requested ON tasker.tasks USING btree (finalization_requested_at) WHERE (finalization_requested_at IS NOT NULL);

--
-- Name: tasks_idempotency_key; Type: INDEX; Schema: tasker; Owner: -
--

CREATE UNIQUE INDEX tasks_idempotency_key ON tasker.tasks USING btree (idempotency_key) WHERE (idempotency_key IS NOT NULL);

--
-- Name: tasks_state; Type: INDEX; Schema: tasker; Owner: -
--

CREATE INDEX tasks_state ON tasker.tasks USING btree (state);

--
-- Name: tasks_template; Type: INDEX; Schema: tasker; Owner: -
--

CREATE INDEX tasks_template ON tasker.tasks USING btree (namespace, name, version);

--
-- Name: workflow_step_edges_to; Type: INDEX; Schema: tasker; Owner: -
--

CREATE INDEX workflow_step_edges_to ON tasker.workflow_step_edges USING btree (to_step_uuid);

--
-- Name: workflow_steps_ready; Type: INDEX; Schema: tasker; Owner: -
--

CREATE INDEX workflow_steps_ready ON tasker.workflow_steps USING btree (priority DESC, ready_at, step_uuid) WHERE (ready_at IS NOT NULL);

--
-- Name: step_executions_step; Type: INDEX; Schema: tasker_audit; Owner: -
--

CREATE INDEX step_executions_step ON tasker_audit.step_executions USING btree (step_uuid, attempt);

--
-- Name: workflow_steps tasker_notify_step_dispatched; Type: TRIGGER; Schema: tasker; Owner: -
--

CREATE CONSTRAINT TRIGGER tasker_notify_step_dispatched AFTER UPDATE OF state ON tasker.workflow_steps DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ((new.state = 'enqueued'::text)) EXECUTE FUNCTION tasker._notify_step_dispatched();

--
-- Name: dlq_entries dlq_entries_task_uuid_fkey; Type: FK CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.dlq_entries
    ADD CONSTRAINT dlq_entries_task_uuid_fkey FOREIGN KEY (task_uuid) REFERENCES tasker.tasks(task_uuid) ON DELETE CASCADE;

--
-- Name: step_state_transitions step_state_transitions_from_state_fkey; Type: FK CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.step_state_transitions
    ADD CONSTRAINT step_state_transitions_from_state_fkey FOREIGN KEY (from_state) REFERENCES tasker.step_states(state);

--
-- Name: step_state_transitions step_state_transitions_to_state_fkey; Type: FK CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.step_state_transitions
    ADD CONSTRAINT step_state_transitions_to_state_fkey FOREIGN KEY (to_state) REFERENCES tasker.step_states(state);

--
-- Name: task_state_transitions task_state_transitions_from_state_fkey; Type: FK CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.task_state_transitions
    ADD CONSTRAINT task_state_transitions_from_state_fkey FOREIGN KEY (from_state) REFERENCES tasker.task_states(state);

--
-- Name: task_state_transitions task_state_transitions_to_state_fkey; Type: FK CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.task_state_transitions
    ADD CONSTRAINT task_state_transitions_to_state_fkey FOREIGN KEY (to_state) REFERENCES tasker.task_states(state);

--
-- Name: task_templates task_templates_namespace_fkey; Type: FK CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.task_templates
    ADD CONSTRAINT task_templates_namespace_fkey FOREIGN KEY (namespace) REFERENCES tasker.namespaces(name);

--
-- Name: task_transitions task_transitions_task_uuid_fkey; Type: FK CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.task_transitions
    ADD CONSTRAINT task_transitions_task_uuid_fkey FOREIGN KEY (task_uuid) REFERENCES tasker.tasks(task_uuid) ON DELETE CASCADE;

--
-- Name: workflow_step_edges workflow_step_edges_from_step_uuid_fkey; Type: FK CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.workflow_step_edges
    ADD CONSTRAINT workflow_step_edges_from_step_uuid_fkey FOREIGN KEY (from_step_uuid) REFERENCES tasker.workflow_steps(step_uuid) ON DELETE CASCADE;

--
-- Name: workflow_step_edges workflow_step_edges_to_step_uuid_fkey; Type: FK CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.workflow_step_edges
    ADD CONSTRAINT workflow_step_edges_to_step_uuid_fkey FOREIGN KEY (to_step_uuid) REFERENCES tasker.workflow_steps(step_uuid) ON DELETE CASCADE;

--
-- Name: workflow_steps workflow_steps_task_uuid_fkey; Type: FK CONSTRAINT; Schema: tasker; Owner: -
--

ALTER TABLE ONLY tasker.workflow_steps
    ADD CONSTRAINT workflow_steps_task_uuid_fkey FOREIGN KEY (task_uuid) REFERENCES tasker.tasks(task_uuid) ON DELETE CASCADE;

--
-- Name: SCHEMA tasker; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA tasker TO tasker_worker;

--
-- Name: SCHEMA tasker_audit; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA tasker_audit TO tasker_worker;

--
-- Name: FUNCTION _active_task_states(); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._active_task_states() FROM PUBLIC;

--
-- Name: FUNCTION _advance_tasks_to_in_process(p_task_uuids uuid[], p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._advance_tasks_to_in_process(p_task_uuids uuid[], p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION _apply_results(p_step_uuids uuid[], p_statuses text[], p_results jsonb[], p_errors jsonb[], p_retry_after_ms bigint[], p_now timestamp with time zone, p_claim_namespace text, p_claim_limit integer, p_vt_seconds integer, p_worker text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._apply_results(p_step_uuids uuid[], p_statuses text[], p_results jsonb[], p_errors jsonb[], p_retry_after_ms bigint[], p_now timestamp with time zone, p_claim_namespace text, p_claim_limit integer, p_vt_seconds integer, p_worker text) FROM PUBLIC;

--
-- Name: FUNCTION _check_task_request(p_ordinality integer, p_namespace text, p_name text, p_version text, p_context jsonb, p_options jsonb); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._check_task_request(p_ordinality integer, p_namespace text, p_name text, p_version text, p_context jsonb, p_options jsonb) FROM PUBLIC;

--
-- Name: FUNCTION _claim_released(p_step_uuids uuid[], p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._claim_released(p_step_uuids uuid[], p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text) FROM PUBLIC;

--
-- Name: FUNCTION _claim_steps(p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text, p_now timestamp with time zone, p_claimed uuid[]); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._claim_steps(p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text, p_now timestamp with time zone, p_claimed uuid[]) FROM PUBLIC;

--
-- Name: FUNCTION _compile_queue_statements(); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._compile_queue_statements() FROM PUBLIC;

--
-- Name: FUNCTION _complete_tasks(p_task_uuids uuid[], p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._complete_tasks(p_task_uuids uuid[], p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION _dispatch_steps(p_step_uuids uuid[], p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._dispatch_steps(p_step_uuids uuid[], p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION _evaluate_task(p_task_uuid uuid, p_now timestamp with time zone, p_finalized boolean); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._evaluate_task(p_task_uuid uuid, p_now timestamp with time zone, p_finalized boolean) FROM PUBLIC;

--
-- Name: FUNCTION _evaluation_metadata(p_total bigint, p_done bigint, p_in_flight bigint, p_failed bigint, p_retrying bigint, p_ready bigint); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._evaluation_metadata(p_total bigint, p_done bigint, p_in_flight bigint, p_failed bigint, p_retrying bigint, p_ready bigint) FROM PUBLIC;

--
-- Name: FUNCTION _input_schema_problem(p_schema jsonb, p_path text, p_depth integer); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._input_schema_problem(p_schema jsonb, p_path text, p_depth integer) FROM PUBLIC;

--
-- Name: FUNCTION _insert_tasks(p_requests tasker.task_request[]); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._insert_tasks(p_requests tasker.task_request[]) FROM PUBLIC;

--
-- Name: FUNCTION _move_steps(p_step_uuids uuid[], p_event text, p_payloads jsonb[], p_metadata jsonb, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._move_steps(p_step_uuids uuid[], p_event text, p_payloads jsonb[], p_metadata jsonb, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION _move_task(p_task_uuid uuid, p_events text[], p_metadata jsonb, p_now timestamp with time zone, p_finalized boolean); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._move_task(p_task_uuid uuid, p_events text[], p_metadata jsonb, p_now timestamp with time zone, p_finalized boolean) FROM PUBLIC;

--
-- Name: FUNCTION _notify_step_dispatched(); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._notify_step_dispatched() FROM PUBLIC;

--
-- Name: FUNCTION _notify_step_results(); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._notify_step_results() FROM PUBLIC;

--
-- Name: FUNCTION _operate_step(p_step_uuid uuid, p_event text, p_payload jsonb, p_reason text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._operate_step(p_step_uuid uuid, p_event text, p_payload jsonb, p_reason text) FROM PUBLIC;

--
-- Name: FUNCTION _queue_delete(p_queue text, p_msg_ids bigint[]); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._queue_delete(p_queue text, p_msg_ids bigint[]) FROM PUBLIC;

--
-- Name: FUNCTION _queue_lock(p_queue text, p_msg_ids bigint[]); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._queue_lock(p_queue text, p_msg_ids bigint[]) FROM PUBLIC;

--
-- Name: FUNCTION _queue_read(p_queue text, p_vt_seconds integer, p_limit integer); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._queue_read(p_queue text, p_vt_seconds integer, p_limit integer) FROM PUBLIC;

--
-- Name: FUNCTION _queue_send(p_queue text, p_messages jsonb[]); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._queue_send(p_queue text, p_messages jsonb[]) FROM PUBLIC;

--
-- Name: FUNCTION _queue_send_read(p_queue text, p_messages jsonb[], p_vt_seconds integer); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._queue_send_read(p_queue text, p_messages jsonb[], p_vt_seconds integer) FROM PUBLIC;

--
-- Name: FUNCTION _raise_unmovable_step(p_step_uuids uuid[], p_event text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._raise_unmovable_step(p_step_uuids uuid[], p_event text) FROM PUBLIC;

--
-- Name: FUNCTION _require_worker_namespaces(p_namespaces text[]); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._require_worker_namespaces(p_namespaces text[]) FROM PUBLIC;

--
-- Name: FUNCTION _send_step_messages(p_step_uuids uuid[]); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._send_step_messages(p_step_uuids uuid[]) FROM PUBLIC;

--
-- Name: FUNCTION _start_tasks(p_task_uuids uuid[]); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._start_tasks(p_task_uuids uuid[]) FROM PUBLIC;

--
-- Name: FUNCTION _submit_step_results(p_results jsonb, p_now timestamp with time zone, p_claim_namespace text, p_claim_limit integer, p_vt_seconds integer, p_worker text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._submit_step_results(p_results jsonb, p_now timestamp with time zone, p_claim_namespace text, p_claim_limit integer, p_vt_seconds integer, p_worker text) FROM PUBLIC;

--
-- Name: FUNCTION _tune_queue_table(p_queue text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._tune_queue_table(p_queue text) FROM PUBLIC;

--
-- Name: FUNCTION _worker_may_serve(p_namespace text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker._worker_may_serve(p_namespace text) FROM PUBLIC;

--
-- Name: FUNCTION apply_step_results(p_results jsonb, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.apply_step_results(p_results jsonb, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION cancel_task(p_task_uuid uuid, p_reason text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.cancel_task(p_task_uuid uuid, p_reason text) FROM PUBLIC;

--
-- Name: FUNCTION claim_steps(p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.claim_steps(p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION tasker.claim_steps(p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text, p_now timestamp with time zone) TO tasker_worker;

--
-- Name: FUNCTION complete_step(p_step_uuid uuid, p_result jsonb, p_reason text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.complete_step(p_step_uuid uuid, p_result jsonb, p_reason text) FROM PUBLIC;

--
-- Name: FUNCTION create_task(p_namespace text, p_name text, p_version text, p_context jsonb, p_options jsonb); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.create_task(p_namespace text, p_name text, p_version text, p_context jsonb, p_options jsonb) FROM PUBLIC;

--
-- Name: FUNCTION create_tasks(p_requests jsonb); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.create_tasks(p_requests jsonb) FROM PUBLIC;

--
-- Name: FUNCTION enqueue_ready_steps(p_limit integer, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.enqueue_ready_steps(p_limit integer, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION ensure_worker_login(p_role name, p_password text, p_namespaces text[]); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.ensure_worker_login(p_role name, p_password text, p_namespaces text[]) FROM PUBLIC;

--
-- Name: FUNCTION extend_visibility(p_namespace text, p_msg_ids bigint[], p_vt_seconds integer); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.extend_visibility(p_namespace text, p_msg_ids bigint[], p_vt_seconds integer) FROM PUBLIC;
GRANT ALL ON FUNCTION tasker.extend_visibility(p_namespace text, p_msg_ids bigint[], p_vt_seconds integer) TO tasker_worker;

--
-- Name: FUNCTION finalize_task(p_task_uuid uuid, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.finalize_task(p_task_uuid uuid, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION finalize_tasks(p_limit integer, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.finalize_tasks(p_limit integer, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION json_schema_errors(p_schema jsonb, p_doc jsonb, p_path text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.json_schema_errors(p_schema jsonb, p_doc jsonb, p_path text) FROM PUBLIC;

--
-- Name: FUNCTION list_namespaces(); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.list_namespaces() FROM PUBLIC;
GRANT ALL ON FUNCTION tasker.list_namespaces() TO tasker_worker;

--
-- Name: FUNCTION next_ready_at(p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.next_ready_at(p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION normalize_template(p_definition jsonb); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.normalize_template(p_definition jsonb) FROM PUBLIC;

--
-- Name: FUNCTION performance_metrics(p_hours integer, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.performance_metrics(p_hours integer, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION process_step_results(p_limit integer, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.process_step_results(p_limit integer, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION purge_queue_archives(p_older_than interval, p_limit integer); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.purge_queue_archives(p_older_than interval, p_limit integer) FROM PUBLIC;

--
-- Name: FUNCTION purge_tasks(p_older_than interval, p_limit integer, p_dry_run boolean, p_archive boolean); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.purge_tasks(p_older_than interval, p_limit integer, p_dry_run boolean, p_archive boolean) FROM PUBLIC;

--
-- Name: FUNCTION register_template(p_definition jsonb); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.register_template(p_definition jsonb) FROM PUBLIC;

--
-- Name: FUNCTION reset_step(p_step_uuid uuid, p_reason text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.reset_step(p_step_uuid uuid, p_reason text) FROM PUBLIC;

--
-- Name: FUNCTION resolve_step(p_step_uuid uuid, p_reason text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.resolve_step(p_step_uuid uuid, p_reason text) FROM PUBLIC;

--
-- Name: FUNCTION retry_delay_ms(p_backoff text, p_base_ms integer, p_max_ms integer, p_attempt integer, p_retry_after_ms bigint); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.retry_delay_ms(p_backoff text, p_base_ms integer, p_max_ms integer, p_attempt integer, p_retry_after_ms bigint) FROM PUBLIC;

--
-- Name: FUNCTION retry_failed_steps(p_filter jsonb); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.retry_failed_steps(p_filter jsonb) FROM PUBLIC;

--
-- Name: FUNCTION set_worker_namespaces(p_role name, p_namespaces text[]); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.set_worker_namespaces(p_role name, p_namespaces text[]) FROM PUBLIC;

--
-- Name: FUNCTION slowest_steps(p_limit integer, p_hours integer, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.slowest_steps(p_limit integer, p_hours integer, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION slowest_templates(p_limit integer, p_hours integer, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.slowest_templates(p_limit integer, p_hours integer, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION stale_steps(p_grace_seconds integer, p_limit integer, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.stale_steps(p_grace_seconds integer, p_limit integer, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION state_counts(); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.state_counts() FROM PUBLIC;

--
-- Name: FUNCTION step_transitions(p_step_uuid uuid); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.step_transitions(p_step_uuid uuid) FROM PUBLIC;

--
-- Name: FUNCTION submit_and_claim(p_results jsonb, p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.submit_and_claim(p_results jsonb, p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text) FROM PUBLIC;
GRANT ALL ON FUNCTION tasker.submit_and_claim(p_results jsonb, p_namespace text, p_limit integer, p_vt_seconds integer, p_worker text) TO tasker_worker;

--
-- Name: FUNCTION submit_step_result(p_step_uuid uuid, p_attempt integer, p_msg_id bigint, p_status text, p_result jsonb, p_error jsonb, p_retry_after_ms bigint); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.submit_step_result(p_step_uuid uuid, p_attempt integer, p_msg_id bigint, p_status text, p_result jsonb, p_error jsonb, p_retry_after_ms bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION tasker.submit_step_result(p_step_uuid uuid, p_attempt integer, p_msg_id bigint, p_status text, p_result jsonb, p_error jsonb, p_retry_after_ms bigint) TO tasker_worker;

--
-- Name: FUNCTION submit_step_results(p_results jsonb, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.submit_step_results(p_results jsonb, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION tasker.submit_step_results(p_results jsonb, p_now timestamp with time zone) TO tasker_worker;

--
-- Name: FUNCTION sweep_stale_steps(p_grace_seconds integer, p_limit integer, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.sweep_stale_steps(p_grace_seconds integer, p_limit integer, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION task_history_after(p_task_uuid uuid, p_after pg_snapshot); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.task_history_after(p_task_uuid uuid, p_after pg_snapshot) FROM PUBLIC;

--
-- Name: FUNCTION task_history_since(p_task_uuid uuid, p_after_task_id bigint, p_after_step_id bigint); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.task_history_since(p_task_uuid uuid, p_after_task_id bigint, p_after_step_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION task_transitions_of(p_task_uuid uuid); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.task_transitions_of(p_task_uuid uuid) FROM PUBLIC;

--
-- Name: FUNCTION throughput_series(p_hours integer, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.throughput_series(p_hours integer, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION transition_steps(p_step_uuids uuid[], p_event text, p_payloads jsonb[], p_metadata jsonb, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.transition_steps(p_step_uuids uuid[], p_event text, p_payloads jsonb[], p_metadata jsonb, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION transition_tasks(p_task_uuids uuid[], p_event text, p_metadata jsonb, p_now timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.transition_tasks(p_task_uuids uuid[], p_event text, p_metadata jsonb, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION update_dlq_entry(p_id bigint, p_status text, p_notes text, p_resolved_by text); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.update_dlq_entry(p_id bigint, p_status text, p_notes text, p_resolved_by text) FROM PUBLIC;

--
-- Name: FUNCTION uuid_v7(p_ts timestamp with time zone); Type: ACL; Schema: tasker; Owner: -
--

REVOKE ALL ON FUNCTION tasker.uuid_v7(p_ts timestamp with time zone) FROM PUBLIC;

--
-- Name: TABLE step_executions; Type: ACL; Schema: tasker_audit; Owner: -
--

GRANT INSERT ON TABLE tasker_audit.step_executions TO tasker_worker;
