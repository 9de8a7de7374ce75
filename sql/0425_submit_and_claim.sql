-- tasker.submit_and_claim(results, namespace, limit, vt_seconds, worker): a worker's
-- acknowledgement and its next claim in one call, one transaction and one commit (the chained
-- claim of docs/worker-protocol.md).
--
-- Runs tasker.submit_step_results(p_results) and then tasker.claim_steps(p_namespace, p_limit,
-- p_vt_seconds, p_worker) in the caller's transaction, with every guarantee of each: results are
-- applied exactly once and their dispatch messages deleted; then up to p_limit steps are claimed.
-- The children the results released come first: up to p_limit of those of p_namespace, in
-- step_uuid order, are claimed as they are released (tasker._claim_released: each gets its
-- dispatch message already read, and moves pending -> enqueued -> in_progress in one write with
-- both history rows), so nobody else is woken for them and no message is read back. The slots
-- left are filled from the namespace queue in msg_id order, as claim_steps does; released
-- children beyond p_limit, or of other namespaces, are dispatched to their queues for anyone.
-- A worker thus carries on with the tasks whose steps it has just finished before it takes new
-- ones. The commit is synchronous: the claim follows the acknowledgement's writes (see
-- claim_steps), so an accepted result is durable when the call returns.
-- Returns two kinds of rows: first one per result, in order, with step_uuid and accepted (every
-- other column NULL), as submit_step_results returns them; then one per claimed step, with
-- accepted NULL and the columns claim_steps returns.
-- Errors are those of the two functions (42501, TK002, TK004), and any of them undoes the whole
-- call: a caller whose call fails submits the results again with submit_step_results alone, so a
-- claim that cannot be made never costs an acknowledgement.
-- SECURITY DEFINER, as the two functions it stands for, with their checks: the results' steps and
-- the claimed namespace must be the worker role's (42501 otherwise). Executable by tasker_worker.
CREATE OR REPLACE FUNCTION tasker.submit_and_claim(
    p_results    jsonb,
    p_namespace  text,
    p_limit      integer DEFAULT 10,
    p_vt_seconds integer DEFAULT 30,
    p_worker     text DEFAULT NULL)
RETURNS TABLE (
    step_uuid       uuid,
    accepted        boolean,
    msg_id          bigint,
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
COMMENT ON FUNCTION tasker.submit_and_claim(jsonb, text, integer, integer, text) IS
    'A worker''s acknowledgement and its next claim in one transaction and one durable commit: submit_step_results(p_results), then up to p_limit steps of p_namespace claimed, first the children these results released (claimed as they are released), then from the queue as claim_steps(p_namespace, ..., p_vt_seconds, p_worker) does. Returns one row per result (step_uuid, accepted; other columns NULL), then one per claimed step (accepted NULL). Any error undoes the whole call: submit the results again alone. Executable by tasker_worker.';
