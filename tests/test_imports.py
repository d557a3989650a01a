"""The import graph stays plain: NumPy layers never load torch, nothing re-exports through
importlib or star imports, and no package has a submodule shadowing one of its public names.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "minispeech"
NUMPY_LAYERS = ("minispeech.dsp", "minispeech.dp", "minispeech.text", "minispeech.audio")


def library_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_numpy_layers_do_not_import_torch():
    code = f"import sys, {', '.join(NUMPY_LAYERS)}; assert 'torch' not in sys.modules, 'torch was imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"importing {NUMPY_LAYERS} imported torch:\n{result.stderr}"


def test_no_module_reexports_through_importlib_or_star_imports():
    offenders = []
    for path in library_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "importlib" for alias in node.names):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports importlib")
            elif isinstance(node, ast.ImportFrom):
                if (node.module or "").split(".")[0] == "importlib":
                    offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports from importlib")
                if any(alias.name == "*" for alias in node.names):
                    offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} star-imports {node.module}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} calls __import__")
    assert not offenders, "import what you use, explicitly:\n" + "\n".join(offenders)


@pytest.mark.parametrize("package_name", [
    "minispeech.dsp",
    "minispeech.text",
    "minispeech.nn",
    "minispeech.dp",
])
def test_no_submodule_is_named_like_a_public_name(package_name):
    # `text/normalize.py` holding `normalize` made minispeech.text.normalize the function or the
    # module depending on import order; a file name never equals a name the package exports.
    package = importlib.import_module(package_name)
    submodules = {path.stem for path in Path(package.__file__).parent.glob("*.py")} - {"__init__"}
    clashes = sorted(submodules & set(getattr(package, "__all__", ())))
    assert not clashes, f"{package_name}: files named like its public names {clashes}; rename the files"
    for name in submodules:
        importlib.import_module(f"{package_name}.{name}")  # sets the submodule as a package attribute
    shadowed = [name for name in getattr(package, "__all__", ()) if isinstance(getattr(package, name), types.ModuleType)]
    assert not shadowed, f"{package_name}: submodules shadow the public names {shadowed}"
