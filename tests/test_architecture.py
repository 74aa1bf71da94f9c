"""The layers of docs/architecture.md: the library never imports the reproduction package, and lower layers never
import higher ones."""

import ast
from pathlib import Path

import gnode

SOURCE = Path(gnode.__file__).parent

# each layer may import only itself and the layers before it (the front, cli/, may import everything)
LAYERS = [
    {"errors", "optional", "settings", "devices", "compilation", "files", "selection"},
    {"nn"},
    {"fields"},
    {"solve"},
    {"model", "init"},
    {"losses", "data", "saving", "train"},
    {"tasks", "datasets"},
    {"ncode", "connector", "gdm"},
    {"analysis", "sweep", "experiment"},
    {"reproduce"},
    {"cli", "__init__"},
]


def _layer(top: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if top in names)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] == "gnode"}


def _modules():
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        yield relative, (relative.parts[0].removesuffix(".py")), _imports(path)


def test_the_library_never_imports_the_reproduction_package():
    offenders = [
        f"{relative} imports {name}"
        for relative, top, names in _modules()
        if top not in ("reproduce", "cli")
        for name in names
        if name.startswith("gnode.reproduce")
    ]
    assert not offenders, offenders


def test_no_module_imports_a_higher_layer():
    offenders = []
    for relative, top, names in _modules():
        for name in names:
            parts = name.split(".")
            if len(parts) < 2 or parts[1] in ("__version__",):
                continue
            target = parts[1]
            if target in {n for layer in LAYERS for n in layer} and _layer(target) > _layer(top):
                offenders.append(f"{relative} (layer {_layer(top)}) imports {name} (layer {_layer(target)})")
    assert not offenders, offenders
