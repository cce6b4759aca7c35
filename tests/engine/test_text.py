"""Stop strings and UTF-8 assembly on streamed text."""

from __future__ import annotations

from levante.engine.text import StopMatcher, Utf8Assembler


def _run(stops: tuple[str, ...], pieces: list[str]) -> tuple[str, bool]:
    matcher = StopMatcher(stops)
    out = ""
    for piece in pieces:
        out += matcher.feed(piece)
        if matcher.stopped:
            return out, True
    return out + matcher.flush(), False


def test_stop_string_split_across_pieces() -> None:
    assert _run(("STOP",), ["Hello S", "TO", "P world"]) == ("Hello ", True)


def test_partial_match_that_fails_is_released() -> None:
    assert _run(("STOP",), ["Hello ST", "ART"]) == ("Hello START", False)


def test_earliest_of_several_stops_wins() -> None:
    assert _run(("b", "a"), ["xxab"]) == ("xx", True)


def test_no_stops_passes_through() -> None:
    assert _run((), ["a", "b"]) == ("ab", False)


def test_held_text_is_never_shown_early() -> None:
    matcher = StopMatcher(("</end>",))
    assert matcher.feed("text </e") == "text "
    assert matcher.feed("nd>") == ""
    assert matcher.stopped


def test_utf8_split_across_tokens() -> None:
    data = "café ☕".encode()
    assembler = Utf8Assembler()
    text = "".join(assembler.feed(data[i : i + 1]) for i in range(len(data)))
    assert text + assembler.flush() == "café ☕"
