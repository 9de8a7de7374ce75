-- tasker.apply_step_results(results, now): applies a batch of step results. The heart of the
-- result processor; tasker.process_step_results feeds it from the results queue.
--
-- p_results is a JSON array of result messages (see tasker.submit_step_results). Per result,
-- only when the step is in_progress on exactly that attempt and its msg_id is the step's current
-- dispatch message -- the attempt and message the claim handed out (anything else -- a duplicate,
-- a late result of a superseded attempt, a cancelled step, a message without the msg_id or with
-- another, a malformed message -- is ignored, so applying the same batch twice changes nothing
-- the second time, and a message sent to the results queue outside tasker.submit_step_results
-- cannot complete a step it did not claim):
--   success                                  -> complete, results stored;
--   retryable_error with attempts remaining  -> waiting_for_retry at now + tasker.retry_delay_ms(...)
--                                               (a retry_after_ms hint is capped at the step's backoff max_ms);
--   permanent_error, or attempts exhausted   -> error.
-- Then, in the same transaction: every child of a completed step has its unfinished-parent
-- counter decremented; pending children reaching zero are dispatched at once instead
-- (tasker._dispatch_steps, whose enqueue writes the zero counter in the same row write);
-- a task whose every step is now complete (or resolved) is finalized at once, under its lock
-- (tasker._evaluate_task: evaluate -> complete, in this transaction); other tasks with a failure,
-- a retry, or nothing left in flight are flagged for finalization (finalization_requested_at)
-- and tasker_task_finalize is notified.
-- Locks: result steps and their children together in step_uuid order, then their tasks in
-- task_uuid order, before any change.
-- Returns one row of counts.
CREATE OR REPLACE FUNCTION tasker.apply_step_results(p_results jsonb, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (results integer, completed integer, retried integer, failed integer, ignored integer,
               dispatched integer, tasks_flagged integer)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
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
$$;
COMMENT ON FUNCTION tasker.apply_step_results(jsonb, timestamptz) IS
    'Applies a batch of result messages: a result counts only for a step in_progress on that attempt and dispatch message (msg_id), so applying a batch twice changes nothing; completes, schedules a retry or fails each step, releases and dispatches children, completes a task whose steps are all done and flags other tasks that need finalizing. Returns one row of counts (tasks_flagged: tasks left flagged for the finalizer).';

-- tasker._apply_results(step_uuids, statuses, results, errors, retry_after_ms, now,
-- claim_namespace, claim_limit, vt_seconds, worker): applies decided results, the part of
-- tasker.apply_step_results after its decision; tasker.submit_step_results calls it with the
-- decision it has already made, so nothing is parsed, locked or decided twice.
-- With p_claim_limit above 0 (tasker.submit_and_claim's chained claim), up to that many of the
-- children released here that belong to p_claim_namespace are claimed at once for the caller
-- (tasker._claim_released) instead of being dispatched for anyone; the rest are dispatched.
-- Precondition: the caller holds the row locks of the steps and of their children, taken in one
-- step_uuid-ordered pass, and every element is a valid result (status success, retryable_error or
-- permanent_error; error an object or NULL; retry_after_ms NULL or at least 0) for a step that is
-- in_progress on the attempt and dispatch message the result names, each step at most once.
-- Guarantees, in the caller's transaction: what apply_step_results describes for an accepted
-- result (complete, retry or fail with history rows; children released and dispatched; tasks
-- locked in task_uuid order, then completed when all their steps are done, or else flagged and
-- tasker_task_finalize notified). Returns one row of counts (dispatched includes the children
-- claimed) and the children claimed for the caller, in step_uuid order. Internal.
DROP FUNCTION IF EXISTS tasker._apply_results(uuid[], text[], jsonb[], jsonb[], bigint[], timestamptz);
CREATE OR REPLACE FUNCTION tasker._apply_results(
    p_step_uuids      uuid[],
    p_statuses        text[],
    p_results         jsonb[],
    p_errors          jsonb[],
    p_retry_after_ms  bigint[],
    p_now             timestamptz,
    p_claim_namespace text DEFAULT NULL,
    p_claim_limit     integer DEFAULT 0,
    p_vt_seconds      integer DEFAULT NULL,
    p_worker          text DEFAULT NULL)
RETURNS TABLE (completed integer, retried integer, failed integer, dispatched integer, tasks_flagged integer,
               claimed uuid[])
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
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
