"""Altair chart builders, one module per chapter (``cm.charts.overview``, ``cm.charts.audit`` ...),
and the offline renderer (``render``). Chapter modules are imported on first use."""

import importlib


def __getattr__(name: str):
    if name.startswith("_"):
        raise AttributeError(name)
    return importlib.import_module(f".{name}", __name__)
