from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import User


class RegisterForm(UserCreationForm):
    """Sign up with a username, an email address and a password."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["email"].help_text = "For receipts and account recovery; never shown to others."

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        # The column is unique as typed; two spellings of one mailbox must not make two accounts.
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email address already exists.")
        return email
