"""``zsl doctor``: versions, device, threads, caches and optional extras of this installation."""

from __future__ import annotations

from zsltool.cli.common import JsonOpt, emit, kv_table, rows_table


def _tables(d: dict):
    head = {"zsl": d["zsl"], "python": d["python"], "platform": d["platform"]}
    head.update({f"device: {k}": v for k, v in d["device"].items()})
    head.update({f"threads: {k}": v for k, v in d["threads"].items()})
    head.update({f"cache: {k}": v for k, v in d["caches"].items()})
    pk = [{"package": k, "version": v} for k, v in d["packages"].items()]
    ex = [{"extra": k, "installed": "yes" if v.get("installed") else "no",
           "missing": ", ".join(v.get("missing", [])) or "-", "install": f"pip install 'zsltool[{k}]'"}
          for k, v in d["extras"].items() if isinstance(v, dict)]
    return [kv_table(head, title="zsl doctor"), rows_table(pk, title="packages"),
            rows_table(ex, title="optional extras")]


def doctor_cmd(json_out: bool = JsonOpt):
    """Print versions, device (CUDA or not), threads, the weights caches and which optional extras are
    installed: paste it into a bug report."""
    from zsltool.runtime.doctor import report

    emit(report(), json_out, table=_tables)


COMMANDS = {"doctor": doctor_cmd}
