-- tasker.retry_failed_steps(filter): database-native batch retry. One call resets every failed
-- step matching the filter and makes their tasks runnable again.
--
-- Filter keys (all optional, combined with AND; {} matches every failed step):
--   namespace text, name text (template name), version text, task_uuids [uuid],
--   step_names [text], error_contains text (case-insensitive, in the message of the step's last error),
--   error_class text (last_error.class), failed_after / failed_before timestamptz,
--   limit integer (default 1000, at most 100000), dry_run boolean, reason text.
-- Guarantees: unknown keys or mistyped values raise TK004 and change nothing. Matching steps
-- (state error, in tasks that are not complete, cancelled or resolved_manually) are locked in
-- step_uuid order, moved error -> pending with attempts reset to 0 (history row carries the
-- reason), their tasks leave error / blocked_by_failures (open DLQ entries become 'retried'), and
-- tasker_steps_ready is notified; the step enqueuer dispatches them. With dry_run nothing changes
-- and nothing is locked.
-- Idempotent: a second identical call finds nothing left to retry.
-- Returns one row per step reset (or that would be): step and task identity, the step's attempts
-- and last error before the reset, and the task's state before and after.
CREATE OR REPLACE FUNCTION tasker.retry_failed_steps(p_filter jsonb DEFAULT '{}')
RETURNS TABLE (step_uuid uuid, task_uuid uuid, namespace text, task_name text, step_name text,
               previous_attempts integer, last_error jsonb, task_state_before text, task_state_after text)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
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
$$;
COMMENT ON FUNCTION tasker.retry_failed_steps(jsonb) IS
    'Batch retry: resets every failed step matching the filter (error -> pending, attempts 0) and makes its task run again; dry_run only reports. TK004 for an unknown key or a mistyped value. A second identical call finds nothing. Returns one row per step reset (or that would be).';
