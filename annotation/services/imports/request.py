"""ImportRequest: what to import and how, given once and passed whole (file, format, options)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ...importers import get_format, resolve_rule


@dataclass(frozen=True)
class ImportRequest:
    """One import's file and options. `file_name` names the file in messages (e.g. the
    uploaded name, not the storage path); `config` and `split` override what is inferred from
    the file name (SafeRLHF provenance). `upload` marks a stored upload, deleted once its
    import job has finished."""

    path: str
    format: str
    rule: str | None = None
    skip_invalid: bool = False
    dry_run: bool = False
    file_name: str | None = None
    config: str | None = None
    split: str | None = None
    upload: bool = False

    def __post_init__(self) -> None:
        # Refuses an unknown format or rule now, and fills in the format's default rule.
        import_format = get_format(self.format)
        object.__setattr__(self, "path", str(self.path))
        object.__setattr__(self, "format", import_format.name)
        object.__setattr__(self, "rule", resolve_rule(import_format, self.rule))

    @property
    def name(self) -> str:
        return self.file_name or self.path

    def as_params(self) -> dict:
        """The job's params (JSON): the request, as from_params reads it back."""
        return asdict(self)

    @classmethod
    def from_params(cls, params: dict) -> ImportRequest:
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in params.items() if key in names})
