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


def test_editor_timestamp_is_the_display_zone_with_its_offset():
    import datetime as dt
    import zoneinfo

    from pairs import dashboard
    stored = dt.datetime(2026, 11, 29, 12, 2, 58)  # naive UTC, as stored
    assert dashboard.format_local_offset(stored, zoneinfo.ZoneInfo("US/Pacific")) == "2026-11-29 04:02:58-08:00"
    assert dashboard.format_local_offset(dt.datetime(2026, 7, 1, 12, 0), zoneinfo.ZoneInfo("US/Pacific")) == (
        "2026-07-01 05:00:00-07:00")
    assert dashboard.format_local_offset(stored, dt.UTC) == "2026-11-29 12:02:58+00:00"
    assert dashboard.format_local_offset(None, dt.UTC) == ""


@pytest.mark.gen_test
async def test_editor_shows_the_display_zone_and_a_put_of_it_keeps_the_time(api, instruments, store):
    from pairs.db import Signal
    from tests.signal_fixtures import webhook
    assert (await api.post("/v4/webhook", webhook("EWA-2*EWC", timestamp="2026-11-29 12:02:58"))).code == 201
    text = await _setup(api, "tab=signals&signal=1")
    assert ('<label>Timestamp (US/Pacific): <input name="timestamp" value="2026-11-29 04:02:58-08:00" readonly '
            'class="lockable"></label>') in text
    echo = (await api.get("/v4/signal/1")).json
    echo.update(passphrase="webhook", timestamp="2026-11-29 04:02:58-08:00")  # what the editor sends back
    assert (await api.put("/v4/webhook", echo)).code == 200
    assert store.read_in_thread(lambda: Signal.get_by_id(1).timestamp).isoformat() == "2026-11-29T12:02:58"
