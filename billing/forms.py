"""Forms of the wallet pages: a top-up amount, the spend caps, a month."""

from django import forms
from django.conf import settings

from agenthub.errors import InvalidInput
from billing import statements


def _money_field(**kwargs) -> forms.DecimalField:
    return forms.DecimalField(max_digits=14, decimal_places=4, min_value=0, **kwargs)


class TopUpForm(forms.Form):
    amount = forms.DecimalField(label="Amount (BB)", max_digits=14, decimal_places=2)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        low, high = settings.TOP_UP_MIN, settings.TOP_UP_MAX  # settings may change (tests): read them now
        self.fields["amount"] = forms.DecimalField(
            label="Amount (BB)", max_digits=14, decimal_places=2, min_value=low, max_value=high,
            help_text=f"Between {low} and {high} BB (1 BB = 1 USD).",
            widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
        )


class CapsForm(forms.Form):
    per_run = _money_field(label="Per-run cap (BB)", required=False,
                           help_text="The most one run may cost. Empty: no cap.")
    daily = _money_field(label="Daily cap (BB)", required=False,
                         help_text="The most your runs may cost per day (UTC). Empty: no cap.")
    auto_approve_threshold = _money_field(
        label="Auto-approve (BB)",
        help_text="HubChat runs a quote up to this much without asking; 0 asks every time.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.update(step="0.0001", inputmode="decimal")

    def clean(self):
        data = super().clean()
        per_run, daily = data.get("per_run"), data.get("daily")
        if per_run is not None and daily is not None and per_run > daily:
            self.add_error("per_run", "The per-run cap cannot be above the daily cap.")
        return data


class MonthForm(forms.Form):
    month = forms.CharField(label="Month", required=False, widget=forms.TextInput(attrs={"type": "month"}))

    def clean_month(self) -> statements.Month:
        try:
            return statements.month_parse(self.cleaned_data.get("month"))
        except InvalidInput as error:
            raise forms.ValidationError(error.message) from None
