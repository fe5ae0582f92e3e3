"""The Creators group, and creator role for everyone who already has an agent in the catalog.

Reviewers (marketplace 0003) and admins (superusers) exist already; a user is the default role.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CREATOR_PERMISSIONS = ["add_agent"]
LISTED_STATUSES = ["approved", "active"]


def forward(apps, schema_editor):
    app_config = apps.get_app_config("marketplace")
    app_config.models_module = True  # the migration state's stub lacks it
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Agent = apps.get_model("marketplace", "Agent")
    User = apps.get_model("accounts", "User")
    creators, _ = Group.objects.get_or_create(name="Creators")
    creators.permissions.add(
        *Permission.objects.filter(content_type__app_label="marketplace", codename__in=CREATOR_PERMISSIONS)
    )
    published = Agent.objects.filter(is_public=True, status__in=LISTED_STATUSES).values("created_by_id")
    creators.user_set.add(*User.objects.filter(pk__in=published))


def backward(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Creators").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_follows_api_keys_sessions"),
        ("marketplace", "0003_reviewer_group"),
    ]
    operations = [migrations.RunPython(forward, backward)]
