from rest_framework import fields as drf_fields

# Fields whose model value is already what the JSON renderer should write: the renderer
# writes Decimals with their exact digits and datetimes as RFC 3339, so DRF's own
# to_representation (quantize, timezone juggling, str()) is skipped for them.
_PASS_THROUGH = (
    drf_fields.CharField, drf_fields.IntegerField, drf_fields.FloatField, drf_fields.BooleanField,
    drf_fields.DecimalField, drf_fields.DateTimeField, drf_fields.JSONField, drf_fields.ChoiceField,
)


def _plan_entry(name: str, field):
    if isinstance(field, _PASS_THROUGH) and len(field.source_attrs) <= 2 and not isinstance(
        field, drf_fields.ListField | drf_fields.DictField
    ):
        return name, tuple(field.source_attrs), None
    return name, None, field


class PlannedRepresentation:
    """Serializer mixin: read with a plan built once per class.

    DRF builds a ModelSerializer's fields anew for every serializer instance and converts
    every value through a field object; for a wide model that costs more than the rows.
    Plain attributes (also one hop away, like `created_by.username`) are read directly;
    anything else (nested serializers, method fields) still goes through its DRF field.
    """

    def to_representation(self, instance):
        plan = type(self).__dict__.get("_representation_plan")
        if plan is None:
            prototype = type(self)()
            plan = [_plan_entry(name, field) for name, field in prototype.fields.items() if not field.write_only]
            type(self)._representation_plan = plan
        representation = {}
        for name, attrs, field in plan:
            if field is None:
                value = instance
                for attr in attrs:
                    value = getattr(value, attr)
                    if value is None:
                        break
                representation[name] = value
            else:
                value = field.get_attribute(instance)
                representation[name] = None if value is None else field.to_representation(value)
        return representation
