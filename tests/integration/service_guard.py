"""What a test does when a real service it needs cannot be started."""

from __future__ import annotations

import importlib
import os
from typing import Any, NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_unavailable(message: str) -> NoReturn:
    """Under CI=true a missing service fails the run (a skip would hide a broken service);
    on a developer's machine without the service, the test is skipped with the reason."""
    if in_ci():
        pytest.fail(message)
    pytest.skip(f"{message} (not CI: skipped)")


def require_module(name: str, hint: str) -> Any:
    """Import ``name``: a dependency `make setup` installs. Missing under CI=true fails the run
    (a skip would hide a broken setup); elsewhere the test is skipped with ``hint``."""
    try:
        return importlib.import_module(name)
    except ImportError:
        service_unavailable(f"{name} is not installed: {hint}")
