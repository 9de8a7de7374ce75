-- tasker._worker_may_serve(namespace): whether the connected role may claim, heartbeat and
-- acknowledge steps of p_namespace. Called by the worker functions (SECURITY DEFINER, so
-- current_user is the role that owns them: the migrating role).
--
-- True for the owning role, its members and superusers (the orchestration server and operators);
-- otherwise (a worker role, a member of tasker_worker) only when tasker.worker_namespaces names a
-- role the session user is a member of with p_namespace or '*'. session_user, not current_user:
-- inside the SECURITY DEFINER caller current_user is always the owner. Reads no locks.
-- PL/pgSQL, not SQL: it runs on every claim and acknowledgement, and a SQL function with a SET
-- clause is planned again on every call, while PL/pgSQL keeps its plans for the session.
CREATE OR REPLACE FUNCTION tasker._worker_may_serve(p_namespace text)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = ''
AS $$
BEGIN
    IF pg_catalog.pg_has_role(session_user, current_user, 'MEMBER') THEN
        RETURN true;
    END IF;
    RETURN EXISTS (SELECT 1
                     FROM tasker.worker_namespaces w
                     JOIN pg_catalog.pg_roles r ON r.rolname = w.role_name
                    WHERE w.namespace IN (p_namespace, '*')
                      AND pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER'));
END;
$$;
COMMENT ON FUNCTION tasker._worker_may_serve(text) IS
    'Whether the session user may serve p_namespace: the owning role, its members and superusers always; a worker role when tasker.worker_namespaces allows it (or a role it belongs to) that namespace or ''*''.';

-- tasker._require_worker_namespaces(namespaces): raises 42501 (insufficient_privilege) naming the
-- first of p_namespaces the session user may not serve (tasker._worker_may_serve).
CREATE OR REPLACE FUNCTION tasker._require_worker_namespaces(p_namespaces text[])
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = ''
AS $$
DECLARE
    v_denied text;
BEGIN
    SELECT n INTO v_denied FROM unnest(p_namespaces) AS n
     WHERE n IS NOT NULL AND NOT tasker._worker_may_serve(n)
     ORDER BY n LIMIT 1;
    IF v_denied IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('role %s may not serve namespace %s', session_user, v_denied),
            HINT = 'an operator allows it with tasker.set_worker_namespaces(role, namespaces)';
    END IF;
END;
$$;
COMMENT ON FUNCTION tasker._require_worker_namespaces(text[]) IS
    'Raises 42501 naming the first of p_namespaces the session user may not serve (tasker._worker_may_serve).';

-- tasker.set_worker_namespaces(role, namespaces): the namespaces a worker role may serve,
-- replacing what it was allowed before. '*' allows every namespace; an empty array allows none.
-- The role (a login role in tasker_worker, or a group role its logins belong to) must exist.
-- Locks the role's rows. Returns the namespaces now allowed, sorted.
-- TK002 unknown role; TK004 a namespace that is neither '*' nor a valid namespace name.
CREATE OR REPLACE FUNCTION tasker.set_worker_namespaces(p_role name, p_namespaces text[])
RETURNS SETOF text
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_bad text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = p_role) THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('unknown role %s', p_role);
    END IF;
    SELECT n INTO v_bad FROM unnest(coalesce(p_namespaces, '{}')) AS n
     WHERE n IS NULL OR (n <> '*' AND n !~ '^[a-z][a-z0-9_]{0,33}$') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = format('invalid namespace %s', coalesce(v_bad, 'NULL')),
            HINT = 'a namespace name (^[a-z][a-z0-9_]{0,33}$) or ''*'' for every namespace';
    END IF;
    DELETE FROM tasker.worker_namespaces w WHERE w.role_name = p_role;
    INSERT INTO tasker.worker_namespaces (role_name, namespace)
    SELECT DISTINCT p_role, n FROM unnest(coalesce(p_namespaces, '{}')) AS n;
    RETURN QUERY SELECT w.namespace FROM tasker.worker_namespaces w WHERE w.role_name = p_role ORDER BY w.namespace;
END;
$$;
COMMENT ON FUNCTION tasker.set_worker_namespaces(name, text[]) IS
    'The namespaces a worker role may serve, replacing its previous list: ''*'' for every namespace, an empty array for none. Returns the namespaces now allowed. TK002 unknown role, TK004 invalid namespace.';

-- tasker.ensure_worker_login(role, password, namespaces): makes p_role a login in tasker_worker
-- with p_password, allowed p_namespaces (tasker.set_worker_namespaces), creating it when it does
-- not exist; idempotent, so a deploy step may run it on every start. An existing role keeps its
-- other memberships and gets the password set again. Refuses (42501) to touch a role that could do
-- more than a worker: a superuser, a role with CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS, or
-- a member of the role that owns the schema. Needs CREATEROLE (the migrating role has it).
-- TK004 an empty password, a role name that is not a plain identifier or an invalid namespace.
CREATE OR REPLACE FUNCTION tasker.ensure_worker_login(p_role name, p_password text, p_namespaces text[])
RETURNS SETOF text
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_role pg_catalog.pg_roles%ROWTYPE;
BEGIN
    IF p_role IS NULL OR p_role !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = format('invalid worker role name %s', coalesce(p_role, 'NULL')),
            HINT = 'lower-case letters, digits and _ (^[a-z_][a-z0-9_]{0,62}$)';
    END IF;
    IF coalesce(p_password, '') = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004', MESSAGE = format('worker role %s needs a password', p_role);
    END IF;
    SELECT * INTO v_role FROM pg_catalog.pg_roles r WHERE r.rolname = p_role;
    IF NOT FOUND THEN
        EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE tasker_worker', p_role, p_password);
    ELSIF v_role.rolsuper OR v_role.rolcreaterole OR v_role.rolcreatedb OR v_role.rolreplication
          OR v_role.rolbypassrls
          OR pg_catalog.pg_has_role(v_role.oid,
                 (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname = 'tasker'), 'MEMBER') THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('role %s exists and can do more than a worker; choose another name', p_role);
    ELSE
        EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', p_role, p_password);
        EXECUTE format('GRANT tasker_worker TO %I', p_role);
    END IF;
    RETURN QUERY SELECT * FROM tasker.set_worker_namespaces(p_role, p_namespaces);
END;
$$;
COMMENT ON FUNCTION tasker.ensure_worker_login(name, text, text[]) IS
    'Creates or updates a tasker_worker login with a password and its namespaces (idempotent). 42501 for a role that can do more than a worker; TK004 bad name, empty password or namespace.';
