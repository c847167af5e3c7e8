"""``python manage.py create_manager NAME [--password PASSWORD] [--large-orders]``: a manager of
the shop, who may approve or reject large orders on the approvals page (/workflows/feedback/).

The user joins the group "managers", which holds graflow's permission graflow.answer_feedback -
giving the permission to a group rather than to each user, as Django suggests. With
--large-orders they join "senior managers" too, which holds orders.approve_large_order: orders
over 1000 EUR ask for it, and only such managers see and approve them. Run it again to set a new
password (or to add --large-orders). Without --password the password is read from
DJANGO_MANAGER_PASSWORD, or asked for.
"""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser

from graflow_celery.contrib.django.permissions import answer_permission

GROUP = "managers"
SENIOR_GROUP = "senior managers"


class Command(BaseCommand):
    help = "Create (or update) a shop manager: a user who may answer requests for feedback."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--password", default=None)
        parser.add_argument("--email", default="")
        parser.add_argument("--large-orders", action="store_true",
                            help="may approve orders over 1000 EUR too (orders.approve_large_order)")

    def handle(self, *args: Any, username: str, password: str | None, email: str, large_orders: bool,
               **options: Any) -> None:
        password = password or os.environ.get("DJANGO_MANAGER_PASSWORD") or self._ask()
        managers, _ = Group.objects.get_or_create(name=GROUP)
        managers.permissions.add(answer_permission())
        user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
        user.set_password(password)
        user.save()
        user.groups.add(managers)
        granted = f"group {GROUP!r}, permission graflow.answer_feedback"
        if large_orders:
            seniors, _ = Group.objects.get_or_create(name=SENIOR_GROUP)
            seniors.permissions.add(Permission.objects.get(content_type__app_label="orders",
                                                           codename="approve_large_order"))
            user.groups.add(seniors)
            granted += f"; group {SENIOR_GROUP!r}, permission orders.approve_large_order"
        self.stdout.write(f"{'created' if created else 'updated'} manager {username!r} ({granted})")

    def _ask(self) -> str:
        if not os.isatty(0):
            raise CommandError("give --password, or DJANGO_MANAGER_PASSWORD, or run it in a terminal")
        password = getpass.getpass("Password: ")
        if not password or password != getpass.getpass("Password (again): "):
            raise CommandError("the passwords are empty or differ")
        return password
