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
AS $$
BEGIN
    RETURN QUERY SELECT * FROM tasker._claim_steps(p_namespace, p_limit, p_vt_seconds, p_worker, p_now, NULL);
END;
$$;
COMMENT ON FUNCTION tasker.claim_steps(text, integer, integer, text, timestamptz) IS
    'The worker''s call to get work: reads up to p_limit messages of the namespace queue (hidden for p_vt_seconds) and claims their steps (enqueued -> in_progress, or a new attempt when a message came back); stale messages are deleted. Returns, per claimed step, everything its handler needs. Executable by tasker_worker for the namespaces tasker.worker_namespaces allows (42501 otherwise). TK002 unknown namespace, TK004 limit below 1 or visibility timeout outside 1..43200 s.';

-- tasker._claim_steps(namespace, limit, vt_seconds, worker, now, claimed): claim_steps' work, for
-- claim_steps and tasker.submit_and_claim. p_claimed lists steps this transaction has already
-- claimed from that namespace (tasker._claim_released, in the acknowledgement of their parents):
-- they count against p_limit, the queue is read for the slots left, and they are returned with
-- the steps claimed here. Internal: the caller checks nothing more than claim_steps does, and
-- p_now is honoured as claim_steps honours it.
CREATE OR REPLACE FUNCTION tasker._claim_steps(
    p_namespace  text,
    p_limit      integer,
    p_vt_seconds integer,
    p_worker     text,
    p_now        timestamptz,
    p_claimed    uuid[])
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
$$;


-- tasker._claim_released(step_uuids, namespace, limit, vt_seconds, worker): claims children an
-- acknowledgement has just released, in the acknowledgement's transaction, without passing
-- through enqueued on their own: the chained claim of tasker.submit_and_claim. Internal.
-- Precondition: the caller holds the steps' row locks and every step is pending with all parents
-- satisfied (tasker._apply_results, on children whose last parent it has just completed).
-- Guarantees, in the caller's transaction: up to p_limit of the steps of namespace p_namespace, in
-- step_uuid order, each get a dispatch message in the namespace queue inserted as already read
-- (tasker._queue_send_read: hidden for p_vt_seconds, read_ct 1, exactly as a claim_steps read
-- leaves it, so a holder that dies lets it come back and be re-claimed) and move pending ->
-- enqueued -> in_progress in one row write, along the two moves tasker.step_state_transitions
-- allows, with both history rows (enqueue, then claim with the worker) and tasker_steps_changed, as tasker._dispatch_steps followed by claim_steps' read would
-- leave them. Their tasks move to steps_in_process if they were not there. A claim is dated when
-- it is made (clock_timestamp), never before the results that released it.
-- Returns the steps claimed, in step_uuid order (NULL when none); the others are the caller's to
-- dispatch.
CREATE OR REPLACE FUNCTION tasker._claim_released(
    p_step_uuids uuid[],
    p_namespace  text,
    p_limit      integer,
    p_vt_seconds integer,
    p_worker     text)
RETURNS uuid[]
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
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
