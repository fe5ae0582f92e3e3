import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person or program's account: seed 002's users table on Django's auth."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=255, blank=True)
    first_name = None
    last_name = None
    is_verified = models.BooleanField(default=False)
    avatar_url = models.URLField(max_length=500, blank=True)
    bio = models.TextField(blank=True)
    website = models.URLField(max_length=500, blank=True)
    preferences = models.JSONField(default=dict, blank=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username

    def get_full_name(self) -> str:
        return self.full_name or self.username

    def get_short_name(self) -> str:
        return self.username
