-- The hot path's three operations on a namespace's pgmq queue table (pgmq.q_<queue>): send,
-- read and delete, each one EXECUTE of one statement. Internal.
--
-- They do to the queue table exactly what pgmq.send_batch, pgmq.read (without its conditional
-- filter) and pgmq.delete do: same columns, same visibility rule, same SKIP LOCKED read in msg_id
-- order, so a worker that reads the queue with pgmq itself sees the same messages. What they leave
-- out is pgmq's layers around that statement (SQL-language overloads that are parsed and planned at
-- every call, parameter validation, table-name formatting): half the cost of a send. What stays is
-- planning the dynamic statement at every call, most of a read's cost (docs/benchmarks.md).
-- p_queue must be a queue name from tasker.namespaces (validated when the namespace was created);
-- it is quoted with %I all the same.

-- tasker._queue_send(queue, messages): inserts one message per element, visible at once (vt =
-- now), as pgmq.send_batch does. Returns the new msg_ids in input order.
CREATE OR REPLACE FUNCTION tasker._queue_send(p_queue text, p_messages jsonb[])
RETURNS SETOF bigint
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'INSERT INTO pgmq.%I (vt, message) SELECT pg_catalog.clock_timestamp(), m FROM unnest($1) AS m RETURNING msg_id',
        'q_' || p_queue)
      USING p_messages;
END;
$$;

-- tasker._queue_read(queue, vt_seconds, limit): takes up to p_limit visible messages in msg_id
-- order, skipping those another transaction holds, and hides them for p_vt_seconds (read_ct + 1,
-- last_read_at = now), as pgmq.read does. Returns (msg_id, message).
CREATE OR REPLACE FUNCTION tasker._queue_read(p_queue text, p_vt_seconds integer, p_limit integer)
RETURNS TABLE (msg_id bigint, message jsonb)
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    RETURN QUERY EXECUTE format(
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
         RETURNING m.msg_id, m.message',
        'q_' || p_queue)
      USING p_limit, pg_catalog.make_interval(secs => p_vt_seconds);
END;
$$;

-- tasker._queue_delete(queue, msg_ids): deletes those messages (ids not in the queue are
-- ignored), as pgmq.delete does. Returns how many were deleted.
CREATE OR REPLACE FUNCTION tasker._queue_delete(p_queue text, p_msg_ids bigint[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_deleted integer;
BEGIN
    EXECUTE format('DELETE FROM pgmq.%I WHERE msg_id = ANY ($1)', 'q_' || p_queue) USING p_msg_ids;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN v_deleted;
END;
$$;
