"""mitmproxy flow files (`mitmdump -w`), read with mitmproxy's own FlowReader and turned
into exchanges by the recorder's own conversion (harness.capture.addon), so a flow file
imports exactly as the recorder would have recorded it.

Flows that are not HTTP (TCP, UDP, DNS) are dropped and counted. A flow that never got a
response carries its error instead, as the recorder writes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, BinaryIO, cast

from harness.capture.importers.base import Entry, FileProblem, Format, Shape


def sniff(shape: Shape) -> bool:
    return shape.container == "tnetstring"


def read(stream: IO[bytes]) -> Iterator[Entry]:
    # mitmproxy is imported here: the other importers do not need it loaded.
    from mitmproxy import exceptions, http
    from mitmproxy import io as flow_io

    from harness.capture.addon import exchange_from_flow

    position = 0
    try:
        for flow in flow_io.FlowReader(cast(BinaryIO, stream)).stream():
            if not isinstance(flow, http.HTTPFlow):
                yield Entry(position, dropped=f"not an HTTP flow ({flow.type})")
            else:
                exchange = exchange_from_flow(flow, position)
                recorded = exchange.started if exchange.started > 0 else None
                yield Entry(position, exchange=exchange, recorded=recorded)
            position += 1
    except (exceptions.FlowReadException, ValueError, KeyError, TypeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise FileProblem(
            f"not a readable mitmproxy flow file ({reason})", f"entry {position}"
        ) from None


FORMAT = Format("mitmproxy", "mitmproxy flow files (mitmdump -w)", sniff, read)
