-- tasker.uuid_v7(ts): a time-ordered UUID (RFC 9562 version 7).
--
-- Guarantees: the first 48 bits are the Unix time in milliseconds of p_ts, so ids sort by
-- creation time; the rest is random. PostgreSQL 15 has no built-in generator.
-- Written with pg_catalog-qualified names and no SET clause, so the planner inlines it (it runs
-- once per task and per step created).
CREATE OR REPLACE FUNCTION tasker.uuid_v7(p_ts timestamptz DEFAULT pg_catalog.clock_timestamp())
RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
    SELECT pg_catalog.encode(
        pg_catalog.set_bit(pg_catalog.set_bit(
            overlay(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
                    PLACING substring(
                        pg_catalog.int8send(pg_catalog.floor(pg_catalog.date_part('epoch', p_ts) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid;
$$;
COMMENT ON FUNCTION tasker.uuid_v7(timestamptz) IS
    'A time-ordered UUID (RFC 9562 version 7): the first 48 bits are the Unix time of p_ts in milliseconds, the rest random, so ids sort by creation time.';
