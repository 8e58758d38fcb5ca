"""`documents.warm_up`: what a forking worker runs once before its first fork."""
from __future__ import annotations

from service.paperwork import documents
from service.paperwork.render import ENV


def test_warm_up_compiles_every_paperwork_template_and_renders():
    ENV.cache.clear()
    documents.warm_up()
    names = ENV.list_templates(filter_func=lambda name: name.startswith("paperwork/"))
    cached = {template.name for template in ENV.cache.values()}
    assert names and set(names) <= cached
