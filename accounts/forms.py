from datetime import timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm, UserCreationForm
from django.utils import timezone

from accounts import services
from accounts.api.provider_keys import ProviderKeyInput
from accounts.choices import Scope
from accounts.models import ProviderKey, User
from agenthub.errors import DomainError, InvalidInput


def show_errors(form: forms.Form, error: DomainError, *, renames: dict[str, str] | None = None) -> None:
    """Put a service's field errors on the form's fields (or on the form when it has no such field)."""
    renames = renames or {}
    if not error.fields:
        form.add_error(None, error.message)
    for name, messages in error.fields.items():
        name = renames.get(name, name)
        for message in messages:
            form.add_error(name if name in form.fields else None, message)


class RegisterForm(UserCreationForm):
    """Sign up with a username, an email address and a password."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "full_name")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["email"].help_text = "For receipts and account recovery; never shown to others."
        self.fields["full_name"].help_text = "Optional; shown on your public profile."

    def validate_unique(self):
        # Uniqueness in any letter case, reserved names: the service checks them, naming the field.
        pass

    def register(self) -> User | None:
        """Create the account through the service (which sends the verification email)."""
        try:
            return services.user_register(
                username=self.cleaned_data["username"], email=self.cleaned_data["email"],
                password=self.cleaned_data["password1"], full_name=self.cleaned_data.get("full_name", ""),
            )
        except InvalidInput as error:
            show_errors(self, error, renames={"password": "password2"})
            return None


class LoginForm(AuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Username or email"
        self.error_messages["invalid_login"] = "Please enter a correct username (or email) and password."


class ProfileForm(forms.Form):
    full_name = forms.CharField(max_length=255, required=False, help_text="Shown on your public profile.")
    email = forms.EmailField(max_length=254, help_text="Changing it sends a verification link to the new address.")
    avatar_url = forms.URLField(label="Avatar URL", max_length=500, required=False, assume_scheme="https")
    bio = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 4}))
    website = forms.URLField(max_length=500, required=False, assume_scheme="https")

    def clean(self):
        cleaned = super().clean()
        for name in ("avatar_url", "website"):
            value = cleaned.get(name) or ""
            if value and not value.lower().startswith(("http://", "https://")):
                self.add_error(name, "Enter an http:// or https:// address.")
        return cleaned


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
                                       strip=False)
    new_password1 = forms.CharField(label="New password", strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    new_password2 = forms.CharField(label="New password again", strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("new_password1") and cleaned.get("new_password1") != cleaned.get("new_password2"):
            self.add_error("new_password2", "The two new passwords didn’t match.")
        return cleaned


EXPIRY_CHOICES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “nightly report script”.")
    scopes = forms.MultipleChoiceField(choices=Scope.choices, initial=[Scope.READ],
                                       widget=forms.CheckboxSelectMultiple,
                                       help_text="Read: look things up. Invoke: run agents. Manage: change things.")
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")
    daily_cap = forms.DecimalField(
        label="Daily cap (BB)", required=False, min_value=0, max_digits=14, decimal_places=4,
        help_text="The most the runs this key starts may cost per day (UTC). Empty: no cap beyond your wallet’s.",
        widget=forms.NumberInput(attrs={"step": "0.0001", "min": "0", "inputmode": "decimal"}),
    )

    def expires_at(self):
        days = self.cleaned_data.get("expires")
        return timezone.now() + timedelta(days=int(days)) if days else None


class ApiKeyCapForm(forms.Form):
    """A key's daily cap, changed from its row on the keys page."""

    daily_cap = forms.DecimalField(
        label="Daily cap (BB)", required=False, min_value=0, max_digits=14, decimal_places=4,
        widget=forms.NumberInput(attrs={"step": "0.0001", "min": "0", "inputmode": "decimal", "placeholder": "No cap"}),
    )


class ProviderKeyForm(forms.Form):
    """A user's own LLM provider key. The rules are the API's: `clean` runs its input serializer, and
    the view then calls the same `provider_key_create`."""

    provider = forms.ChoiceField(choices=ProviderKey.Provider.choices)
    label = forms.CharField(required=False, help_text="Your name for it, e.g. “work account”.")
    model = forms.CharField(required=False, help_text="Empty: the platform’s default model. "
                                                      "Required for an OpenAI-compatible server.")
    base_url = forms.CharField(label="Base URL", required=False,
                               help_text="The server’s API root, e.g. https://llm.example.com/v1.",
                               widget=forms.URLInput(attrs={"placeholder": "https://", "inputmode": "url"}))
    # Never rendered back (PasswordInput leaves its value out), so a failed save does not echo the key.
    api_key = forms.CharField(label="Key", required=False,
                              help_text="Required for Anthropic and OpenAI. Stored encrypted; never shown again.",
                              widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}))

    def clean(self):
        cleaned = super().clean()
        data = ProviderKeyInput(data={name: cleaned.get(name) or "" for name in self.fields})
        if data.is_valid():
            self.provider_key_input = data.validated_data
        else:
            for name, messages in data.errors.items():
                if name in self.errors:  # already said by the field itself (e.g. an unknown provider)
                    continue
                for message in messages:
                    self.add_error(name if name in self.fields else None, message)
        return cleaned


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class ResetSetPasswordForm(SetPasswordForm):
    """The last step of a reset: the service sets the password and ends every session."""

    def save(self, commit=True):
        services.password_reset_complete(user=self.user, new_password=self.cleaned_data["new_password1"])
        return self.user
