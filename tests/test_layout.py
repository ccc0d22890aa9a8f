"""The layout the README describes: which room imports which, where Streamlit may be used, how large a room grows."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "app_pages").glob("*.py"))


def imports_of(module: Path) -> set[str]:
    """Every module ``module`` imports (at the top or inside a function), as dotted names."""
    tree = ast.parse(module.read_text())
    names = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    names |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module in ("core", "dashboard")
        for alias in node.names
    }
    return names


def dotted(module: Path) -> str:
    parts = module.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def cycles(package: str) -> list[str]:
    known = {dotted(module) for module in modules(package)}
    graph = {}
    for module in modules(package):
        imported = set()
        for name in imports_of(module):
            while name and name not in known:  # "core.attack.fgsm" -> "core.attack"
                name = name.rpartition(".")[0]
            if name and name != package:
                imported.add(name)
        graph[dotted(module)] = imported - {dotted(module)}

    def reaches(start, goal, seen=()):
        return any(
            step == goal or (step not in seen and reaches(step, goal, (*seen, step))) for step in graph.get(start, ())
        )

    return [module for module in graph if reaches(module, module)]


def test_core_imports_neither_streamlit_nor_altair_and_has_no_import_cycle():
    """Core is pure Python: the dashboard draws (Streamlit, Altair); core computes. No two core modules import each
    other, directly or through others (the training room imports the model and the defense, not back)."""
    for module in modules("core"):
        assert not {name.split(".")[0] for name in imports_of(module)} & {"streamlit", "altair"}, module.name
    assert not cycles("core")


def test_core_folders_say_what_each_module_is():
    """The math (core/*.py) never imports the job machinery (core/jobs): it asks core.stopping whether to stop.
    Reading inputs (core/inputs) imports neither the math nor the jobs, only the shared checks and errors."""
    shared = {"core.checks", "core.errors"}
    for module in (ROOT / "core").glob("*.py"):
        if module.name != "__main__.py":  # the command line uses everything
            assert not [n for n in imports_of(module) if n.startswith("core.jobs")], module.name
    for module in (ROOT / "core" / "inputs").glob("*.py"):
        for name in imports_of(module):
            if name.startswith("core.") and not name.startswith("core.inputs"):
                assert name in shared, (module.name, name)
    for package in ("inputs", "jobs"):
        assert ast.get_docstring(ast.parse((ROOT / "core" / package / "__init__.py").read_text()))


def test_pages_import_nothing_from_core():
    """Pages ask the results layer (dashboard.results) and lay out what it answers."""
    for page in PAGES:
        assert not [name for name in imports_of(page) if name.split(".")[0] == "core"], page.name


def test_no_isinstance_on_model_classes_outside_the_model_module():
    """The attacks and sweeps take any model through its interface (logits, input_gradient, linear)."""
    classes = {"Classifier", "SoftmaxModel", "ReluNetwork"}
    found = []
    for source in [*modules("core"), *modules("dashboard"), *PAGES]:
        if source == ROOT / "core" / "model.py":
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                if names & classes:
                    found.append((source.name, node.lineno))
    assert found == []


def test_code_is_laid_out_by_the_formatter_not_packed():
    sources = [
        ROOT / "streamlit_app.py",
        *(p for f in ("core", "dashboard", "app_pages", "benchmarks", "tests") for p in (ROOT / f).rglob("*.py")),
    ]
    skips = sum(source.read_text().count("fmt: " + "skip") for source in sources)
    assert skips <= 5


def test_the_dashboard_has_no_import_cycle_and_the_view_is_pure():
    assert not cycles("dashboard")
    assert cycles("dashboard") == [] and len(modules("dashboard")) > 15
    assert not {name.split(".")[0] for name in imports_of(ROOT / "dashboard" / "view.py")} & {"streamlit", "altair"}


def test_no_page_touches_the_session_state():
    """Pages take the view and get everything else through dashboard functions: no hidden session key."""
    for page in [*PAGES, ROOT / "streamlit_app.py"]:
        assert not session_state_uses(page), page.name


def session_state_uses(module: Path) -> list[int]:
    tree = ast.parse(module.read_text())
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "session_state"]


def test_only_the_session_modules_keep_state_in_the_session():
    keepers = {"state.py", "widgets.py", "sidebar.py", "drawing_pad.py"}
    for module in modules("dashboard"):
        if session_state_uses(module):
            assert module.name in keepers, module.name
    assert session_state_uses(ROOT / "dashboard" / "state.py")  # the check sees a use where there is one


def test_the_app_has_no_pages_folder():
    """A folder named pages/ puts Streamlit into its legacy multipage mode until st.navigation runs:
    a deep link opened on a fresh server would show the wrong page. The pages live in app_pages/."""
    assert not (ROOT / "pages").exists()
    assert len(PAGES) == 8


def test_no_source_file_grows_past_400_lines():
    sources = [
        p for folder in ("core", "dashboard", "app_pages", "benchmarks", "tests") for p in (ROOT / folder).rglob("*.py")
    ]
    assert len(sources) > 40
    for source in [ROOT / "streamlit_app.py", *sources]:
        assert len(source.read_text().splitlines()) <= 400, source.relative_to(ROOT)


def test_benchmarks_use_only_public_names():
    for module in modules("benchmarks"):
        tree = ast.parse(module.read_text())
        private = [
            f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("core")
            for alias in node.names
            if alias.name.startswith("_")
        ]
        assert not private, (module.name, private)


def test_every_picture_has_alt_text():
    """A screen reader says what each picture shows: every ``.image(...)`` call in the app passes ``alt=``."""
    calls = []
    for source in [*(ROOT / "app_pages").glob("*.py"), *modules("dashboard")]:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "image":
                calls.append((source.name, node.lineno, {keyword.arg for keyword in node.keywords}))
    assert len(calls) >= 10
    assert [(name, line) for name, line, keywords in calls if "alt" not in keywords] == []


def test_every_result_is_declared_once_with_its_cost_class():
    """The results layer's table (its docstring) and its declarations (the decorators) say the same."""
    import re

    from dashboard import results

    table = dict(re.findall(r"^(\w+\.\w+) +(instant|cached|shared) ", results.__doc__, flags=re.M))
    declared = {name: cost for name, cost in results.RESULTS.items() if name in table}
    assert table == declared
    assert set(results.RESULTS) == set(table) and len(table) > 25
