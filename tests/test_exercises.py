from cnnedu.exercises import check


def test_check_says_correct_wrong_or_unanswered(capsys):
    assert check(14, 14, "hint") is True
    assert "✅" in capsys.readouterr().out
    assert check(13, 14, "use the formula") is False
    out = capsys.readouterr().out
    assert "❌" in out and "use the formula" in out
    assert check(None, 14, "h") is False and "Not answered" in capsys.readouterr().out
    assert check(..., 14, "h") is False
    assert check((2, 3), [2, 3], "h") and check(0.1 + 0.2, 0.3, "h")
    assert not check((2, 3), (2, 4), "h") and not check(True, 1, "h")
