"""The error every part of the book machinery raises, with a message that says what went wrong and what
to do. It lives apart so that the runner, the prose renderer and the report builder share it without
importing one another."""


class PipelineError(RuntimeError):
    """The run cannot start or did not finish; the message says why and what to do."""


class ReportError(PipelineError):
    """The report cannot be built; the message says why and what to do."""


class ProseError(PipelineError):
    """A template cannot be rendered; the message names the notebook, the cell and the problem."""
