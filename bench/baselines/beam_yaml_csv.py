"""Baseline (b) of bench/csv_pipeline.py: the CSV → validate → mask → Parquet job in Beam YAML.

Runs ``bench/pipelines/beam_yaml_csv_validate_mask_parquet.yaml`` through Beam YAML's own
entry path (``apache_beam.yaml.main``: Jinja expansion, options, ``expand_pipeline``) on the
in-process FnApiRunner — the same runner dteg uses for batch. The plain DirectRunner is not used:
it first tries to download Prism from GitHub, which fails offline.

Beam YAML's ReadFromCsv is the Python ``apache_beam.io.ReadFromCsv`` (Beam DataFrame API), which
needs pandas (part of ``apache-beam[yaml]``). dteg's venv does not carry pandas, so
csv_pipeline.py puts it on PYTHONPATH for this subprocess only (``bench/data/_beam_yaml_deps``).

    BENCH_MASK_KEY=k python bench/baselines/beam_yaml_csv.py --input in.csv --output out.parquet
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SPEC = Path(__file__).resolve().parent.parent / "pipelines" / (
    "beam_yaml_csv_validate_mask_parquet.yaml"
)


def run(input_path: str, output_path: str) -> None:
    """Build the Beam YAML pipeline and run it to completion on the FnApiRunner."""
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.yaml import main as yaml_main

    argv = [
        f"--yaml_pipeline_file={SPEC}",
        "--jinja_variables=" + json.dumps({"input": input_path, "output_prefix": output_path}),
    ]
    options, constructor, display_data = yaml_main.build_pipeline_components_from_argv(argv)
    with beam.Pipeline(runner=FnApiRunner(), options=options, display_data=display_data) as p:
        constructor(p)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True, help="Parquet file to write (one shard)")
    args = parser.parse_args(argv)
    run(args.input, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
