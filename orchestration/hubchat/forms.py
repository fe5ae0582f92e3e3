"""Forms of the HubChat and tasks pages: a message with an optional budget, and the task filters."""

from django import forms
from django.conf import settings

from agenthub.errors import DomainError
from orchestration.hubchat.services import MAX_QUERY_CHARS
from orchestration.models import TaskStatus


class MessageForm(forms.Form):
    """What the user asks HubChat, and the most they will pay for it (empty: the default budget)."""

    content = forms.CharField(
        label="Message", max_length=MAX_QUERY_CHARS, strip=True,
        widget=forms.Textarea(attrs={
            "rows": 3, "placeholder": "Summarise this and translate the summary into Spanish: …",
            "data-hubchat-input": "",
        }),
    )
    max_budget = forms.DecimalField(
        label="Max budget (BB)", required=False, min_value=0, max_digits=12, decimal_places=4,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "min": "0"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default = settings.HUBCHAT_DEFAULT_MAX_BUDGET  # read now: tests and deployments change it
        self.fields["max_budget"].widget.attrs["placeholder"] = f"{default}"

    def add_service_error(self, error: DomainError) -> None:
        """The service's refusal next to the field it names (content, max_budget), else on top."""
        placed = False
        for name, problems in error.fields.items():
            if name in self.fields:
                for problem in problems:
                    self.add_error(name, problem)
                placed = True
        if not placed:
            self.add_error(None, error.message)


class TaskFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, label="Status", choices=[("", "Any status"), *TaskStatus.choices])
    q = forms.CharField(required=False, label="Search", max_length=200, strip=True,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Words in the request"}))
