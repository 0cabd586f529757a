"""The Helm values engine, table by table, from ``reference/helm-values.md``.

Each table row is an input and what Helm makes of it: the resulting map, or the error.
"""

import pytest

from dcmanager.helm import maps
from dcmanager.helm import strvals
from dcmanager.helm import values
from dcmanager.helm import yamlio
from dcmanager.helm.strvals import ValuesError

LONG_KEY_30 = "a" + ".b" * 30
LONG_KEY_31 = "a" + ".b" * 31


def nested(depth: int, leaf):
    value = leaf
    for _ in range(depth):
        value = {"b": value}
    return {"a": value}


# --set: expression -> the map it makes from nothing.
SET_CASES = [
    ("a=b", {"a": "b"}),
    ("a.b=c,d=e", {"a": {"b": "c"}, "d": "e"}),
    (" a = b ", {" a ": " b "}),
    ("=b", {}),
    (".a=b", {}),
    ("a=b,", {"a": "b"}),
    ("", {}),
    ("a=b=c", {"a": "b=c"}),
    ("a=", {"a": ""}),
    ("a=b,a=c", {"a": "c"}),
    ("a.b=1,a=2", {"a": 2}),
    ("a.b=1,a.c=2", {"a": {"b": 1, "c": 2}}),
    ("a.b.c.d=1", {"a": {"b": {"c": {"d": 1}}}}),
    (LONG_KEY_30 + "=1", nested(30, 1)),
    # Escapes.
    (r"a\,b=c", {"a,b": "c"}),
    (r"a\.b=c", {"a.b": "c"}),
    (r"a=b\,c", {"a": "b,c"}),
    (r"a=b\\c", {"a": "b\\c"}),
    (r"a=\y", {"a": "y"}),
    ("a=b\\", {"a": "b"}),
    (r"a\=b=c", {"a=b": "c"}),
    (r"a\[0]=c", {"a[0]": "c"}),
    (r"a={b\,c,d}", {"a": ["b,c", "d"]}),
    (r"a={b\}c}", {"a": ["b}c"]}),
    # Indexes.
    ("a[0]=x", {"a": ["x"]}),
    ("a[2]=x", {"a": [None, None, "x"]}),
    ("a[+1]=x", {"a": [None, "x"]}),
    ("a[01]=x", {"a": [None, "x"]}),
    ("a[0]=x,a[1]=y", {"a": ["x", "y"]}),
    ("a[1]=y,a[0]=x", {"a": ["x", "y"]}),
    ("a[1][1]=x", {"a": [None, [None, "x"]]}),
    ("a[0][0][0]=1", {"a": [[[1]]]}),
    ("list[0].x=1", {"list": [{"x": 1}]}),
    ("list[1].x=1,list[1].y=2", {"list": [None, {"x": 1, "y": 2}]}),
    ("a.b[0]=1", {"a": {"b": [1]}}),
    ("a[0].b[0].c=1", {"a": [{"b": [{"c": 1}]}]}),
    ("a[0]={x,y}", {"a": [["x", "y"]]}),
    ("a[0]=", {"a": [""]}),
    (r"a[\1]=x", {"a": [None, "x"]}),
    ("a[0", {}),
    ("noval[0]", {"noval": []}),
    ("a[1].", {"a": []}),
    ("a[0]=1,b[0", {"a": [1]}),
    ("a.", {}),
    # Lists in braces.
    ("a={b,c}", {"a": ["b", "c"]}),
    ("a={1,2,true,null}", {"a": [1, 2, True, None]}),
    ("a={}", {"a": [""]}),
    ("a={a, b}", {"a": ["a", " b"]}),
    ("a={b,c}d=e", {"a": ["b", "c"], "d": "e"}),
    ("a={b,c},d=e", {"a": ["b", "c"], "d": "e"}),
    ("a={,}", {"a": ["", ""]}),
    ("a=x{b", {"a": "x{b"}),
    ("a.b={1}", {"a": {"b": [1]}}),
    # Typing.
    ("a=true", {"a": True}),
    ("a=TRUE", {"a": True}),
    ("a=tRuE", {"a": True}),
    ("a=false", {"a": False}),
    ("a=False", {"a": False}),
    ("a=null", {"a": None}),
    ("a=NULL", {"a": None}),
    ("a=0", {"a": 0}),
    ("a=1", {"a": 1}),
    ("a=-1", {"a": -1}),
    ("a=+1", {"a": 1}),
    ("a=-0", {"a": 0}),
    ("a=-01", {"a": -1}),
    ("a=9223372036854775807", {"a": 9223372036854775807}),
    ("a=-9223372036854775808", {"a": -9223372036854775808}),
    ("a=9223372036854775808", {"a": "9223372036854775808"}),
    ("a=00", {"a": "00"}),
    ("a=007", {"a": "007"}),
    ("a=01", {"a": "01"}),
    ("a=1.5", {"a": "1.5"}),
    ("a=1e3", {"a": "1e3"}),
    ("a=1.0", {"a": "1.0"}),
    ("a=0x1", {"a": "0x1"}),
    ("a=1_000", {"a": "1_000"}),
    ("a=yes", {"a": "yes"}),
    ("a=on", {"a": "on"}),
    ("a=~", {"a": "~"}),
    ("a= 1", {"a": " 1"}),
    ("a=v1.2.3", {"a": "v1.2.3"}),
    ("a=+", {"a": "+"}),
    ("a=１", {"a": "１"}),
    ("a=falſe", {"a": False}),
    ("a=-0000000000000000000001", {"a": -1}),
    ("a=+09223372036854775807", {"a": 9223372036854775807}),
    ("a=-" + "0" * 5000 + "5", {"a": -5}),
    ("a=" + "1" * 5000, {"a": "1" * 5000}),
    ("a[00000000000000000000001]=x", {"a": [None, "x"]}),
]

# --set: expression -> the error message (without the input-naming prefix).
SET_ERRORS = [
    ("a", 'key "a" has no value'),
    ("a=1,b", 'key "b" has no value'),
    ("a,b=c", 'key "a" has no value (cannot end with ,)'),
    (",a=b", 'key "" has no value (cannot end with ,)'),
    ("a=b,,c=d", 'key "" has no value (cannot end with ,)'),
    ("a.=b", 'key map "a" has no value'),
    ("a..b=c", 'key map "a" has no value'),
    (LONG_KEY_31 + "=1", "nested level is greater than maximum supported nested level of 30"),
    ("a=2,a.b=1", 'key "a" holds a integer, not a map'),
    ("a=x,a[0]=1", 'key "a" holds a string, not a list'),
    ("a[0]=1,a.b=2", 'key "a" holds a list, not a map'),
    ("a.b=1,a[0]=1", 'key "a" holds a map, not a list'),
    ("a=null,a.b=1", 'key "a" holds a null, not a map'),
    ("a[0]=1,a[0][0]=2", "list element 0 holds a integer, not a list"),
    ("a[x]=1", 'error parsing index: "x" is not an integer'),
    ("a[ 1]=1", 'error parsing index: " 1" is not an integer'),
    ("a[]=1", 'error parsing index: "" is not an integer'),
    ("a[1.5]=1", 'error parsing index: "1.5" is not an integer'),
    ("a[99999999999999999999]=1", "is out of range"),
    ("a[-1]=1", "negative -1 index not allowed"),
    ("a[65537]=1", "index of 65537 is greater than maximum supported index of 65536"),
    ("a[0]x=y", 'unexpected data at end of array index: "x"'),
    ("a[0],b=c", 'unexpected data at end of array index: ",b"'),
    ("a[0] =1", 'unexpected data at end of array index: " "'),
    ("a={b,c", "list must terminate with '}'"),
    ("a={", "list must terminate with '}'"),
    ("a=[1,2]", 'key "2]" has no value'),
    ("a=x{b,c}", 'key "c}" has no value'),
]


@pytest.mark.parametrize(("expression", "expected"), SET_CASES)
def test_set(expression, expected):
    data = {}
    strvals.parse_set(expression, data)
    assert data == expected
    assert [type(v) for v in data.values()] == [type(v) for v in expected.values()]


@pytest.mark.parametrize(("expression", "message"), SET_ERRORS)
def test_set_errors(expression, message):
    with pytest.raises(ValuesError) as caught:
        strvals.parse_set(expression, {})
    assert message in str(caught.value)


def test_index_65536_is_allowed():
    data = {}
    strvals.parse_set("a[65536]=x", data)
    assert len(data["a"]) == 65537
    assert data["a"][-1] == "x"
    assert data["a"][0] is None


# --set into existing values: (existing, expression, result).
SET_INTO = [
    ({"a": {"x": 1}}, "a.y=2", {"a": {"x": 1, "y": 2}}),
    ({"a": [1, 2, 3]}, "a[1]=9", {"a": [1, 9, 3]}),
    ({"list": ["foo"]}, "list[3]=bar", {"list": ["foo", None, None, "bar"]}),
    ({"list": ["foo", "x"]}, "list[0].a=1", {"list": [{"a": 1}, "x"]}),
    ({"list": [{"a": 1}]}, "list[0].b=2", {"list": [{"a": 1, "b": 2}]}),
    ({"a": [[1, 2]]}, "a[0][1]=9", {"a": [[1, 9]]}),
    ({"a": [None]}, "a[0][1]=9", {"a": [[None, 9]]}),
    ({"a": {"x": 1}}, "a=2", {"a": 2}),
    ({"a": 1}, "b=2", {"a": 1, "b": 2}),
    ({"a": [1, 2]}, "a[1].", {"a": [1, {}]}),
    ({"a": [1, 2]}, "a={x}", {"a": ["x"]}),
    ({"": {"x": 1}}, ".a=b", {"": {"x": 1, "a": "b"}}),
]


@pytest.mark.parametrize(("existing", "expression", "expected"), SET_INTO)
def test_set_into_existing(existing, expression, expected):
    strvals.parse_set(expression, existing)
    assert existing == expected


# --set-string: every value a string.
SET_STRING_CASES = [
    ("a=1", {"a": "1"}),
    ("a=true", {"a": "true"}),
    ("a=null", {"a": "null"}),
    ("a=0", {"a": "0"}),
    ("a={1,true}", {"a": ["1", "true"]}),
    ("a.b=1,c[0]=2", {"a": {"b": "1"}, "c": ["2"]}),
    (r"a=1\,2", {"a": "1,2"}),
    ("a=", {"a": ""}),
]


@pytest.mark.parametrize(("expression", "expected"), SET_STRING_CASES)
def test_set_string(expression, expected):
    data = {}
    strvals.parse_set_string(expression, data)
    assert data == expected


def test_set_string_errors_as_set():
    with pytest.raises(ValuesError, match='key "a" has no value'):
        strvals.parse_set_string("a", {})


# --set-literal: one key, no escapes, the rest of the text untouched.
SET_LITERAL_CASES = [
    ("a=b,c=d", {"a": "b,c=d"}),
    ("a=1", {"a": "1"}),
    ("a=true", {"a": "true"}),
    ("a.b=x", {"a": {"b": "x"}}),
    (r"a=\,x\\", {"a": r"\,x\\"}),
    (r"a\b=c", {r"a\b": "c"}),
    ("a,b=c", {"a,b": "c"}),
    ("a[1]=x", {"a": [None, "x"]}),
    ("a[0].b=x,y", {"a": [{"b": "x,y"}]}),
    ("a=", {"a": ""}),
    ("=x", {}),
    ("", {}),
    ("a={b,c}", {"a": "{b,c}"}),
]


@pytest.mark.parametrize(("expression", "expected"), SET_LITERAL_CASES)
def test_set_literal(expression, expected):
    data = {}
    strvals.parse_set_literal(expression, data)
    assert data == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("a", 'key "a" has no value'),
        ("a.=x", 'key map "a" has no value'),
        ("a[-1]=x", "negative -1 index not allowed"),
        ("a[0]x=y", "unexpected data at end of array index"),
    ],
)
def test_set_literal_errors(expression, message):
    with pytest.raises(ValuesError, match=message.replace("[", r"\[")):
        strvals.parse_set_literal(expression, {})


# --set-json: a JSON document per value; numbers are 64-bit floats, as in Helm.
SET_JSON_CASES = [
    ('a={"b":1}', {"a": {"b": 1}}),
    ("a=[1,2,3]", {"a": [1, 2, 3]}),
    ('a="x,y"', {"a": "x,y"}),
    ("a=", {"a": None}),
    ("a=  ", {"a": None}),
    ("a=null", {"a": None}),
    ("a=true", {"a": True}),
    ("a=1.0", {"a": 1}),
    ("a=1.5", {"a": 1.5}),
    ("a=12345678901234567891", {"a": 12345678901234567000}),
    ('a=1,b="x"', {"a": 1, "b": "x"}),
    ("a=1 , b=2", {"a": 1, " b": 2}),
    ('a.b[1]={"c":[true]}', {"a": {"b": [None, {"c": [True]}]}}),
    ('a= "x"', {"a": "x"}),
    ('a="\\ud800"', {"a": "\ufffd"}),
    ("a=[]", {"a": []}),
]


@pytest.mark.parametrize(("expression", "expected"), SET_JSON_CASES)
def test_set_json(expression, expected):
    data = {}
    strvals.parse_set_json(expression, data)
    assert data == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ('a={"b":', "invalid JSON value at character"),
        ("a=NaN", "invalid JSON value: NaN is not JSON"),
        ("a=1e400", "invalid JSON value: number inf cannot be represented"),
        ("a=1x", 'key "x" has no value'),
        ("a=tru", "invalid JSON value"),
        ("a=1.x=2", "invalid JSON value at character 2: bad number"),
        ("a=1ex=2", "invalid JSON value at character 2: bad number"),
        ("a=" + "1" * 5000, "invalid JSON value: a number too long to read"),
    ],
)
def test_set_json_errors(expression, message):
    with pytest.raises(ValuesError, match=message):
        strvals.parse_set_json(expression, {})


def test_set_file_reads_each_path():
    files = {"/p/one": "first\n", "/p/two": "2"}
    data = {}
    strvals.parse_set_file("a=/p/one,b.c=/p/two", data, files.__getitem__)
    assert data == {"a": "first\n", "b": {"c": "2"}}


# YAML typing: Helm's reading of a values file, not PyYAML's.
YAML_CASES = [
    ("a: y", {"a": True}),
    ("a: Y", {"a": True}),
    ("a: yes", {"a": True}),
    ("a: on", {"a": True}),
    ("a: off", {"a": False}),
    ("a: n", {"a": False}),
    ("a: NO", {"a": False}),
    ("a: yEs", {"a": "yEs"}),
    ("a: 0o17", {"a": 15}),
    ("a: 017", {"a": 15}),
    ("a: 0x1F", {"a": 31}),
    ("a: 0b11", {"a": 3}),
    ("a: 08", {"a": 8}),
    ("a: 1e3", {"a": 1000}),
    ("a: 1.0", {"a": 1}),
    ("a: 1.5", {"a": 1.5}),
    ("a: .5", {"a": 0.5}),
    ("a: .5_5", {"a": 0.55}),
    ("a: .5e400", {"a": ".5e400"}),
    ("a: 1_000", {"a": 1000}),
    ("a: -7", {"a": -7}),
    ("a: +7", {"a": 7}),
    ("a: 1:20", {"a": "1:20"}),
    ("a: 2001-12-14", {"a": "2001-12-14"}),
    ("a: 2001-12-14t21:59:43.10-05:00", {"a": "2001-12-14t21:59:43.10-05:00"}),
    ("a: 12345678901234567891", {"a": 12345678901234567000}),
    ("a: 9007199254740993", {"a": 9007199254740992}),
    ("a: ~", {"a": None}),
    ("a: null", {"a": None}),
    ("a:", {"a": None}),
    ("a: =", {"a": "="}),
    ("a: '1'", {"a": "1"}),
    ('a: "yes"', {"a": "yes"}),
    ("a: !!str 1", {"a": "1"}),
    ("a: 1e400", {"a": "1e400"}),
    ("a: 0x", {"a": "0x"}),
    ("a: 1 2", {"a": "1 2"}),
    ("a: [1, y, x]", {"a": [1, True, "x"]}),
    ("1: a", {"1": "a"}),
    ("yes: a", {"true": "a"}),
    ("1: a\ntrue: b", {"1": "a", "true": "b"}),
    ("1.5: a", {"1.5": "a"}),
    ("0x10: a", {"16": "a"}),
    ("9007199254740993: a", {"9007199254740993": "a"}),
    ("1e6: a", {"1e+06": "a"}),
    ("1e39: a", {".inf": "a"}),
    ("-1e300: a", {"-.inf": "a"}),
    (".inf: a", {".inf": "a"}),
    ("a: !!int 0x10", {"a": 16}),
    ("a: !!float 1", {"a": 1}),
    ("a: !!float 1.5", {"a": 1.5}),
    ("a: !!bool yes", {"a": True}),
    ("a: !!null ~", {"a": None}),
    ("a: !!str yes", {"a": "yes"}),
    ("", {}),
    ("---\n---\n", {}),
    ("~", {}),
    ("a: 1\n---\nb: 2\n---\na: 3", {"a": 3, "b": 2}),
    ("a: {x: 1}\n---\na: {z: 2}", {"a": {"x": 1, "z": 2}}),
    ("y: 1", {"true": 1}),
    ("b: &x {c: 1}\nd:\n  <<: *x\n  e: 2", {"b": {"c": 1}, "d": {"c": 1, "e": 2}}),
    ("a: 1\na: 2", {"a": 2}),
]


@pytest.mark.parametrize(("text", "expected"), YAML_CASES)
def test_yaml_typing(text, expected):
    loaded = yamlio.load_values(text)
    assert loaded == expected
    assert [type(v) for v in loaded.values()] == [type(v) for v in expected.values()]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- 1", "document 1 is a list, not a map of values"),
        ("x", "document 1 is a string, not a map of values"),
        ("a: 1\n---\n- 2", "document 2 is a list"),
        # The line and column LibYAML gives; PyYAML's own parser points elsewhere.
        ("a: [", "invalid YAML at line "),
        ("a: .inf", ".inf cannot be used: Helm converts values to JSON"),
        ("a: .NaN", ".NaN cannot be used"),
        ("a: !!binary aGk=", "is not supported in values"),
        ("a: !!timestamp 2001-12-14", "is not supported in values"),
        ("? [a]\n: b", "a map key must be text, a number or a boolean"),
        ("~: x", "a map key must be text, a number or a boolean"),
        ("a: !!int abc", "'abc' is not a valid !!int"),
        ("a: !!int 1.5", "'1.5' is not a valid !!int"),
        ("a: !!int 1:20", "'1:20' is not a valid !!int"),
        ("a: !!int 1" + "0" * 400, "is not a valid !!int"),
        ("a: !!int " + "1" * 5000, "is not a valid !!int"),
        ("a: !!float abc", "'abc' is not a valid !!float"),
        ("a: !!bool foo", "'foo' is not a valid !!bool"),
        ("a: !!null x", "'x' is not a valid !!null"),
        ("a: *nothing", "invalid YAML"),
    ],
)
def test_yaml_errors(text, message):
    with pytest.raises(ValuesError, match=message.replace("[", r"\[")):
        yamlio.load_values(text)


# Writing: what Helm would misread is quoted; the text reads back as the same values.
DUMP_CASES = [
    ({"a": "yes"}, "a: 'yes'\n"),
    ({"a": "y"}, "a: 'y'\n"),
    ({"a": "0o17"}, "a: '0o17'\n"),
    ({"a": "1e3"}, "a: '1e3'\n"),
    ({"a": "08"}, "a: '08'\n"),
    ({"a": "1:20"}, "a: '1:20'\n"),
    ({"a": "2001-12-14"}, "a: '2001-12-14'\n"),
    ({"a": "1_000"}, "a: '1_000'\n"),
    ({"a": "null"}, "a: 'null'\n"),
    ({"a": ""}, "a: ''\n"),
    ({"a": "plain text"}, "a: plain text\n"),
    ({"a": "x\ny\n"}, "a: |\n  x\n  y\n"),
    ({"n": 1}, "'n': 1\n"),
    (
        {"b": 1, "a": {"d": [1, {"x": None}], "c": True}},
        "a:\n  c: true\n  d:\n  - 1\n  - x: null\nb: 1\n",
    ),
    ({}, ""),
    ({"a": yamlio.Secret("hunter2")}, "a: '******'\n"),
]


@pytest.mark.parametrize(("data", "text"), DUMP_CASES)
def test_dump(data, text):
    assert yamlio.dump(data) == text
    if not any(isinstance(v, yamlio.Secret) for v in data.values()):
        assert yamlio.load_values(text) == data


def test_dump_flow_style_for_system_overrides():
    assert yamlio.dump({"pod": {"replicas": {"server": 1}}}, flow=True) == (
        "pod:\n  replicas: {server: 1}\n"
    )


def test_dump_writes_shared_parts_out():
    shared = {"x": 1}
    assert "&" not in yamlio.dump({"a": shared, "b": shared})


def test_secret_is_never_in_the_text():
    text = yamlio.dump({"a": {"b": [yamlio.Secret("hunter2")]}}, flow=True)
    assert "hunter2" not in text
    assert repr(yamlio.Secret("hunter2")) == "Secret(******)"


# mergeMaps (values files): (a, b, result).
MERGE_CASES = [
    ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ({"a": {"x": 1}}, {"a": {"y": 2}}, {"a": {"x": 1, "y": 2}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": 1}, {"a": None}, {"a": None}),
    ({"a": {"x": 1}}, {"a": None}, {"a": None}),
    ({"a": 1}, {"a": {"x": 1}}, {"a": {"x": 1}}),
    ({"a": {"x": 1}}, {"a": 1}, {"a": 1}),
    ({"a": {"x": {"y": 1}}}, {"a": {"x": {"z": 2}}}, {"a": {"x": {"y": 1, "z": 2}}}),
    ({"a": {"x": 1}}, {"a": {}}, {"a": {"x": 1}}),
    ({}, {}, {}),
]


@pytest.mark.parametrize(("base", "over", "expected"), MERGE_CASES)
def test_merge_maps(base, over, expected):
    before = repr(base), repr(over)
    assert maps.merge_maps(base, over) == expected
    assert (repr(base), repr(over)) == before


# Coalescing with chart defaults: (defaults, user, result).
COALESCE_CASES = [
    ({"a": 1}, {}, {"a": 1}),
    ({"a": 1}, {"a": 2}, {"a": 2}),
    ({"a": 1}, {"a": None}, {}),
    ({"a": {"x": 1}}, {"a": None}, {}),
    ({"a": {"x": 1, "y": 2}}, {"a": {"y": None}}, {"a": {"x": 1}}),
    ({"a": {"b": {"c": 1}}}, {"a": {"b": None}}, {"a": {}}),
    ({}, {"a": None}, {"a": None}),
    # A null over no default stays (helm/helm#31644; checked against Helm 4.2.3).
    ({"a": {"x": 1}}, {"a": {"z": None}}, {"a": {"x": 1, "z": None}}),
    ({"a": {"x": 1}}, {"a": 5}, {"a": 5}),
    ({"a": 5}, {"a": {"x": 1}}, {"a": {"x": 1}}),
    ({"a": {"x": 1}}, {"a": {}}, {"a": {"x": 1}}),
    ({"a": {"x": {"y": 1}}}, {"a": {"x": {"z": 2}}}, {"a": {"x": {"y": 1, "z": 2}}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": {"x": 1}}, {"a": {"x": "s"}}, {"a": {"x": "s"}}),
    ({"a": {"x": {"y": 1}}}, {"a": {"x": 3}}, {"a": {"x": 3}}),
    ({"a": {"x": 3}}, {"a": {"x": {"y": 1}}}, {"a": {"x": {"y": 1}}}),
    ({"a": None}, {}, {"a": None}),
]


@pytest.mark.parametrize(("defaults", "user", "expected"), COALESCE_CASES)
def test_coalesce(defaults, user, expected):
    before = repr(defaults), repr(user)
    result, _ = values.coalesce(defaults, user)
    assert result == expected
    assert (repr(defaults), repr(user)) == before


def test_coalesce_warns_as_helm_does():
    _, warnings = values.coalesce(
        {"a": {"x": {"y": 1}}, "b": {"x": 1}, "c": 1},
        {"a": {"x": 3}, "b": {"x": {"y": 1}}, "c": {"d": 1}},
    )
    assert sorted(warnings) == [
        "cannot overwrite table with non table for a.x",
        "destination for b.x is a table. Ignoring non-table value",
        "skipped value for c: Not a table.",
    ]


# The pipeline: order is by kind, never by position.
def test_pipeline_order_files_json_set_string_file_literal():
    inputs = values.Inputs(
        files=["a: 1\nb: 1\nc: 1\nd: 1\ne: 1\nf: 1\n", "b: 2\n"],
        set_literal=["f=literal"],
        set_file=["e=/path"],
        set_string=["d=string"],
        set=["c=3,d=3,e=3,f=3"],
        set_json=["c=4", "b=4"],
    )
    result = values.user_values(inputs, {"/path": "file"}.__getitem__)
    assert result == {"a": 1, "b": 4, "c": 3, "d": "string", "e": "file", "f": "literal"}


def test_pipeline_sets_parse_into_file_values():
    inputs = values.Inputs(files=["a:\n  x: 1\nl: [1, 2, 3]\n"], set=["a.y=2", "l[1]=9"])
    assert values.user_values(inputs) == {"a": {"x": 1, "y": 2}, "l": [1, 9, 3]}


def test_pipeline_keeps_nulls():
    inputs = values.Inputs(files=["a: 1\n"], set=["a=null,b=null"])
    assert values.user_values(inputs) == {"a": None, "b": None}


def test_pipeline_error_names_the_input():
    with pytest.raises(ValuesError) as caught:
        values.user_values(values.Inputs(set=["a=1", "a,b=c"]))
    assert str(caught.value) == 'set[1] "a,b=c": key "a" has no value (cannot end with ,)'
    with pytest.raises(ValuesError, match=r"files\[1\]: document 1 is a list"):
        values.user_values(values.Inputs(files=["a: 1", "- x"]))
    with pytest.raises(ValuesError, match=r'set_file\[0\] "a=/nope": no file "/nope"'):
        values.user_values(values.Inputs(set_file=["a=/nope"]))


def test_pipeline_later_set_overwrites_earlier():
    inputs = values.Inputs(set=["a=1", "a=2"], set_string=["b=1"], set_json=['b={"c":1}'])
    assert values.user_values(inputs) == {"a": 2, "b": "1"}


def test_empty_inputs_are_false():
    assert not values.Inputs()
    assert values.Inputs(set=["a=1"])


def test_alias_bombs_are_refused():
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    )
    with pytest.raises(ValuesError, match="the document expands to more than 1000000 values"):
        yamlio.load_values(text)


@pytest.mark.parametrize("text", ["a: &x [*x]\n", "a: &x {b: *x}\n"])
def test_recursive_aliases_are_refused(text):
    with pytest.raises(ValuesError, match="an alias refers to a value that contains it"):
        yamlio.load_values(text)


def test_shared_aliases_are_written_out():
    loaded = yamlio.load_values("a: &x {b: 1}\nc: *x\nd: [*x]\n")
    assert yamlio.dump(loaded) == "a:\n  b: 1\nc:\n  b: 1\nd:\n- b: 1\n"


def test_list_elements_made_by_expressions_are_capped_together():
    inputs = values.Inputs(set=["a[60]=x", "b[30]=x"], set_string=["c[10]=x"])
    assert len(values.user_values(inputs, max_values=103)["c"]) == 11
    with pytest.raises(
        ValuesError,
        match=r'set_string\[0\] "c\[10\]=x": the expressions make '
        "more than 102 list elements",
    ):
        values.user_values(inputs, max_values=102)


@pytest.mark.parametrize("depth", [400, 5000, 30000])
def test_deep_nesting_is_refused_not_crashed(depth):
    """LibYAML's own composer would crash the process on 30,000 levels."""
    with pytest.raises(ValuesError, match="nest"):
        values.user_values(values.Inputs(set=["a" + "[0]" * depth + "=1"]))
    with pytest.raises(ValuesError, match="nest"):
        values.user_values(values.Inputs(set_json=["a=" + "[" * depth + "]" * depth]))
    with pytest.raises(ValuesError, match="nest"):
        values.user_values(values.Inputs(files=["a: " + "[" * depth + "]" * depth]))
    with pytest.raises(ValuesError):  # unclosed: refused, whatever is noticed first
        values.user_values(values.Inputs(files=["a: " + "[" * depth]))


def test_values_may_nest_100_levels():
    # The top-level map is the first level, each list one more.
    assert values.user_values(values.Inputs(set=["a" + "[0]" * 99 + "=1"]))
    with pytest.raises(ValuesError, match="the values nest deeper than 100 levels"):
        values.user_values(values.Inputs(set=["a" + "[0]" * 100 + "=1"]))
