"""Tracker's error formats are written in one place, the same for the relay and the emulator."""

from __future__ import annotations

import json

import defusedxml.ElementTree as SafeET
import pytest

from hookrelay.core.tracker_errors import V5_CODES, error_v3_xml, error_v5_json, v5_code
from hookrelay.emulator.formats import error_v3, error_v5
from hookrelay.web.errors import AnswerStyle, error_response


@pytest.mark.parametrize("status", sorted({*V5_CODES, 418, 500}), ids=str)
def test_relay_and_emulator_give_one_code_per_status(status: int) -> None:
    """For every status, the relay's v5 answer and the emulator's carry the same code."""
    relay = json.loads(bytes(error_response(AnswerStyle.TRACKER_V5, status, "why").body))
    assert relay == error_v5(status, "why")
    assert relay["code"] == v5_code(status)
    assert v5_code(415) == "unsupported_media_type"


def test_v3_errors_escape_anything() -> None:
    """A reason holding markup, quotes or control characters still makes one valid <error>."""
    reason = 'a <b> & "c" \x00 ]]>'
    document = SafeET.fromstring(error_v3_xml(reason))
    assert [e.text for e in document.iter("error")] == ['a <b> & "c" \ufffd ]]>']
    assert error_v3(reason) == error_v3_xml(reason)
    relay = bytes(error_response(AnswerStyle.TRACKER_V3, 400, reason).body)
    assert relay == error_v3_xml(reason)


def test_v5_error_object_shape() -> None:
    """A v5 error is Tracker's object: code, kind error, error."""
    assert json.loads(error_v5_json(404, "gone")) == {
        "code": "unfound_resource",
        "kind": "error",
        "error": "gone",
    }
