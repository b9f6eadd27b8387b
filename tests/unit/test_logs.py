"""Log values cannot forge lines or fields, whatever a hostile name holds."""

from relops_client.logs import kv


def test_values_are_quoted_and_control_characters_escaped():
    line = kv(event="x", flow='evil\nevent=forged "q" \x00', plain="checkout")
    assert "\n" not in line and "\x00" not in line
    assert line == 'event=x flow="evil\\nevent=forged \\"q\\" \\x00" plain=checkout'


def test_none_values_are_left_out_and_long_ones_cut():
    assert kv(a=None, b="y") == "b=y"
    assert len(kv(a="z" * 1000)) < 320
