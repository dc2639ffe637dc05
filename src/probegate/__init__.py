"""probegate: a self-hosted Layer-7 application gateway that knows, precisely, whether each backend
server can take traffic, routes only to those that can, and tells the operator why one cannot."""

from importlib.metadata import PackageNotFoundError, version

from probegate import buildinfo

if buildinfo.wanted_interpreted():  # before any compiled module can be imported
    buildinfo.prefer_sources()

try:
    __version__ = version("probegate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
