-- Which namespaces each worker role may serve (docs/worker-protocol.md, "Database role").
--
-- A login role that is a member of tasker_worker (the group role the migrator creates) may claim,
-- heartbeat and acknowledge steps of a namespace only when a row here names it -- or a role it is
-- a member of -- with that namespace, or with '*' for every namespace. Written through
-- tasker.set_worker_namespaces; read by the worker functions under the migrating role's rights.
-- No foreign key to tasker.namespaces: a worker may be allowed a namespace before its first
-- template is registered, as a worker may be configured to serve it.
CREATE TABLE tasker.worker_namespaces (
    role_name  name NOT NULL,
    namespace  text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role_name, namespace),
    CONSTRAINT worker_namespaces_namespace_format CHECK (namespace = '*' OR namespace ~ '^[a-z][a-z0-9_]{0,33}$')
);
