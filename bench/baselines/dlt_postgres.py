"""dlt baseline: ``sql_database`` with the pyarrow backend (SQLAlchemy + psycopg 3), loaded
to the local ``filesystem`` destination as Parquet. dlt's own state and working folders go
under --workdir so runs do not share anything.

    python bench/baselines/dlt_postgres.py --url postgresql://… --table t --output out_dir
"""

from __future__ import annotations

import argparse
import os


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--output", required=True, help="a folder")
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    os.environ["DLT_DATA_DIR"] = os.path.join(args.workdir, "data")
    os.environ["DLT_PIPELINE_DIR"] = os.path.join(args.workdir, "pipelines")
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    import dlt
    from dlt.sources.sql_database import sql_database

    url = args.url.replace("postgresql://", "postgresql+psycopg://", 1)
    source = sql_database(credentials=url, table_names=[args.table], backend="pyarrow")
    pipeline = dlt.pipeline(
        pipeline_name="bench_dlt", pipelines_dir=os.path.join(args.workdir, "pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=args.output),
        dataset_name="bench")
    pipeline.run(source, loader_file_format="parquet")


if __name__ == "__main__":
    main()
