from django.db import models


class AgentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


# What the public catalog shows.
LISTED_STATUSES = (AgentStatus.APPROVED, AgentStatus.ACTIVE)


class PricingModel(models.TextChoices):
    FREE = "free", "Free"
    PER_USE = "per_use", "Per use"
    SUBSCRIPTION = "subscription", "Subscription"


class Transport(models.TextChoices):
    HTTP = "http", "HTTP (/execute)"
    A2A = "a2a", "Agent2Agent"
    HOSTED = "hosted", "Hosted package"


class ReviewDecision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class VersionStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
