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


def cycles(package: str) -> list[str]:
    graph = {}
    for module in (ROOT / package).glob("*.py"):
        graph[module.stem] = {name.split(".")[1] for name in imports_of(module) if name.startswith(f"{package}.")}

    def reaches(start, goal, seen=()):
        return any(
            step == goal or (step not in seen and reaches(step, goal, (*seen, step))) for step in graph.get(start, ())
        )

    return [module for module in graph if reaches(module, module)]


def test_core_imports_neither_streamlit_nor_altair_and_has_no_import_cycle():
    """Core is pure Python: the dashboard draws (Streamlit, Altair); core computes. No two core modules import each
    other, directly or through others (the training room imports the model and the defense, not back)."""
    for module in (ROOT / "core").glob("*.py"):
        assert not {name.split(".")[0] for name in imports_of(module)} & {"streamlit", "altair"}, module.name
    assert not cycles("core")


def test_the_dashboard_has_no_import_cycle_and_the_view_is_pure():
    assert not cycles("dashboard")
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
    for module in (ROOT / "dashboard").glob("*.py"):
        if session_state_uses(module):
            assert module.name in keepers, module.name
    assert session_state_uses(ROOT / "dashboard" / "state.py")  # the check sees a use where there is one


def test_the_app_has_no_pages_folder():
    """A folder named pages/ puts Streamlit into its legacy multipage mode until st.navigation runs:
    a deep link opened on a fresh server would show the wrong page. The pages live in app_pages/."""
    assert not (ROOT / "pages").exists()
    assert len(PAGES) == 7


def test_no_source_file_grows_past_400_lines():
    sources = [
        p for folder in ("core", "dashboard", "app_pages", "benchmarks", "tests") for p in (ROOT / folder).rglob("*.py")
    ]
    assert len(sources) > 40
    for source in [ROOT / "streamlit_app.py", *sources]:
        assert len(source.read_text().splitlines()) <= 400, source.relative_to(ROOT)


def test_benchmarks_use_only_public_names():
    for module in (ROOT / "benchmarks").glob("*.py"):
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
    for source in [*(ROOT / "app_pages").glob("*.py"), *(ROOT / "dashboard").glob("*.py")]:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "image":
                calls.append((source.name, node.lineno, {keyword.arg for keyword in node.keywords}))
    assert len(calls) >= 10
    assert [(name, line) for name, line, keywords in calls if "alt" not in keywords] == []
