"""Run with NetBox's own interpreter: sets up Django, then the lab admin user and its v2 API token."""

from __future__ import annotations

import os

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from users.models import Token  # noqa: E402

User = get_user_model()
admin, _ = User.objects.get_or_create(username="admin", defaults={"is_superuser": True})
admin.is_superuser = True
admin.set_password(os.environ["MSPCTL_LAB_ADMIN_PASSWORD"])
admin.save()
Token.objects.filter(user=admin, description="mspctl-lab").delete()
token = Token(version=2, user=admin, description="mspctl-lab", write_enabled=True,
              key=os.environ["MSPCTL_LAB_TOKEN_KEY"], token=os.environ["MSPCTL_LAB_TOKEN_SECRET"])
token.save()

# A user with a valid token but no permissions: the 403 case in the tests.
viewer, _ = User.objects.get_or_create(username="nobody")
Token.objects.filter(user=viewer).delete()
Token(version=2, user=viewer, description="no permissions", key="nopermission",
      token=os.environ["MSPCTL_LAB_TOKEN_SECRET"][::-1]).save()
print("admin user and API tokens ready")
