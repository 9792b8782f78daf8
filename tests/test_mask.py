"""Masking: which keys name secrets, payment data by key and by value, and values of every type
(more masking of values is in test_codec.py and test_hostile.py)."""
from dataclasses import dataclass

import pytest
from pydantic import BaseModel

from agentnb.core import frames
from agentnb.core.mask import MASK, is_payment_key, is_secret_key, luhn, mask_text, mask_value
from agentnb.core.records import StateChange

CARD = "4539148803436467"          # passes the Luhn check
NOT_A_CARD = "4539148803436468"    # the same digits but the last: fails it


def test_author_is_not_a_secret_but_auth_is():
    assert not is_secret_key("author") and not is_secret_key("authority")
    for key in ("auth", "api_key", "apiKey", "user:access_token", "client_secret", "password",
                "Authorization", "credentials", "temp:oauth2"):
        assert is_secret_key(key), key


def test_payment_keys_are_secrets_and_even_their_numbers_are_masked():
    for key in ("cvv", "CVC", "cvv2", "expiry", "card_number", "cardNumber", "expiry_date",
                "cc_number"):
        assert is_secret_key(key) and is_payment_key(key), key
    for key in ("card", "number", "phone", "input_tokens", "api_key"):
        assert not is_payment_key(key), key
    assert mask_value({"cvv": 381, "expiry": 1229, "input_tokens": 5, "api_key": 7}) == {
        "cvv": MASK, "expiry": MASK, "input_tokens": 5, "api_key": 7}


def test_luhn():
    assert luhn(CARD) and luhn("79927398713") and not luhn(NOT_A_CARD)


@pytest.mark.parametrize("text, shown", [
    (f"card {CARD} ok", f"card {MASK} ok"),
    ("my card is 4539 1488 0343 6467.", f"my card is {MASK}."),
    ("4539-1488-0343-6467", MASK),
    ("4539 1488 0343 6467 381", f"{MASK} 381"),        # a card beside another number
    ("call 555-0100 or 555 0100 1234", "call 555-0100 or 555 0100 1234"),
    (f"loyalty number {NOT_A_CARD}", f"loyalty number {NOT_A_CARD}"),
    ("12345678901234567890123", "12345678901234567890123"),   # a longer run is no card
    ("1 2 3 4 5 6 7 8 9 0 1 2 3 4", "1 2 3 4 5 6 7 8 9 0 1 2 3 4"),   # groups of one digit
    ("0.00008556948175 and 2.4539148803436467", "0.00008556948175 and 2.4539148803436467"),
    (f"call_{CARD} and {CARD}x", f"call_{CARD} and {CARD}x"),      # parts of identifiers
    (f"({CARD}), {CARD}.", f"({MASK}), {MASK}."),
])
def test_card_numbers_in_text_are_masked_by_the_luhn_check(text, shown):
    assert mask_text(text) == shown


@dataclass
class Card:
    card_number: str
    expiry: str
    cvv: int
    holder: str = "Ana"


class PaidOrder(BaseModel):
    items: list[str]
    card_number: str


class Client:
    def __repr__(self):
        return f"Client(last card {CARD})"


def test_dataclass_and_pydantic_values_are_masked_field_by_field():
    card = Card(CARD, "12/29", 381)
    assert mask_value(card) == {"card_number": MASK, "expiry": MASK, "cvv": MASK, "holder": "Ana"}
    assert mask_value({"card": card})["card"]["cvv"] == MASK
    assert mask_value(card, "cvv") == MASK
    assert mask_value(PaidOrder(items=["tea"], card_number=CARD)) == {
        "items": ["tea"], "card_number": MASK}
    plain = Card("n/a", "n/a", 0, "Bo")
    plain.card_number = plain.expiry = None
    plain.cvv = None
    assert mask_value(plain) is plain   # nothing to mask: the value itself


def test_any_other_object_is_masked_by_its_repr():
    assert mask_value(Client()) == f"Client(last card {MASK})"
    quiet = object()
    assert mask_value(quiet) is quiet


def test_frames_mask_values_of_every_type_and_reveal_them_on_request():
    card = Card(CARD, "12/29", 381)
    records = [StateChange("s", "i", "e", 0.0, "a", "tool:pay", key, "userdata", None, value, True)
               for key, value in (("card", card), ("client", Client()), ("cvv", 381),
                                  ("count", 3))]
    shown = frames.history(records)["new"].tolist()
    assert shown == [{"card_number": MASK, "expiry": MASK, "cvv": MASK, "holder": "Ana"},
                     f"Client(last card {MASK})", MASK, 3]
    revealed = frames.history(records, reveal=True)["new"].tolist()
    assert revealed[0] is card and revealed[2] == 381
    assert frames.timeline(records)["card"].tolist()[-1]["cvv"] == MASK
