"""The documentation site builds with ``mkdocs build --strict``, and its generated
pages say what the code does: every command and flag of the parser, every key of
the shipped study files, every layer's reference."""

import html
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jaxgossip.cli.main import build_parser

pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("mkdocstrings_handlers.python")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (
    "network",
    "problems",
    "algorithms",
    "engine",
    "theory",
    "io",
    "study",
    "plot",
    "cli_modules",
    "distributed",
    "testing",
)


PAGES = (  # a sample of the hand-written pages and of the ones the catalogue links
    "getting_started",
    "concepts/network",
    "concepts/clocks",
    "concepts/local_view",
    "concepts/engines",
    "concepts/precision",
    "concepts/reproducibility",
    "algorithms",
    "algorithms/dadao",
    "tutorials/own_algorithm",
    "guides/distributed",
    "architecture",
)


def test_the_site_builds_strictly_and_documents_the_code(tmp_path):
    """One build (it takes about 20 s on 2 cores), then every check on its pages."""
    site = tmp_path / "site"
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"}  # a banner, not a warning
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    print(f"mkdocs build: {time.perf_counter() - start:.1f} s")
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    missing = [page for page in PAGES if not (site / page / "index.html").is_file()]
    assert not missing, f"pages not built: {missing}"
    check_cli_page(text(site, "reference/cli"))
    for path in sorted((ROOT / "examples").glob("*.toml")):
        check_schema_page(site, path)
    for layer in LAYERS:
        name = "cli" if layer == "cli_modules" else layer
        assert f'id="jaxgossip.{name}"' in text(site, f"reference/{layer}"), layer
    check_wrapped_entry_point(text(site, "reference/engine"))


def text(site: Path, page: str) -> str:
    """A built page's HTML with entities decoded."""
    return html.unescape((site / page / "index.html").read_text(encoding="utf-8"))


def check_cli_page(page: str) -> None:
    """Every command of the parser has its section, and every flag appears."""
    for name, parser in build_parser().commands.items():
        assert f'id="jaxgossip-{name}"' in page, name
        for action in parser._actions:
            for option in action.option_strings:
                assert option in page, f"jaxgossip {name} {option}"


def _keys(table: dict, skip=("grid", "optimizer")):
    for key, value in table.items():
        yield key
        if isinstance(value, dict) and key not in skip:
            yield from _keys(value)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for entry in value:
                yield from _keys(entry)


def check_schema_page(site: Path, path: Path) -> None:
    """Every key a shipped study file uses is listed on its file format's page."""
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    page = "tradeoff_files" if "ratios" in config else "experiment_files"
    built = text(site, f"reference/{page}")
    for key in set(_keys(config)):
        assert f"<code>{key}</code>" in built, f"{path.name}: {key} missing from {page}"


def check_wrapped_entry_point(page: str) -> None:
    """``simulate`` is a ``functools.wraps`` wrapper: its parameters are the compiled run's."""
    start = page.index('id="jaxgossip.engine.events.simulate"')
    section = page[start : start + 20_000]
    for parameter in ("num_events", "num_records", "schedule"):
        assert f"<code>{parameter}</code>" in section, parameter


def test_readme_links_resolve():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if "://" not in link]
    assert local, "the README links to the documentation pages"
    for link in local:
        assert (ROOT / link).exists(), link
