"""The docs build hook: API pages generated from the public names, the version, MathJax."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import memnets

ROOT = Path(__file__).resolve().parents[2]

#: The hook's API pages need griffe and the MathJax package of the docs extra; the default
#: test environment (the test extra) skips these, and CI runs them again after installing
#: the docs extra.
requires_docs = pytest.mark.skipif(
    importlib.util.find_spec("griffe") is None or importlib.util.find_spec("mathjax") is None,
    reason="needs the docs extra: pip install -e '.[docs]'",
)


def load_hook():
    spec = importlib.util.spec_from_file_location("memnets_site_hook", ROOT / "docs" / "hooks" / "site.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module._ROOT_HOLDER.append(str(ROOT))
    return module


def page(uri: str):
    return SimpleNamespace(file=SimpleNamespace(src_uri=uri))


def test_version_is_the_package_version():
    assert load_hook()._package_version(ROOT) == memnets.__version__


@requires_docs
def test_mathjax_comes_from_the_docs_extra():
    source = load_hook()._mathjax_source()
    assert (source / "tex-mml-chtml.js").is_file()
    assert (source / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


@requires_docs
def test_api_line_expands_to_one_block_per_public_name_of_the_family():
    hook = load_hook()
    text = hook.on_page_markdown("# Memory\n\n<!-- api memnets memnets.nn.memory -->\n",
                                 page("api/memory.md"), {"extra": {"version_number": "x"}}, None)
    documented = re.findall(r"^::: (\S+)$", text, flags=re.MULTILINE)
    assert "memnets.NTM" in documented and "memnets.NTMCell" in documented
    assert "memnets.LSTM" not in documented
    assert all(hook._placed[name] == "api/memory.md" for name in documented)


@requires_docs
def test_every_public_name_is_on_some_api_page():
    hook = load_hook()
    config = {"extra": {"version_number": "x"}}
    for source in sorted((ROOT / "docs" / "api").glob("*.md")):
        hook.on_page_markdown(source.read_text(encoding="utf-8"), page(f"api/{source.name}"), config, None)
    public = {f"{package}.{name}" for package in hook._PACKAGES for name, obj in hook._public(package)
              if hook._documented(obj)}
    assert public and public <= set(hook._placed), sorted(public - set(hook._placed))


@requires_docs
def test_index_lists_every_public_name():
    hook = load_hook()
    index = hook._index()
    for name in memnets.__all__:
        if name not in ("functional", "__version__"):
            assert f"[`{name}`]" in index, name
