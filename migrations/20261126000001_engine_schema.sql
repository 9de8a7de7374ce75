-- Tasker engine schema: tables, state machine data, indexes.
--
-- Tables are private to the engine: callers use the functions and views in sql/.
-- The current state of a task or step lives on its row; every change of it is appended to a
-- history table by the one transition function of its state machine (sql/0100_*, sql/0110_*).
-- pgmq (schema pgmq) is installed before this migration runs (extension or embedded SQL).

CREATE SCHEMA IF NOT EXISTS tasker;

-- ---------------------------------------------------------------------------------------------
-- State machines as data
-- ---------------------------------------------------------------------------------------------

CREATE TABLE tasker.task_states (
    state       text PRIMARY KEY,
    is_terminal boolean NOT NULL,
    description text NOT NULL
);

CREATE TABLE tasker.step_states (
    state          text PRIMARY KEY,
    is_terminal    boolean NOT NULL,
    satisfies_deps boolean NOT NULL,
    description    text NOT NULL
);

-- Every allowed move of the task machine: (from_state, event) -> to_state.
CREATE TABLE tasker.task_state_transitions (
    from_state text NOT NULL REFERENCES tasker.task_states (state),
    event      text NOT NULL,
    to_state   text NOT NULL REFERENCES tasker.task_states (state),
    PRIMARY KEY (from_state, event)
);

-- Every allowed move of the step machine: (from_state, event) -> to_state.
CREATE TABLE tasker.step_state_transitions (
    from_state text NOT NULL REFERENCES tasker.step_states (state),
    event      text NOT NULL,
    to_state   text NOT NULL REFERENCES tasker.step_states (state),
    PRIMARY KEY (from_state, event)
);

INSERT INTO tasker.task_states (state, is_terminal, description) VALUES
    ('pending',                  false, 'created, not yet initialized'),
    ('initializing',             false, 'steps and edges being materialized'),
    ('enqueuing_steps',          false, 'ready steps are being dispatched to worker queues'),
    ('steps_in_process',         false, 'steps are enqueued or running'),
    ('evaluating_results',       false, 'step results are being evaluated'),
    ('waiting_for_dependencies', false, 'nothing is running and nothing is ready; waiting on dependencies'),
    ('waiting_for_retry',        false, 'nothing is running; failed steps wait for their retry time'),
    ('blocked_by_failures',      false, 'a step failed permanently; the other branches run to completion before the task ends in error'),
    ('complete',                 true,  'every step completed or was resolved'),
    ('error',                    true,  'a step failed permanently and nothing can progress; in the DLQ, retryable by an operator'),
    ('cancelled',                true,  'cancelled by an operator'),
    ('resolved_manually',        true,  'closed by an operator');

INSERT INTO tasker.step_states (state, is_terminal, satisfies_deps, description) VALUES
    ('pending',           false, false, 'waiting for its parents or for dispatch'),
    ('enqueued',          false, false, 'sent to its namespace queue, not yet claimed'),
    ('in_progress',       false, false, 'claimed by a worker'),
    ('waiting_for_retry', false, false, 'failed, will be dispatched again at next_retry_at'),
    ('complete',          true,  true,  'finished successfully'),
    ('error',             false, false, 'failed permanently or exhausted its attempts; retryable by an operator'),
    ('cancelled',         true,  false, 'cancelled with its task'),
    ('resolved_manually', true,  true,  'resolved by an operator; satisfies its dependents');

INSERT INTO tasker.task_state_transitions (from_state, event, to_state) VALUES
    ('pending',                  'initialize',            'initializing'),
    ('initializing',             'enqueue',               'enqueuing_steps'),
    ('enqueuing_steps',          'steps_enqueued',        'steps_in_process'),
    ('enqueuing_steps',          'evaluate',              'evaluating_results'),
    ('steps_in_process',         'evaluate',              'evaluating_results'),
    ('waiting_for_dependencies', 'evaluate',              'evaluating_results'),
    ('waiting_for_retry',        'evaluate',              'evaluating_results'),
    ('blocked_by_failures',      'evaluate',              'evaluating_results'),
    ('evaluating_results',       'enqueue',               'enqueuing_steps'),
    ('evaluating_results',       'continue',              'steps_in_process'),
    ('evaluating_results',       'wait_for_dependencies', 'waiting_for_dependencies'),
    ('evaluating_results',       'wait_for_retry',        'waiting_for_retry'),
    ('evaluating_results',       'block',                 'blocked_by_failures'),
    ('evaluating_results',       'complete',              'complete'),
    ('evaluating_results',       'fail',                  'error'),
    ('waiting_for_dependencies', 'enqueue',               'enqueuing_steps'),
    ('waiting_for_retry',        'enqueue',               'enqueuing_steps'),
    ('error',                    'retry',                 'evaluating_results'),
    ('blocked_by_failures',      'retry',                 'evaluating_results'),
    ('pending',                  'cancel',                'cancelled'),
    ('initializing',             'cancel',                'cancelled'),
    ('enqueuing_steps',          'cancel',                'cancelled'),
    ('steps_in_process',         'cancel',                'cancelled'),
    ('evaluating_results',       'cancel',                'cancelled'),
    ('waiting_for_dependencies', 'cancel',                'cancelled'),
    ('waiting_for_retry',        'cancel',                'cancelled'),
    ('blocked_by_failures',      'cancel',                'cancelled'),
    ('error',                    'cancel',                'cancelled'),
    ('pending',                  'resolve',               'resolved_manually'),
    ('initializing',             'resolve',               'resolved_manually'),
    ('enqueuing_steps',          'resolve',               'resolved_manually'),
    ('steps_in_process',         'resolve',               'resolved_manually'),
    ('evaluating_results',       'resolve',               'resolved_manually'),
    ('waiting_for_dependencies', 'resolve',               'resolved_manually'),
    ('waiting_for_retry',        'resolve',               'resolved_manually'),
    ('blocked_by_failures',      'resolve',               'resolved_manually'),
    ('error',                    'resolve',               'resolved_manually');

INSERT INTO tasker.step_state_transitions (from_state, event, to_state) VALUES
    ('pending',           'enqueue',           'enqueued'),
    ('waiting_for_retry', 'enqueue',           'enqueued'),
    ('enqueued',          'claim',             'in_progress'),
    ('in_progress',       'reclaim',           'in_progress'),
    ('in_progress',       'complete',          'complete'),
    ('in_progress',       'retry',             'waiting_for_retry'),
    ('in_progress',       'fail',              'error'),
    ('enqueued',          'fail',              'error'),
    ('error',             'reset',             'pending'),
    ('pending',           'cancel',            'cancelled'),
    ('enqueued',          'cancel',            'cancelled'),
    ('in_progress',       'cancel',            'cancelled'),
    ('waiting_for_retry', 'cancel',            'cancelled'),
    ('error',             'cancel',            'cancelled'),
    ('pending',           'resolve',           'resolved_manually'),
    ('enqueued',          'resolve',           'resolved_manually'),
    ('in_progress',       'resolve',           'resolved_manually'),
    ('waiting_for_retry', 'resolve',           'resolved_manually'),
    ('error',             'resolve',           'resolved_manually'),
    ('pending',           'complete_manually', 'complete'),
    ('enqueued',          'complete_manually', 'complete'),
    ('in_progress',       'complete_manually', 'complete'),
    ('waiting_for_retry', 'complete_manually', 'complete'),
    ('error',             'complete_manually', 'complete');

-- ---------------------------------------------------------------------------------------------
-- Templates
-- ---------------------------------------------------------------------------------------------

CREATE TABLE tasker.namespaces (
    name       text PRIMARY KEY,
    queue_name text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT namespaces_name_format CHECK (name ~ '^[a-z][a-z0-9_]{0,33}$')
);

CREATE TABLE tasker.task_templates (
    template_uuid uuid PRIMARY KEY,
    namespace     text NOT NULL REFERENCES tasker.namespaces (name),
    name          text NOT NULL,
    version       text NOT NULL,
    description   text,
    definition    jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_templates_identity UNIQUE (namespace, name, version)
);

-- ---------------------------------------------------------------------------------------------
-- Tasks and steps
-- ---------------------------------------------------------------------------------------------

CREATE TABLE tasker.tasks (
    task_uuid                uuid PRIMARY KEY,
    -- No foreign key: every create would take a KEY SHARE lock on the one template row, turning
    -- concurrent creates of one template into MultiXact traffic. Templates are never deleted.
    template_uuid            uuid NOT NULL,
    namespace                text NOT NULL,
    name                     text NOT NULL,
    version                  text NOT NULL,
    -- A CHECK, not a foreign key to task_states: a foreign key would lock the shared state row
    -- on every transition of every task. The transition table keeps the states honest.
    state                    text NOT NULL CONSTRAINT tasks_state_known CHECK (state IN (
        'pending', 'initializing', 'enqueuing_steps', 'steps_in_process', 'evaluating_results',
        'waiting_for_dependencies', 'waiting_for_retry', 'blocked_by_failures', 'complete', 'error',
        'cancelled', 'resolved_manually')),
    context                  jsonb NOT NULL DEFAULT '{}',
    priority                 integer NOT NULL DEFAULT 0,
    tags                     text[] NOT NULL DEFAULT '{}',
    initiator                text,
    source_system            text,
    reason                   text,
    idempotency_key          text,
    request_hash             text NOT NULL,
    correlation_id           uuid NOT NULL,
    step_count               integer NOT NULL,
    last_error               jsonb,
    finalization_requested_at timestamptz,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    completed_at             timestamptz,
    CONSTRAINT tasks_completed_at_iff_final CHECK (
        (completed_at IS NOT NULL) = (state IN ('complete', 'error', 'cancelled', 'resolved_manually'))),
    CONSTRAINT tasks_step_count_positive CHECK (step_count > 0)
);

CREATE UNIQUE INDEX tasks_idempotency_key ON tasker.tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_created_at ON tasker.tasks (created_at, task_uuid);
CREATE INDEX tasks_state ON tasker.tasks (state);
CREATE INDEX tasks_completed_at ON tasker.tasks (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX tasks_template ON tasker.tasks (namespace, name, version);
CREATE INDEX tasks_finalization_requested ON tasker.tasks (finalization_requested_at)
    WHERE finalization_requested_at IS NOT NULL;

CREATE TABLE tasker.workflow_steps (
    step_uuid        uuid PRIMARY KEY,
    task_uuid        uuid NOT NULL REFERENCES tasker.tasks (task_uuid) ON DELETE CASCADE,
    name             text NOT NULL,
    handler          text NOT NULL,
    position         integer NOT NULL,
    namespace        text NOT NULL,
    -- A CHECK, not a foreign key: see tasks.state.
    state            text NOT NULL CONSTRAINT workflow_steps_state_known CHECK (state IN (
        'pending', 'enqueued', 'in_progress', 'waiting_for_retry', 'complete', 'error', 'cancelled',
        'resolved_manually')),
    priority         integer NOT NULL DEFAULT 0,
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL,
    backoff          text NOT NULL,
    backoff_base_ms  integer NOT NULL,
    backoff_max_ms   integer NOT NULL,
    timeout_seconds  integer NOT NULL,
    parents_total    integer NOT NULL,
    parents_pending  integer NOT NULL,
    ready_at         timestamptz,
    next_retry_at    timestamptz,
    inputs           jsonb NOT NULL DEFAULT '{}',
    results          jsonb,
    last_error       jsonb,
    dispatch_msg_id  bigint,
    enqueued_at      timestamptz,
    claimed_at       timestamptz,
    completed_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workflow_steps_name_unique UNIQUE (task_uuid, name),
    CONSTRAINT workflow_steps_parents_pending_range CHECK (parents_pending >= 0 AND parents_pending <= parents_total),
    CONSTRAINT workflow_steps_attempts_range CHECK (attempts >= 0),
    CONSTRAINT workflow_steps_max_attempts_positive CHECK (max_attempts >= 1),
    CONSTRAINT workflow_steps_backoff_known CHECK (backoff IN ('none', 'linear', 'exponential')),
    CONSTRAINT workflow_steps_ready_only_when_dispatchable CHECK (
        ready_at IS NULL OR (state IN ('pending', 'waiting_for_retry') AND parents_pending = 0)),
    CONSTRAINT workflow_steps_retry_time_iff_waiting CHECK (
        (next_retry_at IS NOT NULL) = (state = 'waiting_for_retry')),
    CONSTRAINT workflow_steps_completed_at_iff_satisfied CHECK (
        (completed_at IS NOT NULL) = (state IN ('complete', 'resolved_manually')))
);

CREATE INDEX workflow_steps_task ON tasker.workflow_steps (task_uuid, state);
-- The dispatch queue: steps whose parents are satisfied, by priority then age.
CREATE INDEX workflow_steps_ready ON tasker.workflow_steps (priority DESC, ready_at, step_uuid)
    WHERE ready_at IS NOT NULL;
CREATE INDEX workflow_steps_in_flight ON tasker.workflow_steps (claimed_at)
    WHERE state IN ('enqueued', 'in_progress');
CREATE INDEX workflow_steps_failed ON tasker.workflow_steps (updated_at) WHERE state = 'error';

CREATE TABLE tasker.workflow_step_edges (
    from_step_uuid uuid NOT NULL REFERENCES tasker.workflow_steps (step_uuid) ON DELETE CASCADE,
    to_step_uuid   uuid NOT NULL REFERENCES tasker.workflow_steps (step_uuid) ON DELETE CASCADE,
    PRIMARY KEY (from_step_uuid, to_step_uuid),
    CONSTRAINT workflow_step_edges_no_self_loop CHECK (from_step_uuid <> to_step_uuid)
);
CREATE INDEX workflow_step_edges_to ON tasker.workflow_step_edges (to_step_uuid);

-- ---------------------------------------------------------------------------------------------
-- History (append-only)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE tasker.task_transitions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_uuid  uuid NOT NULL REFERENCES tasker.tasks (task_uuid) ON DELETE CASCADE,
    from_state text,
    to_state   text NOT NULL,
    event      text NOT NULL,
    metadata   jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_transitions_task ON tasker.task_transitions (task_uuid, id);

CREATE TABLE tasker.workflow_step_transitions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    step_uuid  uuid NOT NULL REFERENCES tasker.workflow_steps (step_uuid) ON DELETE CASCADE,
    task_uuid  uuid NOT NULL,
    from_state text,
    to_state   text NOT NULL,
    event      text NOT NULL,
    attempt    integer NOT NULL,
    metadata   jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflow_step_transitions_step ON tasker.workflow_step_transitions (step_uuid, id);
CREATE INDEX workflow_step_transitions_task ON tasker.workflow_step_transitions (task_uuid, id);

-- ---------------------------------------------------------------------------------------------
-- Dead letter queue
-- ---------------------------------------------------------------------------------------------

CREATE TABLE tasker.dlq_entries (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_uuid             uuid NOT NULL REFERENCES tasker.tasks (task_uuid) ON DELETE CASCADE,
    reason                text NOT NULL,
    task_state            text NOT NULL,
    snapshot              jsonb NOT NULL,
    resolution_status     text NOT NULL DEFAULT 'pending',
    resolution_notes      text,
    resolved_by           text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    resolved_at           timestamptz,
    CONSTRAINT dlq_entries_status_known CHECK (
        resolution_status IN ('pending', 'investigating', 'resolved', 'retried', 'discarded'))
);
CREATE INDEX dlq_entries_task ON tasker.dlq_entries (task_uuid, id);
CREATE INDEX dlq_entries_status ON tasker.dlq_entries (resolution_status, created_at);

-- ---------------------------------------------------------------------------------------------
-- Bookkeeping for sql/ (functions, views, triggers re-applied at every start)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE tasker.sql_applied (
    file_name  text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- The queue every worker reports results to.
SELECT pgmq.create('orchestration_step_results');
