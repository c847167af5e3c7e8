# The outbox of submit_on_commit (models.PendingStart, outbox.py): a row per run whose transaction
# has not committed, or whose start has not happened yet.

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("graflow", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="PendingStart",
            fields=[
                ("run_id", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("app", models.CharField(max_length=200)),
                ("created", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "verbose_name": "run waiting for its commit",
                "verbose_name_plural": "runs waiting for their commit",
                "default_permissions": (),
                "indexes": [models.Index(fields=["app", "created"], name="graflow_pending_app_created")],
            },
        ),
    ]
