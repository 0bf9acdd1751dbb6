from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server_api import Api, write_folder


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, str]]]:
    """One API whose pipelines ran for real: customers, then downstream, then fails."""
    tmp = tmp_path_factory.mktemp("api")
    api = Api(write_folder(tmp / "pipelines"), tmp)
    runs = {name: api.run_now(name) for name in ("customers", "downstream", "fails")}
    yield api, runs
    api.close()
