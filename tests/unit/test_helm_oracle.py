"""The Helm values engine checked against real Helm.

helm-python-sdk (the ``helm`` extra) runs Helm's own Go SDK; version 0.2.2 is Helm SDK
v4.2.3. It exposes Helm's ``--set``, ``--set-string``, ``--set-json``, ``--set-literal``
and ``--set-file`` parsers (each into an empty map), its reading of one values document
(``values_from_yaml``: Helm's ``ReadValues``) and its coalescing of user values with a
chart's defaults (``Chart.merge_values``: Helm's ``CoalesceValues``). Each test computes
a result with our engine and with Helm and asserts that they agree, or that both refuse
the input (the messages differ: ours say what is wrong in our words).
``doc/helm-overrides.md`` lists what was checked and where we differ on purpose.

Values come back from Go as JSON: Python reads Go's ``1`` as an int and ``1.5`` as a
float, whether Go held a float64 (values files, ``--set-json``) or an int64 (``--set``).
Our engine holds numbers as Go prints them (:mod:`dcmanager.helm.numbers`), so both sides
are compared as canonical JSON text, which also keeps types apart (``True == 1`` in
Python, not in JSON).
"""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dcmanager.helm import maps
from dcmanager.helm import strvals
from dcmanager.helm import values
from dcmanager.helm import yamlio
from dcmanager.helm.strvals import ValuesError
from tests import apps

helm = pytest.importorskip("helm_python")

REFUSED = "<refused>"


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def _into_new(parse: Callable[[str, dict[str, Any]], None]) -> Callable[[str], dict[str, Any]]:
    def run(text: str) -> dict[str, Any]:
        data: dict[str, Any] = {}
        parse(text, data)
        return data

    return run


OURS: dict[str, Callable[[str], dict[str, Any]]] = {
    "set": _into_new(strvals.parse_set),
    "set_string": _into_new(strvals.parse_set_string),
    "set_json": _into_new(strvals.parse_set_json),
    "set_literal": _into_new(strvals.parse_set_literal),
    "file": yamlio.load_values,
}
HELM: dict[str, Callable[[str], dict[str, Any]]] = {
    "set": helm.parse_set_string,  # the SDK's name for --set
    "set_string": helm.parse_set_string_values,
    "set_json": helm.parse_set_json,
    "set_literal": helm.parse_set_literal,
    "file": helm.values_from_yaml,
}


def ours(kind: str, text: str) -> str:
    """Our result as canonical JSON, or :data:`REFUSED`. Any other exception fails."""
    try:
        return canonical(OURS[kind](text))
    except ValuesError:
        return REFUSED


def helms(kind: str, text: str) -> str:
    try:
        return canonical(HELM[kind](text))
    except helm.HelmError:
        return REFUSED


def chart(defaults: dict[str, Any], templates: dict[str, str] | None = None) -> Any:
    """A chart named ``oracle`` with ``defaults`` as its values.yaml, loaded by Helm."""
    files = {
        "Chart.yaml": b"apiVersion: v2\nname: oracle\nversion: 0.1.0\n",
        "values.yaml": json.dumps(defaults).encode(),  # JSON is YAML
    }
    files.update({path: text.encode() for path, text in (templates or {}).items()})
    return helm.Chart.load_archive(apps.packed(files, top="oracle"))


def helm_coalesce(defaults: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    with chart(defaults) as loaded:
        return loaded.merge_values(user)


# The cases doc/helm-overrides.md once listed as "not checked against Helm", by kind.
DOC_CASES = [
    # An unterminated index ends quietly, in --set-literal as in --set.
    ("set_literal", "a[0"),
    ("set", "a[0"),
    ("set", "a[0]=1,b[0"),
    # A null map key is refused.
    ("file", "~: x"),
    ("file", "null: x"),
    # A float map key is named as Go formats a 32-bit float.
    ("file", "1.5: a"),
    ("file", "0.1: a"),
    ("file", "100000.5: a"),
    ("file", "1e6: a"),
    ("file", "1e-5: a"),
    ("file", "1e39: a"),
    ("file", "-1e300: a"),
    ("file", ".inf: a"),
    # An explicit !!int, !!float, !!bool or !!null must be of its kind.
    ("file", "a: !!int 1:20"),
    ("file", "a: !!int abc"),
    ("file", "a: !!int 1.5"),
    ("file", "a: !!float abc"),
    ("file", "a: !!bool foo"),
    ("file", "a: !!null x"),
    ("file", "a: !!int 0x10"),
    ("file", "a: !!float 1"),
    ("file", "a: !!bool yes"),
    ("file", "a: !!null ~"),
    # .inf and .nan are refused (Helm fails converting them to JSON).
    ("file", "a: .inf"),
    ("file", "a: -.Inf"),
    ("file", "a: .NaN"),
    # Very large and very small floats (their spelling: test_float_spelling_reads_back).
    ("file", "a: 1e21"),
    ("file", "a: 1e-7"),
    ("file", "a: 1.5e300"),
    # A float that starts with ".": Go's ParseFloat allows "_" between digits.
    ("file", "a: .5_5"),
    ("file", "a: -.5_5"),
    ("file", "a: .5e1_0"),
    ("file", "a: .5__5"),
    ("file", "a: ._5"),
    ("file", "a: .5_"),
    ("file", "a: .5e400"),
    ("file", "a: .5e-400"),
    ("file", ".5_5: a"),
]

# What the engine's own tables (test_helm_values.py) cover, a sample of each kind.
SAMPLE_CASES = [
    ("set", "a.b=c,d=e"),
    ("set", " a = b "),
    ("set", "=b"),
    ("set", "a=b=c"),
    ("set", r"a\,b=c,d=b\,c\\"),
    ("set", "a=b\\"),
    ("set", "a[2]=x,b[+1]=y"),
    ("set", "a[1][1]=x"),
    ("set", "list[1].x=1,list[1].y=2"),
    ("set", "a={1,2,true,null},b={}"),
    ("set", "a={b,c}d=e"),
    ("set", "a=tRuE,b=NULL,c=-0,d=007,e=1.5,f=1e3,g=falſe,h=１"),
    ("set", "a=9223372036854775807,b=-9223372036854775808,c=9223372036854775808"),
    ("set", "a" + ".b" * 30 + "=1"),
    ("set", "a" + ".b" * 31 + "=1"),
    ("set", "a,b=c"),
    ("set", "a.=b"),
    ("set", "a=2,a.b=1"),
    ("set", "a[0]=1,a[0][0]=2"),
    ("set", "a[0]x=y"),
    ("set", "a[ 1]=1"),
    ("set", "a[-1]=1"),
    ("set", "a[65537]=1"),
    ("set", "a={b,c"),
    ("set_string", "a=1,b=true,c=null,d={1,true}"),
    ("set_string", "a.b=1,c[0]=2"),
    ("set_string", "a"),
    ("set_json", 'a={"b":1},c=[1,2,3]'),
    ("set_json", "a=,b=  "),
    ("set_json", "a=1.0,b=1.5,c=12345678901234567891"),
    ("set_json", "a=1 , b=2"),
    ("set_json", 'a.b[1]={"c":[true]}'),
    ("set_json", 'a="\\ud800"'),
    ("set_json", "a=NaN"),
    ("set_json", "a=1e400"),
    ("set_json", "a=1.x=2"),
    ("set_json", 'a={"b":'),
    ("set_literal", "a=b,c=d"),
    ("set_literal", r"a\b=\,x\\"),
    ("set_literal", "a[0].b=x,y"),
    ("set_literal", "a={b,c}"),
    ("set_literal", "a.=x"),
    ("file", "a: y\nb: yEs\nc: off\nd: NO"),
    ("file", "a: 0o17\nb: 017\nc: 0x1F\nd: 0b11\ne: 08"),
    ("file", "a: 1e3\nb: 1.0\nc: 1_000\nd: .5\ne: +7"),
    ("file", "a: 1:20\nb: 2001-12-14\nc: 1e400\nd: 0x"),
    ("file", "a: 12345678901234567891\nb: 9007199254740993"),
    ("file", "1: a\ntrue: b\nyes: c\n0x10: d\n9007199254740993: e"),
    ("file", "b: &x {c: 1}\nd:\n  <<: *x\n  e: 2\nf: [*x]"),
    ("file", "a: !!str yes\nb: '1'\nc:\nd: ~"),
    ("file", "a: 1\na: 2"),
    ("file", ""),
    ("file", "~"),
    ("file", "- 1"),
    ("file", "x"),
    ("file", "a: ["),
    ("file", "a: *nothing"),
    ("file", "? [a]\n: b"),
]


def _case_id(case: tuple[str, str]) -> str:
    return f"{case[0]}:{case[1]!r}"


@pytest.mark.parametrize("case", DOC_CASES + SAMPLE_CASES, ids=_case_id)
def test_agrees_with_helm(case):
    kind, text = case
    assert ours(kind, text) == helms(kind, text)


def test_set_file_agrees_with_helm(tmp_path):
    path = tmp_path / "value.txt"
    path.write_text("line one\nline, two\n")
    expression = f"a={path},b.c[1]={path}"
    ours_result: dict[str, Any] = {}
    strvals.parse_set_file(expression, ours_result, lambda name: Path(name).read_text())
    assert canonical(ours_result) == canonical(helm.parse_set_file(expression))


@pytest.mark.parametrize(
    "text", ["a: 1\n---\nb: 2\n---\na: 3", "a: {x: 1}\n---\na: {z: 2}\n", "---\n---\n"]
)
def test_each_document_reads_as_in_helm(text):
    """``helm -f`` reads every document of a file and merges them (Helm's
    ``LoadValues``, not exposed by the SDK); ``values_from_yaml`` reads only the first.
    So Helm reads each document here, and our ``merge_maps`` merges them."""
    expected: dict[str, Any] = {}
    for document in re.split(r"^---$", text, flags=re.MULTILINE):
        expected = maps.merge_maps(expected, helm.values_from_yaml(document))
    assert canonical(yamlio.load_values(text)) == canonical(expected)


@pytest.mark.parametrize("number", [1e21, 1e-07, 5e-324, 1.5e300, -2.5e-10, 1.7976931348623157e308])
def test_float_spelling_reads_back(number):
    """Helm writes ``1e+21``, we write ``1.0e+21`` (PyYAML's spelling): each reads the
    other's text as the same number."""
    with chart({}, {"templates/values.yaml": "{{ toYaml .Values }}\n"}) as loaded:
        helm_text = loaded.render({"a": number})["oracle/templates/values.yaml"]
    assert yamlio.load_values(helm_text) == {"a": number}
    assert helm.values_from_yaml(yamlio.dump({"a": number})) == {"a": number}


# Coalescing with chart defaults: (defaults, user).
COALESCE_CASES = [
    ({"a": 1}, {}),
    ({"a": 1}, {"a": 2}),
    ({"a": 1}, {"a": None}),
    ({"a": {"x": 1}}, {"a": None}),
    ({"a": {"x": 1, "y": 2}}, {"a": {"y": None}}),
    ({"a": {"b": {"c": 1}}}, {"a": {"b": None}}),
    ({}, {"a": None}),
    ({"a": {"x": 1}}, {"a": 5}),
    ({"a": 5}, {"a": {"x": 1}}),
    ({"a": {"x": 1}}, {"a": {}}),
    ({"a": {"x": {"y": 1}}}, {"a": {"x": {"z": 2}}}),
    ({"a": [1, 2]}, {"a": [3]}),
    ({"a": {"x": {"y": 1}}}, {"a": {"x": 3}}),
    ({"a": {"x": 3}}, {"a": {"x": {"y": 1}}}),
    ({"a": [1, {"b": None}]}, {"c": [None, {"d": None}]}),
    # The doc's case: a nested null for a key the defaults lack stays.
    ({"a": {"x": 1}}, {"a": {"new": None}}),
    ({"a": {"x": 1}}, {"a": {"x": None, "new": None}}),
    ({"a": {"x": {"y": 1}}}, {"a": {"x": {"y": None, "z": None}}}),
    ({"a": {"x": 1}}, {"a": {"new": {"deep": None}}}),
    ({"a": None}, {"a": None}),
    ({"a": None}, {"a": {"x": None}}),
    ({"a": 1}, {"a": {"x": None}}),
]


@pytest.mark.parametrize(("defaults", "user"), COALESCE_CASES)
def test_coalesce_agrees_with_helm(defaults, user):
    result, _ = values.coalesce(defaults, user)
    assert canonical(result) == canonical(helm_coalesce(defaults, user))


# Nulls of the chart's own defaults: (defaults, user, ours, Helm 4.2.3's). Helm 4.2.0 to
# 4.2.3 drop them, a regression from 4.1 reported as helm/helm#32530; we keep them, and
# a Helm that keeps them again agrees with us.
DEFAULT_NULLS = [
    ({"a": None}, {}, {"a": None}, {}),
    ({"a": {"x": None}}, {"b": 1}, {"a": {"x": None}, "b": 1}, {"a": {}, "b": 1}),
    ({"a": {"x": None}}, {"a": {"y": 1}}, {"a": {"x": None, "y": 1}}, {"a": {"y": 1}}),
    ({"a": {"x": None}}, {"a": {"x": None}}, {"a": {"x": None}}, {"a": {"x": None}}),
]


@pytest.mark.parametrize(("defaults", "user", "expected", "helm_4_2"), DEFAULT_NULLS)
def test_coalesce_keeps_the_defaults_own_nulls(defaults, user, expected, helm_4_2):
    result, _ = values.coalesce(defaults, user)
    assert result == expected
    assert canonical(helm_coalesce(defaults, user)) in (canonical(expected), canonical(helm_4_2))


# Tags JSON has no type for, or that Go's YAML ignores: Helm reads them (!!binary as the
# decoded text, !!timestamp as the text itself, !!set as a map of nulls, a tag of its own
# as nothing); we refuse them.
STRICTER_CASES = [
    "a: !!binary aGk=",
    "a: !!timestamp 2001-12-14",
    "a: !!set {x, z}",
    "a: !!omap [{x: 1}]",
    "a: !foo bar",
]


@pytest.mark.parametrize("text", STRICTER_CASES)
def test_tags_helm_reads_are_refused(text):
    assert ours("file", text) == REFUSED
    assert helms("file", text) != REFUSED
