-- tasker.normalize_template(definition): validates a task template and returns it with every
-- default filled in. Pure: reads and writes no table.
--
-- Raises SQLSTATE TK003 with a message naming the template and the problem for: a missing or
-- malformed namespace / name / version, no steps, a step without a name or handler, a duplicate
-- step name, a dependency on an unknown step or on itself, a dependency cycle (the message lists
-- the steps on cycles), out-of-range retry or timeout settings, and any unknown key (a typo such
-- as "retries" is an error, not silently ignored). Integers written as 5.0 are stored as 5.
-- Defaults: retry {max_attempts 3, backoff exponential, base_ms 1000, max_ms 60000},
-- timeout_seconds 300, depends_on [], inputs {}.
CREATE OR REPLACE FUNCTION tasker.normalize_template(p_definition jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
    v_ns      text := p_definition ->> 'namespace';
    v_name    text := p_definition ->> 'name';
    v_version text := p_definition ->> 'version';
    v_label   text;
    v_steps   jsonb := '[]'::jsonb;
    v_step    jsonb;
    v_retry   jsonb;
    v_names   text[] := '{}'::text[];
    v_sname   text;
    v_dep     text;
    v_deps    jsonb;
    v_timeout jsonb;
    v_remaining text[];
    v_progress boolean;
    v_pos     integer := 0;
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
        IF v_sname = ANY (v_names) THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: duplicate step name ''%s''', v_label, v_sname);
        END IF;
        v_names := array_append(v_names, v_sname);
        IF jsonb_typeof(v_step -> 'handler') IS DISTINCT FROM 'string' OR length(v_step ->> 'handler') = 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: step ''%s'' has no handler', v_label, v_sname);
        END IF;

        v_deps := coalesce(v_step -> 'depends_on', '[]');
        IF jsonb_typeof(v_deps) <> 'array' OR EXISTS (SELECT 1 FROM jsonb_array_elements(v_deps) d WHERE jsonb_typeof(d) <> 'string') THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'': depends_on must be a list of step names', v_label, v_sname);
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
        v_steps := v_steps || jsonb_build_array(
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

    -- Every dependency names another step of this template.
    FOR v_sname, v_dep IN
        SELECT s ->> 'name', d FROM jsonb_array_elements(v_steps) s, jsonb_array_elements_text(s -> 'depends_on') d
    LOOP
        IF v_dep = v_sname THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003', MESSAGE = format('template %s: step ''%s'' depends on itself', v_label, v_sname);
        END IF;
        IF NOT v_dep = ANY (v_names) THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: step ''%s'' depends on unknown step ''%s''', v_label, v_sname, v_dep),
                HINT = 'steps are: ' || array_to_string(v_names, ', ');
        END IF;
    END LOOP;

    -- No cycles: peel off steps whose dependencies are all peeled (Kahn); what remains is on or behind a cycle.
    v_remaining := v_names;
    LOOP
        SELECT array_agg(s ->> 'name') INTO v_remaining
          FROM jsonb_array_elements(v_steps) s
         WHERE s ->> 'name' = ANY (v_remaining)
           AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(s -> 'depends_on') d WHERE d = ANY (v_remaining));
        v_progress := coalesce(cardinality(v_remaining), 0) < coalesce(cardinality(v_names), 0);
        EXIT WHEN v_remaining IS NULL;
        IF NOT v_progress OR cardinality(v_remaining) = cardinality(v_names) THEN
            RAISE EXCEPTION USING ERRCODE = 'TK003',
                MESSAGE = format('template %s: dependency cycle among steps %s', v_label, array_to_string(v_remaining, ', '));
        END IF;
        v_names := v_remaining;
    END LOOP;

    RETURN jsonb_build_object('namespace', v_ns, 'name', v_name, 'version', v_version, 'steps', v_steps)
        || CASE WHEN jsonb_typeof(p_definition -> 'description') = 'string'
                THEN jsonb_build_object('description', p_definition -> 'description') ELSE '{}'::jsonb END
        || CASE WHEN jsonb_typeof(p_definition -> 'input_schema') = 'object'
                THEN jsonb_build_object('input_schema', p_definition -> 'input_schema') ELSE '{}'::jsonb END;
END;
$$;
COMMENT ON FUNCTION tasker.normalize_template(jsonb) IS
    'Validates a task template and returns it with every default filled in; raises TK003 naming the template and the problem. Pure.';
