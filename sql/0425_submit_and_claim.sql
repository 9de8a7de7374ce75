-- tasker.submit_and_claim(results, namespace, limit, vt_seconds, worker): a worker's
-- acknowledgement and its next claim in one call, one transaction and one commit (the chained
-- claim of docs/worker-protocol.md).
--
-- Runs tasker.submit_step_results(p_results) and then tasker.claim_steps(p_namespace, p_limit,
-- p_vt_seconds, p_worker) in the caller's transaction, with every guarantee of each: results are
-- applied exactly once and their dispatch messages deleted; the claim then reads the namespace
-- queue, where the children the results released are already waiting (their messages were sent
-- a moment ago in this transaction, so no other worker can have them, and the deferred trigger
-- tasker_notify_step_dispatched wakes nobody for the ones claimed here). The commit is
-- synchronous: the claim follows the acknowledgement's writes (see claim_steps), so an accepted
-- result is durable when the call returns.
-- Returns two kinds of rows: first one per result, in order, with step_uuid and accepted (every
-- other column NULL), as submit_step_results returns them; then one per claimed step, with
-- accepted NULL and the columns claim_steps returns.
-- Errors are those of the two functions (42501, TK002, TK004), and any of them undoes the whole
-- call: a caller whose call fails submits the results again with submit_step_results alone, so a
-- claim that cannot be made never costs an acknowledgement.
-- SECURITY INVOKER: it adds no right to those of the two functions it calls. Executable by
-- tasker_worker.
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
SET search_path = ''
AS $$
BEGIN
    RETURN QUERY
    SELECT r.step_uuid, r.accepted, NULL::bigint, NULL::uuid, NULL::integer, NULL::integer, NULL::text,
           NULL::text, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb, NULL::jsonb, NULL::jsonb
      FROM tasker.submit_step_results(p_results) r;
    RETURN QUERY
    SELECT c.step_uuid, NULL::boolean, c.msg_id, c.task_uuid, c.attempt, c.max_attempts, c.namespace,
           c.task_name, c.task_version, c.step_name, c.handler, c.timeout_seconds, c.context, c.inputs,
           c.parent_results
      FROM tasker.claim_steps(p_namespace, p_limit, p_vt_seconds, p_worker) c;
END;
$$;
COMMENT ON FUNCTION tasker.submit_and_claim(jsonb, text, integer, integer, text) IS
    'A worker''s acknowledgement and its next claim in one transaction and one durable commit: submit_step_results(p_results), then claim_steps(p_namespace, p_limit, p_vt_seconds, p_worker). Returns one row per result (step_uuid, accepted; other columns NULL), then one per claimed step (accepted NULL). Any error undoes the whole call: submit the results again alone. Executable by tasker_worker.';
