"""The import graph between Levante's packages, checked against the layers it is meant to have
and written into docs/architecture.md, so that the picture there is the code's.

Each module of ``src/levante`` belongs to a unit: a top-level package or module
(``levante.billing``), or for the HTTP layer one of ``levante.api.app`` (the app factory, and
the package's ``__init__``), ``levante.api.routes``, ``levante.api.schemas`` and
``levante.api`` (the rest: state, middleware, errors, SSE, metrics). An import from one unit of another must be one
of the edges in :data:`ALLOWED`; the front ends import neither the storage layer nor
SQLAlchemy. Run ``.venv/bin/python -m tests.test_architecture`` to rewrite the generated part
of the document after a change to the graph.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).parent.parent
SOURCE = ROOT / "src" / "levante"
DOC = ROOT / "docs" / "architecture.md"
START, END = "<!-- import-graph:start -->", "<!-- import-graph:end -->"

FOUNDATION = {
    "levante.errors",
    "levante.vocabulary",
    "levante.settings",
    "levante.caching",
    "levante.periodic",
    "levante.spreadsheet",
}
BELOW_PACKAGES = FOUNDATION | {"levante.storage", "levante.audit", "levante.mail"}

# The layers, bottom up, and what each unit may import besides the layers under it.
LAYERS: list[tuple[str, dict[str, set[str]]]] = [
    (
        "foundation: the one error hierarchy, the domain's words, the settings, timers, CSV",
        {
            "levante.errors": set(),
            "levante.vocabulary": {"levante.errors"},
            "levante.settings": {"levante.errors", "levante.vocabulary"},
            "levante.caching": set(),
            "levante.periodic": set(),
            "levante.protocol": set(),
            "levante.spreadsheet": set(),
        },
    ),
    (
        "storage: the schema, migrations and sessions; and the audit log and outbox on it",
        {
            "levante.storage": {"levante.errors", "levante.vocabulary"},
            "levante.audit": {"levante.storage"},
            "levante.mail": {"levante.storage", "levante.settings", "levante.periodic"},
        },
    ),
    (
        "capabilities: each package's services, the one place for its rules",
        {
            "levante.engine": {"levante.errors", "levante.settings"},
            "levante.files": BELOW_PACKAGES,
            "levante.guardrails": BELOW_PACKAGES | {"levante.caching", "levante.tenancy"},
            "levante.tenancy": BELOW_PACKAGES | {"levante.engine"},
            "levante.pricing": BELOW_PACKAGES | {"levante.engine", "levante.tenancy"},
            "levante.billing": BELOW_PACKAGES | {"levante.pricing", "levante.tenancy"},
            "levante.metering": BELOW_PACKAGES
            | {"levante.pricing", "levante.tenancy", "levante.billing"},
            "levante.quota": BELOW_PACKAGES
            | {"levante.pricing", "levante.tenancy", "levante.billing", "levante.metering"},
            "levante.licensing": BELOW_PACKAGES
            | {"levante.engine", "levante.pricing", "levante.tenancy", "levante.billing"},
            "levante.serving": BELOW_PACKAGES
            | {
                "levante.engine",
                "levante.protocol",
                "levante.tenancy",
                "levante.metering",
                "levante.quota",
            },
            # Jobs of many requests: the lines run through the serving path (given by the
            # HTTP layer), their usage written with their answers.
            "levante.batch": BELOW_PACKAGES
            | {"levante.files", "levante.tenancy", "levante.metering", "levante.serving"},
            "levante.platform": BELOW_PACKAGES
            | {"levante.billing", "levante.pricing", "levante.tenancy", "levante.support"},
            "levante.identity": BELOW_PACKAGES | {"levante.tenancy", "levante.billing"},
            "levante.chat": BELOW_PACKAGES
            | {
                "levante.engine",
                "levante.pricing",
                "levante.protocol",
                "levante.tenancy",
                "levante.billing",
                "levante.metering",
                "levante.quota",
                "levante.serving",
                "levante.identity",
            },
            "levante.support": BELOW_PACKAGES
            | {
                "levante.files",
                "levante.pricing",
                "levante.tenancy",
                "levante.billing",
                "levante.identity",
            },
            # Reads what billing wrote (charges, invoices, payments); writes only its rates.
            "levante.revenue": BELOW_PACKAGES | {"levante.pricing", "levante.tenancy"},
            # A simulated company, run through the services that bill real ones.
            "levante.simulation": BELOW_PACKAGES
            | {
                "levante.billing",
                "levante.identity",
                "levante.licensing",
                "levante.metering",
                "levante.platform",
                "levante.pricing",
                "levante.revenue",
                "levante.support",
                "levante.tenancy",
            },
        },
    ),
]
PACKAGES = {unit for _, units in LAYERS for unit in units}
FRONT_END_READS = PACKAGES - {"levante.storage"}
LAYERS.append(
    (
        "front ends: parse, call one service, render; no SQL and no storage",
        {
            "levante.api.schemas": FRONT_END_READS,
            # The HTTP machinery (state and its dependencies, middleware, errors, SSE,
            # metrics) holds the database handle and makes request ids; it runs no query.
            "levante.api": FRONT_END_READS | {"levante.storage"},
            "levante.api.routes": FRONT_END_READS | {"levante.api", "levante.api.schemas"},
            # The app factory wires the services together, so it holds the storage types.
            "levante.api.app": FRONT_END_READS
            | {"levante.storage", "levante.api", "levante.api.routes", "levante.web"},
            "levante.cli": FRONT_END_READS,
            # The web pages: the HTTP machinery of levante.api (state, errors, SSE) is theirs
            # too; like the routes, they run no query.
            "levante.web": FRONT_END_READS | {"levante.api"},
            "levante.__main__": {"levante.cli"},
        },
    )
)
ALLOWED: dict[str, set[str]] = {unit: deps for _, units in LAYERS for unit, deps in units.items()}
NO_SQL = {"levante.api.routes", "levante.api.schemas", "levante.cli", "levante.web"}


@dataclass(frozen=True, slots=True)
class Import:
    source: str  # the importing unit
    target: str  # the imported unit, or a third-party top-level package
    where: str  # file:line


def unit_of(module: str) -> str:
    parts = module.split(".")
    if module == "levante.api":  # the package's face is the app factory
        return "levante.api.app"
    if len(parts) > 2 and parts[1] == "api" and parts[2] in ("routes", "schemas", "app"):
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def _is_module(name: str) -> bool:
    path = SOURCE.parent.joinpath(*name.split("."))
    return path.is_dir() or path.with_suffix(".py").is_file()


def imports() -> list[Import]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(SOURCE.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        source = unit_of(module)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = (
                    [f"levante.{alias.name}" for alias in node.names]
                    if node.module == "levante"
                    else [node.module]
                )
            for name in names:
                if name.startswith("levante.") and not _is_module(name):
                    continue  # an attribute of the package, e.g. levante.__version__
                target = unit_of(name) if name.startswith("levante.") else name.split(".")[0]
                if target != source:
                    where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                    found.append(Import(source, target, where))
    return found


def internal_graph() -> dict[str, set[str]]:
    graph: defaultdict[str, set[str]] = defaultdict(set)
    for edge in imports():
        if edge.target.startswith("levante."):
            graph[edge.source].add(edge.target)
    return dict(graph)


def render() -> str:
    """The generated part of docs/architecture.md: the layers and each unit's imports."""
    graph = internal_graph()
    out = [
        START,
        "<!-- generated by tests/test_architecture.py; run "
        "`.venv/bin/python -m tests.test_architecture` to update -->",
        "",
    ]
    for title, units in reversed(LAYERS):
        heading = title[0].upper() + title[1:]
        out += [f"**{heading}**", "", "| unit | imports (today) | may also import |"]
        out.append("|---|---|---|")
        for unit in sorted(units):
            used = sorted(graph.get(unit, set()))
            spare = sorted(ALLOWED[unit] - set(used))
            short = [u.removeprefix("levante.") for u in used]
            out.append(
                f"| `{unit.removeprefix('levante.')}` | {', '.join(short) or '-'} | "
                f"{', '.join(s.removeprefix('levante.') for s in spare) or '-'} |"
            )
        out.append("")
    out += [
        "`api.routes`, `api.schemas`, `cli` and `web` import neither `storage` nor `sqlalchemy`.",
        END,
    ]
    return "\n".join(out)


def test_every_import_between_packages_is_an_allowed_edge() -> None:
    wrong = [
        f"{e.where}: {e.source} imports {e.target}"
        for e in imports()
        if e.target.startswith("levante.") and e.target not in ALLOWED.get(e.source, set())
    ]
    assert not wrong, "imports outside the layers (tests/test_architecture.py):\n" + "\n".join(
        wrong
    )


def test_imports_are_absolute() -> None:
    """A relative import would slip past the graph above: there are none."""
    relative = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted(SOURCE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ImportFrom) and node.level > 0
    ]
    assert not relative, relative


def test_the_front_ends_touch_no_sql() -> None:
    wrong = [
        f"{e.where}: {e.source} imports {e.target}"
        for e in imports()
        if e.source in NO_SQL and e.target in {"sqlalchemy", "levante.storage"}
    ]
    assert not wrong, "\n".join(wrong)


FRONT_ENDS = ("api", "cli", "web")
_ROLE_WORDS = {"role", "roles", "is_admin", "is_operator", "Role"}


def _mentions_a_role(node: ast.AST) -> bool:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and inner.id in _ROLE_WORDS:
            return True
        if isinstance(inner, ast.Attribute) and inner.attr in _ROLE_WORDS:
            return True
    return False


def role_checks() -> list[str]:
    """Comparisons of roles, admin flags or the operator flag in the front ends, and calls
    that read a role there: the decisions only levante.tenancy.permissions may make."""
    found = []
    for front in FRONT_ENDS:
        for path in sorted((SOURCE / front).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                decides = (isinstance(node, ast.Compare) and _mentions_a_role(node)) or (
                    isinstance(node, ast.If) and _mentions_a_role(node.test)
                )
                reads = (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name | ast.Attribute)
                    and getattr(node.func, "id", getattr(node.func, "attr", ""))
                    in ("role_in", "require_manager")
                )
                if decides or reads:
                    found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}")
    return found


def test_the_front_ends_decide_no_permission() -> None:
    assert role_checks() == [], (
        "role checks belong in levante/tenancy/permissions.py, checked by the services"
    )


def test_the_role_check_finder_finds_one() -> None:
    for code in ("if seat.role in (Role.OWNER, Role.ADMIN): pass", "if not caller.is_admin: 1"):
        tree = ast.parse(code)
        found = [n for n in ast.walk(tree) if isinstance(n, ast.If) and _mentions_a_role(n.test)]
        assert found, code


def test_the_allowed_graph_has_no_cycle() -> None:
    done: set[str] = set()

    def visit(unit: str, path: tuple[str, ...]) -> None:
        assert unit not in path, " -> ".join((*path, unit))
        if unit in done:
            return
        for dep in ALLOWED.get(unit, set()):
            visit(dep, (*path, unit))
        done.add(unit)

    for unit in ALLOWED:
        visit(unit, ())


def test_every_unit_is_placed_in_a_layer() -> None:
    units = {e.source for e in imports()} | {
        unit_of(".".join(p.relative_to(SOURCE.parent).with_suffix("").parts))
        for p in SOURCE.glob("*.py")
    }
    assert units - {"levante.__init__"} <= set(ALLOWED), units - set(ALLOWED)


def test_docs_architecture_shows_the_graph_of_today() -> None:
    text = DOC.read_text()
    assert START in text, f"{DOC} lost its generated part"
    assert END in text, f"{DOC} lost its generated part"
    current = text[text.index(START) : text.index(END) + len(END)]
    assert current == render(), (
        "docs/architecture.md is out of date: run .venv/bin/python -m tests.test_architecture"
    )


if __name__ == "__main__":
    text = DOC.read_text()
    before, after = text.split(START)[0], text.split(END)[1]
    DOC.write_text(before + render() + after)
    print(f"wrote the import graph into {DOC.relative_to(ROOT)}")


def _exported(package: Path) -> list[str]:
    tree = ast.parse((package / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return [ast.literal_eval(e) for e in node.value.elts]  # type: ignore[attr-defined]
    return []


@cache
def _taken_from_packages() -> dict[str, set[str]]:
    """What each module (of the source, the tests, the benchmarks) takes from each package
    outside its own: ``from levante.x import name``, or ``x.name`` where ``x`` is the package
    imported as a module. Keyed by package; read once."""
    taken: dict[str, set[str]] = defaultdict(set)
    files = [
        *SOURCE.rglob("*.py"),
        *(ROOT / "tests").rglob("*.py"),
        *(ROOT / "bench").rglob("*.py"),
    ]
    for path in files:
        own = f"levante.{path.relative_to(SOURCE).parts[0]}" if path.is_relative_to(SOURCE) else ""
        tree = ast.parse(path.read_text(), str(path))
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module != own:
                taken[node.module].update(a.name for a in node.names)
                if node.module == "levante":
                    aliases.update((a.asname or a.name, f"levante.{a.name}") for a in node.names)
            elif isinstance(node, ast.Import):
                aliases.update((a.asname, a.name) for a in node.names if a.asname)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                package = aliases.get(node.value.id)
                if package and package != own:
                    taken[package].add(node.attr)
    return taken


def test_each_package_exports_only_what_others_use() -> None:
    """A package's ``__all__`` is its surface for the front ends and the other packages: a name
    nobody outside takes from it belongs inside it."""
    unused = {}
    for init in sorted(SOURCE.glob("*/__init__.py")):
        package = f"levante.{init.parent.name}"
        names = set(_exported(init.parent)) - _taken_from_packages()[package]
        if names:
            unused[package] = sorted(names)
    assert not unused, unused
