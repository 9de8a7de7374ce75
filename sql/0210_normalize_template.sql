-- tasker.normalize_template(definition): validates a task template and returns it with every
-- default filled in. Reads the template limits from tasker.settings and writes nothing.
--
-- Raises SQLSTATE TK003 with a message naming the template and the problem for: a missing or
-- malformed namespace / name / version, no steps, a step without a name or handler, a duplicate
-- step name, a dependency on an unknown step or on itself, a dependency cycle (the message lists
-- the steps on or behind a cycle), out-of-range retry or timeout settings, any unknown key (a
-- typo such as "retries" is an error, not silently ignored), an input_schema that
-- tasker.json_schema_errors could not apply (a keyword of the wrong type, an invalid pattern:
-- tasker._input_schema_problem names the keyword's path), and a template over its limits:
-- more steps than the setting template.max_steps (default 10000), or a step with more
-- dependencies than template.max_fan_in (default 1000); the message names the setting.
-- Integers written as 5.0 are stored as 5.
-- Defaults: retry {max_attempts 3, backoff exponential, base_ms 1000, max_ms 60000},
-- timeout_seconds 300, depends_on [], inputs {}.
-- Cost: linear in steps + dependencies. Each step is checked once; duplicate names and unknown
-- dependencies are found with hash aggregates and joins (nested loops are disabled for this
-- function, so no plan compares every step with every other); cycles with one topological pass
-- (Kahn's algorithm) over integer arrays.
CREATE OR REPLACE FUNCTION tasker.normalize_template(p_definition jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_nestloop = off
AS $$
DECLARE
    v_ns      text := p_definition ->> 'namespace';
    v_name    text := p_definition ->> 'name';
    v_version text := p_definition ->> 'version';
    v_label   text;
    v_problem text;
    v_max_steps  integer;
    v_max_fan_in integer;
    v_n       integer;
    v_out     jsonb[] := '{}'::jsonb[];
    v_steps   jsonb;
    v_step    jsonb;
    v_retry   jsonb;
    v_names   text[] := '{}'::text[];
    v_sname   text;
    v_dep     text;
    v_deps    jsonb;
    v_timeout jsonb;
    v_pos     integer := 0;
    v_bad     record;
    v_indeg   integer[];
    v_start   integer[];
    v_adj     integer[];
    v_queue   integer[];
    v_head    integer := 1;
    v_p       integer;
    v_c       integer;
    v_i       integer;
BEGIN
    IF p_definition IS NULL OR jsonb_typeof(p_definition) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = 'template definition must be a JSON object';
    END IF;
    IF v_ns IS NULL OR jsonb_typeof(p_definition -> 'namespace') <> 'string' OR v_ns !~ '^[a-z][a-z0-9_]{0,33}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template namespace %s is invalid', coalesce(p_definition ->> 'namespace', '(missing)')),
            HINT = 'a namespace is 1-34 characters: a lowercase letter, then lowercase letters, digits or _';
    END IF;
    IF v_name IS NULL OR jsonb_typeof(p_definition -> 'name') <> 'string' OR v_name !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template name %s is invalid', coalesce(p_definition ->> 'name', '(missing)')),
            HINT = 'a name is 1-128 characters: letters, digits, _ . -';
    END IF;
    IF v_version IS NULL OR jsonb_typeof(p_definition -> 'version') <> 'string' OR v_version !~ '^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template version %s is invalid', coalesce(p_definition ->> 'version', '(missing)')),
            HINT = 'a version is a string such as "1.0.0"';
    END IF;
    v_label := v_ns || '/' || v_name || '/' || v_version;
    SELECT k INTO v_sname FROM jsonb_object_keys(p_definition) k
     WHERE k NOT IN ('namespace', 'name', 'version', 'description', 'input_schema', 'steps') LIMIT 1;
    IF v_sname IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: unknown key ''%s''', v_label, v_sname),
            HINT = 'template keys are namespace, name, version, description, input_schema, steps';
    END IF;
    IF p_definition ? 'description' AND jsonb_typeof(p_definition -> 'description') NOT IN ('string', 'null') THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: description must be a string', v_label);
    END IF;

    IF jsonb_typeof(p_definition -> 'steps') IS DISTINCT FROM 'array' OR jsonb_array_length(p_definition -> 'steps') = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s has no steps', v_label);
    END IF;
    IF p_definition ? 'input_schema' AND jsonb_typeof(p_definition -> 'input_schema') NOT IN ('object', 'null') THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: input_schema must be an object', v_label);
    END IF;
    IF jsonb_typeof(p_definition -> 'input_schema') = 'object' THEN
        v_problem := tasker._input_schema_problem(p_definition -> 'input_schema', 'input_schema');
        IF v_problem IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: %s', v_label, v_problem),
                HINT = 'input_schema supports type, enum, const, required, properties, additionalProperties, items, '
                       'minItems, maxItems, minLength, maxLength, pattern, minimum, maximum (docs/templates.md)';
        END IF;
    END IF;

    -- Limits (tasker.settings; the defaults apply when a row is missing).
    v_max_steps := coalesce((SELECT (st.value #>> '{}')::integer FROM tasker.settings st WHERE st.key = 'template.max_steps'), 10000);
    v_max_fan_in := coalesce((SELECT (st.value #>> '{}')::integer FROM tasker.settings st WHERE st.key = 'template.max_fan_in'), 1000);
    v_n := jsonb_array_length(p_definition -> 'steps');
    IF v_n > v_max_steps THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template %s has %s steps, more than the limit of %s (setting template.max_steps)',
                             v_label, v_n, v_max_steps),
            HINT = 'split the workflow into several templates, or raise the limit in tasker.settings';
    END IF;

    FOR v_step IN SELECT e FROM jsonb_array_elements(p_definition -> 'steps') e LOOP
        v_pos := v_pos + 1;
        IF jsonb_typeof(v_step) <> 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: step #%s is not an object', v_label, v_pos);
        END IF;
        SELECT k INTO v_dep FROM jsonb_object_keys(v_step) k
         WHERE k NOT IN ('name', 'handler', 'description', 'depends_on', 'retry', 'timeout_seconds', 'inputs') LIMIT 1;
        IF v_dep IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step #%s (%s): unknown key ''%s''', v_label, v_pos, coalesce(v_step ->> 'name', '?'), v_dep),
                HINT = 'step keys are name, handler, description, depends_on, retry, timeout_seconds, inputs';
        END IF;
        v_sname := v_step ->> 'name';
        IF v_sname IS NULL OR jsonb_typeof(v_step -> 'name') <> 'string' OR v_sname !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step #%s has an invalid name %s', v_label, v_pos, coalesce(v_step ->> 'name', '(missing)'));
        END IF;
        -- Duplicate names are found for all steps at once, after this loop.
        v_names := array_append(v_names, v_sname);
        IF jsonb_typeof(v_step -> 'handler') IS DISTINCT FROM 'string' OR length(v_step ->> 'handler') = 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: step ''%s'' has no handler', v_label, v_sname);
        END IF;

        v_deps := coalesce(v_step -> 'depends_on', '[]');
        IF jsonb_typeof(v_deps) <> 'array' OR EXISTS (SELECT 1 FROM jsonb_array_elements(v_deps) d WHERE jsonb_typeof(d) <> 'string') THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': depends_on must be a list of step names', v_label, v_sname);
        END IF;
        IF jsonb_array_length(v_deps) > v_max_fan_in THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'' has %s dependencies, more than the limit of %s (setting template.max_fan_in)',
                                 v_label, v_sname, jsonb_array_length(v_deps), v_max_fan_in),
                HINT = 'join through intermediate steps, or raise the limit in tasker.settings';
        END IF;
        IF (SELECT count(*) <> count(DISTINCT d) FROM jsonb_array_elements_text(v_deps) d) THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'' lists a dependency twice', v_label, v_sname);
        END IF;

        v_retry := coalesce(v_step -> 'retry', '{}');
        IF jsonb_typeof(v_retry) <> 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: step ''%s'': retry must be an object', v_label, v_sname);
        END IF;
        SELECT k INTO v_dep FROM jsonb_object_keys(v_retry) k
         WHERE k NOT IN ('max_attempts', 'backoff', 'base_ms', 'max_ms') LIMIT 1;
        IF v_dep IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': unknown retry key ''%s''', v_label, v_sname, v_dep),
                HINT = 'retry keys are max_attempts, backoff, base_ms, max_ms';
        END IF;
        v_retry := jsonb_build_object(
            'max_attempts', coalesce(v_retry -> 'max_attempts', '3'),
            'backoff', coalesce(v_retry -> 'backoff', '"exponential"'),
            'base_ms', coalesce(v_retry -> 'base_ms', '1000'),
            'max_ms', coalesce(v_retry -> 'max_ms', '60000'));
        IF jsonb_typeof(v_retry -> 'max_attempts') <> 'number' OR (v_retry ->> 'max_attempts')::numeric % 1 <> 0
           OR (v_retry ->> 'max_attempts')::numeric NOT BETWEEN 1 AND 1000 THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': retry.max_attempts must be an integer from 1 to 1000', v_label, v_sname);
        END IF;
        IF v_retry ->> 'backoff' NOT IN ('none', 'linear', 'exponential') OR jsonb_typeof(v_retry -> 'backoff') <> 'string' THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': retry.backoff must be none, linear or exponential', v_label, v_sname);
        END IF;
        IF jsonb_typeof(v_retry -> 'base_ms') <> 'number' OR jsonb_typeof(v_retry -> 'max_ms') <> 'number'
           OR (v_retry ->> 'base_ms')::numeric % 1 <> 0 OR (v_retry ->> 'max_ms')::numeric % 1 <> 0
           OR (v_retry ->> 'base_ms')::numeric NOT BETWEEN 0 AND 86400000
           OR (v_retry ->> 'max_ms')::numeric NOT BETWEEN 0 AND 86400000
           OR (v_retry ->> 'max_ms')::numeric < (v_retry ->> 'base_ms')::numeric THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': retry.base_ms and retry.max_ms must be integers from 0 to 86400000 with base_ms <= max_ms', v_label, v_sname);
        END IF;

        v_timeout := coalesce(v_step -> 'timeout_seconds', '300');
        IF jsonb_typeof(v_timeout) <> 'number' OR (v_timeout #>> '{}')::numeric % 1 <> 0
           OR (v_timeout #>> '{}')::numeric NOT BETWEEN 1 AND 604800 THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': timeout_seconds must be an integer from 1 to 604800', v_label, v_sname);
        END IF;
        IF v_step ? 'inputs' AND jsonb_typeof(v_step -> 'inputs') <> 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: step ''%s'': inputs must be an object', v_label, v_sname);
        END IF;

        -- Integers written as 5.0 are stored as 5.
        v_retry := jsonb_build_object(
            'max_attempts', (v_retry ->> 'max_attempts')::numeric::integer,
            'backoff', v_retry -> 'backoff',
            'base_ms', (v_retry ->> 'base_ms')::numeric::integer,
            'max_ms', (v_retry ->> 'max_ms')::numeric::integer);
        v_out := array_append(v_out,
            jsonb_build_object(
                'name', v_sname,
                'handler', v_step -> 'handler',
                'depends_on', v_deps,
                'retry', v_retry,
                'timeout_seconds', (v_timeout #>> '{}')::numeric::integer,
                'inputs', coalesce(v_step -> 'inputs', '{}'))
            || CASE WHEN jsonb_typeof(v_step -> 'description') = 'string'
                    THEN jsonb_build_object('description', v_step -> 'description') ELSE '{}'::jsonb END);
    END LOOP;

    v_steps := to_jsonb(v_out);

    -- Names are unique (hash aggregate; the first duplicate in template order is reported).
    SELECT u.name INTO v_sname
      FROM unnest(v_names) WITH ORDINALITY AS u (name, pos)
     GROUP BY u.name HAVING count(*) > 1
     ORDER BY min(u.pos) LIMIT 1;
    IF v_sname IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: duplicate step name ''%s''', v_label, v_sname);
    END IF;

    -- Every dependency names another step (one hash join of all dependencies with all names;
    -- the first problem in template order is reported).
    SELECT e.child_name, e.dep, e.parent INTO v_bad
      FROM (SELECT s.pos AS child, s.step ->> 'name' AS child_name, d.dep, d.dpos, n.pos AS parent
              FROM jsonb_array_elements(v_steps) WITH ORDINALITY AS s (step, pos)
             CROSS JOIN LATERAL jsonb_array_elements_text(s.step -> 'depends_on') WITH ORDINALITY AS d (dep, dpos)
              LEFT JOIN unnest(v_names) WITH ORDINALITY AS n (name, pos) ON n.name = d.dep) e
     WHERE e.parent IS NULL OR e.parent = e.child
     ORDER BY e.child, e.dpos LIMIT 1;
    IF v_bad.dep IS NOT NULL AND v_bad.parent IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template %s: step ''%s'' depends on itself', v_label, v_bad.child_name);
    ELSIF v_bad.dep IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template %s: step ''%s'' depends on unknown step ''%s''', v_label, v_bad.child_name, v_bad.dep),
            HINT = 'steps are: ' || array_to_string(v_names[1:50], ', ')
                   || CASE WHEN v_n > 50 THEN format(' ... (%s steps)', v_n) ELSE '' END;
    END IF;

    -- No cycles: one topological pass (Kahn). Steps are numbered by position; v_indeg counts
    -- each step's unvisited parents, v_adj lists children grouped by parent, v_start[p] is
    -- where parent p's children begin in v_adj. Whatever is never visited is on or behind a
    -- cycle.
    SELECT array_agg(coalesce(k.n, 0)::integer ORDER BY p.pos), array_agg(coalesce(o.n, 0)::integer ORDER BY p.pos)
      INTO v_indeg, v_start
      FROM generate_series(1, v_n) AS p (pos)
      LEFT JOIN (SELECT s.pos, jsonb_array_length(s.step -> 'depends_on') AS n
                   FROM jsonb_array_elements(v_steps) WITH ORDINALITY AS s (step, pos)) k ON k.pos = p.pos
      LEFT JOIN (SELECT n.pos, count(*) AS n
                   FROM jsonb_array_elements(v_steps) WITH ORDINALITY AS s (step, pos)
                  CROSS JOIN LATERAL jsonb_array_elements_text(s.step -> 'depends_on') AS d (dep)
                   JOIN unnest(v_names) WITH ORDINALITY AS n (name, pos) ON n.name = d.dep
                  GROUP BY n.pos) o ON o.pos = p.pos;
    SELECT coalesce(array_agg(s.pos::integer ORDER BY n.pos, s.pos), '{}')
      INTO v_adj
      FROM jsonb_array_elements(v_steps) WITH ORDINALITY AS s (step, pos)
     CROSS JOIN LATERAL jsonb_array_elements_text(s.step -> 'depends_on') AS d (dep)
      JOIN unnest(v_names) WITH ORDINALITY AS n (name, pos) ON n.name = d.dep;
    -- Out-degrees to start offsets (v_start[n + 1] is one past the end).
    v_c := 1;
    FOR v_i IN 1 .. v_n LOOP
        v_p := v_start[v_i];
        v_start[v_i] := v_c;
        v_c := v_c + v_p;
    END LOOP;
    v_start[v_n + 1] := v_c;

    v_queue := ARRAY(SELECT p.pos::integer FROM unnest(v_indeg) WITH ORDINALITY AS p (n, pos) WHERE p.n = 0 ORDER BY p.pos);
    WHILE v_head <= cardinality(v_queue) LOOP
        v_p := v_queue[v_head];
        v_head := v_head + 1;
        FOR v_i IN v_start[v_p] .. v_start[v_p + 1] - 1 LOOP
            v_c := v_adj[v_i];
            v_indeg[v_c] := v_indeg[v_c] - 1;
            IF v_indeg[v_c] = 0 THEN
                v_queue := array_append(v_queue, v_c);
            END IF;
        END LOOP;
    END LOOP;
    IF cardinality(v_queue) < v_n THEN
        SELECT count(*)::integer,
               string_agg(v_names[p.pos], ', ' ORDER BY p.pos) FILTER (WHERE p.rank <= 50)
          INTO v_i, v_sname
          FROM (SELECT x.pos, row_number() OVER (ORDER BY x.pos) AS rank
                  FROM unnest(v_indeg) WITH ORDINALITY AS x (n, pos) WHERE x.n > 0) p;
        RAISE EXCEPTION USING ERRCODE = 'TK003',
            MESSAGE = format('template %s: dependency cycle among steps %s%s', v_label, v_sname,
                             CASE WHEN v_i > 50 THEN format(' ... (%s steps on or behind a cycle)', v_i) ELSE '' END);
    END IF;

    RETURN jsonb_build_object('namespace', v_ns, 'name', v_name, 'version', v_version, 'steps', v_steps)
        || CASE WHEN jsonb_typeof(p_definition -> 'description') = 'string'
                THEN jsonb_build_object('description', p_definition -> 'description') ELSE '{}'::jsonb END
        || CASE WHEN jsonb_typeof(p_definition -> 'input_schema') = 'object'
                THEN jsonb_build_object('input_schema', p_definition -> 'input_schema') ELSE '{}'::jsonb END;
END;
$$;
COMMENT ON FUNCTION tasker.normalize_template(jsonb) IS
    'Validates a task template and returns it with every default filled in; raises TK003 naming the template and the problem. Pure.';
