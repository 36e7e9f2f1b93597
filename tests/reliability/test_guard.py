"""The guard itself can fail: it catches a stray read and a wrong exit."""
import pytest


def test_the_guard_catches_a_read_outside_the_given_places(refuse, tmp_path):
    bad = tmp_path / "bad.scenario.yaml"
    bad.write_text("title: [unclosed\n")
    assert refuse("validate", bad, allowed=(tmp_path,)).startswith(str(bad))
    with pytest.raises(AssertionError, match="read outside"):
        refuse("validate", bad, allowed=(tmp_path / "elsewhere",))


def test_the_guard_catches_a_command_that_succeeds(refuse):
    with pytest.raises(AssertionError):
        refuse("list")
