"""Generates `rules.py` (one function or class per business rule of the requirement) and tests at each boundary."""

from __future__ import annotations

from collections.abc import Callable
from textwrap import dedent, indent

from integrations.offline.rules import Rule

WINDOWS = {
    "second": "seconds=1",
    "minute": "minutes=1",
    "hour": "hours=1",
    "day": "days=1",
    "week": "weeks=1",
    "month": "days=30",
    "year": "days=365",
}
PREAMBLE = '''"""The requirement's explicit rules, one function or class each; a broken rule raises RuleBroken."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta


class RuleBroken(ValueError):
    """A business rule refused an action; `rule` names it (R1, R2, ... as in the PRD)."""

    def __init__(self, rule: str, message: str):
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
'''
HELPERS = {
    "working_days": '''

def working_days_between(start: datetime, end: datetime) -> int:
    """Monday to Friday days after `start`'s day up to and including `end`'s day."""
    day, count = start.date(), 0
    while day < end.date():
        day = date.fromordinal(day.toordinal() + 1)
        count += day.weekday() < 5
    return count
''',
    "rate": '''

class SlidingWindowLimit:
    """At most `limit` units per `window` for each key (an account, a customer, an API key)."""

    def __init__(self, rule: str, limit: float, window: timedelta):
        self.rule, self.limit, self.window = rule, limit, window
        self._hits: dict[str, list[tuple[datetime, float]]] = defaultdict(list)

    def hit(self, key: str, now: datetime, amount: float = 1) -> None:
        recent = [(at, n) for at, n in self._hits[key] if now - at < self.window]
        if sum(n for _, n in recent) + amount > self.limit:
            self._hits[key] = recent
            raise RuleBroken(self.rule, f"at most {self.limit:g} per {self.window}")
        self._hits[key] = [*recent, (now, amount)]
''',
    "once": '''

class OneTimeUse:
    """Each key may be used once."""

    def __init__(self, rule: str):
        self.rule = rule
        self._used: set[str] = set()

    def use(self, key: str) -> None:
        if key in self._used:
            raise RuleBroken(self.rule, f"{key!r} was already used")
        self._used.add(key)
''',
}


def _delta(r: Rule) -> str:
    unit = r.unit.rstrip("s")
    return f"timedelta({unit}s={r.whole})"


def _time_limit(name: str, rule: str, r: Rule) -> tuple[str, str, set[str]]:
    if "working" in r.unit or "business" in r.unit:
        code = f'''
def {name}(started_at: datetime, now: datetime) -> None:
    if working_days_between(started_at, now) > {r.whole}:
        raise RuleBroken("{rule}", "more than {r.whole} {r.unit} have passed")
'''
        test = f"""
    start = datetime(2030, 1, 7, 9, 0)  # a Monday
    rules.{name}(start, start + timedelta(days={r.whole}))  # {r.whole} {r.unit} later
    with pytest.raises(rules.RuleBroken):
        rules.{name}(start, start + timedelta(days={r.whole} + 1 + 2 * ({r.whole} >= 5)))
"""
        return code, test, {"working_days"}
    code = f'''
LIMIT_{rule} = {_delta(r)}


def {name}(started_at: datetime, now: datetime) -> None:
    if now - started_at > LIMIT_{rule}:
        raise RuleBroken("{rule}", "more than {r.whole} {r.unit} have passed")
'''
    test = f"""
    start = datetime(2030, 1, 7, 9, 0)
    rules.{name}(start, start + {_delta(r)})
    with pytest.raises(rules.RuleBroken):
        rules.{name}(start, start + {_delta(r)} + timedelta(seconds=1))
"""
    return code, test, set()


def _cutoff(name: str, rule: str, r: Rule) -> tuple[str, str, set[str]]:
    code = f'''
def {name}(starts_at: datetime, now: datetime) -> None:
    if starts_at - now < {_delta(r)}:
        raise RuleBroken("{rule}", "less than {r.whole} {r.unit} before the start")
'''
    test = f"""
    starts = datetime(2030, 1, 7, 9, 0)
    rules.{name}(starts, starts - {_delta(r)})
    with pytest.raises(rules.RuleBroken):
        rules.{name}(starts, starts - {_delta(r)} + timedelta(seconds=1))
"""
    return code, test, set()


def _rate(name: str, rule: str, r: Rule) -> tuple[str, str, set[str]]:
    window = WINDOWS.get(r.unit, "hours=1")
    code = f'''
def {name}() -> SlidingWindowLimit:
    return SlidingWindowLimit("{rule}", {r.whole}, timedelta({window}))
'''
    test = f"""
    limit, now = rules.{name}(), datetime(2030, 1, 7, 9, 0)
    for _ in range({r.whole}):  # {r.whole} per {r.unit}
        limit.hit("account-1", now)
    with pytest.raises(rules.RuleBroken):
        limit.hit("account-1", now)
    limit.hit("account-2", now)
    limit.hit("account-1", now + timedelta({window}))
"""
    return code, test, {"rate"}


def _bounded(check: str, message: str, ok: str, bad: str) -> Callable[[str, str, Rule], tuple[str, str, set[str]]]:
    def build(name: str, rule: str, r: Rule) -> tuple[str, str, set[str]]:
        code = f'''
def {name}(value: float) -> None:
    if {check.format(n=r.whole)}:
        raise RuleBroken("{rule}", "{message.format(n=r.whole, unit=r.unit)}")
'''
        test = f"""
    rules.{name}({ok.format(n=r.whole)})
    with pytest.raises(rules.RuleBroken):
        rules.{name}({bad.format(n=r.whole)})
"""
        return code, test, set()

    return build


def _predicate(expr: str, yes: str, no: str) -> Callable[[str, str, Rule], tuple[str, str, set[str]]]:
    def build(name: str, rule: str, r: Rule) -> tuple[str, str, set[str]]:
        code = f"""
def {name}(value: float) -> bool:
    return {expr.format(n=r.whole)}
"""
        test = f"""
    assert rules.{name}({yes.format(n=r.whole)})
    assert not rules.{name}({no.format(n=r.whole)})
"""
        return code, test, set()

    return build


def _threshold(name: str, rule: str, r: Rule) -> tuple[str, str, set[str]]:
    if r.values and r.values[0] == "below":
        return _predicate("value < {n}", "{n} - 1", "{n}")(name, rule, r)
    return _predicate("value > {n}", "{n} + 1", "{n}")(name, rule, r)


def _once(name: str, rule: str, r: Rule) -> tuple[str, str, set[str]]:
    code = f'''
def {name}() -> OneTimeUse:
    return OneTimeUse("{rule}")
'''
    test = f"""
    once = rules.{name}()
    once.use("key-1")
    with pytest.raises(rules.RuleBroken):
        once.use("key-1")  # used once already
    once.use("key-2")
"""
    return code, test, {"once"}


def _no_overlap(name: str, rule: str, r: Rule) -> tuple[str, str, set[str]]:
    code = f'''
def {name}(taken: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> None:
    if any(start < other_end and other_start < end for other_start, other_end in taken):
        raise RuleBroken("{rule}", "it would overlap an existing one")
'''
    test = f"""
    nine, ten, eleven = (datetime(2030, 1, 7, h, 0) for h in (9, 10, 11))
    rules.{name}([(nine, ten)], ten, eleven)  # back to back does not overlap
    with pytest.raises(rules.RuleBroken):
        rules.{name}([(nine, eleven)], ten, eleven)
"""
    return code, test, set()


def _allowed(name: str, rule: str, r: Rule) -> tuple[str, str, set[str]]:
    code = f'''
ALLOWED_{rule} = frozenset({sorted(r.values)!r})


def {name}(filename: str) -> None:
    if filename.rsplit(".", 1)[-1].lower() not in ALLOWED_{rule}:
        raise RuleBroken("{rule}", "only {" and ".join(v.upper() for v in r.values)} are accepted")
'''
    oks = "\n".join(f'    rules.{name}("file.{v}")' for v in r.values)
    test = f"""
{oks}
    with pytest.raises(rules.RuleBroken):
        rules.{name}("file.exe")
"""
    return code, test, set()


def _only_roles(name: str, rule: str, r: Rule) -> tuple[str, str, set[str]]:
    role = r.values[0].rstrip("s")
    code = f'''
def {name}(role: str) -> bool:
    return role.lower().rstrip("s") == "{role}"
'''
    test = f"""
    assert rules.{name}("{role}")
    assert not rules.{name}("reader")
"""
    return code, test, set()


def _expired(name: str, rule: str, r: Rule) -> tuple[str, str, set[str]]:
    code = f'''
def {name}(expires_at: datetime, now: datetime) -> None:
    if now >= expires_at:
        raise RuleBroken("{rule}", "it has expired")
'''
    test = f"""
    expires = datetime(2030, 1, 7, 9, 0)
    rules.{name}(expires, expires - timedelta(seconds=1))
    with pytest.raises(rules.RuleBroken):
        rules.{name}(expires, expires)  # expired
"""
    return code, test, set()


def _schedule(name: str, rule: str, r: Rule) -> tuple[str, str, set[str]]:
    period = {"hour": "timedelta(hours=1)", "hourly": "timedelta(hours=1)", "week": "timedelta(weeks=1)"}
    weekly = {"weekly": "timedelta(weeks=1)"}
    every = period.get(r.unit) or weekly.get(r.unit)
    due = f"now - last_run >= {every}" if every else "now.date() > last_run.date()"
    code = f"""
def {name}(last_run: datetime | None, now: datetime) -> bool:
    return last_run is None or {due}
"""
    later = every or "timedelta(days=1)"
    test = f"""
    last = datetime(2030, 1, 7, 1, 0)
    assert rules.{name}(None, last)
    assert not rules.{name}(last, last + timedelta(minutes=5))
    assert rules.{name}(last, last + {later})
"""
    return code, test, set()


BUILDERS: dict[str, Callable[[str, str, Rule], tuple[str, str, set[str]]]] = {
    "time_limit": _time_limit,
    "cutoff": _cutoff,
    "rate_limit": _rate,
    "max_attempts": _predicate("value >= {n}", "{n}", "{n} - 1"),
    "size_limit": _bounded(
        "value > {n} * 1024 * 1024", "larger than {n} {unit}", "{n} * 1024 * 1024", "{n} * 1024 * 1024 + 1"
    ),
    "percent_limit": _bounded("value > {n}", "more than {n}%", "{n}", "{n} + 1"),
    "max_count": _bounded("value > {n}", "more than {n} {unit}", "{n}", "{n} + 1"),
    "min_count": _predicate("value >= {n}", "{n}", "{n} - 1"),
    "threshold": _threshold,
    "once": _once,
    "no_overlap": _no_overlap,
    "non_negative": _bounded("value < 0", "it would go below zero", "0", "-1"),
    "allowed_values": _allowed,
    "only_roles": _only_roles,
    "expired_refused": _expired,
    "schedule": _schedule,
}
NAMES = {
    "time_limit": "within_time_limit",
    "cutoff": "before_cutoff",
    "rate_limit": "rate_limit",
    "max_attempts": "locked_after_attempts",
    "size_limit": "within_size_limit",
    "percent_limit": "within_percent_limit",
    "max_count": "within_count_limit",
    "min_count": "minimum_reached",
    "threshold": "past_threshold",
    "once": "one_time_use",
    "no_overlap": "no_overlap",
    "non_negative": "not_negative",
    "allowed_values": "allowed_value",
    "only_roles": "visible_to",
    "expired_refused": "not_expired",
    "schedule": "is_due",
}


def _numbered(rules: list[Rule]) -> list[tuple[str, str, Rule]]:
    """(rule id as in the PRD, function name, rule): R<n> numbers sentences; a second rule of a kind gets a suffix."""
    sentences = list(dict.fromkeys(r.sentence for r in rules))
    seen: set[str] = set()
    named = []
    for r in rules:
        rule = f"R{sentences.index(r.sentence) + 1}"
        name = f"{rule.lower()}_{NAMES[r.kind]}"
        while name in seen:
            name += "_2"
        seen.add(name)
        named.append((rule, name, r))
    return named


def rules_py(rules: list[Rule]) -> str:
    parts, helpers = [], set()
    for rule, name, r in _numbered(rules):
        code, _, needs = BUILDERS[r.kind](name, rule, r)
        helpers |= needs
        parts.append(f"\n# {rule}: {r.sentence}" + code)
    return PREAMBLE + "".join(HELPERS[h] for h in sorted(helpers)) + "\n" + "\n".join(parts)


def rules_tests_py(rules: list[Rule], package: str) -> str:
    head = (
        '"""Each business rule of the requirement at its boundary: just inside passes, just past is refused."""\n\n'
        f"from datetime import datetime, timedelta\n\nimport pytest\n\nfrom {package} import rules\n"
    )
    tests = []
    for rule, name, r in _numbered(rules):
        _, body, _ = BUILDERS[r.kind](name, rule, r)
        doc = f"{rule}: {r.sentence}".replace("\\", "\\\\").replace('"', '\\"')
        tests.append(f'\n\ndef test_{name}():\n    """{doc}"""' + indent(dedent(body), "    ").rstrip() + "\n")
    return head + "".join(tests)
