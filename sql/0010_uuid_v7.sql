-- tasker.uuid_v7(ts): a time-ordered UUID (RFC 9562 version 7).
--
-- Guarantees: the first 48 bits are the Unix time in milliseconds of p_ts and the next 12 (after
-- the version) its fraction of a millisecond, in 1/4096ths (RFC 9562 section 6.2, method 3), so
-- ids made at different microseconds sort by time: tasks created one after another in a session
-- sort in creation order even within one millisecond. The remaining 62 bits are random.
-- PostgreSQL 15 has no built-in generator.
-- Written as one expression (no FROM, p_ts referenced once), with pg_catalog-qualified names and
-- no SET clause, so the planner inlines it wherever it is called: it runs once per task and per
-- step created, and a call that is not inlined costs a parse and plan of its body per statement
-- (about 40 microseconds; test create_task::uuid_v7_is_inlined).
CREATE OR REPLACE FUNCTION tasker.uuid_v7(p_ts timestamptz DEFAULT pg_catalog.clock_timestamp())
RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
    -- 15 hex digits of time in 1/4096 ms (48 bits of milliseconds, 12 of fraction), the version
    -- digit 7 inserted between them, then the last 16 hex digits of a random version 4 UUID (its
    -- variant bits included). p_ts appears once, so even the default clock_timestamp() inlines.
    SELECT (overlay(pg_catalog.lpad(pg_catalog.to_hex(
                        pg_catalog.floor(pg_catalog.date_part('epoch', p_ts) * 4096000)::bigint), 15, '0')
                    PLACING '7' FROM 13 FOR 0)
            || pg_catalog.right(pg_catalog.encode(pg_catalog.uuid_send(pg_catalog.gen_random_uuid()), 'hex'), 16))::uuid
$$;
COMMENT ON FUNCTION tasker.uuid_v7(timestamptz) IS
    'A time-ordered UUID (RFC 9562 version 7): the first 48 bits are the Unix time of p_ts in milliseconds, the next 12 its fraction of a millisecond, the rest random, so ids sort by creation time.';
