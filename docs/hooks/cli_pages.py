"""The command-line reference, written from ``jaxgossip.cli.main.build_parser()``.

Each command gets its usage line, its description and a table of every
argument with the help text ``--help`` prints (defaults included), so the page
says exactly what the installed parser accepts.
"""

from __future__ import annotations

import argparse
import html
import importlib
import re

# jaxgossip.cli.main the module (the package exports main, the function, by that name).
cli_main = importlib.import_module("jaxgossip.cli.main")

# Commands that read a file whose keys have a page of their own.
FILE_PAGES = {
    "run": ("experiment_files.md", "experiment files"),
    "tradeoff": ("tradeoff_files.md", "trade-off files"),
}


def render() -> str:
    parser = cli_main.build_parser()
    out = [rst_to_markdown(cli_main.__doc__.split("\n\n", 1)[1]), "", "## Commands", ""]
    out += ["| command | what it does |", "|---|---|"]
    for command in cli_main.COMMANDS:
        out.append(
            f"| [`jaxgossip {command.NAME}`](#{anchor(command.NAME)}) | {cell(command.HELP)} |"
        )
    for command in cli_main.COMMANDS:
        out += ["", *command_section(command, parser.commands[command.NAME])]
    return "\n".join(out) + "\n"


def anchor(name: str) -> str:
    return f"jaxgossip-{name}"


def command_section(command, sub: argparse.ArgumentParser) -> list[str]:
    lines = [f"## `jaxgossip {command.NAME}` {{#{anchor(command.NAME)}}}", ""]
    lines += ["```text", sub.format_usage().strip(), "```", ""]
    description = sub.description or command.HELP
    schema = re.search(r"^Schema\b[\s\S]*?::$", description, re.MULTILINE)
    if schema:  # the file format has its own page
        description = description[: schema.start()]
    lines += [rst_to_markdown(description), ""]
    if command.NAME in FILE_PAGES:
        page, title = FILE_PAGES[command.NAME]
        lines += [f"Every key of the file, with its type and default: [{title}]({page}).", ""]
    formatter = sub._get_formatter()
    lines += ["| argument | meaning |", "|---|---|"]
    for action in sub._actions:
        invocation = formatter._format_action_invocation(action)
        help_text = formatter._expand_help(action) if action.help else ""
        required = " (required)" if action.required and action.option_strings else ""
        lines.append(f"| `{invocation}` | {cell(help_text)}{required} |")
    return lines


def cell(text: str) -> str:
    """Text for a table cell: one line, ``|`` escaped, HTML escaped outside code."""
    return escape(" ".join(text.split())).replace("|", "\\|")


def escape(text: str) -> str:
    """HTML-escapes text outside `code` spans (``<graph>.png`` is no tag)."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else html.escape(p, quote=False) for p in parts)


def rst_to_markdown(text: str) -> str:
    """A docstring's paragraphs as Markdown: ``x`` becomes `x`, ``::`` blocks code blocks."""
    out, literal = [], False
    for paragraph in re.split(r"\n\s*\n", text.strip("\n")):
        if literal and paragraph.startswith((" ", "\t")):
            out.append("```text\n" + _dedent(paragraph) + "\n```")
            continue
        literal = paragraph.rstrip().endswith("::")
        paragraph = " ".join(line.strip() for line in paragraph.splitlines())
        if literal:
            paragraph = paragraph[:-1]  # "text::" introduces the block with "text:"
        out.append(escape(paragraph.replace("``", "`")))
    return "\n\n".join(out)


def _dedent(block: str) -> str:
    lines = block.splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines)
