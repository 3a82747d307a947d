"""The code blocks of the heaviest guides (see tests/test_docs_code.py).

A module of their own so that pytest-xdist, which keeps a module on one worker
(`--dist loadfile`), runs them next to the other pages.
"""

import pytest
from test_docs_code import HEAVY, HEAVY_PAGES, _page_id, as_a_reader, run_page

assert as_a_reader  # the fixture, imported so that pytest finds it here


def test_the_heavy_pages_exist():
    assert sorted(page.name for page in HEAVY_PAGES) == sorted(HEAVY)


@pytest.mark.parametrize("page", HEAVY_PAGES, ids=_page_id)
def test_page_code_runs(page, as_a_reader):
    run_page(page)
