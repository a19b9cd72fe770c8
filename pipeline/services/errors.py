class PipelineConfigError(ValueError):
    """The run cannot start as asked (no model configured, contradictory options)."""
