"""The package's layout, checked: no import cycle (imports inside functions included), models that know no trainer,
data layer, CLI, files or plots, a data layer that imports nothing above it, modules of readable size, and methods
added one way (`@patch`), never as unbound functions in `__all__`."""
import ast
import importlib
import inspect
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("test_architecture")  # one worker runs this file (its module fixtures are built once)

PKG = Path(__file__).resolve().parents[1] / "vqmap_nb"
MODULES = {".".join(p.relative_to(PKG.parent).with_suffix("").parts): p for p in sorted(PKG.rglob("*.py"))
           if p.name not in ("__init__.py", "_modidx.py")}
MODELS = {"vqmap_nb.quantizer", "vqmap_nb.vqvae", "vqmap_nb.gpt", "vqmap_nb.coembed", "vqmap_nb.models"}
MODEL_MAY_IMPORT = MODELS | {"vqmap_nb.core", "vqmap_nb.metrics"}
DATA_MAY_IMPORT = {"vqmap_nb.core", "vqmap_nb.config"}
MAX_LINES = 650


def imports(name: str) -> set[str]:
    "vqmap_nb modules `name` imports anywhere in its source (module level or inside functions)."
    tree = ast.parse(MODULES[name].read_text())
    pkg = name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import): mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            mods = [base] + [f"{base}.{a.name}" for a in node.names]
        else: continue
        out |= {m for m in mods if m in MODULES}
    return out - {name}


GRAPH = {m: imports(m) for m in MODULES}


def test_no_import_cycle():
    state = {}
    def visit(m, path):
        if state.get(m) == "done": return
        if state.get(m) == "active": pytest.fail("import cycle: " + " -> ".join(path[path.index(m):] + [m]))
        state[m] = "active"
        for n in sorted(GRAPH[m]): visit(n, path + [m])
        state[m] = "done"
    for m in MODULES: visit(m, [])


@pytest.mark.parametrize("model", sorted(MODELS))
def test_models_take_tensors(model):
    bad = GRAPH[model] - MODEL_MAY_IMPORT
    assert not bad, f"{model} imports {sorted(bad)}: a model knows no trainer, data layer, CLI, files or plots"


@pytest.mark.parametrize("mod", sorted(m for m in MODULES if m.startswith("vqmap_nb.data.")))
def test_data_layer_imports_nothing_above(mod):
    bad = {m for m in GRAPH[mod] if not m.startswith("vqmap_nb.data.")} - DATA_MAY_IMPORT
    assert not bad, f"{mod} imports {sorted(bad)}"


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_module_size(mod):
    n = len(MODULES[mod].read_text().splitlines())
    assert n <= MAX_LINES, f"{mod}: {n} lines"


@pytest.mark.parametrize("mod", sorted(m for m in MODULES if m != "vqmap_nb.docs"))
def test_methods_added_one_way(mod):
    "No `Class.name = f` at module level, and no unbound method (first argument `self`) exported in `__all__`."
    tree = ast.parse(MODULES[mod].read_text())
    classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                for el in (t.elts if isinstance(t, ast.Tuple) else [t]):
                    assert not (isinstance(el, ast.Attribute) and isinstance(el.value, ast.Name) and el.value.id in classes), \
                        f"{mod}: {el.value.id}.{el.attr} assigned; use @patch"
    m = importlib.import_module(mod)
    for name in getattr(m, "__all__", []):
        obj = getattr(m, name)
        if inspect.isfunction(obj):
            params = list(inspect.signature(obj).parameters)
            assert not params or params[0] not in ("self", "cls"), f"{mod}.{name} is a method exported as a function"


def test_the_graph_reads_like_the_pipeline():
    "Spot checks of which room uses which (see the index page)."
    assert "vqmap_nb.train" not in GRAPH["vqmap_nb.analysis"]          # analysis applies models, it does not train
    assert "vqmap_nb.cli" not in set().union(*(GRAPH[m] for m in MODULES if m != "vqmap_nb.cli"))
    assert "vqmap_nb.viz" not in GRAPH["vqmap_nb.encode"]


def test_each_xdist_group_stays_on_one_worker(request):
    """The CLI and docs test files build their fixtures (trained models, a docs site) once, which holds only while
    `--dist loadgroup` keeps each file's `xdist_group` on one worker. pytest 9.2 changed how node ids are stored and
    xdist 3.8's grouping silently stopped (every fixture built on both workers, CI time nearly doubled): settings.ini
    pins pytest below 9.2, and this test fails when the grouping breaks again."""
    if not getattr(request.config.option, "loadgroup", False): pytest.skip("not run by an xdist worker under --dist loadgroup")
    assert request.node.nodeid.endswith("@test_architecture"), request.node.nodeid
