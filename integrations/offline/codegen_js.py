"""Generates a JavaScript (ES module) service for an entity with validation and actions, plus node:test tests."""

from __future__ import annotations

import json

from integrations.offline.codegen_python import render_js as render
from integrations.offline.codegen_python_tests import CHANGED
from integrations.offline.codespec import OPEN, CodeSpec
from integrations.offline.words import article, plural

CHECKS_JS = {
    "text": """
        function text(field, value) {
          if (typeof value !== 'string' || value.trim() === '') {
            throw new ValidationError(field, 'must be a non-empty string');
          }
          if (value.length > MAX_TEXT) throw new ValidationError(field, `must be at most ${MAX_TEXT} characters`);
          return value.trim();
        }
        """,
    "note": """
        function note(field, value) {
          if (typeof value !== 'string') throw new ValidationError(field, 'must be a string');
          return value;
        }
        """,
    "money": """
        function money(field, value) {
          if (typeof value !== 'number' || !Number.isFinite(value)) {
            throw new ValidationError(field, 'must be a number');
          }
          if (value < 0) throw new ValidationError(field, 'must not be negative');
          return Math.round(value * 100) / 100;
        }
        """,
    "count": """
        function count(field, value) {
          if (!Number.isInteger(value)) throw new ValidationError(field, 'must be a whole number');
          if (value < 0) throw new ValidationError(field, 'must not be negative');
          return value;
        }
        """,
    "date": """
        function isoDate(field, value) {
          const wellFormed = typeof value === 'string' && /^\\d{4}-\\d{2}-\\d{2}$/.test(value);
          const parsed = wellFormed ? new Date(`${value}T00:00:00Z`) : null;
          if (!parsed || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value) {
            throw new ValidationError(field, 'must be a date like 2030-01-31');
          }
          return value;
        }
        """,
    "email": """
        function email(field, value) {
          if (typeof value !== 'string' || !/^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$/i.test(value.trim())) {
            throw new ValidationError(field, 'must be an email address like name@example.com');
          }
          return value.trim().toLowerCase();
        }
        """,
    "flag": """
        function flag(field, value) {
          if (typeof value !== 'boolean') throw new ValidationError(field, 'must be true or false');
          return value;
        }
        """,
}
CHECK_NAMES = {
    "text": "text",
    "note": "note",
    "money": "money",
    "count": "count",
    "date": "isoDate",
    "email": "email",
    "flag": "flag",
}
DEFAULTS_JS = {"note": "''", "flag": "false"}


def _js(value: object) -> str:
    return json.dumps(value)


SERVICE_MJS = """
        // %%{Title} records: validation naming the field, in-memory storage%%{more}.

        export class ValidationError extends Error {
          constructor(field, message) {
            super(`${field}: ${message}`);
            this.field = field;
          }
        }
        export class NotFoundError extends Error {}
        %%{classes}
        %%{constants}const FIELDS = %%{fields};
        const REQUIRED = %%{required};
        %%{transitions}

        %%{checks}
        const CHECKS = { %%{table} };

        export function clean(payload, partial = false) {
          if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
            throw new ValidationError('body', 'must be a JSON object');
          }
          const unknown = Object.keys(payload).filter((name) => !FIELDS.includes(name)).sort();
          if (unknown.length > 0) throw new ValidationError(unknown[0], 'is not a known field');
          if (!partial) {
            const missing = REQUIRED.find((name) => payload[name] === undefined || payload[name] === null);
            if (missing) throw new ValidationError(missing, 'is required');
          }
          return Object.fromEntries(Object.entries(payload).map(([name, value]) => [name, CHECKS[name](name, value)]));
        }

        export class %%{Entity}Service {
          #rows = new Map();
          #nextId = 1;

          create(payload) {
            const row = { id: this.#nextId, %%{defaults_spread}...clean(payload)%%{status_init} };
            this.#nextId += 1;
            this.#rows.set(row.id, row);
            return { ...row };
          }

          #row(id) {
            const row = this.#rows.get(id);
            if (!row) throw new NotFoundError(`%%{entity} ${id} not found`);
            return row;
          }

          get(id) {
            return { ...this.#row(id) };
          }

          search(query = '') {
            const needle = query.trim().toLowerCase();
            return [...this.#rows.values()]
              .filter((row) => Object.values(row).join(' ').toLowerCase().includes(needle))
              .map((row) => ({ ...row }));
          }

          update(id, payload) {
            return { ...Object.assign(this.#row(id), clean(payload, true)) };
          }

          delete(id) {
            this.#row(id);
            this.#rows.delete(id);
          }%%{perform}%%{actions}%%{export}
        }
        """


def service_mjs(spec: CodeSpec) -> str:
    kinds = list(dict.fromkeys(f.kind for f in spec.fields))
    checks = "\n".join(render(CHECKS_JS[k]) for k in kinds)
    table = ", ".join(f"{f.name}: {CHECK_NAMES[f.kind]}" for f in spec.fields)
    defaults = ", ".join(f"{f.name}: {DEFAULTS_JS[f.kind]}" for f in spec.fields if f.kind in DEFAULTS_JS)
    rows = "".join(f"  {a}: [{_js(t)}, {_js(list(s))}],\n" for a, t, s in spec.actions)
    transitions = f"const TRANSITIONS = {{\n{rows}}};\n" if spec.actions else ""
    constants = "const MAX_TEXT = 200;\n" if "text" in kinds else ""
    actions = "".join(f"\n  {a}(id) {{\n    return this.perform(id, {_js(a)});\n  }}\n" for a, _, _ in spec.actions)
    status_init = f", status: {_js(OPEN)}" if spec.actions else ""
    perform = (
        render(
            """

          perform(id, action) {
            if (!Object.hasOwn(TRANSITIONS, action)) {
              throw new ValidationError('action', `unknown action ${action}`);
            }
            const row = this.#row(id);
            const [target, sources] = TRANSITIONS[action];
            if (!sources.includes(row.status)) {
              throw new TransitionError(`cannot ${action} %%{article} %%{entity} that is ${row.status}`);
            }
            row.status = target;
            return { ...row };
          }
        """,
            article=article(spec.entity),
            entity=spec.entity,
        )
        if spec.actions
        else ""
    )
    export = (
        render(
            """

          exportCsv(query = '') {
            const columns = ['id', ...FIELDS%%{status_column}];
            const cell = (value) => {
              const text = String(value);
              return /[",\\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
            };
            const rows = this.search(query).map((row) => columns.map((c) => cell(row[c])).join(','));
            return [columns.join(','), ...rows].join('\\n') + '\\n';
          }
        """,
            status_column=", 'status'" if spec.actions else "",
        )
        if spec.export
        else ""
    )
    classes = "export class TransitionError extends Error {}\n" if spec.actions else ""
    more = (", status actions" if spec.actions else "") + (", CSV export" if spec.export else "")
    return render(
        SERVICE_MJS,
        Title=spec.entity.capitalize(),
        more=more,
        classes=classes,
        fields=_js([f.name for f in spec.fields]),
        required=_js([f.name for f in spec.fields if f.required]),
        transitions=transitions,
        checks=checks,
        table=table,
        Entity=spec.pascal,
        defaults_spread=f"{defaults}, " if defaults else "",
        status_init=status_init,
        entity=spec.entity,
        perform=perform.rstrip("\n"),
        actions=actions.rstrip("\n"),
        export=export.rstrip("\n"),
        constants=constants,
    )


def service_test_mjs(spec: CodeSpec) -> str:
    first = spec.fields[0]
    valid = "{ " + ", ".join(f"{f.name}: {_js(f.sample)}" for f in spec.fields) + " }"
    module = f"../src/{spec.camel}Service.mjs"
    tests = [
        render(
            """
        test('create stores a valid %%{entity}', () => {
          const service = new %%{Entity}Service();
          const created = service.create(VALID);
          assert.deepEqual(service.get(created.id), { id: created.id, ...VALID%%{status} });
        });
        """,
            entity=spec.entity,
            Entity=spec.pascal,
            status=f", status: {_js(OPEN)}" if spec.actions else "",
        )
    ]
    tests += [
        render(
            """
        test('create rejects an invalid %%{name}', () => {
          const service = new %%{Entity}Service();
          assert.throws(
            () => service.create({ ...VALID, %%{name}: %%{bad} }),
            (error) => error instanceof ValidationError && error.field === '%%{name}',
          );
        });
        """,
            name=f.name,
            Entity=spec.pascal,
            bad=_js(f.invalid),
        )
        for f in spec.fields
    ]
    tests.append(
        render(
            """
        test('update changes one field and delete removes the %%{entity}', () => {
          const service = new %%{Entity}Service();
          const created = service.create(VALID);
          assert.equal(service.update(created.id, { %%{first}: %%{changed} }).%%{first}, %%{changed});
          service.delete(created.id);
          assert.throws(() => service.get(created.id), NotFoundError);
        });
        """,
            entity=spec.entity,
            Entity=spec.pascal,
            first=first.name,
            changed=_js(CHANGED[first.kind]),
        )
    )
    opening = next(((a, t, s) for a, t, s in spec.actions if OPEN in s), None)
    if opening:
        action, target, sources = opening
        refused = (
            "" if target in sources else f"\n  assert.throws(() => service.{action}(created.id), TransitionError);"
        )
        tests.append(
            render(
                """
            test('%%{action} moves an open %%{entity} to %%{target}', () => {
              const service = new %%{Entity}Service();
              const created = service.create(VALID);
              assert.equal(service.%%{action}(created.id).status, '%%{target}');%%{refused}
            });
            """,
                action=action,
                entity=spec.entity,
                target=target,
                Entity=spec.pascal,
                refused=refused,
            )
        )
    if spec.export:
        tests.append(
            render(
                """
            test('exportCsv writes a header and one row per %%{entity}', () => {
              const service = new %%{Entity}Service();
              service.create(VALID);
              const lines = service.exportCsv().trim().split('\\n');
              assert.equal(lines.length, 2);
              assert.ok(lines[0].startsWith('id,'));
            });
            """,
                entity=spec.entity,
                Entity=spec.pascal,
            )
        )
    names = [f"{spec.pascal}Service", "NotFoundError", "ValidationError"] + (
        ["TransitionError"] if opening and opening[1] not in opening[2] else []
    )
    return render(
        """
        import assert from 'node:assert/strict';
        import { test } from 'node:test';

        import { %%{names} } from '%%{module}';

        const VALID = %%{valid};

        %%{tests}""",
        names=", ".join(names),
        module=module,
        valid=valid,
        tests="\n".join(tests),
    )


def package_json(spec: CodeSpec) -> str:
    return (
        json.dumps(
            {
                "name": spec.package.replace("_", "-"),
                "version": "0.1.0",
                "private": True,
                "type": "module",
                "scripts": {"test": "node --test"},
                "engines": {"node": ">=20"},
            },
            indent=2,
        )
        + "\n"
    )


def readme_md(spec: CodeSpec) -> str:
    actions = "".join(f"- `{a}(id)`: {', '.join(s)} -> {t}\n" for a, t, s in spec.actions)
    return (
        f"# {plural(spec.entity).capitalize()}\n\nGenerated for: {spec.requirement_title}\n\n"
        f"`src/{spec.camel}Service.mjs` exports `{spec.pascal}Service` (create, get, search, update, delete"
        f"{', exportCsv' if spec.export else ''}) and `clean(payload, partial)`; errors carry the field.\n\n"
        + (f"Status actions:\n\n{actions}\n" if actions else "")
        + ("Run the tests with `npm test` (Node 20+, no dependencies).\n" if spec.include_tests else "")
    )
