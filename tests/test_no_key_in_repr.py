"""A key never shows in what Python prints of the objects that carry it: the repr of a
request sent to a target, of the target's context, and a traceback of a failed request
with its locals (plain data: no target is needed to build the request it would send)."""

from __future__ import annotations

import traceback

from hypothesis import given
from hypothesis import strategies as st

from harness.model import Headers, Request, Response
from harness.replay.idmap import IdMap
from harness.replay.rewrite import TargetContext, rewrite_request

KEY = "sk_test_" + "Ab12Cd34Ef56Gh78Ij90"  # joined here, as no tracked string may look like a key
RESTRICTED = "rk_test_" + "Zz98Yy76Xx54Ww32"
WEBHOOK = "whsec_" + "Q1w2E3r4T5y6U7i8O9p0"


def sent() -> tuple[Request, TargetContext]:
    recorded = Request(
        "POST",
        "/v1/customers",
        headers=[("Authorization", "Bearer sk_test_<redacted:1a2b3c4d>"), ("Cookie", "a=b")],
        body="email=a%40b.c",
    )
    target = TargetContext(name="twin", run_id="run1", api_key=KEY, port=4242)
    return rewrite_request(recorded, 0, IdMap(), target).request, target


def test_the_request_sent_and_its_target_hide_the_key_in_their_repr() -> None:
    request, target = sent()
    assert request.header("Authorization") == f"Bearer {KEY}"  # it is sent, only not shown
    assert KEY not in repr(request) and KEY not in str(request)
    assert KEY not in repr(target)
    assert "<hidden>" in repr(request.headers)


def test_a_traceback_of_a_failed_request_with_its_locals_holds_no_key() -> None:
    request, target = sent()
    answer = Response(401, [("Stripe-Signature", "t=1,v1=abc"), ("X-Echo", WEBHOOK)])

    def fail(request: Request, target: TargetContext, answer: Response) -> None:
        raise RuntimeError(f"target {target.name} refused {request!r}: {answer!r}")

    try:
        fail(request, target, answer)
    except RuntimeError as exc:
        printed = "".join(
            traceback.TracebackException.from_exception(exc, capture_locals=True).format()
        )
    assert "refused Request(" in printed and "fail" in printed
    for secret in (KEY, WEBHOOK, "v1=abc"):
        assert secret not in printed


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Authorization", "cookie", "Stripe-Signature", "X-Api-Key", "Accept"]),
            st.sampled_from([KEY, RESTRICTED, WEBHOOK, f"Bearer {KEY}", "text/html"]),
        ),
        max_size=6,
    )
)
def test_no_key_and_no_credential_header_survives_a_headers_repr(
    pairs: list[tuple[str, str]],
) -> None:
    shown = repr(Headers(pairs))
    for secret in (KEY, RESTRICTED, WEBHOOK):
        assert secret not in shown
    for name, value in pairs:
        if name.lower() in ("authorization", "cookie", "stripe-signature"):
            assert f"({name!r}, {value!r})" not in shown
