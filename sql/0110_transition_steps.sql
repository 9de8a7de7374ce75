-- tasker.transition_steps(step_uuids, event, payloads, metadata, now): the public entry to a
-- step's state machine.
--
-- Guarantees:
--   * locks the steps in step_uuid order;
--   * every listed step has an allowed (state, event) move in tasker.step_state_transitions,
--     otherwise nothing changes and SQLSTATE TK001 is raised (TK002 for an unknown step);
--   * then moves them with tasker._move_steps (below): the event's side effects, one history
--     row per step, tasker_steps_changed.
-- Returns one row per step moved: (step_uuid, task_uuid, from_state, to_state, attempts).
CREATE OR REPLACE FUNCTION tasker.transition_steps(
    p_step_uuids uuid[],
    p_event      text,
    p_payloads   jsonb[] DEFAULT NULL,
    p_metadata   jsonb DEFAULT NULL,
    p_now        timestamptz DEFAULT NULL)
RETURNS TABLE (step_uuid uuid, task_uuid uuid, from_state text, to_state text, attempts integer)
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
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
COMMENT ON FUNCTION tasker.transition_steps(uuid[], text, jsonb[], jsonb, timestamptz) IS
    'The public entry to a step''s state machine: locks the steps in step_uuid order, checks every move against tasker.step_state_transitions (TK001; TK002 for an unknown step; nothing changes on error), then moves them (tasker._move_steps: the event''s side effects, one history row per step, tasker_steps_changed). Returns one row per step moved.';

-- tasker._move_steps(step_uuids, event, payloads, metadata, now): the writer of
-- workflow_steps.state, for callers that hold the steps' row locks (the one other is
-- tasker._claim_released, the chained claim's enqueue and claim in one write). Internal.
--
-- Precondition: the caller holds the row locks of every listed step, taken in step_uuid order
-- (transition_steps, claim_steps, submit_step_results and apply_step_results take them before
-- they decide; enqueue_ready_steps with SKIP LOCKED, which never waits). The locks keep
-- concurrent writers apart; the moves are checked here all the same.
-- Guarantees, in one statement and the caller's transaction:
--   * every listed step takes its allowed (state, event) move of tasker.step_state_transitions;
--     when one cannot, or does not exist, SQLSTATE TK001 (TK002) is raised, and the error undoes
--     the call's moves with everything else of the caller's (sub)transaction;
--   * applies what the event means besides the state:
--       claim / reclaim   attempts + 1, claimed_at = now
--       reset             attempts = 0, results cleared (last_error is kept for reference)
--       -> enqueued       enqueued_at = now, dispatch_msg_id cleared (the claim records the new one),
--                         parents_pending = 0 (a step is enqueued only once every parent is
--                         satisfied; tasker.apply_step_results relies on this to release a child
--                         and dispatch it in one row write)
--       -> complete / resolved_manually   completed_at = now
--       -> pending        ready_at = now when every parent is satisfied
--       -> waiting_for_retry  next_retry_at = ready_at = payload.next_retry_at
--     and leaves ready_at NULL in every other state, so the ready index holds only dispatchable steps;
--   * p_payloads, when given, is aligned with p_step_uuids (TK004 otherwise); each element may
--     carry results, error, next_retry_at, dispatch_msg_id and metadata (merged into the history
--     row); a step listed twice moves once;
--   * appends one tasker.workflow_step_transitions row per step;
--   * notifies tasker_steps_changed with the comma-separated uuids of the tasks touched, at most
--     200 per notification (payloads stay far below PostgreSQL's 8000-byte limit).
-- Returns the number of steps moved.
CREATE OR REPLACE FUNCTION tasker._move_steps(
    p_step_uuids uuid[],
    p_event      text,
    p_payloads   jsonb[] DEFAULT NULL,
    p_metadata   jsonb DEFAULT NULL,
    p_now        timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
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

-- tasker._raise_unmovable_step(step_uuids, event): raises the error for the first listed step,
-- in step_uuid order, that cannot take p_event: TK002 for a step that does not exist, else TK001
-- with a hint listing the events its state allows (or saying the state is final). Internal.
CREATE OR REPLACE FUNCTION tasker._raise_unmovable_step(p_step_uuids uuid[], p_event text)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
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
