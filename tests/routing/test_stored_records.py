"""The readings, intents and handoffs stored with every message are written as dataclasses.asdict would."""

from dataclasses import asdict

from routing.emotion import Evidence, Reading
from routing.intent import Intent
from routing.policy import Handoff


def test_a_reading_is_stored_as_asdict_stores_it():
    reading = Reading("angry", 0.9, "threat", (Evidence("strong_threat", "12315"), Evidence("angry_word", "垃圾")), 0.4)

    assert reading.as_dict() == asdict(reading)
    assert reading.as_dict()["evidence"] == (
        {"kind": "strong_threat", "text": "12315"},
        {"kind": "angry_word", "text": "垃圾"},
    )


def test_an_intent_and_a_handoff_are_stored_as_asdict_stores_them():
    intent = Intent("logistics", "keywords", "快递")
    handoff = Handoff("complaints", "投诉/主管", "supervisor", 90)

    assert intent.as_dict() == asdict(intent)
    assert handoff.as_dict() == asdict(handoff)
    assert Intent(None, "none").as_dict() == asdict(Intent(None, "none"))
