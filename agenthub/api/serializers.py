from rest_framework import fields as drf_fields

from agenthub.api.dialect import CamelCased, camel_key, is_snake_case, to_camel

# Fields whose model value is already what the JSON renderer should write: the renderer
# writes Decimals with their exact digits and datetimes as RFC 3339, so DRF's own
# to_representation (quantize, timezone juggling, str()) is skipped for them.
_PASS_THROUGH = (
    drf_fields.CharField, drf_fields.IntegerField, drf_fields.FloatField, drf_fields.BooleanField,
    drf_fields.DecimalField, drf_fields.DateTimeField, drf_fields.JSONField, drf_fields.ChoiceField,
)


def _plan_entry(name: str, field) -> tuple:
    """(snake name, camelCase name, attribute path, DRF field or None when the value passes through)."""
    passes = isinstance(field, _PASS_THROUGH) and not isinstance(field, drf_fields.ListField | drf_fields.DictField)
    if passes and len(field.source_attrs) <= 2:
        return name, camel_key(name), tuple(field.source_attrs), None
    return name, camel_key(name), (field.source,), field


class PlannedRepresentation:
    """Serializer mixin: read with a plan built once per class.

    DRF builds a ModelSerializer's fields anew for every serializer instance and converts
    every value through a field object; for a wide model that costs more than the rows.
    Plain attributes (also one hop away, like `created_by.username`) are read directly;
    anything else (nested serializers, method fields) still goes through its DRF field.
    Instances may be model objects or rows from QuerySet.values(). When the request speaks
    camelCase, keys are written in camelCase here, so the renderer need not walk the result.
    """

    @classmethod
    def _plan(cls) -> list[tuple]:
        plan = cls.__dict__.get("_representation_plan")
        if plan is None:
            plan = [_plan_entry(name, field) for name, field in cls().fields.items() if not field.write_only]
            cls._representation_plan = plan
        return plan

    def to_representation(self, instance):
        request = self.context.get("request")
        camel = request is not None and not is_snake_case(request.path)
        representation = CamelCased() if camel else {}
        is_row = isinstance(instance, dict)
        for snake_name, camel_name, attrs, field in self._plan():
            if is_row:
                value = instance[attrs[0]]
            elif field is None:
                value = instance
                for attr in attrs:
                    value = getattr(value, attr)
                    if value is None:
                        break
            else:
                value = field.get_attribute(instance)
            if field is not None and value is not None:
                value = field.to_representation(value)
                if camel and isinstance(value, dict | list):
                    value = to_camel(value)
            representation[camel_name if camel else snake_name] = value
        return representation
