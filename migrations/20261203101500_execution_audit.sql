-- The execution audit: one row per handler invocation, written by workers started with
-- record_executions (`tasker-worker --record-executions`), read by operators and by the
-- end-to-end tests that prove no step ran twice. Outside schema `tasker` because it is not part of
-- the engine: nothing in sql/ reads or writes it.
--
-- Workers used to create this table themselves at start; IF NOT EXISTS keeps this migration
-- harmless on a database where one already did (the definition is the same).
CREATE SCHEMA IF NOT EXISTS tasker_audit;

CREATE TABLE IF NOT EXISTS tasker_audit.step_executions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    step_uuid   uuid NOT NULL,
    task_uuid   uuid NOT NULL,
    attempt     integer NOT NULL,
    handler     text NOT NULL,
    worker_id   text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    outcome     text NOT NULL,
    error       jsonb
);

CREATE INDEX IF NOT EXISTS step_executions_step ON tasker_audit.step_executions (step_uuid, attempt);
