-- tasker.uuid_v7(ts): a time-ordered UUID (RFC 9562 version 7).
--
-- Guarantees: the first 48 bits are the Unix time in milliseconds of p_ts, so ids sort by
-- creation time; the rest is random. PostgreSQL 15 has no built-in generator.
CREATE OR REPLACE FUNCTION tasker.uuid_v7(p_ts timestamptz DEFAULT clock_timestamp())
RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
SET search_path = ''
AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM p_ts) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid;
$$;
