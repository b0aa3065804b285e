"""Build hooks of the documentation site.

* MathJax 3 is served by the site itself: the files come from the `django-static-mathjax`
  package of the docs extra (it ships the MathJax 3 distribution as package data) and are
  copied into ``assets/mathjax`` of the built site, so no page loads anything from another
  host.
* The package version is read from ``memnets/__init__.py`` (without importing torch) and
  shown in the site's footer.
* The API pages are generated from the public names: a line
  ``<!-- api PACKAGE PREFIX [PREFIX ...] -->`` becomes one ``::: PACKAGE.NAME`` block for
  every name in ``PACKAGE.__all__`` defined in a module under one of the prefixes, and
  ``<!-- api-index -->`` becomes the table of every public name. After the build, every
  class and function of ``memnets``, ``memnets.functional``, ``memnets.data`` and
  ``memnets.training`` must have been placed on some page, or the build fails: a new
  public name cannot be left out of the reference.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import re
import shutil
from pathlib import Path

# what a page needs from the MathJax distribution: the combined TeX + MathML -> CHTML
# component, the TeX extensions it may autoload, the CHTML fonts, and the menu and
# accessibility components it loads on demand
_MATHJAX_FILES = ["tex-mml-chtml.js"]
_MATHJAX_DIRS = ["input", "output/chtml", "ui", "a11y", "adaptors", "sre"]
_TARGET = Path("assets") / "mathjax"
_ROOT_HOLDER: list[str] = []


def _mathjax_source() -> Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "MathJax is not installed: install the docs extra, pip install -e '.[docs]'"
        )
    es5 = Path(spec.origin).parent / "static" / "mathjax" / "es5"
    if not (es5 / _MATHJAX_FILES[0]).is_file():
        raise RuntimeError(f"the installed mathjax package has no {_MATHJAX_FILES[0]} in {es5}")
    return es5


def _package_version(root: Path) -> str:
    text = (root / "memnets" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, flags=re.MULTILINE)
    if match is None:
        raise RuntimeError("memnets/__init__.py defines no __version__")
    return match.group(1)


def on_config(config):
    _mathjax_source()  # fail early, before the pages are built
    root = Path(config["config_file_path"]).parent
    _ROOT_HOLDER.append(str(root))
    version = _package_version(root)
    config["extra"]["version_number"] = version
    config["copyright"] = f"memnets {version} · MIT licence"
    return config


_PACKAGES = ["memnets", "memnets.functional", "memnets.data", "memnets.training"]
_API_LINE = re.compile(r"^<!-- api (\S+) (.+?) -->$", flags=re.MULTILINE)
_placed: dict[str, str] = {}  # public path -> the page that documents it
_griffe: dict[str, object] = {}


def _identifier(path: str, obj: object) -> str:
    """``path`` if the API collector resolves it statically; else the defining module's path
    (a package that re-exports lazily, without a TYPE_CHECKING import, hides it)."""
    import griffe

    if "memnets" not in _griffe:
        _griffe["memnets"] = griffe.load("memnets", search_paths=[_ROOT_HOLDER[-1]], resolve_aliases=False)
    try:
        target = _griffe["memnets"][path.removeprefix("memnets.")]
        if getattr(target, "is_alias", False):
            target.final_target  # noqa: B018 - raises if the alias does not resolve
        return path
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        fallback = f"{obj.__module__}.{obj.__qualname__}"
        _log.info("%s is not statically resolvable: rendered from %s", path, fallback)
        return fallback


_log = logging.getLogger("mkdocs.hooks.site")  # a warning fails a strict build
_failed: set[str] = set()


def _public(package: str) -> list[tuple[str, object]]:
    """(name, object) for every name of ``package.__all__``; one that fails to import is
    reported (a warning, so a strict build fails) and left out."""
    try:
        module = importlib.import_module(package)
    except Exception as error:  # noqa: BLE001 - reported, and the build fails on it
        if package not in _failed:
            _log.warning("cannot import %s: %s: %s", package, type(error).__name__, error)
            _failed.add(package)
        return []
    found = []
    for name in module.__all__:
        if name in ("functional", "__version__"):
            continue
        try:
            found.append((name, getattr(module, name)))
        except Exception as error:  # noqa: BLE001 - as above
            if f"{package}.{name}" not in _failed:
                _log.warning("%s.%s is in __all__ but cannot be imported: %s: %s",
                             package, name, type(error).__name__, error)
                _failed.add(f"{package}.{name}")
    return found


def _documented(obj: object) -> bool:
    return inspect.isclass(obj) or inspect.isfunction(obj)


def _expand_api(match: re.Match, page) -> str:
    package, tokens = match.group(1), match.group(2).split()
    options = dict(token.split("=", 1) for token in tokens if "=" in token)
    prefixes = tuple(token for token in tokens if "=" not in token)
    level = int(options.get("level", 2))
    blocks = []
    top = {id(obj) for _, obj in _public("memnets")} if package != "memnets" else set()
    for name, obj in _public(package):
        if _documented(obj) and obj.__module__.startswith(prefixes):
            path = f"{package}.{name}"
            _placed[path] = page.file.src_uri
            if id(obj) in top:  # the same object as a memnets.NAME: documented there
                continue
            identifier = _identifier(path, obj)
            heading = "" if identifier == path else f"\n      heading: {path}"
            blocks.append(f"::: {identifier}\n    options:\n      heading_level: {level}{heading}\n")
    if blocks and "title" in options:  # a section that appears once it has members
        blocks.insert(0, "#" * (level - 1) + " " + options["title"].replace("_", " ") + "\n")
    return "\n".join(blocks)


def _summary(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    line = doc.strip().split("\n\n")[0].replace("\n", " ")
    return line.replace("|", "\\|")


def _index() -> str:
    out = []
    for package in _PACKAGES:
        out.append(f"## `{package}`\n\n| name | kind | summary |\n|---|---|---|")
        for name, obj in _public(package):
            path = f"{package}.{name}"
            if _documented(obj):
                kind = "class" if inspect.isclass(obj) else "function"
                target = next((f"memnets.{n}" for n, o in _public("memnets") if o is obj), path)
                target = _identifier(target, obj)
                out.append(f"| [`{name}`][{target}] | {kind} | {_summary(obj)} |")
            else:
                out.append(f"| `{name}` | constant | `{type(obj).__name__}` |")
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown, page, config, files):
    markdown = markdown.replace("{{ version }}", config["extra"]["version_number"])
    markdown = _API_LINE.sub(lambda m: _expand_api(m, page), markdown)
    return markdown.replace("<!-- api-index -->", _index())


def on_post_build(config):
    missing = [f"{package}.{name}" for package in _PACKAGES for name, obj in _public(package)
               if _documented(obj) and f"{package}.{name}" not in _placed]
    if missing and not config.get("dirty"):
        raise RuntimeError("public names on no API page (add a prefix to an "
                           f"'<!-- api ... -->' line): {', '.join(missing)}")
    source = _mathjax_source()
    target = Path(config["site_dir"]) / _TARGET
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in _MATHJAX_FILES:
        shutil.copy2(source / name, target / name)
    for name in _MATHJAX_DIRS:
        shutil.copytree(source / name, target / name)
    shutil.copy2(source.parent / "LICENSE", target / "LICENSE")
