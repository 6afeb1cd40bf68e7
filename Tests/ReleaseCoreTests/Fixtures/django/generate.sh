#!/bin/sh
# Regenerates crm/migrations/ with Django 5.2's makemigrations, one migration per kind of change.
# Usage: python3 -m venv /tmp/djvenv && /tmp/djvenv/bin/pip install django==5.2 && sh generate.sh
# The --empty migrations (RunPython, RunSQL, SeparateDatabaseAndState) get their operations by
# hand below, written the way Django's documentation writes them.
set -eu
PYTHON=${PYTHON:-/tmp/djvenv/bin/python}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
cd "$WORK"
"$PYTHON" -m django startproject site_ .
"$PYTHON" manage.py startapp crm
sed -i "s/'django.contrib.staticfiles',/'django.contrib.staticfiles',\n    'crm',/" site_/settings.py

model() { # the Contact model's fields, then any further lines of the file
    printf 'from django.db import models\n\n\nclass Contact(models.Model):\n%s\n' "$1" > crm/models.py
}
make() { "$PYTHON" manage.py makemigrations crm "$@"; }
operations() { # replaces the empty operations list of the newest migration with stdin
    newest=$(ls crm/migrations/[0-9]*.py | sort | tail -1)
    "$PYTHON" -c "$EDIT" "$newest"
}
EDIT='
import sys
path = sys.argv[1]
text = open(path).read()
head, _, _ = text.partition("    operations = [")
body = sys.stdin.read()
if "\n---\n" in body:
    preamble, body = body.split("\n---\n", 1)
    head = head.replace("\n\nclass Migration", "\n\n" + preamble + "\n\n\nclass Migration", 1)
open(path, "w").write(head + "    operations = [\n" + body + "    ]\n")
'

F='    name = models.CharField(max_length=200)
    email = models.EmailField()'
model "$F"; make --noinput                                                    # 0001 CreateModel
F="$F
    phone = models.CharField(max_length=40, null=True, blank=True)"
model "$F"; make --noinput -n add_phone_nullable                              # 0002 AddField null=True
F="$F
    is_active = models.BooleanField(default=True)"
model "$F"; make --noinput -n add_is_active_default                           # 0003 AddField default=
F="$F
    score = models.IntegerField(db_default=0)"
model "$F"; make --noinput -n add_score_db_default                            # 0004 AddField db_default=
F="$F
    priority = models.IntegerField()"
model "$F"; printf '1\n0\n' | make -n add_priority_not_null                   # 0005 AddField NOT NULL, one-off default 0
F=$(printf '%s\n' "$F" | grep -v 'email = ')
model "$F"; make --noinput -n remove_email                                    # 0006 RemoveField
F=$(printf '%s\n' "$F" | sed 's/    name = /    full_name = /')
model "$F"; printf 'y\n' | make -n rename_name_full_name                      # 0007 RenameField (answered yes)
F=$(printf '%s\n' "$F" | sed 's/max_length=40/max_length=60/')
model "$F"; make --noinput -n alter_phone_length                              # 0008 AlterField
META='

    class Meta:
        indexes = [models.Index(fields=["full_name"], name="crm_contact_name_idx")]'
model "$F$META"; make --noinput -n add_name_index                             # 0009 AddIndex
TAG='


class Tag(models.Model):
    label = models.CharField(max_length=50)'
model "$F
    tags = models.ManyToManyField(\"Tag\")$META$TAG"; make --noinput -n add_tags  # 0010 CreateModel + AddField M2M
model "$F$META"; make --noinput -n delete_tags                                # 0011 RemoveField + DeleteModel
make --empty -n backfill_reversible; operations <<'OPS'                       # 0012 RunPython with reverse_code
def forwards(apps, schema_editor):
    Contact = apps.get_model("crm", "Contact")
    Contact.objects.filter(phone="").update(phone=None)


def backwards(apps, schema_editor):
    Contact = apps.get_model("crm", "Contact")
    Contact.objects.filter(phone=None).update(phone="")
---
        migrations.RunPython(forwards, backwards),
        migrations.RunPython(forwards, reverse_code=migrations.RunPython.noop),
OPS
make --empty -n backfill_irreversible; operations <<'OPS'                     # 0013 RunPython without reverse_code
def forwards(apps, schema_editor):
    Contact = apps.get_model("crm", "Contact")
    Contact.objects.update(full_name=models.functions.Upper("full_name"))
---
        migrations.RunPython(forwards),
OPS
sed -i 's/^from django.db import migrations$/from django.db import migrations, models/' crm/migrations/0013_*.py
make --empty -n sql_reversible; operations <<'OPS'                            # 0014 RunSQL with reverse_sql
        migrations.RunSQL(
            sql="CREATE INDEX crm_contact_lower_name ON crm_contact (lower(full_name));",
            reverse_sql="DROP INDEX crm_contact_lower_name;",
        ),
OPS
make --empty -n sql_irreversible; operations <<'OPS'                          # 0015 RunSQL without reverse_sql
        migrations.RunSQL("UPDATE crm_contact SET priority = 1 WHERE priority = 0;"),
OPS
make --empty -n separate_state; operations <<'OPS'                            # 0016 SeparateDatabaseAndState
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="contact",
                    name="score",
                    field=models.IntegerField(db_column="score", db_default=0),
                ),
            ],
            database_operations=[],
        ),
OPS
sed -i 's/^from django.db import migrations$/from django.db import migrations, models/' crm/migrations/0016_*.py
printf '%s\n' "$F" | sed 's/db_default=0)/db_column="score", db_default=0)/' > /tmp/fields.$$ && F=$(cat /tmp/fields.$$) && rm /tmp/fields.$$
META2="$META
        constraints = [models.UniqueConstraint(fields=[\"full_name\", \"phone\"], name=\"crm_contact_unique_name_phone\")]"
model "$F$META2"; make --noinput -n unique_name_phone                         # 0017 AddConstraint
sed -i 's/^class Contact(/class Person(/' crm/models.py
printf 'y\n' | make -n rename_contact_person                                  # 0018 RenameModel (answered yes)
make --check --dry-run                                                        # the state matches the models
"$PYTHON" manage.py migrate --noinput crm                                     # and every migration applies

rm -rf "$HERE/crm"
mkdir -p "$HERE/crm/migrations"
cp crm/migrations/[0-9]*.py "$HERE/crm/migrations/"
rm -rf "$WORK"
