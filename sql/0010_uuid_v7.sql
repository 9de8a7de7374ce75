-- tasker.uuid_v7(ts): a time-ordered UUID (RFC 9562 version 7).
--
-- Guarantees: the first 48 bits are the Unix time in milliseconds of p_ts and the next 12 (after
-- the version) its fraction of a millisecond, in 1/4096ths (RFC 9562 section 6.2, method 3), so
-- ids made at different microseconds sort by time: tasks created one after another in a session
-- sort in creation order even within one millisecond. The remaining 62 bits are random.
-- PostgreSQL 15 has no built-in generator.
-- Written with pg_catalog-qualified names and no SET clause, so the planner inlines it (it runs
-- once per task and per step created).
CREATE OR REPLACE FUNCTION tasker.uuid_v7(p_ts timestamptz DEFAULT pg_catalog.clock_timestamp())
RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
    SELECT pg_catalog.encode(
        overlay(
            overlay(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
                    PLACING substring(pg_catalog.int8send(ms::bigint) FROM 3)
                    FROM 1 FOR 6)
            -- version 7 (0x7000) and the 12 bits of sub-millisecond time
            PLACING substring(pg_catalog.int4send(28672 + pg_catalog.floor((ms_exact - ms) * 4096)::integer) FROM 3)
            FROM 7 FOR 2),
        'hex')::uuid
      FROM (SELECT pg_catalog.floor(e) AS ms, e AS ms_exact
              FROM (SELECT pg_catalog.date_part('epoch', p_ts) * 1000 AS e) AS t) AS x;
$$;
COMMENT ON FUNCTION tasker.uuid_v7(timestamptz) IS
    'A time-ordered UUID (RFC 9562 version 7): the first 48 bits are the Unix time of p_ts in milliseconds, the next 12 its fraction of a millisecond, the rest random, so ids sort by creation time.';
