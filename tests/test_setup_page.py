"""SETUP explains itself (issue 13): its title, the status choice with what each value means, the dot legend,
one Save button per form, the edit form in place under the chosen row, and a pair blocked by an active leg."""

from __future__ import annotations

import re

import pytest
from test_pages import Browser

from tests.signal_fixtures import add_instruments


@pytest.fixture
def instruments(store):
    store.write_sync(add_instruments, {"KO": ("STK", "USD", 1), "PEP": ("STK", "USD", 0), "EWA": ("STK", "USD", 0),
                                       "EWC": ("STK", "USD", 0)},
                     {"KO-PEP": (0.4, 0), "EWA-EWC": (2.0, -1)})


async def _setup(api, query: str) -> str:
    browser = Browser(api)
    assert (await browser.login()).code == 302
    page = await browser.get("/setup?" + query)
    assert page.code == 200
    return page.text


@pytest.mark.gen_test
async def test_pairs_tab_explains_status_and_warns_of_an_active_leg(api, instruments):
    text = await _setup(api, "tab=pairs&pair=EWA-EWC")
    assert "<title>SETUP · pairs</title>" in text and "RESTful API TEST PAGE" not in text
    add = text[text.index('id="add-pair"'):text.index("</form>", text.index('id="add-pair"'))]
    choices = re.findall(r'name="status" value="(-?\d)" data-type="int"( checked)?> <span class="dot st-?\d"></span> '
                         r'(\w+) <span class="hint">([^<]+)</span>', add)
    assert [(value, label, bool(checked)) for value, checked, label, _ in choices] == [
        ("1", "active", False), ("0", "passive", True), ("-1", "watchlist", False)]
    assert "unless a leg is an active ticker" in choices[0][3]
    assert add.count("<button") == 1 and '<button type="submit" class="send">Save</button>' in add
    assert '<details class="json-preview"><summary>JSON</summary>' in add
    assert text.count('<p class="legend"><span class="dot st1"></span> active') == 1

    rows = re.findall(r'<li class="(editing|)"><span class="dot st(-?\d)"></span> <a [^>]*>([^<]+)</a>(.*?)</li>',
                      text, re.DOTALL)
    assert [(name, status, cls) for cls, status, name, _ in rows] == [("EWA-EWC", "-1", "editing"), ("KO-PEP", "0", "")]
    assert "KO is an active ticker: this pair cannot be active" in rows[1][3]  # KO is traded on its own
    assert "active ticker" not in rows[0][3].split("<form")[0]
    assert 'id="update-pair"' in rows[0][3]  # the chosen row is edited where it stands
    assert 'data-confirm="Do you want to delete this pair?"' in rows[0][3]


@pytest.mark.gen_test
async def test_tickers_tab_has_the_choice_and_edits_in_place(api, instruments):
    text = await _setup(api, "tab=tickers&ticker=KO")
    add = text[text.index('id="add-ticker"'):text.index("</form>", text.index('id="add-ticker"'))]
    assert re.search(r'name="active" value="0" data-type="int" checked>', add)
    assert "trades on its own" in add
    editing = re.search(r'<li class="editing">(.*?)</li>', text, re.DOTALL).group(1)
    assert ">KO</a>" in editing and 'id="update-ticker"' in editing and 'id="yahoo-symbol"' in editing
    assert re.search(r'name="active" value="1" data-type="int" checked>', editing)
