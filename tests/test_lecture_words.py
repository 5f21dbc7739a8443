"""The lecture's words agree with its numbers: Russian plurals, units that cannot be misread,
and one letter for one quantity."""

import re
import string

import pytest

from asim.lecture import captions
from asim.lecture.captions import caption, fill

SAMPLES = ("1", "2", "5", "21", "984", "9,9", "39,4", "0,41")


def keys(template):
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def every_caption(lang, value):
    """Every caption line of ``lang`` with every number set to ``value``."""
    lines = []
    for table in (captions._CAPTIONS, captions._VARIANTS):
        for figure in table[lang]:
            first, second = table[lang][figure]
            numbers = dict.fromkeys(keys(first) | keys(second), value)
            lines += caption(lang, figure, **numbers)
    return lines


@pytest.mark.parametrize("value", SAMPLES)
def test_no_number_is_followed_by_a_plural_rate_that_may_not_agree(value):
    # "984 запросов/с" and "9,9 запросов/с" are wrong; "запр./с" is right after any number.
    for line in every_caption("ru", value):
        assert not re.search(r"\d\s*запрос\w*/с", line), line


def test_the_workers_rates_carry_their_unit():
    first, _ = caption("ru", "capacity", dj1_max="9,9", dj4_max="39,4", dj1_knee="1",
                       dj4_knee="4", aio_knee="920", aio_x="984", aio_n=100, aio_max="2952",
                       des_max="1962", des_n=300)
    assert "39,4 запр./с с четырьмя" in first  # not "39,4 с четырьмя": 39.4 seconds
    assert "9,9 запр./с с одним" in first


@pytest.mark.parametrize(
    ("w", "with_workers", "per_round"),
    [(1, "с 1 воркером", "по 1 запросу"), (2, "с 2 воркерами", "по 2 запроса"),
     (5, "с 5 воркерами", "по 5 запросов"), (21, "с 21 воркером", "по 21 запросу")],
)
def test_russian_counts_agree_with_their_number(w, with_workers, per_round):
    first, _ = caption("ru", "timelines", n=12, c=5, sleep="0,1", w=w, aio_t="0,41",
                       dj_t="0,71", blk_t="1,21", batches="1–4")
    assert with_workers in first and per_round in first


@pytest.mark.parametrize(("w", "text"), [(1, "with 1 worker serves 1 request at a time"),
                                         (2, "with 2 workers serves 2 requests at a time")])
def test_english_counts_agree_with_their_number(w, text):
    first, _ = caption("en", "timelines", n=12, c=5, sleep="0.1", w=w, aio_t="0.41",
                       dj_t="0.71", blk_t="1.21", batches="1–4")
    assert text in first


@pytest.mark.parametrize(("value", "form"), [("8,90", "8,90 запроса"), ("1", "1 запрос"),
                                             ("3", "3 запроса"), ("11", "11 запросов")])
def test_fill_chooses_the_form_by_the_number(value, form):
    assert fill("{L:запрос/запроса/запросов}", L=value) == form


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_w_is_the_workers_and_the_wait_is_wq(lang):
    for line in every_caption(lang, "2"):
        assert not re.search(r"X·W\b", line), line
    first, _ = caption(lang, "little", label="x", L="1", X="2", R="3", XR="4", Lq="5", Wq="6",
                       XWq="7", ab_rps="8", ab_total="9", ab_L="10", c=10)
    assert "X·Wq" in first
