"""Structured config diff (agentver.diff) and its renderers (agentver.cli.render_diff)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style

from agentver.cli.render_diff import (
    WORD_ADDED_STYLE,
    WORD_REMOVED_STYLE,
    code_span,
    fence_for,
    render_markdown,
    render_text,
    render_text_many,
)
from agentver.diff import MISSING, Change, ConfigDiff, DiffSide, compute_diff, format_field
from agentver.hashing import config_hash
from agentver.models import AgentConfig

PROMPT_V3 = (
    "You are the support agent for Acme.\n"
    "\n"
    "Be concise and friendly.\n"
    "\n"
    "You can answer billing questions and look up invoices.\n"
    "Never share card numbers.\n"
    "\n"
    "Escalate angry customers to a human.\n"
)
PROMPT_V5 = (
    "You are the support agent for Acme.\n"
    "\n"
    "Be concise and friendly.\n"
    "\n"
    "Escalate angry customers to a human.\n"
)


def make(**overrides: Any) -> AgentConfig:
    base: dict[str, Any] = {
        "model": "gpt-4o",
        "system_prompt": PROMPT_V3,
        "temperature": 0.7,
        "max_tokens": 4096,
        "tools": ("search_kb", "create_ticket"),
        "guardrails": {"pii_redaction": True},
        "params": {},
    }
    base.update(overrides)
    return AgentConfig(**base)


def diff_of(old: AgentConfig, new: AgentConfig, agent: str = "support") -> ConfigDiff:
    return compute_diff(agent, DiffSide.of("v3", 3, old), DiffSide.of("v5", 5, new))


def as_json(diff: ConfigDiff) -> list[dict[str, Any]]:
    # Through json so the test sees exactly what `diff --json` prints.
    changes: list[dict[str, Any]] = json.loads(json.dumps(diff.to_json()))["changes"]
    return changes


# -- compute_diff ----------------------------------------------------------------------


def test_removed_prompt_paragraph_shows_as_removed_lines() -> None:
    diff = diff_of(make(), make(system_prompt=PROMPT_V5))
    lines = diff.system_prompt_diff.splitlines()
    assert lines[0] == "--- a/support.yaml (v3)"
    assert lines[1] == "+++ b/support.yaml (v5)"
    assert lines[2].startswith("@@ ")
    removed = [line for line in lines[2:] if line.startswith("-")]
    added = [line for line in lines[2:] if line.startswith("+")]
    assert removed == [
        "-You can answer billing questions and look up invoices.",
        "-Never share card numbers.",
        "-",
    ]
    assert added == []
    assert as_json(diff) == [
        {"field": "system_prompt", "kind": "changed", "old": PROMPT_V3, "new": PROMPT_V5}
    ]
    assert not diff.identical


def test_prompt_diff_has_three_lines_of_context_and_marks_missing_newline() -> None:
    old = "".join(f"line {n}\n" for n in range(20))
    new = old.replace("line 10\n", "line ten\n").rstrip("\n")
    text = diff_of(make(system_prompt=old), make(system_prompt=new)).system_prompt_diff
    context = [line for line in text.splitlines() if line.startswith(" ")]
    assert context[:3] == [" line 7", " line 8", " line 9"]
    assert "-line 10\n+line ten\n" in text
    assert text.endswith("+line 19\n\\ No newline at end of file\n")


def test_prompt_lines_split_only_on_newline() -> None:
    old = "a\u2028b\rc\n"
    new = "a\u2028b\rd\n"
    text = diff_of(make(system_prompt=old), make(system_prompt=new)).system_prompt_diff
    assert "-a\u2028b\rc\n+a\u2028b\rd\n" in text


def test_tools_are_set_changes() -> None:
    diff = diff_of(make(), make(tools=("web_search", "search_kb", "escalate")))
    assert as_json(diff) == [
        {"field": "tools", "kind": "removed", "old": "create_ticket"},
        {"field": "tools", "kind": "added", "new": "escalate"},
        {"field": "tools", "kind": "added", "new": "web_search"},
    ]


def test_reordered_tools_are_no_change() -> None:
    diff = diff_of(make(), make(tools=("create_ticket", "search_kb")))
    assert diff.changes == ()
    assert diff.identical
    assert diff.system_prompt_diff == ""


def test_nested_guardrails_and_params_use_dotted_fields() -> None:
    old = make(
        guardrails={"pii_redaction": True, "topics": {"blocked": ["legal"], "strict": False}},
        params={"response_format": {"type": "json_object"}, "top_p": 0.9},
    )
    new = make(
        guardrails={"topics": {"blocked": ["legal", "medical"], "strict": False}, "max_turns": 20},
        params={"response_format": {"type": "text", "schema": {"x": 1}}},
    )
    assert as_json(diff_of(old, new)) == [
        {"field": "guardrails.max_turns", "kind": "added", "new": 20},
        {"field": "guardrails.pii_redaction", "kind": "removed", "old": True},
        {
            "field": "guardrails.topics.blocked",
            "kind": "changed",
            "old": ["legal"],
            "new": ["legal", "medical"],
        },
        {"field": "params.response_format.schema", "kind": "added", "new": {"x": 1}},
        {
            "field": "params.response_format.type",
            "kind": "changed",
            "old": "json_object",
            "new": "text",
        },
        {"field": "params.top_p", "kind": "removed", "old": 0.9},
    ]


def test_whole_dict_replaced_is_still_reported_per_key() -> None:
    # deepdiff would call this one "values_changed" of the whole dict without
    # threshold_to_diff_deeper=0.
    diff = diff_of(make(guardrails={"a": 1}), make(guardrails={"b": 2}))
    assert as_json(diff) == [
        {"field": "guardrails.a", "kind": "removed", "old": 1},
        {"field": "guardrails.b", "kind": "added", "new": 2},
    ]


def test_type_change_and_none_values_are_changes() -> None:
    diff = diff_of(
        make(guardrails={"limit": {"x": 1}, "flag": True, "gone": None}),
        make(guardrails={"limit": 5, "flag": 1}),
    )
    assert as_json(diff) == [
        {"field": "guardrails.flag", "kind": "changed", "old": True, "new": 1},
        {"field": "guardrails.gone", "kind": "removed", "old": None},
        {"field": "guardrails.limit", "kind": "changed", "old": {"x": 1}, "new": 5},
    ]


def test_awkward_keys_have_an_unambiguous_rendering() -> None:
    assert format_field(["guardrails", "pii_redaction"]) == "guardrails.pii_redaction"
    assert format_field(["params", "a.b", "c"]) == 'params["a.b"].c'
    assert format_field(["params", 1]) == "params[1]"
    assert format_field(["params", "1"]) == "params.1"
    assert format_field(["params", ""]) == 'params[""]'
    assert format_field(["params", 'q"[x]']) == 'params["q\\"[x]"]'
    diff = diff_of(make(params={"a.b": {"c": 1}}), make(params={"a.b": {"c": 2}}))
    assert as_json(diff) == [{"field": 'params["a.b"].c', "kind": "changed", "old": 1, "new": 2}]


def test_temperature_and_model_changes() -> None:
    diff = diff_of(make(), make(model="gpt-4.1", temperature=0.3, max_tokens=1024))
    assert as_json(diff) == [
        {"field": "model", "kind": "changed", "old": "gpt-4o", "new": "gpt-4.1"},
        {"field": "temperature", "kind": "changed", "old": 0.7, "new": 0.3},
        {"field": "max_tokens", "kind": "changed", "old": 4096, "new": 1024},
    ]


def test_temperature_one_and_one_point_zero_are_equal() -> None:
    diff = diff_of(make(temperature=1), make(temperature=1.0))
    assert diff.changes == ()
    assert diff.identical


def test_fixed_field_order() -> None:
    old = make(description="old", params={"top_p": 1.0})
    new = make(
        description="new",
        model="m2",
        system_prompt="x",
        temperature=0.1,
        max_tokens=7,
        tools=("zeta", "alpha"),
        guardrails={},
        params={},
    )
    fields = [change.field for change in diff_of(old, new).changes]
    assert fields == [
        "model",
        "system_prompt",
        "temperature",
        "max_tokens",
        "tools",
        "tools",
        "tools",
        "tools",
        "guardrails.pii_redaction",
        "params.top_p",
        "description",
    ]
    tools = [c.new if c.kind == "added" else c.old for c in diff_of(old, new).changes[4:8]]
    assert tools == ["alpha", "create_ticket", "search_kb", "zeta"]


def test_description_is_a_change_but_not_hashed() -> None:
    diff = diff_of(make(description="Support"), make(description="Customer support"))
    assert diff.identical
    assert diff.has_changes
    assert as_json(diff) == [
        {"field": "description", "kind": "changed", "old": "Support", "new": "Customer support"}
    ]
    added = diff_of(make(), make(description="d"))
    assert as_json(added) == [{"field": "description", "kind": "added", "new": "d"}]


def test_identical_configs() -> None:
    diff = diff_of(make(), make())
    assert diff.identical
    assert not diff.has_changes
    assert diff.changes == ()
    assert diff.system_prompt_diff == ""
    assert diff.to_json()["changes"] == []


def test_json_shape_is_exactly_the_contract() -> None:
    old = make()
    new = make(temperature=0.2, tools=("search_kb",), system_prompt=PROMPT_V5)
    diff = compute_diff("support", DiffSide.of("v3", 3, old), DiffSide.of("worktree", None, new))
    document = json.loads(json.dumps(diff.to_json()))
    assert set(document) == {"agent", "from", "to", "changes", "system_prompt_diff"}
    assert document["agent"] == "support"
    assert document["from"] == {"version": 3, "config_hash": config_hash(old)}
    assert document["to"] == {"version": None, "config_hash": config_hash(new)}
    assert isinstance(document["system_prompt_diff"], str)
    assert document["system_prompt_diff"].startswith("--- a/support.yaml (v3)\n")
    for change in document["changes"]:
        keys = set(change)
        assert change["kind"] in {"added", "removed", "changed"}
        expected = {
            "added": {"field", "kind", "new"},
            "removed": {"field", "kind", "old"},
            "changed": {"field", "kind", "old", "new"},
        }[change["kind"]]
        assert keys == expected, change
    assert {"field": "tools", "kind": "removed", "old": "create_ticket"} in document["changes"]


def test_change_json_omits_missing_sides() -> None:
    assert Change("tools", "added", new="x").to_json() == {
        "field": "tools",
        "kind": "added",
        "new": "x",
    }
    assert Change("g.a", "removed", old=None).to_json() == {
        "field": "g.a",
        "kind": "removed",
        "old": None,
    }
    assert Change("tools", "added", new="x").old is MISSING


# -- hypothesis ------------------------------------------------------------------------

_keys = st.text(alphabet='ab.[]"_1', min_size=0, max_size=4)
_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.floats() | st.text(max_size=5)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=8,
)
_tool_names = st.sets(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=6)
_configs = st.builds(
    AgentConfig,
    model=st.sampled_from(["gpt-4o", "gpt-4.1"]),
    system_prompt=st.text(alphabet="ab \n\r", max_size=30),
    temperature=st.sampled_from([0, 0.5, 0.7, 1, 1.0, 2]),
    max_tokens=st.integers(1, 3),
    tools=_tool_names.map(lambda names: tuple(sorted(names))),
    guardrails=st.dictionaries(_keys, _json, max_size=3),
    params=st.dictionaries(_keys, _json, max_size=3),
    description=st.none() | st.text(max_size=5),
)


@settings(max_examples=200, deadline=None)
@given(_configs)
def test_property_diff_with_itself_is_empty(config: AgentConfig) -> None:
    diff = diff_of(config, config)
    assert diff.changes == ()
    assert diff.system_prompt_diff == ""
    assert diff.identical


@settings(max_examples=200, deadline=None)
@given(_tool_names, _tool_names, st.randoms())
def test_property_tool_changes_are_the_symmetric_difference(
    old_tools: set[str], new_tools: set[str], random: Any
) -> None:
    new_order = sorted(new_tools)
    random.shuffle(new_order)  # order never matters
    diff = diff_of(make(tools=tuple(sorted(old_tools))), make(tools=tuple(new_order)))
    assert all(change.field == "tools" for change in diff.changes)
    removed = {c.old for c in diff.changes if c.kind == "removed"}
    added = {c.new for c in diff.changes if c.kind == "added"}
    assert removed == old_tools - new_tools
    assert added == new_tools - old_tools
    assert len(diff.changes) == len(old_tools ^ new_tools)
    names = [c.old if c.kind == "removed" else c.new for c in diff.changes]
    assert names == sorted(names)


@settings(max_examples=300, deadline=None)
@given(_configs, _configs)
def test_property_a_hash_difference_always_shows_a_change(a: AgentConfig, b: AgentConfig) -> None:
    diff = diff_of(a, b)
    hashed_changes = [c for c in diff.changes if c.field != "description"]
    assert bool(hashed_changes) == (not diff.identical)
    assert (diff.system_prompt_diff == "") == (a.system_prompt == b.system_prompt)
    json.dumps(diff.to_json())  # always serializable


# -- text rendering --------------------------------------------------------------------


def _colour_console() -> Console:
    # no_color=False explicitly: the shared conftest exports NO_COLOR=1.
    return Console(
        record=True, force_terminal=True, color_system="truecolor", no_color=False, width=120
    )


def _plain_console() -> Console:
    return Console(record=True, color_system=None, width=120)


def test_text_rendering_highlights_changed_words_in_colour() -> None:
    old = make(system_prompt="Always answer billing questions politely.\n")
    new = make(system_prompt="Always refuse billing questions politely.\n", temperature=0.3)
    console = _colour_console()
    render_text(diff_of(old, new), console)
    ansi = console.export_text(styles=True, clear=False)
    # The exact SGR sequences rich emits for the word styles wrap the changed words only.
    assert console.color_system == "truecolor"
    removed = Style.parse(WORD_REMOVED_STYLE).render("answer", color_system=ColorSystem.TRUECOLOR)
    added = Style.parse(WORD_ADDED_STYLE).render("refuse", color_system=ColorSystem.TRUECOLOR)
    assert removed.startswith("\x1b[") and removed.endswith("answer\x1b[0m")
    assert removed in ansi
    assert added in ansi
    unchanged = Style.parse(WORD_REMOVED_STYLE).render(
        "billing", color_system=ColorSystem.TRUECOLOR
    )
    assert unchanged not in ansi  # unchanged words are not highlighted
    plain = console.export_text()
    assert "support: v3 (" in plain
    assert "~ temperature: 0.7 -> 0.3" in plain
    assert "-Always answer billing questions politely." in plain


def test_text_rendering_without_colour_is_a_plain_unified_diff() -> None:
    diff = diff_of(
        make(),
        make(
            system_prompt=PROMPT_V5.replace("concise", "brief"),
            tools=("search_kb", "web_search"),
            temperature=0.3,
        ),
    )
    console = _plain_console()
    render_text(diff, console)
    out = console.export_text(clear=False)
    # Word-level highlights are for colour terminals only.
    styled = console.export_text(styles=True)
    for word_style in (WORD_REMOVED_STYLE, WORD_ADDED_STYLE):
        sgr = Style.parse(word_style).render("x", color_system=ColorSystem.TRUECOLOR)
        assert sgr.startswith("\x1b[")
        assert sgr[: sgr.index("x")] not in styled
    lines = out.splitlines()
    assert (
        lines[0]
        == f"support: v3 ({diff.from_side.config_hash[:8]}) -> v5 ({diff.to_side.config_hash[:8]})"
    )
    assert "~ temperature: 0.7 -> 0.3" in lines
    assert "+ tools: web_search" in lines
    assert "- tools: create_ticket" in lines
    assert "~ system_prompt: changed (-4 +1 lines, see below)" in lines
    assert "-Be concise and friendly." in lines
    assert "+Be brief and friendly." in lines
    assert "-You can answer billing questions and look up invoices." in lines
    assert "-Never share card numbers." in lines
    # The whole unified diff is printed verbatim.
    assert out.endswith(diff.system_prompt_diff)


def test_text_rendering_identical_says_no_changes() -> None:
    console = _plain_console()
    render_text(diff_of(make(), make(tools=("create_ticket", "search_kb"))), console)
    assert console.export_text().splitlines()[1:] == ["no changes"]


def test_text_rendering_does_not_interpret_markup_in_prompts() -> None:
    console = _colour_console()
    render_text(
        diff_of(make(system_prompt="[bold]x[/]\n"), make(system_prompt="[red]y\n")), console
    )
    plain = console.export_text()
    assert "-[bold]x[/]" in plain
    assert "+[red]y" in plain


def test_text_many() -> None:
    console = _plain_console()
    render_text_many([], console)
    assert console.export_text() == "No agent configuration changes.\n"
    console = _plain_console()
    first = diff_of(make(), make(temperature=0.1), agent="support")
    second = diff_of(make(), make(system_prompt=PROMPT_V5), agent="billing")
    render_text_many([first, second], console)
    out = console.export_text()
    assert out.index("support: v3") < out.index("billing: v3")
    assert out.splitlines()[-1] == "2 agents changed: 2 field changes, system prompt changed in 1."


# -- markdown --------------------------------------------------------------------------


def _gfm_cells(row: str) -> list[str]:
    """Split a table row the way cmark-gfm does: a backslash escapes the next character."""
    assert row.startswith("|") and row.endswith("|")
    cells: list[str] = []
    current = ""
    index = 1
    while index < len(row) - 1:
        char = row[index]
        if char == "\\" and index + 1 < len(row) - 1:
            current += row[index : index + 2]
            index += 2
            continue
        if char == "|":
            cells.append(current)
            current = ""
        else:
            current += char
        index += 1
    cells.append(current)
    return cells


def test_markdown_empty() -> None:
    assert render_markdown([]) == "No agent configuration changes.\n"


def test_markdown_table_and_prompt_diff() -> None:
    diff = diff_of(make(), make(system_prompt=PROMPT_V5, temperature=0.3, tools=("search_kb",)))
    markdown = render_markdown([diff])
    assert markdown.startswith("### support: `v3` → `v5`\n")
    assert "| `temperature` | changed | `0.7` | `0.3` |" in markdown
    assert "| `tools` | removed | `create_ticket` |  |" in markdown
    assert "```diff\n--- a/support.yaml (v3)\n" in markdown
    assert "-Never share card numbers.\n" in markdown
    assert " Escalate angry customers to a human.\n```\n" in markdown
    assert markdown.rstrip("\n").splitlines()[-1] == (
        "**Summary:** 1 agent changed: 3 field changes, system prompt changed in 1."
    )


def test_markdown_fence_cannot_be_broken_by_the_prompt() -> None:
    evil_old = "Reply in markdown.\n```\n# injected heading\n````\n"
    evil_new = "Reply in markdown.\n``````\nplain\n"
    markdown = render_markdown(
        [diff_of(make(system_prompt=evil_old), make(system_prompt=evil_new))]
    )
    lines = markdown.splitlines()
    opening = next(
        index for index, line in enumerate(lines) if line.endswith("diff") and line.startswith("`")
    )
    fence = lines[opening][: -len("diff")]
    assert set(fence) == {"`"}
    assert len(fence) == 7  # longer than the longest run (6) in the prompt
    closing = lines.index(fence, opening + 1)
    body = lines[opening + 1 : closing]
    # Nothing inside the block can close it: no line is a backtick run >= the fence.
    for line in body:
        stripped = line.strip()
        assert not (stripped.startswith(fence) and set(stripped) == {"`"})
    assert "+``````" in body
    assert "-# injected heading" in body
    assert fence_for("no ticks") == "```"


def test_markdown_table_cells_escape_pipes_and_backticks() -> None:
    old = make(params={"stop": "a|b", "sep": "x`y", "path": "C:\\|"})
    new = make(params={"stop": "c||d", "sep": "``", "path": "z"})
    markdown = render_markdown([diff_of(old, new)])
    rows = [line for line in markdown.splitlines() if line.startswith("| `params")]
    assert len(rows) == 3
    for row in rows:
        assert len(_gfm_cells(row)) == 4, row
    sep_row = next(row for row in rows if "params.sep" in row)
    assert "``x`y``" in sep_row
    assert "``` `` ```" in sep_row
    assert code_span("a`b") == "``a`b``"
    assert code_span(" x ") == "`  x  `"
    assert code_span("   ") == "`   `"
    assert code_span("`") == "`` ` ``"
    assert code_span("plain") == "`plain`"


def test_markdown_escapes_agent_and_labels() -> None:
    diff = compute_diff(
        "my_agent",
        DiffSide.of("@main~1", None, make()),
        DiffSide.of("worktree", None, make(temperature=0.1)),
    )
    heading = render_markdown([diff]).splitlines()[0]
    assert heading == "### my\\_agent: `@main~1` → `worktree`"


def test_nan_equals_nan_and_negative_zero_is_a_change() -> None:
    # Both hash the same way json.dumps writes them: NaN == NaN; -0.0 != 0.0.
    same = diff_of(make(params={"x": float("nan")}), make(params={"x": float("nan")}))
    assert same.changes == ()
    zero = diff_of(make(params={"x": 0.0}), make(params={"x": -0.0}))
    assert not zero.identical
    assert [change.field for change in zero.changes] == ["params"]
