from celery import shared_task

from marketplace import services


@shared_task(acks_late=True)
def refresh_trending_scores() -> int:
    """Periodic (beat): recompute the trending order of the catalog. Safe to run twice."""
    return services.trending_scores_refresh()
