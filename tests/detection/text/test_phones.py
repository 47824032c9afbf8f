"""Phone numbers in OCR'd text: what is a number, how it is normalised, and what is not one."""

from __future__ import annotations

import pytest

from detection.text import phone_numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Mobiles: 11 digits from 1[3-9], grouped any way flyers group them.
        ("电话13800138000", ["13800138000"]),
        ("138 0013 8000", ["13800138000"]),
        ("138-0013-8000", ["13800138000"]),
        ("+86 138 0013 8000", ["13800138000"]),
        ("+86-13912345678", ["13912345678"]),
        ("8613800138000", ["13800138000"]),
        ("0086 13800138000", ["13800138000"]),
        ("手机：19912345678。", ["19912345678"]),
        ("１３８００１３８０００", ["13800138000"]),  # full-width digits
        ("１３８－００１３－８０００", ["13800138000"]),  # full-width dashes
        # Landlines: an area code, then seven or eight digits not starting 0 or 1.
        ("0532-8888 8888", ["0532-88888888"]),
        ("(0532)88888888", ["0532-88888888"]),
        ("（0532）88888888", ["0532-88888888"]),  # full-width parentheses
        ("010-6552 9988", ["010-65529988"]),
        ("021 5555 6666", ["021-55556666"]),
        ("0571-8765432", ["0571-8765432"]),
        ("咨询 400-820-8820", ["400-820-8820"]),
        # Several on one flyer, in reading order, each once.
        ("0532-88888888 13912345678", ["0532-88888888", "13912345678"]),
        ("13800138000/13912345678", ["13800138000", "13912345678"]),
        ("13800138000 13800138000", ["13800138000"]),
        # O, o, I, l and | read for 0 and 1 inside a clear run of digits.
        ("Tel 138OO138000", ["13800138000"]),
        ("1380013800O", ["13800138000"]),
        ("l3800138000", ["13800138000"]),
        ("139|2345678", ["13912345678"]),
        ("Room l0l, 8O", []),  # too few real digits around them to read them as digits
        ("1390O0O0O00", []),  # more than two look-alikes: not a number
        # Parts of longer digit runs: a timestamp, order numbers.
        ("20231215135501", []),
        ("订单号213800138000", []),
        ("13800138000123", []),
        ("2023-13800138000", []),
        ("13800138000-1", []),
        ("No.138001380001", []),
        # Not phones at all.
        ("", []),
        ("Hello world", []),
        ("12345678901", []),  # 12... is no mobile prefix
        ("1380013800", []),  # ten digits
        ("0532-1888888", []),  # a local number starting with 1
        ("开业大吉 全场八折", []),
    ],
)
def test_phone_numbers(text: str, expected: list[str]) -> None:
    assert phone_numbers(text) == expected
