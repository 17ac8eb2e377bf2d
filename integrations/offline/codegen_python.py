"""Generates a small working Python package for an entity: model, repository, service, HTTP routes, tests."""

from __future__ import annotations

import json
from string import Template
from textwrap import dedent

from integrations.offline.codespec import OPEN, CodeSpec, FieldSpec
from integrations.offline.words import article, plural

ROUTED_FRAMEWORKS = ("", "none", "starlette", "fastapi")
PY_TYPES = {
    "text": "str",
    "note": "str",
    "money": "float",
    "count": "int",
    "date": "str",
    "email": "str",
    "flag": "bool",
}
DEFAULTS = {"note": '""', "flag": "False"}
CHECKS = {
    "text": """
        def _text(field: str, value: Any) -> str:
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(field, "must be a non-empty string")
            if len(value) > MAX_TEXT:
                raise ValidationError(field, f"must be at most {MAX_TEXT} characters")
            return value.strip()
        """,
    "note": """
        def _note(field: str, value: Any) -> str:
            if not isinstance(value, str):
                raise ValidationError(field, "must be a string")
            if len(value) > MAX_NOTE:
                raise ValidationError(field, f"must be at most {MAX_NOTE} characters")
            return value
        """,
    "money": """
        def _money(field: str, value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValidationError(field, "must be a number")
            if value < 0:
                raise ValidationError(field, "must not be negative")
            return round(float(value), 2)
        """,
    "count": """
        def _count(field: str, value: Any) -> int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(field, "must be a whole number")
            if value < 0:
                raise ValidationError(field, "must not be negative")
            return value
        """,
    "date": """
        def _date(field: str, value: Any) -> str:
            if isinstance(value, str):
                try:
                    return date.fromisoformat(value).isoformat()
                except ValueError:
                    pass
            raise ValidationError(field, "must be a date like 2030-01-31")
        """,
    "email": """
        def _email(field: str, value: Any) -> str:
            if not isinstance(value, str) or not EMAIL.fullmatch(value.strip()):
                raise ValidationError(field, "must be an email address like name@example.com")
            return value.strip().lower()
        """,
    "flag": """
        def _flag(field: str, value: Any) -> bool:
            if not isinstance(value, bool):
                raise ValidationError(field, "must be true or false")
            return value
        """,
}


def literal(value: object) -> str:
    """A Python literal in the generated code's style (double-quoted strings)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        return "(" + ", ".join(map(literal, value)) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(map(literal, value)) + "]"
    return repr(value)


def render(template: str, **values: str) -> str:
    """Fill a dedented `$name` template; the newline right after the opening quotes is dropped."""
    return _fill(Template, template, values)


class _JsTemplate(Template):
    delimiter = "%%"  # JavaScript template literals use ${...}


def render_js(template: str, **values: str) -> str:
    """Like `render`, with `%%{name}` placeholders."""
    return _fill(_JsTemplate, template, values)


def _fill(kind: type[Template], template: str, values: dict[str, str]) -> str:
    text = dedent(template)
    return kind(text.removeprefix("\n")).substitute(values)


def _ordered_fields(spec: CodeSpec) -> list[FieldSpec]:
    return [f for f in spec.fields if f.required] + [f for f in spec.fields if not f.required]


MODEL_PY = '''
        """The $entity record and the validation of its input; every error names the field."""
        from __future__ import annotations

        ${imports}from typing import Any

        ${constants}

        class ValidationError(ValueError):
            """Input that cannot be stored; `field` names what is wrong."""

            def __init__(self, field: str, message: str):
                super().__init__(f"{field}: {message}")
                self.field = field
                self.message = message


        @dataclass
        class $Entity:
            id: int
        ${attributes}

            def to_dict(self) -> dict[str, Any]:
                return asdict(self)


        ${checks}


        CHECKS = {${table}}


        def clean(payload: Any, *, partial: bool = False) -> dict[str, Any]:
            """Validated values from `payload`; `partial` (updates) allows any subset of the fields."""
            if not isinstance(payload, dict):
                raise ValidationError("body", "must be a JSON object")
            unknown = sorted(set(payload) - set(FIELDS))
            if unknown:
                raise ValidationError(unknown[0], "is not a known field")
            if not partial:
                for name in REQUIRED:
                    if payload.get(name) is None:
                        raise ValidationError(name, "is required")
            return {name: CHECKS[name](name, value) for name, value in payload.items()}
        '''


def model_py(spec: CodeSpec) -> str:
    kinds = list(dict.fromkeys(f.kind for f in spec.fields))
    imports = ["import re\n"] if "email" in kinds else []
    imports += ["from dataclasses import asdict, dataclass\n"]
    imports += ["from datetime import date\n"] if "date" in kinds else []
    constants = []
    if spec.statuses:
        constants.append(f"STATUSES = {literal(spec.statuses)}\nINITIAL_STATUS = {literal(OPEN)}\n")
    constants.append(f"FIELDS = {literal(tuple(f.name for f in spec.fields))}\n")
    constants.append(f"REQUIRED = {literal(tuple(f.name for f in spec.fields if f.required))}\n")
    constants += ["MAX_TEXT = 200\n"] if "text" in kinds else []
    constants += ["MAX_NOTE = 5000\n"] if "note" in kinds else []
    constants += ['EMAIL = re.compile(r"[^@\\s]+@[^@\\s]+\\.[a-z]{2,}", re.IGNORECASE)\n'] if "email" in kinds else []
    attributes = [
        f"    {f.name}: {PY_TYPES[f.kind]}" + (f" = {DEFAULTS[f.kind]}" if f.kind in DEFAULTS else "")
        for f in _ordered_fields(spec)
    ]
    attributes += ["    status: str = INITIAL_STATUS"] if spec.statuses else []
    checks = "\n\n\n".join(dedent(CHECKS[k]).strip() for k in kinds)
    table = ", ".join(f'"{f.name}": _{f.kind}' for f in spec.fields)
    return render(
        MODEL_PY,
        entity=spec.entity,
        Entity=spec.pascal,
        imports="".join(imports),
        constants="".join(constants),
        attributes="\n".join(attributes),
        checks=checks,
        table=table,
    )


def repository_py(spec: CodeSpec) -> str:
    return render(
        '''
        """In-memory storage of ${plural}, keyed by id (swap for a database-backed class with the same methods)."""
        from __future__ import annotations

        from itertools import count

        from ${package}.model import ${Entity}


        class InMemory${Entity}Repository:
            def __init__(self) -> None:
                self._rows: dict[int, ${Entity}] = {}
                self._ids = count(1)

            def next_id(self) -> int:
                return next(self._ids)

            def add(self, ${var}: ${Entity}) -> None:
                self._rows[${var}.id] = ${var}

            def get(self, ${var_id}: int) -> ${Entity} | None:
                return self._rows.get(${var_id})

            def all(self) -> list[${Entity}]:
                return sorted(self._rows.values(), key=lambda row: row.id)

            def remove(self, ${var_id}: int) -> None:
                self._rows.pop(${var_id}, None)
        ''',
        plural=plural(spec.entity),
        package=spec.package,
        Entity=spec.pascal,
        var=spec.snake,
        var_id=spec.id_name,
    )


def _action_methods(spec: CodeSpec) -> str:
    methods = []
    for action, target, sources in spec.actions:
        methods.append(
            render(
                '''
            def ${action}(self, ${var_id}: int) -> ${Entity}:
                """Move ${article} ${entity} to ${target} (allowed from ${sources})."""
                return self.perform(${var_id}, "${action}")
            ''',
                action=action,
                var=spec.snake,
                var_id=spec.id_name,
                Entity=spec.pascal,
                article=article(spec.entity),
                entity=spec.entity,
                target=target,
                sources=", ".join(sources),
            )
        )
    return "".join("\n" + _indent(m) for m in methods)


def _indent(text: str, by: str = "    ") -> str:
    return "".join(by + line if line.strip() else line for line in text.splitlines(keepends=True))


SERVICE_PY = '''
        """${Title} use cases: ${uses}."""
        from __future__ import annotations

        ${imports}from typing import Any

        from ${package}.model import ${model_names}
        from ${package}.repository import InMemory${Entity}Repository

        ${transitions}${errors}

        class ${Entity}Service:
            def __init__(self, repository: InMemory${Entity}Repository | None = None) -> None:
                self.repository = repository or InMemory${Entity}Repository()

            def create(self, payload: Any) -> ${Entity}:
                ${var} = ${Entity}(id=self.repository.next_id(), **clean(payload))
                self.repository.add(${var})
                return ${var}

            def get(self, ${var_id}: int) -> ${Entity}:
                ${var} = self.repository.get(${var_id})
                if ${var} is None:
                    raise NotFoundError(f"${entity} {${var_id}} not found")
                return ${var}

            def search(self, query: str = "") -> list[${Entity}]:
                """All ${plural} in id order; with a query, those whose values contain it (case-insensitive)."""
                needle = query.strip().lower()
                return [row for row in self.repository.all() if needle in _searchable_text(row)]

            def update(self, ${var_id}: int, payload: Any) -> ${Entity}:
                ${var} = self.get(${var_id})
                for name, value in clean(payload, partial=True).items():
                    setattr(${var}, name, value)
                return ${var}

            def delete(self, ${var_id}: int) -> None:
                self.get(${var_id})
                self.repository.remove(${var_id})
        ${perform}${actions}${export}

        def _searchable_text(${var}: ${Entity}) -> str:
            return " ".join(str(value) for value in ${var}.to_dict().values()).lower()
        '''


def service_py(spec: CodeSpec) -> str:
    uses = (
        ["create", "read", "update", "delete", "search"]
        + [a for a, _, _ in spec.actions]
        + (["CSV export"] if spec.export else [])
    )
    imports = ["import csv\n", "import io\n"] if spec.export else []
    model_names = (
        (["FIELDS"] if spec.export else []) + [spec.pascal] + (["ValidationError"] if spec.actions else []) + ["clean"]
    )
    transitions = ""
    if spec.actions:
        rows = "".join(f'    "{a}": ("{t}", {literal(s)}),\n' for a, t, s in spec.actions)
        transitions = f"# action -> (status after, statuses it may start from)\nTRANSITIONS = {{\n{rows}}}\n\n\n"
    errors = render(
        '''
        class NotFoundError(LookupError):
            """No ${entity} has the requested id."""
        ''',
        entity=spec.entity,
    )
    if spec.actions:
        errors += "\n\n" + render(
            '''
            class TransitionError(ValueError):
                """The action is not allowed from the ${entity}'s current status."""
            ''',
            entity=spec.entity,
        )
    perform = (
        _indent(
            render(
                """

        def perform(self, ${var_id}: int, action: str) -> ${Entity}:
            if action not in TRANSITIONS:
                raise ValidationError("action", f"unknown action {action!r}; known: {', '.join(TRANSITIONS)}")
            ${var} = self.get(${var_id})
            target, sources = TRANSITIONS[action]
            if ${var}.status not in sources:
                raise TransitionError(f"cannot {action} ${article} ${entity} that is {${var}.status}")
            ${var}.status = target
            return ${var}
        """,
                var=spec.snake,
                var_id=spec.id_name,
                Entity=spec.pascal,
                article=article(spec.entity),
                entity=spec.entity,
            )
        )
        if spec.actions
        else ""
    )
    export = (
        _indent(
            render(
                '''

        def export_csv(self, query: str = "") -> str:
            """The matching ${plural} as CSV: a header row, then one row per ${entity}."""
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\\n")
            writer.writerow(("id", *FIELDS${status_header}))
            for row in self.search(query):
                writer.writerow((row.id, *(getattr(row, name) for name in FIELDS)${status_cell}))
            return buffer.getvalue()
        ''',
                plural=plural(spec.entity),
                entity=spec.entity,
                status_header=', "status"' if spec.actions else "",
                status_cell=", row.status" if spec.actions else "",
            )
        )
        if spec.export
        else ""
    )
    return render(
        SERVICE_PY,
        Title=spec.entity.capitalize(),
        uses=", ".join(uses),
        imports="".join(imports),
        package=spec.package,
        model_names=", ".join(model_names),
        Entity=spec.pascal,
        transitions=transitions,
        errors=errors,
        var=spec.snake,
        var_id=spec.id_name,
        entity=spec.entity,
        plural=plural(spec.entity),
        perform=perform,
        actions=_action_methods(spec),
        export=export,
    )


ROUTES_PY = '''
        """Starlette routes for ${plural}: JSON in and out, 400 names the bad field, 404 unknown ids${conflict_doc}."""
        from __future__ import annotations

        import json
        from typing import Any

        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        from ${package}.model import ValidationError
        from ${package}.service import ${Entity}Service, ${service_errors}


        def create_app(service: ${Entity}Service | None = None) -> Starlette:
            service = service or ${Entity}Service()

            async def collection(request: Request) -> Response:
                if request.method == "POST":
                    created = service.create(await _json(request))
                    return JSONResponse(created.to_dict(), status_code=201)
                rows = service.search(request.query_params.get("q", ""))
                return JSONResponse([row.to_dict() for row in rows])

            async def item(request: Request) -> Response:
                ${var_id} = request.path_params["${var_id}"]
                if request.method == "PATCH":
                    return JSONResponse(service.update(${var_id}, await _json(request)).to_dict())
                if request.method == "DELETE":
                    service.delete(${var_id})
                    return Response(status_code=204)
                return JSONResponse(service.get(${var_id}).to_dict())
        ${endpoints}
            routes = [
                Route("${url}", collection, methods=["GET", "POST"]),
        ${extra_routes}    ]
            return Starlette(routes=routes, exception_handlers={
                ${handlers},
            })


        async def _json(request: Request) -> Any:
            try:
                return await request.json()
            except json.JSONDecodeError:
                raise ValidationError("body", "is not valid JSON") from None


        async def _invalid(request: Request, exc: Exception) -> Response:
            return JSONResponse({"error": getattr(exc, "message", str(exc)), "field": getattr(exc, "field", None)},
                                status_code=400)


        async def _not_found(request: Request, exc: Exception) -> Response:
            return JSONResponse({"error": str(exc)}, status_code=404)${conflict}
        '''


def routes_py(spec: CodeSpec) -> str:
    service_errors = ["NotFoundError"] + (["TransitionError"] if spec.actions else [])
    handlers = ["ValidationError: _invalid", "NotFoundError: _not_found"] + (
        ["TransitionError: _conflict"] if spec.actions else []
    )
    extra_routes = ""
    if spec.export:
        extra_routes += f'        Route("{spec.url}/export.csv", export, methods=["GET"]),\n'
    extra_routes += f'        Route("{spec.url}/{{{spec.id_name}:int}}", item, methods=["GET", "PATCH", "DELETE"]),\n'
    if spec.actions:
        extra_routes += f'        Route("{spec.url}/{{{spec.id_name}:int}}/{{action}}", action, methods=["POST"]),\n'
    endpoints = ""
    if spec.actions:
        endpoints += _indent(
            render(
                """

            async def action(request: Request) -> Response:
                changed = service.perform(request.path_params["${var_id}"], request.path_params["action"])
                return JSONResponse(changed.to_dict())
            """,
                var=spec.snake,
                var_id=spec.id_name,
            )
        )
    if spec.export:
        endpoints += _indent(
            render("""

            async def export(request: Request) -> Response:
                return Response(service.export_csv(request.query_params.get("q", "")), media_type="text/csv")
            """)
        )
    conflict = (
        render("""



        async def _conflict(request: Request, exc: Exception) -> Response:
            return JSONResponse({"error": str(exc)}, status_code=409)
        """)
        if spec.actions
        else ""
    )
    return render(
        ROUTES_PY,
        plural=plural(spec.entity),
        conflict_doc=", 409 refused actions" if spec.actions else "",
        package=spec.package,
        Entity=spec.pascal,
        service_errors=", ".join(service_errors),
        var_id=spec.id_name,
        endpoints=endpoints,
        url=spec.url,
        extra_routes=extra_routes,
        handlers=",\n        ".join(handlers),
        conflict=conflict,
    )


FASTAPI_ROUTES_PY = '''
        """FastAPI routes for ${plural}: JSON in and out, 400 names the bad field, 404 unknown ids${conflict_doc}."""
        from __future__ import annotations

        from typing import Any

        from fastapi import Body, FastAPI, Request
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import JSONResponse, Response

        from ${package}.model import ValidationError
        from ${package}.service import ${Entity}Service, ${service_errors}


        def create_app(service: ${Entity}Service | None = None) -> FastAPI:
            service = service or ${Entity}Service()
            app = FastAPI(title="${plural}")

            @app.get("${url}")
            def list_all(q: str = "") -> list[dict[str, Any]]:
                return [row.to_dict() for row in service.search(q)]

            @app.post("${url}", status_code=201)
            def create(payload: Any = Body(...)) -> dict[str, Any]:
                return service.create(payload).to_dict()
        ${endpoints}
            @app.get("${url}/{${var_id}}")
            def fetch(${var_id}: int) -> dict[str, Any]:
                return service.get(${var_id}).to_dict()

            @app.patch("${url}/{${var_id}}")
            def update(${var_id}: int, payload: Any = Body(...)) -> dict[str, Any]:
                return service.update(${var_id}, payload).to_dict()

            @app.delete("${url}/{${var_id}}", status_code=204)
            def delete(${var_id}: int) -> Response:
                service.delete(${var_id})
                return Response(status_code=204)

            @app.exception_handler(ValidationError)
            async def invalid(request: Request, exc: ValidationError) -> JSONResponse:
                return JSONResponse({"error": exc.message, "field": exc.field}, status_code=400)

            @app.exception_handler(RequestValidationError)
            async def unreadable(request: Request, exc: RequestValidationError) -> JSONResponse:
                where = next(iter(exc.errors()), {}).get("loc", ("body",))
                field = "body" if where[0] == "body" else str(where[-1])
                return JSONResponse({"error": "is not valid", "field": field}, status_code=400)

            @app.exception_handler(NotFoundError)
            async def not_found(request: Request, exc: NotFoundError) -> JSONResponse:
                return JSONResponse({"error": str(exc)}, status_code=404)${conflict}

            return app
        '''


def fastapi_routes_py(spec: CodeSpec) -> str:
    endpoints = ""
    if spec.export:
        endpoints += _indent(
            render(
                """

                @app.get("${url}/export.csv")
                def export(q: str = "") -> Response:
                    return Response(service.export_csv(q), media_type="text/csv")
            """,
                url=spec.url,
            )
        )
    if spec.actions:
        endpoints += _indent(
            render(
                """

                @app.post("${url}/{${var_id}}/{action}")
                def perform(${var_id}: int, action: str) -> dict[str, Any]:
                    return service.perform(${var_id}, action).to_dict()
            """,
                url=spec.url,
                var_id=spec.id_name,
            )
        )
    conflict = (
        _indent(
            render("""


                @app.exception_handler(TransitionError)
                async def conflict(request: Request, exc: TransitionError) -> JSONResponse:
                    return JSONResponse({"error": str(exc)}, status_code=409)""")
        )
        if spec.actions
        else ""
    )
    return render(
        FASTAPI_ROUTES_PY,
        plural=plural(spec.entity),
        conflict_doc=", 409 refused actions" if spec.actions else "",
        package=spec.package,
        Entity=spec.pascal,
        service_errors=", ".join(["NotFoundError"] + (["TransitionError"] if spec.actions else [])),
        var_id=spec.id_name,
        url=spec.url,
        endpoints=endpoints,
        conflict=conflict,
    )
