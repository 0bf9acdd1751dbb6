from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_api import Api, write_folder


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    handle = Api(write_folder(tmp_path / "pipelines"), tmp_path)
    yield handle
    handle.close()
