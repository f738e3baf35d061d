"""On PostgreSQL, make the audit trail append-only in the database itself.

A trigger refuses every UPDATE and DELETE on ``smartcity_auditentry``, whoever connects and however
(a shell, a script, a bug). One UPDATE is let through: clearing ``actor_id`` when the user it points to
is deleted (the foreign key's ON DELETE SET NULL, done by Django as an UPDATE); ``actor_username`` keeps
the name. TRUNCATE is left alone: the test runner empties tables with it, and only the database owner
may run it anyway.

Other databases (SQLite in development) get nothing: there the application is the only guard.
"""

from django.db import migrations

CREATE_SQL = [
    """
CREATE OR REPLACE FUNCTION smartcity_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
       AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
        RETURN NEW;  -- the user was deleted: ON DELETE SET NULL
    END IF;
    RAISE EXCEPTION 'smartcity_auditentry is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit entries are evidence; record a new entry instead.';
END;
$$ LANGUAGE plpgsql
""",
    "DROP TRIGGER IF EXISTS smartcity_auditentry_append_only ON smartcity_auditentry",
    """
CREATE TRIGGER smartcity_auditentry_append_only
    BEFORE UPDATE OR DELETE ON smartcity_auditentry
    FOR EACH ROW EXECUTE FUNCTION smartcity_auditentry_append_only()
""",
]

DROP_SQL = [
    "DROP TRIGGER IF EXISTS smartcity_auditentry_append_only ON smartcity_auditentry",
    "DROP FUNCTION IF EXISTS smartcity_auditentry_append_only()",
]


def _on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql, params=None)  # no parameters: "%" in the SQL is literal

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("smartcity", "0004_outboxmessage"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE_SQL), _on_postgresql(DROP_SQL), elidable=False),
    ]
