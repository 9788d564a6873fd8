"""[SERVER] ACCOUNT_CURRENCY (issue 13): the account PNL's currency sign; the ceiling says when it mixes currencies."""

from __future__ import annotations

import dataclasses
import re

import pytest
from test_pages import Browser

from pairs.config import load_settings
from pairs.db import Account, utcnow


def test_account_currency_comes_from_config_ini(tmp_path):
    config = tmp_path / "config.ini"
    config.write_text("[SERVER]\nACCOUNT_CURRENCY = US$\n")
    assert load_settings(str(config), environ={}).account_currency == "US$"
    assert load_settings(None, environ={}).account_currency == "C$"  # the original's


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, account_currency="US$")


@pytest.mark.gen_test
async def test_positions_show_the_account_in_its_currency(api, store):
    store.write_sync(lambda: Account.insert(timestamp=utcnow(), NetLiquidation=100000.0, DailyPnL=-3.0).execute())
    browser = Browser(api)
    await browser.login()
    page = (await browser.get("/positions")).text
    account = page.split('id="account"', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", account)
    assert cells[0] == "-US$3.00" and cells[3] == "US$100,000.00" and cells[-1] == "US$100,000.00"
    assert 'id="ceiling-note"' not in page  # both in US$: nothing to say
