-- tasker.retry_delay_ms(backoff, base_ms, max_ms, attempt, retry_after_ms): how long a step that
-- failed on its attempt-th try waits before it is dispatched again.
--
--   retry_after_ms given (a handler's hint)  -> that, never negative and never more than max_ms
--                                               (a worker cannot park a step beyond its backoff)
--   none         -> 0
--   linear       -> base_ms * attempt
--   exponential  -> base_ms * 2^(attempt - 1)
-- then capped at max_ms and jittered down by up to 25% (so the result lies in [0.75 d, d]),
-- which spreads retries of many steps that failed together.
CREATE OR REPLACE FUNCTION tasker.retry_delay_ms(
    p_backoff text, p_base_ms integer, p_max_ms integer, p_attempt integer, p_retry_after_ms bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = ''
AS $$
    SELECT CASE
        WHEN p_retry_after_ms IS NOT NULL THEN least(greatest(p_retry_after_ms, 0), greatest(p_max_ms, 0))
        ELSE floor(d * (1 - 0.25 * random()))::bigint
    END
    FROM (SELECT least(p_max_ms::numeric, CASE p_backoff
                WHEN 'none' THEN 0
                WHEN 'linear' THEN p_base_ms::numeric * greatest(p_attempt, 1)
                ELSE p_base_ms::numeric * power(2::numeric, least(greatest(p_attempt, 1) - 1, 40))
            END) AS d) AS delay;
$$;
COMMENT ON FUNCTION tasker.retry_delay_ms(text, integer, integer, integer, bigint) IS
    'Milliseconds a step that failed on attempt p_attempt waits before its next dispatch: the retry-after hint when given (floored at 0, capped at p_max_ms), else none, linear or exponential backoff capped at p_max_ms and jittered down by up to 25%.';
