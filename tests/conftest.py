"""Fixtures shared by every test layer."""

from __future__ import annotations

import base64
import os

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from probegate.buildinfo import ENV, data_path


def pytest_configure(config: pytest.Config) -> None:
    """A compiled module built from other sources would test code that is not in the tree."""
    found = data_path()
    if found.mode == "stale":
        raise pytest.UsageError(
            f"the compiled data path is stale: {found.detail}. Rebuild with scripts/bootstrap,"
            f" or run with {ENV}=interpreted"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `interpreted` patch or introspect proxy classes, which compiled classes do not
    allow: with the compiled build they are deselected here and run in scripts/test's second,
    interpreted pass (never skipped)."""
    if not data_path().compiled:
        return
    chosen = [i for i in items if i.get_closest_marker("interpreted") is None]
    left = [i for i in items if i.get_closest_marker("interpreted") is not None]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = chosen


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="probegate tests")


@pytest.fixture(scope="session")
def root_b64(ca: trustme.CA) -> str:
    """The test CA as ARM templates carry a certificate: base64 of its DER bytes."""
    cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    return base64.b64encode(cert.public_bytes(Encoding.DER)).decode()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true a skipped test is a failure: a missing tool must fail the run, not hide."""
    if os.environ.get("CI", "").lower() != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and reporter is not None:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; failing the run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
