"""``/v1.0/helm_charts`` through the real app and a migrated SQLite database.

Every refused request is checked for its status, its message, and for leaving the
stored overrides exactly as they were.
"""

import pytest

from dcmanager.common import crypt
from dcmanager.db import api as db_api

CHARTS = "/v1.0/helm_charts"
RABBITMQ = f"{CHARTS}/rabbitmq?namespace=openstack"
KEYSTONE = f"{CHARTS}/keystone?namespace=openstack"


def show(api, url: str = RABBITMQ) -> dict:
    return api.get(url).json


def patch(api, flag: str = "reuse", url: str = RABBITMQ, **values) -> dict:
    return api.patch_json(url, {"flag": flag, "values": values}).json


def refused(api, url: str, body, status: int, message: str) -> None:
    """The PATCH is refused with ``message`` and changes nothing."""
    before = show(api)
    resp = api.patch_json(url, body, expect_errors=True)
    assert resp.status_int == status, resp.text
    assert resp.json["message"] == message
    assert show(api) == before


def test_seed_example(api):
    """``helm-override-update rabbitmq openstack --reuse-values --set pod.replicas=2``."""
    assert show(api) == {
        "name": "rabbitmq",
        "namespace": "openstack",
        "system_overrides": "pod:\n  replicas: {server: 1}\n",
        "user_overrides": "",
        "combined_overrides": "pod:\n  replicas:\n    server: 1\n",
    }

    updated = api.patch_json(
        RABBITMQ, {"flag": "reuse", "values": {"files": [], "set": ["pod.replicas=2"]}}
    ).json

    assert updated == {
        "name": "rabbitmq",
        "namespace": "openstack",
        "user_overrides": "pod:\n  replicas: 2\n",
    }
    assert show(api) == {
        "name": "rabbitmq",
        "namespace": "openstack",
        "system_overrides": "pod:\n  replicas: {server: 1}\n",
        "user_overrides": "pod:\n  replicas: 2\n",
        "combined_overrides": "pod:\n  replicas: 2\n",
    }


def test_reuse_builds_on_the_stored_overrides(api):
    patch(api, set=["a.x=1", "l={1,2,3}"])
    patch(api, set=["a.y=2", "l[1]=9"])
    assert show(api)["user_overrides"] == "a:\n  x: 1\n  'y': 2\nl:\n- 1\n- 9\n- 3\n"


def test_reset_keeps_only_the_new_values(api):
    patch(api, set=["a=1"])
    assert patch(api, "reset", set=["b=2"])["user_overrides"] == "b: 2\n"


def test_reset_without_values_clears(api):
    patch(api, set=["a=1"])
    assert patch(api, "reset")["user_overrides"] == ""
    assert api.patch_json(RABBITMQ, {"flag": "reset"}).json["user_overrides"] == ""
    assert show(api)["user_overrides"] == ""


def test_reuse_without_values_keeps(api):
    patch(api, set=["a=1"])
    assert patch(api)["user_overrides"] == "a: 1\n"


def test_values_apply_in_helm_order_not_request_order(api):
    body = {
        "flag": "reset",
        "values": {
            "set_literal": ["f=literal,x"],
            "set_file": ["e=/etc/cert.pem"],
            "set_file_contents": {"/etc/cert.pem": "-----BEGIN-----\nabc\n"},
            "set_string": ["d=1"],
            "set": ["c=3,d=3,e=3,f=3"],
            "set_json": ['c={"j":1}', "b=[1,2]"],
            "files": ["a: 1\nb: 1\n", "a: {z: true}\n"],
        },
    }
    text = api.patch_json(RABBITMQ, body).json["user_overrides"]
    assert text == (
        "a:\n  z: true\nb:\n- 1\n- 2\nc: 3\nd: '1'\ne: |\n  -----BEGIN-----\n  abc\nf: literal,x\n"
    )


def test_typing_follows_helm(api):
    patch(api, "reset", set=["i=2,f=1.5,s=007,b=true,n=null,y=yes"], set_string=["t=2"])
    assert show(api)["user_overrides"] == (
        "b: true\nf: '1.5'\ni: 2\n'n': null\ns: '007'\nt: '2'\n'y': 'yes'\n"
    )


def test_files_are_read_with_helm_typing(api):
    patch(api, "reset", files=["a: y\nb: 0o17\nc: 1e3\nd: 1:20\ne: 2001-12-14\n"])
    assert show(api)["user_overrides"] == "a: true\nb: 15\nc: 1000\nd: '1:20'\ne: '2001-12-14'\n"


def test_nulls_are_kept_in_user_and_combined(api):
    patch(api, set=["pod.replicas.server=null"])
    shown = show(api)
    assert shown["user_overrides"] == "pod:\n  replicas:\n    server: null\n"
    assert shown["combined_overrides"] == "pod:\n  replicas:\n    server: null\n"


def test_user_maps_merge_over_system_maps(api):
    patch(api, set=["pod.replicas.extra=3", "image=x"])
    assert show(api)["combined_overrides"] == (
        "image: x\npod:\n  replicas:\n    extra: 3\n    server: 1\n"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"set": ["a,b=c"]}, 'set[0] "a,b=c": key "a" has no value (cannot end with ,)'),
        ({"set": ["ok=1", "a"]}, 'set[1] "a": key "a" has no value'),
        ({"set": ["a[x]=1"]}, 'set[0] "a[x]=1": error parsing index: "x" is not an integer'),
        ({"set": ["a[-1]=1"]}, 'set[0] "a[-1]=1": negative -1 index not allowed'),
        ({"set": ["a={b,c"]}, "set[0] \"a={b,c\": list must terminate with '}'"),
        (
            {"set": ["a" + ".b" * 31 + "=1"]},
            f'set[0] "a{".b" * 31}=1": value name nested level is greater than maximum '
            "supported nested level of 30",
        ),
        (
            {"set": ["a=2,a.b=1"]},
            'set[0] "a=2,a.b=1": key "a" holds a integer, not a map: it cannot be nested into',
        ),
        (
            {"set_string": ["a[0]x=y"]},
            'set_string[0] "a[0]x=y": unexpected data at end of array index: "x"',
        ),
        (
            {"set_json": ["a={"]},
            'set_json[0] "a={": invalid JSON value at character 2: '
            "Expecting property name enclosed in double quotes",
        ),
        ({"set_literal": ["a"]}, 'set_literal[0] "a": key "a" has no value'),
        (
            {"set_file": ["a=/missing"]},
            'set_file[0] "a=/missing": no content was sent for the file /missing',
        ),
        ({"files": ["a: [\n"]}, "files[0]: invalid YAML at line 2, column 1: "),
        ({"files": ["- 1\n"]}, "files[0]: document 1 is a list, not a map of values"),
        (
            {"files": ["a: .inf\n"]},
            "files[0]: invalid YAML at line 1, column 4: .inf cannot "
            "be used: Helm converts values to JSON",
        ),
    ],
)
def test_invalid_values_name_the_input_and_store_nothing(api, values, message):
    patch(api, set=["kept=1"])
    before = show(api)
    resp = api.patch_json(RABBITMQ, {"flag": "reuse", "values": values}, expect_errors=True)
    assert resp.status_int == 400, resp.text
    # A YAML syntax error is worded by the parser: only its position is checked.
    assert resp.json["message"].startswith(f"Invalid values: {message}")
    assert show(api) == before


def test_file_errors_are_numbered_as_sent_when_reusing(api):
    patch(api, set=["kept=1"])
    body = {"flag": "reuse", "values": {"files": ["a: 1\n", "- x\n"]}}
    refused(
        api,
        RABBITMQ,
        body,
        400,
        "Invalid values: files[1]: document 1 is a list, not a map of values",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"flag": "keep"}, "Invalid flag: keep must be either 'reuse' or 'reset'."),
        ({"flag": 1}, "Invalid flag: 1 must be either 'reuse' or 'reset'."),
        ({"values": {"set": ["a=1"]}}, "Missing flag: it must be either 'reuse' or 'reset'."),
        ({"flag": "reuse", "values": []}, "Invalid values: it must be an object of lists by kind"),
        (
            {"flag": "reuse", "values": {"set": "a=1"}},
            "Invalid values.set: it must be a list of strings",
        ),
        (
            {"flag": "reuse", "values": {"files": [{"a": 1}]}},
            "Invalid values.files: it must be a list of strings",
        ),
        (
            {"flag": "reuse", "values": {"set": ["a=\x00"]}},
            "Invalid values.set: it must be a list of strings",
        ),
        (
            {"flag": "reuse", "values": {"set_file": ["a=p"], "set_file_contents": ["p"]}},
            "Invalid values.set_file_contents: it must map each set_file path to its text",
        ),
        (
            {"flag": "reuse", "values": {"sets": []}},
            "Unknown values kind sets: the kinds are files, set, set_string, set_json, "
            "set_file, set_literal (and set_file_contents)",
        ),
    ],
)
def test_malformed_requests(api, body, message):
    patch(api, set=["kept=1"])
    refused(api, RABBITMQ, body, 400, message)


def test_body_required(api):
    resp = api.patch(RABBITMQ, b"", content_type="application/json", expect_errors=True)
    assert (resp.status_int, resp.json["message"]) == (400, "Body required")


def test_overrides_larger_than_the_limit_are_refused(api):
    patch(api, set=["kept=1"])
    body = {"flag": "reuse", "values": {"set": ["a[65536]=x,b[65536]=x,c[65536]=x"]}}
    refused(
        api,
        RABBITMQ,
        body,
        400,
        "The user overrides would be 1376285 bytes; at most 1048576 are kept",
    )


def test_delete_clears_user_overrides_only(api):
    patch(api, set=["pod.replicas=2"])
    assert api.delete(RABBITMQ).status_int == 204
    assert show(api)["user_overrides"] == ""
    assert show(api)["combined_overrides"] == "pod:\n  replicas:\n    server: 1\n"
    assert api.delete(RABBITMQ).status_int == 204


def test_overrides_are_per_namespace(api):
    patch(api, url=f"{CHARTS}/ingress?namespace=kube-system", set=["a=1"])
    assert show(api, f"{CHARTS}/ingress?namespace=kube-system")["user_overrides"] == "a: 1\n"
    assert show(api, f"{CHARTS}/ingress?namespace=openstack")["user_overrides"] == ""


def test_list(api):
    charts = api.get(CHARTS).json["charts"]
    assert [chart["name"] for chart in charts] == [
        "ceilometer", "cinder", "glance", "gnocchi", "heat", "horizon", "ingress", "keystone",
        "libvirt", "mariadb", "memcached", "neutron", "nova", "openvswitch", "rabbitmq",
        "rbd-provisioner",
    ]  # fmt: skip
    assert {"name": "ingress", "namespaces": ["kube-system", "openstack"]} in charts


@pytest.mark.parametrize("method", ["get", "patch_json", "delete"])
@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        (f"{CHARTS}/nope?namespace=openstack", 404, "Helm chart nope not found"),
        (
            f"{CHARTS}/rabbitmq?namespace=kube-system",
            404,
            "Helm chart rabbitmq has no overrides in namespace kube-system (its namespaces: "
            "openstack)",
        ),
        (f"{CHARTS}/rabbitmq", 400, "The namespace is required: ?namespace=<one of openstack>"),
        (
            f"{CHARTS}/ingress?namespace=",
            400,
            "The namespace is required: ?namespace=<one of kube-system, openstack>",
        ),
    ],
)
def test_unknown_chart_or_namespace(api, method, url, status, message):
    kwargs = {"params": {"flag": "reset"}} if method == "patch_json" else {}
    resp = getattr(api, method)(url, expect_errors=True, **kwargs)
    assert (resp.status_int, resp.json["message"]) == (status, message)


def test_generated_secrets_are_masked(api, conf):
    shown = show(api, KEYSTONE)
    real = crypt.derive_secret(conf, "helm-password/SystemController/keystone/admin")
    for text in shown.values():
        assert real not in text
    assert "password: '******'" in shown["system_overrides"]
    assert "password: '******'" in shown["combined_overrides"]


def test_a_user_value_over_a_secret_is_the_users(api):
    patch(api, url=KEYSTONE, set=["endpoints.identity.auth.admin.password=mine"])
    combined = show(api, KEYSTONE)["combined_overrides"]
    assert "password: mine" in combined
    assert combined.count("'******'") == 1  # the database password is still generated


def subcloud(name: str, mode: str | None, region: str | None = None):
    values = {"name": name, "endpoint": f"simulated://{name}"}
    if region:
        values["region_name"] = region
    created = db_api.subcloud_create(values)
    if mode:
        db_api.subcloud_update(created.id, {"system_mode": mode})
    return created


def test_system_overrides_for_a_subcloud(api):
    duplex = subcloud("sc1", "duplex", region="edge-1")
    subcloud("sc2", "simplex")
    by_name = show(api, RABBITMQ + "&subcloud=sc1")
    assert by_name["system_overrides"] == "pod:\n  replicas: {server: 2}\n"
    assert show(api, RABBITMQ + f"&subcloud={duplex.id}") == by_name
    assert show(api, RABBITMQ + "&subcloud=sc2")["system_overrides"] == (
        "pod:\n  replicas: {server: 1}\n"
    )
    assert "region_name: edge-1" in show(api, KEYSTONE + "&subcloud=sc1")["system_overrides"]


def test_subcloud_unknown_or_not_audited(api):
    subcloud("sc1", None)
    resp = api.get(RABBITMQ + "&subcloud=sc1", expect_errors=True)
    assert resp.status_int == 409
    assert resp.json["message"] == (
        "The system mode of subcloud sc1 is not known yet: the audit learns it once the "
        "subcloud answers"
    )
    resp = api.get(RABBITMQ + "&subcloud=nope", expect_errors=True)
    assert (resp.status_int, resp.json["message"]) == (404, "Subcloud not found")


def test_collection_allows_only_get(api):
    resp = api.post_json(CHARTS, {}, expect_errors=True)
    assert resp.status_int == 405
    assert resp.headers["Allow"] == "GET"


def test_the_size_limit_is_an_option(api, conf):
    conf.set_override("max_user_overrides_bytes", 2048, group="helm")
    patch(api, set=["kept=1"])
    body = {"flag": "reuse", "values": {"set": ["a[400]=x"]}}
    refused(
        api, RABBITMQ, body, 400, "The user overrides would be 2815 bytes; at most 2048 are kept"
    )
    assert patch(api, set=["a[200]=x"])["user_overrides"].endswith("- x\nkept: 1\n")


def test_the_default_site_region_is_an_option(api, conf):
    conf.set_override("default_region_name", "Central", group="helm")
    assert "region_name: Central" in show(api, KEYSTONE)["system_overrides"]


def test_expressions_that_would_make_billions_of_elements_are_refused_early(api):
    patch(api, set=["kept=1"])
    expressions = [f"k{n}[65536]=x" for n in range(5000)]  # 95 KB of request
    body = {"flag": "reuse", "values": {"set": expressions}}
    refused(
        api,
        RABBITMQ,
        body,
        400,
        'Invalid values: set[7] "k7[65536]=x": the expressions make more than 524288 list elements',
    )


def test_alias_bomb_in_a_file_is_refused(api):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    )
    patch(api, set=["kept=1"])
    refused(
        api,
        RABBITMQ,
        {"flag": "reuse", "values": {"files": [bomb]}},
        400,
        "Invalid values: files[0]: invalid YAML at line 1, column 1: the values files expand "
        "to more than 524288 values",
    )


def test_the_values_budget_counts_every_document_and_file(api):
    """Documents that each stay under the budget are refused together: the request's
    files may expand to [helm] max_user_overrides_bytes / 2 values in all."""
    patch(api, set=["kept=1"])
    # One document of 10^5 leaves (and 11,112 lists) through aliases: 111,112 values.
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(4)
    )
    assert laughs.count("\n") == 5
    five = "---\n".join([laughs] * 5)
    refused(
        api,
        RABBITMQ,
        {"flag": "reuse", "values": {"files": [five]}},
        400,
        "Invalid values: files[0]: invalid YAML at line 25, column 1: the values files expand "
        "to more than 524288 values",
    )
    refused(
        api,
        RABBITMQ,
        {"flag": "reuse", "values": {"files": [laughs] * 5}},
        400,
        "Invalid values: files[4]: invalid YAML at line 1, column 1: the values files expand "
        "to more than 524288 values",
    )


def test_aliased_values_are_copies(api):
    """Helm reads YAML through JSON: a --set changes one use of an alias, not all."""
    patch(api, "reset", files=["a: &x {b: 1}\nc: *x\nl: &l [1, 2]\nm: *l\n"], set=["a.b=2,l[0]=9"])
    assert show(api)["user_overrides"] == "a:\n  b: 2\nc:\n  b: 1\nl:\n- 9\n- 2\nm:\n- 1\n- 2\n"


@pytest.mark.parametrize(
    "values",
    [
        {"files": ["a: " + "[" * 30000 + "]" * 30000]},
        {"set_json": ["a=" + "[" * 30000 + "]" * 30000]},
        {"set": ["a" + "[0]" * 20000 + "=1"]},
        {"set": ["a" + "[0]" * 400 + "=1"]},
    ],
    ids=["file", "json", "set", "set-400"],
)
def test_deep_nesting_is_a_400_not_a_crash(api, values):
    patch(api, set=["kept=1"])
    before = show(api)
    resp = api.patch_json(RABBITMQ, {"flag": "reuse", "values": values}, expect_errors=True)
    assert resp.status_int == 400, resp.text
    assert "nest" in resp.json["message"]
    assert show(api) == before
