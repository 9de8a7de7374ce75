-- tasker.submit_step_results(results, now): the worker's one call to report outcomes (ack after
-- execute), applied in the worker's own transaction.
--
-- p_results is a JSON array of objects:
--   {"step_uuid": uuid, "attempt": int, "msg_id": bigint,
--    "status": "success" | "retryable_error" | "permanent_error",
--    "result": any JSON (success), "error": {"message": text, "class": text, ...} (failures),
--    "retry_after_ms": int (optional hint for retryable errors), "worker": text (optional)}
-- Guarantees, per element, in one transaction: when the step is still in_progress on that
-- attempt with msg_id as its dispatch message (the attempt and message the claim handed out),
-- the result is applied at once as tasker.apply_step_results applies it (by tasker._apply_results,
-- with this call's decision: the step completes, retries or fails with its history row; children
-- whose last parent completed are dispatched; the task is completed with its last step, or
-- flagged for finalization when it needs it otherwise) and the dispatch message msg_id is deleted
-- from the namespace queue -- all or nothing, so a worker that dies before this call leaves its
-- message to be redelivered. A result for a superseded attempt, a step no longer in progress, or a msg_id
-- that is not the step's current dispatch message is refused ("accepted" = false) and nothing is
-- touched, as is a repeat of a step already named earlier in the same call. Accepted means
-- applied: exactly once, since the step leaves in_progress on that attempt in the same transaction.
-- Locks, in the engine's lock order (docs/state-machines.md): the named dispatch messages (per
-- queue in queue-name order, by msg_id), then the steps and their children together in
-- step_uuid order, and only then decides; then their tasks in task_uuid order
-- (tasker._apply_results). A claim that has re-read one of these messages (its visibility
-- timeout passed) holds the message until it commits, so this call waits for it and then sees the re-claim's new
-- attempt; a claim that comes later skips the message this call holds.
-- Time: now is read after the locks are taken (a result is never dated before the claim it
-- answers); p_now (tests' time travel) is honoured only for the owning role, as in claim_steps.
-- Callable by the tasker_worker role (SECURITY DEFINER): a worker role may acknowledge only steps
-- of namespaces tasker.worker_namespaces allows it (42501 otherwise, and nothing is applied).
-- Malformed input raises TK004 and nothing is applied. Notifies what applying notifies
-- (tasker_step_dispatched at commit for dispatched children nobody claimed in the same
-- transaction, tasker_task_finalize for flagged tasks).
-- Returns (step_uuid, accepted) per element.
CREATE OR REPLACE FUNCTION tasker.submit_step_results(p_results jsonb, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (step_uuid uuid, accepted boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    RETURN QUERY SELECT * FROM tasker._submit_step_results(p_results, p_now, NULL, 0, NULL, NULL);
END;
$$;
COMMENT ON FUNCTION tasker.submit_step_results(jsonb, timestamptz) IS
    'The worker''s acknowledgement, applied in its own transaction: per result, when the step is in_progress on that attempt with that dispatch message, applies it (apply_step_results: complete, retry or fail, dispatch ready children, complete the task with its last step or flag it for the finalizer) and deletes the dispatch message, all or nothing (accepted); otherwise touches nothing. p_now is honoured for the owning role only. Executable by tasker_worker for steps of its namespaces (42501 otherwise). Malformed input raises TK004 and applies nothing. Returns (step_uuid, accepted) per element.';

-- tasker._submit_step_results(results, now, claim_namespace, claim_limit, vt_seconds, worker):
-- submit_step_results' work, for submit_step_results and tasker.submit_and_claim. With
-- p_claim_limit above 0, up to that many children of p_claim_namespace that the accepted results
-- release are claimed for the caller in this transaction (tasker._claim_released, through
-- tasker._apply_results) instead of being dispatched for anyone. Returns (step_uuid, accepted)
-- per element, as submit_step_results, then one row per child so claimed, with accepted NULL, in
-- step_uuid order. Internal: p_now is honoured as submit_step_results honours it.
CREATE OR REPLACE FUNCTION tasker._submit_step_results(
    p_results         jsonb,
    p_now             timestamptz,
    p_claim_namespace text,
    p_claim_limit     integer,
    p_vt_seconds      integer,
    p_worker          text)
RETURNS TABLE (step_uuid uuid, accepted boolean)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
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
$$;

-- tasker.submit_step_result(...): one result; see tasker.submit_step_results. Returns accepted.
CREATE OR REPLACE FUNCTION tasker.submit_step_result(
    p_step_uuid      uuid,
    p_attempt        integer,
    p_msg_id         bigint,
    p_status         text,
    p_result         jsonb DEFAULT NULL,
    p_error          jsonb DEFAULT NULL,
    p_retry_after_ms bigint DEFAULT NULL)
RETURNS boolean
LANGUAGE sql
SET search_path = ''
AS $$
    SELECT r.accepted
      FROM tasker.submit_step_results(jsonb_build_array(
               jsonb_build_object('step_uuid', p_step_uuid, 'attempt', p_attempt, 'msg_id', p_msg_id, 'status', p_status)
               || CASE WHEN p_result IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('result', p_result) END
               || CASE WHEN p_error IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('error', p_error) END
               || CASE WHEN p_retry_after_ms IS NULL THEN '{}'::jsonb
                       ELSE jsonb_build_object('retry_after_ms', p_retry_after_ms) END)) r;
$$;
COMMENT ON FUNCTION tasker.submit_step_result(uuid, integer, bigint, text, jsonb, jsonb, bigint) IS
    'One result; see tasker.submit_step_results. Returns accepted.';
