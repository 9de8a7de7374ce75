-- The hot path's five operations on a namespace's pgmq queue table (pgmq.q_<queue>): send,
-- send as read, read, lock and delete, one statement each. Internal.
--
-- They do to the queue table exactly what pgmq.send_batch, pgmq.read (without its conditional
-- filter) and pgmq.delete do: same columns, same visibility rule, same SKIP LOCKED read in msg_id
-- order, so a worker that reads the queue with pgmq itself sees the same messages. What they leave
-- out is pgmq's layers around that statement (SQL-language overloads that are parsed and planned at
-- every call, parameter validation, table-name formatting).
--
-- Each queue table is its own relation, so a statement naming it is either dynamic (EXECUTE:
-- parsed and planned at every call, about 0.03-0.09 ms each, most of a read's cost) or compiled
-- for that table. tasker._compile_queue_statements() writes the five functions with one branch of
-- static SQL per queue of tasker.namespaces, whose plans each session prepares once, and the
-- dynamic statement as the last branch, for a queue created since (another transaction's new
-- namespace, until its own compilation commits). It runs when sql/ is applied (below) and when
-- tasker.register_template creates a namespace. The branches differ only in the table they name:
-- p_queue selects one by equality, and a queue name from tasker.namespaces is validated when the
-- namespace is created and quoted with %I all the same.
--
--   tasker._queue_send(queue, messages): inserts one message per element, visible at once (vt =
--     now), as pgmq.send_batch does. Returns the new msg_ids in input order.
--   tasker._queue_read(queue, vt_seconds, limit): takes up to p_limit visible messages in msg_id
--     order, skipping those another transaction holds, and hides them for p_vt_seconds (read_ct + 1,
--     last_read_at = now), as pgmq.read does. Returns (msg_id, message).
--   tasker._queue_send_read(queue, messages, vt_seconds): inserts one message per element as
--     already read once, hidden for p_vt_seconds (read_ct 1, last_read_at = now), as
--     pgmq.send_batch followed by a pgmq.read of those messages would leave them, for a step
--     claimed in the transaction that dispatches it (tasker._claim_released). Returns (msg_id,
--     message).
--   tasker._queue_lock(queue, msg_ids): locks those messages in msg_id order (FOR UPDATE; waits
--     for a transaction that holds one), for tasker.submit_step_results.
--   tasker._queue_delete(queue, msg_ids): deletes those messages (ids not in the queue are
--     ignored), as pgmq.delete does. Returns how many were deleted.

-- tasker._compile_queue_statements(): (re)writes the five functions above for the queues of
-- tasker.namespaces. Serialized by a transaction-level advisory lock, so concurrent namespace
-- creations compile one after the other, each seeing the namespaces committed before it. SECURITY
-- DEFINER: it replaces functions its owner owns, whichever role registers a template. Internal.
CREATE OR REPLACE FUNCTION tasker._compile_queue_statements()
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $compile$
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
$compile$;

SELECT tasker._compile_queue_statements();
