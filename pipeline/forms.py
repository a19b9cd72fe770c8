"""The pipeline forms of the admin pages; they ask what the API's pipeline endpoints ask."""

from django import forms
from django.utils.translation import gettext_lazy as _


class ScoreForm(forms.Form):
    model = forms.CharField(
        label=_("Model"),
        required=False,
        max_length=255,
        help_text=_("A local directory or a model name; empty: the configured VAD_IFD_MODEL."),
    )
    rescore = forms.BooleanField(
        label=_("Also rescore items scored with another model"), required=False
    )

    def job_options(self) -> dict:
        data = self.cleaned_data
        return {"model": data["model"] or None, "rescore": data["rescore"]}


class FilterForm(forms.Form):
    DROP_ONLY, MIN_IFD, KEEP_TOP = "drop_only", "min_ifd", "keep_top"

    rule = forms.ChoiceField(
        label=_("Selection"),
        choices=[
            (DROP_ONLY, _("Only drop items with IFD ≥ 1")),
            (MIN_IFD, _("Then keep items with IFD at least…")),
            (KEEP_TOP, _("Then keep this fraction with the highest IFD…")),
        ],
        initial=KEEP_TOP,
        widget=forms.RadioSelect,
    )
    value = forms.FloatField(label=_("Value"), required=False, min_value=0)
    model = forms.CharField(
        label=_("Model"),
        required=False,
        max_length=255,
        help_text=_("Only items scored with this model; empty: every scored item."),
    )

    def clean(self):
        data = super().clean()
        rule, value = data.get("rule"), data.get("value")
        if rule in (self.MIN_IFD, self.KEEP_TOP) and value is None:
            self.add_error("value", _("This selection needs a value."))
        elif rule == self.KEEP_TOP and value is not None and not 0 < value <= 1:
            self.add_error("value", _("A fraction greater than 0 and at most 1, e.g. 0.5."))
        return data

    def job_options(self) -> dict:
        data = self.cleaned_data
        rule, value = data["rule"], data["value"]
        return {
            "min_ifd": value if rule == self.MIN_IFD else None,
            "keep_top": value if rule == self.KEEP_TOP else None,
            "model": data["model"] or None,
        }


class TranslateForm(forms.Form):
    model = forms.CharField(
        label=_("Model"),
        required=False,
        max_length=255,
        help_text=_(
            "A local directory or a model name; empty: the configured VAD_TRANSLATE_MODEL."
        ),
    )
    chunk_size = forms.IntegerField(
        label=_("Items per task"), required=False, min_value=1, max_value=100_000
    )

    def job_options(self) -> dict:
        data = self.cleaned_data
        return {"model": data["model"] or None, "chunk_size": data["chunk_size"]}


def _op_choices():
    from scoring.evolution import ALL_OPS

    labels = {
        "constraints": _("add constraints"),
        "deepen": _("deepen"),
        "concretize": _("concretize"),
        "reasoning": _("more reasoning steps"),
        "breadth": _("breadth (a new, rarer prompt)"),
    }
    return [(op, labels[op]) for op in ALL_OPS]


class EvolveForm(forms.Form):
    rounds = forms.IntegerField(label=_("Rounds"), min_value=1, max_value=10, initial=1)
    ops = forms.MultipleChoiceField(
        label=_("Operations"),
        choices=_op_choices,
        initial=[op for op, _label in _op_choices()],
        widget=forms.CheckboxSelectMultiple,
    )
    all_ops = forms.BooleanField(
        label=_("Every checked operation for each parent (not one of them)"), required=False
    )
    model = forms.CharField(
        label=_("Model"),
        required=False,
        max_length=255,
        help_text=_("A local directory or a model name; empty: the configured VAD_EVOLVE_MODEL."),
    )

    def job_options(self) -> dict:
        data = self.cleaned_data
        return {
            "rounds": data["rounds"],
            "ops": data["ops"],
            "all_ops": data["all_ops"],
            "model": data["model"] or None,
        }
