-- tasker.settings: engine settings an operator can change with SQL, without a release.
--
-- One row per setting; functions read them when they run (a change applies to the next call).
-- Seeded with the template limits that tasker.normalize_template (hence
-- tasker.register_template) enforces:
--   template.max_steps   most steps one template may have;
--   template.max_fan_in  most dependencies (depends_on entries) one step may have.
-- Change one with, for example:
--   UPDATE tasker.settings SET value = '20000', updated_at = now() WHERE key = 'template.max_steps';
-- Templates already registered are not re-checked when a limit changes.

CREATE TABLE tasker.settings (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    description text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT settings_template_limits_positive_integers CHECK (
        key NOT IN ('template.max_steps', 'template.max_fan_in')
        OR (jsonb_typeof(value) = 'number' AND value::numeric % 1 = 0 AND value::numeric BETWEEN 1 AND 1000000))
);

INSERT INTO tasker.settings (key, value, description) VALUES
    ('template.max_steps', '10000',
     'most steps one task template may have; register_template raises TK003 above it'),
    ('template.max_fan_in', '1000',
     'most dependencies (depends_on entries) one step of a template may have; register_template raises TK003 above it');
