from celery import shared_task

from marketplace import hirings, services


@shared_task(acks_late=True)
def refresh_trending_scores() -> int:
    """Periodic (beat): recompute the trending order of the catalog. Safe to run twice."""
    return services.trending_scores_refresh()


@shared_task(acks_late=True)
def expire_hirings() -> int:
    """Periodic (beat): hirings past their expiry become expired. Safe to run twice."""
    return hirings.hirings_expire()
