"""Cache invalidation for the catalog: any saved or deleted agent changes what lists show."""

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from marketplace.models import Agent
from marketplace.selectors import CATALOG_VERSION_KEY


def _bump() -> None:
    try:
        cache.incr(CATALOG_VERSION_KEY)
    except ValueError:  # not there yet (or evicted)
        cache.add(CATALOG_VERSION_KEY, 1, timeout=None)


@receiver(post_save, sender=Agent)
@receiver(post_delete, sender=Agent)
def catalog_changed(**kwargs) -> None:
    # Now, and again after commit: a reader in between may have cached a count that the
    # committing transaction then changed.
    _bump()
    transaction.on_commit(_bump)
