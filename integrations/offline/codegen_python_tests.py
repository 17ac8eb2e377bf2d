"""Generates pytest tests (service and HTTP routes) and the README for the generated Python package."""

from __future__ import annotations

from integrations.offline.codegen_python import literal, render
from integrations.offline.codespec import OPEN, CodeSpec
from integrations.offline.words import article, plural

CHANGED = {
    "text": "Changed",
    "note": "Changed",
    "money": 99.0,
    "count": 7,
    "date": "2031-02-28",
    "email": "other@example.com",
    "flag": False,
}


def _valid(spec: CodeSpec) -> str:
    rows = "".join(f"    {literal(f.name)}: {literal(f.sample)},\n" for f in spec.fields)
    return "VALID = {\n" + rows + "}\n"


def _paths(spec: CodeSpec) -> dict[str, list[str]]:
    """The shortest list of actions from OPEN to each reachable status."""
    paths: dict[str, list[str]] = {OPEN: []}
    frontier = [OPEN]
    while frontier:
        reached = []
        for status in frontier:
            for action, target, sources in spec.actions:
                if status in sources and target not in paths:
                    paths[target] = paths[status] + [action]
                    reached.append(target)
        frontier = reached
    return paths


def _steps(spec: CodeSpec, actions: list[str]) -> str:
    return "".join(f"    service.{a}(created.id)\n" for a in actions)


def _action_tests(spec: CodeSpec) -> str:
    paths = _paths(spec)
    order = {s: i for i, s in enumerate(spec.statuses)}
    tests = []
    for action, target, sources in spec.actions:
        start = min((s for s in sources if s in paths), key=lambda s: (len(paths[s]), order[s]), default=None)
        if start is not None:
            tests.append(
                render(
                    """


                def test_${action}_moves_${var}_from_${start_low}_to_${target_low}(service):
                    created = service.create(VALID)
                ${steps}    assert service.${action}(created.id).status == "${target}"
                """,
                    action=action,
                    var=spec.snake,
                    start_low=start.lower(),
                    target_low=target.lower(),
                    steps=_steps(spec, paths[start]),
                    target=target,
                )
            )
        refused = min((s for s in paths if s not in sources), key=lambda s: (len(paths[s]), order[s]), default=None)
        if refused is not None:
            tests.append(
                render(
                    """


                def test_${action}_is_refused_for_${article}_${refused_low}_${var}(service):
                    created = service.create(VALID)
                ${steps}    with pytest.raises(TransitionError):
                        service.${action}(created.id)
                    assert service.get(created.id).status == "${refused}"
                """,
                    action=action,
                    article=article(refused.lower()),
                    refused_low=refused.lower(),
                    var=spec.snake,
                    steps=_steps(spec, paths[refused]),
                    refused=refused,
                )
            )
    if spec.actions:
        tests.append(
            render("""


            def test_unknown_action_is_invalid_input(service):
                created = service.create(VALID)
                with pytest.raises(ValidationError) as caught:
                    service.perform(created.id, "teleport")
                assert caught.value.field == "action"
            """)
        )
    return "".join(tests)


def service_tests_py(spec: CodeSpec) -> str:
    first = spec.fields[0]
    text_field = next((f for f in spec.fields if f.kind == "text"), None)
    required = [f.name for f in spec.fields if f.required]
    invalid = "".join(f"    ({literal(f.name)}, {literal(f.invalid)}),\n" for f in spec.fields)
    status = ', "status": "OPEN"' if spec.actions else ""
    body = render(
        '''
        """Tests of the ${entity} service: validation, create/read/update/delete, search${more}."""
        from __future__ import annotations

        import pytest

        from ${package}.model import ValidationError
        from ${package}.service import ${Entity}Service, NotFoundError${transition}

        ${valid}

        @pytest.fixture
        def service() -> ${Entity}Service:
            return ${Entity}Service()


        def test_create_stores_a_valid_${var}(service):
            created = service.create(VALID)
            assert service.get(created.id).to_dict() == {"id": created.id, **VALID${status}}
        ''',
        entity=spec.entity,
        more=(", status actions" if spec.actions else "") + (", CSV export" if spec.export else ""),
        package=spec.package,
        Entity=spec.pascal,
        transition=", TransitionError" if spec.actions else "",
        valid=_valid(spec),
        var=spec.snake,
        status=status,
    )
    if required:
        body += render(
            """


            @pytest.mark.parametrize("field", ${required})
            def test_create_requires_each_required_field(service, field):
                incomplete = {name: value for name, value in VALID.items() if name != field}
                with pytest.raises(ValidationError) as caught:
                    service.create(incomplete)
                assert caught.value.field == field
            """,
            required=literal(required),
        )
    body += render(
        """


        @pytest.mark.parametrize(("field", "value"), [
        ${invalid}])
        def test_create_rejects_an_invalid_value(service, field, value):
            with pytest.raises(ValidationError) as caught:
                service.create({**VALID, field: value})
            assert caught.value.field == field


        def test_create_rejects_unknown_fields(service):
            with pytest.raises(ValidationError) as caught:
                service.create({**VALID, "unexpected": 1})
            assert caught.value.field == "unexpected"


        def test_update_changes_only_the_given_field(service):
            created = service.create(VALID)
            before = created.to_dict()
            service.update(created.id, {"${first}": ${changed}})
            assert service.get(created.id).to_dict() == {**before, "${first}": ${changed}}


        def test_update_validates_like_create(service):
            created = service.create(VALID)
            with pytest.raises(ValidationError) as caught:
                service.update(created.id, {"${first}": ${bad}})
            assert caught.value.field == "${first}"
            assert service.get(created.id).${first} == VALID["${first}"]


        def test_delete_removes_the_${var}(service):
            created = service.create(VALID)
            service.delete(created.id)
            with pytest.raises(NotFoundError):
                service.get(created.id)


        def test_unknown_id_is_not_found(service):
            with pytest.raises(NotFoundError):
                service.get(404)
            with pytest.raises(NotFoundError):
                service.delete(404)
        """,
        invalid=invalid,
        first=first.name,
        changed=literal(CHANGED[first.kind]),
        bad=literal(first.invalid),
        var=spec.snake,
    )
    if text_field:
        body += render(
            """


            def test_search_is_case_insensitive_and_filters(service):
                wanted = service.create(VALID)
                service.create({**VALID, "${name}": "Something else"})
                assert [row.id for row in service.search(VALID["${name}"].upper())] == [wanted.id]
                assert len(service.search()) == 2
            """,
            name=text_field.name,
        )
    body += _action_tests(spec)
    if spec.export:
        header = ",".join(["id", *(f.name for f in spec.fields)] + (["status"] if spec.actions else []))
        body += render(
            """


            def test_export_csv_has_a_header_and_one_row_per_${var}(service):
                created = service.create(VALID)
                lines = service.export_csv().splitlines()
                assert lines[0] == "${header}"
                assert lines[1].startswith(f"{created.id},")
                assert len(lines) == 2
            """,
            var=spec.snake,
            header=header,
        )
    return body


def routes_tests_py(spec: CodeSpec) -> str:
    first = spec.fields[0]
    text_field = next((f for f in spec.fields if f.kind == "text"), None)
    body = render(
        '''
        """HTTP tests of the ${entity} routes through ${framework}'s TestClient."""
        from __future__ import annotations

        import pytest
        from ${module}.testclient import TestClient

        from ${package}.routes import create_app

        ${valid}

        @pytest.fixture
        def client():
            with TestClient(create_app()) as client:
                yield client


        def test_create_then_fetch(client):
            created = client.post("${url}", json=VALID)
            assert created.status_code == 201
            fetched = client.get(f"${url}/{created.json()['id']}")
            assert fetched.status_code == 200
            assert fetched.json() == created.json()


        def test_invalid_value_is_a_400_naming_the_field(client):
            response = client.post("${url}", json={**VALID, "${first}": ${bad}})
            assert response.status_code == 400
            assert response.json()["field"] == "${first}"


        def test_malformed_json_is_a_400(client):
            response = client.post("${url}", content=b"{not json", headers={"content-type": "application/json"})
            assert response.status_code == 400
            assert response.json()["field"] == "body"


        def test_unknown_id_is_a_404(client):
            assert client.get("${url}/404").status_code == 404


        def test_patch_then_delete(client):
            created = client.post("${url}", json=VALID).json()
            patched = client.patch(f"${url}/{created['id']}", json={"${first}": ${changed}})
            assert patched.status_code == 200
            assert patched.json()["${first}"] == ${changed}
            assert client.delete(f"${url}/{created['id']}").status_code == 204
            assert client.get(f"${url}/{created['id']}").status_code == 404
        ''',
        entity=spec.entity,
        framework="FastAPI" if spec.framework == "fastapi" else "Starlette",
        module="fastapi" if spec.framework == "fastapi" else "starlette",
        package=spec.package,
        valid=_valid(spec),
        url=spec.url,
        first=first.name,
        bad=literal(first.invalid),
        changed=literal(CHANGED[first.kind]),
    )
    if text_field:
        body += render(
            """


            def test_list_filters_by_query(client):
                client.post("${url}", json=VALID)
                client.post("${url}", json={**VALID, "${name}": "Something else"})
                response = client.get("${url}", params={"q": VALID["${name}"]})
                assert [row["${name}"] for row in response.json()] == [VALID["${name}"]]
            """,
            url=spec.url,
            name=text_field.name,
        )
    opening = next(((a, t, s) for a, t, s in spec.actions if OPEN in s), None)
    if opening:
        action, target, sources = opening
        again = "409" if target not in sources else "200"
        body += render(
            """


            def test_${action}_action(client):
                created = client.post("${url}", json=VALID).json()
                response = client.post(f"${url}/{created['id']}/${action}")
                assert response.status_code == 200
                assert response.json()["status"] == "${target}"
                assert client.post(f"${url}/{created['id']}/${action}").status_code == ${again}
                assert client.post(f"${url}/{created['id']}/teleport").status_code == 400
            """,
            action=action,
            url=spec.url,
            target=target,
            again=again,
        )
    if spec.export:
        body += render(
            """


            def test_export_is_csv(client):
                client.post("${url}", json=VALID)
                response = client.get("${url}/export.csv")
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/csv")
                assert response.text.splitlines()[0].startswith("id,")
            """,
            url=spec.url,
        )
    return body


def readme_md(spec: CodeSpec, routed: bool) -> str:
    fields = "\n".join(f"| `{f.name}` | {f.kind} | {'yes' if f.required else 'no'} |" for f in spec.fields)
    lines = [
        f"# {plural(spec.entity).capitalize()}",
        "",
        f"Generated for: {spec.requirement_title}",
        "",
        (
            f"`{spec.package}/` keeps {plural(spec.entity)} in memory behind a repository class, with input "
            "validation that names the offending field."
        ),
        "",
        "| field | kind | required |",
        "|---|---|---|",
        fields,
        "",
    ]
    if spec.actions:
        lines += ["Status actions (a refused action raises `TransitionError`, HTTP 409):", ""]
        lines += [f"- `{a}`: {', '.join(s)} -> {t}" for a, t, s in spec.actions] + [""]
    if routed:
        lines += [
            "HTTP (Starlette, `create_app()` in `routes.py`):",
            "",
            f"- `GET {spec.url}?q=` list and search, `POST {spec.url}` create (201, or 400 naming the field)",
            f"- `GET|PATCH|DELETE {spec.url}/{{id}}` read, update, delete (404 for an unknown id)",
        ]
        lines += [f"- `POST {spec.url}/{{id}}/{{action}}` run a status action"] if spec.actions else []
        lines += [f"- `GET {spec.url}/export.csv` CSV export"] if spec.export else []
        lines += [""]
    if spec.include_tests:
        lines += ["Run the tests with `python -m pytest` from this directory.", ""]
    return "\n".join(lines)
