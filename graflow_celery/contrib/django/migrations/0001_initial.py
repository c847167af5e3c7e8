# The model that carries the permission graflow.answer_feedback (models.py): no table is made.

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="Feedback",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
            ],
            options={
                "verbose_name": "request for feedback",
                "verbose_name_plural": "requests for feedback",
                "permissions": [("answer_feedback", "Can answer requests for feedback")],
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
