"""Which launcher runs the Beam part of a recorded run (``dteg.run.lifecycle.Launch``)."""

from __future__ import annotations

from dteg.components.plan import RunPlan
from dteg.errors import ConfigError
from dteg.run.lifecycle import Launch
from dteg.run.report import RunReport
from dteg.runners.settings import RunnerSettings
from dteg.spec.models import PipelineSpec


def launcher(settings: RunnerSettings | None = None, *, debug: bool = False) -> Launch:
    """The launch function for ``settings`` (default: the embedded FnApiRunner)."""
    name = settings.name if settings is not None else "direct"
    # A missing binary or job-server address is refused before a run is recorded.
    if settings is not None and name == "prism":
        from dteg.runners.prism import locate

        locate(settings.prism_location)
    if settings is not None and name == "portable":
        from dteg.runners.portable import check_endpoint

        check_endpoint(settings.job_endpoint)

    def launch(spec: PipelineSpec, plan: RunPlan) -> RunReport:
        if settings is None or name == "direct":
            from dteg.runners import direct

            return direct.run(spec, plan, debug=debug)
        if name == "prism":
            from dteg.runners import prism

            return prism.run(spec, plan, settings, debug=debug)
        if name == "portable":
            from dteg.runners import portable

            return portable.run(spec, plan, settings, debug=debug)
        if name == "flink":
            from dteg.runners import flink

            return flink.run(spec, plan, settings, debug=debug)
        if name == "spark":
            from dteg.runners import spark

            return spark.run(spec, plan, settings, debug=debug)
        raise ConfigError(f"`{name}` runs are launched with their own command",
                          hint="Use `dteg run --runner dataflow …`.")

    return launch
