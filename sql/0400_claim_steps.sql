-- tasker.claim_steps(namespace, limit, visibility_timeout_seconds, worker, now): the worker's
-- one call to get work.
--
-- Reads up to p_limit messages from worker_<namespace>_queue as pgmq.read does
-- (tasker._queue_read; the messages stay invisible for p_vt_seconds) and, for each:
--   * step enqueued                      -> claimed: in_progress, attempts + 1;
--   * step in_progress, message redelivered (its previous holder let the visibility timeout
--     pass: crashed or stuck)            -> re-claimed as a new attempt while attempts remain;
--     when none remain, the step fails at once (in_progress -> error, a permanent_error of
--     class VisibilityTimeout applied by tasker.apply_step_results under the step lock this
--     call holds, so its task is flagged for finalization) and the message is deleted;
--   * step in any other state or gone    -> the message is stale and is deleted.
-- Guarantees: a step is claimed by at most one caller at a time (the read skips locked
-- messages and the step row is locked); the attempt number returned must be passed back to
-- tasker.submit_step_result, which refuses results of superseded attempts. A late result of the
-- lost attempt is refused too: the step is no longer in_progress on it.
-- Locks: the messages read (SKIP LOCKED: never waits for a message), then the steps they name
-- in step_uuid order; for exhausted steps, then their tasks (apply_step_results).
-- Returns, per claimed step, everything its handler needs: the task context, the step's inputs
-- and a map of its parents' results by step name, plus the message id to heartbeat and ack with.
-- Callable by the tasker_worker role (SECURITY DEFINER, owned by the migrating role): a worker
-- role may claim only from the namespaces tasker.worker_namespaces allows it (42501 otherwise).
-- Raises TK002 for an unknown namespace, TK004 for a limit below 1 or a visibility timeout
-- outside 1 s .. 12 h (43200 s).
-- Durability: a claim that read messages, and is the first write of its transaction, commits
-- asynchronously (synchronous_commit is off for the rest of the caller's transaction, which the
-- worker protocol keeps to this one call): the worker does not wait for a disk flush before it
-- runs the handler. A claim made after tasker.submit_step_results in the same transaction (the
-- chained claim of docs/worker-protocol.md) leaves the commit synchronous: the acknowledgement
-- it follows is durable when the commit returns. A claim lost to a crash of
-- PostgreSQL within the WAL writer's delay (about 0.6 s at most) is simply undone: the message
-- is visible again and the step enqueued on its previous attempt, so the step runs again, as it
-- does when a worker dies before its ack (at least once). Whatever depends on the claim commits
-- after it and flushes it too: an accepted result is never applied to a lost claim.
CREATE OR REPLACE FUNCTION tasker.claim_steps(
    p_namespace  text,
    p_limit      integer DEFAULT 10,
    p_vt_seconds integer DEFAULT 30,
    p_worker     text DEFAULT NULL,
    p_now        timestamptz DEFAULT NULL)
RETURNS TABLE (
    msg_id          bigint,
    step_uuid       uuid,
    task_uuid       uuid,
    attempt         integer,
    max_attempts    integer,
    namespace       text,
    task_name       text,
    task_version    text,
    step_name       text,
    handler         text,
    timeout_seconds integer,
    context         jsonb,
    inputs          jsonb,
    parent_results  jsonb)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
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

    -- The messages, in msg_id order; a message that names no step (malformed) keeps a NULL step.
    SELECT array_agg(m.msg_id ORDER BY m.msg_id),
           array_agg(CASE WHEN m.message ->> 'step_uuid' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                          THEN (m.message ->> 'step_uuid')::uuid END ORDER BY m.msg_id)
      INTO v_msg_ids, v_msg_steps
      FROM tasker._queue_read(v_queue, p_vt_seconds, p_limit) m;
    IF v_msg_ids IS NULL THEN
        RETURN;
    END IF;
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
     WHERE s.step_uuid = ANY (coalesce(v_claim, '{}') || coalesce(v_reclaim, '{}'))
     ORDER BY s.step_uuid;
END;
$$;
COMMENT ON FUNCTION tasker.claim_steps(text, integer, integer, text, timestamptz) IS
    'The worker''s call to get work: reads up to p_limit messages of the namespace queue (hidden for p_vt_seconds) and claims their steps (enqueued -> in_progress, or a new attempt when a message came back); stale messages are deleted. Returns, per claimed step, everything its handler needs. Executable by tasker_worker for the namespaces tasker.worker_namespaces allows (42501 otherwise). TK002 unknown namespace, TK004 limit below 1 or visibility timeout outside 1..43200 s.';
